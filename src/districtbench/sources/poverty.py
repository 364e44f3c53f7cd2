"""`poverty`: SAIPE estimates of school-age children in poverty, one row per district.

The percentage is derived from the counts (100 · poor children 5–17 / children 5–17). Only
when a count is missing does it fall back to `est_population_5_17_poverty_pct`, whose scale
is uncertain (0–1 or 0–100): if every non-missing `_pct` of the unit is ≤ 1 it is a share
and is multiplied by 100.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any, Mapping

from districtbench.plugins.hookspecs import hookimpl
from districtbench.sources.district import DistrictSource
from districtbench.sources.request import Endpoint
from districtbench.sources.values import MISSING_CODES, Row, percent_value, raw_number, ratio, to_number

SAIPE = "school-districts/saipe/{year}/"
YEARS = (1995, 1997, *range(1999, 2025))
CHILDREN = "est_population_5_17"
POOR = "est_population_5_17_poverty"
PCT = "est_population_5_17_poverty_pct"


def _pct(record: Row, nulled: Counter) -> Decimal | None:
    number = raw_number(record.get(PCT), PCT, nulled)
    return None if number is None or number in MISSING_CODES else number


class PovertySource(DistrictSource):
    def batch_context(self, records: Mapping[str, Row]) -> bool:
        """True when the unit's `_pct` values are shares (all ≤ 1)."""
        values = [value for record in records.values() if (value := _pct(record, Counter())) is not None]
        return bool(values) and all(value <= 1 for value in values)

    def parse_row(self, record: Row, nulled: Counter, is_share: Any) -> dict[str, Any]:
        children = to_number(record.get(CHILDREN), CHILDREN, nulled)
        poor = to_number(record.get(POOR), POOR, nulled)
        if children is not None and poor is not None:
            value = ratio(poor, children, 100)
            if value is None:
                nulled["zero denominator: poverty_pct"] += 1
        else:
            value = _pct(record, nulled)
            if value is not None and is_share:
                value *= 100
        # the counts are fitted to their columns by the host
        return {"poverty_pct": percent_value(value, "poverty_pct", nulled), "children": children, "poor_children": poor}


SOURCE = PovertySource(
    name="poverty",
    history_source="saipe",
    # one row per district; the two counts are also the weights of pooled poverty averages
    endpoints=(Endpoint(SAIPE, fields=("leaid", "fips", CHILDREN, POOR, PCT), required=("leaid", "fips", CHILDREN, POOR)),),
    years=YEARS,
    columns=("poverty_pct",),
    extras=("children", "poor_children"),
    description="SAIPE: percent of children 5–17 in poverty",
)


@hookimpl
def register_sources(register) -> None:
    register(SOURCE)
