"""Migration operations that create only what is missing and remember what they created.

districtbench shares its database with an application that may already have created some
of the tables (with more columns, foreign keys, data). The revisions therefore never issue a
plain CREATE/ADD: they look first, create what is absent, and write one row per object they
created into a small bookkeeping table. A downgrade undoes exactly those rows, so it never
drops anything that existed before districtbench touched the database.

On a table districtbench did not create (an *adopted* table) it adds only nullable columns
without a default, under the app's name for each column (`db.layout`: a renamed column is
used, never added again), and no index, key or constraint: nothing the app's own writes
could trip, nothing `prisma migrate dev` does not learn from the fields `districtbench
prisma` prints. What it would have liked to add there is reported by `db.findings`.

districtbench's own tables (the bookkeeping, `districtbench_fetch_units`, …) go into its own
schema (`own_schema()`; SQLite: the same file).

Only used inside Alembic revisions (it works through `alembic.op`). In offline mode
(`migrate --sql` without a database) there is nothing to look at: everything counts as absent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from alembic import op

from districtbench.db import layout
from districtbench.db.engine import options_of
from districtbench.db.engine import own_schema as _own_schema_of
from districtbench.db.tables import OWN_TABLES, created_objects
from districtbench.errors import NotMigratedError

BOOKKEEPING_TABLE = created_objects.name


@dataclass
class TableSpec:
    """One table as a revision defines it. Names of constraints and indexes are explicit,
    so a revision does not change when the models' naming convention changes. A foreign key
    is created only if its target table is districtbench's own too (one to an app's table
    would stop the app from deleting its rows)."""

    name: str
    columns: list[sa.Column]
    primary_key: tuple[str, ...]
    foreign_keys: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (col, "t.c")
    uniques: dict[str, tuple[str, ...]] = field(default_factory=dict)
    indexes: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def schema(self) -> str | None:
        return own_schema() if self.name in OWN_TABLES else None


def offline() -> bool:
    return op.get_context().as_sql


def own_schema() -> str | None:
    """The real schema of districtbench's own tables in this migration (None: SQLite)."""
    context = op.get_context()
    if context.dialect.name == "sqlite":
        return None
    config = context.config
    if config is not None and config.attributes.get("own_schema"):
        return config.attributes["own_schema"]
    return _own_schema_of(op.get_bind())


def schema_of(table_name: str) -> str | None:
    return own_schema() if table_name in OWN_TABLES else None


def _inspector() -> sa.Inspector:
    return sa.inspect(op.get_bind())


def _is_sqlite() -> bool:
    return op.get_context().dialect.name == "sqlite"


def has_table(name: str) -> bool:
    return not offline() and _inspector().has_table(name, schema=schema_of(name))


def _bookkeeping() -> sa.TableClause:
    return sa.table(
        BOOKKEEPING_TABLE,
        sa.column("id", sa.Integer),
        sa.column("revision", sa.String),
        sa.column("kind", sa.String),
        sa.column("table_name", sa.String),
        sa.column("name", sa.String),
        schema=own_schema(),
    )


# --- bookkeeping -----------------------------------------------------------------------


def create_bookkeeping() -> None:
    if has_table(BOOKKEEPING_TABLE):
        return
    op.create_table(
        BOOKKEEPING_TABLE,
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("revision", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("table_name", sa.String(63), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"{BOOKKEEPING_TABLE}_pkey"),
        schema=own_schema(),
    )


def drop_bookkeeping() -> None:
    if offline() or has_table(BOOKKEEPING_TABLE):
        op.drop_table(BOOKKEEPING_TABLE, schema=own_schema())


def record(revision: str, kind: str, table_name: str, name: str) -> None:
    op.execute(
        _bookkeeping().insert().values(revision=revision, kind=kind, table_name=table_name, name=name)
    )


def recorded(revision: str | None = None) -> list[tuple[str, str, str]]:
    """(kind, table, name) created by `revision` (None: by any), newest first."""
    if offline():
        raise NotImplementedError("a downgrade needs the database: it undoes what was recorded there")
    if not has_table(BOOKKEEPING_TABLE):
        return []
    bookkeeping = _bookkeeping()
    query = sa.select(bookkeeping.c.kind, bookkeeping.c.table_name, bookkeeping.c.name).order_by(
        bookkeeping.c.id.desc()
    )
    if revision is not None:
        query = query.where(bookkeeping.c.revision == revision)
    return [tuple(row) for row in op.get_bind().execute(query)]


def forget(revision: str) -> None:
    bookkeeping = _bookkeeping()
    op.execute(bookkeeping.delete().where(bookkeeping.c.revision == revision))


def forget_object(kind: str, table_name: str, name: str) -> None:
    bookkeeping = _bookkeeping()
    op.execute(bookkeeping.delete().where(
        bookkeeping.c.kind == kind, bookkeeping.c.table_name == table_name, bookkeeping.c.name == name
    ))


def created_by_districtbench(table_name: str) -> bool:
    """Whether districtbench created the table (else it adopted the app's)."""
    if offline():
        return True  # a fresh database: it creates every table
    return any(kind == "table" and name == table_name for kind, _, name in recorded())


# --- creating what is missing ----------------------------------------------------------


def ensure_table(revision: str, spec: TableSpec) -> None:
    """Create the table if absent. On districtbench's own table, add what it lacks; on an
    adopted table only the missing columns, nullable (module doc)."""
    if not has_table(spec.name):
        _create_table(spec)
        record(revision, "table", spec.name, spec.name)
        return
    present = {c["name"] for c in _inspector().get_columns(spec.name, schema=spec.schema)}
    missing_key = [name for name in spec.primary_key if name not in present]
    if missing_key:
        raise NotMigratedError(
            f"The existing table {spec.name!r} has no column {missing_key[0]!r} of its primary key; "
            "districtbench cannot adopt it.",
            hint="Rename the existing table or point districtbench at another database/schema.",
        )
    add_missing_columns(revision, spec.name, spec.columns)
    if not created_by_districtbench(spec.name):
        return  # indexes and keys on the app's table: reported (db.findings), never added
    for name, columns in spec.indexes.items():
        if not _has_index(spec, columns):
            op.create_index(name, spec.name, list(columns), schema=spec.schema)
            record(revision, "index", spec.name, name)
    for name, columns in spec.uniques.items():
        if _has_unique(spec, columns):
            continue
        if _is_sqlite():  # SQLite cannot ALTER TABLE ADD CONSTRAINT: a unique index does the job
            op.create_index(name, spec.name, list(columns), unique=True)
            record(revision, "index", spec.name, name)
        else:
            op.create_unique_constraint(name, spec.name, list(columns), schema=spec.schema)
            record(revision, "unique", spec.name, name)


def _create_table(spec: TableSpec) -> None:
    constraints: list[sa.Constraint] = [
        sa.PrimaryKeyConstraint(*spec.primary_key, name=f"{spec.name}_pkey")
    ]
    for name, (column, target) in spec.foreign_keys.items():
        if offline() or created_by_districtbench(target.partition(".")[0]):
            constraints.append(sa.ForeignKeyConstraint([column], [target], name=name))
    for name, columns in spec.uniques.items():
        constraints.append(sa.UniqueConstraint(*columns, name=name))
    op.create_table(spec.name, *spec.columns, *constraints, schema=spec.schema)
    for name, columns in spec.indexes.items():
        op.create_index(name, spec.name, list(columns), schema=spec.schema)


def add_missing_columns(revision: str, table_name: str, columns: list[sa.Column]) -> None:
    """Add the columns the table has under no name (neither districtbench's nor the app's
    renamed one); on an adopted table, nullable and without a default."""
    schema = schema_of(table_name)
    present = {} if offline() else {
        c["name"]: c for c in _inspector().get_columns(table_name, schema=schema)
    }
    adopted = not created_by_districtbench(table_name)
    configured = {} if offline() else {(t, c): p for t, c, p in options_of(op.get_bind()).columns}
    recorded_names = {} if offline() or schema is not None else _recorded_mapping()
    for column in columns:
        if schema is None:  # an app's table: the app may have the column under its own name
            _, origin = layout.resolve(table_name, column.name, present, configured, recorded_names)
        else:
            origin = layout.PLAN if column.name in present else layout.MISSING
        if origin != layout.MISSING:
            continue
        if adopted:
            column = sa.Column(column.name, column.type, nullable=True)
        _add_column(table_name, column, schema)
        record(revision, "column", table_name, column.name)


def _recorded_mapping() -> dict[tuple[str, str], str]:
    return layout.recorded_mapping(op.get_bind())


def _add_column(table_name: str, column: sa.Column, schema: str | None) -> None:
    if not column.nullable and column.server_default is None and not offline() and _has_rows(table_name, schema):
        raise NotMigratedError(
            f"Cannot add the NOT NULL column {table_name}.{column.name} to a table that has rows.",
            hint="Empty the table, or add the column by hand.",
        )
    op.add_column(table_name, column, schema=schema)


def _has_rows(table_name: str, schema: str | None) -> bool:
    table = sa.table(table_name, schema=schema)
    return op.get_bind().execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first() is not None


def _has_index(spec: TableSpec, columns: tuple[str, ...]) -> bool:
    indexes = _inspector().get_indexes(spec.name, schema=spec.schema)
    return any(tuple(ix["column_names"]) == columns for ix in indexes)


def _has_unique(spec: TableSpec, columns: tuple[str, ...]) -> bool:
    inspector = _inspector()
    wanted = set(columns)
    if set(inspector.get_pk_constraint(spec.name, schema=spec.schema)["constrained_columns"]) == wanted:
        return True
    uniques = [set(uq["column_names"]) for uq in inspector.get_unique_constraints(spec.name, schema=spec.schema)]
    uniques += [set(ix["column_names"]) for ix in inspector.get_indexes(spec.name, schema=spec.schema) if ix["unique"]]
    return wanted in uniques


# --- undoing ---------------------------------------------------------------------------


def undo(revision: str) -> None:
    """Drop what `revision` recorded creating, newest first, then forget the records."""
    for kind, table_name, name in recorded(revision):
        inspector = _inspector()
        schema = schema_of(table_name)
        if kind == "table" and inspector.has_table(name, schema=schema_of(name)):
            op.drop_table(name, schema=schema_of(name))
        elif kind == "column" and name in {c["name"] for c in inspector.get_columns(table_name, schema=schema)}:
            op.drop_column(table_name, name, schema=schema)
        elif kind == "index" and name in {ix["name"] for ix in inspector.get_indexes(table_name, schema=schema)}:
            op.drop_index(name, table_name=table_name, schema=schema)
        elif kind == "unique":
            op.drop_constraint(name, table_name, type_="unique", schema=schema)
        elif kind == "row":  # name is "column=value" of the row's key
            key, _, value = name.partition("=")
            table = sa.table(table_name, sa.column(key, sa.String))
            op.execute(table.delete().where(table.c[key] == value))
    forget(revision)
