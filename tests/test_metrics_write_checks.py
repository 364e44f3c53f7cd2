"""A write the database silently skips must fail the run, not report success (issue 12.2).

PostgreSQL: a real role, allowed to SELECT and UPDATE the tables but held back by a
row-level security policy, runs `districtbench compute all` through the CLI. SQLite has no
row-level security; a trigger that ignores updates (`RAISE(IGNORE)`) skips rows the same way.
Either way: exit 1, a message naming the table and the numbers, every family logged `failed`,
nothing written.
"""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from districtbench.cli import build_app
from districtbench.db import tables
from districtbench.db.engine import own_schema
from tests.metrics_helpers import directory, district, history, insert, read_districts, read_logs, read_states, run

FAMILIES = ["latest", "ratios", "averages", "trends", "deltas", "peers"]


def _data(engine) -> None:
    leaids = ["0600001", "0600002", "4800001", "4800002"]
    insert(
        engine,
        [district(leaid) for leaid in leaids],
        [directory(leaid, 2021, enrollment=100 * (n + 1), teachers="10.00", spec_ed=n, ell=n) for n, leaid in enumerate(leaids)]
        + [history(leaid, 2021, "edfacts_grad", graduation_rate="80.00") for leaid in leaids],
    )


def _figure_years(engine) -> list:
    with engine.connect() as connection:
        return connection.execute(sa.select(tables.figure_years)).all()


@pytest.fixture
def restricted_role(db_url, db_engine):
    """A login role (trust authentication on the test server) that may read and write every
    table but does not own them, so row-level security applies to it. Yields a function
    that gives its database URL after enabling RLS with the given policies."""
    if db_engine.dialect.name != "postgresql":
        pytest.skip("row-level security is PostgreSQL's")
    role = f"dbtest_rls_{uuid.uuid4().hex[:8]}"
    with db_engine.begin() as connection:
        connection.execute(sa.text(f'CREATE ROLE "{role}" LOGIN'))
        for schema in ("public", own_schema(db_engine)):  # the app's tables and districtbench's own
            connection.execute(sa.text(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"'))
            connection.execute(sa.text(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO "{role}"'))
            connection.execute(sa.text(f'GRANT USAGE ON ALL SEQUENCES IN SCHEMA "{schema}" TO "{role}"'))

    def protect(table: str, *policies: str) -> str:
        with db_engine.begin() as connection:
            connection.execute(sa.text(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY"))
            for number, policy in enumerate(policies):
                connection.execute(sa.text(f'CREATE POLICY p{number} ON {table} {policy.format(role=role)}'))
        return sa.engine.make_url(db_url).set(username=role).render_as_string(hide_password=False)

    yield protect
    db_engine.dispose()
    with db_engine.begin() as connection:
        connection.execute(sa.text(f'DROP OWNED BY "{role}"'))
    admin = sa.create_engine(sa.engine.make_url(db_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP ROLE IF EXISTS "{role}"'))
    admin.dispose()


def compute(url: str, *args: str):
    return CliRunner().invoke(build_app(), ["--database-url", url, "compute", *args])


def _assert_nothing_written(engine, before_states) -> None:
    rows = read_districts(engine)
    assert all(row["enrollment"] is None and row["ell_pct"] is None for row in rows.values())
    assert read_states(engine) == before_states
    assert _figure_years(engine) == []


@pytest.mark.parametrize("db_kind", ["postgresql"], indirect=True)
def test_compute_as_a_role_whose_policy_blocks_updates_fails_and_writes_nothing(db_engine, restricted_role):
    _data(db_engine)
    before_states = read_states(db_engine)
    url = restricted_role("districts", "FOR SELECT TO {role} USING (true)")  # may read, no UPDATE policy

    result = compute(url, "all")

    assert result.exit_code == 1, result.output
    text = " ".join(result.stderr.split())
    assert "UPDATE districts wrote 0 of the 4 rows whose values changed" in text
    assert "row-level security policy" in text and "Nothing was changed" in text
    assert "Traceback" not in result.output
    _assert_nothing_written(db_engine, before_states)
    logs = read_logs(db_engine)
    assert [log["data_source"] for log in logs] == [f"compute:{name}" for name in FAMILIES]
    assert {log["status"] for log in logs} == {"failed"}
    assert all(log["records_updated"] == 0 for log in logs)
    # The families whose values were blocked (one year of data: trends had nothing to write).
    blocked = [log["data_source"] for log in logs if log["error_message"].startswith("WriteShortfallError")]
    assert blocked == ["compute:latest", "compute:ratios", "compute:deltas"]
    assert "(for latest, ratios, deltas)" in text
    rolled_back = {log["data_source"]: log["error_message"] for log in logs if log["data_source"] not in blocked}
    assert all(message.startswith("rolled back: latest, ratios, deltas failed") for message in rolled_back.values())


@pytest.mark.parametrize("db_kind", ["postgresql"], indirect=True)
def test_a_policy_that_lets_some_rows_through_is_caught_too(db_engine, restricted_role):
    _data(db_engine)
    before_states = read_states(db_engine)
    url = restricted_role(
        "districts", "FOR SELECT TO {role} USING (true)", "FOR UPDATE TO {role} USING (state_fips = '06')"
    )
    result = compute(url, "all")
    assert result.exit_code == 1, result.output
    assert "UPDATE districts wrote 2 of the 4 rows whose values changed" in " ".join(result.stderr.split())
    _assert_nothing_written(db_engine, before_states)


@pytest.mark.parametrize("db_kind", ["postgresql"], indirect=True)
def test_a_blocked_states_update_fails_the_averages_family(db_engine, restricted_role):
    _data(db_engine)
    before_states = read_states(db_engine)
    url = restricted_role("states", "FOR SELECT TO {role} USING (true)")
    result = compute(url, "all")
    assert result.exit_code == 1, result.output
    text = " ".join(result.stderr.split())
    assert "compute failed in family 'averages'" in text
    assert "UPDATE states wrote 0 of the 57 rows whose values changed (for averages)" in text
    _assert_nothing_written(db_engine, before_states)
    by_family = {log["data_source"]: log for log in read_logs(db_engine)}
    assert "UPDATE states wrote 0" in by_family["compute:averages"]["error_message"]
    assert by_family["compute:latest"]["error_message"].startswith("rolled back: averages failed")


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
def test_sqlite_a_trigger_that_skips_updates_fails_the_run(db_engine):
    _data(db_engine)
    before_states = read_states(db_engine)
    with db_engine.begin() as connection:
        connection.execute(sa.text(
            "CREATE TRIGGER keep_texas BEFORE UPDATE ON districts WHEN OLD.state_fips = '48' "
            "BEGIN SELECT RAISE(IGNORE); END"
        ))
    from districtbench.metrics.runner import run_families
    from tests.metrics_helpers import registry

    result = run_families(db_engine, registry(), ["all"])
    assert not result.ok
    assert "UPDATE districts wrote 2 of the 4 rows whose values changed" in result.error
    assert result.failed_families == ["latest", "ratios", "deltas"]
    _assert_nothing_written(db_engine, before_states)


def test_the_counts_logged_are_the_rows_written(db_engine):
    """Without a policy in the way, each family's logged count is what it changed, and a
    re-run writes nothing and logs 0 (the same check, passing)."""
    _data(db_engine)
    first = run(db_engine, "all")
    assert [f.outcome.districts_updated for f in first.families if f.name != "averages"] == [4, 4, 0, 4, 0]
    assert first["averages"].outcome.states_updated == 57
    again = run(db_engine, "all")
    assert [f.records_updated for f in again.families] == [0] * 6
