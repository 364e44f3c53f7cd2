"""The API catalog's `years_available` text, read and written.

The catalog writes years as text, in several forms over its releases:
`1986&ndash;2024`, `1991, 1994&ndash;2020`, `1995, 1997, and 1999&ndash;2024`,
`2013, 2015, 2017, 2020, 2021, 2022`, and in older releases a plain `-` (`1986-2024`) or an
en dash. `parse_years_available` reads every one of them; `format_years_available` writes the
current form (the fake API serves it).
"""

from __future__ import annotations

import html
import re
from typing import Iterable

_DASHES = re.compile(r"\s*[-\u2010-\u2015]\s*")
_RANGE = re.compile(r"^(\d{4})-(\d{4})$")
_YEAR = re.compile(r"^\d{4}$")


class YearsTextError(ValueError):
    """`years_available` holds something that is not a list of years and ranges."""


def parse_years_available(text: object) -> tuple[int, ...]:
    """Sorted distinct years of a `years_available` text; YearsTextError when unreadable."""
    if not isinstance(text, str):
        raise YearsTextError(f"years_available is not text: {text!r:.60}")
    plain = html.unescape(text)
    plain = _DASHES.sub("-", plain)
    years: set[int] = set()
    for raw in re.split(r",|;|\band\b", plain):
        part = raw.strip()
        if not part:
            continue
        match = _RANGE.match(part)
        if match:
            first, last = int(match.group(1)), int(match.group(2))
            if first > last:
                raise YearsTextError(f"reversed range {part!r} in years_available {text!r:.80}")
            years.update(range(first, last + 1))
        elif _YEAR.match(part):
            years.add(int(part))
        else:
            raise YearsTextError(f"{part!r:.40} in years_available {text!r:.80} is not a year or a range")
    if not years:
        raise YearsTextError(f"years_available {text!r:.80} names no year")
    return tuple(sorted(years))


def format_years_available(years: Iterable[int]) -> str:
    """`(1991, 1994, 1995, 1996)` → `1991, 1994&ndash;1996`, as the catalog writes it."""
    ordered = sorted(set(years))
    runs: list[list[int]] = []
    for year in ordered:
        if runs and year == runs[-1][-1] + 1:
            runs[-1].append(year)
        else:
            runs.append([year])
    return ", ".join(f"{run[0]}&ndash;{run[-1]}" if len(run) > 2 else ", ".join(map(str, run)) for run in runs)
