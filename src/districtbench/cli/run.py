"""`districtbench run --years SPEC [--states SPEC]`: the main job, end to end."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import typer

from districtbench import console
from districtbench.cli.options import STATES_HELP, YEARS_HELP, parse_states, parse_years
from districtbench.cli.state import AppState, get_state
from districtbench.formatting import format_years

if TYPE_CHECKING:  # the pipeline (backfill, Alembic) is imported when a run starts, not by every command
    from districtbench.metrics.base import FamilyOutcome
    from districtbench.pipeline import PipelineReport


def execute_run(
    state: AppState,
    api_url: str,
    years: list[int],
    states: list[str],
    *,
    concurrency: int = 4,
    backoff_base: float | None = None,
    example_leaid: str | None = None,
    command_prefix: str = "districtbench",
) -> int:
    """Run the pipeline with progress and summaries on stderr; returns the exit code."""
    from districtbench.backfill.display import make_progress, print_summary
    from districtbench.cli.backfill import backoff_base_from_env
    from districtbench.cli.compute import print_summary as print_compute_summary
    from districtbench.pipeline import check_years, run_pipeline
    from districtbench.urban.client import UrbanClient

    sources = list(state.sources)
    check_years(sources, years)  # usage errors before the database
    engine = state.engine()
    console.info(f"Database: {state.settings.masked_database_url}")
    backoff = backoff_base_from_env() if backoff_base is None else backoff_base
    with UrbanClient(api_url, backoff_base=backoff, keep_results=False) as client:
        report = run_pipeline(
            engine,
            client,
            sources,
            state.families,
            years,
            states,
            concurrency=concurrency,
            progress=make_progress(),
            after_backfill=print_summary,
        )
    print_compute_summary(report.compute)
    print_run_summary(report, state.settings.masked_database_url, example_leaid, command_prefix)
    return report.exit_code


def print_run_summary(
    report: PipelineReport, database: str, example_leaid: str | None, command_prefix: str = "districtbench"
) -> None:

    for line in report.migrated:
        console.note(line)
    table = console.table("Run summary", "source", "years covered", "districts", "failed units", right=("districts", "failed units"))
    for row in report.coverage:
        failed = f"[red]{row.failed_units}[/red]" if row.failed_units else "0"
        table.add_row(row.source, format_years(row.years) if row.years else "—", f"{row.districts:,}", failed)
    console.err_console.print(table)
    compute = report.compute
    if compute is not None:
        if compute.ok:
            updated = ", ".join(f"{family.name} {_rows_updated(family.outcome)}" for family in compute.families)
            console.info(f"Compute: {len(compute.families)} families committed ({updated} updated).")
        else:
            console.error_line(f"Compute failed in {compute.failed_family or 'the commit'}: {compute.error}")
    failures = report.backfill.failures if report.backfill else []
    if failures:
        console.error_line(f"{len(failures)} unit(s) failed (listed above with their reasons).")
    console.info(f"Database: {database}")
    console.info("Next:")
    if report.exit_code:
        console.info("  run the same command again to retry what failed (completed units are skipped)")
    console.info(f"  {command_prefix} status                   what is loaded and computed")
    console.info(f"  {command_prefix} show {example_leaid or 'LEAID':<20}one district against its state and the US")
    console.info(f"  {command_prefix} export -o benchmarks.csv every district's benchmark columns")


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_command(
        ctx: typer.Context,
        years: str = typer.Option(..., "--years", metavar="SPEC", help=YEARS_HELP, callback=lambda value: parse_years(value)),
        states: Optional[str] = typer.Option(
            None, "--states", metavar="SPEC", help=STATES_HELP, callback=lambda value: parse_states(value), show_default=False
        ),
        concurrency: int = typer.Option(4, "--concurrency", min=1, max=64, help="Units fetched at once."),
    ) -> None:
        """The main job: migrate if needed, backfill every source for the years each has, then compute all.

        Years a source lacks are skipped with a note. Ends with one summary. Exit 1 if any unit or family failed (run it again to resume).
        """
        state = get_state(ctx)
        raise typer.Exit(execute_run(state, state.settings.api_url, years, states, concurrency=concurrency))


def _rows_updated(outcome: FamilyOutcome) -> str:
    """"2,218 districts", "57 states" or both: what the family writes."""
    parts = []
    if outcome.districts_updated or not outcome.states_updated:
        parts.append(f"{outcome.districts_updated:,} districts")
    if outcome.states_updated:
        parts.append(f"{outcome.states_updated:,} states")
    return " and ".join(parts)
