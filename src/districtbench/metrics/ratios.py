"""Family `ratios`: values derived on each district from its latest values.

swd_pct = 100 · spec_ed_students / enrollment and ell_pct likewise (enrollment > 0; above
100 is a data error: NULL, counted); student_teacher_ratio = enrollment / teachers_fte
(teachers_fte > 0). Which metrics are ratios, and of what, is in `definitions.METRICS`.
"""

from __future__ import annotations

import sqlalchemy as sa

from districtbench.metrics.apply import apply_outputs, bounded
from districtbench.metrics.base import FamilyOutcome, MetricFamily
from districtbench.metrics.context import RunContext
from districtbench.metrics.definitions import METRICS
from districtbench.metrics.quantities import fraction, value
from districtbench.plugins.hookspecs import hookimpl

RATIO_METRICS = tuple(metric for metric in METRICS if metric.district_ratio is not None)


def compute(ctx: RunContext) -> FamilyOutcome:
    d = ctx.tables.districts
    stage = ctx.stage(
        "ratios",
        sa.Column("leaid", sa.String(7), primary_key=True),
        *[sa.Column(metric.district_column, sa.Numeric()) for metric in RATIO_METRICS],
    )
    inputs = [name for metric in RATIO_METRICS for name in metric.district_ratio.columns]
    current = ctx.districts(*inputs)  # the values `latest` computed in this run
    computed = [
        value(ctx.arith, fraction(ctx.arith, metric.district_ratio, lambda name: current.c[name], d))
        for metric in RATIO_METRICS
    ]
    ctx.fill(stage, sa.select(current.c.leaid, *computed))
    outputs = [
        bounded(d, metric.district_column, stage.c[metric.district_column], metric.valid_max)
        for metric in RATIO_METRICS
    ]
    changed, nulled = apply_outputs(ctx, d, "leaid", stage, outputs)
    return FamilyOutcome(districts_updated=changed, nulled=nulled)


FAMILY = MetricFamily(
    name="ratios",
    runs_after=("latest",),
    columns=tuple(f"districts.{metric.district_column}" for metric in RATIO_METRICS),
    description="swd_pct, ell_pct and student_teacher_ratio of each district.",
    compute=compute,
)


@hookimpl
def register_metric_families(register) -> None:
    register(FAMILY)
