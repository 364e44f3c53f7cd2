"""The one place that owns rich: consoles, error lines and progress display."""

from __future__ import annotations

import os
import sys
import traceback

from typing import Iterable

from rich.console import Console
from rich.table import Table

from districtbench.config import mask_text



def _width(stream) -> int | None:
    """Rich's own width on a terminal or with $COLUMNS; otherwise wide enough that tables
    written to a pipe or a log file are not squeezed into 80 columns."""
    if os.environ.get("COLUMNS") or (hasattr(stream, "isatty") and stream.isatty()):
        return None
    return 140


# Progress and messages go to stderr; stdout carries data only.
err_console = Console(stderr=True, highlight=False, width=_width(sys.stderr))
out_console = Console(highlight=False, width=_width(sys.stdout))

_secret_urls: list[str] = []


def register_secret_url(url: str) -> None:
    """Remember a URL whose password must be masked in anything we print."""
    if url not in _secret_urls:
        _secret_urls.append(url)


def masked(text: str) -> str:
    return mask_text(text, *_secret_urls)


def info(message: str) -> None:
    err_console.print(masked(message), markup=False)


def note(message: str) -> None:
    err_console.print(f"[dim]{_escape(masked(message))}[/dim]")


def warn(message: str) -> None:
    err_console.print(f"[yellow]warning:[/yellow] {_escape(masked(message))}")


def error_line(message: str) -> None:
    err_console.print(f"[bold red]error:[/bold red] {_escape(masked(message))}")


def print_traceback(exc: BaseException) -> None:
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    sys.stderr.write(masked(text))
    sys.stderr.flush()


def table(title: str | None, *headings: str, right: Iterable[str] = ()) -> Table:
    """A rich table with these column headings; those named in `right` are right-aligned."""
    right = set(right)
    result = Table(title=title, title_justify="left")
    for heading in headings:
        result.add_column(heading, justify="right" if heading in right else "left", overflow="fold")
    return result


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
