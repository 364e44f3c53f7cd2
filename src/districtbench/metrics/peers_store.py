"""Writing the three peer tables (`tables.PEER_TABLES`) as a full rewrite would leave them,
touching only what differs, and counting the rows that change.

Each table's rows are keyed by district (`leaid`, then `rank` or `metric`). The stored rows
are read in a compact form — for `peers` and `peer_benchmarks` a few long strings built in
SQL, ordered by key, compared whole and then value by value in numpy — and the rows of every
district with a difference (new, gone or changed rows) are deleted and written anew. A
stored distance is not read back when every `peer_groups` row is unchanged: a distance is a
function of the two districts' features and of the z-scores' means and SDs over all
eligible districts, all of which those rows hold; otherwise the stored rows are read whole.
Counted per table: rows inserted, deleted or changed (a row is one key).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Callable
from decimal import Decimal

import numpy as np
import sqlalchemy as sa

from districtbench.db import tables
from districtbench.db.engine import own_schema
from districtbench.metrics.arith import WholeUnits
from districtbench.metrics.context import RunContext
from districtbench.metrics.quantities import RESULT_SCALE
from districtbench.metrics.quartiles import FLAGS

CHUNK = 5_000  # keys per DELETE statement


@dataclass
class Changes:
    rows: dict[str, int] = field(default_factory=dict)  # table name -> rows changed
    districts: set[str] = field(default_factory=set)  # districts with a changed row


def _qualified(ctx: RunContext, table: sa.Table) -> str:
    schema = own_schema(ctx.connection) if ctx.arith.postgresql else None
    return table.name if schema is None else f'"{schema}".{table.name}'


def _concat(ctx: RunContext, table: sa.Table, values: list[sa.ColumnElement], *order: sa.Column) -> list[str]:
    """Per expression of `values` (text), its values over `table`'s rows in key order joined
    by spaces — one sorted read of the table for all of them. (Both databases aggregate the
    rows of an ordered subquery in its order; the keys read this way are compared with the
    expected keys, so a different order would only mean rewriting.)"""
    keys = [ctx.arith.binary(c) if isinstance(c.type, sa.String) else c for c in order]
    inner = sa.select(*[v.label(f"v{i}") for i, v in enumerate(values)]).select_from(table).order_by(*keys).subquery()
    join = sa.func.string_agg if ctx.arith.postgresql else sa.func.group_concat
    row = ctx.connection.execute(sa.select(*[join(inner.c[f"v{i}"], sa.literal(" ")) for i in range(len(values))])).one()
    return [text or "" for text in row]


def _text(ctx: RunContext, expr: sa.ColumnElement) -> sa.ColumnElement:
    return sa.func.coalesce(sa.cast(expr, sa.Text), sa.literal("N"))


def _rewrite(ctx: RunContext, table: sa.Table, owners: set[str], all_owners: int, columns: list[str],
             rows_of: Callable[[set[str] | None], list[tuple]]) -> None:
    """Delete the rows of `owners` and insert theirs, `rows_of(owners)`; when that is most of
    the `all_owners` stored, delete every row and insert `rows_of(None)` (all)."""
    c = ctx.connection
    if len(owners) * 2 >= all_owners:
        c.execute(table.delete())
        rows = rows_of(None)
    else:
        keys = sorted(owners)
        for start in range(0, len(keys), CHUNK):
            c.execute(table.delete().where(table.c.leaid.in_(keys[start:start + CHUNK])))
        rows = rows_of(owners)
    if not rows:
        return
    name = _qualified(ctx, table)
    if ctx.arith.postgresql:
        buffer = io.StringIO()
        for row in rows:
            buffer.write("\t".join("\\N" if v is None else str(v) for v in row) + "\n")
        buffer.seek(0)
        cursor = c.connection.dbapi_connection.cursor()
        try:
            cursor.copy_expert(f"COPY {name} ({', '.join(columns)}) FROM STDIN", buffer)
        finally:
            cursor.close()
        c.exec_driver_sql(f"ANALYZE {name}")  # planner statistics of the refilled table
    else:
        marks = ", ".join("?" for _ in columns)
        c.exec_driver_sql(f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks})", rows)


def _decimal_text(units: int) -> str:
    sign, units = ("-", -units) if units < 0 else ("", units)
    unit = 10**RESULT_SCALE
    return f"{sign}{units // unit}.{units % unit:0{RESULT_SCALE}d}"


def write_groups(ctx: RunContext, rows: list[tuple], changes: Changes) -> bool:
    """peer_groups: `rows` (leaid, scope, locale_group, enrollment, poverty, ell, swd,
    peer_count, values as read). Returns whether any row changed."""
    g = tables.peer_groups
    stored = {r[0]: tuple(r) for r in ctx.connection.execute(sa.select(*g.c))}
    new = {r[0]: r for r in rows}
    differ = {leaid for leaid in stored.keys() | new.keys() if stored.get(leaid) != new.get(leaid)}
    changes.rows[g.name] = len(differ)
    changes.districts |= differ
    def rows_of(owners: set[str] | None) -> list[tuple]:
        chosen = [row for row in rows if owners is None or row[0] in owners]
        if ctx.arith.postgresql:
            return chosen
        return [tuple(float(v) if isinstance(v, Decimal) else v for v in row) for row in chosen]

    if differ:
        _rewrite(ctx, g, differ, len(stored), list(g.c.keys()), rows_of)
    return bool(differ)


def write_peers(ctx: RunContext, leaids: list[str], peers: np.ndarray, dist: np.ndarray, counts: np.ndarray,
                groups_changed: bool, changes: Changes) -> None:
    p = tables.peers
    names = np.array(leaids + [""], dtype=object)
    owners = np.repeat(np.array(leaids, dtype=object), counts)
    taken = np.arange(peers.shape[1])[None, :] < counts[:, None]
    ranks = np.nonzero(taken)[1] + 1
    peer_names = names[peers[taken]]
    distances = dist[taken]
    stored_owners, stored_ranks, stored_peers = _concat(ctx, p, [p.c.leaid, sa.cast(p.c.rank, sa.Text), p.c.peer_leaid],
                                                        p.c.leaid, p.c.rank)
    same_keys = stored_owners == " ".join(owners) and stored_ranks == " ".join(map(str, ranks.tolist()))
    if same_keys and not groups_changed:
        stored_peers = np.array(stored_peers.split(" ") if len(owners) else [], dtype=object)
        differ_rows = stored_peers != peer_names
        differ = set(owners[differ_rows].tolist())
        changed = int(differ_rows.sum())
    else:
        stored = {(r[0], r[1]): (r[2], r[3]) for r in ctx.connection.execute(sa.select(p.c.leaid, p.c.rank,
                                                                                        p.c.peer_leaid, p.c.distance))}
        new = {(o, r): (n, d) for o, r, n, d in zip(owners.tolist(), ranks.tolist(), peer_names.tolist(),
                                                    distances.tolist())}
        keys = [key for key in stored.keys() | new.keys() if stored.get(key) != new.get(key)]
        differ = {key[0] for key in keys}
        changed = len(keys)
    changes.rows[p.name] = changed
    changes.districts |= differ
    def rows_of(chosen_owners: set[str] | None) -> list[tuple]:
        chosen = slice(None) if chosen_owners is None else np.isin(owners, np.array(sorted(chosen_owners), dtype=object))
        found = distances[chosen].tolist()
        return list(zip(owners[chosen].tolist(), ranks[chosen].tolist(), peer_names[chosen].tolist(),
                        [repr(d) for d in found] if ctx.arith.postgresql else found))

    if differ:
        _rewrite(ctx, p, differ, len(set(stored_owners.split())) if stored_owners else 0,
                 ["leaid", "rank", "peer_leaid", "distance"], rows_of)


def write_benchmarks(ctx: RunContext, leaids: list[str], marks: dict, changes: Changes) -> None:
    b = tables.peer_benchmarks
    keys = sorted(marks)
    n, m = len(leaids), len(keys)
    owners = np.repeat(np.array(leaids, dtype=object), m)
    metrics = np.tile(np.array(keys, dtype=object), n)

    def flat(name: str, empty) -> np.ndarray:  # per (district, metric) in key order
        return np.stack([getattr(marks[k], name) for k in keys], axis=1).reshape(-1) if keys else empty

    average, versus, group = (flat(name, np.empty(0, np.int64)) for name in ("average", "versus", "group"))
    average_null, versus_null = (flat(name, np.empty(0, bool)) for name in ("average_null", "versus_null"))
    arith = WholeUnits(ctx.connection.dialect.name)
    order = (b.c.leaid, b.c.metric)
    flag_code = sa.case({label: sa.literal(str(code)) for code, label in FLAGS.items()}, value=b.c.peer_quartile,
                        else_=sa.literal("0"))
    units = [_text(ctx, arith.exact(b.c[c], RESULT_SCALE)) for c in ("peer_average", "vs_peers")]
    stored_keys, *texts, flags = _concat(ctx, b, [b.c.leaid + sa.literal("/") + b.c.metric, *units, flag_code], *order)
    if stored_keys == " ".join(f"{o}/{k}" for o, k in zip(owners.tolist(), metrics.tolist())):
        tokens = [text.split(" ") for text in texts]
        stored_group = np.array(flags.split(" "), dtype=np.int64) if n else group
        differ_rows = group != stored_group
        for token, values, null in zip(tokens, (average, versus), (average_null, versus_null)):
            token = np.array(token) if n else np.array([], dtype=str)
            stored_null = token == "N"
            stored_values = np.where(stored_null, "0", token).astype(object if values.dtype == object else np.int64)
            if values.dtype == object:
                stored_values = np.array([int(v) for v in stored_values], dtype=object)
            differ_rows |= (stored_null != null) | (~null & (stored_values != values))
        changed = int(differ_rows.sum())
        differ = set(owners[differ_rows].tolist())
        stored_count = n
    else:
        stored = {(r[0], r[1]): (r[2], r[3], r[4])
                  for r in ctx.connection.execute(sa.select(b.c.leaid, b.c.metric, *units, flag_code))}
        new = {}
        for i, key in enumerate(zip(owners.tolist(), metrics.tolist())):
            new[key] = ("N" if average_null[i] else str(average[i]), "N" if versus_null[i] else str(versus[i]),
                        str(group[i]))
        differing = [key for key in stored.keys() | new.keys() if stored.get(key) != new.get(key)]
        differ = {key[0] for key in differing}
        changed = len(differing)
        stored_count = len({key[0] for key in stored})
    changes.rows[b.name] = changed
    changes.districts |= differ
    def rows_of(chosen_owners: set[str] | None) -> list[tuple]:
        chosen = range(len(owners)) if chosen_owners is None else \
            np.nonzero(np.isin(owners, np.array(sorted(chosen_owners), dtype=object)))[0].tolist()
        rows = []
        for i in chosen:
            a = None if average_null[i] else _value(ctx, int(average[i]))
            v = None if versus_null[i] else _value(ctx, int(versus[i]))
            rows.append((owners[i], metrics[i], a, v, FLAGS.get(int(group[i]))))
        return rows

    if differ:
        columns = ["leaid", "metric", "peer_average", "vs_peers", "peer_quartile"]
        _rewrite(ctx, b, differ, stored_count, columns, rows_of)


def _value(ctx: RunContext, units: int):
    """A decimal as written: its text for COPY (PostgreSQL); on SQLite the double nearest to
    it, as the SQL forms of `Arith` store a computed decimal."""
    return _decimal_text(units) if ctx.arith.postgresql else units / 10**RESULT_SCALE
