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
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from districtbench.db import tables
from districtbench.metrics.arith import Arith, column_scale, int_div, lit
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
    d = tables.districts
    windows = []
    for index, metric in enumerate(METRICS):
        column = d.c[metric.district_column]
        state = arith.binary(d.c.state_fips)
        windows.append(
            sa.func.rank()
            .over(partition_by=(state, column.is_(None)), order_by=arith.sort_key(column, column_scale(column)))
            .label(_rank(index))
        )
        windows.append(sa.func.count(column).over(partition_by=state).label(_count(index)))
    values = [d.c[metric.district_column] for metric in METRICS]
    return sa.select(d.c.leaid, d.c.state_fips, *values, *windows).subquery("ranked")


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
