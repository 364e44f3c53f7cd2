"""Writing the three peer tables (`tables.PEER_TABLES`) as a full rewrite would leave them,
touching only what differs, and counting the rows that change.

Each table's rows are keyed by district (`leaid`, then `rank` or `metric`). The stored rows
are read in a compact form — per column one long string built in SQL, in key order (`joined_text`) — and
compared with the new rows in numpy: row by row when the keys are the same, else matched by
key (a row without a match is inserted or deleted). A distance is read as the text of its
exact double (`%!.17g` on SQLite, PostgreSQL's shortest exact form) and compared as a double;
it is not read at all when every `peer_groups` row is unchanged: a distance is a function of
the two districts' features and of the z-scores' means and SDs over all eligible districts,
all of which those rows hold. The rows of every district with a difference are deleted and
written anew. Counted per table: rows inserted, deleted or changed (a row is one key).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable

import numpy as np
import sqlalchemy as sa

from districtbench.db import tables
from districtbench.db.engine import own_schema
from districtbench.metrics.arith import WholeUnits
from districtbench.metrics.context import RunContext
from districtbench.metrics.joined_text import NULL_TEXT, as_text, joined_texts
from districtbench.metrics.quantities import RESULT_SCALE
from districtbench.metrics.quartiles import FLAGS

CHUNK = 5_000  # keys per DELETE statement


@dataclass
class Changes:
    rows: dict[str, int] = field(default_factory=dict)  # table name -> rows changed
    districts: set[str] = field(default_factory=set)  # districts with a changed row


@dataclass
class NewRows:
    """A table's rows as they should be, in key order: `owner` (index into `leaids`) and
    `key` (the row's full key as text, `leaid/rank` or `leaid/metric`) per row, and the
    compared values per row (arrays, stored form)."""

    leaids: np.ndarray  # of the owners, object
    owner: np.ndarray
    key: list[str]
    values: list[np.ndarray]


@dataclass
class Coded:
    """A column of strings given as indices into `labels` (say each leaid once), so that a
    string is encoded once however many rows hold it."""

    codes: np.ndarray
    labels: np.ndarray  # object

    def values(self) -> list:
        return self.labels[self.codes].tolist()

    def __len__(self) -> int:
        return len(self.codes)


def _qualified(ctx: RunContext, table: sa.Table) -> str:
    schema = own_schema(ctx.connection) if ctx.arith.postgresql else None
    return table.name if schema is None else f'"{schema}".{table.name}'


def _tokens(text: str, dtype=str) -> np.ndarray:
    return np.array(text.split(" ") if text else [], dtype=dtype)


def _double_text(ctx: RunContext, expr: sa.ColumnElement) -> sa.ColumnElement:
    """The text of a double that reads back as the same double."""
    return sa.cast(expr, sa.Text) if ctx.arith.postgresql else sa.func.printf(sa.literal("%!.17g"), expr)


def _differences(new: NewRows, stored_keys: str, stored_values: list[np.ndarray]) -> tuple[int, set[str]]:
    """(rows inserted, deleted or changed; the districts they belong to), the stored rows
    given by their keys (`leaid/…`, joined by spaces) and values in the order of `new.values`."""
    if not stored_keys:  # nothing stored: every row is new
        return len(new.key), set(new.leaids[np.unique(new.owner)].tolist())
    if stored_keys == " ".join(new.key):
        differ = np.zeros(len(new.key), bool)
        for mine, theirs in zip(new.values, stored_values):
            differ |= mine != theirs
        return int(differ.sum()), set(new.leaids[new.owner[differ]].tolist())
    new_key, stored_key = np.array(new.key, dtype=str), _tokens(stored_keys)
    _, mine, theirs = np.intersect1d(new_key, stored_key, assume_unique=True, return_indices=True)
    differ = np.zeros(len(mine), bool)
    for new_values, old_values in zip(new.values, stored_values):
        differ |= new_values[mine] != old_values[theirs]
    inserted = np.ones(len(new_key), bool)
    inserted[mine] = False
    deleted = np.ones(len(stored_key), bool)
    deleted[theirs] = False
    owners = set(new.leaids[new.owner[mine[differ]]].tolist()) | set(new.leaids[new.owner[inserted]].tolist())
    owners |= {key.split("/", 1)[0] for key in stored_key[deleted].tolist()}
    return int(differ.sum() + inserted.sum() + deleted.sum()), owners


def _may_truncate(ctx: RunContext, table: sa.Table) -> bool:
    """Whether emptying `table` may be a TRUNCATE (PostgreSQL: the role holds the privilege and
    no row-level security applies, which TRUNCATE would bypass). A TRUNCATE leaves no dead rows,
    and refilling a table emptied so is two to three times faster than one emptied by DELETE."""
    if not ctx.arith.postgresql:
        return False
    name = _qualified(ctx, table)
    return bool(ctx.connection.execute(
        sa.text("SELECT has_table_privilege(c.oid, 'TRUNCATE') AND NOT c.relrowsecurity "
                "FROM pg_class c WHERE c.oid = CAST(:name AS regclass)"), {"name": name}).scalar())


def _rewrite(ctx: RunContext, table: sa.Table, owners: set[str], all_owners: int, columns: list[str],
             columns_of: Callable[[set[str] | None], list[list]]) -> None:
    """Delete the rows of `owners` and insert theirs, given column by column by
    `columns_of(owners)`; when that is most of the `all_owners` stored, empty the table and
    insert `columns_of(None)` (all)."""
    c = ctx.connection
    name = _qualified(ctx, table)
    if len(owners) * 2 >= all_owners:
        if _may_truncate(ctx, table):
            c.exec_driver_sql(f"TRUNCATE {name}")
        else:
            c.execute(table.delete())
        values = columns_of(None)
    else:
        keys = sorted(owners)
        for start in range(0, len(keys), CHUNK):
            c.execute(table.delete().where(table.c.leaid.in_(keys[start:start + CHUNK])))
        values = columns_of(owners)
    if not values or not len(values[0]):
        return
    cursor = c.connection.dbapi_connection.cursor()
    try:
        if ctx.arith.postgresql:
            binary = _binary_copy(values)
            form = " (FORMAT binary)" if binary is not None else ""
            data = binary if binary is not None else _text_copy(values).encode()
            cursor.copy_expert(f"COPY {name} ({', '.join(columns)}) FROM STDIN{form}", io.BytesIO(data))
        else:
            marks = ", ".join("?" for _ in columns)
            listed = [_listed(column) for column in values]
            cursor.executemany(f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks})", zip(*listed))
    finally:
        cursor.close()
    if ctx.arith.postgresql:
        c.exec_driver_sql(f"ANALYZE {name}")  # planner statistics of the refilled table


def _listed(column) -> list:
    if isinstance(column, Coded):
        return column.values()
    return column.tolist() if isinstance(column, np.ndarray) else column


def _text_copy(values: list) -> str:
    """COPY's text format of the rows given column by column (NULL as \\N; the values hold no
    tab, newline or backslash: leaids, metric keys, flags, numbers)."""
    texts = []
    for column in map(_listed, values):
        if column and isinstance(column[0], float):
            texts.append([repr(v) for v in column])  # the shortest text that reads back as the same double
        elif None in column or not isinstance(column[0], str):
            texts.append([r"\N" if v is None else str(v) for v in column])
        else:
            texts.append(column)
    return "\n".join(map("\t".join, zip(*texts))) + "\n"


def _binary_copy(values: list) -> bytes | None:
    """COPY's binary format of the rows given column by column, when every column is a numpy
    array of int32, float64 or strings of one length (no NULL); else None. Built in numpy: no
    value is formatted as text, nor parsed by the server."""
    fields: list[tuple[str, str]] = []
    data = {}
    for index, column in enumerate(values):
        if isinstance(column, Coded):
            labels = _fixed_width(column.labels)
            if labels is None:
                return None
            kind, width, array = labels.dtype.str, labels.dtype.itemsize, labels[column.codes]
        elif not isinstance(column, np.ndarray):
            return None
        elif column.dtype == np.int32:
            kind, width, array = ">i4", 4, column
        elif column.dtype == np.float64:
            kind, width, array = ">f8", 8, column
        else:
            return None
        fields += [(f"n{index}", ">i4"), (f"v{index}", kind)]
        data[f"n{index}"], data[f"v{index}"] = width, array
    rows = np.empty(len(values[0]), dtype=[("count", ">i2"), *fields])
    rows["count"] = len(values)
    for name, value in data.items():
        rows[name] = value
    header = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
    return header + rows.tobytes() + (-1).to_bytes(2, "big", signed=True)


def _fixed_width(labels: np.ndarray) -> np.ndarray | None:
    """`labels` as ASCII bytes of one length (numpy `S…`), or None if they are not that."""
    if not len(labels) or (labels == None).any():  # noqa: E711 (elementwise)
        return None
    try:
        text = labels.astype(str)  # TypeError/ValueError: not all strings
        width = text.dtype.itemsize // 4
        if (np.char.str_len(text) != width).any():
            return None  # of different lengths
        return text.astype(f"S{width}")  # UnicodeEncodeError: not ASCII
    except (TypeError, ValueError, UnicodeError):
        return None


def _chosen(new: NewRows, owners: set[str] | None) -> np.ndarray:
    """Rows of `new` whose owner is one of `owners` (all rows when None)."""
    if owners is None:
        return np.arange(len(new.owner))
    wanted = np.array([leaid in owners for leaid in new.leaids.tolist()], dtype=bool)
    return np.nonzero(wanted[new.owner])[0]


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

    def columns_of(owners: set[str] | None) -> list[list]:
        chosen = [row for row in rows if owners is None or row[0] in owners]
        if not ctx.arith.postgresql:
            chosen = [tuple(float(v) if isinstance(v, Decimal) else v for v in row) for row in chosen]
        return [list(column) for column in zip(*chosen)]

    if differ:
        _rewrite(ctx, g, differ, len(new), list(g.c.keys()), columns_of)
    return bool(differ)


def write_peers(ctx: RunContext, leaids: list[str], peers: np.ndarray, dist: np.ndarray, counts: np.ndarray,
                groups_changed: bool, changes: Changes) -> None:
    p = tables.peers
    names = np.array(leaids + [""], dtype=object)
    taken = np.arange(peers.shape[1])[None, :] < counts[:, None]
    owner = np.repeat(np.arange(len(leaids)), counts)
    ranks = (np.nonzero(taken)[1] + 1).tolist()
    peer_names = names[peers[taken]]
    distances = dist[taken]
    owner_names = names[owner].tolist()
    keys = [f"{o}/{r}" for o, r in zip(owner_names, ranks)]
    columns = [p.c.leaid + sa.literal("/") + sa.cast(p.c.rank, sa.Text), p.c.peer_leaid]
    if groups_changed:
        columns.append(_double_text(ctx, p.c.distance))
    stored = joined_texts(ctx, p, columns, [p.c.leaid, p.c.rank])
    stored_values = [_tokens(stored[1], object)]
    new = NewRows(names, owner, keys, [peer_names])
    if groups_changed:
        stored_values.append(_tokens(stored[2], np.float64))
        new.values.append(distances)
    changed, differ = _differences(new, stored[0], stored_values)
    changes.rows[p.name] = changed
    changes.districts |= differ

    peer_rows = peers[taken]

    def columns_of(chosen_owners: set[str] | None) -> list:
        chosen = _chosen(new, chosen_owners)
        return [Coded(owner[chosen], names[:-1]), np.asarray(ranks, dtype=np.int32)[chosen],
                Coded(peer_rows[chosen], names[:-1]), distances[chosen]]

    if differ:
        _rewrite(ctx, p, differ, len(leaids), ["leaid", "rank", "peer_leaid", "distance"], columns_of)


def _unit_tokens(values: np.ndarray, null: np.ndarray) -> np.ndarray:
    """Whole units as their text (what `WholeUnits.exact` reads back), NULL as `N`."""
    return np.where(null, NULL_TEXT, values.astype(str))


def write_benchmarks(ctx: RunContext, leaids: list[str], marks: dict, changes: Changes) -> None:
    b = tables.peer_benchmarks
    keys = sorted(marks)
    n, m = len(leaids), len(keys)
    names = np.array(leaids, dtype=object)
    owner = np.repeat(np.arange(n), m)
    metrics = keys * n

    def flat(name: str, empty) -> np.ndarray:  # per (district, metric) in key order
        return np.stack([getattr(marks[k], name) for k in keys], axis=1).reshape(-1) if keys else empty

    average, versus, group = (flat(name, np.empty(0, np.int64)) for name in ("average", "versus", "group"))
    average_null, versus_null = (flat(name, np.empty(0, bool)) for name in ("average_null", "versus_null"))
    arith = WholeUnits(ctx.connection.dialect.name)
    flag_code = sa.case({label: sa.literal(str(code)) for code, label in FLAGS.items()}, value=b.c.peer_quartile,
                        else_=sa.literal("0"))
    units = [as_text(arith.exact(b.c[c], RESULT_SCALE)) for c in ("peer_average", "vs_peers")]
    stored = joined_texts(ctx, b, [b.c.leaid + sa.literal("/") + b.c.metric, *units, flag_code], [b.c.leaid, b.c.metric])
    new = NewRows(names, owner, [f"{o}/{k}" for o, k in zip(names[owner].tolist(), metrics)],
                  [_unit_tokens(average, average_null), _unit_tokens(versus, versus_null), group.astype(str)])
    changed, differ = _differences(new, stored[0], [_tokens(text) for text in stored[1:]])
    changes.rows[b.name] = changed
    changes.districts |= differ

    def columns_of(chosen_owners: set[str] | None) -> list[list]:
        chosen = _chosen(new, chosen_owners)
        return [Coded(owner[chosen], names), Coded(chosen % max(m, 1), np.array(keys, dtype=object)),
                _values(ctx, average[chosen], average_null[chosen]), _values(ctx, versus[chosen], versus_null[chosen]),
                [FLAGS.get(code) for code in group[chosen].tolist()]]

    if differ:
        _rewrite(ctx, b, differ, n, ["leaid", "metric", "peer_average", "vs_peers", "peer_quartile"], columns_of)


def _values(ctx: RunContext, units: np.ndarray, null: np.ndarray) -> list:
    """Decimals as written (None where `null`): their text for COPY (PostgreSQL); on SQLite
    the double nearest to each, as the SQL forms of `Arith` store a computed decimal."""
    if ctx.arith.postgresql:
        found = _decimal_texts(units)
    elif units.dtype != object and (not len(units) or int(np.abs(units).max()) < 2**53):
        found = (units / 10**RESULT_SCALE).tolist()  # exact operands: the correctly rounded quotient
    else:
        found = [v / 10**RESULT_SCALE for v in units.tolist()]
    return [None if gone else v for v, gone in zip(found, null.tolist())]


def _decimal_texts(units: np.ndarray) -> list[str]:
    """`_decimal_text` of each, in numpy where the units are int64."""
    if units.dtype == object or not len(units):
        return [_decimal_text(v) for v in units.tolist()]
    unit = 10**RESULT_SCALE
    magnitude = np.abs(units)
    whole = np.char.add(np.where(units < 0, "-", ""), (magnitude // unit).astype(str))
    return np.char.add(np.char.add(whole, "."), np.char.zfill((magnitude % unit).astype(str), RESULT_SCALE)).tolist()
