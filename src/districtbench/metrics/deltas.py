"""Family `deltas`: each district against its state's and the nation's average, and its
within-state quartile flag, for the eight metrics.

`<key>_vs_state` = district value − its state's average, `<key>_vs_national` = district
value − the US row's average (NULL when either side is NULL). Flags: see `quartiles`.
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from districtbench.db import tables
from districtbench.db.states import NATIONAL_FIPS
from districtbench.metrics.apply import Output, bounded
from districtbench.metrics.arith import column_range
from districtbench.metrics.base import FamilyOutcome, MetricFamily
from districtbench.metrics.context import RunContext
from districtbench.metrics.definitions import METRICS, Metric
from districtbench.metrics.quantities import RESULT_SCALE
from districtbench.metrics.quartiles import quartile_flag, ranked_districts
from districtbench.plugins.hookspecs import hookimpl


def compute(ctx: RunContext) -> FamilyOutcome:
    state = ctx.tables.states.alias("state_avg")
    nation = ctx.tables.states.alias("national_avg")
    current = ctx.districts("enrollment", *[metric.district_column for metric in METRICS])
    ranked = ranked_districts(ctx.arith, current)  # current values + what the flags compare
    computed = []
    for index, metric in enumerate(METRICS):
        value = ranked.c[metric.district_column]
        computed.append(
            ctx.arith.difference(value, state.c[metric.average_column], RESULT_SCALE).label(metric.vs_state_column)
        )
        computed.append(
            ctx.arith.difference(value, nation.c[metric.average_column], RESULT_SCALE).label(
                metric.vs_national_column
            )
        )
        computed.append(quartile_flag(ctx.arith, ranked, index).label(metric.quartile_column))
    joined = ranked.outerjoin(state, state.c.fips == ranked.c.state_fips).outerjoin(
        nation, nation.c.fips == sa.literal(NATIONAL_FIPS, sa.String(2))
    )
    stage = ctx.stage(
        "deltas",
        sa.Column("leaid", sa.String(7), primary_key=True),
        *[
            sa.Column(c.name, sa.String(15) if c.name.endswith("_quartile_state") else sa.Numeric())
            for c in computed
        ],
    )
    ctx.fill(stage, sa.select(ranked.c.leaid, *computed).select_from(joined))
    outputs = []
    for metric in METRICS:
        spread = _difference_range(metric) if ctx.arith.postgresql else None
        for column in (metric.vs_state_column, metric.vs_national_column):
            outputs.append(bounded(ctx.tables.districts, column, stage.c[column], value_range=spread, exact=True))
        outputs.append(Output(metric.quartile_column, stage.c[metric.quartile_column], exact=True))
    changed, nulled = ctx.write_districts(stage, outputs)
    return FamilyOutcome(districts_updated=changed, nulled=nulled)


def _difference_range(metric: Metric) -> tuple[Decimal, Decimal]:
    """The values district value − average can take, from the two columns' types. Only
    PostgreSQL enforces those types (a SQLite column holds whatever it is given), and the
    district value read here is the column's or one computed this run for it, in its range."""
    value_low, value_high = column_range(tables.districts.c[metric.district_column])
    average_low, average_high = column_range(tables.states.c[metric.average_column])
    return value_low - average_high, value_high - average_low


def _columns() -> tuple[str, ...]:
    names = []
    for metric in METRICS:
        names += [metric.vs_state_column, metric.vs_national_column, metric.quartile_column]
    return tuple(f"districts.{name}" for name in names)


FAMILY = MetricFamily(
    name="deltas",
    runs_after=("averages",),
    columns=_columns(),
    description="Each district vs its state and the nation, and its within-state quartile flag.",
    compute=compute,
)


@hookimpl
def register_metric_families(register) -> None:
    register(FAMILY)
