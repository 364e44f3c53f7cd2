"""Family `averages`: every `states` row (territories too) and the US row (fips '00').

Over the districts of the state with enrollment > 0 (the US row: districts of the 50 states
and DC only):
* total_districts (all districts), total_enrollment, avg_enrollment (mean, integer);
* pooled metrics (`average_kind="pooled"`): Σ numerator / Σ denominator of the metric's
  district ratio, over districts with both (denominator > 0) — 100 · Σ spec_ed / Σ enrollment,
  Σ enrollment / Σ teachers_fte;
* weighted metrics: Σ(value · enrollment) / Σ(enrollment where value is not NULL);
* avg_poverty_rate: simple mean of children_poverty_percent.
A state with no qualifying district gets NULL averages. aggregates_updated_at is set when a
row's aggregates change or have never been computed.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from districtbench.db import tables
from districtbench.db.states import NATIONAL, STATES_AND_DC_FIPS
from districtbench.metrics.apply import Output, apply_outputs, bounded
from districtbench.metrics.arith import Arith, column_scale, lit, pow10
from districtbench.metrics.base import FamilyOutcome, MetricFamily
from districtbench.metrics.context import RunContext
from districtbench.metrics.definitions import METRICS
from districtbench.metrics.quantities import RESULT_SCALE, fraction
from districtbench.plugins.hookspecs import hookimpl

NATIONAL_FIPS = NATIONAL[0]
EXTRA_COLUMNS = ("total_districts", "total_enrollment", "avg_enrollment", "avg_poverty_rate")
AVERAGE_COLUMNS = EXTRA_COLUMNS + tuple(metric.average_column for metric in METRICS)


def aggregates(arith: Arith) -> list[ColumnElement]:
    d = tables.districts
    enrollment = d.c.enrollment
    qualifies = enrollment > 0

    def when(condition: ColumnElement, expr: ColumnElement) -> ColumnElement:
        return sa.case((condition, expr), else_=sa.null())

    columns = [
        sa.func.count(d.c.leaid).label("total_districts"),
        sa.func.sum(when(qualifies, enrollment)).label("total_enrollment"),
        arith.rounded(
            arith.sum_exact(when(qualifies, arith.exact(enrollment))), sa.func.count(when(qualifies, enrollment)), 0
        ).label("avg_enrollment"),
    ]
    poverty = d.c.children_poverty_percent
    p_scale = column_scale(poverty)
    columns.append(
        arith.rounded(
            arith.sum_exact(when(qualifies, arith.exact(poverty, p_scale))),
            sa.func.count(when(qualifies, poverty)) * lit(pow10(p_scale)),
            RESULT_SCALE,
        ).label("avg_poverty_rate")
    )
    for metric in METRICS:
        if metric.average_kind == "pooled":
            ratio = metric.district_ratio
            part = fraction(arith, ratio, lambda name: d.c[name], d)
            included = sa.and_(qualifies, d.c[ratio.numerator].is_not(None), part.valid)
            num = arith.sum_exact(when(included, part.numerator))
            den = arith.sum_exact(when(included, part.denominator))
        else:
            value = d.c[metric.district_column]
            scale = column_scale(value)
            included = sa.and_(qualifies, value.is_not(None))
            num = arith.sum_exact(when(included, arith.exact(value, scale) * arith.exact(enrollment)))
            den = arith.sum_exact(when(included, arith.exact(enrollment))) * lit(pow10(scale))
        columns.append(arith.rounded(num, den, RESULT_SCALE).label(metric.average_column))
    return columns


def compute(ctx: RunContext) -> FamilyOutcome:
    d, s = tables.districts, tables.states
    per_state = sa.select(d.c.state_fips.label("fips"), *aggregates(ctx.arith)).group_by(d.c.state_fips)
    national = sa.select(sa.literal(NATIONAL_FIPS, sa.String(2)).label("fips"), *aggregates(ctx.arith)).where(
        d.c.state_fips.in_(STATES_AND_DC_FIPS)  # 50 states and DC: territories are not in the US row
    )
    per_group = sa.union_all(per_state, national).subquery("per_group")
    stage = ctx.stage(
        "averages",
        sa.Column("fips", sa.String(2), primary_key=True),
        *[sa.Column(name, sa.Numeric()) for name in AVERAGE_COLUMNS],
    )
    picked = [
        sa.func.coalesce(per_group.c[name], 0) if name == "total_districts" else per_group.c[name]
        for name in AVERAGE_COLUMNS
    ]
    every_state = sa.select(s.c.fips, *picked).select_from(s.outerjoin(per_group, per_group.c.fips == s.c.fips))
    ctx.fill(stage, every_state)

    valid_max = {metric.average_column: metric.valid_max for metric in METRICS}
    outputs = [Output("total_districts", stage.c.total_districts)]
    outputs += [
        bounded(s, name, stage.c[name], valid_max.get(name)) for name in AVERAGE_COLUMNS if name != "total_districts"
    ]
    changed, nulled = apply_outputs(
        ctx,
        s,
        "fips",
        stage,
        outputs,
        extra_values={"aggregates_updated_at": ctx.now},
        also_when=s.c.aggregates_updated_at.is_(None),
    )
    return FamilyOutcome(states_updated=changed, nulled=nulled)


FAMILY = MetricFamily(
    name="averages",
    runs_after=("ratios",),
    columns=tuple(f"states.{name}" for name in AVERAGE_COLUMNS + ("aggregates_updated_at",)),
    description="State and national (50 states + DC) totals and averages of the eight metrics.",
    compute=compute,
)


@hookimpl
def register_metric_families(register) -> None:
    register(FAMILY)
