"""own schema: bookkeeping out of the app's schema, the app's column names, repaired adoptions

1. PostgreSQL: moves districtbench_created_objects and districtbench_fetch_units from the app's
   schema (where districtbench before this revision kept them) into districtbench's own schema,
   which the app's Prisma never looks at (migrations.upgrade has moved the version table
   already). A fresh database has them there from revision 0001 on.
2. Creates districtbench_column_map and records in it which of the app's columns stand for
   districtbench's renamed logical columns (db.layout).
3. Repairs what an older districtbench did to an app's tables:
   - where it added a column under the plan's old name beside the app's renamed one (e.g.
     district_data_history.poverty_pct beside poverty_percent), values the app's column lacks
     are copied into it and the old column — recorded as districtbench's — is dropped;
   - columns it added NOT NULL or with a default to a table it did not create become nullable
     without a default (PostgreSQL), so the app's own INSERTs work again.
Each table moved (the version table with them) is recorded as a `moved` row of the bookkeeping.
The downgrade drops the column map. It does not re-add the old columns or restore NOT NULL:
the older layout broke the app's writes. The tables it moved go back to the app's schema once
the whole downgrade is done (`migrations.downgrade`: the revisions below still read the
bookkeeping where it is now); a database that had them in districtbench's schema from 0001 on
(this districtbench created it) keeps them there.

Revision ID: 0003_own_schema
Revises: 0002_benchmarks
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from districtbench.db import adoption, layout
from districtbench.db.adoption import TableSpec
from districtbench.db.revision import VERSION_TABLE
from districtbench.db.timestamps import utcnow

revision = "0003_own_schema"
down_revision = "0002_benchmarks"
branch_labels = None
depends_on = None

TIMESTAMP = sa.dialects.postgresql.TIMESTAMP(precision=3)
MOVED = ("districtbench_created_objects", "districtbench_fetch_units")
APP_TABLES = ("states", "districts", "district_data_history", "data_refresh_logs")
MOVED_KIND = "moved"  # a bookkeeping row: (kind, table moved, the app's schema it was in)


def _column_map() -> TableSpec:
    return TableSpec(
        "districtbench_column_map",
        [
            sa.Column("table_name", sa.String(63), nullable=False),
            sa.Column("logical_name", sa.String(63), nullable=False),
            sa.Column("physical_name", sa.String(63), nullable=False),
            sa.Column("origin", sa.String(20), nullable=False),
            sa.Column("recorded_at", TIMESTAMP, nullable=False),
        ],
        primary_key=("table_name", "logical_name"),
    )


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _move_bookkeeping() -> list[tuple[str, str]]:
    """Move the older installation's bookkeeping; returns (table, the schema it was in)."""
    schema = adoption.own_schema()
    if schema is None or adoption.offline():
        return []
    inspector = sa.inspect(op.get_bind())
    app_schema = inspector.default_schema_name
    moved = []
    for name in MOVED:
        if inspector.has_table(name, schema=app_schema) and not inspector.has_table(name, schema=schema):
            op.execute(f"ALTER TABLE {_quoted(app_schema)}.{_quoted(name)} SET SCHEMA {_quoted(schema)}")
            moved.append((name, app_schema))
    if moved:  # that installation kept its version table there too (`ownschema.prepare` moved it)
        moved.append((VERSION_TABLE, app_schema))
    return moved


def _repair_old_names() -> None:
    ours = {(table, name) for kind, table, name in adoption.recorded() if kind == "column"}
    present = layout.physical_columns(op.get_bind())
    for (table, old), new in layout.KNOWN_RENAMES.items():
        columns = present.get(table, {})
        if old in columns and new in columns and (table, old) in ours:
            op.execute(
                f"UPDATE {_quoted(table)} SET {_quoted(new)} = {_quoted(old)} "
                f"WHERE {_quoted(new)} IS NULL AND {_quoted(old)} IS NOT NULL"
            )
            op.drop_column(table, old)
            adoption.forget_object("column", table, old)


def _relax_added_columns() -> None:
    if op.get_context().dialect.name != "postgresql":
        return  # SQLite never let an older districtbench add such a column (it refused)
    added = [(table, name) for kind, table, name in adoption.recorded() if kind == "column" and table in APP_TABLES]
    inspector = sa.inspect(op.get_bind())
    columns = {table: {c["name"]: c for c in inspector.get_columns(table)} for table in {t for t, _ in added}}
    for table, name in added:
        column = columns[table].get(name)
        if column is None or adoption.created_by_districtbench(table):
            continue
        if not column["nullable"]:
            op.alter_column(table, name, nullable=True)
        if column.get("default") is not None:
            op.alter_column(table, name, server_default=None)


def upgrade() -> None:
    moved = _move_bookkeeping()
    adoption.create_bookkeeping()
    for name, schema in moved:  # for a downgrade below this revision (module doc)
        adoption.record(revision, MOVED_KIND, name, schema)
    adoption.ensure_table(revision, _column_map())
    if adoption.offline():
        return
    _repair_old_names()
    _relax_added_columns()
    layout.record_mapping(op.get_bind(), layout.detect(op.get_bind()), utcnow())


def downgrade() -> None:
    adoption.undo(revision)
