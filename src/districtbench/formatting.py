"""Text shared by library messages and the CLI."""

from __future__ import annotations


def format_years(years) -> str:
    """Compress a year list: 1994–2020 as one range, gaps as commas (1991, 1994–2020)."""
    years = sorted(set(years))
    if not years:
        return "—"
    runs: list[str] = []
    start = previous = years[0]
    for year in years[1:] + [None]:
        if year is not None and year == previous + 1:
            previous = year
            continue
        runs.append(str(start) if start == previous else f"{start}–{previous}")
        if year is not None:
            start = previous = year
    return ", ".join(runs)
