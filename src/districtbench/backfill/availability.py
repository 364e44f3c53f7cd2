"""What the API's catalog says about each source: its years, the filters worth sending, and
whether every field it needs still exists. Pure: the catalog is read elsewhere.

- A source's years are the years ALL its endpoints have in the catalog (absenteeism: chronic
  absenteeism has 2022, CRDC enrollment does not, so 2022 is not a year of the source; a run
  that asks for it says why). A year the catalog adds is fetched without a code change.
- Only filter variables (`is_filter`) are sent as filters: the API ignores any other and
  answers unfiltered. A declared filter that is not one is dropped (the source still checks
  the rows); a `fields=` name the varlist does not list is dropped too.
- A required field the varlist no longer lists fails the source's units before any data
  request, naming the field (the API answers an unknown `fields=` name with an empty column,
  so the rows alone could not tell).
- Without a catalog — or for an endpoint it does not describe — the source's built-in years
  and its declarations are used, with a warning. An endpoint of another API (its own base
  URL) is not the catalog's to describe: its built-in years and declarations, no warning.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Sequence

from districtbench.sources.base import Source
from districtbench.sources.request import Endpoint
from districtbench.urban.catalog import Catalog, YearsTextError

BUILT_IN = "built-in"
CATALOG = "API catalog"


@dataclass
class SourceStatus:
    """One source against the catalog."""

    source: Source  # with the catalog's years and the filters/fields the API knows
    years_from: str  # CATALOG or BUILT_IN
    endpoint_years: dict[str, tuple[int, ...]] = field(default_factory=dict)  # endpoint key → years
    gaps: dict[int, str] = field(default_factory=dict)  # year some endpoints have → why not the source's
    problem: str | None = None  # the units cannot run (a field is gone)
    notes: list[str] = field(default_factory=list)


@dataclass
class Availability:
    statuses: list[SourceStatus]
    origin: str  # where the years come from, for the user
    warnings: list[str] = field(default_factory=list)

    @property
    def sources(self) -> list[Source]:
        return [status.source for status in self.statuses]

    @property
    def blocked(self) -> dict[str, str]:
        return {s.source.name: s.problem for s in self.statuses if s.problem}

    @property
    def gaps(self) -> dict[str, dict[int, str]]:
        return {s.source.name: s.gaps for s in self.statuses if s.gaps}

    @property
    def notes(self) -> list[str]:
        return [note for status in self.statuses for note in status.notes]


def built_in(sources: Sequence[Source], reason: str | None = None) -> Availability:
    """Every source as declared (no catalog); `reason` says why there is none."""
    warnings = [f"the API's catalog could not be read ({reason}); using the built-in years"] if reason else []
    statuses = [SourceStatus(s, BUILT_IN, {e.key: s.years for e in s.endpoints}) for s in sources]
    return Availability(statuses, "built-in years" + (" (catalog unreachable)" if reason else ""), warnings)


def resolve(sources: Sequence[Source], catalog: Catalog) -> Availability:
    availability = Availability([], catalog.origin)
    for source in sources:
        availability.statuses.append(_resolve_source(source, catalog, availability.warnings))
    return availability


def _resolve_source(source: Source, catalog: Catalog, warnings: list[str]) -> SourceStatus:
    endpoints: list[Endpoint] = []
    endpoint_years: dict[str, tuple[int, ...]] = {}
    problems: list[str] = []
    notes: list[str] = []
    from_catalog = True
    for endpoint in source.endpoints:
        if endpoint.own_api:
            from_catalog = False
            endpoint_years[endpoint.key] = source.years
            endpoints.append(endpoint)
            continue
        entry = catalog.entry_for(endpoint.template)
        years: tuple[int, ...] | None = None
        if entry is None:
            warnings.append(f"{source.name}: {endpoint.key} is not in the API's catalog; using its built-in years")
        else:
            try:
                years = entry.years()
            except YearsTextError as exc:
                warnings.append(f"{source.name}: {exc}; using the built-in years")
        if years is None:
            from_catalog = False
            years = source.years
        endpoint_years[endpoint.key] = years
        variables = catalog.variables(entry) if entry is not None else None
        if variables is None:
            if entry is not None:
                why = catalog.varlist_problems.get(entry.endpoint_id, "not fetched")
                warnings.append(f"{source.name}: the variables of {endpoint.key} could not be read ({why}); "
                                "its filters and fields are sent unchecked")
            endpoints.append(endpoint)
            continue
        adapted, problem, dropped = _against_varlist(endpoint, {v.name: v for v in variables})
        endpoints.append(adapted)
        if problem:
            problems.append(problem)
        if dropped:
            notes.append(f"{source.name}: {', '.join(dropped)} not a filter variable of {endpoint.key}; "
                         "not sent (the rows are checked instead)")
    years, gaps = _common_years(endpoint_years)
    adapted_source = dataclasses.replace(source, years=years, endpoints=tuple(endpoints))
    return SourceStatus(adapted_source, CATALOG if from_catalog else BUILT_IN, endpoint_years, gaps,
                        "; ".join(problems) or None, notes)


def _against_varlist(endpoint: Endpoint, variables: dict) -> tuple[Endpoint, str | None, list[str]]:
    """(the endpoint with only filter variables as filters and known fields, why its units
    cannot run or None, the filters dropped)."""
    gone = [spec.replace("|", " or ") for spec in endpoint.required
            if not any(name in variables for name in spec.split("|"))]
    if endpoint.state_filter and not getattr(variables.get(endpoint.state_filter), "is_filter", False):
        gone_filter = f"{endpoint.state_filter!r} is not a filter variable of {endpoint.key}: one state cannot be asked for"
    else:
        gone_filter = None
    problem = None
    if gone:
        names = ", ".join(repr(name) for name in gone)
        problem = (f"field{'s' if len(gone) > 1 else ''} {names} no longer in the API's variable list of "
                   f"{endpoint.key} (renamed?); the source plugin needs updating")
    if gone_filter:
        problem = f"{problem}; {gone_filter}" if problem else gone_filter
    filters = {k: v for k, v in endpoint.filters.items() if getattr(variables.get(k), "is_filter", False)}
    dropped = [k for k in endpoint.filters if k not in filters]
    fields = tuple(name for name in endpoint.fields if name in variables)
    if problem:
        return endpoint, problem, dropped
    return dataclasses.replace(endpoint, filters=filters, fields=fields), None, dropped


def _common_years(endpoint_years: dict[str, tuple[int, ...]]) -> tuple[tuple[int, ...], dict[int, str]]:
    """(the years every endpoint has, why each year only some have is missing)."""
    sets = {key: set(years) for key, years in endpoint_years.items()}
    common = set.intersection(*sets.values()) if sets else set()
    gaps: dict[int, str] = {}
    for year in sorted(set().union(*sets.values()) - common):
        lacking = [key for key, years in sets.items() if year not in years]
        gaps[year] = f"{' and '.join(lacking)} {'has' if len(lacking) == 1 else 'have'} no {year}"
    return tuple(sorted(common)), gaps
