"""The one place that owns rich: consoles, error lines, tables (`console_tables`) and
progress display (`console_progress`). No other module imports rich: commands hand over
plain data — table rows, lines, styles by name — and the console renders it.

Everything these consoles print passes `text.printable`: every string before rich
parses it (`render_str`: messages, table cells, titles), and the text of whatever was
rendered (a render hook: `Text` objects built anywhere), so no escape sequence from the API
or the database reaches the terminal however a command builds its output. Rich's own
styling and cursor control are not text and stay. The cells and lines commands hand over
are text, never markup; text that goes INTO the console's own markup is escaped: `safe(text)`.
"""

from __future__ import annotations

import os
import sys
import traceback

from typing import Iterable, Sequence

from rich.console import Console, RenderHook
from rich.measure import Measurement
from rich.segment import Segment

from districtbench.config import mask_text
from districtbench.console_tables import Cell, Grid, grid, record_blocks, styled, to_text  # noqa: F401 (styled: for the commands)
from districtbench.text import printable


def _width(stream) -> int | None:
    """Rich's own width on a terminal or with $COLUMNS; otherwise wide enough that tables
    written to a pipe or a log file are not squeezed into 80 columns."""
    if os.environ.get("COLUMNS") or (hasattr(stream, "isatty") and stream.isatty()):
        return None
    return 140


class _Cleaned:
    """A renderable whose text segments are cleaned of control characters."""

    def __init__(self, renderable) -> None:
        self.renderable = renderable

    def __rich_console__(self, console, options):
        for segment in console.render(self.renderable, options):
            if segment.control or segment.text.isprintable():
                yield segment
            else:
                yield Segment(printable(segment.text, keep_newlines=True), segment.style)

    def __rich_measure__(self, console, options) -> Measurement:
        return Measurement.get(console, options, self.renderable)


class _CleanOutput(RenderHook):
    def process_renderables(self, renderables):
        return [_Cleaned(renderable) for renderable in renderables]


class _CleanConsole(Console):
    def render_str(self, text: str, **options):
        # before rich strips BEL and CR on its own, which would leave `ESC]0;title` behind
        return super().render_str(printable(text, keep_newlines=True), **options)


def _console(**options) -> Console:
    result = _CleanConsole(highlight=False, **options)
    result.push_render_hook(_CleanOutput())
    return result


# Progress and messages go to stderr; stdout carries data only.
err_console = _console(stderr=True, width=_width(sys.stderr))
out_console = _console(width=_width(sys.stdout))

_secret_urls: list[str] = []


def register_secret_url(url: str) -> None:
    """Remember a URL whose password must be masked in anything we print."""
    if url not in _secret_urls:
        _secret_urls.append(url)


def masked(text: str) -> str:
    return mask_text(text, *_secret_urls)


def safe(text: object) -> str:
    """Text from the API or the database, ready to go inside rich markup: one line, no
    control characters, `[` escaped (a name like `[/b]` would otherwise break the markup)."""
    return _escape(printable(str(text)))


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
    sys.stderr.write(printable(masked(text), keep_newlines=True))
    sys.stderr.flush()


def table(
    title: str | None, *headings: str, right: Iterable[str] = (), plain: bool = False, whole: Iterable[str] = ()
) -> Grid:
    """A table as plain data (see `console_tables.Grid`): add rows of cells, then print it
    with `print_out` or `print_err`."""
    return grid(title, *headings, right=right, plain=plain, whole=whole)


def one_line(text: object) -> str:
    """Text from the API or the database for a table cell or a line: one line, no control
    characters (cells and lines are text, not markup: nothing to escape)."""
    return printable(str(text))


def _print(target: Console, items: tuple) -> None:
    if not items:
        target.print()
    for item in items:
        target.print(item if isinstance(item, Grid) else to_text(item))


def print_out(*items: Grid | Cell, target: Console | None = None) -> None:
    """Tables and lines (cells: text, `styled(text, "dim")`, or a tuple of them) on stdout,
    or on `target`; nothing: an empty line."""
    _print(target or out_console, items)


def print_err(*items: Grid | Cell) -> None:
    """`print_out` on stderr (summaries and progress: stdout carries data only)."""
    _print(err_console, items)


def err_width() -> int:
    return err_console.width


def fits(item: Grid, target: Console | None = None) -> bool:
    """Whether `item` fits the width of `target` (stdout) without wrapping anything."""
    target = target or out_console
    return natural_width(item, target) <= target.width


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def natural_width(renderable, target: Console | None = None) -> int:
    """The width `renderable` takes when nothing has to wrap (e.g. a table's widest rows)."""
    target = target or out_console
    return Measurement.get(target, target.options.update(width=10_000), renderable).maximum


def info_line(message: str) -> None:
    """One line of plain text, never wrapped by rich (a command to copy stays one line)."""
    err_console.print(masked(message), markup=False, soft_wrap=True)


def error_line_unwrapped(message: str) -> None:
    """`error_line`, kept on one line however long (log lines, one-line results)."""
    err_console.print(f"[bold red]error:[/bold red] {_escape(masked(message))}", soft_wrap=True)


def print_records(title: str, headings: Sequence[str], rows: Sequence[Sequence[Cell]], target: Console | None = None) -> None:
    """Rows as a table when it fits the terminal; otherwise one block per row (its first
    cell as a heading, then `heading  value` lines), so nothing is cut inside a word."""
    target = target or out_console
    records = table(title, *headings)
    for row in rows:
        records.add_row(*row)
    if fits(records, target):
        target.print(records)
        return
    for renderable in record_blocks(title, headings, rows):
        target.print(renderable)
