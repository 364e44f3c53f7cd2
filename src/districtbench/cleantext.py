"""Text from outside (the API, the database, exception messages) made safe to show or record.

A terminal obeys escape sequences wherever they come from: a district name holding `ESC[2J`
clears the screen, an OSC sequence retitles the window, a carriage return overwrites the
line. `clean_text` removes them — whole escape sequences (CSI, OSC, DCS, …, 7- and 8-bit),
then every remaining C0 control except tab (and newline where asked), DEL, C1, and the
Unicode bidirectional overrides that reorder what is displayed. PostgreSQL cannot store
NUL in text either, so the same function makes a failure reason recordable.

No rich here: library code (the backfill runner) uses it too; `console` applies it to
everything it prints.
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
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def clean_text(text: str, *, keep_newlines: bool = False) -> str:
    """`text` without escape sequences or control characters; tabs are kept, line breaks
    become spaces unless `keep_newlines` (then each is one `\\n`)."""
    if text.isprintable():  # the common case: nothing to do
        return text
    text = _ESCAPE_SEQUENCE.sub("", text)
    text = _LINE_BREAK.sub("\n" if keep_newlines else " ", text)
    return _CONTROL.sub("", text)
