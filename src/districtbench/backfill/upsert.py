"""Bulk upserts: one `INSERT … ON CONFLICT … DO UPDATE` statement per batch of rows, built
with the dialect's `insert()` construct, on PostgreSQL and SQLite.

PostgreSQL, ARRAY_MIN_ROWS rows or more: ONE `INSERT … SELECT * FROM unnest(<one array
parameter per column>) ON CONFLICT` statement, whatever the number of rows (pgarray.py).

Otherwise (SQLite; small PostgreSQL batches): multi-row `VALUES (…), (…)` statements,
`execute_values` style. The single-row upsert is compiled once and its VALUES group repeated
for each row of a batch, parameters passed positionally — what SQLAlchemy's insertmanyvalues
does internally. We do it ourselves because SQLAlchemy 2.1 turns insertmanyvalues off for
`ON CONFLICT` without RETURNING (one round trip per row on psycopg2), and because compiling
a `.values([...])` statement with thousands of parameters costs ~0.1 s every time. Values go
through each column type's bind processor, as SQLAlchemy would do. Batches hold at most
MAX_BATCH_ROWS rows and stay under the bound-variable limit (SQLite: the connection's limit,
999 on old builds; PostgreSQL: 65535).

Compiled statements are cached per (dialect, table, columns, conflict, update, `where`
object): a backfill sends the same few upserts hundreds of times, and compiling one costs
more than sending it. A `where` that needs a value per call uses a `bindparam` and gets its
value from `params`.

Column names are the table's column KEYS (an app table of `db.layout` renders its physical
names); a table in districtbench's own schema is compiled with the connection's
`schema_translate_map`, since these statements are sent as text.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from districtbench.backfill.pgarray import array_text

MAX_BATCH_ROWS = 2000
ARRAY_MIN_ROWS = 2
PG_MAX_PARAMETERS = 65535
SQLITE_DEFAULT_VARIABLE_LIMIT = 999
INSERT_CONSTRUCTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
PLAN_CACHE_SIZE = 64


def upsert(
    connection: sa.Connection,
    table: sa.Table,
    rows: Sequence[dict[str, Any]],
    *,
    conflict: Sequence[str],
    update: Iterable[str],
    where: sa.ColumnElement[bool] | None = None,
    params: Mapping[str, Any] | None = None,
) -> int:
    """Insert `rows` (all with the same keys); on a `conflict` key set only `update` columns,
    and only where `where` (which may refer to the existing row through `table.c`) holds.
    `params`: values of `bindparam`s in `where`. Returns the number of statements sent."""
    if not rows:
        return 0
    columns = {key: [row[key] for row in rows] for key in rows[0]}
    return upsert_columns(connection, table, columns, conflict=conflict, update=update, where=where, params=params)


def upsert_columns(
    connection: sa.Connection,
    table: sa.Table,
    columns: Mapping[str, Sequence[Any]],
    *,
    conflict: Sequence[str],
    update: Iterable[str],
    where: sa.ColumnElement[bool] | None = None,
    params: Mapping[str, Any] | None = None,
) -> int:
    """`upsert` of rows given column by column: `columns[name][i]` is row i's value (all
    lists of the same length) — no dict per row to build or to take apart."""
    dialect = connection.dialect
    if dialect.name not in INSERT_CONSTRUCTS:
        raise NotImplementedError(f"bulk upsert on {dialect.name}")
    keys = tuple(columns)
    count = len(columns[keys[0]]) if keys else 0
    if not count:
        return 0
    arrays = dialect.name == "postgresql" and count >= ARRAY_MIN_ROWS
    translate = _schema_translation(connection, table)
    plan = _plan(dialect, table, keys, tuple(conflict), tuple(update), where, arrays, translate)
    extra = plan.extra(params)
    if arrays:
        connection.exec_driver_sql(plan.text, tuple(array_text(columns[key]) for key in keys) + extra)
        return 1
    return _execute_batches(connection, plan, columns, count, extra)


@dataclass
class _Plan:
    """A compiled upsert: the statement text (positional placeholders), how to fill them."""

    text: str  # arrays: the whole statement; VALUES: head, with GROUP and REST to repeat
    group: str
    rest: str
    keys: tuple[str, ...]
    processed: list[tuple[int, Callable[[Any], Any]]]
    extra_binds: list[tuple[str, Any, Callable[[Any], Any] | None]]  # name, default, processor
    texts: dict[int, str]

    def extra(self, params: Mapping[str, Any] | None) -> tuple:
        values = []
        for name, default, processor in self.extra_binds:
            value = params[name] if params is not None and name in params else default
            values.append(_process(processor, value))
        return tuple(values)


_plans: OrderedDict = OrderedDict()
_plans_lock = threading.Lock()


def _schema_translation(connection: sa.Connection, table: sa.Table) -> tuple:
    """The connection's schema translation, as (placeholder, schema) pairs, for a table that
    has a schema (SQLite's None: its main database)."""
    if table.schema is None:
        return ()
    mapping = connection.get_execution_options().get("schema_translate_map") or {}
    default = connection.dialect.default_schema_name
    return tuple((key, value if value is not None else default) for key, value in mapping.items())


def _plan(dialect, table, keys, conflict, update, where, arrays: bool, translate: tuple = ()) -> _Plan:
    # `where` by identity (a ClauseElement's == builds SQL); the entry keeps it alive
    cache_key = (dialect, table, keys, conflict, update, id(where), arrays, translate)
    with _plans_lock:
        entry = _plans.get(cache_key)
        if entry is not None and entry[0] is where:
            _plans.move_to_end(cache_key)
            return entry[1]
    build = _array_plan if arrays else _values_plan
    plan = build(dialect, table, keys, conflict, update, where, dict(translate))
    with _plans_lock:
        _plans[cache_key] = (where, plan)
        while len(_plans) > PLAN_CACHE_SIZE:
            _plans.popitem(last=False)
    return plan


def _statement(insert, conflict, update, where):
    key = [insert.table.c[name] for name in conflict]
    if update:
        return insert.on_conflict_do_update(
            index_elements=key, set_={name: insert.excluded[name] for name in update}, where=where
        )
    return insert.on_conflict_do_nothing(index_elements=key)


def _compile(statement, dialect, translate: dict, **kw):
    if translate:
        kw.update(schema_translate_map=translate, render_schema_translate=True)
    return statement.compile(dialect=dialect, **kw)


def _extra_binds(compiled, names, dialect) -> list:
    return [
        (name, compiled.binds[name].effective_value, _processor(compiled.binds[name].type, dialect))
        for name in names
    ]


def _array_plan(dialect, table, keys, conflict, update, where, translate) -> _Plan:
    """`INSERT … SELECT * FROM unnest(CAST(:c0 AS type0[]), …) ON CONFLICT …`."""
    positional = _positional(dialect)
    casts = ", ".join(
        f"CAST(:_array_{index} AS {table.c[key].type.compile(dialect=dialect)}[])" for index, key in enumerate(keys)
    )
    arrays = [sa.bindparam(f"_array_{index}", type_=sa.String) for index in range(len(keys))]
    source = sa.text(f"SELECT * FROM unnest({casts})").bindparams(*arrays).columns(*(sa.column(key, table.c[key].type) for key in keys))
    insert = postgresql.insert(table).from_select(list(keys), source)
    compiled = _compile(_statement(insert, conflict, update, where), positional, translate)
    names = list(compiled.positiontup or ())
    array_names = [f"_array_{index}" for index in range(len(keys))]
    if names[: len(keys)] != array_names:
        raise RuntimeError(f"unexpected compiled upsert for {table.name}: {compiled.string}")
    extra = _extra_binds(compiled, names[len(keys) :], dialect)
    return _Plan(compiled.string, "", "", keys, [], extra, {})


def _values_plan(dialect, table, keys, conflict, update, where, translate) -> _Plan:
    construct = INSERT_CONSTRUCTS[dialect.name]
    statement = _statement(construct(table), conflict, update, where)
    compiled = _compile(statement, _positional(dialect), translate, column_keys=list(keys))
    names = list(compiled.positiontup or ())
    value_names, other_names = names[: len(keys)], names[len(keys) :]
    head, marker, tail = compiled.string.partition(" VALUES (")
    if sorted(value_names) != sorted(keys) or not marker:  # not the shape we know how to batch
        raise RuntimeError(f"unexpected compiled upsert for {table.name}: {compiled.string}")
    group_end = tail.index(")")
    group, rest = "(" + tail[:group_end] + ")", tail[group_end + 1 :]
    processors = [_processor(table.c[name].type, dialect) for name in value_names]
    processed = [(index, processor) for index, processor in enumerate(processors) if processor is not None]
    extra = _extra_binds(compiled, other_names, dialect)
    return _Plan(head, group, rest, tuple(value_names), processed, extra, {})


def _execute_batches(connection: sa.Connection, plan: _Plan, columns, count: int, extra: tuple) -> int:
    width = len(plan.keys)
    values = [list(columns[key]) for key in plan.keys]  # in placeholder order
    for index, processor in plan.processed:
        values[index] = _apply(processor, values[index])
    batch = max(1, min(MAX_BATCH_ROWS, (_parameter_limit(connection) - len(extra)) // width))
    statements = 0
    for start in range(0, count, batch):
        size = min(batch, count - start)
        text = plan.texts.get(size)
        if text is None:
            text = plan.texts[size] = f"{plan.text} VALUES {', '.join([plan.group] * size)}{plan.rest}"
        params = [value for row in zip(*(column[start : start + size] for column in values)) for value in row]
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
