"""`districtbench backfill` end to end: the real CLI, sources and client, real HTTP to the fake
Urban API, SQLite and PostgreSQL; values checked against tests/backfill_expected.py."""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from districtbench.cli import build_app
from districtbench.db import tables
from districtbench.fakeapi import FakeUrbanApi
from districtbench.fakeapi import dataset as ds
from tests import backfill_expected as expected

STATES = {"AK": "02", "AR": "05"}
YEARS = (2013, 2015, 2018)
HISTORY_COLUMNS = {
    "ccd_directory": ("enrollment", "teachers_fte", "staff_total_fte", "spec_ed_students", "ell_students"),
    "ccd_finance": (
        "total_revenue", "federal_revenue", "state_revenue", "local_revenue",
        "total_expenditure", "sped_expenditure", "expenditure_pp",
    ),
    "saipe": ("poverty_pct",),
    "edfacts_grad": ("graduation_rate",),
    "edfacts_assess": ("math_proficiency", "read_proficiency"),
    "crdc_absenteeism": ("chronic_absenteeism_rate",),
}
SOURCE_YEARS = {
    "ccd_directory": range(1986, 2025),
    "ccd_finance": range(1994, 2021),
    "saipe": range(1999, 2025),
    "edfacts_grad": range(2010, 2020),
    "edfacts_assess": (*range(2009, 2019), 2020),
    "crdc_absenteeism": (2013, 2015, 2017, 2020, 2021, 2022),
}


@pytest.fixture(autouse=True)
def decoded_dataset():
    """Decode the shipped dataset before the server gets concurrent requests: its lazy
    loader answers other threads with an empty listing while the first one decodes."""
    dataset = ds.load_dataset()
    for template in dataset.templates:
        dataset.years(template)


def backfill(db_url, api_url, *args):
    env = {
        "DISTRICTBENCH_DATABASE_URL": db_url,
        "DISTRICTBENCH_API_URL": api_url,
        "DISTRICTBENCH_BACKOFF_BASE": "0.01",
    }
    return CliRunner().invoke(build_app(), ["backfill", *args], env=env)


def history_values(engine, source):
    columns = HISTORY_COLUMNS[source]
    h = tables.district_data_history
    query = sa.select(h.c.year, h.c.leaid, *(h.c[c] for c in columns)).where(h.c.source == source)
    with engine.connect() as connection:
        return {
            (row[0], row[1]): {c: _norm(v) for c, v in zip(columns, row[2:])}
            for row in connection.execute(query)
        }


def _norm(value):
    if isinstance(value, (Decimal, float)):
        return Decimal(str(value)).quantize(Decimal("0.01"))
    return value


def test_backfill_all_sources_matches_an_independent_calculation(db_url, db_engine, fake_api):
    fake_api.page_size = 400
    result = backfill(db_url, fake_api.url, "all", "--years", ",".join(map(str, YEARS)), "--states", "AK,AR")
    assert result.exit_code == 0, result.output
    assert "note: absenteeism: skipping 2018 (not available for this source)" in result.output
    assert "note: graduation" not in result.output
    assert "Backfill summary" in result.output and "\x1b[" not in result.output  # plain, no escapes

    # roster: union of every directory year of the run, newest year's attributes win
    roster = {}
    for year in sorted(YEARS):
        for fips in STATES.values():
            for leaid, (_, attributes) in expected.directory(year, fips).items():
                roster[leaid] = attributes
    d = tables.districts
    with db_engine.connect() as connection:
        written = {
            row.leaid: {"name": row.name, "city_location": row.city_location, "number_of_schools": row.number_of_schools}
            for row in connection.execute(sa.select(d.c.leaid, d.c.name, d.c.city_location, d.c.number_of_schools))
        }
    assert written == roster and len(roster) == 54 + 42

    checked = Counter()
    for source, calculate in expected.CALCULATIONS.items():
        want = {}
        for year in YEARS:
            if year not in SOURCE_YEARS[source]:
                continue
            for fips in STATES.values():
                for leaid, values in calculate(year, fips).items():
                    if leaid in roster:
                        want[(year, leaid)] = values
        got = history_values(db_engine, source)
        assert got == want, source
        checked[source] = sum(1 for values in want.values() if any(v is not None for v in values.values()))
    # every source really wrote values (not just NULL rows)
    assert all(checked[source] > 20 for source in expected.CALCULATIONS), checked
    assert re.search(r"poverty 2018 rows skipped: .*unknown district \d+", result.output)

    with db_engine.connect() as connection:
        f = tables.fetch_units
        statuses = Counter(connection.execute(sa.select(f.c.status)).scalars())
        logs = connection.execute(sa.select(sa.func.count()).select_from(tables.data_refresh_logs)).scalar()
    # 2 states × (enrollment, ell, finance, poverty, graduation, assessments: 3 years; absenteeism 2)
    assert statuses == {"complete": 2 * (6 * 3 + 2)}
    assert logs == 6 * 3 + 2


def test_enrollment_and_ell_fetch_each_directory_page_once(db_url, fake_api):
    fake_api.page_size = 25
    result = backfill(db_url, fake_api.url, "enrollment", "ell", "--years", "2018", "--states", "AL,AK,AZ,AR")
    assert result.exit_code == 0, result.output
    directory = [target for target in fake_api.requests_log if "ccd/directory/2018" in target]
    assert len(directory) == len(set(directory)) == sum(-(-n // 25) for n in (177, 54, 727, 42))


def test_force_fetches_again_and_resume_skips(db_url, db_engine, fake_api):
    fake_api.page_size = 1000
    args = ("enrollment", "finance", "--years", "2018", "--states", "AK,AR")
    assert backfill(db_url, fake_api.url, *args).exit_code == 0
    sent = len(fake_api.requests_log)
    again = backfill(db_url, fake_api.url, *args)
    assert again.exit_code == 0 and len(fake_api.requests_log) == sent
    assert "0 units complete, 0 failed, 4 already complete" in again.output
    forced = backfill(db_url, fake_api.url, *args, "--force")
    assert forced.exit_code == 0 and len(fake_api.requests_log) == sent + 4
    assert "4 units complete" in forced.output


# (kind, path, options, reason in the failed unit's message or None when retried to success)
FAULTS = [
    ("rate_limit", "ccd/directory/2018/?fips=1", {"retry_after": 0, "times": 2}, None),
    ("status", "ccd/directory/2018/?fips=2", {"status": 500, "times": 2}, None),
    ("status", "ccd/directory/2018/?fips=4", {"status": 503, "times": 3}, None),
    ("status", "ccd/finance/2018/?fips=1", {"status": 503, "times": None}, "503"),
    ("html", "ccd/finance/2018/?fips=2", {"times": None}, "HTML"),
    ("truncated", "ccd/finance/2018/?fips=4", {"times": None}, "JSON"),
    ("count_mismatch", "saipe/2018/?fips=1", {"times": None}, "count"),
    ("rename_field", "saipe/2018/?fips=2", {"old": "est_population_5_17", "new": "children", "times": None}, "est_population_5_17"),
]


def test_faults_fail_only_their_unit_and_write_nothing_of_it(db_url, db_engine, fake_api):
    fake_api.page_size = 1000
    for kind, path, options, _ in FAULTS:
        fake_api.add_fault(kind, path_contains=path, **options)
    result = backfill(db_url, fake_api.url, "enrollment", "finance", "poverty", "--years", "2018", "--states", "AL,AK,AZ,AR")
    assert result.exit_code == 1, result.output
    f, h = tables.fetch_units, tables.district_data_history
    with db_engine.connect() as connection:
        units = {(r.source, r.state_fips): (r.status, r.error_message) for r in connection.execute(sa.select(f))}
        written = Counter(
            (source, leaid[:2]) for source, leaid in connection.execute(sa.select(h.c.source, h.c.leaid))
        )
    failed = {("finance", "01"): "503", ("finance", "02"): "HTML", ("finance", "04"): "JSON", ("poverty", "01"): "count", ("poverty", "02"): "est_population_5_17"}
    for key, (status, message) in units.items():
        if key in failed:
            assert status == "failed" and failed[key].lower() in message.lower(), (key, message)
        else:
            assert (status, message) == ("complete", None), key  # retried faults, and the others
    assert len(units) == 12
    history_source = {"finance": "ccd_finance", "poverty": "saipe"}
    for source, fips in failed:  # nothing of a failed unit was written
        assert written[(history_source[source], fips)] == 0
    assert written[("ccd_finance", "05")] > 0 and written[("saipe", "04")] > 0
    assert [written[("ccd_directory", fips)] for fips in ("01", "02", "04", "05")] == [177, 54, 727, 42]
    text = " ".join(result.output.split())
    assert "5 unit(s) failed; nothing of them was written:" in text
    assert "finance 2018 AL: retries exhausted after 6 attempts: HTTP 503" in text
    assert "poverty 2018 AK: Field 'est_population_5_17' is missing from all 53 rows" in text


USAGE_ERRORS = [
    (("enrolment", "--years", "2018"), "Unknown source: enrolment"),
    (("finance", "--years", "2021"), "Years available for finance: 1991, 1994–2020"),
    (("finance", "--years", "2021-2019"), "reversed range"),
    (("finance", "--years", "twenty"), "'twenty' is not a year"),
    (("finance", "--years", "2019", "--states", "CA,XX"), "unknown state 'XX'"),
    (("finance", "--years", "2019", "--concurrency", "0"), "--concurrency"),
    (("finance",), "Missing option '--years'"),
]


@pytest.mark.parametrize("args, message", USAGE_ERRORS)
def test_usage_errors_exit_2_before_touching_the_database(tmp_path, args, message):
    database = tmp_path / "never-created.db"
    result = backfill(f"sqlite:///{database}", "http://127.0.0.1:9/api/v1", *args)
    assert result.exit_code == 2
    assert message in " ".join(result.output.replace("│", " ").split())
    assert not database.exists()


def test_unmigrated_database_exit_2(tmp_path):
    result = backfill(f"sqlite:///{tmp_path / 'empty.db'}", "http://127.0.0.1:9/api/v1", "finance", "--years", "2019")
    assert result.exit_code == 2 and "districtbench migrate" in result.output


def test_all_skips_years_a_source_lacks_with_a_note(db_url, fake_api):
    result = backfill(db_url, fake_api.url, "all", "--years", "2011", "--states", "DC")
    assert result.exit_code == 0, result.output
    # CRDC enrollment has 2011, chronic absenteeism does not: the note says which lacks it
    assert "note: absenteeism: skipping 2011 (schools/crdc/chronic-absenteeism/{year}/race/sex/ has no 2011)" in result.output
    assert "assessments" in result.output  # 2011 exists for assessments: ran (0 rows)




def test_roster_from_the_newest_directory_year_even_when_older_runs_last(db_url, db_engine):
    # the real Texas directory rows of 2013 and 2017; 2017 names marked so the years differ
    real = ds.load_dataset()
    rows = {year: [dict(r) for r in real.records(ds.DIRECTORY, year) if r["fips"] == 48] for year in (2013, 2017)}
    for record in rows[2017]:
        record["lea_name"] += " (2017)"
    server = FakeUrbanApi(ds.Dataset({(ds.DIRECTORY, y): r for y, r in rows.items()}), page_size=2000).start()
    try:
        for year in ("2017", "2013"):  # newer year first, then the older one
            assert backfill(db_url, server.url, "enrollment", "--years", year, "--states", "TX").exit_code == 0
    finally:
        server.stop()
    want = {str(r["leaid"]).zfill(7): r["lea_name"] for year in (2013, 2017) for r in rows[year]}
    d = tables.districts
    with db_engine.connect() as connection:
        got = dict(connection.execute(sa.select(d.c.leaid, d.c.name)).all())
    assert got == want
    only_2013 = [name for name in got.values() if not name.endswith("(2017)")]
    assert 0 < len(only_2013) < 100 and len(got) > 1200  # districts gone by 2017 keep their 2013 row
