"""The backfill host with fake sources and an in-memory client, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter

import pytest
import sqlalchemy as sa

from districtbench.backfill import BackfillProgress, plan_units, resolve_sources, run_backfill
from districtbench.db import tables
from districtbench.errors import UsageError
from tests.backfill_fakes import DIR, FIN, MemoryClient, directory_record, fake_sources


def dataset():
    data = {}
    for year in (2018, 2019, 2020):
        data[(DIR.format(year=year), 1)] = [
            directory_record("0100005", f"Albertville {year}", 100 + year % 100, ell=5),
            directory_record(100006, f"Marshall {year}", 200 + year % 100, ell=None),
            directory_record("x", "bad", 1, bad=True),
        ]
        data[(DIR.format(year=year), 2)] = [directory_record("0200001", f"Anchorage {year}", 40000 + year)]
        data[(FIN.format(year=year), 1)] = [
            {"leaid": "0100005", "rev_total": 1000.0 + year},
            {"leaid": "0199999", "rev_total": 5.0},  # not in the directory
        ]
        data[(FIN.format(year=year), 2)] = [{"leaid": "0200001", "rev_total": 7.0}]
    return data


def rows(engine, table, *columns, order=None):
    query = sa.select(*(table.c[name] for name in columns)).order_by(*(table.c[n] for n in (order or columns)))
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(query)]


def history(engine):
    return rows(engine, tables.district_data_history, "leaid", "year", "source", "enrollment", "ell_students", "total_revenue")


def units(engine):
    return rows(engine, tables.fetch_units, "source", "year", "state_fips", "status", "rows_written", "rows_skipped", "error_message")


def run(engine, client, names, years, states=("01", "02"), **options):
    sources = fake_sources()
    return run_backfill(engine, client, [sources[n] for n in names], years, list(states), **options)


def test_backfill_writes_history_roster_units_and_logs(db_engine):
    client = MemoryClient(dataset())
    report = run(db_engine, client, ["enrollment", "ell", "finance"], [2018, 2019])
    assert report.ok and report.exit_code == 0 and not report.failures
    assert report.count("complete") == 12
    hist = history(db_engine)
    assert ("0100005", 2019, "ccd_directory", 119, 5, None) in hist
    assert ("0100006", 2018, "ccd_directory", 218, None, None) in hist
    assert ("0100005", 2018, "ccd_finance", None, None, pytest.approx(3018)) in [
        (a, b, c, d, e, float(f) if f is not None else None) for a, b, c, d, e, f in hist
    ]
    assert len(hist) == 2 * 3 + 2 * 2  # directory: 3 districts × 2 years; finance: 2 known × 2
    # enrollment and ell fetched each directory listing once (one task per (year, state))
    assert all(count == 1 for count in client.calls.values())
    assert client.request_count == report.requests == 8
    roster = rows(db_engine, tables.districts, "leaid", "name", "state_fips", "state_abbrev")
    assert roster == [
        ("0100005", "Albertville 2019", "01", "AL"),
        ("0100006", "Marshall 2019", "01", "AL"),
        ("0200001", "Anchorage 2019", "02", "AK"),
    ]
    fetched = units(db_engine)
    assert ("enrollment", 2018, "01", "complete", 2, 1, None) in fetched
    assert ("finance", 2019, "01", "complete", 1, 1, None) in fetched  # unknown district skipped
    summaries = {(s.source, s.year): s for s in report.summaries()}
    assert summaries[("finance", 2018)].rows_skipped == {"unknown district": 1}
    assert summaries[("enrollment", 2019)].rows_skipped == {"invalid leaid": 1}
    logs = rows(db_engine, tables.data_refresh_logs, "data_source", "data_year", "records_updated", "records_failed", "status")
    assert ("finance", 2019, 2, 1, "success") in logs and len(logs) == 6
    with db_engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).where(tables.data_refresh_logs.c.started_at.is_(None))).scalar() == 0


def test_resume_skips_complete_units_and_force_refetches(db_engine):
    client = MemoryClient(dataset())
    run(db_engine, client, ["enrollment", "finance"], [2018])
    before = history(db_engine)
    again = run(db_engine, client, ["enrollment", "finance"], [2018])
    assert again.count("skipped") == 4 and again.requests == 0 and again.ok
    assert history(db_engine) == before
    client.data[(DIR.format(year=2018), 2)][0]["enrollment"] = 1
    forced = run(db_engine, client, ["enrollment", "finance"], [2018], force=True)
    assert forced.count("complete") == 4 and forced.requests == 4
    assert ("0200001", 2018, "ccd_directory", 1, None, None) in history(db_engine)


@pytest.mark.parametrize("order", [(2020, 2018), (2018, 2020), (2018, 2019, 2020)])
def test_roster_never_overwritten_by_an_older_year(db_engine, order):
    client = MemoryClient(dataset())
    for year in order[:-1]:
        run(db_engine, client, ["enrollment"], [year])
    run(db_engine, client, ["enrollment"], [order[-1]])
    names = rows(db_engine, tables.districts, "name")
    assert names == [("Albertville 2020",), ("Anchorage 2020",), ("Marshall 2020",)]


def test_roster_rule_is_per_district(db_engine):
    # B is in 2018 and 2019 only, A in 2020 only: a newer year of A must not block B's update
    data = {
        (DIR.format(year=2018), 1): [directory_record("0100002", "B 2018", 1)],
        (DIR.format(year=2019), 1): [directory_record("0100002", "B 2019", 1)],
        (DIR.format(year=2020), 1): [directory_record("0100001", "A 2020", 1)],
    }
    client = MemoryClient(data)
    for year in (2018, 2020, 2019):
        run(db_engine, client, ["enrollment"], [year], states=["01"])
    assert rows(db_engine, tables.districts, "leaid", "name") == [("0100001", "A 2020"), ("0100002", "B 2019")]


def test_roster_keeps_districts_only_in_older_years(db_engine):
    data = dataset()
    data[(DIR.format(year=2018), 2)].append(directory_record("0200099", "Closed 2018", 3))
    run(db_engine, MemoryClient(data), ["enrollment"], [2018, 2020])
    assert ("0200099", "Closed 2018") in rows(db_engine, tables.districts, "leaid", "name")


def test_ell_and_enrollment_write_their_own_columns_of_one_row(db_engine):
    client = MemoryClient(dataset())
    run(db_engine, client, ["enrollment"], [2019], states=["01"])
    run(db_engine, client, ["ell"], [2019], states=["01"])
    client.data[(DIR.format(year=2019), 1)][0]["enrollment"] = 999
    run(db_engine, client, ["enrollment"], [2019], states=["01"], force=True)
    assert ("0100005", 2019, "ccd_directory", 999, 5, None) in history(db_engine)


def test_failed_fetch_writes_nothing_and_others_go_on(db_engine):
    client = MemoryClient(dataset(), failures={(DIR.format(year=2019), 2): "HTTP 503 after 6 attempts"})
    report = run(db_engine, client, ["enrollment", "ell", "finance"], [2018, 2019])
    assert report.exit_code == 1
    failed = {(f.source, f.year, f.state_fips): f.reason for f in report.failures}
    assert set(failed) == {("enrollment", 2019, "02"), ("ell", 2019, "02"), ("finance", 2018, "02"), ("finance", 2019, "02")}
    assert "HTTP 503 after 6 attempts" in failed[("enrollment", 2019, "02")]
    assert "roster incomplete: enrollment 2019 AK, ell 2019 AK failed" in failed[("finance", 2018, "02")]
    hist = history(db_engine)
    assert not [r for r in hist if r[0] == "0200001" and (r[1] == 2019 or r[2] == "ccd_finance")]
    assert ("0200001", 2018, "ccd_directory", 42018, None, None) in hist  # other units complete
    assert len([r for r in hist if r[0].startswith("01")]) == 2 * 2 + 2
    fetched = {(u[0], u[1], u[2]): u[3:] for u in units(db_engine)}
    assert fetched[("ell", 2019, "02")][0] == "failed" and "503" in fetched[("ell", 2019, "02")][3]
    logs = rows(db_engine, tables.data_refresh_logs, "data_source", "data_year", "status", "error_message")
    assert ("enrollment", 2019, "partial", "AK: HTTP 503 after 6 attempts (http://fake/fake/directory/2019/?fips=2)") in logs
    # the next run retries exactly the failed units
    client.failures.clear()
    client.calls.clear()
    retry = run(db_engine, client, ["enrollment", "ell", "finance"], [2018, 2019])
    assert retry.ok and retry.count("complete") == 4 and retry.count("skipped") == 8
    assert set(client.calls) == {(DIR.format(year=2019), 2), (FIN.format(year=2018), 2), (FIN.format(year=2019), 2)}


def test_missing_required_field_and_parse_error_fail_only_their_unit(db_engine):
    data = dataset()
    for record in data[(DIR.format(year=2018), 1)]:
        record["ELL"] = record.pop("english_language_learners")  # renamed by the API
    data[(DIR.format(year=2018), 2)].append(directory_record("0200002", "x", 1, explode=True))
    report = run(db_engine, MemoryClient(data), ["enrollment", "ell"], [2018])
    failed = {(f.source, f.state_fips): f.reason for f in report.failures}
    assert set(failed) == {("ell", "01"), ("enrollment", "02"), ("ell", "02")}
    assert "english_language_learners" in failed[("ell", "01")] and "missing from all 3 rows" in failed[("ell", "01")]
    assert failed[("enrollment", "02")] == "parse error: ValueError: boom"
    assert history(db_engine) == [
        ("0100005", 2018, "ccd_directory", 118, None, None),
        ("0100006", 2018, "ccd_directory", 118 + 100, None, None),
    ]


def test_unit_is_atomic_when_the_database_rejects_part_of_it(db_engine):
    data = dataset()
    records = [directory_record(f"02{n:05d}", f"D{n}", n) for n in range(1, 1201)]
    records[-1]["state_fips"] = "99"  # no such state: the last batch violates the foreign key
    data[(DIR.format(year=2018), 2)] = records
    report = run(db_engine, MemoryClient(data), ["enrollment"], [2018])
    assert [f.label for f in report.failures] == ["enrollment 2018 AK"]
    assert report.failures[0].reason.startswith("database error:")
    assert rows(db_engine, tables.districts, "leaid") == [("0100005",), ("0100006",)]
    assert {r[0] for r in history(db_engine)} == {"0100005", "0100006"}


def test_year_validation_strict_and_lenient(db_engine):
    sources = fake_sources()
    with pytest.raises(UsageError) as info:
        plan_units([sources["finance"]], [2018, 2020], ["01"], strict_years=True)
    assert "finance has no data for 2020" in str(info.value) and "2018–2019" in str(info.value)
    notes = []

    class Recorder(BackfillProgress):
        def note(self, message):
            notes.append(message)

    report = run(db_engine, MemoryClient(dataset()), ["enrollment", "finance"], [2020], progress=Recorder())
    assert notes == ["finance: skipping 2020 (not available for this source)"] == report.notes
    assert report.ok and {o.source for o in report.outcomes} == {"enrollment"}


def test_resolve_sources():
    registry = list(fake_sources().values())
    assert [s.name for s in resolve_sources(registry, ["all"])] == ["enrollment", "ell", "finance"]
    assert [s.name for s in resolve_sources(registry, ["finance", "enrollment"])] == ["enrollment", "finance"]
    with pytest.raises(UsageError) as info:
        resolve_sources(registry, ["enrolment", "finance"])
    assert "Unknown source: enrolment" in str(info.value) and "enrollment, ell, finance" in str(info.value)


def test_siblings_with_different_districts_keep_their_own_columns(db_engine):
    from dataclasses import dataclass

    from tests.backfill_fakes import FakeDirectory

    @dataclass(frozen=True)
    class PickyEll(FakeDirectory):
        def parse_unit(self, listings, year, state_fips):
            rows = super().parse_unit(listings, year, state_fips)
            rows.history = [r for r in rows.history if r["ell_students"] is not None]
            rows.skipped["no ell count"] += 2 - len(rows.history) if state_fips == "01" else 0
            return rows

    sources = fake_sources()
    ell = PickyEll(**{f: getattr(sources["ell"], f) for f in ("name", "history_source", "endpoints", "years", "columns", "provides_roster")})
    client = MemoryClient(dataset())
    report = run_backfill(db_engine, client, [sources["enrollment"], ell], [2019], ["01"])
    assert report.ok and client.request_count == 1
    assert history(db_engine) == [
        ("0100005", 2019, "ccd_directory", 119, 5, None),
        ("0100006", 2019, "ccd_directory", 219, None, None),
    ]
    assert {(o.source, o.rows_written) for o in report.outcomes} == {("enrollment", 2), ("ell", 1)}


def test_interrupted_run_keeps_completed_units_and_logs_it(db_engine):
    class StopAfterTwo(BackfillProgress):
        seen = 0

        def advance(self, outcome):
            self.seen += 1
            if self.seen == 2:
                raise KeyboardInterrupt

    client = MemoryClient(dataset())
    with pytest.raises(KeyboardInterrupt):
        run(db_engine, client, ["enrollment", "finance"], [2018, 2019], progress=StopAfterTwo(), concurrency=1)
    complete = [u for u in units(db_engine) if u[3] == "complete"]
    assert len(complete) == 2 and {u[0] for u in complete} == {"enrollment"}  # directory units run first
    # Which two finished depends on thread timing; the logs must say so per (source, year),
    # each of which has 2 units (2 states).
    done = Counter((u[0], u[1]) for u in complete)
    expected = []
    for source in ("enrollment", "finance"):
        for year in (2018, 2019):
            left = 2 - done[(source, year)]
            if left == 0:
                expected.append((source, year, "success", None))
            else:
                expected.append((source, year, "partial" if left == 1 else "failed",
                                 f"interrupted with {left} unit(s) unfinished"))
    logs = rows(db_engine, tables.data_refresh_logs, "data_source", "data_year", "status", "error_message")
    assert sorted(logs) == sorted(expected)
    resumed = run(db_engine, client, ["enrollment", "finance"], [2018, 2019])
    assert resumed.ok and resumed.count("skipped") == 2 and resumed.count("complete") == 6
