"""Usage errors of the main commands: exit code 2, one clear message that says what to do, no
traceback, no password — through CliRunner and through the installed console script."""

from __future__ import annotations

from districtbench.db.revision import HEAD_REVISION

import os
import subprocess
import sys
from pathlib import Path

import json
import sqlite3

import pytest
import sqlalchemy as sa

from tests import expected as ex

CONSOLE_SCRIPT = Path(sys.executable).with_name("districtbench")
UNREACHABLE = "postgresql://u:secret@127.0.0.1:1/x"
API = "http://127.0.0.1:9/api/v1"  # never contacted: every case here fails before fetching


def flat(text: str) -> str:
    return " ".join(text.split())


def assert_usage_error(result, *fragments: str) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""  # messages go to stderr
    text = flat(result.output)
    for fragment in fragments:
        assert fragment in text, (fragment, text)
    return text


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .env, and a stray default database would land here
    for name in ex.DB_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'never.db'}"


def test_unknown_source_lists_the_available_ones(sqlite_url):
    result = ex.cli(sqlite_url, "backfill", "nosuch", "--years", "2018", api_url=API)
    assert_usage_error(
        result,
        "Unknown source: nosuch",
        "enrollment, ell, finance, poverty, graduation, assessments, absenteeism",
    )


def test_a_year_a_named_source_lacks_lists_its_years(sqlite_url):
    result = ex.cli(sqlite_url, "backfill", "assessments", "--years", "2019", api_url=API)
    assert_usage_error(result, "assessments has no data for 2019", "2009–2018, 2020")


@pytest.mark.parametrize("command", ["backfill enrollment", "run"])
def test_reversed_year_range(sqlite_url, command):
    result = ex.cli(sqlite_url, *command.split(), "--years", "2021-2019", api_url=API)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    text = flat(result.output.replace("│", " "))
    assert "reversed range '2021-2019'" in text and "2019-2021" in text


@pytest.mark.parametrize("spec", ["19x9", "2018,,2019", "1850"])
def test_malformed_years(sqlite_url, spec):
    result = ex.cli(sqlite_url, "run", "--years", spec, api_url=API)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "--years" in result.output


def test_run_for_a_year_no_source_has(tmp_path, sqlite_url):
    result = ex.cli(sqlite_url, "run", "--years", "1950", api_url=API)
    text = assert_usage_error(result, "No source has data for 1950", "Years available:", "enrollment 1986–2024")
    assert "absenteeism 2013, 2015, 2017" in text
    assert not (tmp_path / "never.db").exists()  # checked before touching the database


def test_unknown_state(sqlite_url):
    result = ex.cli(sqlite_url, "run", "--years", "2018", "--states", "AR,XX", api_url=API)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "unknown state 'XX'" in flat(result.output.replace("│", " "))


@pytest.mark.parametrize(
    "args",
    [
        ("status",),
        ("status", "--json"),
        ("show", "0500001"),
        ("export",),
        ("run", "--years", "2018", "--states", "AR"),
        ("backfill", "enrollment", "--years", "2018"),
    ],
    ids=lambda args: "-".join(args[:2]),
)
def test_unreachable_database_never_shows_the_password(args):
    result = ex.cli(UNREACHABLE, *args, api_url=API)
    if "--json" in args:  # scripts get JSON on stdout, the red line on stderr
        report = json.loads(result.stdout)
        assert report["database"] == "postgresql+psycopg2://u:***@127.0.0.1:1/x"
        assert report["error"].startswith("Cannot connect to the database") and report["exit_code"] == 2
        assert "secret" not in result.stdout
        assert result.exit_code == 2 and "Traceback" not in result.output
        text = flat(result.stderr)
        assert "Cannot connect to the database" in text and "u:***@127.0.0.1:1/x" in text and "secret" not in text
        return
    text = assert_usage_error(result, "Cannot connect to the database", "u:***@127.0.0.1:1/x", "Check --database-url")
    assert "secret" not in result.output and "secret" not in text


@pytest.mark.parametrize("kind", ["missing file", "not migrated"])
def test_status_json_is_json_even_when_the_database_cannot_be_read(tmp_path, kind):
    path = tmp_path / "db.sqlite"
    if kind == "not migrated":
        sqlite3.connect(path).close()
    result = ex.cli(f"sqlite:///{path}", "status", "--json")
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert report["database"] == f"sqlite:///{path}"
    assert ("does not exist" if kind == "missing file" else "has no districtbench schema") in report["error"]
    assert "districtbench" in report["hint"]
    assert path.exists() == (kind == "not migrated")


def test_unreachable_database_console_script_with_debug(tmp_path):
    """The installed command: exit 2, and even --debug's traceback masks the password."""
    env = {k: v for k, v in os.environ.items() if k not in ex.DB_ENV}
    for debug in ([], ["--debug"]):
        completed = subprocess.run(
            [str(CONSOLE_SCRIPT), "--database-url", UNREACHABLE, *debug, "status"],
            capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60,
        )
        assert completed.returncode == 2, completed.stderr
        assert "secret" not in completed.stdout + completed.stderr
        assert "u:***@127.0.0.1:1/x" in completed.stderr
        assert ("Traceback" in completed.stderr) == bool(debug)


@pytest.mark.parametrize(
    "args", [("status",), ("show", "0500001"), ("export",), ("export", "--format", "json")], ids=lambda a: "-".join(a)
)
def test_unmigrated_database_says_to_migrate(empty_db_url, args):
    path = sa.engine.make_url(empty_db_url).database
    if empty_db_url.startswith("sqlite"):
        sqlite3.connect(path).close()  # an existing, empty file (no file at all: see below)
    result = ex.cli(empty_db_url, *args)
    assert_usage_error(result, "no districtbench schema", "districtbench migrate")


@pytest.mark.parametrize("args", [("status",), ("export",)], ids=lambda a: "-".join(a))
def test_database_at_an_older_revision_says_a_migration_is_pending(db_url, args):
    from districtbench.db import migrations
    from districtbench.db.engine import create_db_engine

    engine = create_db_engine(db_url)
    migrations.downgrade(engine, "0001_base")
    engine.dispose()
    result = ex.cli(db_url, *args)
    assert_usage_error(result, "0001_base", HEAD_REVISION, "districtbench migrate")


def test_show_on_an_empty_database_says_there_is_no_data_yet(db_url):
    result = ex.cli(db_url, "show", "0622710")
    assert_usage_error(result, "No data yet — run `districtbench run` first", "districtbench demo")


def test_show_unknown_leaid_on_a_loaded_database(request, db_kind):
    url, _ = ex.shared_run(request, db_kind, "arak")
    result = ex.cli(url, "show", "0622710")
    assert_usage_error(result, "No leaid 0622710 in the database", "districtbench export")


def test_show_unknown_name(request, db_kind):
    url, _ = ex.shared_run(request, db_kind, "arak")
    result = ex.cli(url, "show", "Nowhere Unified")
    assert_usage_error(result, "No district 'Nowhere Unified' in the database")


@pytest.mark.parametrize(
    "args", [("status",), ("show", "0500001"), ("export",), ("report", "0500001"), ("export", "-o", "out.csv")],
    ids=lambda a: "-".join(a),
)
def test_a_sqlite_file_that_does_not_exist_is_reported_and_not_created(tmp_path, args):
    missing = tmp_path / "nowhere.db"
    result = ex.cli(f"sqlite:///{missing}", *args)
    assert_usage_error(result, f"sqlite:///{missing} does not exist", "districtbench run")
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no database file, no output file


def test_a_postgresql_database_that_does_not_exist_is_reported(tmp_path):
    from tests.db_fixtures import PG_ADMIN_URL, _pg_admin_engine

    _pg_admin_engine()  # fails the test (in CI) or skips it when no server answers
    url = sa.engine.make_url(PG_ADMIN_URL).set(database="districtbench_no_such_db").render_as_string(hide_password=False)
    for args in (("status",), ("show", "0500001"), ("export",)):
        result = ex.cli(url, *args)
        assert_usage_error(result, 'database "districtbench_no_such_db" does not exist')


def test_export_bad_options(db_url, tmp_path):
    bad_format = ex.cli(db_url, "export", "--format", "xml")
    assert bad_format.exit_code == 2 and "Traceback" not in bad_format.output
    bad_state = ex.cli(db_url, "export", "--states", "ZZ")
    assert bad_state.exit_code == 2 and "Traceback" not in bad_state.output
    assert "ZZ" in bad_state.output
    folder = ex.cli(db_url, "export", "--output", str(tmp_path / "missing" / "x.csv"))
    assert_usage_error(folder, "the folder", "does not exist", "--output")
