"""The as-of year and the trend base year of every series (`definitions.SERIES`) in every state.

A series is a measure's rows: the history rows of one source with every one of its columns
non-NULL (`enrollment`; `spec_ed_students` and `enrollment` for the special-education share).
Per state and series:

* latest (as-of) year: the latest year in which at least one district of the state has such
  a row. A CCD directory year that brings enrollment but no English-learner counts moves the
  enrollment's year, not the English-learner share's;
* base year of the 3-year trends: among the state's earlier years of the series, those within
  latest − 4 … latest − 2, the one closest to latest − 3, the earlier one on a tie (CRDC 2013,
  2015, 2017, 2020 → 2017). None in that window: no base year, and the trends are NULL;
* previous year: the latest year before the latest one, in the window or not (so a missing
  base year can be told from a series that has a single year).

Two statements: one pass over the history counts, per (state, source, year), the rows each
series could use; the years are picked from those few thousand counts. The pass has one form
per database: PostgreSQL hash-aggregates the counts; SQLite (whose GROUP BY sorts every row
first: 3–4× slower here) de-duplicates (state, source, year, which columns are non-NULL as a
bit mask) as it goes and groups the few thousand distinct rows.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from districtbench.db.layout import Layout
from districtbench.metrics.arith import lit
from districtbench.metrics.context import RunContext
from districtbench.metrics.definitions import SERIES, Series

TARGET_GAP = 3  # a "3-year" trend: base year latest − 3 …
MIN_GAP, MAX_GAP = 2, 4  # … or, if the state has no data that year, another within latest − 4 … latest − 2


def series_years(ctx: RunContext) -> sa.Table:
    """Staging table (state_fips, series, latest_year, base_year, previous_year), built once
    per run: one row per state and series (its number in SERIES) that has data."""
    return ctx.memo("series_years", lambda: _build(ctx))  # type: ignore[return-value]


def series_year_rows(ctx: RunContext) -> list[sa.Row]:
    """The rows of `series_years` (a few hundred), read once per run."""
    return ctx.memo("series_year_rows", lambda: ctx.connection.execute(sa.select(series_years(ctx))).all())  # type: ignore[return-value]


def _build(ctx: RunContext) -> sa.Table:
    query = counts_query(ctx.tables) if ctx.arith.postgresql else counts_query_by_mask(ctx.tables)
    counts = ctx.stage_as("series_counts", query, key=("state_fips", "source", "year"))
    return ctx.stage_as("series_years", years_query(counts), key=("state_fips", "series"))


def count_label(number: int) -> str:
    return f"rows_{number}"


def _complete(h: sa.Table, series: Series) -> ColumnElement:
    """Rows that hold every column of the series: counted by COUNT(column) when it is one."""
    if len(series.columns) == 1:
        return sa.func.count(h.c[series.columns[0]])
    every = sa.and_(*[h.c[column].is_not(None) for column in series.columns])
    return sa.func.count(sa.case((every, lit(1))))


def counts_query(t: Layout) -> sa.Select:
    """Per (state, source, year): the number of history rows of each series, over the app's
    tables of layout `t`. A series' count is only read for its own source's rows
    (`years_query`)."""
    d, h = t.districts, t.district_data_history
    counted = [_complete(h, series).label(count_label(number)) for number, series in enumerate(SERIES)]
    return (
        sa.select(d.c.state_fips, h.c.source, h.c.year, *counted)
        .select_from(h.join(d, d.c.leaid == h.c.leaid))
        .group_by(d.c.state_fips, h.c.source, h.c.year)
    )


def counts_query_by_mask(t: Layout) -> sa.Select:
    """`counts_query`'s rows with a 1 where the series has rows (SQLite form, module doc)."""
    d, h = t.districts, t.district_data_history
    columns = list(dict.fromkeys(column for series in SERIES for column in series.columns))
    bit = {column: 1 << index for index, column in enumerate(columns)}
    mask = sum(  # (x IS NOT NULL) is 0 or 1 in SQLite
        (sa.type_coerce(h.c[column].is_not(None), sa.Integer) * lit(bit[column]) for column in columns[1:]),
        sa.type_coerce(h.c[columns[0]].is_not(None), sa.Integer) * lit(bit[columns[0]]),
    ).label("mask")
    patterns = (
        sa.select(d.c.state_fips, h.c.source, h.c.year, mask)
        .select_from(h.join(d, d.c.leaid == h.c.leaid))
        .distinct()
        .subquery("patterns")
    )
    present = []
    for number, series in enumerate(SERIES):
        bits = lit(sum(bit[column] for column in series.columns))
        present.append(sa.func.max(sa.case((patterns.c.mask.op("&")(bits) == bits, lit(1)), else_=lit(0))).label(count_label(number)))
    key = (patterns.c.state_fips, patterns.c.source, patterns.c.year)
    return sa.select(*key, *present).group_by(*key)


def years_query(counts: sa.FromClause) -> sa.Select:
    present = sa.union_all(
        *[
            sa.select(counts.c.state_fips, lit(number).label("series"), counts.c.year).where(
                counts.c.source == series.source, counts.c[count_label(number)] > 0
            )
            for number, series in enumerate(SERIES)
        ]
    ).cte("present")
    key = (present.c.state_fips, present.c.series)
    latest = sa.select(*key, sa.func.max(present.c.year).label("latest_year")).group_by(*key).cte("latest")
    same_series = sa.and_(present.c.state_fips == latest.c.state_fips, present.c.series == latest.c.series)
    target = latest.c.latest_year - lit(TARGET_GAP)
    in_window = present.c.year.between(latest.c.latest_year - lit(MAX_GAP), latest.c.latest_year - lit(MIN_GAP))
    # The earlier years of each series, best base candidate first: in the window, closest to
    # latest − 3, the earlier one. Rank 1 is the base year if it lies in the window.
    earlier = (
        sa.select(
            *key,
            sa.case((in_window, present.c.year)).label("base_year"),
            sa.func.max(present.c.year).over(partition_by=key).label("previous_year"),
            sa.func.row_number()
            .over(
                partition_by=key,
                order_by=(sa.case((in_window, lit(0)), else_=lit(1)), sa.func.abs(present.c.year - target), present.c.year),
            )
            .label("rank"),
        )
        .select_from(present.join(latest, same_series))
        .where(present.c.year < latest.c.latest_year)
        .subquery("earlier")
    )
    return sa.select(
        latest.c.state_fips, latest.c.series, latest.c.latest_year, earlier.c.base_year, earlier.c.previous_year
    ).select_from(
        latest.outerjoin(
            earlier,
            sa.and_(
                earlier.c.state_fips == latest.c.state_fips, earlier.c.series == latest.c.series, earlier.c.rank == 1
            ),
        )
    )
