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

from districtbench.db import binary_copy, tables
from districtbench.db.binary_copy import Coded
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
class Rows:
    """A table's rows in key order, as arrays: the key (`leaid` and the key's second column,
    `rank` or `metric`) and the compared values (stored form, NULL as a flag column)."""

    leaid: np.ndarray  # str, or bytes (`S…`) as a binary COPY reads them
    second: np.ndarray
    values: list[np.ndarray]

    def keys(self) -> np.ndarray:
        """Each row's whole key as one string (`leaid/rank`, `leaid/metric`)."""
        return np.char.add(np.char.add(self.leaid.astype(str), "/"), self.second.astype(str))


def _qualified(ctx: RunContext, table: sa.Table) -> str:
    schema = own_schema(ctx.connection) if ctx.arith.postgresql else None
    return table.name if schema is None else f'"{schema}".{table.name}'


def _tokens(text: str, dtype=str) -> np.ndarray:
    """The space-separated values of a joined text: numbers parsed by numpy, strings of one
    width (leaids) as bytes (`S…`, as a binary COPY reads them), without a Python object per
    value where the text allows; else token by token."""
    if not text:
        return np.array([], dtype=dtype)
    fast = _fixed_width(text) if dtype is str else _numbers(text, dtype)
    return fast if fast is not None else np.array(text.split(" "), dtype=dtype)


def _fixed_width(text: str) -> np.ndarray | None:
    """ASCII tokens of one width as bytes; None for any other text."""
    if not text.isascii():
        return None
    raw = text.encode("ascii") + b" "
    width = raw.index(b" ") + 1
    if width < 2 or len(raw) % width or raw.count(b" ") != len(raw) // width:
        return None
    if not (np.frombuffer(raw, np.uint8)[width - 1::width] == ord(" ")).all():
        return None
    return np.frombuffer(raw, f"S{width}").astype(f"S{width - 1}")


def _numbers(text: str, dtype) -> np.ndarray | None:
    """Numbers parsed in one call; None unless every token is one number (numpy's parser
    takes any run of whitespace for a separator and stops at what is not a number)."""
    try:
        values = np.fromstring(text, dtype=dtype, sep=" ")
    except ValueError:
        return None
    return values if len(values) == text.count(" ") + 1 else None


def _double_text(ctx: RunContext, expr: sa.ColumnElement) -> sa.ColumnElement:
    """The text of a double that reads back as the same double."""
    return sa.cast(expr, sa.Text) if ctx.arith.postgresql else sa.func.printf(sa.literal("%!.17g"), expr)


def _differences(new: Rows, stored: Rows) -> tuple[int, set[str]]:
    """(rows inserted, deleted or changed; the districts they belong to) between the rows
    that should be and those stored."""
    if not len(stored.leaid):  # nothing stored: every row is new
        return len(new.leaid), _owners(new.leaid)
    if not _same_keys(new, stored):
        order = np.lexsort((stored.second, stored.leaid))  # a partial rewrite appends its rows
        stored = Rows(stored.leaid[order], stored.second[order], [v[order] for v in stored.values])
    if _same_keys(new, stored):
        differ = np.zeros(len(new.leaid), bool)
        for mine, theirs in zip(new.values, stored.values):
            differ |= mine != theirs
        return int(differ.sum()), _owners(new.leaid[differ])
    new_key, stored_key = new.keys(), stored.keys()
    _, mine, theirs = np.intersect1d(new_key, stored_key, assume_unique=True, return_indices=True)
    differ = np.zeros(len(mine), bool)
    for new_values, old_values in zip(new.values, stored.values):
        differ |= new_values[mine] != old_values[theirs]
    inserted = np.ones(len(new_key), bool)
    inserted[mine] = False
    deleted = np.ones(len(stored_key), bool)
    deleted[theirs] = False
    owners = _owners(new.leaid[mine[differ]]) | _owners(new.leaid[inserted]) | _owners(stored.leaid[deleted])
    return int(differ.sum() + inserted.sum() + deleted.sum()), owners


def _owners(leaids: np.ndarray) -> set[str]:
    return set(np.unique(leaids).astype(str).tolist())


def _like(labels: np.ndarray, stored: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """The strings `labels` (str) and the `stored` columns in one form, to compare: as bytes
    when the stored strings are bytes (a binary COPY's; encoding the labels, not every row),
    unless a label is not ASCII."""
    if not any(column.dtype.kind == "S" for column in stored):
        return labels, stored
    try:
        return labels.astype("S"), stored
    except UnicodeEncodeError:
        return labels, [column.astype(str) if column.dtype.kind == "S" else column for column in stored]


def _same_keys(new: Rows, stored: Rows) -> bool:
    return (len(new.leaid) == len(stored.leaid) and bool((new.leaid == stored.leaid).all())
            and bool((new.second == stored.second).all()))


@dataclass
class Refill:
    """How a full rewrite of a PostgreSQL table empties and refills it: by TRUNCATE where
    the role holds the privilege and no row-level security applies (TRUNCATE would bypass
    it; a table emptied so refills two to three times faster than one emptied by DELETE),
    and with its primary key dropped during the COPY and added back after it where the role
    owns the table and nothing depends on the key (one index build instead of one index
    insertion per row: about half the COPY's time on 360,000 peers rows)."""

    truncate: bool
    key: tuple[str, str] | None  # the primary key's name and definition


def _refill(ctx: RunContext, table: sa.Table) -> Refill:
    if not ctx.arith.postgresql:
        return Refill(False, None)
    row = ctx.connection.execute(sa.text(
        "SELECT has_table_privilege(c.oid, 'TRUNCATE') AND NOT c.relrowsecurity, "
        "pg_has_role(c.relowner, 'USAGE') AND NOT EXISTS ("
        "  SELECT 1 FROM pg_depend d WHERE d.refobjid IN (k.oid, k.conindid) AND d.deptype = 'n'), "
        "k.conname, pg_get_constraintdef(k.oid) "
        "FROM pg_class c LEFT JOIN pg_constraint k ON k.conrelid = c.oid AND k.contype = 'p' "
        "WHERE c.oid = CAST(:name AS regclass)"), {"name": _qualified(ctx, table)}).one()
    truncate, may_rebuild, name, definition = row
    return Refill(bool(truncate), (name, definition) if truncate and may_rebuild and name else None)


def _rewrite(ctx: RunContext, table: sa.Table, owners: set[str], all_owners: int, columns: list[str],
             columns_of: Callable[[set[str] | None], list]) -> None:
    """Delete the rows of `owners` and insert theirs, given column by column by
    `columns_of(owners)`; when that is most of the `all_owners` stored, empty the table and
    insert `columns_of(None)` (all)."""
    c = ctx.connection
    name = _qualified(ctx, table)
    refill = None
    if len(owners) * 2 >= all_owners:
        refill = _refill(ctx, table)
        if refill.truncate:
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
    if refill is not None and refill.key is not None:
        c.exec_driver_sql(f'ALTER TABLE {name} DROP CONSTRAINT "{refill.key[0]}"')
    cursor = c.connection.dbapi_connection.cursor()
    try:
        if ctx.arith.postgresql:
            binary = binary_copy.encode(values)
            form = " (FORMAT binary)" if binary is not None else ""
            data = binary if binary is not None else _text_copy(values).encode()
            cursor.copy_expert(f"COPY {name} ({', '.join(columns)}) FROM STDIN{form}", io.BytesIO(data))
        else:
            marks = ", ".join("?" for _ in columns)
            listed = [_listed(column) for column in values]
            cursor.executemany(f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks})", zip(*listed))
    finally:
        cursor.close()
    if refill is not None and refill.key is not None:
        c.exec_driver_sql(f'ALTER TABLE {name} ADD CONSTRAINT "{refill.key[0]}" {refill.key[1]}')


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


def _chosen(owner: np.ndarray, leaids: np.ndarray, owners: set[str] | None) -> np.ndarray:
    """Rows (of owner indices `owner` into `leaids`) whose owner is one of `owners` (all when None)."""
    if owners is None:
        return np.arange(len(owner))
    wanted = np.array([leaid in owners for leaid in leaids.tolist()], dtype=bool)
    return np.nonzero(wanted[owner])[0]


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


def _binary(ctx: RunContext, columns: list[tuple[sa.ColumnElement, str]]) -> list[np.ndarray] | None:
    """PostgreSQL: the columns (expression, kind of `binary_copy.KINDS`) over a table's rows
    by binary COPY (strings as bytes); None on SQLite or where a row is not a fixed record."""
    if not ctx.arith.postgresql:
        return None
    return binary_copy.read(ctx.connection, sa.select(*[e for e, _ in columns]), tuple(k for _, k in columns))


def write_peers(ctx: RunContext, leaids: list[str], peers: np.ndarray, dist: np.ndarray, counts: np.ndarray,
                groups_changed: bool, changes: Changes) -> None:
    p = tables.peers
    names = np.array(leaids + [""], dtype=object)
    text = np.array(leaids + [""], dtype=str)
    taken = np.arange(peers.shape[1])[None, :] < counts[:, None]
    owner = np.repeat(np.arange(len(leaids)), counts)
    ranks = (np.nonzero(taken)[1] + 1).astype(np.int32)
    peer_rows = peers[taken]
    distances = dist[taken]
    columns = _binary(ctx, [(p.c.leaid, "text"), (p.c.rank, "int4"), (p.c.peer_leaid, "text"),
                           *([(p.c.distance, "float8")] if groups_changed else [])])
    if columns is None:
        texts = joined_texts(ctx, p, [p.c.leaid, sa.cast(p.c.rank, sa.Text), p.c.peer_leaid,
                                      *([_double_text(ctx, p.c.distance)] if groups_changed else [])],
                             [p.c.leaid, p.c.rank])
        columns = [_tokens(texts[0]), _tokens(texts[1], np.int64), _tokens(texts[2]),
                  *([_tokens(texts[3], np.float64)] if groups_changed else [])]
    text, columns = _like(text, columns)
    stored = Rows(columns[0], columns[1], columns[2:])
    new = Rows(text[owner], ranks, [text[peer_rows], *([distances] if groups_changed else [])])
    changed, differ = _differences(new, stored)
    changes.rows[p.name] = changed
    changes.districts |= differ

    def columns_of(chosen_owners: set[str] | None) -> list:
        chosen = _chosen(owner, names[:-1], chosen_owners)
        return [Coded(owner[chosen], names[:-1]), ranks[chosen], Coded(peer_rows[chosen], names[:-1]), distances[chosen]]

    if differ:
        _rewrite(ctx, p, differ, len(leaids), ["leaid", "rank", "peer_leaid", "distance"], columns_of)


def _units(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Whole units joined as text (`as_text`): (units, 0 where NULL; NULL)."""
    tokens = np.array(text.split(" ") if text else [], dtype=str)
    null = tokens == NULL_TEXT
    return np.where(null, "0", tokens).astype(np.int64), null


def write_benchmarks(ctx: RunContext, leaids: list[str], marks: dict, changes: Changes) -> None:
    b = tables.peer_benchmarks
    keys = sorted(marks)
    n, m = len(leaids), len(keys)
    names = np.array(leaids, dtype=object)
    metric_keys = np.array(keys, dtype=str)
    owner = np.repeat(np.arange(n), m)
    metric = np.tile(np.arange(m), n)

    def flat(name: str, empty) -> np.ndarray:  # per (district, metric) in key order
        return np.stack([getattr(marks[k], name) for k in keys], axis=1).reshape(-1) if keys else empty

    average, versus, group = (flat(name, np.empty(0, np.int64)) for name in ("average", "versus", "group"))
    average_null, versus_null = (flat(name, np.empty(0, bool)) for name in ("average_null", "versus_null"))
    arith = WholeUnits(ctx.connection.dialect.name)
    units = {c: arith.exact(b.c[c], RESULT_SCALE) for c in ("peer_average", "vs_peers")}
    flag_code = sa.case({label: code for code, label in FLAGS.items()}, value=b.c.peer_quartile, else_=0)
    columns = _binary(ctx, [
        (b.c.leaid, "text"), (sa.case({k: i for i, k in enumerate(keys)}, value=b.c.metric, else_=-1), "int4"),
        *[item for c in units for item in ((sa.func.coalesce(sa.cast(units[c], sa.BigInteger), 0), "int8"),
                                           (b.c[c].is_(None), "bool"))],
        (flag_code, "int4"),
    ]) if keys else None
    if columns is not None and not (columns[1] < 0).any():  # else a metric key this run does not write
        columns[1] = metric_keys[columns[1]]
    else:
        texts = joined_texts(ctx, b, [b.c.leaid, b.c.metric, *map(as_text, units.values()), as_text(flag_code)],
                             [b.c.leaid, b.c.metric])
        columns = [_tokens(texts[0]), _tokens(texts[1]),
                  *_units(texts[2]), *_units(texts[3]), _tokens(texts[4], np.int64)]
    text, columns = _like(np.array(leaids, dtype=str), columns)
    stored = Rows(columns[0], columns[1], columns[2:])
    new = Rows(text[owner], metric_keys[metric],
               [np.where(average_null, 0, average), average_null, np.where(versus_null, 0, versus), versus_null, group])
    changed, differ = _differences(new, stored)
    changes.rows[b.name] = changed
    changes.districts |= differ

    def columns_of(chosen_owners: set[str] | None) -> list[list]:
        chosen = _chosen(owner, names, chosen_owners)
        return [Coded(owner[chosen], names), Coded(metric[chosen], np.array(keys, dtype=object)),
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
