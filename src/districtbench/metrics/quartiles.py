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

PostgreSQL ranks differently, for speed (eight window sorts of the whole table cost ~0.2 s
at national scale): one pass over `districts` gathers, per state and metric, the sorted
array of the values in whole units of their last decimal (exact integers); then a district's
RANK() in its state is 1 + the number of those below its value, which `width_bucket(value −
1, sorted array)` finds by binary search, and the count is the array's length. SQLite has
neither arrays nor width_bucket: it keeps the partitioned windows.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.elements import ColumnElement

from districtbench.db import tables
from districtbench.metrics.arith import Arith, column_range, column_scale, int_div, lit, pow10
from districtbench.metrics.definitions import METRICS

FLAGS = {1: "well_below", 2: "below", 3: "above", 4: "well_above"}
MIN_DISTRICTS = 4
BIGINT_LIMIT = 2**62


def _rank(metric_index: int) -> str:
    return f"quartile_rank_{metric_index}"


def _count(metric_index: int) -> str:
    return f"quartile_count_{metric_index}"


def ranked_districts(arith: Arith, d: sa.FromClause) -> sa.Subquery:
    """The districts `d` (`districts` or its current values) with, per metric, the value's
    RANK() in its state and the number of districts of the state with a value."""
    if arith.postgresql:
        return _ranked_by_buckets(arith, d)
    windows = []
    for index, metric in enumerate(METRICS):
        column = d.c[metric.district_column]
        scale = column_scale(tables.districts.c[metric.district_column])
        state = arith.binary(d.c.state_fips)
        # NULLS LAST: a NULL is never counted as smaller (its own rank does not matter: no flag).
        windows.append(
            sa.func.rank()
            .over(partition_by=state, order_by=arith.sort_key(column, scale).nulls_last())
            .label(_rank(index))
        )
        windows.append(sa.func.count(column).over(partition_by=state).label(_count(index)))
    values = [d.c[metric.district_column] for metric in METRICS]
    return sa.select(d.c.leaid, d.c.state_fips, *values, *windows).subquery("ranked")


def _ranked_by_buckets(arith: Arith, d: sa.FromClause) -> sa.Subquery:
    """PostgreSQL form of `ranked_districts` (same columns, same values; module doc)."""
    # The values and their units, read once: a CTE used twice is computed once (`d` is a
    # join of `districts` and this run's staging tables).
    units = (
        sa.select(
            d.c.leaid,
            d.c.state_fips,
            *[d.c[metric.district_column] for metric in METRICS],
            *[_units(arith, d, metric.district_column).label(f"units_{index}") for index, metric in enumerate(METRICS)],
        )
        .cte("metric_units")
    )
    values = [units.c[metric.district_column] for metric in METRICS]
    unit_values = [units.c[f"units_{index}"] for index in range(len(METRICS))]
    sorted_values = (
        sa.select(
            units.c.state_fips,
            *[
                sa.func.array_agg(aggregate_order_by(unit, unit)).filter(unit.is_not(None)).label(f"sorted_{index}")
                for index, unit in enumerate(unit_values)
            ],
        )
        .group_by(units.c.state_fips)
        .subquery("sorted_values")
    )
    windows = []
    for index, unit in enumerate(unit_values):
        sorted_units = sorted_values.c[f"sorted_{index}"]
        smaller = sa.func.width_bucket(unit - lit(1), sorted_units)  # values ≤ unit − 1, i.e. < unit
        windows.append((smaller + lit(1)).label(_rank(index)))
        windows.append(sa.func.coalesce(sa.func.cardinality(sorted_units), lit(0)).label(_count(index)))
    joined = units.outerjoin(sorted_values, sorted_values.c.state_fips == units.c.state_fips)
    # OFFSET 0 keeps the subquery from being merged into its caller, which would search each
    # array once per use of the rank (the flag formula uses it three times).
    ranked = sa.select(units.c.leaid, units.c.state_fips, *values, *windows).select_from(joined).offset(0)
    return ranked.subquery("ranked")


def _units(arith: Arith, d: sa.FromClause, name: str) -> ColumnElement:
    """The value of column `name` in whole units of its last decimal (exact: the column has
    that scale), as a BIGINT when every value fits one."""
    typed = tables.districts.c[name]
    scale = column_scale(typed)
    units = arith.exact(d.c[name], scale)
    if column_range(typed)[1] * pow10(scale) < BIGINT_LIMIT:
        units = sa.cast(units, sa.BigInteger)
    return units


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
