"""Family `ratios`: swd_pct, ell_pct and student_teacher_ratio of each district.

swd_pct = 100 · spec_ed_students / enrollment and ell_pct likewise (enrollment > 0; above
100 is a data error: NULL, counted); student_teacher_ratio = enrollment / teachers_fte
(both > 0; from fewer than 1 teacher FTE or above 150 it is implausible: NULL, counted).
Numerator and denominator come from the same history row: the district's row of the ratio's
own as-of year in its state, the latest year in which a district of the state has both
(`years`). Which metrics are ratios, and of what, is in `definitions.METRICS`.

The staging table keeps each ratio's numerator and denominator next to it: `averages` pools
them (`ratio_parts`).
"""

from __future__ import annotations

import sqlalchemy as sa

from districtbench.db import tables
from districtbench.errors import PluginError
from districtbench.metrics import figure_years
from districtbench.metrics.apply import bounded
from districtbench.metrics.base import FamilyOutcome, MetricFamily
from districtbench.metrics.context import RunContext
from districtbench.metrics.definitions import FIGURES_BY_COLUMN, RATIO_METRICS, Metric
from districtbench.metrics.quantities import fraction, value
from districtbench.metrics.snapshot import snapshot
from districtbench.plugins.hookspecs import hookimpl

PARTS_KEY = "ratio_parts"


def part(metric: Metric, column: str) -> str:
    """Column of the ratios stage holding `column` (numerator or denominator) of the row."""
    return f"{metric.district_column}__{column}"


def ratio_parts(ctx: RunContext) -> sa.Table:
    """This run's ratios stage: per district (`leaid`), each ratio metric's raw value (before
    the NULLing of data errors) and its numerator and denominator (`part`)."""

    def missing() -> sa.Table:
        raise PluginError("The ratios family must run before a family that reads its numerators and denominators.")

    return ctx.memo(PARTS_KEY, missing)  # type: ignore[return-value]


def compute(ctx: RunContext) -> FamilyOutcome:
    d, h = ctx.tables.districts, tables.district_data_history  # h: types of the history columns
    snap = snapshot(ctx)
    columns = [sa.Column("leaid", sa.String(7), primary_key=True)]
    computed = []
    for metric in RATIO_METRICS:
        series = FIGURES_BY_COLUMN[metric.district_column].series
        row = lambda name, s=series: snap.value(s, name)  # noqa: E731
        columns.append(sa.Column(metric.district_column, sa.Numeric()))
        computed.append(value(ctx.arith, fraction(ctx.arith, metric.district_ratio, row, h)))
        for name in metric.district_ratio.columns:
            columns.append(sa.Column(part(metric, name), h.c[name].type))
            computed.append(row(name))
    stage = ctx.stage("ratios", *columns)
    ctx.fill(stage, sa.select(snap.leaid, *computed))
    ctx.memo(PARTS_KEY, lambda: stage)

    outputs = []
    for metric in RATIO_METRICS:
        parts = fraction(ctx.arith, metric.district_ratio, lambda name, m=metric: stage.c[part(m, name)], h)
        outputs.append(
            bounded(d, metric.district_column, stage.c[metric.district_column], metric.valid_max, invalid=parts.implausible,
                    exact=True)
        )
    changed, nulled = ctx.write_districts(stage, outputs)
    figure_years.record(ctx, [FIGURES_BY_COLUMN[metric.district_column] for metric in RATIO_METRICS])
    return FamilyOutcome(districts_updated=changed, nulled=nulled)


FAMILY = MetricFamily(
    name="ratios",
    runs_after=("latest",),
    columns=tuple(f"districts.{metric.district_column}" for metric in RATIO_METRICS),
    description="swd_pct, ell_pct and student_teacher_ratio of each district, each from one row of its own year.",
    compute=compute,
)


@hookimpl
def register_metric_families(register) -> None:
    register(FAMILY)
