"""Within-state quartile flags of the eight metrics.

The rule (metrics.md): per metric and state, over the districts whose value is not NULL,
rank by value ascending (ties broken by leaid), cut into 4 groups as NTILE(4) does, then give
every district of a tie group the group of the first district of that tie. Fewer than 4
districts with a value: no flags.

Computed without materialising the NTILE: the first district of a tie group sits at row
number RANK() (1 + the number of smaller values), and NTILE(4) puts row r of n rows in
group  r ≤ R·(q+1) ? (r−1) div (q+1) + 1 : R + (r−1−R·(q+1)) div q + 1,  with q = n div 4 and
R = n mod 4 (the first R groups hold one row more). So the flag is that formula at
r = RANK() — equal values always share it, and neither the leaid tie-break nor the order of
the rows can change it. One scan of `districts`, two window functions per metric.

PostgreSQL ranks differently, for speed (a sort on (state, value) costs about three times
one on a single key there): every metric's value gets a key `state number · 2·10^p + value
in units of 10^-s` (NUMERIC(p,s) holds |value| < 10^(p−s), so each state's keys form their
own interval, in state order, and equal values of a state get equal keys). RANK() over the
key in the whole table, minus the lowest such rank in the state, plus 1, is the RANK() in
the state (NULLs sort last, so they count as smaller in neither). That is eight single-key
sorts and one sort by state for all the counts and minima. SQLite does not enforce the
declared precision (a key could leave its interval) and gains nothing from it: it keeps
the partitioned windows.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from districtbench.db import tables
from districtbench.metrics.arith import Arith, column_range, column_scale, int_div, lit, pow10
from districtbench.metrics.definitions import METRICS

FLAGS = {1: "well_below", 2: "below", 3: "above", 4: "well_above"}
MIN_DISTRICTS = 4


def _rank(metric_index: int) -> str:
    return f"quartile_rank_{metric_index}"


def _count(metric_index: int) -> str:
    return f"quartile_count_{metric_index}"


def ranked_districts(arith: Arith) -> sa.Subquery:
    """`districts` with, per metric, the value's RANK() in its state and the number of
    districts of the state with a value."""
    if arith.postgresql:
        return _ranked_by_keys(arith)
    d = tables.districts
    windows = []
    for index, metric in enumerate(METRICS):
        column = d.c[metric.district_column]
        state = arith.binary(d.c.state_fips)
        # NULLS LAST: a NULL is never counted as smaller (its own rank does not matter: no flag).
        windows.append(
            sa.func.rank()
            .over(partition_by=state, order_by=arith.sort_key(column, column_scale(column)).nulls_last())
            .label(_rank(index))
        )
        windows.append(sa.func.count(column).over(partition_by=state).label(_count(index)))
    values = [d.c[metric.district_column] for metric in METRICS]
    return sa.select(d.c.leaid, d.c.state_fips, *values, *windows).subquery("ranked")


def _ranked_by_keys(arith: Arith) -> sa.Subquery:
    """PostgreSQL form of `ranked_districts` (same columns, same values; module doc)."""
    d, s = tables.districts, tables.states
    numbered = sa.select(
        s.c.fips, sa.func.row_number().over(order_by=arith.binary(s.c.fips)).label("state_number")
    ).subquery("numbered")
    values = [d.c[metric.district_column] for metric in METRICS]
    keys = []
    for index, column in enumerate(values):
        scale = column_scale(column)
        span = 2 * int(column_range(column)[1] * pow10(scale) + 1)  # > every |value| in units, twice
        keys.append((numbered.c.state_number * lit(span) + arith.exact(column, scale)).label(f"quartile_key_{index}"))
    keyed = (
        sa.select(d.c.leaid, d.c.state_fips, *values, *keys)
        .select_from(d.join(numbered, numbered.c.fips == d.c.state_fips))
        .subquery("keyed")
    )
    overall = sa.select(
        keyed,
        *[
            sa.func.rank().over(order_by=keyed.c[f"quartile_key_{index}"]).label(f"quartile_overall_{index}")
            for index in range(len(METRICS))
        ],
    ).subquery("overall")
    state = arith.binary(overall.c.state_fips)
    windows = []
    for index, metric in enumerate(METRICS):
        first = sa.func.min(overall.c[f"quartile_overall_{index}"]).over(partition_by=state)
        windows.append((overall.c[f"quartile_overall_{index}"] - first + lit(1)).label(_rank(index)))
        windows.append(sa.func.count(overall.c[metric.district_column]).over(partition_by=state).label(_count(index)))
    carried = [overall.c[metric.district_column] for metric in METRICS]
    return sa.select(overall.c.leaid, overall.c.state_fips, *carried, *windows).subquery("ranked")


def ntile_group(rank: ColumnElement, count: ColumnElement) -> ColumnElement:
    q = int_div(count, lit(4))
    r = count - q * lit(4)
    big = r * (q + lit(1))  # rows in the first R groups, of q + 1 rows each
    return sa.case(
        (rank <= big, int_div(rank - lit(1), q + lit(1)) + lit(1)),
        else_=r + int_div(rank - lit(1) - big, q) + lit(1),
    )


def quartile_flag(ranked: sa.Subquery, metric_index: int) -> ColumnElement:
    """The flag of the metric for a row of `ranked_districts` (NULL: no value, < 4 values)."""
    metric = METRICS[metric_index]
    rank, count = ranked.c[_rank(metric_index)], ranked.c[_count(metric_index)]
    has_flag = sa.and_(ranked.c[metric.district_column].is_not(None), count >= lit(MIN_DISTRICTS))
    group = sa.case((has_flag, ntile_group(rank, count)), else_=sa.null())
    return sa.case({number: sa.literal(label) for number, label in FLAGS.items()}, value=group, else_=sa.null())
