"""Family `latest`: each district's values from each measure's as-of year in its state.

The as-of year is per measure (`years`): the latest year in which at least one district of
the state has a value of that measure. Every district of the state takes its own value of
that year; a district without one gets NULL (never an older value). The `*_data_year`
columns hold the year of their source's first measure (definitions.YEAR_COLUMNS) where the
district has a row of that year; each measure's year per state is recorded
(`figure_years`).
"""

from __future__ import annotations

from districtbench.metrics import figure_years
from districtbench.metrics.apply import Output
from districtbench.metrics.base import FamilyOutcome, MetricFamily
from districtbench.metrics.context import RunContext
from districtbench.metrics.definitions import FIGURES_BY_COLUMN, LATEST_VALUES, YEAR_COLUMNS
from districtbench.metrics.snapshot import snapshot
from districtbench.plugins.hookspecs import hookimpl


def compute(ctx: RunContext) -> FamilyOutcome:
    snap = snapshot(ctx)
    figures = [FIGURES_BY_COLUMN[value.column] for value in LATEST_VALUES]
    outputs = [
        Output(value.column, snap.value(figure.series, value.history_column), exact=True)
        for value, figure in zip(LATEST_VALUES, figures)
    ]
    outputs += [Output(column, snap.year(FIGURES_BY_COLUMN[of].series), exact=True) for column, of in YEAR_COLUMNS]
    changed, nulled = ctx.write_districts(snap.table, outputs)
    figure_years.record(ctx, figures)
    return FamilyOutcome(districts_updated=changed, nulled=nulled)


def _columns() -> tuple[str, ...]:
    names = [value.column for value in LATEST_VALUES] + [column for column, _ in YEAR_COLUMNS]
    return tuple(f"districts.{name}" for name in names)


FAMILY = MetricFamily(
    name="latest",
    runs_after=(),
    columns=_columns(),
    description="Each district's values from the latest year of each measure in its state.",
    compute=compute,
)


@hookimpl
def register_metric_families(register) -> None:
    register(FAMILY)
