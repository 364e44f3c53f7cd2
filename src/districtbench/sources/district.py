"""The row contract: a source that turns one district record into one history row.

A subclass says how one record becomes its values (`parse_row`, or just `measures`), raising
`DropRow(reason)` to drop it; the host (`sources/rows.py`) does what every source needs — the
leaid and fips checks (`leaid_field`, `fips_field`), the all-students filter
(`subgroup_columns`), de-duplication, leaid order, fitting values to their columns, the
roster rows, the skipped and nulled counts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Mapping

from districtbench.sources import rows
from districtbench.sources.base import Source, UnitRows
from districtbench.sources.values import Row, district_records, measure


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

    def district_records(
        self, listings: Mapping[str, list[dict[str, Any]]], state_fips: str, skipped: Counter, nulled: Counter
    ) -> Mapping[str, Row]:
        """Hook for a source whose district record is assembled from several rows (CRDC
        absenteeism sums school rows): leaid (7 digits, of `state_fips`) → one record, each
        row it drops counted in `skipped`. Without an override the host makes them from the
        one endpoint's listing (the checks in the class docstring), once per fetch for
        every source reading that listing."""
        return district_records(
            listings.get(self.endpoint) or [], state_fips, skipped, self.subgroup_columns,
            leaid_field=self.leaid_field, fips_field=self.fips_field,
        )

    def batch_context(self, records: Mapping[str, Row]) -> Any:
        """Whatever `parse_row` needs to know about the whole unit (e.g. a value scale)."""
        return None

    def parse_row(self, record: Row, nulled: Counter, context: Any) -> dict[str, Any]:
        """History values of one district (the `columns`, and the `extras` if any); raise
        DropRow to drop it. Values not yet fitted to their column are fitted by the host."""
        return {column: measure(record.get(field), column, nulled) for column, field in self.measures}

    def parse_unit(
        self, listings: Mapping[str, list[dict[str, Any]]], year: int, state_fips: str
    ) -> UnitRows:
        """The host's rows of one unit (`sources.rows.parse_unit`), for a direct call."""
        self.check_required(listings)
        return rows.parse_unit(self, rows.TaskListings(listings, state_fips))
