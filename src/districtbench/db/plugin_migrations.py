"""A plugin's own tables: its own Alembic branch, run by `districtbench migrate` after the core.

A plugin registers `PluginMigrations(name, directory)` (hook `register_migrations`): a folder
of Alembic revision scripts, the first with `down_revision = None` and `branch_labels =
(name,)`. `migrations.upgrade` runs every registered branch to its head after the core's
revisions, in the same transaction (a failure keeps nothing of either), through the core's
`env.py` with the plugin's folder as the only `version_locations` and a version table of its
own, `districtbench_alembic_version_<name>`, in districtbench's own schema — so the core's
version table keeps its one row, `at_head` is unaffected, and a plugin removed later leaves
the core's migrations working. Its tables go into districtbench's own schema
(`plugin_api.own_schema()` in the scripts; SQLite: the same file): a branch that creates a
table in the app's schema, or changes one of the app's tables, is refused and rolled back.
The report says, per branch, the revisions it went through and the tables it created or
dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from typing import TYPE_CHECKING

from districtbench.db.revision import VERSION_TABLE
from districtbench.errors import PluginError

if TYPE_CHECKING:  # pragma: no cover — Alembic and SQLAlchemy are imported when a branch runs
    from alembic.config import Config

    from districtbench.db.migration_report import BranchReport
    from sqlalchemy.engine import Connection

NAME = re.compile(r"[a-z][a-z0-9_]{0,29}")


@dataclass(frozen=True)
class PluginMigrations:
    """name: the branch label (lower case, digits, `_`); directory: its revision scripts."""

    name: str
    directory: Path

    @property
    def version_table(self) -> str:
        return f"{VERSION_TABLE}_{self.name}"


def _validated(branch: PluginMigrations) -> Path:
    directory = Path(branch.directory)
    if not NAME.fullmatch(branch.name or ""):
        raise PluginError(f"Plugin migration branch {branch.name!r}: the name must be lower case letters, digits "
                          "and _, starting with a letter, at most 30 characters.")
    if not directory.is_dir():
        raise PluginError(f"Plugin migration branch {branch.name!r}: {directory} is not a folder.")
    return directory


def _config(base: "Config", branch: PluginMigrations) -> "Config":
    from alembic.config import Config

    directory = _validated(branch)
    cfg = Config(output_buffer=base.output_buffer, stdout=base.stdout)
    cfg.set_main_option("script_location", base.get_main_option("script_location"))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", str(directory).replace("%", "%%"))
    cfg.attributes.update(base.attributes)
    cfg.attributes["version_table"] = branch.version_table
    return cfg


def _scripts(branch: PluginMigrations):
    """The branch's revision scripts (Alembic's ScriptDirectory), checked to be one chain."""
    from alembic.script import ScriptDirectory

    directory = _validated(branch)
    scripts = ScriptDirectory(str(directory), version_locations=[str(directory)])
    roots = [script for script in scripts.walk_revisions() if script.down_revision is None]
    if len(roots) != 1 or branch.name not in (roots[0].branch_labels or ()):
        raise PluginError(
            f"Plugin migration branch {branch.name!r}: its folder must hold one chain of revisions whose first "
            f"has down_revision = None and branch_labels = ({branch.name!r},).",
        )
    return scripts


@dataclass(frozen=True)
class BranchStatus:
    """Where one plugin branch stands: its revision in the database, its head, and the
    revisions `migrate` would run (oldest first). `known`: the database's revision is one of
    the branch's scripts (False: a newer version of the plugin migrated it)."""

    name: str
    current: str | None
    head: str
    pending: tuple[str, ...]
    known: bool = True

    @property
    def up_to_date(self) -> bool:
        return self.known and not self.pending

    def line(self) -> str:
        """`plugin NAME: current REV, latest REV, pending REV, REV` (`migrate --status`)."""
        if not self.known:
            state = "unknown to the installed plugin"
        else:
            state = f"pending {', '.join(self.pending)}" if self.pending else "up to date"
        return f"plugin {self.name}: current {self.current or 'none'}, latest {self.head}, {state}"


def status(connection: "Connection", branch: PluginMigrations) -> BranchStatus:
    """Read the branch's version table (no Alembic run) and compare it with its scripts."""
    from alembic.util import CommandError

    from districtbench.db.revision import stored_revisions

    scripts = _scripts(branch)
    try:
        head = scripts.get_current_head()
    except CommandError as exc:
        raise PluginError(f"Plugin migration branch {branch.name!r}: {exc}") from None
    stored = stored_revisions(connection, branch.version_table)
    current = stored[0] if stored else None
    chain = [script.revision for script in scripts.walk_revisions("base", head)]  # newest first
    if current is not None and current not in chain:
        return BranchStatus(branch.name, current, head, (), known=False)
    newer = chain[:chain.index(current)] if current is not None else chain
    return BranchStatus(branch.name, current, head, tuple(reversed(newer)))


def current(connection: "Connection", branch: PluginMigrations) -> str | None:
    from alembic.runtime.migration import MigrationContext

    from districtbench.db.engine import own_schema

    opts = {"version_table": branch.version_table, "version_table_schema": own_schema(connection)}
    return MigrationContext.configure(connection, opts=opts).get_current_revision()


def _tables(connection: "Connection") -> dict[str | None, set[str]]:
    """Table names per schema: the app's (the search path's first) and districtbench's own."""
    import sqlalchemy as sa

    from districtbench.db.engine import own_schema

    inspector = sa.inspect(connection)
    schemas = [None] + ([own_schema(connection)] if connection.dialect.name == "postgresql" else [])
    return {schema: set(inspector.get_table_names(schema=schema)) for schema in schemas}


def _app_columns(connection: "Connection") -> dict[str, list[str]]:
    import sqlalchemy as sa

    from districtbench.db import tables

    inspector = sa.inspect(connection)
    present = set(inspector.get_table_names())
    return {name: [c["name"] for c in inspector.get_columns(name)] for name in tables.APP_TABLES if name in present}


def run(connection: "Connection", base: "Config", branch: PluginMigrations, target: str = "heads",
        downgrade: bool = False) -> "BranchReport":
    """Upgrade the branch to `target` (or downgrade it to `target`) on the open connection."""
    from alembic import command
    from alembic.util import CommandError

    from districtbench.db.migration_report import BranchReport

    cfg = _config(base, branch)
    _scripts(branch)
    before, columns, start = _tables(connection), _app_columns(connection), current(connection, branch)
    try:
        (command.downgrade if downgrade else command.upgrade)(cfg, target)
    except CommandError as exc:
        raise PluginError(f"Plugin migration branch {branch.name!r}: {exc}") from None
    after = _tables(connection)
    # PostgreSQL: nothing new in the app's schema; SQLite (one file): the app's tables unchanged
    app_tables = after[None] - before[None] if connection.dialect.name == "postgresql" else set()
    if app_tables or _app_columns(connection) != columns:
        what = f"created {', '.join(sorted(app_tables))} among the app's tables" if app_tables else "changed the app's tables"
        raise PluginError(f"Plugin migration branch {branch.name!r} {what}; nothing was migrated.",
                          hint="A plugin's tables go into districtbench's own schema: "
                               "op.create_table(..., schema=plugin_api.own_schema()).")
    created = sorted(name for schema in after for name in after[schema] - before.get(schema, set())
                     if name != branch.version_table)
    dropped = sorted(name for schema in before for name in before[schema] - after.get(schema, set())
                     if name != branch.version_table)
    return BranchReport(branch.name, start, current(connection, branch), created, dropped)
