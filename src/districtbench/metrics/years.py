"""The as-of year and the trend base year of every series (`definitions.SERIES`) in every state.

A series is a measure's rows: the history rows with every one of its columns non-NULL (`enrollment`; `spec_ed_students` and `enrollment` for the special-education share).
Per state and series, over the rows of the sources that provide the series' columns
(`metrics.measures`; in a year that several have, the rows of the first in precedence):

* latest (as-of) year: the latest year in which at least one district of the state has such
  a row. A CCD directory year that brings enrollment but no English-learner counts moves the
  enrollment's year, not the English-learner share's;
* base year of the 3-year trends: among the state's earlier years of the series, those within
  latest − 4 … latest − 2, the one closest to latest − 3, the earlier one on a tie (CRDC 2013,
  2015, 2017, 2020 → 2017). None in that window: no base year, and the trends are NULL;
* previous year: the latest year before the latest one, in the window or not (so a missing
  base year can be told from a series that has a single year).

One statement: one pass over the history counts, per (state, source, year), the rows each
series could use; the years (and the source of each, by precedence) are picked in Python
from those few thousand counts. The pass has one form per database: PostgreSQL hash-aggregates the counts; SQLite (whose GROUP BY sorts every row
first: 3–4× slower here) de-duplicates (state, source, year, which columns are non-NULL as a
bit mask) as it goes and groups the few thousand distinct rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from districtbench.db.layout import Layout
from districtbench.metrics.arith import lit
from districtbench.metrics.context import RunContext
from districtbench.metrics.definitions import SERIES, Series

TARGET_GAP = 3  # a "3-year" trend: base year latest − 3 …
MIN_GAP, MAX_GAP = 2, 4  # … or, if the state has no data that year, another within latest − 4 … latest − 2


@dataclass(frozen=True)
class SeriesYears:
    """The years of one series (its number in SERIES) in one state, and the history source
    its rows come from in each (`latest_source`, `base_source`: the first provider in
    precedence with such rows that year, `metrics.measures`)."""

    state_fips: str
    series: int
    latest_year: int
    base_year: int | None
    previous_year: int | None
    latest_source: str
    base_source: str | None


def series_year_rows(ctx: RunContext) -> list[SeriesYears]:
    """One row per state and series that has data (a few hundred), built once per run."""
    return ctx.memo("series_year_rows", lambda: _build(ctx))  # type: ignore[return-value]


def _build(ctx: RunContext) -> list[SeriesYears]:
    query = counts_query(ctx.tables) if ctx.arith.postgresql else counts_query_by_mask(ctx.tables)
    counts = ctx.connection.execute(query).all()
    providers = [ctx.measures.sources_of(series.columns) for series in SERIES]
    # (state, series) -> year -> the best provider's place in `providers` with rows that year
    present: dict[tuple[str, int], dict[int, int]] = {}
    for row in counts:
        for number, sources in enumerate(providers):
            if row.source in sources and row[3 + number]:
                years = present.setdefault((row.state_fips, number), {})
                rank = sources.index(row.source)
                years[row.year] = min(rank, years.get(row.year, rank))
    rows = []
    for (state_fips, number), years in sorted(present.items()):
        latest = max(years)
        earlier = [year for year in years if year < latest]
        base = pick_base_year(latest, earlier)
        sources = providers[number]
        rows.append(SeriesYears(
            state_fips, number, latest, base, max(earlier) if earlier else None,
            sources[years[latest]], sources[years[base]] if base is not None else None,
        ))
    return rows


def pick_base_year(latest: int, earlier: list[int]) -> int | None:
    """Among the earlier years, those within latest − 4 … latest − 2, the one closest to
    latest − 3 (the earlier one on a tie); None if there is none in the window."""
    window = [year for year in earlier if latest - MAX_GAP <= year <= latest - MIN_GAP]
    if not window:
        return None
    return min(window, key=lambda year: (abs(year - (latest - TARGET_GAP)), year))


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
