"""`districtbench export`: the districts' benchmark columns, one row per district."""

from __future__ import annotations

import enum
import os
import sys
import tempfile
from pathlib import Path
from typing import Optional

import typer

from districtbench import console
from districtbench.cli.options import parse_states
from districtbench.cli.state import get_state
from districtbench.reporting.export import district_rows, export_columns, write_csv, write_json


class ExportFormat(str, enum.Enum):
    csv = "csv"
    json = "json"


def register(app: typer.Typer) -> None:
    @app.command("export")
    def export_command(
        ctx: typer.Context,
        output_format: ExportFormat = typer.Option(
            ExportFormat.csv, "--format", "-f", help="csv (a header row, empty cells for NULL) or json (an array of objects)."
        ),
        output: Optional[Path] = typer.Option(
            None, "--output", "-o", help="Write to this file instead of stdout (written whole or not at all).", dir_okay=False
        ),
        states: Optional[str] = typer.Option(
            None, "--states", help="Only these states: postal or FIPS codes, comma-separated (CA,TX or 06,48). Default: all."
        ),
    ) -> None:
        """Export every district's identifiers and benchmark columns (field names = districtbench's column names, also where the app renamed a column: graduation_rate_total, not graduation_rate)."""
        state = get_state(ctx)
        state_fips = parse_states(states) if states is not None else None
        engine = state.migrated_engine()
        columns = export_columns()
        with engine.connect() as connection:
            rows = district_rows(connection, state_fips)
            if output is None:
                try:
                    count = _write(output_format, rows, columns, sys.stdout)
                    sys.stdout.flush()
                except BrokenPipeError:  # `export | head`: the reader has what it wanted
                    _silence_stdout()
                    raise typer.Exit(0) from None
            else:
                count = _write_file_atomically(output, output_format, rows, columns)
        where = str(output) if output else "stdout"
        console.note(f"Exported {count:,} districts to {where}.")


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # io.UnsupportedOperation: not a real file
        pass


def _write(output_format: ExportFormat, rows, columns, stream) -> int:
    if output_format is ExportFormat.csv:
        return write_csv(rows, columns, stream)
    return write_json(rows, stream)


def _write_file_atomically(path: Path, output_format: ExportFormat, rows, columns) -> int:
    directory = path.resolve().parent
    if not directory.is_dir():
        from districtbench.errors import UsageError

        raise UsageError(f"Cannot write {path}: the folder {directory} does not exist.", hint="Create it or choose another --output.")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            count = _write(output_format, rows, columns, stream)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return count
