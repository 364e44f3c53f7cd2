"""Family `trends`: 3-year trends, each from its series' latest and base year in the
district's state (see `years`: the base year lies within latest − 4 … latest − 2). A
district's trend needs its own rows in both years.

"points" = latest − base; "percent_change" = 100 · (latest − base) / base, base > 0; the
trend list (eight metrics + enrollment and staffing) is `definitions.TRENDS`. A trend of a
ratio (students per teacher) compares the ratio in its own latest year with the ratio in its
base year, each from one row; an implausible ratio at either end makes the trend NULL
(counted). A district with a latest value in a state that has earlier years of the series
but none within the window gets NULL, counted in `FamilyOutcome.no_base_year`.
vacancy_pressure_signal = enrollment_trend_3yr − staffing_trend_3yr, from the stored values.
"""

from __future__ import annotations

import sqlalchemy as sa

from districtbench.db import tables
from districtbench.metrics import figure_years
from districtbench.metrics.apply import bounded
from districtbench.metrics.arith import lit
from districtbench.metrics.base import FamilyOutcome, MetricFamily
from districtbench.metrics.context import RunContext
from districtbench.metrics.definitions import FIGURES_BY_COLUMN, SERIES, SIGNAL, TRENDS
from districtbench.metrics.quantities import RESULT_SCALE, change, fraction, implausible_change
from districtbench.metrics.snapshot import ENDS, Snapshot, snapshot
from districtbench.metrics.years import series_year_rows
from districtbench.plugins.hookspecs import hookimpl


def _implausible(column: str) -> str:
    return f"{column}__implausible"


def compute(ctx: RunContext) -> FamilyOutcome:
    d, h = ctx.tables.districts, tables.district_data_history  # h: types of the history columns
    snap = snapshot(ctx)
    columns = [sa.Column("leaid", sa.String(7), primary_key=True)]
    computed, has_latest = [], []
    for trend in TRENDS:
        series = FIGURES_BY_COLUMN[trend.column].series
        ends = {
            end: fraction(ctx.arith, trend.quantity, lambda name, e=end, s=series: snap.value(s, name, e), h)
            for end in ENDS
        }
        columns.append(sa.Column(trend.column, sa.Numeric()))
        computed.append(change(ctx.arith, ends["latest"], ends["base"], trend.kind).label(trend.column))
        doubt = implausible_change(ends["latest"], ends["base"])
        if doubt is not None:
            columns.append(sa.Column(_implausible(trend.column), sa.Integer()))
            computed.append(sa.case((doubt, lit(1))).label(_implausible(trend.column)))
        latest = ends["latest"]
        value = sa.and_(*[snap.value(series, name).is_not(None) for name in trend.quantity.columns])
        has_latest.append(value if latest.valid is None else sa.and_(value, latest.valid))

    stage = ctx.stage("trends", *columns)
    ctx.fill(stage, sa.select(snap.leaid, *computed))

    outputs = []
    for trend in TRENDS:
        flag = stage.c.get(_implausible(trend.column))
        invalid = None if flag is None else flag == lit(1)
        outputs.append(bounded(d, trend.column, stage.c[trend.column], invalid=invalid, exact=True))
    signal, minuend, subtrahend = SIGNAL
    stored = {o.column: o.fitted() for o in outputs}  # what the trend columns will hold
    outputs.append(
        bounded(d, signal, ctx.arith.difference(stored[minuend], stored[subtrahend], RESULT_SCALE), exact=True)
    )
    changed, nulled = ctx.write_districts(stage, outputs)
    figure_years.record(ctx, [FIGURES_BY_COLUMN[trend.column] for trend in TRENDS])
    return FamilyOutcome(districts_updated=changed, nulled=nulled, no_base_year=_without_base(ctx, snap, has_latest))


def _without_base(ctx: RunContext, snap: Snapshot, has_latest: list[sa.ColumnElement]) -> dict[str, int]:
    """Per trend column: the districts with a latest value in states that have earlier years
    of the trend's series but none within the window (their trend is NULL). Counted per
    state, and only when some state lacks a base year."""
    lacking = {(row.state_fips, row.series) for row in series_year_rows(ctx)
               if row.base_year is None and row.previous_year is not None}
    if not lacking:
        return {}
    d = ctx.tables.districts
    counts = [sa.func.count(sa.case((condition, lit(1)))) for condition in has_latest]
    query = (
        sa.select(d.c.state_fips, *counts)
        .select_from(snap.table.join(d, d.c.leaid == snap.leaid))
        .group_by(d.c.state_fips)
    )
    totals: dict[str, int] = {}
    for state_fips, *per_trend in ctx.connection.execute(query):
        for trend, count in zip(TRENDS, per_trend):
            if count and (state_fips, SERIES.index(FIGURES_BY_COLUMN[trend.column].series)) in lacking:
                totals[trend.column] = totals.get(trend.column, 0) + int(count)
    return totals


FAMILY = MetricFamily(
    name="trends",
    runs_after=("latest",),
    columns=tuple(f"districts.{name}" for name in [t.column for t in TRENDS] + [SIGNAL[0]]),
    description="3-year trends: latest year vs a base year within latest − 4 … latest − 2, per measure and state.",
    compute=compute,
)


@hookimpl
def register_metric_families(register) -> None:
    register(FAMILY)
