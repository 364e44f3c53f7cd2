"""Family `latest`: each district's values from each source's as-of year of its state.

All districts of a state are compared on the same year: a district with no row of a source
in that year gets NULL values and a NULL year (never an older value).
"""

from __future__ import annotations

from districtbench.metrics.apply import Output, apply_outputs
from districtbench.metrics.base import FamilyOutcome, MetricFamily
from districtbench.metrics.context import RunContext
from districtbench.metrics.definitions import LATEST_SOURCES
from districtbench.metrics.snapshot import label, snapshot, year_label
from districtbench.plugins.hookspecs import hookimpl


def compute(ctx: RunContext) -> FamilyOutcome:
    stage = snapshot(ctx)
    outputs = []
    for spec in LATEST_SOURCES:
        outputs += [Output(column, stage.c[label(spec.source, hist, "latest")]) for column, hist in spec.columns]
        outputs += [Output(column, stage.c[year_label(spec.source)]) for column in spec.year_columns]
    changed, nulled = apply_outputs(ctx, ctx.tables.districts, "leaid", stage, outputs)
    return FamilyOutcome(districts_updated=changed, nulled=nulled)


def _columns() -> tuple[str, ...]:
    names = [column for spec in LATEST_SOURCES for column, _ in spec.columns]
    names += [column for spec in LATEST_SOURCES for column in spec.year_columns]
    return tuple(f"districts.{name}" for name in names)


FAMILY = MetricFamily(
    name="latest",
    runs_after=(),
    columns=_columns(),
    description="Each district's values from the latest year of each source in its state.",
    compute=compute,
)


@hookimpl
def register_metric_families(register) -> None:
    register(FAMILY)
