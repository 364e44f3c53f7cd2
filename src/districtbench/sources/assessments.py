"""`assessments`: EDFacts state assessments, all grades (`grade-99`), all-students row.

`*_test_pct_prof_midpt` is the midpoint of the privacy range of percent proficient (0–100).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from districtbench.plugins.hookspecs import hookimpl
from districtbench.sources.district import DistrictSource
from districtbench.sources.values import Row, percent

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


class AssessmentSource(DistrictSource):
    def parse_row(self, record: Row, nulled: Counter, context: Any) -> dict[str, Any]:
        return {column: percent(record.get(field), column, nulled) for column, field in FIELDS}


SOURCE = AssessmentSource(
    name="assessments",
    history_source="edfacts_assess",
    endpoints=(ASSESSMENTS,),
    years=YEARS,
    columns=tuple(column for column, _ in FIELDS),
    required_fields={ASSESSMENTS: ("leaid", "fips", "race") + tuple(field for _, field in FIELDS)},
    description="EDFacts assessments: percent proficient in math and reading (range midpoint)",
    subgroup_columns=SUBGROUPS,
)


@hookimpl
def register_sources(register) -> None:
    register(SOURCE)
