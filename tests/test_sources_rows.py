"""The row contract: a source that only says how one record becomes its values gets the rest
from the host (sources/rows.py) — leaid and fips checks with its own field names, the
all-students filter, de-duplication, leaid order, values fitted to their columns, the
skipped and nulled counts; and sources reading the same listing share one fetch.

Fixtures are the real 2018 directory page (../shared/data/real), with a few rows changed;
expected values are computed here from the page."""

from __future__ import annotations

import copy
import json
import random
from collections import Counter
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import pytest
import sqlalchemy as sa

from districtbench.backfill import run_backfill
from districtbench.db import tables
from districtbench.plugin_api import DistrictSource, DropRow, Endpoint, fit_value
from districtbench.sources.directory import DIRECTORY, ELL, ENROLLMENT
from districtbench.sources.values import (
    DUPLICATE_LEAID,
    FIPS_MISMATCH,
    INVALID_LEAID,
    NO_FIPS,
    NO_LEAID,
    NOT_SUBGROUP_TOTAL,
    OTHER_STATE,
)
from districtbench.urban.client import UrbanClient
from tests.test_sources_directory import SAMPLE

INT_MAX = 2**31 - 1
CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def page():
    return json.loads(SAMPLE.read_text())["results"]


@dataclass(frozen=True)
class Minimal(DistrictSource):
    """A third party's source: the raw values, nothing else (no measure, no fit)."""

    def parse_row(self, record, nulled, context):
        if record.get("agency_type") == 9:
            raise DropRow("closed agency")
        return {"enrollment": record.get("enrollment"), "teachers_fte": record.get("teachers_total_fte")}


def minimal(**options):
    return Minimal(
        name="minimal", history_source="minimal", endpoints=(Endpoint(DIRECTORY),), years=(2018,),
        columns=("enrollment", "teachers_fte"), **options,
    )


def expected_enrollment(value):
    return value if type(value) is int and abs(value) <= INT_MAX else None


def expected_teachers(value):
    if value is None:
        return None
    number = Decimal(repr(value)).quantize(CENT, rounding=ROUND_HALF_UP)
    return number if abs(number) < 10**8 else None  # NUMERIC(10, 2)


def test_a_minimal_source_gets_checks_dedupe_order_fit_and_counts_from_the_host(page):
    arkansas = [r for r in page if r["fips"] == 5]
    others = [r for r in page if r["fips"] != 5]
    changed = copy.deepcopy(arkansas)
    changed[0]["teachers_total_fte"] = 12.345  # rounded half up to the column's scale
    changed[1]["enrollment"] = INT_MAX + 1  # beyond INTEGER: NULL, counted
    changed[2]["teachers_total_fte"] = 1e9  # beyond NUMERIC(10, 2): NULL, counted
    changed[3]["enrollment"] = "many"  # no number: NULL, counted
    changed[4]["agency_type"] = 9  # dropped by the source itself
    duplicate = dict(changed[5], lea_name=None)  # fewer fields filled: the original is kept
    broken = [
        dict(arkansas[6], leaid=None),
        dict(arkansas[6], leaid="05X0001"),
        dict(arkansas[6], fips=None),
        dict(arkansas[6], fips=4),
    ]
    records = changed + others + [duplicate] + broken
    random.Random(16).shuffle(records)

    unit = minimal().parse_unit({DIRECTORY: records}, 2018, "05")

    kept = sorted((r for r in changed if r["agency_type"] != 9), key=lambda r: r["leaid"])
    assert [row["leaid"] for row in unit.history] == [r["leaid"] for r in kept]
    assert unit.history == [
        {"leaid": r["leaid"], "enrollment": expected_enrollment(r["enrollment"]),
         "teachers_fte": expected_teachers(r["teachers_total_fte"])}
        for r in kept
    ]
    assert unit.history[[r["leaid"] for r in kept].index(changed[0]["leaid"])]["teachers_fte"] == Decimal("12.35")
    assert unit.skipped == Counter({
        OTHER_STATE: len(others), DUPLICATE_LEAID: 1, "closed agency": 1,
        NO_LEAID: 1, INVALID_LEAID: 1, NO_FIPS: 1, FIPS_MISMATCH: 1,
    })
    assert unit.nulled == Counter({
        "too large for column: enrollment": 1, "too large for column: teachers_fte": 1, "not a number: enrollment": 1,
    })
    assert unit.roster == [] and unit.extras == []


def test_a_dropped_row_keeps_none_of_its_nulled_counts(page):
    arkansas = copy.deepcopy([r for r in page if r["fips"] == 5])
    arkansas[0].update(enrollment=INT_MAX + 1, agency_type=9)
    unit = minimal().parse_unit({DIRECTORY: arkansas}, 2018, "05")
    assert unit.skipped == Counter({"closed agency": 1}) and not unit.nulled
    assert len(unit.history) == len(arkansas) - 1


def test_own_field_names_and_no_fips_field(page):
    """A portal that calls the leaid `district_id` and sends no fips: the state is the leaid's."""
    renamed = []
    for record in page:
        copied = {key: value for key, value in record.items() if key not in ("leaid", "fips")}
        renamed.append(dict(copied, district_id=record["leaid"]))
    unit = minimal(leaid_field="district_id", fips_field=None).parse_unit({DIRECTORY: renamed}, 2018, "02")
    alaska = sorted(r["leaid"] for r in page if r["fips"] == 2)
    assert [row["leaid"] for row in unit.history] == alaska
    assert unit.skipped == Counter({OTHER_STATE: len(page) - len(alaska)})

    # with a fips field of another name, it is checked against the leaid
    coded = [dict(record, state_code=original["fips"]) for record, original in zip(renamed[:3], page[:3])]
    coded[0]["state_code"] = 2  # an Alabama leaid (01…) claimed by Alaska
    unit = minimal(leaid_field="district_id", fips_field="state_code").parse_unit({DIRECTORY: coded}, 2018, "01")
    assert len(unit.history) == 2 and unit.skipped == Counter({FIPS_MISMATCH: 1})


def test_subgroup_rows_are_filtered_by_the_host(page):
    arkansas = [dict(r, race=99) for r in page if r["fips"] == 5]
    subgroups = [dict(r, race=1) for r in arkansas[:10]]
    unit = minimal(subgroup_columns=("race",)).parse_unit({DIRECTORY: subgroups + arkansas}, 2018, "05")
    assert len(unit.history) == len(arkansas) and unit.skipped == Counter({NOT_SUBGROUP_TOTAL: 10})


def test_fit_value():
    nulled = Counter()
    assert fit_value("enrollment", 12.5, nulled) == 13 and type(fit_value("enrollment", 12.0, nulled)) is int
    assert fit_value("teachers_fte", "7.005", nulled) == Decimal("7.01")
    assert fit_value("poverty_pct", Decimal("999.99"), nulled) == Decimal("999.99")
    assert fit_value("poverty_pct", 1000, nulled) is None
    assert fit_value("enrollment", True, nulled) is None
    assert fit_value("enrollment", -(INT_MAX + 1), nulled) is None
    assert nulled == Counter({"too large for column: poverty_pct": 1, "not a number: enrollment": 1,
                              "too large for column: enrollment": 1})


@dataclass(frozen=True)
class Teachers(DistrictSource):
    """A plugin's source reading the CCD directory too (its own history rows)."""


def test_three_sources_of_one_listing_fetch_each_page_once(db_engine, fake_api):
    """enrollment, ell and a plugin's source of the same request: one fetch per page, and
    each source's rows as if it ran alone."""
    fake_api.page_size = 25
    teachers = Teachers(
        name="teachers", history_source="teachers_plugin", endpoints=ENROLLMENT.endpoints, years=(2018,),
        columns=("teachers_fte",), measures=(("teachers_fte", "teachers_total_fte"),),
    )
    client = UrbanClient(fake_api.url, sleep=lambda seconds: None)
    report = run_backfill(db_engine, client, [ENROLLMENT, ELL, teachers], [2018], ["01", "02", "04", "05"])
    assert report.ok
    directory = [target for target in fake_api.requests_log if "ccd/directory/2018" in target]
    listings = {fips: fake_api.dataset.records(DIRECTORY, 2018, fips=int(fips)) for fips in ("01", "02", "04", "05")}
    assert len(directory) == len(set(directory)) == sum(-(-len(rows) // 25) for rows in listings.values())
    assert report.requests == len(fake_api.requests_log)

    h = tables.district_data_history
    with db_engine.connect() as connection:
        written = {
            (row.source, row.leaid): (row.enrollment, row.ell_students, row.teachers_fte)
            for row in connection.execute(sa.select(h.c.source, h.c.leaid, h.c.enrollment, h.c.ell_students, h.c.teachers_fte))
        }
        roster = connection.execute(sa.select(sa.func.count()).select_from(tables.districts)).scalar()
    named = {r["leaid"].zfill(7) for rows in listings.values() for r in rows if r.get("lea_name")}
    assert roster == len(named)
    plugin = {leaid: values[2] for (source, leaid), values in written.items() if source == "teachers_plugin"}
    expected = {}
    for rows in listings.values():
        for r in rows:
            value = r.get("teachers_total_fte")
            if value is None or value in (-1, -2, -3):
                value = None
            expected[str(r["leaid"]).zfill(7)] = None if value is None else Decimal(repr(value)).quantize(CENT)
    assert {leaid: None if v is None else Decimal(str(v)).quantize(CENT) for leaid, v in plugin.items()} == expected
    directory_rows = {leaid for (source, leaid) in written if source == "ccd_directory"}
    assert directory_rows == named
