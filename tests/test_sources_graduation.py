"""`graduation`: the all-students row of the grad-rates endpoint."""

from collections import Counter
from decimal import Decimal

import pytest

from districtbench.sources.base import MissingFieldError
from districtbench.sources.graduation import GRAD_RATES, SOURCE
from districtbench.sources.values import DUPLICATE_LEAID, FIPS_MISMATCH, NOT_SUBGROUP_TOTAL, PCT_OUT_OF_RANGE

SUBGROUPS = ("race", "lep", "homeless", "disability", "econ_disadvantaged", "foster_care")


def row(leaid, midpt, fips=None, **subgroups):
    record = {"leaid": leaid, "leaid_num": int(leaid), "fips": fips or int(str(leaid).zfill(7)[:2]), "year": 2016,
              "cohort_num": 120, "grad_rate_low": 0, "grad_rate_high": 0, "grad_rate_midpt": midpt}
    record.update({column: 99 for column in SUBGROUPS})
    record.update(subgroups)
    return record


def parse(records, state="48"):
    return SOURCE.parse_unit({GRAD_RATES: records}, 2016, state)


def test_only_the_total_row_counts():
    records = [row("4800001", 91.5), row("4800001", 70, race=2), row("4800001", 60, econ_disadvantaged=1),
               row("4800001", 50, foster_care=1), row("4800002", 88.0, disability=0),
               row("4800002", 85.0)]
    unit = parse(records)
    assert unit.history == [{"leaid": "4800001", "graduation_rate": Decimal("91.50")},
                            {"leaid": "4800002", "graduation_rate": Decimal("85.00")}]
    assert unit.skipped == Counter({NOT_SUBGROUP_TOTAL: 4})


def test_older_years_without_a_subgroup_column():
    older = [row("4800001", 77.25), row("4800001", 40, race=1)]
    for record in older:
        del record["foster_care"]
    unit = parse(older)
    assert unit.history == [{"leaid": "4800001", "graduation_rate": Decimal("77.25")}]


def test_suppression_out_of_range_and_identifiers():
    records = [row("4800001", -3), row("4800002", 100.5), row("4800003", -1), row("4800004", 97),
               row("4800004", 97), row("4800005", 90, fips=5), row(4800006, 80)]
    unit = parse(records)
    assert {h["leaid"]: h["graduation_rate"] for h in unit.history} == {
        "4800001": None, "4800003": None, "4800004": Decimal("97.00"), "4800006": Decimal("80.00")}
    assert unit.skipped == Counter({PCT_OUT_OF_RANGE: 1, DUPLICATE_LEAID: 1, FIPS_MISMATCH: 1})
    assert not unit.nulled


def test_a_renamed_rate_fails_the_unit():
    records = [row("4800001", 90)]
    records[0]["grad_rate_mid"] = records[0].pop("grad_rate_midpt")
    with pytest.raises(MissingFieldError, match="grad_rate_midpt"):
        parse(records)
