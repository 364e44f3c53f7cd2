"""`graduation`: EDFacts adjusted cohort graduation rates, the all-students row of each district.

`grad_rate_midpt` is the midpoint of the privacy range (0–100); -3 is suppressed.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from districtbench.plugins.hookspecs import hookimpl
from districtbench.sources.district import DistrictSource
from districtbench.sources.values import Row, percent

GRAD_RATES = "school-districts/edfacts/grad-rates/{year}/"
YEARS = tuple(range(2010, 2020))
# 99 on the all-students row; a column absent in older years is not checked.
SUBGROUPS = ("race", "lep", "homeless", "disability", "econ_disadvantaged", "foster_care")


class GraduationSource(DistrictSource):
    def parse_row(self, record: Row, nulled: Counter, context: Any) -> dict[str, Any]:
        return {"graduation_rate": percent(record.get("grad_rate_midpt"), "graduation_rate", nulled)}


SOURCE = GraduationSource(
    name="graduation",
    history_source="edfacts_grad",
    endpoints=(GRAD_RATES,),
    years=YEARS,
    columns=("graduation_rate",),
    required_fields={GRAD_RATES: ("leaid", "fips", "race", "grad_rate_midpt")},
    description="EDFacts four-year adjusted cohort graduation rate (range midpoint)",
    subgroup_columns=SUBGROUPS,
)


@hookimpl
def register_sources(register) -> None:
    register(SOURCE)
