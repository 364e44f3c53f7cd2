"""The peer benchmarks of the `peers` family (module doc of `peers`), in numpy.

The averages family's pooled sums (`averages.pooled_sums`) are sums over a group's districts
of one expression per district (`averages.Part.row`). SQL computes those expressions once
per district, as whole numbers of units (`arith.WholeUnits`: exactly what the SQLite form of
the state averages adds up); numpy adds them up over each district's peers (int64, or Python
integers where int64 could overflow) and rounds each quotient half away from zero exactly
as `Arith.rounded` does, with the fallback of `averages.group_values`. A NULL expression adds
nothing, as in SQL (a denominator of 0 or none gives NULL either way). The flags count, among
the district and its peers, the values and the smaller values (`quartiles.ntile_group`'s rule).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa

from districtbench.db import binary_copy, tables
from districtbench.metrics import averages
from districtbench.metrics.arith import WholeUnits, column_scale, lit
from districtbench.metrics.context import RunContext
from districtbench.metrics.definitions import METRICS
from districtbench.metrics.quantities import RESULT_SCALE
from districtbench.metrics.quartiles import MIN_DISTRICTS

NULL_FIELD = "\\N"  # NULL in COPY's text format
LIMIT = 2**62  # int64 arithmetic stays below this; beyond, Python integers
for _metric in METRICS:  # values, averages and differences share one scale (one unit)
    assert column_scale(tables.districts.c[_metric.district_column]) == RESULT_SCALE, _metric.key


@dataclass
class MetricMarks:
    """Per eligible district (rows of the peer arrays): the peer average and the difference
    in units of 10^-RESULT_SCALE (NULL where `*_null`), and the quartile group 1–4 (0: none)."""

    average: np.ndarray
    average_null: np.ndarray
    versus: np.ndarray
    versus_null: np.ndarray
    group: np.ndarray


def integers(values) -> np.ndarray:
    """A column of whole numbers as read — integers or their text — (NULL counted as 0):
    int64, or Python integers (dtype object) where int64 would not hold them."""
    array = np.array(values, dtype=object)
    array[array == None] = 0  # noqa: E711 (elementwise)
    try:
        return array.astype(np.int64)
    except OverflowError:
        return np.array([int(v) for v in array], dtype=object)


def _widened(a: np.ndarray, factor: int) -> np.ndarray:
    """`a` as Python integers if `a` × factor could leave int64's safe range."""
    if a.dtype == object or not len(a):
        return a
    return a.astype(object) if int(np.abs(a).max()) * factor >= LIMIT else a


def _rounded(num: np.ndarray, den: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """`num / den` rounded half away from zero to `scale` decimals, in units (`Arith.rounded`);
    NULL where den ≤ 0."""
    null = den <= 0
    unit = 10**scale
    num, den = _widened(num, 2 * unit + 1), _widened(den, 2 * unit + 1)
    safe = np.where(null, 1, den)
    magnitude = (2 * unit * np.abs(num) + safe) // (2 * safe)
    return np.where(num < 0, -magnitude, magnitude), null


def _summand(arith: WholeUnits, part: averages.Part) -> sa.ColumnElement:
    if part.how == "count":
        row = sa.case((part.row.is_not(None), lit(1)), else_=lit(0))
    else:
        row = sa.func.coalesce(part.row, lit(0))
    return row


def _fetched(arith: WholeUnits, expr: sa.ColumnElement) -> sa.ColumnElement:
    """PostgreSQL: a whole NUMERIC as its text (read as an exact integer of any size, and the
    expression evaluated once: a CASE keeping it to BIGINT would evaluate it twice)."""
    return sa.cast(expr, sa.Text) if arith.postgresql else expr


def read(ctx: RunContext, d: sa.FromClause, also: tuple[str, ...]) -> tuple[dict, dict]:
    """Per column label, its values over every district of `d` (`averages.district_inputs`)
    in leaid order: `leaid`, each metric's value and the summands of its pooled sums (whole
    units), and the columns `also` as stored (labelled `stored_` + name); and the pooled sums."""
    arith = WholeUnits(ctx.connection.dialect.name)
    sums = averages.pooled_sums(arith, d)
    selected = {"leaid": d.c.leaid, **{f"stored_{name}": d.c[name] for name in also},
                "no_rank__": sa.case((d.c.enrollment == lit(0), lit(1)), else_=lit(0))}
    for metric in METRICS:
        # values fit: they are bounded by their column's type
        selected[metric.key] = _fetched(arith, arith.exact(d.c[metric.district_column], RESULT_SCALE))
        for suffix, part in sums[metric.average_column].parts().items():
            selected[f"{metric.key}__{suffix}"] = _fetched(arith, _summand(arith, part))
    query = sa.select(*[e.label(k) for k, e in selected.items()]).order_by(ctx.arith.binary(d.c.leaid))
    if ctx.arith.postgresql:
        text = binary_copy.copied(ctx.connection, query)
        columns = copy_columns(text, list(selected))
        if columns is not None:
            return columns, sums
    columns = _fetched_columns(ctx, query, selected)
    # summands (and `no_rank__`) as whole numbers; values, `leaid` and `also` as read
    return {key: integers(values) if "__" in key else np.array(values, dtype=object)
            for key, values in columns.items()}, sums


def _fetched_columns(ctx: RunContext, query: sa.Select, selected: dict[str, sa.ColumnElement]) -> dict[str, tuple]:
    """The rows of `query` column by column, as the driver gives them, but for the `stored_`
    columns, which get their type's conversion (Decimal for a NUMERIC on SQLite) as a
    SQLAlchemy row would: the rest are whole numbers and text, which need none, and building
    ~19,000 rows of ~45 columns as SQLAlchemy rows costs ~0.1 s."""
    dialect = ctx.connection.dialect
    result = ctx.connection.execute(query)
    try:
        rows = result.cursor.fetchall()
    finally:
        result.close()
    if not rows:
        return {key: () for key in selected}
    columns = dict(zip(selected, zip(*rows)))
    for key, expr in selected.items():
        convert = expr.type.dialect_impl(dialect).result_processor(dialect, None) if key.startswith("stored_") else None
        if convert is not None:
            columns[key] = tuple(map(convert, columns[key]))
    return columns


def copy_columns(text: str, labels: list[str]) -> dict | None:
    """The columns `labels` of COPY's text format — tab- and newline-separated fields, split
    in one go instead of a Python object per row — with the types `read` gives them (summands
    as whole numbers, `stored_` columns as `tables.districts` types them, the rest as text;
    NULL as None); None where a field holds an escape (a backslash) other than NULL's, so
    that its text is not its value, or the fields do not make whole rows."""
    if text.count("\\") != text.count(NULL_FIELD):
        return None
    fields = np.array(text.replace("\t", "\n").split("\n")[:-1] if text else [], dtype=object)
    if len(fields) % len(labels):
        return None
    null = fields == NULL_FIELD
    table = fields.reshape(-1, len(labels))
    nulls = null.reshape(-1, len(labels))
    columns = {}
    for index, label in enumerate(labels):
        column, missing = table[:, index], nulls[:, index]
        if "__" in label:
            columns[label] = integers(np.where(missing, "0", column))
            continue
        kind = tables.districts.c[label[len("stored_"):]].type.python_type if label.startswith("stored_") else str
        values = column.copy()
        if kind is not str:
            values[~missing] = [kind(v) for v in column[~missing].tolist()]
        values[missing] = None
        columns[label] = values
    return columns


def marks(columns: dict, sums: dict, peers: np.ndarray) -> dict[str, MetricMarks]:
    """Per metric key, the marks of the districts of `columns` (`read`'s, of the eligible
    districts only) whose peers are `peers` (row indices, −1 padding)."""
    n = len(peers)
    padded = np.where(peers < 0, n, peers)  # row n: zeros / not a value
    circle = np.concatenate([np.arange(n)[:, None], padded], axis=1)  # itself and its peers
    no_rank = columns["no_rank__"].astype(bool)
    out = {}
    for metric in METRICS:
        s = sums[metric.average_column]

        def total(suffix: str, factor: int) -> np.ndarray:
            summands = _widened(columns[f"{metric.key}__{suffix}"], peers.shape[1] + 1)
            summed = np.append(summands, 0)[padded]
            return _widened(summed.sum(axis=1), factor) * factor

        parts = s.parts()
        average, null = _rounded(total("num", parts["num"].factor), total("den", parts["den"].factor), s.decimals)
        if s.fallback is not None:
            fb_num, fb_den = s.fallback
            fallback, fb_null = _rounded(total("fbnum", fb_num.factor), total("fbden", fb_den.factor), s.decimals)
            use = total("missing", parts["missing"].factor) > 0
            average, null = np.where(use, fallback, average), np.where(use, fb_null, null)
        raw = columns[metric.key]
        value_null = np.append(raw == None, True)  # noqa: E711 (elementwise)
        values = integers(np.append(raw, 0))
        versus_null = null | value_null[:n]
        versus = np.where(versus_null, 0, values[:n] - np.where(null, 0, average))
        ranked = ~(value_null | np.append(no_rank, True))
        valid = ranked[circle]
        members = values[circle]
        count = valid.sum(axis=1)
        smaller = (valid & (members < values[:n, None])).sum(axis=1)
        flagged = ranked[:n] & (count >= MIN_DISTRICTS)
        out[metric.key] = MetricMarks(average, null, versus, versus_null,
                                      np.where(flagged, _ntile(smaller + 1, np.maximum(count, 1)), 0))
    return out


def _ntile(rank: np.ndarray, count: np.ndarray) -> np.ndarray:
    """`quartiles.ntile_group` in numpy."""
    q = count // 4
    r = count - 4 * q
    big = r * (q + 1)
    return np.where(rank <= big, (rank - 1) // (q + 1) + 1, r + (rank - 1 - big) // np.maximum(q, 1) + 1)
