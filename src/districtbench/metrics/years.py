"""The as-of (latest) year and the trend base year of every history source in every state.

* latest year: the latest year with at least one row of the source for a district of the state;
* base year: among the state's other years of that source (strictly before the latest), the
  one closest to latest − 3, the earlier one on a tie (CRDC 2013, 2015, 2017, 2020 → 2017).
"""

from __future__ import annotations

import sqlalchemy as sa

from districtbench.db.layout import Layout
from districtbench.metrics.context import RunContext


def source_years(ctx: RunContext) -> sa.Table:
    """Staging table (state_fips, source, latest_year, base_year), built once per run."""
    return ctx.memo("source_years", lambda: _build(ctx))  # type: ignore[return-value]


def _build(ctx: RunContext) -> sa.Table:
    return ctx.stage_as("source_years", years_query(ctx.tables), key=("state_fips", "source"))


def years_query(t: Layout) -> sa.Select:
    """The years over the app's tables of layout `t` (`db.layout`)."""
    d, h = t.districts, t.district_data_history
    present = (
        sa.select(d.c.state_fips, h.c.source, h.c.year)
        .select_from(h.join(d, d.c.leaid == h.c.leaid))
        .distinct()  # SQLite de-duplicates as it goes; GROUP BY would sort every row first
        .cte("present")
    )
    latest = (
        sa.select(present.c.state_fips, present.c.source, sa.func.max(present.c.year).label("latest_year"))
        .group_by(present.c.state_fips, present.c.source)
        .cte("latest")
    )
    same_series = sa.and_(present.c.state_fips == latest.c.state_fips, present.c.source == latest.c.source)
    ranked = (
        sa.select(
            present.c.state_fips,
            present.c.source,
            present.c.year,
            sa.func.row_number()
            .over(
                partition_by=(present.c.state_fips, present.c.source),
                order_by=(sa.func.abs(present.c.year - (latest.c.latest_year - 3)), present.c.year),
            )
            .label("rank"),
        )
        .select_from(present.join(latest, same_series))
        .where(present.c.year < latest.c.latest_year)
        .subquery("ranked")
    )
    return sa.select(
        latest.c.state_fips, latest.c.source, latest.c.latest_year, ranked.c.year.label("base_year")
    ).select_from(
        latest.outerjoin(
            ranked,
            sa.and_(
                ranked.c.state_fips == latest.c.state_fips,
                ranked.c.source == latest.c.source,
                ranked.c.rank == 1,
            ),
        )
    )
