"""Which units a backfill runs, and in what order.

A unit is (source, year, state). Units whose sources read the same endpoints for the same
(year, state) form one fetch task, so `enrollment` and `ell` fetch each directory page once
and no worker waits on another for the same page.

Order: units of roster-providing (directory) sources first, newest year first, then the
others. The roster rule itself does not depend on this order (see writer.py); the order only
lets the other sources find the roster as early as possible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

from districtbench.db.states import BY_FIPS
from districtbench.errors import UsageError
from districtbench.sources.base import Source
from districtbench.formatting import format_years

ALL = "all"


@dataclass(frozen=True, eq=False)
class Unit:
    source: Source
    year: int
    state_fips: str

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.source.name, self.year, self.state_fips)

    @property
    def state_abbrev(self) -> str:
        return BY_FIPS.get(self.state_fips, (self.state_fips, ""))[0]

    @property
    def label(self) -> str:
        return f"{self.source.name} {self.year} {self.state_abbrev}"


@dataclass
class FetchTask:
    """Endpoints fetched once for (year, state), feeding every unit in `units`."""

    year: int
    state_fips: str
    endpoints: tuple[str, ...]
    units: list[Unit] = field(default_factory=list)

    @property
    def provides_roster(self) -> bool:
        return any(unit.source.provides_roster for unit in self.units)


@dataclass
class Plan:
    units: list[Unit]
    notes: list[str]


def resolve_sources(registry: Iterable[Source], names: Sequence[str]) -> list[Source]:
    """Source names (or `all`) → Source objects in registry order; unknown → UsageError."""
    available = {source.name: source for source in registry}
    wanted = [name.strip() for name in names if name.strip()]
    if not wanted:
        raise UsageError(
            "No source given.", hint=f"Name one or more of: {', '.join(available)} (or `all`)."
        )
    if ALL in wanted:
        return list(available.values())
    unknown = [name for name in wanted if name not in available]
    if unknown:
        raise UsageError(
            f"Unknown source{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}.",
            hint=f"Available sources: {', '.join(available)} (or `all`).",
        )
    return [source for name, source in available.items() if name in wanted]


def plan_units(
    sources: Sequence[Source], years: Sequence[int], states: Sequence[str], *, strict_years: bool = False
) -> Plan:
    """Every (source, year, state) to run, in run order.

    A year a source does not have: with `strict_years` (sources named by the user) a
    UsageError listing that source's years; otherwise skipped with a note.
    """
    notes: list[str] = []
    units: list[Unit] = []
    for source in sources:
        missing = [year for year in years if year not in source.years]
        if missing and strict_years:

            raise UsageError(
                f"{source.name} has no data for {', '.join(map(str, missing))}.",
                hint=f"Years available for {source.name}: {format_years(source.years)}.",
            )
        if missing:
            notes.append(
                f"{source.name}: skipping {', '.join(map(str, missing))} (not available for this source)"
            )
        units += [Unit(source, year, fips) for year in years if year in source.years for fips in states]
    units.sort(key=_run_order(states))
    return Plan(units=units, notes=notes)


def _run_order(states: Sequence[str]):
    state_rank = {fips: index for index, fips in enumerate(states)}

    def key(unit: Unit):
        roster_first = 0 if unit.source.provides_roster else 1
        year = -unit.year if unit.source.provides_roster else unit.year
        return (roster_first, year, state_rank[unit.state_fips])

    return key


def group_tasks(units: Sequence[Unit]) -> list[FetchTask]:
    """Units sharing (endpoints, year, state) become one task; task order follows unit order."""
    tasks: dict[tuple, FetchTask] = {}
    for unit in units:
        key = (unit.source.endpoints, unit.year, unit.state_fips)
        task = tasks.get(key)
        if task is None:
            task = tasks[key] = FetchTask(unit.year, unit.state_fips, unit.source.endpoints)
        task.units.append(unit)
    return list(tasks.values())
