"""Where the database URL comes from, how app-style URLs are cleaned, and that passwords
never show: through the library, the CLI runner and the installed console script."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from districtbench.cli import build_app
from districtbench.config import mask_text, mask_url, normalize_database_url, resolve_settings
from districtbench.db import migrations, revision
from districtbench.db.engine import DbOptions, create_db_engine
from districtbench.errors import ConfigurationError
from districtbench.plugins.host import build_plugin_manager

DEFAULT_SQLITE = "sqlite:///districtbench.db"
URL_VARIABLES = ("DISTRICTBENCH_DATABASE_URL", "DIRECT_URL", "DATABASE_URL")
CONSOLE_SCRIPT = Path(sys.executable).parent / "districtbench"
# The password "S3cr@t-Pw!x" as it is written in a URL, and decoded.
PASSWORD_IN_URL, PASSWORD = "S3cr%40t-Pw!x", "S3cr@t-Pw!x"
UNREACHABLE = f"postgresql://app_user:{PASSWORD_IN_URL}@127.0.0.1:1/appdb"


def settings_url(option=None, environ=None, dotenv: str | None = None, cwd: Path | None = None) -> str:
    if dotenv is not None:
        (cwd / ".env").write_text(dotenv)
    return resolve_settings(option, environ=environ or {}, cwd=cwd).database_url


# --- resolution order ------------------------------------------------------------------


def test_default_is_sqlite_in_the_working_directory(tmp_path):
    assert settings_url(cwd=tmp_path) == DEFAULT_SQLITE


def test_option_beats_every_variable(tmp_path):
    environ = {name: f"sqlite:///{name.lower()}.db" for name in URL_VARIABLES}
    assert settings_url("sqlite:///option.db", environ, cwd=tmp_path) == "sqlite:///option.db"


@pytest.mark.parametrize("present, expected", [
    (("DISTRICTBENCH_DATABASE_URL", "DIRECT_URL", "DATABASE_URL"), "districtbench_database_url"),
    (("DIRECT_URL", "DATABASE_URL"), "direct_url"),
    (("DATABASE_URL",), "database_url"),
])
def test_variables_in_order(tmp_path, present, expected):
    environ = {name: f"sqlite:///{name.lower()}.db" for name in present}
    assert settings_url(None, environ, cwd=tmp_path) == f"sqlite:///{expected}.db"


def test_environment_before_dotenv_and_dotenv_when_unset(tmp_path):
    dotenv = 'export DIRECT_URL="sqlite:///from_dotenv.db"\nDATABASE_URL=sqlite:///dotenv2.db  # comment\n'
    assert settings_url(None, {"DIRECT_URL": "sqlite:///from_env.db"}, dotenv, tmp_path) == "sqlite:///from_env.db"
    assert settings_url(None, {}, dotenv, tmp_path) == "sqlite:///from_dotenv.db"
    # a higher-priority variable from .env beats a lower one from the environment
    assert settings_url(None, {"DATABASE_URL": "sqlite:///env_low.db"}, dotenv, tmp_path) == "sqlite:///from_dotenv.db"


def test_dotenv_quoted_value_with_a_trailing_comment(tmp_path):
    dotenv = 'DATABASE_URL="sqlite:///quoted.db"  # production\n'
    assert settings_url(None, {}, dotenv, tmp_path) == "sqlite:///quoted.db"


def test_empty_variable_is_skipped(tmp_path):
    assert settings_url(None, {"DISTRICTBENCH_DATABASE_URL": "  ", "DATABASE_URL": "sqlite:///x.db"},
                        cwd=tmp_path) == "sqlite:///x.db"


# --- URLs as apps write them -----------------------------------------------------------


@pytest.mark.parametrize("raw", ["postgres://u:p@db.example.com:5432/app", "postgresql://u:p@db.example.com:5432/app"])
def test_postgres_schemes_use_psycopg2(raw):
    assert normalize_database_url(raw) == "postgresql+psycopg2://u:p@db.example.com:5432/app"


def test_prisma_parameters_are_removed_and_schema_becomes_search_path():
    raw = ("postgresql://u:p@pooler.example.com:6543/postgres?pgbouncer=true&connection_limit=1"
           "&pool_timeout=20&sslmode=require&schema=app")
    url = make_url(normalize_database_url(raw))
    assert url.drivername == "postgresql+psycopg2"
    assert dict(url.query) == {"sslmode": "require", "options": "-csearch_path=app"}


def test_mask_url():
    assert mask_url("postgresql://user:pw@host/db") == "postgresql://user:***@host/db"
    assert mask_url("sqlite:///x.db") == "sqlite:///x.db"


@pytest.mark.parametrize("db_kind", ["postgresql"])
def test_schema_parameter_puts_the_tables_in_that_schema(database_factory):
    url = database_factory.new_url()
    admin = database_factory.engine(url)
    with admin.begin() as connection:
        connection.execute(sa.text("CREATE SCHEMA app"))
    engine = database_factory.engine(normalize_database_url(f"{url}?schema=app&pgbouncer=true"))
    migrations.upgrade(engine)
    with admin.connect() as connection:
        placed = connection.execute(sa.text(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema IN ('app', 'public', 'districtbench')")).all()
    # the app's tables in the app's schema; districtbench's bookkeeping in its own
    assert {name for schema, name in placed if schema == "app"} == {
        "states", "districts", "district_data_history", "data_refresh_logs"}
    assert {"districtbench_fetch_units", "districtbench_alembic_version"} <= {
        name for schema, name in placed if schema == "districtbench"}
    assert not [name for schema, name in placed if schema == "public"]
    assert revision.at_head(engine)
    # one installation per own schema: another schema of districtbench's is another installation
    other = database_factory.engine(url, DbOptions(own_schema="districtbench_public"))
    assert not revision.at_head(other)


@pytest.mark.parametrize("db_kind", ["postgresql"])
def test_a_missing_schema_is_created_by_migrate(database_factory):
    engine = database_factory.engine(normalize_database_url(database_factory.new_url() + "?schema=reporting"))
    migrations.upgrade(engine)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT current_schema()")).scalar() == "reporting"
        assert "districts" in sa.inspect(connection).get_table_names(schema="reporting")


# --- passwords and messages ------------------------------------------------------------


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in URL_VARIABLES}
    env["COLUMNS"] = "200"
    return env


def _run_script(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(CONSOLE_SCRIPT), *args], cwd=tmp_path, env=_clean_env(tmp_path),
                          capture_output=True, text=True, timeout=120)


def _assert_no_password(*texts: str) -> None:
    for text in texts:
        squeezed = re.sub(r"\s", "", text)  # also when a line was wrapped inside the password
        for form in (PASSWORD, PASSWORD_IN_URL, "S3cr"):
            assert form not in squeezed, text


@pytest.mark.parametrize("debug", [[], ["--debug"]])
def test_unreachable_database_from_the_console_script(tmp_path, debug):
    result = _run_script(tmp_path, *debug, "--database-url", UNREACHABLE, "migrate")
    assert result.returncode == 2, result.stderr
    assert "Cannot connect to the database postgresql+psycopg2://app_user:***@127.0.0.1:1/appdb" in result.stderr
    assert "Check --database-url" in result.stderr
    if debug:
        assert "Traceback" in result.stderr
    _assert_no_password(result.stdout, result.stderr)


def test_unreachable_database_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE)
    for debug in ([], ["--debug"]):
        app = build_app(plugin_manager=build_plugin_manager(default_plugins=(), load_entry_points=False))
        result = CliRunner().invoke(app, [*debug, "migrate", "--status"])
        assert result.exit_code == 2
        assert "127.0.0.1:1" in result.stderr and "Check --database-url" in " ".join(result.stderr.split())
        _assert_no_password(result.output)


def test_unparseable_url_with_a_password(tmp_path):
    result = _run_script(tmp_path, "--database-url", f"postgresql://app_user:{PASSWORD_IN_URL}@host:port/db",
                         "migrate")
    assert result.returncode == 2
    assert "error:" in result.stderr
    _assert_no_password(result.stdout, result.stderr)


def test_unmigrated_database_from_the_console_script(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    result = _run_script(tmp_path, "--database-url", url, "migrate", "--status")
    assert result.returncode == 2
    assert "migration pending: yes" in result.stdout
    assert "no districtbench schema" in result.stderr
    assert "Run `districtbench migrate`" in result.stderr
    migrated = _run_script(tmp_path, "--database-url", url, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert _run_script(tmp_path, "--database-url", url, "migrate", "--status").returncode == 0


def test_require_current_messages_mask_the_password(database_factory, db_kind):
    url = database_factory.new_url()
    if db_kind == "postgresql":  # trust auth: any password is accepted, so it is in the URL
        url = make_url(url).set(password=PASSWORD).render_as_string(hide_password=False)
    engine = create_db_engine(url)
    try:
        with pytest.raises(Exception) as error:
            migrations.require_current(engine)
        assert "Run `districtbench migrate`" in str(error.value)
        _assert_no_password(str(error.value))
    finally:
        engine.dispose()


# --- nasty passwords (issue 12.3) and drivers that are not there (12.12) ------------------------

# Each password holds the marker "Zq9", which must appear nowhere in what districtbench prints.
NASTY_URLS = {
    "@ not encoded (the reported case)": "postgresql://u:Zq9@ss:w/rd%3F@127.0.0.1:1/db",
    "@ twice": "postgresql://u:Zq9@@x@127.0.0.1:1/db",
    "@ in the user name too": "postgresql://me@srv:Zq9pw@127.0.0.1:1/db",
    ": and /": "postgresql://u:Zq9:pa/ss@127.0.0.1:1/db",
    "# and ?": "postgresql://u:Zq9#pa?ss@127.0.0.1:1/db?sslmode=disable",
    "%": "postgresql://u:Zq9%off%25@127.0.0.1:1/db",
    "all of them encoded": "postgresql://u:Zq9%40%3A%2F%23%3F%25@127.0.0.1:1/db",
    "in the query": "postgresql://u@127.0.0.1:1/db?sslmode=disable&password=Zq9qp",
    "and a bad port": "postgresql://u:Zq9@127.0.0.1:port/db",
}
MORE_THAN_ONE_AT = {"@ not encoded (the reported case)", "@ twice", "@ in the user name too"}


def _assert_no_marker(*texts: str) -> None:
    for text in texts:
        assert "Zq9" not in re.sub(r"\s", "", text), text


@pytest.mark.parametrize("url", [
    "postgresql://u:p@ss:w/rd%3F@127.0.0.1/db", "postgresql://u:p@ss@h/db", "postgresql://u:a:b/c?d#e@h:5/db",
])
def test_mask_url_masks_up_to_the_last_at(url):
    masked = mask_url(url)
    assert masked == "postgresql://u:***@" + url.rpartition("@")[2]


def test_mask_url_masks_a_password_in_the_query():
    assert mask_url("postgresql://u@h/db?sslmode=require&password=s3%26cret") == (
        "postgresql://u@h/db?sslmode=require&password=***"
    )


def test_mask_text_masks_every_form_of_the_password():
    url = "postgresql://u:p@ss:w/rd%3F@127.0.0.1/db"
    text = "FATAL: for postgresql://u:p@ss:w/rd%3F@127.0.0.1/db: p@ss:w/rd%3F or p@ss:w/rd? or p%40ss%3Aw%2Frd%3F"
    assert mask_text(text, url) == "FATAL: for postgresql://u:***@127.0.0.1/db: *** or *** or ***"


@pytest.mark.parametrize("name", sorted(MORE_THAN_ONE_AT))
def test_a_url_with_more_than_one_at_is_refused_with_the_reason(name):
    with pytest.raises(ConfigurationError) as error:
        normalize_database_url(NASTY_URLS[name])
    message = str(error.value)
    assert "cannot be parsed: it has more than one `@`" in message
    assert "must be written `%40`" in message and "@ → %40" in message
    _assert_no_marker(message)


def test_a_question_mark_or_hash_in_the_password_is_kept_and_parameters_still_cleaned():
    url = normalize_database_url("postgres://u:Zq9#pa?ss@db.example.com/app?pgbouncer=true&sslmode=require")
    parsed = make_url(url)
    assert (parsed.password, parsed.host, parsed.database) == ("Zq9#pa?ss", "db.example.com", "app")
    assert dict(parsed.query) == {"sslmode": "require"}


@pytest.mark.parametrize("password", ["Zq9:pa/ss?x%z", "Zq9#pa?ss/x"])
@pytest.mark.parametrize("db_kind", ["postgresql"])
def test_a_password_with_special_characters_but_no_at_connects(database_factory, password):
    """The server's trust auth accepts any password: what is checked is that the host, the
    database and the parameters are read from after the `@`, not from inside the password."""
    admin = make_url(database_factory.new_url())
    raw = (f"postgresql://{admin.username}:{password}@{admin.host}:{admin.port}/{admin.database}"
           "?sslmode=disable&pgbouncer=true")
    result = CliRunner().invoke(build_app(), ["--database-url", raw, "migrate"])
    assert result.exit_code == 0, result.output
    assert revision.at_head(database_factory.engine(admin.render_as_string(hide_password=False)))
    _assert_no_marker(result.output)


@pytest.mark.parametrize("debug", [[], ["--debug"]], ids=["plain", "debug"])
@pytest.mark.parametrize("name", list(NASTY_URLS))
def test_a_nasty_password_is_never_printed(tmp_path, name, debug):
    result = _run_script(tmp_path, *debug, "--database-url", NASTY_URLS[name], "status")
    assert result.returncode == 2, result.stderr
    _assert_no_marker(result.stdout, result.stderr)
    if name in MORE_THAN_ONE_AT:
        assert "must be written `%40`" in result.stderr
    elif name == "and a bad port":
        assert "cannot be parsed" in result.stderr
    else:
        assert "Cannot connect to the database" in result.stderr
    assert ("Traceback" in result.stderr) == bool(debug)


def test_a_nasty_password_from_the_environment_is_never_printed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("@ not encoded (the reported case)", "# and ?"):
        monkeypatch.setenv("DATABASE_URL", NASTY_URLS[name])
        for debug in ([], ["--debug"]):
            app = build_app(plugin_manager=build_plugin_manager(default_plugins=(), load_entry_points=False))
            result = CliRunner().invoke(app, [*debug, "status"])
            assert result.exit_code == 2, result.output
            _assert_no_marker(result.output)


@pytest.mark.parametrize("url, missing", [
    ("postgresql+psycopg://u:Zq9@127.0.0.1/db", "psycopg"),
    ("postgresql+pg8000://u:Zq9@127.0.0.1/db", "pg8000"),
])
def test_a_driver_that_is_not_installed_exits_2_with_a_hint(tmp_path, monkeypatch, url, missing):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, missing, None)  # not installed, whatever this machine has
    result = CliRunner().invoke(build_app(), ["--database-url", url, "status"])
    assert result.exit_code == 2, result.output
    text = " ".join(result.stderr.split())
    assert f"names the driver '{missing}', which is not installed" in text
    assert "Write the URL as postgresql://… to use the driver districtbench comes with" in text
    assert f"pip install {missing}" in text and "Traceback" not in result.output
    _assert_no_marker(result.output)


@pytest.mark.parametrize("url, message", [
    ("postgresql+asyncpg://u:Zq9@127.0.0.1/db", "names the asynchronous driver 'asyncpg'"),
    ("sqlite+aiosqlite:///x.db", "names the asynchronous driver 'aiosqlite'"),
    ("postgresql+nosuch://u:Zq9@127.0.0.1/db", "names the driver 'nosuch', which SQLAlchemy does not know"),
])
def test_an_unusable_driver_exits_2_with_a_hint(tmp_path, url, message):
    result = _run_script(tmp_path, "--database-url", url, "status")
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "to use the driver districtbench comes with" in result.stderr
    assert "Traceback" not in result.stderr
    _assert_no_marker(result.stdout, result.stderr)
