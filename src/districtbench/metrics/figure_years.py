"""Recording the year of each figure a family computes, per state, in districtbench's own
`districtbench_figure_years` (read back by `reporting.provenance`).

A family records the figures it writes (`definitions.FIGURES`): the as-of year of the
figure's series in each state that has one and the history source of that year's rows
there, and for a trend the base year it compares with (NULL where the state has no base
year in the window) and its source. Only rows that differ are deleted and
inserted, so a re-run with unchanged data writes nothing here either.
"""

from __future__ import annotations

from typing import Iterable

import sqlalchemy as sa

from districtbench.db import tables
from districtbench.metrics.context import RunContext
from districtbench.metrics.definitions import SERIES, Figure
from districtbench.metrics.years import series_year_rows

Key = tuple[str, str]  # (state_fips, figure)
Years = tuple[int, int | None, str, str | None]  # year, base_year, source, base_source


def record(ctx: RunContext, figures: Iterable[Figure]) -> None:
    figures = list(figures)
    by_series: dict[int, list[Figure]] = {}
    for figure in figures:
        by_series.setdefault(SERIES.index(figure.series), []).append(figure)
    wanted: dict[Key, Years] = {}
    for row in series_year_rows(ctx):
        for figure in by_series.get(row.series, ()):
            base = (row.base_year, row.base_source) if figure.trend else (None, None)
            wanted[(row.state_fips, figure.column)] = (row.latest_year, base[0], row.latest_source, base[1])

    t = tables.figure_years
    stored = ctx.connection.execute(
        sa.select(t.c.state_fips, t.c.figure, t.c.year, t.c.base_year, t.c.source, t.c.base_source).where(
            t.c.figure.in_([figure.column for figure in figures])
        )
    ).all()
    current = {(row.state_fips, row.figure): (row.year, row.base_year, row.source, row.base_source) for row in stored}
    stale = [key for key, years in current.items() if wanted.get(key) != years]
    new = [key for key, years in wanted.items() if current.get(key) != years]
    if stale:
        delete = t.delete().where(t.c.state_fips == sa.bindparam("key_state"), t.c.figure == sa.bindparam("key_figure"))
        ctx.connection.execute(delete, [{"key_state": state, "key_figure": figure} for state, figure in stale])
    if new:
        ctx.connection.execute(
            t.insert(),
            [dict(zip(("state_fips", "figure", "year", "base_year", "source", "base_source"), (s, f, *wanted[(s, f)])))
             for s, f in new],
        )
