"""Family `averages`: every `states` row (territories too) and the US row (fips '00').

Over the districts of the state (the US row: districts of the 50 states and DC only):
* total_districts (all districts), total_enrollment and avg_enrollment (mean, integer) over
  the districts with enrollment > 0;
* ratios and shares (`average_kind="pooled"`): Σ numerator / Σ denominator of the metric's
  district ratio — 100 · Σ spec_ed / Σ enrollment, Σ enrollment / Σ teachers_fte — over the
  districts whose ratio is stored (not over data errors or implausible ratios), numerator
  and denominator from the row the district's ratio comes from (`ratios.ratio_parts`);
* every other metric and avg_poverty_rate: pooled over the measure's own denominator
  (`definitions.Pooling`, issue 13.2) — graduation Σ(rate · cohort) / Σ cohort, proficiency
  weighted by the valid test takers, absenteeism 100 · Σ absent / Σ CRDC enrollment of the
  schools counted, spending Σ current spending / Σ pupils, poverty 100 · Σ poor children /
  Σ children — over the districts with a stored value and a denominator > 0, the numbers
  from the extras row of the history row the value comes from (`weights`);
* where they are missing: a group (a state, the US) in which some district has a value but
  no extras row at all — its history was written before revision 0005, or by another tool —
  falls back, for that measure, to the enrollment-weighted mean of its districts' values
  (Σ value · enrollment / Σ enrollment over the districts with enrollment > 0; the rule
  before issue 13), over all its districts alike: pooling some districts by cohort and
  others by enrollment would weigh them in different units. The groups that fell back are
  counted (`FamilyOutcome.enrollment_weighted`). A district whose extras row exists but has
  no usable denominator (the API sent none) is left out of its group's sum.
A state with no qualifying district gets NULL averages. aggregates_updated_at is set when a
row's aggregates change or have never been computed.

The pooling is one construction, reusable for any grouping of districts (peer groups):
* `district_inputs(ctx) -> Subquery`: one row per district — `leaid`, `state_fips`, the
  current district values (`_inputs()`), the ratios' parts and the denominators
  (`weights.stage_columns()`); join another key onto it to group by that key;
* `pooled_sums(arith, d) -> dict[str, Sums]`: per output column, its `Part`s over the rows
  of `d` (a FromClause with the columns of `district_inputs`) — exact sums, so groups can be
  added up (the US row adds up the states' parts); a Part is an aggregate of a per-district
  expression (`Part.row`), so the same sums can be taken outside SQL too (`peers_sums`);
* `stage_sums(ctx, name, d, key) -> (stage, sums)`: a staging table of those parts grouped by
  `d`'s column `key` (`group` in the stage); `add_rows(ctx, stage, sums, key_value, where)`
  adds one row that sums up stage rows; `group_values(arith, stage, sums) -> {column: value}`:
  each output column's rounded value over the stage (fallback applied).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from districtbench.db import tables
from districtbench.db.states import NATIONAL, NATIONAL_FIPS, STATES_AND_DC_FIPS
from districtbench.metrics.apply import Output, bounded
from districtbench.metrics.arith import Arith, column_scale, lit, times
from districtbench.metrics.base import FamilyOutcome, MetricFamily
from districtbench.metrics.context import RunContext
from districtbench.metrics.definitions import METRICS, Quantity
from districtbench.metrics.quantities import RESULT_SCALE, fraction
from districtbench.metrics.ratios import part, ratio_parts
from districtbench.metrics.weights import POOLED_BY_AVERAGE, district_weights, stage_columns
from districtbench.plugins.hookspecs import hookimpl

EXTRA_COLUMNS = ("total_districts", "total_enrollment", "avg_enrollment", "avg_poverty_rate")
AVERAGE_COLUMNS = EXTRA_COLUMNS + tuple(metric.average_column for metric in METRICS)


@dataclass(frozen=True)
class Part:
    """An aggregate over a group's districts of `row`, one expression per district: `how` is
    "sum_exact" (`Arith.sum_exact`), "sum" (plain SUM: NULL stays NULL) or "count" (the
    districts where `row` is not NULL); the result is multiplied by `factor`."""

    row: ColumnElement
    how: str = "sum_exact"
    factor: int = 1

    def aggregate(self, arith: Arith) -> ColumnElement:
        if self.how == "count":
            total = sa.func.count(self.row)
        elif self.how == "sum":
            total = sa.func.sum(self.row)
        else:
            total = arith.sum_exact(self.row)
        return times(total, self.factor)


@dataclass(frozen=True)
class Sums:
    """One output column over a group of districts: `numerator / denominator` rounded to
    `decimals` (no denominator: the numerator is the value, a total or a count). With
    `fallback` (numerator, denominator), the value is that quotient instead wherever
    `missing` — the number of districts with a value but no denominators row — is > 0."""

    numerator: Part
    denominator: Part | None = None
    decimals: int | None = None
    fallback: tuple[Part, Part] | None = None
    missing: Part | None = None

    def parts(self) -> dict[str, Part]:
        """Stage column suffix → part."""
        parts = {"num": self.numerator}
        if self.denominator is not None:
            parts["den"] = self.denominator
        if self.fallback is not None:
            parts["fbnum"], parts["fbden"] = self.fallback
            parts["missing"] = self.missing
        return parts


def pooled_sums(arith: Arith, d: sa.FromClause) -> dict[str, Sums]:
    """Per output column, its `Sums` over the rows (districts) of `d` (columns as in
    `district_inputs`) of a group — exact whole numbers, so groups can be added up. Scales
    come from `tables.districts`, `tables.district_data_history` and `tables.history_extras`."""
    typed = tables.districts
    enrollment = d.c.enrollment
    qualifies = enrollment > 0

    def total(condition: ColumnElement, expr: ColumnElement, factor: int = 1) -> Part:
        return Part(sa.case((condition, expr), else_=sa.null()), factor=factor)

    def count(condition: ColumnElement) -> Part:
        return Part(sa.case((condition, lit(1)), else_=sa.null()), "count")

    def by_enrollment(column: str) -> tuple[Part, Part]:
        value, scale = d.c[column], column_scale(typed.c[column])
        included = sa.and_(qualifies, value.is_not(None))
        num = total(included, arith.exact(value, scale) * arith.exact(enrollment))
        return num, total(included, arith.exact(enrollment), arith.unit(scale))

    def own(average_column: str) -> Sums:
        item = POOLED_BY_AVERAGE[average_column]
        value, pooling = d.c[item.column], item.pooling
        extra = lambda name: d.c[item.label(name)]  # noqa: E731
        weight = extra(pooling.weight)
        if pooling.numerator is None:
            scale = column_scale(typed.c[item.column])
            w_scale = column_scale(tables.history_extras.c[pooling.weight])
            included = sa.and_(value.is_not(None), weight > 0)
            num = total(included, arith.exact(value, scale) * arith.exact(weight, w_scale))
            den = total(included, arith.exact(weight, w_scale), arith.unit(scale))
        else:
            parts = fraction(arith, Quantity(pooling.numerator, pooling.weight, pooling.factor), extra,
                             tables.history_extras)
            included = sa.and_(value.is_not(None), weight > 0, extra(pooling.numerator).is_not(None))
            num, den = total(included, parts.numerator), total(included, parts.denominator)
        missing = count(sa.and_(value.is_not(None), extra("row").is_(None)))
        return Sums(num, den, RESULT_SCALE, by_enrollment(item.column), missing)

    sums = {
        "total_districts": Sums(Part(d.c.leaid, "count")),
        "total_enrollment": Sums(Part(sa.case((qualifies, enrollment), else_=sa.null()), "sum")),
        "avg_enrollment": Sums(total(qualifies, arith.exact(enrollment)), count(qualifies), 0),
        "avg_poverty_rate": own("avg_poverty_rate"),
    }
    for metric in METRICS:
        if metric.average_kind == "pooled":
            pooled = fraction(
                arith, metric.district_ratio, lambda name, m=metric: d.c[part(m, name)], tables.district_data_history
            )
            included = d.c[metric.district_column].is_not(None)
            sums[metric.average_column] = Sums(
                total(included, pooled.numerator), total(included, pooled.denominator), RESULT_SCALE
            )
        else:
            sums[metric.average_column] = own(metric.average_column)
    return sums


def _inputs() -> list[str]:
    """The district columns `pooled_sums` reads."""
    return ["enrollment", "children_poverty_percent", *[metric.district_column for metric in METRICS]]


def district_inputs(ctx: RunContext, *also: str) -> sa.Subquery:
    """One row per district: its current values (and those of the district columns `also`),
    its ratios' parts and its denominators (module doc). Needs the `ratios` family to have
    run in this run."""
    current = ctx.districts(*_inputs(), *also)
    parts, weights = ratio_parts(ctx), district_weights(ctx)
    ratio_columns = [c for c in parts.c if c.name != "leaid" and c.name not in current.c]
    return (
        sa.select(current, *ratio_columns, *[weights.c[name] for name in stage_columns()])
        .select_from(
            current.outerjoin(parts, parts.c.leaid == current.c.leaid).outerjoin(
                weights, weights.c.leaid == current.c.leaid
            )
        )
        .subquery("with_parts")
    )


def _labels(sums: dict[str, Sums]) -> list[tuple[str, str, Part]]:
    """(output column, stage column, part) of every part."""
    return [(name, f"{name}__{suffix}", part) for name, s in sums.items() for suffix, part in s.parts().items()]


def stage_sums(ctx: RunContext, name: str, d: sa.FromClause, key: str) -> tuple[sa.Table, dict[str, Sums]]:
    """A staging table `name` with one row per value of `d.c[key]` (stage column `group`)
    and every part of `pooled_sums` over that group's rows of `d`."""
    sums = pooled_sums(ctx.arith, d)
    labels = _labels(sums)
    stage = ctx.stage(
        name,
        sa.Column("group", sa.String(63), primary_key=True),
        *[sa.Column(label, sa.Numeric()) for _, label, _ in labels],
    )
    aggregates = [part.aggregate(ctx.arith).label(label) for _, label, part in labels]
    ctx.fill(stage, sa.select(d.c[key], *aggregates).group_by(d.c[key]))
    return stage, sums


def add_rows(ctx: RunContext, stage: sa.Table, sums: dict[str, Sums], group: str, where: ColumnElement) -> None:
    """Add the row `group` to the stage: every part summed over the stage rows `where` holds."""
    plain = {name for name, s in sums.items() if s.denominator is None}  # NULL stays NULL for these
    labels = _labels(sums)
    added = [
        sa.func.sum(stage.c[label]) if name in plain or label.endswith("__missing") else ctx.arith.sum_exact(stage.c[label])
        for name, label, _ in labels
    ]
    query = sa.select(sa.literal(group, sa.String(63)), *added).where(where)
    ctx.connection.execute(stage.insert().from_select(["group", *[label for _, label, _ in labels]], query))


def group_values(arith: Arith, stage: sa.Table, sums: dict[str, Sums]) -> dict[str, ColumnElement]:
    """Each output column's value over a stage row (rounded; the fallback where it applies)."""
    values = {}
    for name, s in sums.items():
        if s.denominator is None:
            values[name] = stage.c[f"{name}__num"]
            continue
        value = arith.rounded(stage.c[f"{name}__num"], stage.c[f"{name}__den"], s.decimals)
        if s.fallback is not None:
            fallback = arith.rounded(stage.c[f"{name}__fbnum"], stage.c[f"{name}__fbden"], s.decimals)
            value = sa.case((stage.c[f"{name}__missing"] > 0, fallback), else_=value)
        values[name] = value
    return values


def compute(ctx: RunContext) -> FamilyOutcome:
    s = ctx.tables.states
    d = district_inputs(ctx)
    stage, sums = stage_sums(ctx, "averages", d, "state_fips")
    # the 50 states and DC: territories are not in the US row
    add_rows(ctx, stage, sums, NATIONAL_FIPS, stage.c.group.in_(STATES_AND_DC_FIPS))
    empty = sa.select(s.c.fips).where(s.c.fips.not_in(sa.select(stage.c.group)))  # states without districts
    ctx.connection.execute(stage.insert().from_select(["group"], empty))
    keyed = sa.select(stage.c.group.label("fips"), *[c for c in stage.c if c.name != "group"]).subquery("by_fips")

    valid_max = {metric.average_column: metric.valid_max for metric in METRICS}
    values = group_values(ctx.arith, keyed, sums)
    outputs = []
    for name, value in values.items():
        if name == "total_districts":
            outputs.append(Output(name, sa.func.coalesce(value, 0), exact=True))
        else:
            outputs.append(bounded(s, name, value, valid_max.get(name), exact=True))
    fell_back = _fell_back(ctx, stage, sums)
    changed, nulled = ctx.write_states(
        keyed, outputs, extra_values={"aggregates_updated_at": ctx.now}, also_when=s.c.aggregates_updated_at.is_(None)
    )
    return FamilyOutcome(states_updated=changed, nulled=nulled, enrollment_weighted=fell_back)


def _fell_back(ctx: RunContext, stage: sa.Table, sums: dict[str, Sums]) -> dict[str, int]:
    """Per average column: the rows (states, the US) averaged by enrollment for want of the
    denominators (and with something to average)."""
    names = [name for name, s in sums.items() if s.fallback is not None]
    counts = [
        sa.func.count(sa.case((sa.and_(stage.c[f"{n}__missing"] > 0, stage.c[f"{n}__fbden"] > 0), lit(1))))
        for n in names
    ]
    row = ctx.connection.execute(sa.select(*counts)).one()
    return {name: int(count) for name, count in zip(names, row) if count}


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
