"""Schema management: the Alembic revisions, run in code on an open connection.

The Alembic `Config` is built here (no alembic.ini needed, logging left alone) and receives
the connection through `cfg.attributes["connection"]` (Alembic cookbook). The scripts come
from the repository's `alembic/` in a checkout, else from the wheel's `districtbench/_alembic`.

Each upgrade or downgrade is one transaction. Before Alembic runs, districtbench's own schema
is created and an older installation's version table moved into it (`ownschema.prepare`).
With `dry_run=True` the same work runs, its statements are recorded (`dryrun`), and the
transaction is rolled back: that is `migrate --sql` and the preview of `--downgrade`.
"""

from __future__ import annotations

import io
import re
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Sequence

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import Connection, Engine, make_url

import districtbench
from districtbench.config import mask_text
from districtbench.db import findings, layout, ownschema, plugin_migrations, tables
from districtbench.db.plugin_migrations import PluginMigrations
from districtbench.db.dryrun import StatementRecorder
from districtbench.db.migration_report import MigrationReport, recorded_moves, recorded_rows, snapshot
from districtbench.db.engine import own_schema
from districtbench.db.revision import VERSION_TABLE, at_head, plugin_statuses
from districtbench.db.timestamps import utcnow
from districtbench.errors import ConfigurationError, DistrictbenchError, NotMigratedError, UsageError

_LOCK_KEY = 0x6469737462656E63  # "distbenc": serialises concurrent `migrate` runs on PostgreSQL


class MigrationFailedError(DistrictbenchError):
    """The database refused a migration statement (nothing of that run is kept on PostgreSQL)."""

    exit_code = 1


def script_location() -> Path:
    """The repository's alembic/ in a checkout or editable install, else the packaged copy."""
    package = Path(districtbench.__file__).resolve().parent
    checkout = package.parents[1]
    if package.parent.name == "src" and (checkout / "alembic" / "env.py").is_file():
        return checkout / "alembic"
    packaged = package / "_alembic"
    if (packaged / "env.py").is_file():
        return packaged
    raise ConfigurationError(
        "The districtbench migration scripts are missing from this installation.",
        hint="Reinstall districtbench (the wheel carries them as districtbench/_alembic).",
    )


def alembic_config(*, connection: Connection | None = None, dialect_name: str | None = None,
                   output: io.StringIO | None = None, own_schema_name: str | None = None) -> Config:
    cfg = Config(output_buffer=output, stdout=io.StringIO())  # alembic chatter stays off stdout
    cfg.set_main_option("script_location", str(script_location()).replace("%", "%%"))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["connection"] = connection
    cfg.attributes["dialect_name"] = dialect_name
    if connection is not None:
        own_schema_name = own_schema(connection)
    cfg.attributes["own_schema"] = own_schema_name if (dialect_name or "") != "sqlite" else None
    return cfg


@lru_cache(maxsize=1)
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    return _scripts().get_current_head()


def revisions() -> list[tuple[str, str]]:
    """(revision id, short name), oldest first: [("0001_base", "base"), …]."""
    scripts = reversed(list(_scripts().walk_revisions()))
    return [(s.revision, (s.doc or "").partition(":")[0].strip()) for s in scripts]


def _current(connection: Connection) -> str | None:
    """The revision in the version table: in districtbench's schema, or where an older
    installation kept it (the app's schema) until `migrate` moves it."""
    schema = ownschema.legacy_version_table(connection) or own_schema(connection)
    opts = {"version_table": VERSION_TABLE, "version_table_schema": schema}
    return MigrationContext.configure(connection, opts=opts).get_current_revision()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return _current(connection)


def _masked(engine_or_connection) -> str:
    return engine_or_connection.engine.url.render_as_string(hide_password=True)


def require_current(engine: Engine, plugins: Sequence[PluginMigrations] = ()) -> None:
    """Raise NotMigratedError unless the schema is at the latest revision and every plugin
    branch in `plugins` at its head; the message says which is behind."""
    if at_head(engine, plugins):
        return
    current, head = current_revision(engine), head_revision()
    database = _masked(engine)
    hint = "Run `districtbench migrate` first."
    if current is None:
        with engine.connect() as connection:
            present = set(sa.inspect(connection).get_table_names()) & set(tables.APP_TABLES)
        state = "has tables districtbench can adopt" if present else "has no districtbench schema"
        raise NotMigratedError(f"The database {database} {state} (no schema revision).", hint=hint)
    if current not in {rev for rev, _ in revisions()}:
        raise _unknown_revision(database, current)
    if current != head:
        raise NotMigratedError(
            f"The database {database} is at the older schema revision {current} (latest: {head}).",
            hint=hint,
        )
    _require_plugins_current(engine, database, plugins)


def _require_plugins_current(engine: Engine, database: str, plugins: Sequence[PluginMigrations]) -> None:
    with engine.connect() as connection:
        behind = [branch for branch in plugin_statuses(connection, plugins) if not branch.up_to_date]
    unknown = [branch for branch in behind if not branch.known]
    if unknown:
        listed = "; ".join(f"{branch.name} is at {branch.current}, latest known {branch.head}" for branch in unknown)
        raise ConfigurationError(
            f"The database {database} has plugin tables migrated by a newer version of the plugin ({listed}).",
            hint="Upgrade the plugin, or take its branch back with the newer version "
                 "(`districtbench migrate --downgrade REV --plugin NAME`).",
        )
    if behind:
        listed = "; ".join(f"plugin {branch.name} at {branch.current or 'none (its tables are missing)'}, "
                           f"latest {branch.head}, pending {', '.join(branch.pending)}" for branch in behind)
        raise NotMigratedError(
            f"The database {database} is not migrated for its plugins' tables: {listed}.",
            hint="Run `districtbench migrate` first (it upgrades every plugin branch after the core).",
        )


def _unknown_revision(database: str, current: str) -> ConfigurationError:
    return ConfigurationError(
        f"The database {database} is at schema revision {current}, which this version of "
        "districtbench does not know (a newer districtbench migrated it).",
        hint="Upgrade districtbench.",
    )


class _RolledBack(Exception):
    """Ends a dry run: the transaction is rolled back."""


@contextmanager
def _migration(engine: Engine, *, dry_run: bool = False) -> Iterator[tuple[Connection, Config, StatementRecorder | None]]:
    """One transaction, one Alembic config on it; database errors become typed errors.
    A dry run records the statements and rolls the transaction back at the end."""
    url = engine.url.render_as_string(hide_password=False)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
                _ensure_search_path_schema(connection)
            elif not connection.connection.dbapi_connection.in_transaction:
                # pysqlite would run DDL outside any transaction: make the whole run atomic
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            recorder = StatementRecorder(connection) if dry_run else None
            try:
                yield connection, alembic_config(connection=connection), recorder
            finally:
                if recorder is not None:
                    recorder.close()
            if dry_run:
                raise _RolledBack
    except _RolledBack:
        pass
    except sa.exc.DBAPIError as exc:
        detail = str(exc.orig if exc.orig is not None else exc).strip().splitlines()[0]
        raise MigrationFailedError(
            f"Migrating {_masked(engine)} failed: {mask_text(detail, url)}",
            hint="No change of this run was kept on PostgreSQL; fix the cause and run it again.",
        ) from None
    finally:
        layout.forget(engine)


def _ensure_search_path_schema(connection: Connection) -> None:
    """`?schema=app` (Prisma) becomes the search path; create that schema if it is missing."""
    if connection.execute(sa.text("SELECT current_schema()")).scalar() is not None:
        return
    first = connection.execute(sa.text("SHOW search_path")).scalar().split(",")[0].strip().strip('"')
    if first and first != "$user":
        connection.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{first}"'))


def upgrade(engine: Engine, revision: str = "head", *, dry_run: bool = False,
            plugins: Sequence[PluginMigrations] = ()) -> MigrationReport:
    """Upgrade to `revision` (default: the latest); report what was created or adopted, the
    app's column names in use and what stands in the way of districtbench's writes.
    `plugins`: the plugins' own branches, each upgraded to its head after the core's head
    (`db.plugin_migrations`; `report.plugins` says what each did).
    `dry_run`: do it all, record the SQL in `report.statements`, keep nothing."""
    report = None
    with _migration(engine, dry_run=dry_run) as (connection, cfg, recorder):
        start = _current(connection)
        if start is not None and start not in {rev for rev, _ in revisions()}:
            raise _unknown_revision(_masked(engine), start)
        before = snapshot(connection)
        ownschema.prepare(connection)
        try:
            command.upgrade(cfg, revision)
        except CommandError as exc:
            raise UsageError(f"Cannot upgrade to {revision!r}: {exc}", hint=_known_hint()) from None
        end = _current(connection)
        if end == head_revision():  # a changed [columns] configuration is recorded too
            layout.record_mapping(connection, layout.detect(connection), utcnow())
        after = snapshot(connection)
        branches = [plugin_migrations.run(connection, cfg, branch) for branch in plugins] if end == head_revision() else []
        report = MigrationReport.compare(_masked(engine), start, end, before, after)
        report.plugins = branches
        current = layout.build(connection)
        report.renamed = current.renamed()
        report.findings = findings.inspect(connection, current)
        if recorder is not None:
            report.statements = list(recorder.statements)
    return report


def downgrade_plugin(engine: Engine, branch: PluginMigrations, revision: str, *, dry_run: bool = False):
    """Take a plugin's own branch back to `revision` (one of its ids, `-N`, or `base`: its
    tables dropped); the core's schema is left as it is. Returns its BranchReport."""
    with _migration(engine, dry_run=dry_run) as (connection, cfg, recorder):
        report = plugin_migrations.run(connection, cfg, branch, revision, downgrade=True)
    return report


def downgrade(engine: Engine, revision: str, *, dry_run: bool = False) -> MigrationReport:
    """Go back to `revision` (an id or unique prefix, `base`, or `-N`); report what was dropped.
    `dry_run`: report it (and the SQL) without keeping anything."""
    validate_revision(revision)
    report = None
    with _migration(engine, dry_run=dry_run) as (connection, cfg, recorder):
        before, start = snapshot(connection), _current(connection)
        ownschema.prepare(connection)
        rows, moves = recorded_rows(connection), recorded_moves(connection)
        try:
            command.downgrade(cfg, revision)
        except CommandError as exc:
            raise UsageError(
                f"Cannot downgrade from {start or 'an empty schema'} to {revision!r}: {exc}",
                hint=_known_hint(),
            ) from None
        end = _current(connection)
        remaining = recorded_rows(connection)
        moved = _move_bookkeeping_back(connection, end, moves)
        if end is None or moved:
            ownschema.remove_if_unused(connection)
        report = MigrationReport.compare(_masked(engine), start, end, before, snapshot(connection))
        report.moved_back = moved
        report.removed_rows = [row for row in rows if row not in remaining]
        if recorder is not None:
            report.statements = list(recorder.statements)
    return report


_OWN_SCHEMA_REVISION = "0003_own_schema"


def _move_bookkeeping_back(connection: Connection, end: str | None, moves: list[tuple[str, str]]) -> list[str]:
    """Below revision 0003, what 0003 moved out of the app's schema (`moves`: table, schema)
    goes back there, for the older districtbench that keeps it there; "table → schema" each.
    A table of that name there already is never overwritten (it stays where it is)."""
    order = [rev for rev, _ in revisions()]
    if end is None or not moves or order.index(end) >= order.index(_OWN_SCHEMA_REVISION):
        return []
    schema, inspector, moved = own_schema(connection), sa.inspect(connection), []
    for name, app in moves:
        if inspector.has_table(name, schema=schema) and not inspector.has_table(name, schema=app):
            connection.execute(sa.text(f"ALTER TABLE {ownschema.quoted(schema)}.{ownschema.quoted(name)} "
                                       f"SET SCHEMA {ownschema.quoted(app)}"))
            moved.append(f"{name} → {app}")
    return moved


def _known_hint() -> str:
    listed = ", ".join(f"{rev} ({doc})" for rev, doc in revisions())
    return f"Known revisions, oldest first: {listed}; or `base` (empty) or -N (N steps back)."


def validate_revision(revision: str) -> None:
    """Raise UsageError (listing the known revisions) unless `revision` names a target."""
    if revision == "base" or re.fullmatch(r"-[1-9][0-9]*", revision):
        return
    try:
        found = _scripts().get_revision(revision) if revision else None
    except CommandError:
        found = None
    if found is None:
        raise UsageError(f"Unknown revision {revision!r}.", hint=_known_hint())


def upgrade_sql(url: str, own_schema_name: str = "districtbench") -> str:
    """The DDL of a full upgrade of a fresh, empty database of the URL's kind, without
    connecting to it."""
    try:
        dialect_name = make_url(url).get_backend_name()
    except sa.exc.ArgumentError as exc:
        raise ConfigurationError(f"Cannot read the database URL: {mask_text(str(exc), url)}") from None
    output = io.StringIO()
    cfg = alembic_config(dialect_name=dialect_name, output=output, own_schema_name=own_schema_name)
    if dialect_name != "sqlite":
        output.write(f"CREATE SCHEMA IF NOT EXISTS {ownschema.quoted(own_schema_name)};\n\n")
    command.upgrade(cfg, "head", sql=True)
    return output.getvalue()


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """What autogenerate/check compares: our tables and columns, not the app's extras."""
    if type_ == "table":
        return name in tables.APP_TABLES or name in tables.OWN_TABLES
    if reflected and compare_to is None:
        return False  # a column, index or key the application added: not ours to judge
    return True


def translated_metadata(schema: str | None) -> sa.MetaData:
    """The models with districtbench's own tables in `schema` (what autogenerate compares)."""
    metadata = sa.MetaData(naming_convention=tables.NAMING_CONVENTION)
    for table in tables.metadata.sorted_tables:
        table.to_metadata(metadata, schema=schema if table.schema == tables.OWN_SCHEMA else table.schema)
    return metadata


def check(engine: Engine) -> None:
    """Raise NotMigratedError if the database's tables differ from the models (alembic check)."""
    with engine.connect() as connection:
        try:
            cfg = alembic_config(connection=connection)
            cfg.attributes["target_metadata"] = translated_metadata(own_schema(connection))
            command.check(cfg)
        except CommandError as exc:
            raise NotMigratedError(
                f"The schema of {_masked(engine)} differs from districtbench's models: {exc}",
                hint="Run `districtbench migrate`; if it is up to date, a revision is missing.",
            ) from None
