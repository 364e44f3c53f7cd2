"""12.9: a database role that may not write gets one clear line before anything is fetched."""

from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa

from tests import expected as ex
from tests.db_fixtures import PG_ADMIN_URL, _pg_admin_engine


@pytest.fixture
def reader_url(db_url, db_kind):
    """The migrated database, through a role that may only read it (and connect)."""
    role = f"reader_{uuid.uuid4().hex[:10]}"
    admin = _pg_admin_engine()
    database = sa.engine.make_url(db_url).database
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE ROLE "{role}" LOGIN'))
    owner = sa.create_engine(db_url, isolation_level="AUTOCOMMIT")
    with owner.connect() as connection:
        for schema in ("public", "districtbench"):
            connection.execute(sa.text(f'GRANT USAGE ON SCHEMA {schema} TO "{role}"'))
            connection.execute(sa.text(f'GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO "{role}"'))
    owner.dispose()
    yield sa.engine.make_url(PG_ADMIN_URL).set(username=role, database=database).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP OWNED BY "{role}"'))
    owner = sa.create_engine(db_url, isolation_level="AUTOCOMMIT")
    with owner.connect() as connection:
        connection.execute(sa.text(f'DROP OWNED BY "{role}"'))
    owner.dispose()
    with admin.connect() as connection:
        connection.execute(sa.text(f'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = \'{role}\''))
        connection.execute(sa.text(f'DROP ROLE "{role}"'))


@pytest.mark.parametrize("db_kind", ["postgresql"])
@pytest.mark.parametrize("command", [
    ("backfill", "enrollment", "--years", "2018", "--states", "AK"),
    ("backfill", "poverty", "--years", "2018", "--states", "AK"),
    ("run", "--years", "2018", "--states", "AK"),
])
def test_a_role_that_may_only_read_is_stopped_before_any_request(reader_url, fake_api, command):
    result = ex.cli(reader_url, *command, api_url=fake_api.url)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "cannot write table" in lines[0], result.stderr
    assert "GRANT" in result.stderr  # what to do
    assert "[SQL:" not in result.output and "Traceback" not in result.output
    # not one data request reached the API (its catalog, read first, says which years exist)
    assert [t for t in fake_api.requests_log if "/api-endpoint" not in t] == []


@pytest.mark.parametrize("db_kind", ["postgresql"])
def test_a_role_that_may_write_the_app_tables_but_not_the_resume_state(db_url, reader_url, fake_api):
    owner = sa.create_engine(db_url, isolation_level="AUTOCOMMIT")
    role = sa.engine.make_url(reader_url).username
    with owner.connect() as connection:
        connection.execute(sa.text(f'GRANT INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO "{role}"'))
        connection.execute(sa.text(f'GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO "{role}"'))
    owner.dispose()
    result = ex.cli(reader_url, "backfill", "enrollment", "--years", "2018", "--states", "AK", api_url=fake_api.url)
    assert result.exit_code == 2, result.output
    assert "cannot write table districtbench_fetch_units" in result.stderr
    assert [t for t in fake_api.requests_log if "/api-endpoint" not in t] == []  # the catalog only


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_a_read_only_sqlite_file(db_url, fake_api, monkeypatch):
    """(The tests run as root, who may write any file: the permission is reported as missing.)"""
    path = os.path.abspath(sa.engine.make_url(db_url).database)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if os.path.abspath(p) == path and mode == os.W_OK
                        else real_access(p, mode))
    result = ex.cli(db_url, "backfill", "enrollment", "--years", "2018", "--states", "AK", api_url=fake_api.url)
    assert result.exit_code == 2 and f"Cannot write the SQLite database {sa.engine.make_url(db_url).database}" in result.stderr
    assert [t for t in fake_api.requests_log if "/api-endpoint" not in t] == []  # the catalog only
