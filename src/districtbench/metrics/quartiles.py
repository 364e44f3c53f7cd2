"""Within-state quartile flags of the eight metrics.

The rule (metrics.md): per metric and state, over the districts whose value is not NULL,
rank by value ascending (ties broken by leaid), cut into 4 groups as NTILE(4) does, then give
every district of a tie group the group of the first district of that tie. Fewer than 4
districts with a value: no flags. A district with enrollment 0 is not ranked (no flag, and
not counted among the state's districts with a value).

The first district of a tie group sits at row number RANK() = 1 + the number of smaller
values, and NTILE(4) puts the first R = n mod 4 groups at q + 1 rows and the others at
q = n div 4 rows, so groups 1–3 end at rows b_k = k·q + min(k, R). Equal values always
share a flag, and neither the leaid tie-break nor the order of the rows can change it.
Two ways to the same flags:

* SQLite: two window functions per metric give each district RANK() and n, and the group is
  the first k with RANK() ≤ b_k (`ntile_group`).
* PostgreSQL (faster: eight window sorts of the whole table cost ~0.2 s at national scale):
  RANK() > b_k exactly when at least b_k values are smaller than the district's, i.e. when
  the b_k-th smallest value of the state is. So one pass over the districts gathers, per
  state and metric, the sorted values (an array) and keeps its values at rows b_1, b_2,
  b_3; a district's group is 1 + the number of those below its own value — three
  comparisons, no rank at all.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.sql.elements import ColumnElement

from districtbench.db import tables
from districtbench.metrics.arith import Arith, column_scale, int_div, lit
from districtbench.metrics.definitions import METRICS

FLAGS = {1: "well_below", 2: "below", 3: "above", 4: "well_above"}
MIN_DISTRICTS = 4
BOUNDARIES = (1, 2, 3)  # the ends of groups 1–3


def _rank(metric_index: int) -> str:
    return f"quartile_rank_{metric_index}"


def _count(metric_index: int) -> str:
    return f"quartile_count_{metric_index}"


def _boundary(metric_index: int, group: int) -> str:
    return f"quartile_end_{metric_index}_{group}"


def _ranked_value(metric_index: int) -> str:
    return f"quartile_value_{metric_index}"


def rankable(d: sa.FromClause, column: str) -> ColumnElement:
    """The value that is ranked: none for a district with enrollment 0."""
    return sa.case((d.c.enrollment == lit(0), sa.null()), else_=d.c[column])


def ranked_districts(arith: Arith, d: sa.FromClause) -> sa.Subquery:
    """The districts `d` (`districts` or its current values, with `enrollment`) with their
    values and, per metric, the value ranked (`rankable`), the number of districts of the
    state with one and what `quartile_flag` compares: RANK() in the state (SQLite) or the
    state's three group-boundary values (PostgreSQL)."""
    if arith.postgresql:
        return _with_boundaries(d)
    windows = []
    for index, metric in enumerate(METRICS):
        column = rankable(d, metric.district_column)
        scale = column_scale(tables.districts.c[metric.district_column])
        state = arith.binary(d.c.state_fips)
        # NULLS LAST: a NULL is never counted as smaller (its own rank does not matter: no flag).
        windows.append(
            sa.func.rank()
            .over(partition_by=state, order_by=arith.exact(column, scale).nulls_last())  # equal values tie
            .label(_rank(index))
        )
        windows.append(sa.func.count(column).over(partition_by=state).label(_count(index)))
        windows.append(column.label(_ranked_value(index)))
    values = [d.c[metric.district_column] for metric in METRICS]
    return sa.select(d.c.leaid, d.c.state_fips, *values, *windows).subquery("ranked")


def _with_boundaries(d: sa.FromClause) -> sa.Subquery:
    """PostgreSQL form of `ranked_districts` (module doc)."""
    # Read once: a CTE used twice is computed once (`d` joins `districts` and this run's
    # staging tables).
    current = sa.select(
        d.c.leaid,
        d.c.state_fips,
        *[d.c[m.district_column] for m in METRICS],
        *[rankable(d, m.district_column).label(_ranked_value(i)) for i, m in enumerate(METRICS)],
    ).cte("metric_values")
    per_state = []
    for index, metric in enumerate(METRICS):
        value = current.c[_ranked_value(index)]
        count = sa.func.count(value)
        q, r = int_div(count, lit(4)), count % lit(4)
        ordered = sa.type_coerce(
            sa.func.array_agg(aggregate_order_by(value, value)).filter(value.is_not(None)), ARRAY(value.type)
        )
        per_state.append(count.label(_count(index)))
        # Expressions over the aggregates of a GROUP BY: worked out once per state (an
        # identical array_agg is computed once however often it appears).
        per_state += [
            ordered[lit(k) * q + sa.func.least(lit(k), r)].label(_boundary(index, k)) for k in BOUNDARIES
        ]
    boundaries = sa.select(current.c.state_fips, *per_state).group_by(current.c.state_fips).subquery("boundaries")
    values = [current.c[metric.district_column] for metric in METRICS]
    values += [current.c[_ranked_value(index)] for index in range(len(METRICS))]
    per_district = [
        boundaries.c[_count(index)] if k == 0 else boundaries.c[_boundary(index, k)]
        for index in range(len(METRICS))
        for k in (0, *BOUNDARIES)
    ]
    joined = current.outerjoin(boundaries, boundaries.c.state_fips == current.c.state_fips)
    ranked = sa.select(current.c.leaid, current.c.state_fips, *values, *per_district).select_from(joined)
    return ranked.subquery("ranked")


def ntile_group(rank: ColumnElement, count: ColumnElement) -> ColumnElement:
    q = int_div(count, lit(4))
    r = count - q * lit(4)
    big = r * (q + lit(1))  # rows in the first R groups, of q + 1 rows each
    return sa.case(
        (rank <= big, int_div(rank - lit(1), q + lit(1)) + lit(1)),
        else_=r + int_div(rank - lit(1) - big, q) + lit(1),
    )


def quartile_flag(arith: Arith, ranked: sa.Subquery, metric_index: int) -> ColumnElement:
    """The flag of the metric for a row of `ranked_districts` (NULL: no value, < 4 values)."""
    value, count = ranked.c[_ranked_value(metric_index)], ranked.c[_count(metric_index)]
    has_flag = sa.and_(value.is_not(None), sa.func.coalesce(count, lit(0)) >= lit(MIN_DISTRICTS))
    if arith.postgresql:
        above = [(value > ranked.c[_boundary(metric_index, k)], sa.literal(FLAGS[k + 1])) for k in reversed(BOUNDARIES)]
        return sa.case((sa.not_(has_flag), sa.null()), *above, else_=sa.literal(FLAGS[1]))
    group = sa.case((has_flag, ntile_group(ranked.c[_rank(metric_index)], count)), else_=sa.null())
    return sa.case({number: sa.literal(label) for number, label in FLAGS.items()}, value=group, else_=sa.null())
