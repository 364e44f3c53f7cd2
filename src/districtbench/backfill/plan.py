"""Which units a backfill runs, and in what order.

A unit is (source, year, state). Units whose sources read the same endpoints (same filters)
for the same (year, state) form one fetch task, asking for the union of their fields, so
`enrollment` and `ell` fetch each directory page once and no worker waits on another for the
same page; the host then derives each listing's district records and roster rows once for
all the task's units (sources/rows.py, `TaskListings`).

Order: units of roster-providing (directory) sources first, newest year first, then the
others. The roster rule itself does not depend on this order (see writer.py); the order only
lets the other sources find the roster as early as possible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

from districtbench.db.states import BY_FIPS
from districtbench.errors import UsageError
from districtbench.plugins.host import ALL  # re-exported by districtbench.backfill
from districtbench.sources.base import Source
from districtbench.sources.request import Endpoint, merged, request_identity
from districtbench.formatting import format_years
from districtbench.yearspec import Latest, YearSpec, years_for


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
    """Endpoints fetched once for (year, state), feeding every unit in `units`.

    endpoints: one request per endpoint (the units' declarations merged). failure: set when
    the units cannot run at all (a field their sources need is gone from the API's varlist):
    they fail without any request.
    """

    year: int
    state_fips: str
    endpoints: tuple[Endpoint, ...]
    units: list[Unit] = field(default_factory=list)
    failure: str | None = None

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
    sources: Sequence[Source],
    years: YearSpec,
    states: Sequence[str],
    *,
    strict_years: bool = False,
    gaps: Mapping[str, Mapping[int, str]] | None = None,
) -> Plan:
    """Every (source, year, state) to run, in run order.

    years: a list, or `Latest` (each source's own latest years). A year a source does not have:
    with `strict_years` (sources named by the user) a UsageError listing that source's years;
    otherwise skipped with a note. `gaps` (source → year → why) explains a year some of a
    source's endpoints have and others not (absenteeism 2022: no CRDC enrollment).
    """
    gaps = gaps or {}
    notes: list[str] = []
    units: list[Unit] = []
    for source in sources:
        chosen = years_for(years, source.years)
        missing = [] if isinstance(years, Latest) else [year for year in years if year not in source.years]
        why = gaps.get(source.name, {})
        if missing and strict_years:
            reasons = "; ".join(why[year] for year in missing if year in why)
            raise UsageError(
                f"{source.name} has no data for {', '.join(map(str, missing))}"
                + (f" ({reasons})." if reasons else "."),
                hint=f"Years available for {source.name}: {format_years(source.years)}.",
            )
        explained = [f"{year} ({why[year]})" for year in missing if year in why]
        plain = [str(year) for year in missing if year not in why]
        if plain:
            notes.append(f"{source.name}: skipping {', '.join(plain)} (not available for this source)")
        if explained:
            notes.append(f"{source.name}: skipping {', '.join(explained)}")
        covered = list(states) if source.states is None else [fips for fips in states if fips in source.states]
        if source.states is not None and len(covered) < len(states):
            names = ", ".join(BY_FIPS.get(fips, (fips,))[0] for fips in source.states)
            notes.append(f"{source.name}: covers {names} only" + ("" if covered else "; none of the states asked")
                         if len(source.states) <= 5 else f"{source.name}: covers {len(source.states)} states only")
        units += [Unit(source, year, fips) for year in chosen for fips in covered]
    units.sort(key=_run_order(states))
    return Plan(units=units, notes=notes)


def _run_order(states: Sequence[str]):
    state_rank = {fips: index for index, fips in enumerate(states)}

    def key(unit: Unit):
        roster_first = 0 if unit.source.provides_roster else 1
        year = -unit.year if unit.source.provides_roster else unit.year
        return (roster_first, year, state_rank[unit.state_fips])

    return key


def group_tasks(units: Sequence[Unit], blocked: Mapping[str, str] | None = None) -> list[FetchTask]:
    """Units sharing (endpoints with their filters, year, state) become one task, asking for
    the union of their fields; task order follows unit order. Units of a source in `blocked`
    (name → reason) go into tasks of their own that fail without a request."""
    blocked = blocked or {}
    groups: dict[tuple, list[Unit]] = {}
    for unit in units:
        identity = tuple(request_identity(endpoint) for endpoint in unit.source.endpoints)
        reason = blocked.get(unit.source.name)
        groups.setdefault((identity, unit.year, unit.state_fips, reason), []).append(unit)
    tasks = []
    for (_, year, state_fips, reason), members in groups.items():
        declarations = zip(*(unit.source.endpoints for unit in members))
        endpoints = tuple(merged(same) for same in declarations)
        tasks.append(FetchTask(year, state_fips, endpoints, members, failure=reason))
    return tasks
