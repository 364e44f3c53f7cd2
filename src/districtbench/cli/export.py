"""`districtbench export`: the benchmark columns, one row per district (or per state)."""

from __future__ import annotations

import enum
import os
import sys
from pathlib import Path
from typing import Optional

import typer

from districtbench import console
from districtbench.cli.options import STATES_HELP, parse_states
from districtbench.cli.state import get_state
from districtbench.errors import UsageError

EXTENSIONS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}


class ExportFormat(str, enum.Enum):
    csv = "csv"
    json = "json"
    jsonl = "jsonl"


class ExportTable(str, enum.Enum):
    districts = "districts"
    states = "states"
    peers = "peers"
    peer_benchmarks = "peer_benchmarks"


def choose_format(given: ExportFormat | None, output: Path | None) -> str:
    """--format if given, else the output file's extension (any case), else CSV on stdout."""
    if given is not None:
        return given.value
    if output is None:
        return "csv"
    chosen = EXTENSIONS.get(output.suffix.lower())
    if chosen is None:
        raise UsageError(
            f"Cannot tell the format of {output.name!r} from its extension.",
            hint="Name the file .csv, .json or .jsonl, or give --format csv|json|jsonl.",
        )
    return chosen


def register(app: typer.Typer) -> None:
    @app.command("export")
    def export_command(
        ctx: typer.Context,
        output_format: Optional[ExportFormat] = typer.Option(
            None, "--format", "-f", case_sensitive=False, show_default=False,
            help="csv (a header row, empty cells for NULL), json (an array of objects) or jsonl (one object "
            "per line, for large exports). Default: from the --output extension, else csv.",
        ),
        output: Optional[Path] = typer.Option(
            None, "--output", "-o", metavar="FILE", dir_okay=False, show_default=False,
            help="Write to this file instead of stdout (written whole or not at all).",
        ),
        table: ExportTable = typer.Option(
            ExportTable.districts, "--table", case_sensitive=False,
            help="districts (one row per district), states (each state, the territories and the US row), "
            "peers (one row per district and peer: leaid, peer_leaid, rank, distance) or peer_benchmarks "
            "(one row per district and metric: leaid, metric, peer_average, vs_peers, peer_quartile).",
        ),
        states: Optional[str] = typer.Option(None, "--states", metavar="SPEC", help=STATES_HELP.replace(
            "; default the 50 states and DC", ". Default: all"), show_default=False),
        columns: Optional[str] = typer.Option(
            None, "--columns", metavar="A,B,C", show_default=False,
            help="Only these columns, in this order (comma-separated database column names).",
        ),
        with_years: bool = typer.Option(
            False, "--with-years",
            help="After each sourced figure add <figure>_source (history source) and <figure>_year (fall of the school year).",
        ),
    ) -> None:
        """Export every district's identifiers and benchmark columns (field names = districtbench's column names).

        Where the app renamed a column, the export keeps districtbench's name (graduation_rate_total, not graduation_rate).

        Example: districtbench export --states TX -o texas.csv
        """
        from districtbench.reporting.export import WRITERS, choose_columns, rows, with_provenance

        chosen_format = choose_format(output_format, output)
        state_fips = parse_states(states) if states is not None else None
        selected = choose_columns(table.value, columns)
        fields = with_provenance(table.value, selected) if with_years else selected
        engine = get_state(ctx).existing_engine()
        write = WRITERS[chosen_format]
        with engine.connect() as connection:
            data = rows(connection, table.value, selected, state_fips, years=with_years)
            if output is None:
                try:
                    count = write(data, fields, sys.stdout)
                    sys.stdout.flush()
                except BrokenPipeError:  # `export | head`: the reader has what it wanted
                    _silence_stdout()
                    raise typer.Exit(0) from None
            else:
                from districtbench.cli.output import write_atomically

                count = write_atomically(output, lambda stream: write(data, fields, stream))
        what = {ExportTable.districts: "districts", ExportTable.states: "state rows", ExportTable.peers: "peer rows",
                ExportTable.peer_benchmarks: "peer benchmark rows"}[table]
        console.note(f"Exported {count:,} {what} to {output or 'stdout'} ({chosen_format}).")


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # io.UnsupportedOperation: not a real file
        pass
