"""`districtbench migrate` through the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

from districtbench.db.revision import HEAD_REVISION

import re

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from districtbench.cli import build_app
from districtbench.plugins.host import build_plugin_manager

FIVE_TABLES = ("states", "districts", "district_data_history", "data_refresh_logs",
               "districtbench_fetch_units")
UNREACHABLE = "postgresql://someone:hunter2pw@127.0.0.1:1/nothing"


def flat(text: str) -> str:
    """Rich wraps lines (and boxes help) at the terminal width; compare on single spaces."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


@pytest.fixture
def run(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no stray .env, the default sqlite file lands here
    for name in ("DISTRICTBENCH_DATABASE_URL", "DIRECT_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)

    def invoke(*args: str):
        app = build_app(plugin_manager=build_plugin_manager(default_plugins=(), load_entry_points=False))
        return CliRunner().invoke(app, list(args))

    return invoke


@pytest.fixture
def url(database_factory) -> str:
    return database_factory.new_url()


def _tables(url: str) -> set[str]:
    """The tables of the app's schema and of districtbench's own (PostgreSQL)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            names = set(inspector.get_table_names())
            if "districtbench" in inspector.get_schema_names():
                names |= set(inspector.get_table_names(schema="districtbench"))
            return names
    finally:
        engine.dispose()


def test_migrate_creates_then_says_up_to_date(run, url):
    first = run("--database-url", url, "migrate")
    assert first.exit_code == 0, first.output
    message = flat(first.stderr)
    assert "created tables" in message and HEAD_REVISION in message
    for table in FIVE_TABLES:
        assert table in message
    assert first.stdout == ""  # messages go to stderr
    assert set(FIVE_TABLES) <= _tables(url)
    second = run("--database-url", url, "migrate")
    assert second.exit_code == 0
    assert "already up to date" in flat(second.stderr)


def test_status_before_and_after(run, url):
    before = run("--database-url", url, "migrate", "--status")
    assert before.exit_code == 2
    assert "current revision: none" in before.stdout
    assert f"latest revision: {HEAD_REVISION}" in before.stdout
    assert "migration pending: yes" in before.stdout
    assert "Run `districtbench migrate`" in flat(before.stderr)
    assert run("--database-url", url, "migrate").exit_code == 0
    after = run("--database-url", url, "migrate", "--status")
    assert after.exit_code == 0, after.output
    assert f"current revision: {HEAD_REVISION}" in after.stdout
    assert "migration pending: no" in after.stdout


def test_downgrade_steps_and_bad_revision(run, url):
    assert run("--database-url", url, "migrate").exit_code == 0
    bad = run("--database-url", url, "migrate", "--downgrade", "nope")
    assert bad.exit_code == 2
    message = flat(bad.stderr)
    assert "nope" in message and "0001_base" in message and HEAD_REVISION in message
    to_base_revision = run("--database-url", url, "migrate", "--downgrade", "0001_base", "--yes")
    assert to_base_revision.exit_code == 0, to_base_revision.output
    assert "dropped 43 columns" in flat(to_base_revision.stderr)
    assert "current revision: 0001_base" in run("--database-url", url, "migrate", "--status").stdout
    to_nothing = run("--database-url", url, "migrate", "--downgrade", "base", "--yes")
    assert to_nothing.exit_code == 0, to_nothing.output
    assert _tables(url) == set()
    assert run("--database-url", url, "migrate").exit_code == 0
    gone_too_far = run("--database-url", url, "migrate", "--downgrade", "-10", "--yes")  # one more step than there are revisions
    assert gone_too_far.exit_code == 2


def test_sql_without_a_database_shows_the_fresh_database_ddl_and_says_so(run, tmp_path):
    result = run("--database-url", UNREACHABLE, "migrate", "--sql")
    assert result.exit_code == 0, result.output
    for table in FIVE_TABLES[:4]:
        assert f"CREATE TABLE {table} (" in result.stdout
    assert "CREATE TABLE districtbench.districtbench_fetch_units (" in result.stdout
    assert "-- This is the SQL for a fresh, empty database" in result.stdout
    assert "showing the SQL for a fresh, empty database" in flat(result.stderr)
    assert "TIMESTAMP(3)" in result.stdout and "hunter2pw" not in result.output
    default = run("migrate", "--sql")  # the default SQLite database, never created
    assert default.exit_code == 0
    assert "CREATE TABLE districts (" in default.stdout and "does not exist yet" in default.stdout
    assert not (tmp_path / "districtbench.db").exists()


def test_bad_downgrade_revision_is_rejected_before_connecting(run):
    result = run("--database-url", UNREACHABLE, "migrate", "--downgrade", "zzz")
    assert result.exit_code == 2
    assert "Unknown revision 'zzz'" in flat(result.stderr)


def test_options_cannot_be_combined(run):
    result = run("--database-url", UNREACHABLE, "migrate", "--sql", "--status")
    assert result.exit_code == 2
    assert "cannot be combined" in flat(result.stderr)


def test_every_migrate_option_has_help(run):
    result = run("migrate", "--help")
    assert result.exit_code == 0
    text = flat(result.stdout)
    for fragment in ("--sql", "against this database", "fresh, empty one", "--status", "pending",
                     "--downgrade", "REV", "-1", "--yes"):
        assert fragment in text
