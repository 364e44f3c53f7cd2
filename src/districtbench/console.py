"""The one place that owns rich: consoles, error lines and progress display.

Everything these consoles print passes `text.printable`: every string before rich
parses it (`render_str`: messages, table cells, titles), and the text of whatever was
rendered (a render hook: `Text` objects built anywhere), so no escape sequence from the API
or the database reaches the terminal however a command builds its output. Rich's own
styling and cursor control are not text and stay. Text from outside that goes INTO rich
markup must still be escaped: `safe(text)`.
"""

from __future__ import annotations

import os
import sys
import traceback

from typing import Iterable, Sequence

from rich.console import Console, RenderHook
from rich.measure import Measurement
from rich.segment import Segment
from rich.table import Table

from districtbench.config import mask_text
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
) -> Table:
    """A rich table with these column headings; those named in `right` are right-aligned
    numbers, never wrapped (a narrow terminal squeezes the text columns, which wrap between
    words); those named in `whole` are short texts (names, dates) never wrapped either.
    `plain`: no box lines, only a rule under the headings."""
    right = set(right) | set(whole)
    left_whole = set(whole)
    options = {"box": _simple_head(), "show_edge": False, "pad_edge": False, "collapse_padding": True} if plain else {}
    result = Table(title=title, title_justify="left", **options)
    for heading in headings:
        if heading in left_whole:
            result.add_column(heading, justify="left", no_wrap=True)
        elif heading in right:
            result.add_column(heading, justify="right", no_wrap=True)
        else:
            result.add_column(heading, justify="left", overflow="fold")
    return result


def _simple_head():
    from rich import box

    return box.SIMPLE_HEAD


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


def print_records(title: str, headings: Sequence[str], rows: Sequence[Sequence[str]], target: Console | None = None) -> None:
    """Rows as a table when it fits the terminal; otherwise one block per row (its first
    cell as a heading, then `heading  value` lines), so nothing is cut inside a word."""
    target = target or out_console
    grid = table(title, *headings)
    for row in rows:
        grid.add_row(*row)
    if natural_width(grid, target) <= target.width:
        target.print(grid)
        return
    target.print(f"[bold]{_escape(title)}[/bold]")
    for row in rows:
        block = Table.grid(padding=(0, 2), pad_edge=True)
        block.add_column(style="dim", no_wrap=True)
        block.add_column(overflow="fold")  # wraps between words; folds only a word wider than the terminal
        for heading, value in zip(headings[1:], row[1:]):
            block.add_row(heading, str(value))
        target.print()
        target.print(f"[bold]{_escape(row[0])}[/bold]")
        target.print(block)
