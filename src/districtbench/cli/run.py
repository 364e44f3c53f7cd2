"""`districtbench run --years SPEC [--states SPEC]`: the main job, end to end."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Optional

import typer

from districtbench import console
from districtbench.cli.catalog import refresh_option
from districtbench.cli.options import (
    QUIET_HELP, STATES_HELP, VERBOSE_HELP, YEARS_HELP, parse_states, parse_years, peer_scope_option, verbosity,
)
from districtbench.cli.state import AppState, get_state
from districtbench.formatting import format_years

MAX_FAILURES_LISTED = 10

if TYPE_CHECKING:  # the pipeline (backfill, Alembic) is imported when a run starts, not by every command
    from districtbench.metrics.base import FamilyOutcome
    from districtbench.pipeline import PipelineReport
    from districtbench.yearspec import Latest


def execute_run(
    state: AppState,
    api_url: str,
    years: list[int] | Latest,
    states: list[str],
    *,
    concurrency: int = 4,
    backoff_base: float | None = None,
    example_leaid: str | None = None,
    command_prefix: str = "districtbench",
    level: str = "normal",
    refresh_catalog: bool = False,
    cache_catalog: bool = True,
    compute_anyway: bool = False,
    peer_scope: str = "national",
) -> int:
    """Run the pipeline with progress and summaries on stderr; returns the exit code."""
    import dataclasses

    from districtbench.backfill.display import print_summary
    from districtbench.cli.catalog import sources_as_the_api_has_them
    from districtbench.cli.compute import print_summary as print_compute_summary
    from districtbench.console_progress import make_progress
    from districtbench.pipeline import check_years, run_pipeline
    from districtbench.urban.client import UrbanClient

    backoff = state.settings.backoff_base if backoff_base is None else backoff_base
    settings = dataclasses.replace(state.settings, api_url=api_url)
    availability = sources_as_the_api_has_them(
        settings, list(state.sources), refresh=refresh_catalog, use_cache=cache_catalog, backoff_base=backoff,
        quiet=level == "quiet",
    )
    check_years(availability.sources, years)  # usage errors before the database
    engine = state.engine()
    if level != "quiet":
        console.info(f"Database: {state.settings.masked_database_url}")
    with UrbanClient(api_url, backoff_base=backoff, keep_results=False,
                     listing_timeout=settings.listing_timeout) as client:
        report = run_pipeline(
            engine,
            client,
            list(state.sources),
            state.families,
            years,
            states,
            concurrency=concurrency,
            progress=make_progress(level),
            after_backfill=print_summary if level == "verbose" else None,
            compute_anyway=compute_anyway,
            availability=availability,
            years_checked=True,
            compute_options={"peer_scope": peer_scope},
            plugin_migrations=list(state.plugin_migrations),
        )
    if level == "verbose" and report.compute is not None:
        print_compute_summary(report.compute)
    from districtbench.reporting.show import example_district, example_peer_district

    with engine.connect() as connection:
        example_leaid = example_district(connection, states, example_leaid)
        peer_leaid = example_peer_district(connection, states, example_leaid)
    if level == "quiet":
        print_one_line(report, state.settings.masked_database_url)
    else:
        print_run_summary(report, state.settings.masked_database_url, example_leaid, command_prefix, peer_leaid)
    return report.exit_code


def next_prefix(state: AppState, demo_database: str | None = None) -> str:
    """`districtbench`, plus `--database-url URL` when the database was named on the command
    line (or is the demo's own), so each suggested command works as it is printed. A password
    is never printed: it shows as ***, to be put back by the user."""
    settings = state.settings
    if settings.database_url_origin == "option" or demo_database:
        url = demo_database or settings.masked_database_url
        return f"districtbench --database-url {shlex.quote(url)}"
    return "districtbench"


def print_one_line(report: PipelineReport, database: str) -> None:
    backfill = report.backfill
    failures = len(backfill.failures) if backfill else 0
    fetched = f"{backfill.count('complete'):,} units fetched ({backfill.rows_written:,} rows), {failures} failed" if backfill else "nothing fetched"
    compute = report.compute
    computed = (
        f"{len(compute.families)} families computed" if compute and compute.ok
        else f"compute failed in {compute.failed_family or 'the commit'}" if compute
        else "not computed (units failed; --compute-anyway computes)" if report.compute_skipped else "nothing computed"
    )
    line = f"{'done' if not report.exit_code else 'finished with failures'}: {fetched}; {computed}; database {database}"
    (console.info_line if not report.exit_code else console.error_line_unwrapped)(line)


def print_run_summary(
    report: PipelineReport, database: str, example_leaid: str | None, command_prefix: str = "districtbench",
    peer_leaid: str | None = None,
) -> None:
    """What was fetched (a line per source), what failed, what was computed, the database,
    and the commands to run next, each on a line of its own that is never wrapped
    (`show … --peers` for `peer_leaid`, a district with a peer group, when there is one)."""
    for line in report.migrated:
        console.note(line)
    table = console.table(
        "Run summary", "source", "years with data", "districts", "failed units", "no rows for",
        right=("districts", "failed units"),
    )
    for row in report.coverage:
        failed = console.styled(row.failed_units, "red") if row.failed_units else "0"
        table.add_row(
            row.source, format_years(row.years) if row.years else "—", f"{row.districts:,}", failed, _empty(row.empty)
        )
    console.print_err(table)
    backfill = report.backfill
    if backfill is not None:
        console.info(
            f"Fetched: {backfill.count('complete'):,} units, {backfill.rows_written:,} rows in {backfill.elapsed:.1f} s"
            f" ({backfill.count('skipped'):,} already complete)."
        )
    failures = sorted(backfill.failures if backfill else [], key=lambda o: (o.source, o.year, o.state_fips))
    if failures:
        console.error_line(f"Failed: {len(failures)} unit(s); nothing of them was written:")
        for outcome in failures[:MAX_FAILURES_LISTED]:
            console.info_line(f"  {outcome.label}: {outcome.reason}")
        if len(failures) > MAX_FAILURES_LISTED:
            console.info(f"  … and {len(failures) - MAX_FAILURES_LISTED} more (`districtbench status` counts them).")
    else:
        console.info("Failed: none.")
    if report.compute_skipped:
        console.error_line(
            f"Not computed: {len(failures)} unit(s) failed, so the benchmarks were not recomputed from a "
            "partly loaded history; the ones the last compute published are unchanged."
        )
        console.info(
            "  Run the same command again to retry them (completed units are skipped; it computes once "
            "every unit is complete), or add --compute-anyway to compute from what is loaded."
        )
    compute = report.compute
    if compute is not None:
        if compute.ok:
            updated = ", ".join(f"{family.name} {_rows_updated(family.outcome)}" for family in compute.families)
            console.info(f"Computed: {len(compute.families)} families ({updated} updated).")
        else:
            console.error_line(f"Compute failed in {compute.failed_family or 'the commit'}: {compute.error}")
    console.info(f"Database: {database}")
    leaid = example_leaid or "LEAID"
    if report.exit_code:
        console.info("Run the same command again to retry what failed (completed units are skipped).")
    commands = [
        ("what is loaded and computed", f"{command_prefix} status"),
        ("one district against its state and the US", f"{command_prefix} show {leaid}"),
        *([("the 20 districts most like it", f"{command_prefix} show {peer_leaid} --peers")] if peer_leaid else []),
        ("its report, a page with charts", f"{command_prefix} report {leaid} -o report-{leaid}.html"),
        ("every district's benchmark columns", f"{command_prefix} export -o benchmarks.csv"),
    ]
    print_next(commands)
    if "***" in command_prefix:
        console.note("*** stands for the password: put it back, or set DISTRICTBENCH_DATABASE_URL and leave --database-url out.")


def print_next(commands: list[tuple[str, str]]) -> None:
    """`Next:` and the commands; each command is printed whole on one line (never wrapped by
    us, so it copies as one), with its purpose beside it when every purpose fits the terminal
    (all or none, so they line up)."""
    console.info("Next:")
    width = console.err_width()
    longest = max(len(command) for _, command in commands)
    beside = all(2 + longest + 4 + len(purpose) <= width for purpose, _ in commands)
    for purpose, command in commands:
        console.info_line(f"  {command.ljust(longest)}  # {purpose}" if beside else f"  {command}")


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_command(
        ctx: typer.Context,
        years: str = typer.Option(..., "--years", metavar="SPEC", help=YEARS_HELP, callback=lambda value: parse_years(value)),
        states: Optional[str] = typer.Option(
            None, "--states", metavar="SPEC", help=STATES_HELP, callback=lambda value: parse_states(value), show_default=False
        ),
        concurrency: int = typer.Option(4, "--concurrency", metavar="N", min=1, max=64, help="Units fetched at once."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help=QUIET_HELP),
        verbose: bool = typer.Option(False, "--verbose", "-v", help=VERBOSE_HELP),
        refresh_catalog: bool = refresh_option(),
        compute_anyway: bool = typer.Option(
            False,
            "--compute-anyway",
            help="Compute even when some units failed (by default the last published benchmarks are kept until every unit is loaded).",
        ),
        peer_scope: str = peer_scope_option(),
    ) -> None:
        """The main job: migrate if needed, backfill every source for the years each has, then compute all.

        Years come from the API's catalog (cached for a day); years a source lacks are skipped with a note. If a unit fails, nothing is computed (the benchmarks stay as the last compute left them) unless --compute-anyway. Ends with one summary. Exit 1 if any unit or family failed (run it again to resume).

        Example: districtbench run --years latest-2 --states CA,TX
        """
        from districtbench.metrics.peers import check_scope

        scope = check_scope(peer_scope)  # a bad value: exit 2 before any request
        state = get_state(ctx)
        level = verbosity(quiet, verbose)
        prefix = next_prefix(state)
        raise typer.Exit(
            execute_run(state, state.settings.api_url, years, states, concurrency=concurrency, level=level,
                        command_prefix=prefix, refresh_catalog=refresh_catalog, compute_anyway=compute_anyway,
                        peer_scope=scope)
        )


def _empty(empty: list[tuple[int, str]], years_shown: int = 2) -> str:
    """"2018 CA, TX; 2019 CA": the requested state-years complete with 0 rows (the first
    years; `status` lists them all)."""
    by_year: dict[int, list[str]] = {}
    for year, state in empty:
        by_year.setdefault(year, []).append(state)
    parts = [f"{year} {', '.join(states[:6])}{' …' if len(states) > 6 else ''}" for year, states in by_year.items()]
    shown = parts[:years_shown]
    rest = sum(len(states) for states in list(by_year.values())[years_shown:])
    return "; ".join(shown) + (f"; +{rest} more" if rest else "") if shown else "—"


def _rows_updated(outcome: FamilyOutcome) -> str:
    """"2,218 districts", "57 states" or both: what the family writes."""
    parts = []
    if outcome.districts_updated or not outcome.states_updated:
        parts.append(f"{outcome.districts_updated:,} districts")
    if outcome.states_updated:
        parts.append(f"{outcome.states_updated:,} states")
    return " and ".join(parts)
