"""What a source plugin is. A source declares; the host fetches, writes and resumes.

A source never touches the database, rich, threads or `time.sleep`: the backfill host
fetches every endpoint of a unit (source, year, state) through the HTTP client, hands the
records to `parse_unit`, and writes what comes back atomically.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass
class UnitRows:
    """What one unit (source, year, state) parsed into.

    history: one dict per district: `leaid` plus the source's `columns` (values may be None).
    roster: for directory-based sources, one dict per district with the `districts` roster
        fields (leaid, name, state_fips, state_abbrev, city_location, county_name,
        urban_centric_locale, number_of_schools); empty for other sources.
    skipped: rows dropped, counted by reason (`invalid leaid`, `fips disagrees with leaid`,
        `percentage out of range`, `not a subgroup total`, `no leaid`, …).
    """

    history: list[dict[str, Any]] = field(default_factory=list)
    roster: list[dict[str, Any]] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)


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

    def parse_unit(
        self, listings: Mapping[str, list[dict[str, Any]]], year: int, state_fips: str
    ) -> UnitRows:
        """Turn the fetched records of one unit into history rows.

        listings: endpoint template -> all records of that endpoint for (year, state).
        Pure: no I/O. Subclasses implement it.
        """
        raise NotImplementedError
