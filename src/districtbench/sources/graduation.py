"""`graduation`: EDFacts adjusted cohort graduation rates, the all-students row of each district.

`grad_rate_midpt` is the midpoint of the privacy range (0–100); -3 is suppressed.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from districtbench.plugins.hookspecs import hookimpl
from districtbench.sources.district import DistrictSource
from districtbench.sources.request import Endpoint
from districtbench.sources.values import Row, measure, percent

GRAD_RATES = "school-districts/edfacts/grad-rates/{year}/"
YEARS = tuple(range(2010, 2020))
# 99 on the all-students row (≈8–10 rows per district otherwise); all six are filter
# variables, so the API sends only that row. Checked here too, where present.
SUBGROUPS = ("race", "lep", "homeless", "disability", "econ_disadvantaged", "foster_care")
# `cohort_num` is the weight of pooled graduation averages.
FIELDS = ("leaid", "fips", *SUBGROUPS, "cohort_num", "grad_rate_midpt")


class GraduationSource(DistrictSource):
    def parse_row(self, record: Row, nulled: Counter, context: Any) -> dict[str, Any]:
        return {
            "graduation_rate": percent(record.get("grad_rate_midpt"), "graduation_rate", nulled),
            "cohort": measure(record.get("cohort_num"), "cohort", nulled),
        }


SOURCE = GraduationSource(
    name="graduation",
    history_source="edfacts_grad",
    endpoints=(Endpoint(GRAD_RATES, filters=dict.fromkeys(SUBGROUPS, 99), fields=FIELDS,
                        required=("leaid", "fips", "race", "grad_rate_midpt")),),
    years=YEARS,
    columns=("graduation_rate",),
    extras=("cohort",),
    description="EDFacts four-year adjusted cohort graduation rate (range midpoint)",
    subgroup_columns=SUBGROUPS,
)


@hookimpl
def register_sources(register) -> None:
    register(SOURCE)
