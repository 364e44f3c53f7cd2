"""`districtbench run` end to end under issue 13's rules, on SQLite and PostgreSQL, over real
HTTP to the fake Urban API (real files behind it), checked against plain Python:

* the shipped CCD 2023-24 directory file (enrollment and teachers only) does not blank the
  English-learner and special-education figures of Texas: they stay on 2021;
* Toltec (AZ, 1,047 students and 1 teacher FTE in the real 2018 page) gets no ratio;
* a run whose backfill has a failed unit does not compute (the published benchmarks stay),
  says so, and `--compute-anyway` computes;
* a requested state-year without a single row (California 2018) is named in the run summary
  and in `status`, and the summary's years are the years with data.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests import expected as ex

TX, AZ = 48, 4
BENCHMARKS = ("enrollment", "expenditure_per_pupil", "finance_data_year", "expenditure_pp_vs_state",
              "expenditure_pp_quartile_state", "student_teacher_ratio", "ell_pct", "updated_at")


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setenv("DISTRICTBENCH_BACKOFF_BASE", "0.01")
    ex.warm_dataset()


def flat(text: str) -> str:
    return " ".join(text.split())


def districts_of(engine, fips: int) -> dict[str, dict]:
    return {row["leaid"]: row for row in ex.table_rows(engine, "districts", f"state_fips = '{fips:02d}'")}


def test_the_2023_directory_file_keeps_texas_english_learners_on_2021(database_factory, fake_api):
    fake_api.page_size = 1000
    url = database_factory.new_url()
    result = ex.cli(url, "run", "--years", "2018-2023", "--states", "TX", api_url=fake_api.url)
    assert result.exit_code == 0, result.output
    engine = database_factory.engine(url)
    got = districts_of(engine, TX)
    d2018, d2020, d2021, d2023 = (ex.served_directory(year, TX) for year in (2018, 2020, 2021, 2023))
    assert d2023 and all(v["ell_students"] is None for v in d2023.values())  # the file has no counts

    compared = 0
    for leaid, row in got.items():
        latest = d2023.get(leaid)
        counts = d2021.get(leaid)
        assert row["enrollment"] == (latest["enrollment"] if latest else None), leaid
        assert row["urban_institute_year"] == (2023 if latest else None), leaid
        assert ex.dec(row["student_teacher_ratio"]) == (latest["student_teacher_ratio"] if latest else None), leaid
        # English learners and special education: the 2021 row, count and enrollment alike.
        assert row["ell_students"] == (counts["ell_students"] if counts else None), leaid
        assert ex.dec(row["ell_pct"]) == (counts["ell_pct"] if counts else None), leaid
        assert ex.dec(row["swd_pct"]) == (counts["swd_pct"] if counts else None), leaid
        base = d2018.get(leaid)
        expected_trend = ex.pct_change(counts["ell_students"], base["ell_students"]) if counts and base else None
        assert ex.dec(row["ell_trend_3yr"]) == expected_trend, leaid
        # Enrollment: 2023 against 2020 (latest − 3).
        start = d2020.get(leaid)
        expected_enrollment_trend = (
            ex.pct_change(latest["enrollment"], start["enrollment"]) if latest and start else None
        )
        assert ex.dec(row["enrollment_trend_3yr"]) == expected_enrollment_trend, leaid
        compared += counts is not None and latest is not None
    assert compared > 1100

    # The state's English-learner share is 2021's, pooled over 2021's rows: TEA publishes 21.7 %.
    texas = ex.table_rows(engine, "states", "fips = '48'")[0]
    assert ex.dec(texas["avg_ell_pct"]) == ex.state_averages(d2021.values())["avg_ell_pct"]
    assert abs(ex.dec(texas["avg_ell_pct"]) - Decimal("21.7")) <= Decimal("0.1")
    assert ex.dec(texas["avg_student_teacher_ratio"]) == ex.state_averages(d2023.values())["avg_student_teacher_ratio"]
    # Flags on the 2021 shares, among the districts with students in 2023 (or not in the 2023 file).
    ranked = {leaid: ex.dec(row["ell_pct"]) for leaid, row in got.items() if row["enrollment"] != 0}
    flags = ex.quartile_flags(ranked)
    assert {leaid: got[leaid]["ell_pct_quartile_state"] for leaid in ranked} == flags
    assert sum(flag is not None for flag in flags.values()) > 1100

    # Each figure's year, per state, for show, export and status.
    houston = json.loads(ex.cli(url, "show", "4823640", "--json").stdout)
    years = {metric["key"]: (metric["data_year"], metric["trend_years"]) for metric in houston["metrics"]}
    assert years["ell_pct"] == (2021, [2018, 2021])
    assert years["swd_pct"] == (2021, [2018, 2021])
    assert years["student_teacher_ratio"] == (2023, [2020, 2023])
    status = json.loads(ex.cli(url, "status", "--json").stdout)
    as_of = {row["figure"]: row for row in status["as_of"]}
    assert as_of["ell_pct"]["years"] == {"2021": 1} and as_of["enrollment"]["years"] == {"2023": 1}
    assert as_of["ell_trend_3yr"]["base_years"] == {"2018": 1}
    # No 2022 directory file: those units completed with 0 rows, and the summary says so.
    summary = flat(result.stderr[result.stderr.index("Run summary"):])
    assert "2018–2021, 2023" in summary or "2018-2021, 2023" in summary
    assert "2022 TX" in summary


def test_toltecs_one_teacher_gives_no_ratio(database_factory, fake_api):
    fake_api.page_size = 1000
    url = database_factory.new_url()
    result = ex.cli(url, "run", "--years", "2018", "--states", "AZ", "--verbose", api_url=fake_api.url)
    assert result.exit_code == 0, result.output
    got = districts_of(database_factory.engine(url), AZ)
    toltec = got["0408550"]
    assert (toltec["enrollment"], ex.dec(toltec["teachers_fte"])) == (1047, Decimal("1"))
    assert toltec["student_teacher_ratio"] is None and toltec["student_teacher_ratio_quartile_state"] is None
    sample = ex.sample_districts(AZ)
    implausible = [leaid for leaid, v in sample.items() if v["enrollment"] and v["teachers_fte"]
                   and v["teachers_fte"] > 0 and v["student_teacher_ratio"] is None]
    assert implausible == ["0408550"]
    assert "student_teacher_ratio 1" in flat(result.stderr)  # NULL, and counted
    for leaid, values in sample.items():
        assert ex.dec(got[leaid]["student_teacher_ratio"]) == values["student_teacher_ratio"], leaid
    arizona = ex.table_rows(database_factory.engine(url), "states", "fips = '04'")[0]
    assert ex.dec(arizona["avg_student_teacher_ratio"]) == ex.state_averages(sample.values())["avg_student_teacher_ratio"]


def _benchmarks(engine) -> dict:
    rows = ex.table_rows(engine, "districts")
    states = ex.table_rows(engine, "states")
    return {
        "districts": {row["leaid"]: {c: row[c] for c in BENCHMARKS} for row in rows},
        "states": {row["fips"]: row for row in states},
    }


def test_a_run_with_a_failed_unit_does_not_compute_unless_asked(database_factory, fake_api):
    fake_api.page_size = 1000
    url = database_factory.new_url()
    first = ex.cli(url, "run", "--years", "2018", "--states", "AR,AK", api_url=fake_api.url)
    assert first.exit_code == 0, first.output
    engine = database_factory.engine(url)
    published = _benchmarks(engine)
    computes = len([r for r in ex.table_rows(engine, "data_refresh_logs") if r["data_source"].startswith("compute:")])

    # 2019: finance has data for AR and AK; Alaska's directory listing fails for good (and
    # with it Alaska's units that need its roster: finance, poverty, graduation).
    fake_api.add_fault("status", path_contains="ccd/directory/2019/?fips=2", status=503, times=None)
    second = ex.cli(url, "run", "--years", "2019", "--states", "AR,AK", api_url=fake_api.url)
    assert second.exit_code == 1, second.output
    text = flat(second.stderr)
    assert "Not computed: 5 unit(s) failed" in text
    assert "the ones the last compute published are unchanged" in text
    for unit in ("ell 2019 AK", "enrollment 2019 AK", "finance 2019 AK", "graduation 2019 AK", "poverty 2019 AK"):
        assert unit in text, unit
    assert "--compute-anyway" in text and "Run the same command again" in text
    assert _benchmarks(engine) == published  # nothing recomputed from the half-loaded history
    logs = ex.table_rows(engine, "data_refresh_logs")
    assert len([r for r in logs if r["data_source"].startswith("compute:")]) == computes
    with engine.connect() as connection:
        loaded = connection.execute(sa.text(
            "SELECT count(*) FROM district_data_history WHERE source = 'ccd_finance' AND year = 2019"
        )).scalar_one()
    assert loaded > 0  # the units that worked are kept

    third = ex.cli(url, "run", "--years", "2019", "--states", "AR,AK", "--compute-anyway", api_url=fake_api.url)
    assert third.exit_code == 1, third.output  # the unit still fails …
    assert "Not computed" not in third.stderr
    assert "Computed: 6 families" in flat(third.stderr)  # … but the benchmarks are computed
    after = ex.table_rows(engine, "districts", "state_fips = '05'")
    with engine.connect() as connection:
        finance = dict(connection.execute(sa.text(
            "SELECT leaid, expenditure_pp FROM district_data_history WHERE source = 'ccd_finance' AND year = 2019"
        )).all())
    arkansas = [row for row in after if row["leaid"] in finance]
    assert arkansas and all(row["finance_data_year"] == 2019 for row in arkansas)
    assert all(ex.dec(row["expenditure_per_pupil"]) == ex.dec(finance[row["leaid"]]) for row in arkansas)


def test_a_state_year_without_rows_is_named_in_the_summary_and_in_status(database_factory, fake_api):
    fake_api.page_size = 1000
    url = database_factory.new_url()
    result = ex.cli(url, "run", "--years", "2018", "--states", "CA,AR", "--verbose", api_url=fake_api.url)
    assert result.exit_code == 0, result.output
    text = flat(result.stderr)
    # The backfill summary: the API has no California directory or finance records of 2018, and
    # SAIPE's California records name districts that are not in the roster (all dropped).
    assert "complete with 0 rows — nothing loaded for:" in text
    for label in ("enrollment 2018 CA", "ell 2018 CA", "finance 2018 CA", "poverty 2018 CA (every record dropped)"):
        assert label in text, label
    summary = text[text.index("Run summary"):]
    assert "2018 CA" in summary

    only_california = ex.cli(url, "run", "--years", "2018", "--states", "CA", api_url=fake_api.url)
    assert only_california.exit_code == 0
    table = flat(only_california.stderr[only_california.stderr.index("Run summary"):])
    enrollment_row = table[table.index("enrollment"):table.index("ell")]
    assert "2018 CA" in enrollment_row and "2018 " not in enrollment_row.replace("2018 CA", "")  # no year with data

    status = json.loads(ex.cli(url, "status", "--json").stdout)
    rows = {(row["source"], row["year"]): row for row in status["sources"]}
    assert rows[("enrollment", 2018)]["empty_states"] == ["CA"]
    assert rows[("finance", 2018)]["empty_states"] == ["CA"]
    assert rows[("enrollment", 2018)]["districts_with_data"] == len(ex.sample_districts(5))
    human = flat(ex.cli(url, "status").stdout)
    assert "no rows for" in human and "CA" in human
