"""`districtbench demo`: the whole pipeline against a local copy of the API, no network needed.

The local copy is the fake Urban API server (districtbench.fakeapi) over the dataset shipped in
the package: real CCD, EDFacts, SAIPE and Texas TAPR records in the API's own field names, plus
clearly labelled synthetic finance and CRDC records. The pipeline is the same as `run`: real
HTTP, the same parsing, units, resume state and compute.
"""

from __future__ import annotations

import dataclasses
import typer

from districtbench import console
from districtbench.cli.options import QUIET_HELP, VERBOSE_HELP, parse_states, parse_years, verbosity
from districtbench.cli.state import AppState, get_state

DEMO_DATABASE_URL = "sqlite:///districtbench-demo.db"
# Where the shipped data is richest: Texas has every directory year 2012-2021 (with special
# education and English learner counts), the other four have the real 2018 API page, and the
# synthetic finance and CRDC records cover these five. `--years 2012-2023 --states` with more
# states adds the nationwide CCD 2023-24 file (no special education or English learner counts).
DEMO_YEARS = "2012-2021"
DEMO_STATES = "AL,AK,AZ,AR,TX"
# Houston ISD: Texas has ten directory years in the shipped data, so every trend is filled.
EXAMPLE_LEAID = "4823640"


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo_command(
        ctx: typer.Context,
        years: str = typer.Option(DEMO_YEARS, "--years", metavar="SPEC", help="Years to run (the shipped data covers 2012–2023)."),
        states: str = typer.Option(
            DEMO_STATES, "--states", metavar="SPEC", help="States to run (postal or FIPS codes); the shipped data is richest for these five."
        ),
        page_size: int = typer.Option(
            1000, "--page-size", metavar="N", min=1, help="Rows per page of the local API (small pages exercise pagination)."
        ),
        quiet: bool = typer.Option(False, "--quiet", "-q", help=QUIET_HELP),
        verbose: bool = typer.Option(False, "--verbose", "-v", help=VERBOSE_HELP),
    ) -> None:
        """Run the main job against a local copy of the Urban API built from real data (no internet).

        Writes to sqlite:///districtbench-demo.db in this folder unless --database-url is given, so a
        configured application database is never filled with demo data.

        Example: districtbench demo --states TX
        """
        from districtbench.fakeapi import FakeUrbanApi, load_dataset

        state = get_state(ctx)
        level = verbosity(quiet, verbose)
        year_list = parse_years(years)
        state_list = parse_states(states)
        demo_state = _demo_state(state)
        ctx.call_on_close(demo_state.close)
        if level != "quiet":
            console.info("Starting a local copy of the Urban Institute API (shipped real data; finance and CRDC synthetic)...")
        # Decode every file before serving, so the first requests do not wait for it.
        dataset = load_dataset().load_all()
        with FakeUrbanApi(dataset, page_size=page_size) as server:
            if level != "quiet":
                console.note(f"local API at {server.url}")
            from districtbench.cli.run import execute_run, next_prefix

            own_database = demo_state.settings.database_url_origin == "demo"
            prefix = next_prefix(demo_state, DEMO_DATABASE_URL if own_database else None)
            code = execute_run(
                demo_state,
                server.url,
                year_list,
                state_list,
                backoff_base=0.05,
                example_leaid=EXAMPLE_LEAID,
                command_prefix=prefix,
                level=level,
                cache_catalog=False,  # a local server on a port of its own: nothing to reuse
            )
        raise typer.Exit(code)


def _demo_state(state: AppState) -> AppState:
    """The demo writes to its own SQLite file unless a database was named on the command line."""
    settings = state.settings
    if settings.database_url_origin != "option":
        settings = dataclasses.replace(settings, database_url=DEMO_DATABASE_URL, database_url_origin="demo")
    return AppState(settings, plugin_manager=state.pm)
