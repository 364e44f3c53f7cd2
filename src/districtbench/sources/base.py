"""What a source plugin is. A source declares; the host fetches, writes and resumes.

A source never touches the database, rich, threads or `time.sleep`: the backfill host
fetches every endpoint of a unit (source, year, state) through the HTTP client, hands the
records to `parse_unit`, and writes what comes back atomically.

Value types in `UnitRows.history`: INTEGER columns hold `int`, NUMERIC(p,s) columns hold
`decimal.Decimal` quantized to the column's scale (ROUND_HALF_UP), a missing value is `None`.
Every value fits its column: one that does not is `None` and counted in `UnitRows.nulled`.
Rows are sorted by `leaid`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from districtbench.errors import DistrictbenchError
from districtbench.sources.request import Endpoint


class MissingFieldError(DistrictbenchError):
    """A field the source needs is absent from every row of a non-empty response, or of one
    of its pages (a field renamed on some pages only would otherwise lose those rows' values).

    The API has renamed fields before; parsing on would silently write NULLs. The unit fails.
    """

    exit_code = 1

    def __init__(self, endpoint: str, field_name: str, rows: int, page: tuple[int, int] | None = None):
        where = f"page {page[0]} (of {page[1]}) of {endpoint}" if page else endpoint
        super().__init__(
            f"Field {field_name!r} is missing from all {rows} rows of {where}",
            hint="The Urban API may have renamed it; the source plugin needs updating.",
        )
        self.endpoint = endpoint
        self.field = field_name
        self.page = page


def check_required_fields(
    endpoint: str,
    records: Sequence[Mapping[str, Any]],
    fields: Iterable[str],
    page_sizes: Sequence[int] | None = None,
) -> None:
    """Raise MissingFieldError for the first field absent from every record — of the whole
    listing, or, given the rows per page (`page_sizes`), of any one page.

    A field written `a|b` is satisfied by either name (the API has used both).
    An empty response (no rows) passes: that is a valid answer, not a rename.
    """
    if not records:
        return
    fields = [required.split("|") for required in fields]
    pages = list(page_sizes or ()) if sum(page_sizes or ()) == len(records) else []
    if len(pages) > 1:
        start = 0
        for number, size in enumerate(pages, start=1):
            page = records[start:start + size]
            start += size
            for names in fields:
                if page and not any(name in record for record in page for name in names):
                    raise MissingFieldError(endpoint, " or ".join(names), size, (number, len(pages)))
        return
    for names in fields:
        if not any(name in record for record in records for name in names):
            raise MissingFieldError(endpoint, " or ".join(names), len(records))


@dataclass
class UnitRows:
    """What one unit (source, year, state) parsed into.

    history: one dict per district: `leaid` plus the source's `columns` (values may be None).
    roster: for directory-based sources, one dict per district with the `districts` roster
        fields (leaid, name, state_fips, state_abbrev, city_location, county_name,
        urban_centric_locale, number_of_schools); empty for other sources.
    skipped: rows dropped, counted by reason (`invalid leaid`, `fips disagrees with leaid`,
        `percentage out of range`, `not a subgroup total`, `no leaid`, …).
    nulled: values written as NULL, or cleaned, although the API sent something, by reason
        (`negative value: enrollment`, `too large for column: total_revenue`,
        `zero denominator: expenditure_pp`, `not a number: enrollment`,
        `control characters removed: name`, `cut to 255 characters: name`, …). The row
        itself is kept. The usual missing codes (-1, -2, -3, null) are not counted: they are
        ordinary missing data.
    extras: for sources with `extras`, one dict per history row (same `leaid`s, same order):
        `leaid` plus the `extras` columns — what districtbench keeps beside the history row in
        its own `districtbench_history_extras` (the denominators of pooled averages, grades).
    """

    history: list[dict[str, Any]] = field(default_factory=list)
    roster: list[dict[str, Any]] = field(default_factory=list)
    extras: list[dict[str, Any]] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    nulled: Counter = field(default_factory=Counter)


@dataclass(frozen=True)
class Source:
    """Declarative part of a source plugin, shared by every source.

    name: what users type (`enrollment`).
    history_source: the `district_data_history.source` value it writes (`ccd_directory`).
    endpoints: what it asks of each API endpoint (`sources.request.Endpoint`: path template,
        filters, fields, required fields); a plain path template with `{year}` means every
        column, filtered by `fips` only. `parse_unit` gets each endpoint's rows under its
        `key` (the template with its segments filled in).
    years: the years the API has for it, built in; a run uses the API catalog's years instead
        when it can read them (the years ALL its endpoints have).
    columns: the `district_data_history` columns it writes (and nothing else).
    provides_roster: True for directory-based sources (they upsert `districts`).
    extras: the `districtbench_history_extras` columns it writes beside its history rows
        (`UnitRows.extras`); none by default.
    required_fields: the earlier form of `Endpoint.required` (endpoint template → fields),
        still accepted for endpoints given as plain templates; it is folded into them.
    provides: the history columns of its rows the metrics may read (the measures it
        provides); None (the default): every column it writes. A metric finds its sources
        by these declarations (`metrics.measures`), never by a source's name.
    priority: which source a metric reads when several provide one measure for the same
        state and year: the highest priority, then the one registered first (the built-ins,
        priority 0, come before installed and plugins-folder sources). The default lets a
        plugin's source fill the state-years the federal data lacks; priority 1 overrides it.
    states: the states it covers, as two-digit FIPS codes (`("48",)`, Texas); None (the
        default): every state. A backfill makes units only for these (of the states asked).
    """

    name: str
    history_source: str
    endpoints: tuple[Endpoint, ...]
    years: tuple[int, ...]
    columns: tuple[str, ...]
    required_fields: Mapping[str, tuple[str, ...]] | None = None
    description: str = ""
    provides_roster: bool = False
    extras: tuple[str, ...] = ()
    provides: tuple[str, ...] | None = None
    priority: int = 0
    states: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        legacy = self.required_fields or {}
        endpoints = tuple(
            Endpoint(e, required=tuple(legacy.get(e, ()))) if isinstance(e, str) else e for e in self.endpoints
        )
        object.__setattr__(self, "endpoints", endpoints)
        object.__setattr__(self, "years", tuple(self.years))
        if self.states is not None:
            if isinstance(self.states, str) or not all(
                    isinstance(code, str) and len(code) == 2 and code.isdigit() for code in self.states):
                raise ValueError(f"source {self.name!r}: states must be two-digit FIPS codes such as "
                                 f"(\"48\",), not {self.states!r}")
            object.__setattr__(self, "states", tuple(self.states))

    @property
    def provided_measures(self) -> tuple[str, ...]:
        """The measures this source provides (`provides`, else every column it writes)."""
        return self.columns if self.provides is None else tuple(self.provides)

    def check_required(
        self,
        listings: Mapping[str, Sequence[Mapping[str, Any]]],
        page_sizes: Mapping[str, Sequence[int]] | None = None,
    ) -> None:
        """Raise MissingFieldError if a required field is absent from a whole listing, or
        (given the rows per page of each listing) from one page of it.

        The host calls it before `parse_unit`; `parse_unit` of the built-in sources calls it
        too (without pages), so a direct call is checked as well.
        """
        for endpoint in self.endpoints:
            check_required_fields(
                endpoint.key, listings.get(endpoint.key) or [], endpoint.required, (page_sizes or {}).get(endpoint.key)
            )

    def parse_unit(
        self, listings: Mapping[str, list[dict[str, Any]]], year: int, state_fips: str
    ) -> UnitRows:
        """Turn the fetched records of one unit into history rows.

        listings: endpoint key -> all records of that endpoint for (year, state).
        state_fips: two-digit string (`'05'`). Pure: no I/O. Subclasses implement it.
        Raises MissingFieldError when a required field is absent from every row.
        """
        raise NotImplementedError
