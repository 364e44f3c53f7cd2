"""Bulk upserts: one `INSERT … ON CONFLICT … DO UPDATE` statement per batch of rows.

PostgreSQL: an executemany that SQLAlchemy's insertmanyvalues turns into multi-row
`VALUES (…), (…)` statements of PG_PAGE_ROWS rows each (psycopg2 `execute_values` style).
SQLite: an explicit multi-row VALUES statement per batch, sized to stay under the
connection's bound-variable limit (999 on old SQLite builds, 32766+ on newer ones).
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

PG_PAGE_ROWS = 1000
SQLITE_MAX_ROWS = 500
SQLITE_DEFAULT_VARIABLE_LIMIT = 999


def upsert(
    connection: sa.Connection,
    table: sa.Table,
    rows: Sequence[dict[str, Any]],
    *,
    conflict: Sequence[str],
    update: Iterable[str],
    where: sa.ColumnElement[bool] | None = None,
) -> None:
    """Insert `rows` (all with the same keys); on a `conflict` key set only `update` columns.

    `where` (optional) restricts which existing rows get updated; it may refer to the
    existing row through `table.c` and to the incoming one through `excluded`.
    """
    if not rows:
        return
    update = list(update)
    dialect = connection.dialect.name
    if dialect == "postgresql":
        statement = _on_conflict(postgresql.insert(table), conflict, update, where)
        connection.execution_options(insertmanyvalues_page_size=PG_PAGE_ROWS).execute(statement, list(rows))
        return
    if dialect != "sqlite":
        raise NotImplementedError(f"bulk upsert on {dialect}")
    batch = max(1, min(SQLITE_MAX_ROWS, _sqlite_variable_limit(connection) // max(1, len(rows[0]))))
    for start in range(0, len(rows), batch):
        statement = _on_conflict(sqlite.insert(table).values(list(rows[start : start + batch])), conflict, update, where)
        connection.execute(statement)


def _on_conflict(insert, conflict, update, where):
    if not update:
        return insert.on_conflict_do_nothing(index_elements=list(conflict))
    return insert.on_conflict_do_update(
        index_elements=list(conflict),
        set_={name: insert.excluded[name] for name in update},
        where=where,
    )


def _sqlite_variable_limit(connection: sa.Connection) -> int:
    try:
        import sqlite3

        return connection.connection.dbapi_connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    except Exception:  # a wrapped connection without getlimit
        return SQLITE_DEFAULT_VARIABLE_LIMIT
