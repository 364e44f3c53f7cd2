"""`enrollment` and `ell`: the CCD district directory, one endpoint fetched once for both.

Both write `ccd_directory` history rows (each only its own columns) and the district roster.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from districtbench.plugins.hookspecs import hookimpl
from districtbench.sources.district import DistrictSource
from districtbench.sources.request import Endpoint
from districtbench.sources.values import Row, grade

DIRECTORY = "school-districts/ccd/directory/{year}/"
# Built-in years, used when the API's catalog cannot be read (otherwise the catalog's years).
YEARS = tuple(range(1986, 2025))
ROSTER_FIELDS = (
    "leaid",
    "fips",
    "lea_name",
    "city_location",
    "county_name",
    "urban_centric_locale",
    "number_of_schools",
)

ENROLLMENT_MEASURES = (
    ("enrollment", "enrollment"),
    ("teachers_fte", "teachers_total_fte"),
    ("staff_total_fte", "staff_total_fte"),
    ("spec_ed_students", "spec_ed_students"),
)
ELL_MEASURES = (("ell_students", "english_language_learners"),)
# The grades the district offers (CCD codes, `values.grade`), kept beside the history row
# (districtbench_history_extras) for the report's header. Asked for, not required: a listing
# without them (the Texas rows of the fake API) has no grades.
GRADES = (("lowest_grade", "lowest_grade_offered"), ("highest_grade", "highest_grade_offered"))


@dataclass(frozen=True)
class DirectorySource(DistrictSource):
    def parse_row(self, record: Row, nulled: Counter, context: Any) -> dict[str, Any]:
        values = super().parse_row(record, nulled, context)
        for column, field in GRADES:
            if column in self.extras:
                values[column] = grade(record.get(field))
        return values


def _directory_source(
    name: str, measures: tuple[tuple[str, str], ...], description: str, grades: bool = False
) -> DistrictSource:
    """A source of `ccd_directory` history columns (`measures`: (column, API field) pairs)
    that also writes the district roster (and, with `grades`, the grades offered). One row
    per district: no subgroup filters."""
    required = ROSTER_FIELDS + tuple(field for _, field in measures)
    optional = ("state_location", *(field for _, field in GRADES)) if grades else ("state_location",)
    return DirectorySource(
        name=name,
        history_source="ccd_directory",
        endpoints=(Endpoint(DIRECTORY, fields=required + optional, required=required),),
        years=YEARS,
        columns=tuple(column for column, _ in measures),
        description=description,
        provides_roster=True,
        measures=measures,
        extras=tuple(column for column, _ in GRADES) if grades else (),
    )


ENROLLMENT = _directory_source(
    "enrollment", ENROLLMENT_MEASURES, "CCD directory: enrollment, teacher and staff FTE, students with disabilities",
    grades=True,
)
ELL = _directory_source("ell", ELL_MEASURES, "CCD directory: English language learners")


@hookimpl
def register_sources(register) -> None:
    register(ENROLLMENT)
    register(ELL)
