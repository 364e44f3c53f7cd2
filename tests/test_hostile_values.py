"""Hostile values from the API (issue 12, items 1, 7 and 11): a NUL or an escape sequence in a
name, `Infinity` or `1e400` in a number, a 300-character name. Each is cleaned or NULLed and
counted; none fails its unit. Unit-level checks through the real sources, then one backfill
over real HTTP into SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from districtbench.cli import build_app
from districtbench.db import tables
from districtbench.fakeapi import Dataset, FakeUrbanApi, load_dataset
from districtbench.fakeapi import dataset as ds
from districtbench.sources import finance, graduation
from districtbench.sources.directory import DIRECTORY, ENROLLMENT


def directory_row(leaid="0500001", **values):
    base = {
        "leaid": leaid, "fips": 5, "lea_name": "Test District", "state_location": "AR",
        "city_location": "Town", "county_name": "Some County", "urban_centric_locale": 41,
        "number_of_schools": 3, "agency_type": 1, "enrollment": 100, "teachers_total_fte": 7.5,
        "staff_total_fte": 15, "spec_ed_students": 12, "english_language_learners": 4,
    }
    return base | values


def parse_directory(records):
    return ENROLLMENT.parse_unit({DIRECTORY: records}, 2018, "05")


def test_control_characters_in_roster_text_are_removed_and_counted():
    unit = parse_directory([directory_row(lea_name="HOPE\x00 ISD", city_location="\x1b[2JTOWN",
                                          county_name="OK County")])
    assert unit.roster[0]["name"] == "HOPE ISD"
    assert unit.roster[0]["city_location"] == "TOWN"
    assert unit.roster[0]["county_name"] == "OK County"
    assert unit.nulled == Counter({"control characters removed: name": 1,
                                   "control characters removed: city_location": 1})


def test_a_name_longer_than_its_column_is_cut_and_counted_not_dropped():
    long_name = "LONG " * 60  # 300 characters
    unit = parse_directory([directory_row(lea_name=long_name)])
    assert [h["leaid"] for h in unit.history] == ["0500001"]
    assert unit.roster[0]["name"] == long_name[:255].rstrip()
    assert len(unit.roster[0]["name"]) <= 255
    assert unit.nulled == Counter({"cut to 255 characters: name": 1})
    assert not unit.skipped


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), "1e400",
                                   pytest.param(10**400, id="10**400"), [1], {"a": 1}])
def test_an_unconvertible_locale_code_is_null_and_counted(value):
    unit = parse_directory([directory_row(urban_centric_locale=value)])
    assert unit.roster[0]["urban_centric_locale"] is None
    assert unit.nulled == Counter({"not a code: urban_centric_locale": 1})
    assert unit.history[0]["enrollment"] == 100


@pytest.mark.parametrize("value, reason", [
    (float("inf"), "not a number: enrollment"),
    (float("nan"), "not a number: enrollment"),
    ("Infinity", "not a number: enrollment"),
    ("1e400", "out of range: enrollment"),
    pytest.param(10**400, "out of range: enrollment", id="10**400"),
    ("1e-400", "out of range: enrollment"),
])
def test_an_unconvertible_measure_is_null_and_counted(value, reason):
    unit = parse_directory([directory_row(enrollment=value)])
    assert unit.history[0]["enrollment"] is None
    assert unit.nulled == Counter({reason: 1})


def test_huge_amounts_and_rates_never_raise():
    record = {"leaid": "0500001", "fips": 5, "rev_total": "1e400", "rev_fed_total": 1e300,
              "rev_state_total": "9" * 40, "rev_local_total": 5, "exp_total": 5,
              "exp_current_elsec_total": "1e29", "exp_sped_current": 1,
              "enrollment_fall_responsible": "1e-29"}
    unit = finance.SOURCE.parse_unit({finance.FINANCE: [record]}, 2018, "05")
    history = unit.history[0]
    assert history["total_revenue"] is None and history["federal_revenue"] is None
    assert history["state_revenue"] is None and history["expenditure_pp"] is None
    assert history["local_revenue"] == Decimal("5.00")
    assert sum(unit.nulled.values()) >= 4
    grad = {"leaid": "0500001", "fips": 5, "race": 99, "grad_rate_midpt": "1e400"}
    rows = graduation.SOURCE.parse_unit({graduation.GRAD_RATES: [grad]}, 2018, "05")
    assert rows.history == [{"leaid": "0500001", "graduation_rate": None}]
    assert rows.nulled == Counter({"out of range: graduation_rate": 1})


def test_hostile_text_and_numbers_reach_the_database_clean(db_url, db_engine):
    """A NUL stalled a PostgreSQL backfill for good; `Infinity` failed the state-year; a
    300-character name dropped its district. Through real HTTP (the fake serves `Infinity` as
    JSON does) all three units complete with the values cleaned, cut or NULLed."""
    rows = [dict(r) for r in load_dataset().records(ds.DIRECTORY, 2018) if r["fips"] == 5]
    rows.sort(key=lambda r: r["leaid"])
    rows[0]["lea_name"] = "NUL\x00 DISTRICT"
    rows[1]["lea_name"] = "\x1b[2J\x1b]0;owned\x07ESCAPED DISTRICT"
    rows[2]["lea_name"] = "N" * 300
    rows[3]["urban_centric_locale"] = float("inf")
    rows[4]["enrollment"] = float("nan")
    dataset = Dataset({(ds.DIRECTORY, 2018): rows})
    env = {"DISTRICTBENCH_DATABASE_URL": db_url, "DISTRICTBENCH_BACKOFF_BASE": "0.01"}
    with FakeUrbanApi(dataset) as api:
        result = CliRunner().invoke(build_app(), ["--api-url", api.url, "backfill", "enrollment",
                                                  "--years", "2018", "--states", "AR"], env=env)
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x00" not in result.output
    d, h = tables.districts, tables.district_data_history
    with db_engine.connect() as connection:
        names = dict(connection.execute(sa.select(d.c.leaid, d.c.name)).all())
        locale = connection.execute(sa.select(d.c.urban_centric_locale).where(d.c.leaid == rows[3]["leaid"])).scalar()
        enrollment = connection.execute(sa.select(h.c.enrollment).where(h.c.leaid == rows[4]["leaid"])).scalar()
    assert len(names) == len(rows) == 42
    assert names[rows[0]["leaid"]] == "NUL DISTRICT"
    assert names[rows[1]["leaid"]] == "ESCAPED DISTRICT"
    assert names[rows[2]["leaid"]] == "N" * 255
    assert locale is None and enrollment is None
    text = " ".join(result.output.split())
    assert "control characters removed: name 2" in text
    assert "cut to 255 characters: name 1" in text
    assert "not a code: urban_centric_locale 1" in text
    assert "not a number: enrollment 1" in text
