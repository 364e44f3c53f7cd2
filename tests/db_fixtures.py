"""Database fixtures: every database test runs on SQLite and on a real PostgreSQL.

Each test gets its own fresh database. PostgreSQL comes from DISTRICTBENCH_TEST_PG_URL
(default: the local server, user postgres). If the server cannot be reached the PostgreSQL
variants are skipped — unless DISTRICTBENCH_REQUIRE_POSTGRES=1 (CI), where they fail.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from districtbench.db.engine import create_db_engine

PG_ADMIN_URL = os.environ.get(
    "DISTRICTBENCH_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = os.environ.get("DISTRICTBENCH_REQUIRE_POSTGRES") == "1"
DATABASE_KINDS = ("sqlite", "postgresql")

_pg_status: dict[str, object] = {}


def _pg_admin_engine() -> sa.engine.Engine:
    if "engine" not in _pg_status:
        engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
        try:
            with engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
            _pg_status["engine"] = engine
        except sa.exc.OperationalError as exc:
            _pg_status["engine"] = None
            _pg_status["error"] = str(exc).splitlines()[0]
    engine = _pg_status["engine"]
    if engine is None:
        message = f"PostgreSQL not reachable at {PG_ADMIN_URL}: {_pg_status['error']}"
        if REQUIRE_POSTGRES:
            pytest.fail(message)
        pytest.skip(message)
    return engine  # type: ignore[return-value]


def _database_url(admin_url: str, name: str) -> str:
    return sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)


class DatabaseFactory:
    """Creates fresh empty databases of one kind and drops them at the end."""

    def __init__(self, kind: str, tmp_path: Path):
        self.kind = kind
        self.tmp_path = tmp_path
        self.created: list[str] = []
        self.engines: list[sa.engine.Engine] = []

    def new_url(self, template: str | None = None) -> str:
        name = f"dbtest_{uuid.uuid4().hex[:12]}"
        if self.kind == "sqlite":
            path = self.tmp_path / f"{name}.db"
            if template:
                shutil.copyfile(sa.engine.make_url(template).database, path)
            return f"sqlite:///{path}"
        admin = _pg_admin_engine()
        with admin.connect() as connection:
            clause = f' TEMPLATE "{sa.engine.make_url(template).database}"' if template else ""
            connection.execute(sa.text(f'CREATE DATABASE "{name}"{clause}'))
        self.created.append(name)
        return _database_url(PG_ADMIN_URL, name)

    def engine(self, url: str, options=None) -> sa.engine.Engine:
        engine = create_db_engine(url, options)
        self.engines.append(engine)
        return engine

    def cleanup(self) -> None:
        for engine in self.engines:
            engine.dispose()
        if self.created:
            admin = _pg_admin_engine()
            with admin.connect() as connection:
                for name in self.created:
                    connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=DATABASE_KINDS)
def db_kind(request) -> str:
    return request.param


@pytest.fixture
def database_factory(db_kind, tmp_path):
    factory = DatabaseFactory(db_kind, tmp_path)
    yield factory
    factory.cleanup()


@pytest.fixture
def empty_db_url(database_factory) -> str:
    """A fresh, empty database (no tables) of the parametrised kind."""
    return database_factory.new_url()


_migrated_templates: dict[str, str] = {}


@pytest.fixture
def db_url(database_factory, tmp_path_factory) -> str:
    """A fresh database migrated to the latest revision (copied from a per-run template)."""
    from districtbench.db.migrations import upgrade

    kind = database_factory.kind
    if kind not in _migrated_templates:
        if kind == "sqlite":
            template_dir = tmp_path_factory.mktemp("template")
            template_url = f"sqlite:///{template_dir / 'template.db'}"
        else:
            template_factory = DatabaseFactory(kind, tmp_path_factory.mktemp("pg"))
            template_url = template_factory.new_url()
            _pg_status.setdefault("templates", []).append(template_factory)
        engine = create_db_engine(template_url)
        upgrade(engine)
        engine.dispose()
        _migrated_templates[kind] = template_url
    return database_factory.new_url(template=_migrated_templates[kind])


@pytest.fixture
def db_engine(db_url, database_factory) -> sa.engine.Engine:
    """An engine on a fresh migrated database."""
    return database_factory.engine(db_url)


def drop_template_databases() -> None:
    for factory in _pg_status.get("templates", []):
        factory.cleanup()
