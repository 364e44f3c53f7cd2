"""Which schema revision a database is at, read without Alembic.

Every command that uses the database first checks that its schema is at the latest revision.
Importing Alembic and parsing its revision scripts for that cost ~0.1 s of each command, so
the check reads the version table directly and compares it with `HEAD_REVISION`;
`migrations` (Alembic) is loaded only to change the schema or to explain a mismatch.
The version table is in districtbench's own schema (`engine.own_schema`; SQLite: the file).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

VERSION_TABLE = "districtbench_alembic_version"
# The newest script in alembic/versions; tests/test_migrations.py checks it against Alembic's head.
HEAD_REVISION = "0007_figure_sources"


def stored_revisions(connection: Connection) -> list[str]:
    """The revisions in the version table (one when migrated; none when never migrated)."""
    from districtbench.db.engine import own_schema

    schema = own_schema(connection)
    if not sa.inspect(connection).has_table(VERSION_TABLE, schema=schema):
        return []
    version = sa.table(VERSION_TABLE, sa.column("version_num"), schema=schema)
    return list(connection.execute(sa.select(version.c.version_num)).scalars())


def at_head(engine: Engine) -> bool:
    """THE answer to "is the schema current" (commands, `run`'s migrate-if-needed, prisma);
    `migrations.require_current` explains a False."""
    with engine.connect() as connection:
        return stored_revisions(connection) == [HEAD_REVISION]
