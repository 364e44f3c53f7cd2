"""`enrollment` and `ell`: the CCD district directory, one endpoint fetched once for both.

Both write `ccd_directory` history rows (each only its own columns) and the district roster.
"""

from __future__ import annotations

from districtbench.plugins.hookspecs import hookimpl
from districtbench.sources.district import DistrictSource

DIRECTORY = "school-districts/ccd/directory/{year}/"
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

ENROLLMENT = DistrictSource(
    name="enrollment",
    history_source="ccd_directory",
    endpoints=(DIRECTORY,),
    years=YEARS,
    columns=tuple(column for column, _ in ENROLLMENT_MEASURES),
    required_fields={DIRECTORY: ROSTER_FIELDS + tuple(field for _, field in ENROLLMENT_MEASURES)},
    description="CCD directory: enrollment, teacher and staff FTE, students with disabilities",
    provides_roster=True,
    measures=ENROLLMENT_MEASURES,
)

ELL = DistrictSource(
    name="ell",
    history_source="ccd_directory",
    endpoints=(DIRECTORY,),
    years=YEARS,
    columns=tuple(column for column, _ in ELL_MEASURES),
    required_fields={DIRECTORY: ROSTER_FIELDS + tuple(field for _, field in ELL_MEASURES)},
    description="CCD directory: English language learners",
    provides_roster=True,
    measures=ELL_MEASURES,
)


@hookimpl
def register_sources(register) -> None:
    register(ENROLLMENT)
    register(ELL)
