"""`districtbench report LEAID [-o FILE.html]` and `report --state ST [-o FILE.html]`.

One self-contained HTML page (charts inline, no scripts, nothing fetched) to open offline,
print or attach. matplotlib and Jinja2 are imported here, only when a report is made.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from districtbench import console
from districtbench.cli.state import get_state
from districtbench.errors import UsageError


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report_command(
        ctx: typer.Context,
        leaid: Optional[str] = typer.Argument(
            None, metavar="[LEAID]", help="The district's NCES LEAID (or part of its name). Leave out with --state.",
            show_default=False,
        ),
        state_code: Optional[str] = typer.Option(
            None, "--state", metavar="ST", help="A state's report instead: postal or FIPS code (TX or 48).", show_default=False
        ),
        output: Optional[Path] = typer.Option(
            None, "--output", "-o", metavar="FILE.html", dir_okay=False, show_default=False,
            help="Where to write the page (default: report-LEAID.html or report-ST.html in this folder).",
        ),
    ) -> None:
        """Write one district's (or one state's) benchmarks as a self-contained HTML page with charts.

        The page opens from the file with no network (no scripts, fonts or images from elsewhere) and prints one section per page.

        Example: districtbench report 4823640 -o houston.html
        """
        if (leaid is None) == (state_code is None):
            raise UsageError(
                "Name one district (LEAID) or one state (--state), not both and not neither.",
                hint="For example `districtbench report 4823640` or `districtbench report --state TX`.",
            )
        state_fips = _state_fips(state_code) if state_code is not None else None
        app_state = get_state(ctx)
        engine = app_state.existing_engine()
        from datetime import datetime

        from districtbench.reporting import page, report_data
        from districtbench.reporting.show import find_district

        history_source_of = {source.name: source.history_source for source in app_state.sources}
        now = datetime.now()
        database = app_state.settings.masked_database_url
        with engine.connect() as connection:
            if state_fips is not None:
                data = report_data.state_report(connection, state_fips, history_source_of, database, now,
                                                app_state.measures)
                default_name = f"report-{data.abbrev}.html"
            else:
                found = find_district(connection, leaid)
                data = report_data.district_report(connection, found, history_source_of, database, now,
                                                   app_state.measures)
                default_name = f"report-{found}.html"
        html = page.render_state(data) if state_fips is not None else page.render_district(data)
        target = output or Path(default_name)
        from districtbench.cli.output import write_atomically

        write_atomically(target, lambda stream: stream.write(html))
        size = len(html.encode("utf-8"))
        console.info(f"Wrote {target} ({size / 1024:,.0f} kB). Open it in a browser; it needs no network.")


def _state_fips(code: str) -> str:
    from districtbench.cli.options import parse_states

    try:
        states = parse_states(code)
    except typer.BadParameter as exc:
        raise UsageError(f"--state: {exc.message}") from None
    if len(states) != 1:
        raise UsageError(f"--state takes one state, not {code!r}.", hint="For example --state TX.")
    return states[0]
