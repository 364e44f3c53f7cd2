"""`districtbench sources` and `districtbench metrics`: what the plugin host has registered."""

from __future__ import annotations

import typer
from districtbench import console
from districtbench.cli.state import get_state
from districtbench.formatting import format_years


def register(app: typer.Typer) -> None:
    @app.command("sources")
    def sources_command(ctx: typer.Context) -> None:
        """List the source plugins: name, endpoint, years available, history columns written.

        Example: districtbench sources
        """
        state = get_state(ctx)
        table = console.table("Sources", "source", "endpoint", "years", "history rows", "columns written")
        for source in state.sources:
            table.add_row(
                source.name,
                "\n".join(source.endpoints),
                format_years(source.years),
                source.history_source,
                ", ".join(source.columns),
            )
        console.out_console.print(table)

    @app.command("metrics")
    def metrics_command(ctx: typer.Context) -> None:
        """List the metric families (runs after, columns written) and the eight metrics.

        Example: districtbench metrics
        """
        state = get_state(ctx)
        families = console.table("Metric families", "family", "runs after", "columns written")
        for family in state.families:
            families.add_row(family.name, ", ".join(family.runs_after) or "—", ", ".join(family.columns))
        console.out_console.print(families)
        _print_metric_definitions()


def _print_metric_definitions() -> None:
    try:
        from districtbench.metrics.definitions import METRICS
    except ImportError:
        return
    table = console.table("Metrics", "metric", "district column", "history", "trend", "higher is better", "units")
    for metric in METRICS:
        better = {True: "yes", False: "no", None: "—"}[metric.higher_is_better]
        table.add_row(
            metric.key,
            metric.district_column,
            f"{metric.history_source}.{metric.history_expression}",
            f"{metric.trend_column} ({metric.trend_kind})",
            better,
            metric.units,
        )
    console.out_console.print(table)
