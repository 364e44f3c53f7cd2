"""`enrollment` and `ell`: the CCD district directory, one endpoint fetched once for both.

Both write `ccd_directory` history rows (each only its own columns) and the district roster.
"""

from __future__ import annotations

from districtbench.plugins.hookspecs import hookimpl
from districtbench.sources.district import DistrictSource
from districtbench.sources.request import Endpoint

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


def _directory_source(name: str, measures: tuple[tuple[str, str], ...], description: str) -> DistrictSource:
    """A source of `ccd_directory` history columns (`measures`: (column, API field) pairs)
    that also writes the district roster. One row per district: no subgroup filters."""
    required = ROSTER_FIELDS + tuple(field for _, field in measures)
    return DistrictSource(
        name=name,
        history_source="ccd_directory",
        endpoints=(Endpoint(DIRECTORY, fields=required + ("state_location",), required=required),),
        years=YEARS,
        columns=tuple(column for column, _ in measures),
        description=description,
        provides_roster=True,
        measures=measures,
    )


ENROLLMENT = _directory_source(
    "enrollment", ENROLLMENT_MEASURES, "CCD directory: enrollment, teacher and staff FTE, students with disabilities"
)
ELL = _directory_source("ell", ELL_MEASURES, "CCD directory: English language learners")


@hookimpl
def register_sources(register) -> None:
    register(ENROLLMENT)
    register(ELL)
