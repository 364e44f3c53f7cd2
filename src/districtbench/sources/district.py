"""A source that reads one district-level endpoint: one history row per district.

Subclasses say which subgroup columns mark the all-students row and how one record turns
into history values (`parse_row`); the shared rules (leaid, fips, duplicates, roster) live
here and in `values.py`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Mapping

from districtbench.sources.base import Source, UnitRows
from districtbench.sources.roster import roster_row
from districtbench.sources.values import DropRow, Row, district_records, measure, shared


@dataclass(frozen=True)
class DistrictSource(Source):
    """`measures`: (history column, API field) pairs copied through `values.measure`.
    `subgroup_columns`: columns that are 99 on the all-students row (checked where present).
    `leaid_field`: the record field holding the NCES district id (7 digits, or fewer: padded).
    `fips_field`: the one holding the state's FIPS code, checked against the leaid and the
        unit's state; None: the record has none, the leaid's first two digits are its state.
    """

    measures: tuple[tuple[str, str], ...] = ()
    subgroup_columns: tuple[str, ...] = ()
    leaid_field: str = "leaid"
    fips_field: str | None = "fips"

    @property
    def endpoint(self) -> str:
        """The key of its one endpoint's listing."""
        return self.endpoints[0].key

    def batch_context(self, records: Mapping[str, Row]) -> Any:
        """Whatever `parse_row` needs to know about the whole unit (e.g. a value scale)."""
        return None

    def parse_row(self, record: Row, nulled: Counter, context: Any) -> dict[str, Any]:
        """History values of one district (the `columns`, and the `extras` if any); raise
        DropRow to drop it."""
        return {column: measure(record.get(field), column, nulled) for column, field in self.measures}

    def parse_unit(
        self, listings: Mapping[str, list[dict[str, Any]]], year: int, state_fips: str
    ) -> UnitRows:
        self.check_required(listings)
        out = UnitRows()
        listing = listings.get(self.endpoint) or []
        # validated rows (and, below, roster rows) depend on the listing alone: a sibling
        # source reading the same listing in the same fetch reuses them (values.sibling_units)
        records, dropped, rosters = shared(
            listing, ("district_records", state_fips, self.subgroup_columns, self.leaid_field, self.fips_field),
            lambda: _validated(listing, state_fips, self.subgroup_columns, self.leaid_field, self.fips_field),
        )
        out.skipped.update(dropped)
        context = self.batch_context(records)
        columns = self.columns
        extras, extra_rows = self.extras, out.extras
        provides_roster = self.provides_roster
        parse_row = self.parse_row
        history, roster_rows = out.history, out.roster
        nulled: Counter = Counter()  # one row's counts; kept only if the row is
        roster_nulled: Counter = Counter()
        roster = None
        for leaid, record in records.items():
            try:
                values = parse_row(record, nulled, context)
                if provides_roster:
                    cached = rosters.get(leaid)
                    if cached is None:
                        try:
                            row = roster_row(leaid, record, state_fips, roster_nulled)
                        except DropRow as drop:
                            row = drop.reason
                        cached = rosters[leaid] = (row, tuple(roster_nulled.items()))
                        roster_nulled.clear()
                    roster, counts = cached
                    if type(roster) is str:
                        raise DropRow(roster)
                    for reason, count in counts:
                        nulled[reason] += count
            except DropRow as drop:
                out.skipped[drop.reason] += 1
                nulled.clear()
                continue
            if nulled:
                out.nulled.update(nulled)
                nulled.clear()
            row = {"leaid": leaid}
            for column in columns:
                row[column] = values[column]
            history.append(row)
            if extras:
                extra = {"leaid": leaid}
                for column in extras:
                    extra[column] = values[column]
                extra_rows.append(extra)
            if provides_roster:
                roster_rows.append(roster)
        return out


def _validated(listing: list[dict[str, Any]], state_fips: str, subgroup_columns: tuple[str, ...],
               leaid_field: str, fips_field: str | None):
    """(leaid → record, rows dropped by reason, roster results so far: leaid → (roster row or
    the DropRow reason, its nulled counts))."""
    dropped: Counter = Counter()
    records = district_records(listing, state_fips, dropped, subgroup_columns, leaid_field, fips_field)
    return records, dropped, {}
