"""Before a backfill or run fetches anything: can this database role write what it will write?

A role that may only read would otherwise fetch for minutes and then fail every unit on its
first INSERT; a table whose unique key or NOT NULL columns make districtbench's writes fail
(`db.findings`) likewise. `check` raises one clear error (exit 2) instead.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from districtbench.db import findings, layout, tables
from districtbench.db.engine import own_schema
from districtbench.errors import DistrictbenchError

INSERT, UPDATE = "INSERT", "UPDATE"

# What each kind of work writes: table -> privileges.
BACKFILL_WRITES = {
    "districts": (INSERT, UPDATE),
    "district_data_history": (INSERT, UPDATE),
    "data_refresh_logs": (INSERT,),
    tables.fetch_units.name: (INSERT, UPDATE),
}
COMPUTE_WRITES = {
    "districts": (UPDATE,),
    "states": (UPDATE,),
    "data_refresh_logs": (INSERT,),
}


class CannotWriteError(DistrictbenchError):
    """The database role may not write a table districtbench writes, or the table refuses its rows."""


def check(engine: Engine, *, backfill: bool = True, compute: bool = False, roster: bool = True) -> None:
    """Raise CannotWriteError if the work cannot be written (module doc). `roster`: the
    backfill includes directory sources (which write `districts`)."""
    needed: dict[str, set[str]] = {}
    for wanted, writes in ((backfill, BACKFILL_WRITES), (compute, COMPUTE_WRITES)):
        if wanted:
            for table, privileges in writes.items():
                needed.setdefault(table, set()).update(privileges)
    if backfill and not roster and not compute:
        needed.pop("districts", None)
    if engine.dialect.name == "sqlite":
        _check_sqlite_file(engine)
    with engine.connect() as connection:
        t = layout.of(connection)
        if connection.dialect.name == "postgresql":
            _check_privileges(connection, t, needed)
        inserted = [name for name, privileges in needed.items() if INSERT in privileges and name in tables.APP_TABLES]
        problems = [f for f in findings.inspect(connection, t, inserted) if f.level == findings.ERROR]
    if problems:
        first = problems[0]
        more = f" ({len(problems) - 1} more: run `districtbench migrate` to see them all)" if len(problems) > 1 else ""
        raise CannotWriteError(first.message.rstrip(":") + more + ".",
                               hint="\n".join(first.statements) or "Fix the table, then run the command again.")


def _check_privileges(connection: Connection, t: layout.Layout, needed: dict[str, set[str]]) -> None:
    role = connection.execute(sa.text("SELECT current_user")).scalar()
    for table, privileges in needed.items():
        qualified = _qualified(connection, table)
        if connection.execute(sa.text("SELECT to_regclass(:t)"), {"t": qualified}).scalar() is None:
            continue  # not migrated: the schema check says so
        columns = [c.name for c in t.table(table).c] if table in tables.APP_TABLES else None
        missing = [p for p in sorted(privileges) if not _may(connection, qualified, p, columns)]
        sequence = _serial_sequence(connection, qualified) if INSERT in privileges else None
        if sequence and not connection.execute(
            sa.text("SELECT has_sequence_privilege(:s, 'USAGE')"), {"s": sequence}
        ).scalar():
            missing.append(f"USAGE on its sequence {sequence}")
        if missing:
            grant = ", ".join(p for p in missing if not p.startswith("USAGE"))
            shown = qualified.replace('"', "")
            hint = f"Grant it (GRANT {grant} ON {shown} TO {role};) or connect as a role that may write."
            if not grant:
                hint = f"Grant it (GRANT USAGE ON SEQUENCE {sequence} TO {role};) or connect as a role that may write."
            raise CannotWriteError(
                f"This role ({role}) cannot write table {table}: it lacks {' and '.join(missing)}.", hint=hint
            )


def _may(connection: Connection, qualified: str, privilege: str, columns: list[str] | None) -> bool:
    """Table-level privilege, or (for the app's tables) the privilege on every column written."""
    query = sa.text("SELECT has_table_privilege(:t, :p)")
    if connection.execute(query, {"t": qualified, "p": privilege}).scalar():
        return True
    if not columns:
        return False
    by_column = sa.text("SELECT bool_and(has_column_privilege(:t, c, :p)) FROM unnest(CAST(:columns AS text[])) AS c")
    return bool(connection.execute(by_column, {"t": qualified, "p": privilege, "columns": columns}).scalar())


def _serial_sequence(connection: Connection, qualified: str) -> str | None:
    """The sequence of the table's serial `id` (identity columns need no privilege on theirs)."""
    query = sa.text(
        "SELECT pg_get_serial_sequence(:t, a.attname) FROM pg_catalog.pg_attribute a "
        "WHERE a.attrelid = to_regclass(:t) AND a.attname = 'id' AND a.attidentity = '' AND NOT a.attisdropped"
    )
    return connection.execute(query, {"t": qualified}).scalar()


def _qualified(connection: Connection, table: str) -> str:
    if table in tables.APP_TABLES:
        return f'"{table}"'
    return f'"{own_schema(connection)}"."{table}"'


def _check_sqlite_file(engine: Engine) -> None:
    path = engine.url.database
    if not path or path == ":memory:" or not os.path.exists(path):
        return
    folder = os.path.dirname(os.path.abspath(path))
    if not os.access(path, os.W_OK) or not os.access(folder, os.W_OK):
        which = path if not os.access(path, os.W_OK) else f"the folder {folder} (SQLite writes a journal beside it)"
        raise CannotWriteError(
            f"Cannot write the SQLite database {path}: no write permission on {which}.",
            hint="Make it writable, or point --database-url at a database you can write.",
        )
