"""Family `averages`: every `states` row (territories too) and the US row (fips '00').

Over the districts of the state with enrollment > 0 (the US row: districts of the 50 states
and DC only):
* total_districts (all districts), total_enrollment, avg_enrollment (mean, integer);
* pooled metrics (`average_kind="pooled"`): Σ numerator / Σ denominator of the metric's
  district ratio — 100 · Σ spec_ed / Σ enrollment, Σ enrollment / Σ teachers_fte — over the
  districts whose ratio is stored (not over the state's other districts, and not over data
  errors or implausible ratios), numerator and denominator from the row the district's ratio
  comes from (`ratios.ratio_parts`): one year's counts, never two years' mixed;
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
from districtbench.metrics.arith import Arith, column_scale, lit, times
from districtbench.metrics.base import FamilyOutcome, MetricFamily
from districtbench.metrics.context import RunContext
from districtbench.metrics.definitions import METRICS
from districtbench.metrics.quantities import RESULT_SCALE, fraction
from districtbench.metrics.ratios import part, ratio_parts
from districtbench.plugins.hookspecs import hookimpl

NATIONAL_FIPS = NATIONAL[0]
EXTRA_COLUMNS = ("total_districts", "total_enrollment", "avg_enrollment", "avg_poverty_rate")
AVERAGE_COLUMNS = EXTRA_COLUMNS + tuple(metric.average_column for metric in METRICS)


def _sums(arith: Arith, d: sa.FromClause) -> dict[str, tuple[ColumnElement, ColumnElement | None, int | None]]:
    """Per output column: (Σ numerator, Σ denominator, decimals) over the districts (`d`:
    the current values of `districts`, with the ratios' numerators and denominators) of a
    group — exact whole numbers, so the US row can add up the states' sums. No
    denominator: the sum itself is the value (total_districts, total_enrollment). Scales come
    from `tables.districts` and `tables.district_data_history`."""
    typed = tables.districts
    enrollment = d.c.enrollment
    qualifies = enrollment > 0

    def total(condition: ColumnElement, expr: ColumnElement) -> ColumnElement:
        return arith.sum_exact(sa.case((condition, expr), else_=sa.null()))

    def count(condition: ColumnElement) -> ColumnElement:
        return sa.func.count(sa.case((condition, lit(1)), else_=sa.null()))

    poverty = d.c.children_poverty_percent
    p_scale = column_scale(typed.c.children_poverty_percent)
    with_poverty = sa.and_(qualifies, poverty.is_not(None))
    sums = {
        "total_districts": (sa.func.count(d.c.leaid), None, None),
        "total_enrollment": (sa.func.sum(sa.case((qualifies, enrollment), else_=sa.null())), None, None),
        "avg_enrollment": (total(qualifies, arith.exact(enrollment)), count(qualifies), 0),
        "avg_poverty_rate": (
            total(with_poverty, arith.exact(poverty, p_scale)), times(count(with_poverty), arith.unit(p_scale)), RESULT_SCALE
        ),
    }
    for metric in METRICS:
        if metric.average_kind == "pooled":
            pooled = fraction(
                arith, metric.district_ratio, lambda name, m=metric: d.c[part(m, name)], tables.district_data_history
            )
            included = d.c[metric.district_column].is_not(None)
            num, den = total(included, pooled.numerator), total(included, pooled.denominator)
        else:
            value = d.c[metric.district_column]
            scale = column_scale(typed.c[metric.district_column])
            included = sa.and_(qualifies, value.is_not(None))
            num = total(included, arith.exact(value, scale) * arith.exact(enrollment))
            den = times(total(included, arith.exact(enrollment)), arith.unit(scale))
        sums[metric.average_column] = (num, den, RESULT_SCALE)
    return sums


def _inputs() -> list[str]:
    """The district columns `_sums` reads."""
    return ["enrollment", "children_poverty_percent", *[metric.district_column for metric in METRICS]]


def _parts(name: str, has_den: bool) -> list[str]:
    return [f"{name}__num", f"{name}__den"] if has_den else [name]


def compute(ctx: RunContext) -> FamilyOutcome:
    current, s = ctx.districts(*_inputs()), ctx.tables.states
    parts = ratio_parts(ctx)
    d = sa.select(current, *[c for c in parts.c if c.name != "leaid" and c.name not in current.c]).select_from(
        current.outerjoin(parts, parts.c.leaid == current.c.leaid)
    ).subquery("with_parts")
    sums = _sums(ctx.arith, d)
    labelled = []
    for name, (num, den, _) in sums.items():
        labelled += [expr.label(part) for expr, part in zip((num, den), _parts(name, den is not None))]
    stage = ctx.stage(
        "averages",
        sa.Column("fips", sa.String(2), primary_key=True),
        *[sa.Column(c.name, sa.Numeric()) for c in labelled],
    )
    ctx.fill(stage, sa.select(d.c.state_fips, *labelled).group_by(d.c.state_fips))  # one pass over districts
    parts = [c.name for c in labelled]
    plain = {name for name, (_, den, _) in sums.items() if den is None}  # NULL stays NULL for these
    added = [sa.func.sum(stage.c[p]) if p in plain else ctx.arith.sum_exact(stage.c[p]) for p in parts]
    us = sa.select(sa.literal(NATIONAL_FIPS, sa.String(2)), *added)
    us = us.where(stage.c.fips.in_(STATES_AND_DC_FIPS))  # the 50 states and DC: territories are not in the US row
    ctx.connection.execute(stage.insert().from_select(["fips", *parts], us))
    empty = sa.select(s.c.fips).where(s.c.fips.not_in(sa.select(stage.c.fips)))  # states without districts
    ctx.connection.execute(stage.insert().from_select(["fips"], empty))

    valid_max = {metric.average_column: metric.valid_max for metric in METRICS}
    outputs = []
    for name, (_, den, scale) in sums.items():
        if den is None:
            value = stage.c[name] if name != "total_districts" else sa.func.coalesce(stage.c[name], 0)
            outputs.append(Output(name, value) if name == "total_districts" else bounded(s, name, value))
        else:
            value = ctx.arith.rounded(stage.c[f"{name}__num"], stage.c[f"{name}__den"], scale)
            outputs.append(bounded(s, name, value, valid_max.get(name)))
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
