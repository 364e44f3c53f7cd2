"""`migrate --sql` shows what `migrate` would run on the database it is given (and changes
nothing); `migrate --downgrade` shows what it removes and cannot undo, and asks first."""

from __future__ import annotations

from districtbench.db.revision import HEAD_REVISION

import re

import pytest
import sqlalchemy as sa

from districtbench.cli import migrate as migrate_command
from districtbench.db import migrations
from tests import app_layouts
from tests import expected as ex
from tests.test_app_layouts import describe_app, tables_by_schema


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def renamed_app(database_factory):
    url = database_factory.new_url()
    engine = database_factory.engine(url)
    app_layouts.build(engine, "renamed")
    return url, engine


def test_sql_is_the_plan_for_this_database_and_changes_nothing(renamed_app, db_kind):
    url, engine = renamed_app
    before = describe_app(engine, app_layouts.APP_TABLES["renamed"])
    placed = tables_by_schema(engine)
    result = ex.cli(url, "migrate", "--sql")
    assert result.exit_code == 0, result.output
    sql = result.stdout
    assert "would run on" in sql and "rolled back: nothing was changed" in sql
    # the adoption plan of this database: the app's missing columns, under the app's names
    assert "ALTER TABLE districts ADD COLUMN urban_institute_year INTEGER;" in sql
    assert "ALTER TABLE district_data_history ADD COLUMN ell_students INTEGER;" in sql
    for old in ("expenditure_pp", "sped_expenditure", "poverty_pct", "math_proficiency", "read_proficiency"):
        assert not re.search(rf"ADD COLUMN {old}\b", sql), old
    assert "ADD COLUMN graduation_rate_total" not in sql
    run = re.sub(r"^--.*$", "", sql, flags=re.M)  # what would run, without the comments
    assert "CREATE INDEX" not in run and "ADD CONSTRAINT" not in run
    # values written in, so it can be run or reviewed as it is
    assert "INSERT INTO" in sql and "'United States'" in sql and "%(" not in sql and "?" not in sql.replace("--", "")
    own = "districtbench." if db_kind == "postgresql" else ""
    assert f"CREATE TABLE {own}districtbench_fetch_units (" in sql
    if db_kind == "postgresql":
        assert 'CREATE SCHEMA "districtbench";' in sql
    # what it will not do, for the app team, as comments with the exact statement
    assert f"--   {app_layouts.FIXES[db_kind]['unique']}" in sql
    # and nothing happened
    assert describe_app(engine, app_layouts.APP_TABLES["renamed"]) == before
    assert tables_by_schema(engine) == placed
    assert migrations.current_revision(engine) is None
    # once migrated, the plan is empty
    assert ex.cli(url, "migrate").exit_code == 0
    again = ex.cli(url, "migrate", "--sql")
    assert "-- Nothing: the database is up to date." in again.stdout
    assert "ALTER TABLE" not in re.sub(r"^--.*$", "", again.stdout, flags=re.M)


def test_sql_statements_run_as_printed_give_what_migrate_gives(database_factory, db_kind):
    """The printed plan is the real one: running it produces the schema `migrate` produces."""
    planned_url, migrated_url = database_factory.new_url(), database_factory.new_url()
    planned, migrated = database_factory.engine(planned_url), database_factory.engine(migrated_url)
    for engine in (planned, migrated):
        app_layouts.build(engine, "renamed")
    sql = ex.cli(planned_url, "migrate", "--sql").stdout
    statements = [s for s in re.sub(r"^--.*$", "", sql, flags=re.M).split(";\n") if s.strip()]
    with planned.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement.strip().rstrip(";"))
    assert ex.cli(migrated_url, "migrate").exit_code == 0
    names = app_layouts.APP_TABLES["renamed"]
    assert describe_app(planned, names) == describe_app(migrated, names)
    assert migrations.current_revision(planned) == migrations.current_revision(migrated) == HEAD_REVISION


def test_downgrade_shows_what_it_removes_and_what_it_cannot_undo(renamed_app, db_kind):
    url, engine = renamed_app
    before = describe_app(engine, app_layouts.APP_TABLES["renamed"])
    assert ex.cli(url, "migrate").exit_code == 0
    result = ex.cli(url, "migrate", "--downgrade", "base", "--yes")
    assert result.exit_code == 0, result.output
    message = flat(result.stderr)
    assert "removes:" in message and "urban_institute_year" in message and "districtbench_fetch_units" in message
    assert "Not undone by a downgrade" in message and "the earlier values were not saved" in message
    assert "states fips=00" in message
    # removed exactly what districtbench added: the app's tables are as they were, and work
    assert describe_app(engine, app_layouts.APP_TABLES["renamed"]) == before
    assert tables_by_schema(engine) == {None: set(app_layouts.APP_TABLES["renamed"])}
    app_layouts.run_app_inserts(engine, "renamed")


def test_downgrade_without_a_terminal_needs_yes(renamed_app):
    url, engine = renamed_app
    assert ex.cli(url, "migrate").exit_code == 0
    result = ex.cli(url, "migrate", "--downgrade", "base")
    assert result.exit_code == 2
    assert "Add --yes" in flat(result.stderr) and "removes:" in flat(result.stderr)
    assert migrations.current_revision(engine) == HEAD_REVISION  # nothing removed


def test_downgrade_asks_in_a_terminal(renamed_app, monkeypatch):
    url, engine = renamed_app
    assert ex.cli(url, "migrate").exit_code == 0
    monkeypatch.setattr(migrate_command, "_interactive", lambda: True)
    from typer.testing import CliRunner

    from districtbench.cli import build_app

    def answer(text):
        return CliRunner().invoke(build_app(), ["--database-url", url, "migrate", "--downgrade", "0002_benchmarks"], input=text)

    declined = answer("n\n")
    assert declined.exit_code == 1 and "Nothing was changed" in declined.stderr
    assert "Remove it?" in declined.stderr
    assert migrations.current_revision(engine) == HEAD_REVISION
    accepted = answer("y\n")
    assert accepted.exit_code == 0, accepted.output
    assert migrations.current_revision(engine) == "0002_benchmarks"
    with engine.connect() as connection:
        assert not sa.inspect(connection).has_table(
            "districtbench_column_map", schema="districtbench" if engine.dialect.name == "postgresql" else None)
