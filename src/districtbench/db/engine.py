"""Opening the database: engines, reachability, and friendly errors with masked URLs.

Every engine carries districtbench's database options (`DbOptions`: the schema of its own
tables, configured column names, the roster columns it updates) as an execution option, so
any Engine or Connection made from it knows them (`options_of`), and translates the
placeholder schema of districtbench's own tables (`tables.OWN_SCHEMA`).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from districtbench.config import mask_text, mask_url
from districtbench.errors import ConfigurationError, DatabaseUnavailableError

DEFAULT_OWN_SCHEMA = "districtbench"
_OPTIONS_KEY = "districtbench_options"


@dataclass(frozen=True)
class DbOptions:
    """What districtbench needs to know about a database besides its URL (config.Settings).

    own_schema: PostgreSQL schema of districtbench's own tables (SQLite: the same file).
    columns: configured physical names, ((table, logical column, physical column), …).
    roster_columns: the `districts` columns a roster upsert overwrites on existing rows
        (None: all of them).
    """

    own_schema: str = DEFAULT_OWN_SCHEMA
    columns: tuple[tuple[str, str, str], ...] = ()
    roster_columns: tuple[str, ...] | None = None

    @classmethod
    def from_settings(cls, settings) -> "DbOptions":
        return cls(settings.own_schema, settings.column_overrides, settings.roster_columns)


def create_db_engine(url: str, options: DbOptions | None = None, **kwargs) -> Engine:
    """An engine for `url`. SQLite gets foreign keys on and a busy timeout, so it
    behaves like PostgreSQL in what it accepts and tolerates concurrent writers."""
    from districtbench.db.tables import OWN_SCHEMA

    options = options or DbOptions()
    parsed = make_url(url)
    check_driver(parsed, url)
    if parsed.get_backend_name() == "sqlite":
        kwargs.setdefault("connect_args", {"timeout": 60})
        engine = sa.create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        translated = None
    else:
        kwargs.setdefault("pool_pre_ping", True)
        kwargs.setdefault("connect_args", {"connect_timeout": 10, "application_name": "districtbench"})
        engine = sa.create_engine(url, **kwargs)
        translated = options.own_schema
    return engine.execution_options(schema_translate_map={OWN_SCHEMA: translated}, **{_OPTIONS_KEY: options})


def options_of(bind) -> DbOptions:
    """The DbOptions of an Engine or Connection (defaults for one not made here)."""
    return bind.get_execution_options().get(_OPTIONS_KEY) or DbOptions()


def own_schema(bind) -> str | None:
    """The real schema of districtbench's own tables on this database (None: SQLite's file)."""
    if bind.dialect.name == "sqlite":
        return None
    return options_of(bind).own_schema


def check_driver(parsed, url: str) -> None:
    """ConfigurationError unless the URL's driver is known, synchronous and installed
    (`postgresql+psycopg://` without psycopg raised a bare ModuleNotFoundError)."""
    driver = parsed.get_driver_name()
    prefix = "sqlite:///" if parsed.get_backend_name() == "sqlite" else "postgresql://"
    own_driver = f"Write the URL as {prefix}… to use the driver districtbench comes with"
    try:
        dialect = parsed.get_dialect()
    except sa.exc.NoSuchModuleError:
        raise ConfigurationError(
            f"The database URL {mask_url(url)} names the driver {driver!r}, which SQLAlchemy does not know.",
            hint=f"{own_driver}.",
        ) from None
    if dialect.is_async:
        raise ConfigurationError(
            f"The database URL {mask_url(url)} names the asynchronous driver {driver!r}; "
            "districtbench needs a synchronous one.",
            hint=f"{own_driver}.",
        )
    try:
        dialect.import_dbapi()
    except ImportError as exc:  # the dialect exists, its driver module does not
        module = exc.name or driver
        raise ConfigurationError(
            f"The database URL {mask_url(url)} names the driver {driver!r}, which is not installed "
            f"(no module {module!r}).",
            hint=f"{own_driver}, or install {module} (pip install {module}).",
        ) from None


def _sqlite_on_connect(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL with synchronous=NORMAL: a commit per backfill unit without an fsync each time,
    # still durable across a killed process (only an OS crash can lose the last commits).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def check_reachable(engine: Engine) -> None:
    """Open one connection, or raise DatabaseUnavailableError with a masked message."""
    url = engine.url.render_as_string(hide_password=False)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.DBAPIError as exc:
        detail = mask_text(str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc), url)
        raise DatabaseUnavailableError(
            f"Cannot connect to the database {mask_url(url)}: {detail}",
            hint=(
                "Check --database-url (or DISTRICTBENCH_DATABASE_URL / DIRECT_URL / DATABASE_URL) "
                "and that the database server is running."
            ),
        ) from None


def require_existing(url: str) -> None:
    """Raise DatabaseUnavailableError when `url` is a SQLite file that does not exist, so a
    command that only reads never creates an empty database file by connecting."""
    parsed = make_url(url)
    check_driver(parsed, url)  # an unusable driver is the first thing to say
    if parsed.get_backend_name() != "sqlite":
        return  # a PostgreSQL database that does not exist fails to connect, saying so
    path = parsed.database or ""
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    from pathlib import Path

    if not Path(path).exists():
        raise DatabaseUnavailableError(
            f"The database {mask_url(url)} does not exist (no file {Path(path).resolve()}).",
            hint=(
                "Run `districtbench run --years SPEC` (or `districtbench demo`) to create it, or point "
                "--database-url at an existing database."
            ),
        )
