"""Alembic environment of districtbench.

districtbench.db.migrations builds the Config in code and hands over an open connection in
`config.attributes["connection"]` (offline: `config.attributes["dialect_name"]`). Run as the
plain `alembic` command from a checkout, the database comes from districtbench's own settings
(--database-url is not available there: use DISTRICTBENCH_DATABASE_URL or .env).
Logging is left as the caller configured it (no fileConfig).
districtbench's own tables and the version table are in its own schema
(`config.attributes["own_schema"]`, default `districtbench`; none on SQLite); the app's tables
in the connection's search path.
"""

from alembic import context
from sqlalchemy.engine import make_url

from districtbench.db import tables
from districtbench.db.migrations import include_object
from districtbench.db.revision import VERSION_TABLE

config = context.config


def _options(dialect_name: str) -> dict:
    schema = None if dialect_name == "sqlite" else config.attributes.get("own_schema")
    return {
        "target_metadata": config.attributes.get("target_metadata") or tables.metadata,
        # a plugin's own branch has a version table of its own (db/plugin_migrations.py)
        "version_table": config.attributes.get("version_table") or VERSION_TABLE,
        "version_table_schema": schema,
        "include_schemas": schema is not None,
        "include_name": lambda name, type_, parents: type_ != "schema" or name in (None, schema),
        "render_as_batch": dialect_name == "sqlite",
        "include_object": config.attributes.get("include_object") or include_object,
        "compare_type": True,
        "compare_server_default": True,
    }


def _settings():
    from districtbench.config import resolve_settings

    return resolve_settings()


def run_migrations_offline() -> None:
    dialect_name = config.attributes.get("dialect_name") or make_url(_settings().database_url).get_backend_name()
    context.configure(dialect_name=dialect_name, literal_binds=True, **_options(dialect_name))
    with context.begin_transaction():
        context.run_migrations()


def _run_on(connection) -> None:
    context.configure(connection=connection, **_options(connection.dialect.name))
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    from districtbench.db import ownschema
    from districtbench.db.engine import DbOptions, create_db_engine, own_schema

    engine = create_db_engine(_settings().database_url, DbOptions.from_settings(_settings()))
    try:
        with engine.begin() as connection:
            config.attributes.setdefault("own_schema", own_schema(connection))
            ownschema.prepare(connection)
            _run_on(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
