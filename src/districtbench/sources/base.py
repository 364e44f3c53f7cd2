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
from typing import Any, Iterable, Mapping

from districtbench.errors import DistrictbenchError


class MissingFieldError(DistrictbenchError):
    """A field the source needs is absent from every row of a non-empty response.

    The API has renamed fields before; parsing on would silently write NULLs. The unit fails.
    """

    exit_code = 1

    def __init__(self, endpoint: str, field_name: str, rows: int):
        super().__init__(
            f"Field {field_name!r} is missing from all {rows} rows of {endpoint}",
            hint="The Urban API may have renamed it; the source plugin needs updating.",
        )
        self.endpoint = endpoint
        self.field = field_name


def check_required_fields(endpoint: str, records: list[Mapping[str, Any]], fields: Iterable[str]) -> None:
    """Raise MissingFieldError for the first field absent from every record.

    A field written `a|b` is satisfied by either name (the API has used both).
    An empty response (no rows) passes: that is a valid answer, not a rename.
    """
    if not records:
        return
    for required in fields:
        names = required.split("|")
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
    """

    history: list[dict[str, Any]] = field(default_factory=list)
    roster: list[dict[str, Any]] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    nulled: Counter = field(default_factory=Counter)


@dataclass(frozen=True)
class Source:
    """Declarative part of a source plugin, shared by every source.

    name: what users type (`enrollment`).
    history_source: the `district_data_history.source` value it writes (`ccd_directory`).
    endpoints: API path templates with `{year}`, relative to the API base URL, e.g.
        `school-districts/ccd/directory/{year}/`. The host fetches each with `?fips=N`.
    years: the years the API has for it.
    columns: the `district_data_history` columns it writes (and nothing else).
    required_fields: per endpoint template, fields that must appear in the response;
        a field absent from every row of a non-empty response fails the unit.
        An entry `a|b` accepts either name.
    provides_roster: True for directory-based sources (they upsert `districts`).
    """

    name: str
    history_source: str
    endpoints: tuple[str, ...]
    years: tuple[int, ...]
    columns: tuple[str, ...]
    required_fields: Mapping[str, tuple[str, ...]]
    description: str = ""
    provides_roster: bool = False

    def check_required(self, listings: Mapping[str, list[dict[str, Any]]]) -> None:
        """Raise MissingFieldError if a required field is absent from a whole listing.

        `parse_unit` of the built-in sources calls it first; a host may call it earlier.
        """
        for endpoint, fields in self.required_fields.items():
            check_required_fields(endpoint, listings.get(endpoint) or [], fields)

    def parse_unit(
        self, listings: Mapping[str, list[dict[str, Any]]], year: int, state_fips: str
    ) -> UnitRows:
        """Turn the fetched records of one unit into history rows.

        listings: endpoint template -> all records of that endpoint for (year, state).
        state_fips: two-digit string (`'05'`). Pure: no I/O. Subclasses implement it.
        Raises MissingFieldError when a required field is absent from every row.
        """
        raise NotImplementedError
