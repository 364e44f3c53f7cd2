"""districtbench's own PostgreSQL schema: created before the revisions run, the version table
moved into it from an older installation, removed again when nothing of districtbench is left.

The revisions keep their tables there (`adoption.own_schema()`); Alembic's version table must
be there before Alembic reads it, so `migrations` calls `prepare` first. An installation of an
older districtbench has `districtbench_alembic_version` in the app's schema: `prepare` moves
it (revision 0003 moves the other bookkeeping tables). SQLite has no schemas: nothing to do.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from districtbench.db.engine import own_schema
from districtbench.db.revision import VERSION_TABLE
from districtbench.errors import ConfigurationError

CREATED_COMMENT = "created by districtbench for its own tables"


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def app_schema(connection: Connection) -> str | None:
    """The schema the app's tables are in (the first of the search path)."""
    if connection.dialect.name != "postgresql":
        return None
    return connection.execute(sa.text("SELECT current_schema()")).scalar()


def exists(connection: Connection, schema: str) -> bool:
    query = sa.text("SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = :name")
    return connection.execute(query, {"name": schema}).first() is not None


def legacy_version_table(connection: Connection) -> str | None:
    """The app's schema if it holds an older installation's version table (else None)."""
    schema, app = own_schema(connection), app_schema(connection)
    if schema is None or app is None or app == schema:
        return None
    inspector = sa.inspect(connection)
    if inspector.has_table(VERSION_TABLE, schema=app) and not inspector.has_table(VERSION_TABLE, schema=schema):
        return app
    return None


def prepare(connection: Connection) -> None:
    """Create the own schema if missing, move an older installation's version table in."""
    schema = own_schema(connection)
    if schema is None:
        return
    if schema == app_schema(connection):
        raise ConfigurationError(
            f"districtbench's own schema ({schema}) is the app's schema.",
            hint="Set another name in [database] schema of districtbench.toml (or DISTRICTBENCH_SCHEMA).",
        )
    if not exists(connection, schema):
        connection.execute(sa.text(f"CREATE SCHEMA {quoted(schema)}"))
        connection.execute(sa.text(f"COMMENT ON SCHEMA {quoted(schema)} IS '{CREATED_COMMENT}'"))
    legacy = legacy_version_table(connection)
    if legacy is not None:
        connection.execute(sa.text(f"ALTER TABLE {quoted(legacy)}.{VERSION_TABLE} SET SCHEMA {quoted(schema)}"))


def remove_if_unused(connection: Connection) -> None:
    """After a downgrade to nothing: drop the empty version table and the schema districtbench
    created, if nothing else is in it."""
    schema = own_schema(connection)
    inspector = sa.inspect(connection)
    if inspector.has_table(VERSION_TABLE, schema=schema):
        version = sa.table(VERSION_TABLE, sa.column("version_num"), schema=schema)
        if connection.execute(sa.select(version.c.version_num)).first() is None:
            connection.execute(sa.text(f"DROP TABLE {_qualified(schema, VERSION_TABLE)}"))
    if schema is None or not exists(connection, schema):
        return
    comment = connection.execute(
        sa.text("SELECT obj_description(oid, 'pg_namespace') FROM pg_catalog.pg_namespace WHERE nspname = :name"),
        {"name": schema},
    ).scalar()
    empty = connection.execute(
        sa.text("SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :name"),
        {"name": schema},
    ).scalar() == 0
    if comment == CREATED_COMMENT and empty:
        connection.execute(sa.text(f"DROP SCHEMA {quoted(schema)}"))


def _qualified(schema: str | None, name: str) -> str:
    return f"{quoted(schema)}.{quoted(name)}" if schema else quoted(name)
