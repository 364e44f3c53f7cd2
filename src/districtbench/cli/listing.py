"""`districtbench sources` and `districtbench metrics`: what the plugin host has registered."""

from __future__ import annotations

import typer
from districtbench import console
from districtbench.cli.catalog import refresh_option, sources_as_the_api_has_them
from districtbench.cli.state import get_state
from districtbench.db.states import BY_FIPS
from districtbench.formatting import format_years


def register(app: typer.Typer) -> None:
    @app.command("sources")
    def sources_command(ctx: typer.Context, refresh_catalog: bool = refresh_option()) -> None:
        """List the source plugins: name, endpoints and their years, history columns written.

        Years come from the API's catalog (cached for a day; the years all of a source's endpoints have), or are the built-in ones when it cannot be read — the listing says which.

        Example: districtbench sources --refresh-catalog
        """
        state = get_state(ctx)
        availability = sources_as_the_api_has_them(state.settings, list(state.sources), refresh=refresh_catalog,
                                                    backoff_base=state.settings.backoff_base, quiet=True)
        rows = []
        for status in availability.statuses:
            source = status.source
            endpoints = "\n".join(
                f"{endpoint.key} ({format_years(status.endpoint_years.get(endpoint.key, ()))})"
                + (f" at {endpoint.resolved_base_url()}" if endpoint.own_api else "")
                for endpoint in source.endpoints
            )
            skipped = "".join(f"\n{year} skipped: {why}" for year, why in status.gaps.items())
            if source.states is not None:
                skipped += "\n" + ", ".join(BY_FIPS.get(fips, (fips,))[0] for fips in source.states) + " only"
            rows.append((
                source.name,
                endpoints,
                format_years(source.years) + skipped,
                status.years_from if not status.problem else f"{status.years_from}; cannot run: {status.problem}",
                source.history_source,
                ", ".join(source.columns),
            ))
        headings = ("source", "endpoint (its years)", "years", "years from", "history rows", "columns written")
        console.print_records("Sources", headings, rows)
        console.note(f"Years from {availability.origin}.")

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
            metric.history_expression,
            f"{metric.trend_column} ({metric.trend_kind})",
            {True: "yes", False: "no", None: "—"}[metric.higher_is_better],
            metric.units,
        )
        for metric in METRICS
    ]
    console.print_records("Metrics", ("metric", "district column", "history", "trend", "higher is better", "units"), rows)
