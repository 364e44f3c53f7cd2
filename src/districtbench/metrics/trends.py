"""Family `trends`: 3-year trends from each source's latest and base year in the district's
state (see `years`). A district's trend needs its own rows in both years.

"points" = latest − base; "percent_change" = 100 · (latest − base) / base, base > 0; the
trend list (eight metrics + enrollment and staffing) is `definitions.TRENDS`.
vacancy_pressure_signal = enrollment_trend_3yr − staffing_trend_3yr, from the stored values.
"""

from __future__ import annotations

import sqlalchemy as sa

from districtbench.db import tables
from districtbench.metrics.apply import apply_outputs, bounded
from districtbench.metrics.base import FamilyOutcome, MetricFamily
from districtbench.metrics.context import RunContext
from districtbench.metrics.definitions import SIGNAL, TRENDS
from districtbench.metrics.quantities import RESULT_SCALE, change, fraction
from districtbench.metrics.snapshot import ENDS, label, snapshot
from districtbench.plugins.hookspecs import hookimpl

def compute(ctx: RunContext) -> FamilyOutcome:
    d, h = ctx.tables.districts, tables.district_data_history  # h: types of the history columns
    pivot = snapshot(ctx)
    computed = []
    for trend in TRENDS:
        ends = {
            end: fraction(ctx.arith, trend.quantity, lambda name, e=end: pivot.c[label(trend.source, name, e)], h)
            for end in ENDS
        }
        computed.append(change(ctx.arith, ends["latest"], ends["base"], trend.kind).label(trend.column))

    stage = ctx.stage(
        "trends",
        sa.Column("leaid", sa.String(7), primary_key=True),
        *[sa.Column(trend.column, sa.Numeric()) for trend in TRENDS],
    )
    ctx.fill(stage, sa.select(pivot.c.leaid, *computed))

    outputs = [bounded(d, trend.column, stage.c[trend.column]) for trend in TRENDS]
    signal, minuend, subtrahend = SIGNAL
    stored = {o.column: o.fitted() for o in outputs}  # what the trend columns will hold
    outputs.append(
        bounded(d, signal, ctx.arith.difference(stored[minuend], stored[subtrahend], RESULT_SCALE))
    )
    changed, nulled = apply_outputs(ctx, d, "leaid", stage, outputs)
    return FamilyOutcome(districts_updated=changed, nulled=nulled)


FAMILY = MetricFamily(
    name="trends",
    runs_after=("latest",),
    columns=tuple(f"districts.{name}" for name in [t.column for t in TRENDS] + [SIGNAL[0]]),
    description="3-year trends: latest year vs the year closest to latest − 3, per source and state.",
    compute=compute,
)


@hookimpl
def register_metric_families(register) -> None:
    register(FAMILY)
