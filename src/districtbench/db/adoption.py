"""Migration operations that create only what is missing and remember what they created.

districtbench shares its database with an application that may already have created some
of the tables (with more columns, foreign keys, data). The revisions therefore never issue a
plain CREATE/ADD: they look first, create what is absent, and write one row per object they
created into a small bookkeeping table. A downgrade undoes exactly those rows, so it never
drops anything that existed before districtbench touched the database.

Only used inside Alembic revisions (it works through `alembic.op`). In offline mode
(`migrate --sql`) there is no database to look at: everything counts as absent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from alembic import op

from districtbench.errors import NotMigratedError

BOOKKEEPING_TABLE = "districtbench_created_objects"

_bookkeeping = sa.table(
    BOOKKEEPING_TABLE,
    sa.column("id", sa.Integer),
    sa.column("revision", sa.String),
    sa.column("kind", sa.String),
    sa.column("table_name", sa.String),
    sa.column("name", sa.String),
)

# Values that fill a NOT NULL column without a default when it is added to a table
# that already has rows (PostgreSQL only; the default is removed right after).
_FILL_VALUES = {sa.DateTime: "CURRENT_TIMESTAMP", sa.Numeric: "0", sa.Integer: "0", sa.String: "''"}


@dataclass
class TableSpec:
    """One table as a revision defines it. Names of constraints and indexes are explicit,
    so a revision does not change when the models' naming convention changes."""

    name: str
    columns: list[sa.Column]
    primary_key: tuple[str, ...]
    foreign_keys: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (col, "t.c")
    uniques: dict[str, tuple[str, ...]] = field(default_factory=dict)
    indexes: dict[str, tuple[str, ...]] = field(default_factory=dict)


def offline() -> bool:
    return op.get_context().as_sql


def _inspector() -> sa.Inspector:
    return sa.inspect(op.get_bind())


def _is_sqlite() -> bool:
    return op.get_context().dialect.name == "sqlite"


# --- bookkeeping -----------------------------------------------------------------------


def create_bookkeeping() -> None:
    if not offline() and _inspector().has_table(BOOKKEEPING_TABLE):
        return
    op.create_table(
        BOOKKEEPING_TABLE,
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("revision", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("table_name", sa.String(63), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"{BOOKKEEPING_TABLE}_pkey"),
    )


def drop_bookkeeping() -> None:
    if offline() or _inspector().has_table(BOOKKEEPING_TABLE):
        op.drop_table(BOOKKEEPING_TABLE)


def record(revision: str, kind: str, table_name: str, name: str) -> None:
    op.execute(
        _bookkeeping.insert().values(revision=revision, kind=kind, table_name=table_name, name=name)
    )


def recorded(revision: str) -> list[tuple[str, str, str]]:
    """(kind, table, name) created by `revision`, newest first."""
    if offline():
        raise NotImplementedError("a downgrade needs the database: it undoes what was recorded there")
    if not _inspector().has_table(BOOKKEEPING_TABLE):
        return []
    query = (
        sa.select(_bookkeeping.c.kind, _bookkeeping.c.table_name, _bookkeeping.c.name)
        .where(_bookkeeping.c.revision == revision)
        .order_by(_bookkeeping.c.id.desc())
    )
    return [tuple(row) for row in op.get_bind().execute(query)]


def forget(revision: str) -> None:
    op.execute(_bookkeeping.delete().where(_bookkeeping.c.revision == revision))


# --- creating what is missing ----------------------------------------------------------


def ensure_table(revision: str, spec: TableSpec) -> None:
    """Create the table if absent; else add its missing columns, indexes and uniques."""
    if offline() or not _inspector().has_table(spec.name):
        _create_table(spec)
        record(revision, "table", spec.name, spec.name)
        return
    present = {c["name"] for c in _inspector().get_columns(spec.name)}
    missing_key = [name for name in spec.primary_key if name not in present]
    if missing_key:
        raise NotMigratedError(
            f"The existing table {spec.name!r} has no column {missing_key[0]!r} of its primary key; "
            "districtbench cannot adopt it.",
            hint="Rename the existing table or point districtbench at another database/schema.",
        )
    add_missing_columns(revision, spec.name, spec.columns)
    for name, columns in spec.indexes.items():
        if not _has_index(spec.name, columns):
            op.create_index(name, spec.name, list(columns))
            record(revision, "index", spec.name, name)
    for name, columns in spec.uniques.items():
        if _has_unique(spec.name, columns):
            continue
        if _is_sqlite():  # SQLite cannot ALTER TABLE ADD CONSTRAINT: a unique index does the job
            op.create_index(name, spec.name, list(columns), unique=True)
            record(revision, "index", spec.name, name)
        else:
            op.create_unique_constraint(name, spec.name, list(columns))
            record(revision, "unique", spec.name, name)


def _create_table(spec: TableSpec) -> None:
    constraints: list[sa.Constraint] = [
        sa.PrimaryKeyConstraint(*spec.primary_key, name=f"{spec.name}_pkey")
    ]
    for name, (column, target) in spec.foreign_keys.items():
        constraints.append(sa.ForeignKeyConstraint([column], [target], name=name))
    for name, columns in spec.uniques.items():
        constraints.append(sa.UniqueConstraint(*columns, name=name))
    op.create_table(spec.name, *spec.columns, *constraints)
    for name, columns in spec.indexes.items():
        op.create_index(name, spec.name, list(columns))


def add_missing_columns(revision: str, table_name: str, columns: list[sa.Column]) -> None:
    present = set() if offline() else {c["name"] for c in _inspector().get_columns(table_name)}
    for column in columns:
        if column.name in present:
            continue
        _add_column(table_name, column)
        record(revision, "column", table_name, column.name)


def _add_column(table_name: str, column: sa.Column) -> None:
    needs_fill = not column.nullable and column.server_default is None
    if not needs_fill or offline():
        op.add_column(table_name, column)
        return
    if _is_sqlite():
        raise NotMigratedError(
            f"Cannot add the NOT NULL column {table_name}.{column.name} to an existing SQLite table.",
            hint="Add the column by hand, or let districtbench create the table in a new database.",
        )
    fill = next(v for t, v in _FILL_VALUES.items() if isinstance(column.type, t))
    column.server_default = sa.DefaultClause(sa.text(fill))
    op.add_column(table_name, column)
    op.alter_column(table_name, column.name, server_default=None)


def _has_index(table_name: str, columns: tuple[str, ...]) -> bool:
    return any(tuple(ix["column_names"]) == columns for ix in _inspector().get_indexes(table_name))


def _has_unique(table_name: str, columns: tuple[str, ...]) -> bool:
    inspector = _inspector()
    wanted = set(columns)
    if set(inspector.get_pk_constraint(table_name)["constrained_columns"]) == wanted:
        return True
    uniques = [set(uq["column_names"]) for uq in inspector.get_unique_constraints(table_name)]
    uniques += [set(ix["column_names"]) for ix in inspector.get_indexes(table_name) if ix["unique"]]
    return wanted in uniques


# --- undoing ---------------------------------------------------------------------------


def undo(revision: str) -> None:
    """Drop what `revision` recorded creating, newest first, then forget the records."""
    for kind, table_name, name in recorded(revision):
        inspector = _inspector()
        if kind == "table" and inspector.has_table(name):
            op.drop_table(name)
        elif kind == "column" and name in {c["name"] for c in inspector.get_columns(table_name)}:
            op.drop_column(table_name, name)
        elif kind == "index" and name in {ix["name"] for ix in inspector.get_indexes(table_name)}:
            op.drop_index(name, table_name=table_name)
        elif kind == "unique":
            op.drop_constraint(name, table_name, type_="unique")
        elif kind == "row":  # name is "column=value" of the row's key
            key, _, value = name.partition("=")
            table = sa.table(table_name, sa.column(key, sa.String))
            op.execute(table.delete().where(table.c[key] == value))
    forget(revision)
