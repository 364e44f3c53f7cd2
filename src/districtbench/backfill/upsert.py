"""Bulk upserts: one `INSERT … ON CONFLICT … DO UPDATE` statement per batch of rows, built
with the dialect's `insert()` construct, on PostgreSQL and SQLite.

PostgreSQL, COPY_MIN_ROWS rows or more: COPY into a staging table, then one
`INSERT … SELECT … ON CONFLICT` (pgcopy.py; ~3× faster than VALUES lists there).

Otherwise (SQLite; small PostgreSQL batches): multi-row `VALUES (…), (…)` statements,
`execute_values` style. The single-row upsert is compiled once and its VALUES group repeated
for each row of a batch, parameters passed positionally — what SQLAlchemy's insertmanyvalues
does internally. We do it ourselves because SQLAlchemy 2.1 turns insertmanyvalues off for
`ON CONFLICT` without RETURNING (one round trip per row on psycopg2), and because compiling
a `.values([...])` statement with thousands of parameters costs ~0.1 s every time. Values go
through each column type's bind processor, as SQLAlchemy would do. Batches hold at most
MAX_BATCH_ROWS rows and stay under the bound-variable limit (SQLite: the connection's limit,
999 on old builds; PostgreSQL: 65535).
"""

from __future__ import annotations

import functools
import operator
from typing import Any, Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

MAX_BATCH_ROWS = 2000
COPY_MIN_ROWS = 200
PG_MAX_PARAMETERS = 65535
SQLITE_DEFAULT_VARIABLE_LIMIT = 999
INSERT_CONSTRUCTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def upsert(
    connection: sa.Connection,
    table: sa.Table,
    rows: Sequence[dict[str, Any]],
    *,
    conflict: Sequence[str],
    update: Iterable[str],
    where: sa.ColumnElement[bool] | None = None,
) -> int:
    """Insert `rows` (all with the same keys); on a `conflict` key set only `update` columns,
    and only where `where` (which may refer to the existing row through `table.c`) holds.
    Returns the number of statements sent."""
    if not rows:
        return 0
    dialect = connection.dialect
    construct = INSERT_CONSTRUCTS.get(dialect.name)
    if construct is None:
        raise NotImplementedError(f"bulk upsert on {dialect.name}")
    update = list(update)
    if dialect.name == "postgresql" and len(rows) >= COPY_MIN_ROWS:
        from districtbench.backfill.pgcopy import copy_upsert

        return copy_upsert(connection, table, rows, conflict, update, where)
    insert = construct(table)
    if update:
        statement = insert.on_conflict_do_update(
            index_elements=list(conflict), set_={name: insert.excluded[name] for name in update}, where=where
        )
    else:
        statement = insert.on_conflict_do_nothing(index_elements=list(conflict))
    return _execute_batches(connection, table, statement, rows)


def _execute_batches(connection: sa.Connection, table: sa.Table, statement, rows: Sequence[dict[str, Any]]) -> int:
    dialect = connection.dialect
    keys = list(rows[0])
    compiled = statement.compile(dialect=_positional(dialect), column_keys=keys)
    names = list(compiled.positiontup or ())
    value_names, other_names = names[: len(keys)], names[len(keys) :]
    head, marker, tail = compiled.string.partition(" VALUES (")
    if sorted(value_names) != sorted(keys) or not marker:  # not the shape we know how to batch
        raise RuntimeError(f"unexpected compiled upsert for {table.name}: {compiled.string}")
    group_end = tail.index(")")
    group, rest = "(" + tail[:group_end] + ")", tail[group_end + 1 :]
    getter = operator.itemgetter(*value_names) if len(value_names) > 1 else (lambda row: (row[value_names[0]],))
    processors = [_processor(table.c[name].type, dialect) for name in value_names]
    processed = [(index, processor) for index, processor in enumerate(processors) if processor is not None]
    extra = tuple(
        _process(_processor(compiled.binds[name].type, dialect), compiled.binds[name].effective_value)
        for name in other_names
    )
    batch = max(1, min(MAX_BATCH_ROWS, (_parameter_limit(connection) - len(extra)) // len(keys)))
    texts: dict[int, str] = {}
    statements = 0
    for start in range(0, len(rows), batch):
        chunk = rows[start : start + batch]
        text = texts.get(len(chunk))
        if text is None:
            text = texts[len(chunk)] = f"{head} VALUES {', '.join([group] * len(chunk))}{rest}"
        params = [value for row in chunk for value in getter(row)]
        for index, processor in processed:
            params[index :: len(keys)] = _apply(processor, params[index :: len(keys)])
        connection.exec_driver_sql(text, tuple(params) + extra)
        statements += 1
    return statements


@functools.lru_cache(maxsize=None)
def _positional_variant(dialect_class: type) -> sa.engine.Dialect:
    return dialect_class(paramstyle="format")


def _positional(dialect: sa.engine.Dialect) -> sa.engine.Dialect:
    """A dialect that compiles with positional placeholders (`?` or `%s`)."""
    if dialect.paramstyle in ("qmark", "format"):
        return dialect
    return _positional_variant(type(dialect))


def _processor(type_, dialect):
    return type_.dialect_impl(dialect).bind_processor(dialect)


def _process(processor, value):
    return value if processor is None or value is None else processor(value)


def _apply(processor, values: list) -> list:
    """processor(v) for each value; None stays None; a run of the same object (a unit's
    `created_at`) is processed once."""
    out = []
    last_in: Any = _apply
    last_out: Any = None
    for value in values:
        if value is None:
            out.append(None)
        elif value is last_in:
            out.append(last_out)
        else:
            last_in, last_out = value, processor(value)
            out.append(last_out)
    return out


def _parameter_limit(connection: sa.Connection) -> int:
    if connection.dialect.name != "sqlite":
        return PG_MAX_PARAMETERS
    try:
        import sqlite3

        return connection.connection.dbapi_connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    except Exception:  # a wrapped connection without getlimit
        return SQLITE_DEFAULT_VARIABLE_LIMIT
