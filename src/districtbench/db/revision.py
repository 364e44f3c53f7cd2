"""Which schema revision a database is at, read without Alembic.

Every command that uses the database first checks that its schema is at the latest revision.
Importing Alembic and parsing its revision scripts for that cost ~0.1 s of each command, so
the check reads the version table directly and compares it with `HEAD_REVISION`;
`migrations` (Alembic) is loaded only to change the schema or to explain a mismatch.
The version table is in districtbench's own schema (`engine.own_schema`; SQLite: the file).
A plugin's own migration branch (`plugin_migrations`) counts too: its version table against
its scripts' head (Alembic's script reading is needed only when a plugin registers a branch).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

if TYPE_CHECKING:
    from districtbench.db.plugin_migrations import BranchStatus, PluginMigrations

VERSION_TABLE = "districtbench_alembic_version"
# The newest script in alembic/versions; tests/test_migrations.py checks it against Alembic's head.
HEAD_REVISION = "0009_peers_without_rowid"


def stored_revisions(connection: Connection, version_table: str = VERSION_TABLE) -> list[str]:
    """The revisions in a version table (one when migrated; none when never migrated): the
    core's, or a plugin branch's (`PluginMigrations.version_table`)."""
    from districtbench.db.engine import own_schema

    schema = own_schema(connection)
    if not sa.inspect(connection).has_table(version_table, schema=schema):
        return []
    version = sa.table(version_table, sa.column("version_num"), schema=schema)
    return list(connection.execute(sa.select(version.c.version_num)).scalars())


def plugin_statuses(connection: Connection, plugins: Sequence[PluginMigrations]) -> list[BranchStatus]:
    """Where each registered plugin branch stands (none registered: no Alembic import)."""
    if not plugins:
        return []
    from districtbench.db import plugin_migrations

    return [plugin_migrations.status(connection, branch) for branch in plugins]


def at_head(engine: Engine, plugins: Sequence[PluginMigrations] = ()) -> bool:
    """THE answer to "is the schema current" (commands, `run`'s migrate-if-needed, prisma):
    the core at its latest revision and every registered plugin branch at its head.
    `migrations.require_current` explains a False."""
    with engine.connect() as connection:
        if stored_revisions(connection) != [HEAD_REVISION]:
            return False
        return all(branch.up_to_date for branch in plugin_statuses(connection, plugins))
