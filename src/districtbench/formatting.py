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


def school_year(year: int | None) -> str:
    """The Urban API's `year` is the fall of the school year: 2021 → "2021-22"."""
    if year is None:
        return "—"
    return f"{year}-{(year + 1) % 100:02d}"


# NCES urban-centric locale codes (the directory's `urban_centric_locale`).
LOCALES = {
    11: "City, large",
    12: "City, midsize",
    13: "City, small",
    21: "Suburb, large",
    22: "Suburb, midsize",
    23: "Suburb, small",
    31: "Town, fringe",
    32: "Town, distant",
    33: "Town, remote",
    41: "Rural, fringe",
    42: "Rural, distant",
    43: "Rural, remote",
}


def locale_name(code: int | None) -> str | None:
    """`21` → "Suburb, large"; None for a missing code; an unknown code says so."""
    if code is None:
        return None
    return LOCALES.get(code, f"locale code {code}")


GRADE_NAMES = {-1: "PK", 0: "K", 14: "adult education", 15: "ungraded"}


def grades_label(lowest: int | None, highest: int | None) -> str | None:
    """CCD grade codes (-1 Pre-K, 0 K, 1 … 13, 14 adult education, 15 ungraded) as
    "Grades PK–12"; None when neither is known."""
    if lowest is None and highest is None:
        return None
    names = [GRADE_NAMES.get(code, str(code)) if code is not None else "?" for code in (lowest, highest)]
    if names[0] == names[1]:
        return f"Grade {names[0]}" if lowest is not None and 0 <= lowest <= 13 else names[0].capitalize()
    return f"Grades {names[0]}–{names[1]}"


SPARK_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values) -> str:
    """One bar character per value, lowest ▁ to highest █ (all equal: a flat middle line)."""
    values = [float(value) for value in values]
    if not values:
        return ""
    low, high = min(values), max(values)
    if high == low:
        return SPARK_BARS[3] * len(values)
    steps = len(SPARK_BARS) - 1
    return "".join(SPARK_BARS[round((value - low) / (high - low) * steps)] for value in values)
