"""The one parser per option kind: `--years` and `--states`.

Every command that takes years or states parses them here, so `2017-2021` or `CA,06` mean
the same thing everywhere. Parsers raise `typer.BadParameter` (exit 2) with a message that
says what was wrong and what is accepted.
"""

from __future__ import annotations

import re

import typer

from districtbench.db.states import BY_ABBREV, STATES, STATES_AND_DC_FIPS, TERRITORIES
from districtbench.yearspec import Latest

MIN_YEAR = 1900
MAX_YEAR = 2100
YEARS_HELP = (
    "Years: 2019, 2017-2021, 2013,2015, a mix (2013,2015-2017), or latest / latest-N: each "
    "source's latest year and the N years it has before it (CRDC latest-2: 2017, 2020, 2021)."
)
STATES_HELP = "States: postal codes or FIPS codes, comma-separated (CA,TX or 06,48); default the 50 states and DC."

_RANGE = re.compile(r"^(\d+)\s*[-–]\s*(\d+)$")
_LATEST = re.compile(r"^latest(?:\s*-\s*(\d+))?$", re.IGNORECASE)
_YEAR = re.compile(r"^\d+$")
_FIPS_BY_CODE = {fips: fips for fips, _, _ in STATES + TERRITORIES}


def parse_years(spec: str | None) -> list[int] | Latest:
    """`2019`, `2017-2021`, `2013,2015`, or a mix → sorted distinct years; `latest` or
    `latest-N` → `Latest(N)`, resolved per source from the years it has."""
    if spec is None or not spec.strip():
        raise typer.BadParameter(f"no years given. {YEARS_HELP}")
    latest = _LATEST.match(spec.strip())
    if latest:
        before = int(latest.group(1) or 0)
        if before > MAX_YEAR - MIN_YEAR:
            raise typer.BadParameter(f"{spec.strip()!r}: N of latest-N is a count of years. {YEARS_HELP}")
        return Latest(before)
    if "latest" in spec.lower():
        raise typer.BadParameter(f"{spec.strip()!r}: latest cannot be combined with other years. {YEARS_HELP}")
    years: set[int] = set()
    for raw in spec.split(","):
        part = raw.strip()
        if not part:
            raise typer.BadParameter(f"empty item in {spec!r}. {YEARS_HELP}")
        match = _RANGE.match(part)
        if match:
            first, last = _year(match.group(1), part), _year(match.group(2), part)
            if first > last:
                raise typer.BadParameter(
                    f"reversed range {part!r}: write it as {last}-{first}. {YEARS_HELP}"
                )
            years.update(range(first, last + 1))
        elif _YEAR.match(part):
            years.add(_year(part, part))
        else:
            raise typer.BadParameter(f"{part!r} is not a year or a range. {YEARS_HELP}")
    return sorted(years)


def _year(text: str, part: str) -> int:
    year = int(text)
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise typer.BadParameter(
            f"{text!r} in {part!r} is not a four-digit year ({MIN_YEAR}–{MAX_YEAR}). {YEARS_HELP}"
        )
    return year


def parse_states(spec: str | None) -> list[str]:
    """Postal codes or FIPS codes (`CA,TX`, `06,48`, `6`) → FIPS codes in the order given.

    None (option not given) means the 50 states and DC. Territories in CCD data (AS, GU, MP,
    PR, VI) are accepted when named.
    """
    if spec is None:
        return list(STATES_AND_DC_FIPS)
    if not spec.strip():
        raise typer.BadParameter(f"no states given. {STATES_HELP}")
    result: list[str] = []
    unknown: list[str] = []
    for raw in spec.split(","):
        part = raw.strip()
        if not part:
            raise typer.BadParameter(f"empty item in {spec!r}. {STATES_HELP}")
        fips = _state_fips(part)
        if fips is None:
            unknown.append(part)
        elif fips not in result:
            result.append(fips)
    if unknown:
        raise typer.BadParameter(
            f"unknown state{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}. "
            f"Valid: {valid_states_text()}."
        )
    return result


def _state_fips(part: str) -> str | None:
    if part.isdigit():
        return _FIPS_BY_CODE.get(part.zfill(2)) if len(part) <= 2 else None
    return BY_ABBREV.get(part.upper())


def valid_states_text() -> str:
    codes = ", ".join(f"{abbrev} ({fips})" for fips, abbrev, _ in STATES + TERRITORIES)
    return codes


QUIET_HELP = "Print only errors and the final one-line result."
VERBOSE_HELP = "Print a line per unit and the full summaries (per source and year, per family)."


def verbosity(quiet: bool, verbose: bool) -> str:
    """`--quiet` / `--verbose` → the progress level of `console_progress` (not both)."""
    if quiet and verbose:
        raise typer.BadParameter("--quiet and --verbose cannot be combined; use one.")
    return "quiet" if quiet else "verbose" if verbose else "normal"


def peer_scope_option() -> str:
    """`--peer-scope`, as `compute` and `run` take it (checked by `metrics.peers.check_scope`,
    which the peers family reads it with; imported there only when peers are computed)."""
    return typer.Option(
        "national",
        "--peer-scope",
        help="Where the peers family looks for a district's 20 peers: national (any state) or state "
        "(its own state only). Same locale group either way.",
        metavar="national|state",
    )
