"""Text from outside (the API, the database, exception messages) made safe to show or store.

A terminal obeys escape sequences wherever they come from: a district name holding `ESC[2J`
clears the screen, an OSC sequence retitles the window, a carriage return overwrites the
line; PostgreSQL refuses a NUL in text. `printable` removes whole escape sequences (CSI, OSC,
DCS, …, 7- and 8-bit), then every other control character (C0, DEL, C1) and the Unicode
bidirectional overrides that reorder what is displayed; line breaks and tabs become spaces,
unless the text is a message whose lines are meant (`keep_newlines`).

No rich here: library code uses it too (the sources, the backfill runner's failure
reasons); `console` applies it to everything it prints.
"""

from __future__ import annotations

import re

_ESCAPE_SEQUENCE = re.compile(
    r"""
      (?:\x1b\[|\x9b) [0-?]* [ -/]* [@-~]                  # CSI: cursor, erase, colours
    | (?:\x1b[]PX^_]|[\x90\x98\x9d-\x9f]) [^\x07\x1b\x9c]*?  # OSC, DCS, SOS, PM, APC …
      (?:\x07|\x1b\\|\x9c)                                 #   … up to BEL or ST
    | \x1b [ -/]* [0-~]                                    # two-byte and charset sequences
    """,
    re.VERBOSE,
)
_LINE_BREAK = re.compile("\r\n|[\n\r\u2028\u2029]")
_PAGE_BREAK = re.compile("[\x0b\x0c]")  # vertical tab, form feed
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """`text` without escape sequences or control characters, on one line (line breaks and
    tabs become spaces) unless `keep_newlines` (then each line break is one `\\n` and tabs
    stay). An unfinished sequence loses its ESC; what follows it is inert text."""
    if text.isprintable():  # the common case: nothing to do
        return text
    text = _ESCAPE_SEQUENCE.sub("", text)
    text = _PAGE_BREAK.sub(" ", _LINE_BREAK.sub("\n" if keep_newlines else " ", text))
    if not keep_newlines:
        text = text.replace("\t", " ")
    return _CONTROL.sub("", text)


def clean_text(text: str) -> tuple[str, bool]:
    """(`printable(text)`, whether anything was removed or replaced)."""
    cleaned = printable(text)
    return cleaned, cleaned != text
