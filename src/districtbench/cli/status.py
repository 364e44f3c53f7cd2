"""`districtbench status`: schema revision, data per source × year, last computes, coverage."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer

from districtbench import console
from districtbench.cli.state import get_state

if TYPE_CHECKING:
    from districtbench.reporting.status import StatusReport


def district_columns_written(families) -> list[str]:
    columns: list[str] = []
    for family in families:
        for qualified in family.columns:
            table, _, column = qualified.rpartition(".")
            if table == "districts" and column not in columns:
                columns.append(column)
    return columns


def build_status(state) -> StatusReport:
    import sqlalchemy as sa

    from districtbench.db import layout
    from districtbench.db.revision import HEAD_REVISION, plugin_statuses
    from districtbench.reporting.status import (
        StatusReport,
        column_coverage,
        figure_year_summary,
        last_compute_runs,
        peer_coverage,
        source_year_statuses,
    )

    engine = state.existing_engine()  # the one check of the schema: at the latest revision, or why not
    current = head = HEAD_REVISION
    columns = district_columns_written(state.families)
    with engine.connect() as connection:
        t = layout.of(connection)
        return StatusReport(
            database=state.settings.masked_database_url,
            current_revision=current,
            head_revision=head,
            migration_pending=current != head,
            districts=connection.execute(sa.select(sa.func.count()).select_from(t.districts)).scalar_one(),
            sources=source_year_statuses(connection, state.sources),
            compute=last_compute_runs(connection),
            coverage=column_coverage(connection, columns),
            as_of=figure_year_summary(connection, columns),
            peers=peer_coverage(connection),
            column_names={f"{table}.{logical}": physical for table, logical, physical, _ in t.renamed()},
            plugin_branches={branch.name: branch.current
                             for branch in plugin_statuses(connection, list(state.plugin_migrations))},
        )


def status_error(state, exc: Exception) -> dict:
    message = getattr(exc, "message", None) or f"unexpected error: {type(exc).__name__}: {exc}"
    return {
        "database": state.settings.masked_database_url,
        "error": console.masked(message),
        "hint": console.masked(getattr(exc, "hint", None) or ""),
        "exit_code": getattr(exc, "exit_code", 1),
    }


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "—"


def print_status(report: StatusReport) -> None:
    show = console.print_out
    one_line = console.one_line  # names from the API or the database: one line, no control characters
    pending = "migration pending" if report.migration_pending else "up to date"
    show(f"Database: {one_line(report.database)}")
    show(f"Schema revision: {report.current_revision} (latest {report.head_revision}, {pending})")
    if report.plugin_branches:
        branches = ", ".join(f"{name} at {revision} (its latest)" for name, revision in report.plugin_branches.items())
        show(f"Plugin schema branches: {branches}")
    show(f"Districts in the roster: {report.districts:,}")
    if report.column_names:
        names = ", ".join(f"{logical} → {physical}" for logical, physical in report.column_names.items())
        show(f"The app's column names in use (districtbench's name → the database's): {names}")

    counts = ("year", "with data", "complete", "failed")
    sources = console.table(
        "Data per source and year (districts; units)",
        "source", *counts, "no rows for", "last fetch", right=counts, whole=("source", "last fetch"), plain=True,
    )
    for row in report.sources:
        failed = console.styled(row.units_failed, "red") if row.units_failed else "0"
        empty = console.styled(", ".join(row.empty_states), "yellow") if row.empty_states else ""
        sources.add_row(
            one_line(row.source), str(row.year), f"{row.districts_with_data:,}", str(row.units_complete), failed,
            empty, _when(row.last_fetch),
        )
    if report.sources:
        show(sources)
        if any(row.empty_states for row in report.sources):
            show(console.styled("no rows for: states whose unit of that year completed without a single row "
                                "(the API has no records of them).", "dim"))
    else:
        show("Data per source and year: no data yet — run `districtbench run` (or `backfill`).")

    compute = console.table(
        "Last compute per family", "family", "status", "updated", "NULLed", "completed", "error",
        right=("updated", "NULLed"), whole=("family", "status", "completed"), plain=True,
    )
    for run in report.compute:
        compute.add_row(
            one_line(run.family), one_line(run.status), f"{run.records_updated:,}", f"{run.records_failed:,}",
            _when(run.completed_at), one_line(run.error_message or ""),
        )
    if not report.compute:
        compute.add_row("—", "never run", "", "", "", "run `districtbench compute`")
    show(compute)

    if report.as_of:
        as_of = console.table(
            "As-of year of each figure (number of states)", "figure", "year", "3-year trend from",
            whole=("figure",), plain=True,
        )
        for row in report.as_of:
            bases = ", ".join(f"{'none' if year is None else year} ({count})" for year, count in row.base_years.items())
            as_of.add_row(row.figure, ", ".join(f"{year} ({count})" for year, count in row.years.items()), bases)
        show(as_of)

    coverage = console.table(
        "Coverage of computed columns (districts with a value)", "column", "districts", "share",
        right=("districts", "share"), whole=("column",), plain=True,
    )
    for column, count in report.coverage.items():
        share = f"{100 * count / report.districts:.1f} %" if report.districts else "—"
        coverage.add_row(column, f"{count:,}", share)
    show(coverage)
    peers = report.peers
    if peers:
        groups = ", ".join(f"{name} {count:,}" for name, count in peers["by_locale_group"].items())
        share = f" ({100 * peers['districts'] / report.districts:.1f} %)" if report.districts else ""
        show(
            f"Peer groups ({peers['scope']} scope): {peers['districts']:,} districts{share} — {groups}; "
            f"{peers['full_groups']:,} with all 20 peers; {peers['peer_averages']:,} peer averages."
        )
        if peers["not_eligible"]:
            from districtbench.metrics.peers import REQUIREMENTS

            labels = {r.column: r.label for r in REQUIREMENTS}
            lacking = ", ".join(f"{labels[name]}: {count:,}" for name, count in peers["not_eligible_lacking"].items())
            show(f"Not eligible for a peer group: {peers['not_eligible']:,} districts — without {lacking} "
                 "(some lack several).")
    else:
        show("Peer groups: none yet — `districtbench compute` (family peers) builds them.")


def register(app: typer.Typer) -> None:
    @app.command("status")
    def status_command(
        ctx: typer.Context,
        as_json: bool = typer.Option(False, "--json", help="Print the status as JSON on stdout."),
    ) -> None:
        """Show the schema revision, data per source × year, the last compute runs and column coverage.

        Example: districtbench status --json
        """
        state = get_state(ctx)
        try:
            report = build_status(state)
        except Exception as exc:
            if as_json:  # scripts always get JSON: what could not be read, and why
                typer.echo(json.dumps(status_error(state, exc), indent=2))
            raise
        if as_json:
            typer.echo(json.dumps(report.to_json(), indent=2))
        else:
            print_status(report)
