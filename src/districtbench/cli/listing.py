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
        rows = [
            (
                source.name,
                "\n".join(source.endpoints),
                format_years(source.years),
                source.history_source,
                ", ".join(source.columns),
            )
            for source in state.sources
        ]
        console.print_records("Sources", ("source", "endpoint", "years", "history rows", "columns written"), rows)

    @app.command("metrics")
    def metrics_command(ctx: typer.Context) -> None:
        """List the metric families (runs after, columns written) and the eight metrics.

        Example: districtbench metrics
        """
        state = get_state(ctx)
        rows = [(family.name, ", ".join(family.runs_after) or "—", ", ".join(family.columns)) for family in state.families]
        console.print_records("Metric families", ("family", "runs after", "columns written"), rows)
        _print_metric_definitions()


def _print_metric_definitions() -> None:
    try:
        from districtbench.metrics.definitions import METRICS
    except ImportError:
        return
    rows = [
        (
            metric.key,
            metric.district_column,
            f"{metric.history_source}.{metric.history_expression}",
            f"{metric.trend_column} ({metric.trend_kind})",
            {True: "yes", False: "no", None: "—"}[metric.higher_is_better],
            metric.units,
        )
        for metric in METRICS
    ]
    console.print_records("Metrics", ("metric", "district column", "history", "trend", "higher is better", "units"), rows)
