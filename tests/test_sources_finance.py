"""`finance`: amounts and current spending per pupil."""

from collections import Counter
from decimal import ROUND_HALF_UP, Decimal

import pytest

from districtbench.sources.base import MissingFieldError
from districtbench.sources.finance import FINANCE, SOURCE


def row(leaid="0600001", **values):
    base = {"leaid": leaid, "fips": int(leaid[:2]), "rev_total": 1_500_000, "rev_fed_total": 100_000,
            "rev_state_total": 800_000, "rev_local_total": 600_000, "exp_total": 1_700_000,
            "exp_current_elsec_total": 1_234_567, "exp_sped_current": 150_000.5,
            "enrollment_fall_responsible": 97}
    base.update(values)
    return base


def parse(records, state="06"):
    return SOURCE.parse_unit({FINANCE: records}, 2019, state)


def test_amounts_and_per_pupil():
    unit = parse([row()])
    expected_pp = (Decimal(1_234_567) / Decimal(97)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert unit.history == [{
        "leaid": "0600001", "total_revenue": Decimal("1500000.00"), "federal_revenue": Decimal("100000.00"),
        "state_revenue": Decimal("800000.00"), "local_revenue": Decimal("600000.00"),
        "total_expenditure": Decimal("1700000.00"), "sped_expenditure": Decimal("150000.50"),
        "expenditure_pp": expected_pp,
    }]
    assert expected_pp == Decimal("12727.49")
    assert list(unit.history[0]) == ["leaid", *SOURCE.columns]


@pytest.mark.parametrize(
    "spending, pupils, counted",
    [(1_000_000, 0, True), (1_000_000, -3, False), (0, 100, False), (-1, 100, False), (None, 100, False)],
)
def test_per_pupil_needs_both_positive(spending, pupils, counted):
    unit = parse([row(exp_current_elsec_total=spending, enrollment_fall_responsible=pupils)])
    assert unit.history[0]["expenditure_pp"] is None
    assert (unit.nulled["zero denominator: expenditure_pp"] == 1) is counted


def test_sentinels_negatives_and_overflow():
    unit = parse([row(rev_fed_total=-2, rev_state_total=-250, exp_total=10**13,
                      exp_current_elsec_total=10**12, enrollment_fall_responsible=1)])
    got = unit.history[0]
    assert got["federal_revenue"] is None and got["state_revenue"] is None
    assert got["total_expenditure"] is None
    assert got["expenditure_pp"] is None  # 1e12 does not fit NUMERIC(12,2)
    assert unit.nulled == Counter({"negative value: state_revenue": 1,
                                   "too large for column: total_expenditure": 1,
                                   "too large for column: expenditure_pp": 1})


def test_a_renamed_field_fails_the_unit():
    records = [row(), row("0600002")]
    for record in records:
        record["exp_sped"] = record.pop("exp_sped_current")
    with pytest.raises(MissingFieldError, match="exp_sped_current"):
        parse(records)
