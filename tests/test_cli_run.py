"""`districtbench run` end to end: the real CLI over real HTTP to the fake Urban API, on SQLite
and PostgreSQL, checked against plain-Python figures from the real files (tests/expected.py)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from tests import expected as ex

AR, AK = 5, 2
DISTRICT_COLUMNS = (
    "enrollment", "spec_ed_students", "ell_students", "teachers_fte",
    "swd_pct", "ell_pct", "student_teacher_ratio",
)
STATE_COLUMNS = (
    "total_districts", "total_enrollment", "avg_enrollment",
    "avg_swd_pct", "avg_ell_pct", "avg_student_teacher_ratio",
)
# Tables `run` writes; data_refresh_logs gets one new row per compute family on every run.
WRITTEN_TABLES = ("districts", "states", "district_data_history", "districtbench_fetch_units")


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setenv("DISTRICTBENCH_BACKOFF_BASE", "0.01")
    ex.warm_dataset()


def flat(text: str) -> str:
    return " ".join(text.split())


def rows_by_leaid(engine, state_fips: str) -> dict[str, dict]:
    return {row["leaid"]: row for row in ex.table_rows(engine, "districts", f"state_fips = '{state_fips}'")}


def state_row(engine, fips: str) -> dict:
    return ex.table_rows(engine, "states", f"fips = '{fips}'")[0]


def assert_state(row: dict, expected: dict, label: str) -> None:
    for column in STATE_COLUMNS:
        got = row[column]
        want = expected[column]
        assert (None if got is None else ex.dec(got)) == (None if want is None else Decimal(want)), (label, column, got, want)


# --- AR + AK, 2018: the real API page ---------------------------------------------------------


def test_run_ar_ak_2018_matches_the_real_sample(request, db_kind):
    url, result = ex.shared_run(request, db_kind, "arak")
    assert result.exit_code == 0, result.output
    err = flat(result.stderr)
    assert "Run summary" in result.stderr and "migrated the database" in err
    assert "absenteeism: skipping 2018" in err  # CRDC has no 2018: a note, not an error
    assert "Traceback" not in result.output
    engine = ex.engine_for(request, db_kind, url)

    by_state = {}
    for fips in (AR, AK):
        want = ex.sample_districts(fips)
        got = rows_by_leaid(engine, f"{fips:02d}")
        assert set(got) == set(want), f"roster of fips {fips}"
        for leaid, values in want.items():
            row = got[leaid]
            assert row["name"] == values["name"]
            assert row["urban_institute_year"] == 2018
            for column in DISTRICT_COLUMNS:
                assert ex.dec(row[column]) == values[column], (leaid, column, row[column], values[column])
        by_state[fips] = want
        assert_state(state_row(engine, f"{fips:02d}"), ex.state_averages(want.values()), f"state {fips}")

    # A few districts spelled out, so a reader sees what is compared (values of the real page).
    dewitt = rows_by_leaid(engine, "05")["0500001"]
    assert (dewitt["enrollment"], dewitt["spec_ed_students"], dewitt["ell_students"]) == (1254, 156, 36)
    assert ex.dec(dewitt["teachers_fte"]) == Decimal("106")
    assert ex.dec(dewitt["swd_pct"]) == Decimal("12.44")  # 100 * 156 / 1254 = 12.440...
    assert ex.dec(dewitt["ell_pct"]) == Decimal("2.87")  # 100 * 36 / 1254 = 2.870...
    assert ex.dec(dewitt["student_teacher_ratio"]) == Decimal("11.83")  # 1254 / 106 = 11.830...

    arkansas = ex.state_averages(by_state[AR].values())
    enrolled = [d for d in by_state[AR].values() if d["enrollment"] and d["ell_students"] is not None]
    assert arkansas["avg_ell_pct"] == ex.q2(
        100 * sum(d["ell_students"] for d in enrolled) / sum(d["enrollment"] for d in enrolled)
    )
    assert arkansas["total_districts"] == 42

    # The US row: the same formulas over the districts of the 50 states and DC that are loaded.
    national = ex.state_averages([*by_state[AR].values(), *by_state[AK].values()])
    assert_state(state_row(engine, "00"), national, "US")
    # A state without districts keeps no averages.
    alabama = state_row(engine, "01")
    assert alabama["total_districts"] == 0
    assert alabama["avg_ell_pct"] is None and alabama["avg_student_teacher_ratio"] is None


def test_second_run_with_the_same_arguments_changes_nothing(database_factory, fake_api):
    url = database_factory.new_url()
    args = ("run", "--years", "2018", "--states", "AR,AK")
    first = ex.cli(url, *args, api_url=fake_api.url)
    assert first.exit_code == 0, first.output
    engine = database_factory.engine(url)
    districts = len(ex.table_rows(engine, "districts"))
    # The first run writes every district, and every states row (their aggregates had never
    # been computed: 50 states, DC, 5 territories and the US row).
    assert f"latest {districts:,} districts, " in flat(first.stderr)
    assert "averages 57 states" in flat(first.stderr)
    before = {name: ex.table_rows(engine, name) for name in WRITTEN_TABLES}
    units = len(before["districtbench_fetch_units"])
    assert units == 12  # 6 sources have 2018 (absenteeism does not) × 2 states
    logs_before = ex.table_rows(engine, "data_refresh_logs")
    requests_before = len(fake_api.requests_log)

    second = ex.cli(url, *args, api_url=fake_api.url)
    assert second.exit_code == 0, second.output
    err = flat(second.stderr)
    assert f"Fetched: 0 units, 0 rows in" in err and f"({units} already complete)" in err
    assert "(latest 0 districts, ratios 0 districts, averages 0 districts, trends 0 districts, " in err
    assert "migrated the database" not in err  # already at the latest revision
    after = {name: ex.table_rows(engine, name) for name in WRITTEN_TABLES}
    for name in WRITTEN_TABLES:
        assert after[name] == before[name], f"{name} changed on the second run"
    # The only new rows: one log per backfill (source, year), nothing updated, and one per
    # compute family, all successful.
    logs_after = ex.table_rows(engine, "data_refresh_logs")
    assert logs_after[: len(logs_before)] == logs_before
    new = logs_after[len(logs_before):]
    computes = [row for row in new if row["data_source"].startswith("compute:")]
    backfills = [row for row in new if not row["data_source"].startswith("compute:")]
    assert sorted(row["data_source"] for row in computes) == sorted(
        f"compute:{family}" for family in ("latest", "ratios", "averages", "trends", "deltas", "peers")
    )
    assert all(row["records_updated"] == 0 and row["data_year"] == 2018 for row in backfills)
    assert {row["status"] for row in new} == {"success"}
    assert len(fake_api.requests_log) == requests_before  # nothing fetched again


# --- Texas 2016-2021: trends from the TAPR file -----------------------------------------------


def test_run_texas_trends_and_english_learner_share(request, db_kind):
    url, result = ex.shared_run(request, db_kind, "texas")
    assert result.exit_code == 0, result.output
    engine = ex.engine_for(request, db_kind, url)
    got = rows_by_leaid(engine, "48")
    tapr = ex.tapr_by_leaid()

    compared = 0
    for leaid, years in tapr.items():
        if leaid not in got or 2018 not in years or 2021 not in years:
            continue
        row = got[leaid]
        base, latest = years[2018], years[2021]
        assert ex.dec(row["enrollment_trend_3yr"]) == ex.pct_change(latest["enrollment"], base["enrollment"]), leaid
        assert ex.dec(row["ell_trend_3yr"]) == ex.pct_change(latest["ell_students"], base["ell_students"]), leaid
        assert ex.dec(row["staffing_trend_3yr"]) == ex.pct_change(latest["teachers_fte"], base["teachers_fte"]), leaid
        assert row["enrollment"] == latest["enrollment"], leaid
        compared += 1
    assert compared > 1000  # nearly every Texas district is in the 2013-14 crosswalk

    # Two districts spelled out: Houston ISD and Dallas ISD, 2018-19 → 2021-22.
    houston = got["4823640"]
    assert ex.dec(houston["enrollment_trend_3yr"]) == ex.q2(Decimal(100) * (193727 - 209040) / 209040)  # -7.33
    assert ex.dec(houston["enrollment_trend_3yr"]) == Decimal("-7.33")
    dallas = tapr["4816230"]
    assert ex.dec(got["4816230"]["enrollment_trend_3yr"]) == ex.pct_change(
        dallas[2021]["enrollment"], dallas[2018]["enrollment"]
    )
    # Every district is compared on 2021 (the as-of year); one without a 2021 row (closed) has NULLs.
    served_2021 = ex.served_directory(2021, 48)
    for leaid, row in got.items():
        if leaid in served_2021:
            assert row["urban_institute_year"] == 2021, leaid
            assert row["enrollment"] == served_2021[leaid]["enrollment"], leaid
        else:
            assert row["urban_institute_year"] is None and row["enrollment"] is None, leaid

    # Texas English learners 2021-22: TEA publishes 21.7 %; the pooled share over the served
    # records (TAPR districts with a known LEAID) rounds the same and is what is stored.
    texas = state_row(engine, "48")
    served = ex.state_averages(ex.served_directory(2021, 48).values())
    assert ex.dec(texas["avg_ell_pct"]) == served["avg_ell_pct"]
    assert abs(ex.dec(texas["avg_ell_pct"]) - Decimal("21.7")) <= Decimal("0.1")
    assert abs(ex.dec(texas["avg_ell_pct"]) - ex.tea_state_ell_pct(2021)) <= Decimal("0.1")
    # total_districts counts the whole roster: every district seen in 2016-2021, closed ones too.
    roster = set().union(*(ex.served_directory(year, 48) for year in range(2016, 2022)))
    assert set(got) == roster
    assert_state(texas, {**served, "total_districts": len(roster)}, "TX")


# --- territories are not in the national row --------------------------------------------------


def test_us_row_leaves_out_territories(database_factory, fake_api):
    fake_api.page_size = 500
    url = database_factory.new_url()
    result = ex.cli(url, "run", "--years", "2023", "--states", "AR,PR", api_url=fake_api.url)
    assert result.exit_code == 0, result.output
    engine = database_factory.engine(url)
    ccd = ex.ccd_2023()
    arkansas = ex.state_averages(v for k, v in ccd.items() if k.startswith("05"))
    puerto_rico = ex.state_averages(v for k, v in ccd.items() if k.startswith("72"))
    assert puerto_rico["total_enrollment"] == 240910
    assert_state(state_row(engine, "05"), {**arkansas, "avg_swd_pct": None, "avg_ell_pct": None}, "AR")
    assert_state(state_row(engine, "72"), {**puerto_rico, "avg_swd_pct": None, "avg_ell_pct": None}, "PR")
    # US = Arkansas alone: Puerto Rico's 240,910 students do not count.
    assert_state(state_row(engine, "00"), {**arkansas, "avg_swd_pct": None, "avg_ell_pct": None}, "US")


def test_run_summary_names_every_source(request, db_kind):
    _, result = ex.shared_run(request, db_kind, "arak")
    summary = result.stderr[result.stderr.index("Run summary"):]
    for source in ("enrollment", "ell", "finance", "poverty", "graduation", "assessments", "absenteeism"):
        assert re.search(rf"\b{source}\b", summary), source
    url, _ = ex.shared_run(request, db_kind, "arak")
    # The database was named with --database-url, so every suggested command carries it.
    assert f"districtbench --database-url {url} status" in summary
    assert f"districtbench --database-url {url} export -o benchmarks.csv" in summary
    assert result.stdout == ""  # progress and summaries go to stderr; stdout is for data
