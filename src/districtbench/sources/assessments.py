"""`assessments`: EDFacts state assessments, all grades (`grade-99`), all-students row.

`*_test_pct_prof_midpt` is the midpoint of the privacy range of percent proficient (0–100).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from districtbench.plugins.hookspecs import hookimpl
from districtbench.sources.district import DistrictSource
from districtbench.sources.request import Endpoint
from districtbench.sources.values import Row, measure, percent

# The listing's name; the catalog's endpoint is `…/assessments/{year}/{grade_edfacts}/`.
ASSESSMENTS = "school-districts/edfacts/assessments/{year}/grade-99/"
YEARS = (*range(2009, 2019), 2020)
# 99 on the all-students row; foster_care and military_connected exist from 2017 on, and
# a column absent from a row is not checked. `grade_edfacts` is 99 for all grades.
SUBGROUPS = (
    "grade_edfacts",
    "race",
    "sex",
    "lep",
    "homeless",
    "migrant",
    "disability",
    "econ_disadvantaged",
    "foster_care",
    "military_connected",
)
FIELDS = (("math_proficiency", "math_test_pct_prof_midpt"), ("read_proficiency", "read_test_pct_prof_midpt"))
# The numbers of valid tests: the weights of pooled proficiency averages (not required: a
# listing without them still gives the percentages, and the averages fall back).
TAKERS = (("math_takers", "math_test_num_valid"), ("read_takers", "read_test_num_valid"))
REQUIRED = ("leaid", "fips", "race") + tuple(field for _, field in FIELDS)
# `grade-99` (all grades) without a /race/ or /sex/ segment is one row per district: no
# filters needed. The numbers of valid tests are the weights of pooled proficiency averages.
ENDPOINT = Endpoint(
    "school-districts/edfacts/assessments/{year}/{grade_edfacts}/",
    segments={"grade_edfacts": "grade-99"},
    fields=("leaid", "fips", *SUBGROUPS[1:], *(field for _, field in FIELDS), *(field for _, field in TAKERS)),
    required=REQUIRED,
)


class AssessmentSource(DistrictSource):
    def parse_row(self, record: Row, nulled: Counter, context: Any) -> dict[str, Any]:
        values = {column: percent(record.get(field), column, nulled) for column, field in FIELDS}
        for column, field in TAKERS:
            values[column] = measure(record.get(field), column, nulled)
        return values


SOURCE = AssessmentSource(
    name="assessments",
    history_source="edfacts_assess",
    endpoints=(ENDPOINT,),
    years=YEARS,
    columns=tuple(column for column, _ in FIELDS),
    extras=tuple(column for column, _ in TAKERS),
    description="EDFacts assessments: percent proficient in math and reading (range midpoint)",
    subgroup_columns=SUBGROUPS,
)


@hookimpl
def register_sources(register) -> None:
    register(SOURCE)
