"""Bad bytes and failures while writing or marking fail ONE unit, never the backfill: the unit
is recorded failed (when the database lets it), listed with a clean reason, the other units
complete, the next run goes on past it, and `run` still computes. SQLite and PostgreSQL
(the NUL cases on PostgreSQL, the only one that refuses NUL in text)."""

from __future__ import annotations

from dataclasses import dataclass, fields

import pytest
import sqlalchemy as sa

from typer.testing import CliRunner

from districtbench.cli import build_app
from districtbench.db import tables
from districtbench.plugins.hookspecs import hookimpl
from districtbench.plugins.host import DEFAULT_PLUGINS, build_plugin_manager
from districtbench.sources import directory
from tests import expected as ex
from tests.backfill_fakes import DIR, FIN, MemoryClient
from tests.test_backfill_runner import dataset, history, rows, run, units

NUL_REFUSED = "write error: ValueError: A string literal cannot contain NUL (0x00) characters."


def unit_rows(engine) -> dict[tuple[str, int, str], tuple[str, str | None]]:
    return {(u[0], u[1], u[2]): (u[3], u[6]) for u in units(engine)}


def failures(report) -> dict[tuple[str, int, str], str]:
    return {(f.source, f.year, f.state_fips): f.reason for f in report.failures}


@pytest.mark.parametrize("db_kind", ["postgresql"])
def test_a_nul_in_a_roster_name_fails_only_its_unit_and_reruns_go_past_it(db_engine):
    data = dataset()
    data[(DIR.format(year=2018), 2)][0]["lea_name"] = "Anchorage\x00 School District"
    client = MemoryClient(data)
    # one fetch at a time: the bad unit is written while every other unit is still queued
    report = run(db_engine, client, ["enrollment", "finance"], [2018, 2019], concurrency=1)
    assert not report.interrupted and report.exit_code == 1
    failed = failures(report)
    # Alaska's finance units wait for its roster, as designed (retried with it next time)
    assert set(failed) == {("enrollment", 2018, "02"), ("finance", 2018, "02"), ("finance", 2019, "02")}
    assert failed[("enrollment", 2018, "02")] == NUL_REFUSED
    assert failed[("finance", 2019, "02")].startswith("roster incomplete: enrollment 2018 AK failed")
    recorded = unit_rows(db_engine)
    assert recorded[("enrollment", 2018, "02")] == ("failed", NUL_REFUSED)
    assert recorded[("finance", 2018, "02")][0] == "failed"
    assert sorted(key for key, (status, _) in recorded.items() if status == "complete") == [
        ("enrollment", 2018, "01"), ("enrollment", 2019, "01"), ("enrollment", 2019, "02"),
        ("finance", 2018, "01"), ("finance", 2019, "01"),
    ]
    assert not [r for r in history(db_engine) if r[0] == "0200001" and r[1] == 2018]  # nothing of it
    logs = rows(db_engine, tables.data_refresh_logs, "data_source", "data_year", "status", "error_message")
    assert ("enrollment", 2018, "partial", f"AK: {NUL_REFUSED}") in logs

    # the next run (one more year) skips what completed, fails the same unit again, goes on
    again = run(db_engine, client, ["enrollment", "finance"], [2018, 2019, 2020], concurrency=1)
    assert set(failures(again)) == set(failed) and again.exit_code == 1
    assert again.count("skipped") == 5
    assert {(o.source, o.year, o.state_fips) for o in again.outcomes if o.status == "complete"} == {
        ("enrollment", 2020, "01"), ("enrollment", 2020, "02"),
    }


def test_a_reason_with_bad_bytes_is_recorded_and_listed_clean(db_engine):
    reason = "HTTP 500: \x00\x1b[2J\x1b]0;pwned\x07<html>\r\nbody"
    client = MemoryClient(dataset(), failures={(FIN.format(year=2018), 1): reason})
    report = run(db_engine, client, ["enrollment", "finance"], [2018], concurrency=1)
    clean = "HTTP 500: <html> body (http://fake/fake/finance/2018/?fips=1)"
    assert failures(report) == {("finance", 2018, "01"): clean}
    assert unit_rows(db_engine)[("finance", 2018, "01")] == ("failed", clean)
    logs = rows(db_engine, tables.data_refresh_logs, "data_source", "data_year", "status", "error_message")
    assert ("finance", 2018, "partial", f"AL: {clean}") in logs
    assert report.count("complete") == 3


def _fetch_units_table(engine) -> str:
    """The fetch-units table as SQL, wherever its schema is (districtbench's own, or public)."""
    name = tables.fetch_units.name
    if engine.dialect.name != "postgresql":
        return name
    with engine.connect() as connection:
        schema = connection.execute(
            sa.text("SELECT table_schema FROM information_schema.tables WHERE table_name = :name"), {"name": name}
        ).scalar_one()
    return f'"{schema}"."{name}"'


def _refuse_marks(engine, status: str) -> None:
    """A trigger that refuses to mark finance units of Alabama with `status`."""
    table = _fetch_units_table(engine)
    condition = f"NEW.source = 'finance' AND NEW.state_fips = '01' AND NEW.status = '{status}'"
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql(
                "CREATE FUNCTION refuse_mark() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF {condition} THEN RAISE EXCEPTION 'marking refused by a trigger'; END IF; "
                "RETURN NEW; END $$"
            )
            connection.exec_driver_sql(
                f"CREATE TRIGGER refuse_mark BEFORE INSERT OR UPDATE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION refuse_mark()"
            )
        else:
            for event in ("INSERT", "UPDATE"):
                connection.exec_driver_sql(
                    f"CREATE TRIGGER refuse_mark_{event.lower()} BEFORE {event} ON {table} WHEN {condition} "
                    "BEGIN SELECT RAISE(ABORT, 'marking refused by a trigger'); END"
                )


def _allow_marks(engine) -> None:
    table = _fetch_units_table(engine)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql(f"DROP TRIGGER refuse_mark ON {table}")
        else:
            for event in ("insert", "update"):
                connection.exec_driver_sql(f"DROP TRIGGER refuse_mark_{event}")


def test_a_unit_whose_complete_mark_fails_is_recorded_failed_with_nothing_written(db_engine):
    _refuse_marks(db_engine, "complete")
    report = run(db_engine, MemoryClient(dataset()), ["enrollment", "finance"], [2018, 2019], concurrency=1)
    failed = failures(report)
    assert set(failed) == {("finance", 2018, "01"), ("finance", 2019, "01")}
    assert all(reason == "database error: marking refused by a trigger" for reason in failed.values())
    recorded = unit_rows(db_engine)
    assert recorded[("finance", 2018, "01")] == ("failed", "database error: marking refused by a trigger")
    assert sum(status == "complete" for status, _ in recorded.values()) == 6
    assert not [r for r in history(db_engine) if r[2] == "ccd_finance" and r[0].startswith("01")]


def test_a_unit_whose_failure_cannot_be_recorded_is_still_failed_and_retried(db_engine):
    _refuse_marks(db_engine, "failed")
    client = MemoryClient(dataset(), failures={(FIN.format(year=2018), 1): "HTTP 503 after 6 attempts"})
    report = run(db_engine, client, ["enrollment", "finance"], [2018, 2019], concurrency=1)
    assert not report.interrupted and report.exit_code == 1
    (reason,) = failures(report).values()
    assert failures(report).keys() == {("finance", 2018, "01")}
    assert reason.startswith("HTTP 503 after 6 attempts (http://fake/fake/finance/2018/?fips=1)")
    assert reason.endswith("(the failure could not be recorded: database error: marking refused by a trigger)")
    recorded = unit_rows(db_engine)
    assert ("finance", 2018, "01") not in recorded  # the database refused it: not complete either
    assert sum(status == "complete" for status, _ in recorded.values()) == 7
    logs = rows(db_engine, tables.data_refresh_logs, "data_source", "data_year", "status")
    assert ("finance", 2018, "partial") in logs

    _allow_marks(db_engine)
    client.failures.clear()
    retry = run(db_engine, client, ["enrollment", "finance"], [2018, 2019], concurrency=1)
    assert retry.ok and retry.count("skipped") == 7
    assert [(o.source, o.year, o.state_fips) for o in retry.outcomes if o.status == "complete"] == [("finance", 2018, "01")]


# --- through `run`: a source plugin that hands the writer a NUL -----------------------------------


def _with_nul_in_one_name(source, state_fips: str):
    """The built-in directory source, except that one district of `state_fips` gets a NUL in
    its roster name after parsing (what a source that does not clean its text would do)."""

    @dataclass(frozen=True)
    class NulInName(type(source)):
        def parse_unit(self, listings, year, fips):
            parsed = super().parse_unit(listings, year, fips)
            if fips == state_fips and parsed.roster:
                parsed.roster = [{**parsed.roster[0], "name": parsed.roster[0]["name"] + "\x00"}, *parsed.roster[1:]]
            return parsed

    return NulInName(**{f.name: getattr(source, f.name) for f in fields(source)})


class NulDirectory:
    """Registers enrollment and ell (the built-ins, one name of Alaska broken) in place of
    the built-in directory plugin."""

    @hookimpl
    def register_sources(self, register) -> None:
        register(_with_nul_in_one_name(directory.ENROLLMENT, "02"))
        register(_with_nul_in_one_name(directory.ELL, "02"))


@pytest.mark.parametrize("db_kind", ["postgresql"])
def test_run_with_a_nul_from_a_source_fails_that_unit_and_still_computes(empty_db_url, fake_api):
    """The NUL fails its unit, not the run. Since issue 13.5 `run` does not compute after a
    failed unit unless asked: `--compute-anyway` shows that compute is reached."""
    ex.warm_dataset()
    fake_api.page_size = 1000
    plugins = tuple(name for name in DEFAULT_PLUGINS if name != "districtbench.sources.directory")
    args = ["--database-url", empty_db_url, "--api-url", fake_api.url, "run", "--years", "2018", "--states", "AK,AR",
            "--compute-anyway"]
    env = {"DISTRICTBENCH_BACKOFF_BASE": "0.01"}
    for attempt in ("first", "rerun"):
        pm = build_plugin_manager(default_plugins=plugins, load_entry_points=False, extra_plugins=[NulDirectory()])
        result = CliRunner().invoke(build_app(plugin_manager=pm), args, env=env)
        text = " ".join(result.stderr.split())
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output and "unexpected error" not in text
        assert f"enrollment 2018 AK: {NUL_REFUSED}" in text and f"ell 2018 AK: {NUL_REFUSED}" in text
        assert "Computed: 6 families" in text, (attempt, text)
    engine = sa.create_engine(empty_db_url)
    try:
        recorded = {(u["source"], u["state_fips"]): u["status"] for u in ex.table_rows(engine, "districtbench_fetch_units")}
        districts = ex.table_rows(engine, "districts")
    finally:
        engine.dispose()
    assert recorded[("enrollment", "02")] == recorded[("ell", "02")] == "failed"
    assert {status for (source, fips), status in recorded.items() if fips == "05"} == {"complete"}
    # compute ran over what was written: Arkansas's ratios are those of the served records
    served = ex.served_directory(2018, 5)
    computed = {d["leaid"]: d["swd_pct"] for d in districts if d["state_fips"] == "05"}
    assert computed == {leaid: values["swd_pct"] for leaid, values in served.items()}
    assert len([v for v in computed.values() if v is not None]) > 20
    assert not [d for d in districts if d["state_fips"] == "02"]  # nothing of the failed roster units
