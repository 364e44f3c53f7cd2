"""`districtbench backfill SOURCE… --years SPEC [--states SPEC] [--concurrency N] [--force]`.

Thin: parses options, checks them before touching the database, builds ONE UrbanClient for
the run and hands over to `districtbench.backfill.run_backfill`.

Environment: DISTRICTBENCH_BACKOFF_BASE — seconds of the first retry wait (then ×2 each
retry; default 1; `config.Settings.backoff_base`). Tests and local fake servers set it small (0.01).
"""

from __future__ import annotations

from typing import List, Optional

import typer

from districtbench.cli.catalog import refresh_option, sources_as_the_api_has_them
from districtbench.cli.options import QUIET_HELP, STATES_HELP, YEARS_HELP, parse_states, parse_years, verbosity
from districtbench.cli.state import get_state

def register(app: typer.Typer) -> None:
    @app.command("backfill")
    def backfill_command(
        ctx: typer.Context,
        sources: List[str] = typer.Argument(
            ..., metavar="SOURCE...", help="Source names (see `districtbench sources`) or `all`."
        ),
        years: str = typer.Option(
            ..., "--years", metavar="SPEC", help=YEARS_HELP, callback=lambda value: parse_years(value)
        ),
        states: Optional[str] = typer.Option(
            None,
            "--states",
            metavar="SPEC",
            help=STATES_HELP,
            callback=lambda value: parse_states(value),
            show_default=False,
        ),
        concurrency: int = typer.Option(4, "--concurrency", metavar="N", min=1, max=16, help="Fetches at once (HTTP connections)."),
        force: bool = typer.Option(False, "--force", help="Fetch units again even if already complete."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help=QUIET_HELP),
        verbose: bool = typer.Option(False, "--verbose", "-v", help="Print a line per unit."),
        refresh_catalog: bool = refresh_option(),
    ) -> None:
        """Fetch SOURCE data for the years and states into district_data_history (resumable).

        Units (source, year, state) run concurrently; each is written atomically. Completed units are skipped by later runs unless --force. Years come from the API's catalog (cached for a day). Exit 1 if any unit failed. Retry waits start at $DISTRICTBENCH_BACKOFF_BASE seconds (default 1).

        Example: districtbench backfill finance poverty --years latest-2 --states CA,TX
        """
        from districtbench.backfill import plan_units, resolve_sources, run_backfill
        from districtbench.backfill.display import print_one_line, print_summary
        from districtbench.console_progress import make_progress
        from districtbench.plugins.host import ALL
        from districtbench.urban.client import UrbanClient

        level = verbosity(quiet, verbose)
        state = get_state(ctx)
        chosen = resolve_sources(state.sources, sources)
        strict = ALL not in [name.strip() for name in sources]
        backoff = state.settings.backoff_base
        availability = sources_as_the_api_has_them(state.settings, chosen, refresh=refresh_catalog, backoff_base=backoff)
        # usage errors (a year a source lacks) before the database
        plan = plan_units(availability.sources, years, states, strict_years=strict, gaps=availability.gaps)
        engine = state.migrated_engine()
        with UrbanClient(state.settings.api_url, backoff_base=backoff, keep_results=False,
                         listing_timeout=state.settings.listing_timeout) as client:
            report = run_backfill(
                engine,
                client,
                chosen,
                years,
                states,
                concurrency=concurrency,
                force=force,
                progress=make_progress(level),
                strict_years=strict,
                availability=availability,
                plan=plan,
            )
        if level == "quiet":
            print_one_line(report)
        else:
            print_summary(report)
        raise typer.Exit(report.exit_code)
