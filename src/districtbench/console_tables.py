"""Tables and styled text as plain data, made into rich objects only here (part of the console).

Commands build a `Grid` (headings, rows of cells) and lines of cells, and hand them to
`console.print_out` / `console.print_err`. A cell is a string, a `Styled` string (a style by
name: "red", "dim", "bold"…), or a tuple of those written one after the other. Strings are
text, never rich markup: a `[` in a district's name is shown as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence, Union

from rich.table import Table
from rich.text import Text

from districtbench.text import printable


@dataclass(frozen=True)
class Styled:
    """`text` in the rich style `style` (a name such as "red" or "bold", or "" for none)."""

    text: str
    style: str


Cell = Union[str, Styled, Sequence[Union[str, Styled]]]


def styled(text: object, style: str) -> Styled:
    return Styled(str(text), style)


def to_text(cell: Cell) -> Text:
    """The cell as rich text, cleaned first (rich would strip a BEL or CR on its own and leave
    the rest of an escape sequence, `ESC]0;title`, behind)."""
    if isinstance(cell, Text):
        return cell
    if isinstance(cell, (str, Styled)):
        cell = (cell,)
    result = Text()
    for part in cell:
        if isinstance(part, Styled):
            result.append(printable(part.text, keep_newlines=True), style=part.style or None)
        else:
            result.append(printable(str(part), keep_newlines=True))
    return result


@dataclass
class Grid:
    """A table as data: column headings; those named in `right` are right-aligned numbers,
    never wrapped (a narrow terminal squeezes the text columns, which wrap between words);
    those named in `whole` are short texts (names, dates) never wrapped either. `plain`: no
    box lines, only a rule under the headings."""

    title: str | None
    headings: tuple[str, ...]
    right: frozenset[str] = frozenset()
    whole: frozenset[str] = frozenset()
    plain: bool = False
    rows: list[tuple[Cell, ...]] = field(default_factory=list)

    def add_row(self, *cells: Cell) -> None:
        self.rows.append(cells)

    def __rich__(self) -> Table:
        from rich import box

        options = {"box": box.SIMPLE_HEAD, "show_edge": False, "pad_edge": False, "collapse_padding": True} if self.plain else {}
        result = Table(title=self.title, title_justify="left", **options)
        rows = [[to_text(cell) for cell in row] for row in self.rows]
        for index, heading in enumerate(self.headings):
            if heading in self.whole:
                result.add_column(heading, justify="left", no_wrap=True)
            elif heading in self.right:
                # the numbers never wrap; a long heading above them may (between its words)
                widest = max((row[index].cell_len for row in rows if index < len(row)), default=0)
                result.add_column(heading, justify="right", min_width=widest)
            else:
                result.add_column(heading, justify="left", overflow="fold")
        for row in rows:
            result.add_row(*row)
        return result


def grid(title: str | None, *headings: str, right: Iterable[str] = (), plain: bool = False,
         whole: Iterable[str] = ()) -> Grid:
    return Grid(title, headings, frozenset(right), frozenset(whole), plain)


def record_blocks(title: str, headings: Sequence[str], rows: Sequence[Sequence[Cell]]) -> list:
    """The rows of a table too wide for the terminal as one block per row: its first cell as
    a heading, then `heading  value` lines (wrapping between words; a word wider than the
    terminal folds)."""
    renderables: list = [Text(title, style="bold")]
    for row in rows:
        block = Table.grid(padding=(0, 2), pad_edge=True)
        block.add_column(style="dim", no_wrap=True)
        block.add_column(overflow="fold")
        for heading, value in zip(headings[1:], row[1:]):
            block.add_row(heading, to_text(value))
        first = row[0]
        renderables += ["", to_text(first if not isinstance(first, str) else Styled(first, "bold")), block]
    return renderables
