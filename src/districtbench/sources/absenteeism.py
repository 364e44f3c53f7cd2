"""`absenteeism`: CRDC chronic absenteeism, school rows summed per district.

Two endpoints: the absent counts and the CRDC enrollment, both school level by race and sex;
the all-students row (race = sex = 99, and disability/lep/homeless = 99 where present) of
each school is used, joined on `ncessch` (or `crdc_id` when a response has no `ncessch`).
District rate = 100 · Σ absent / Σ enrollment over the schools where both are present and
valid: a school with a missing or suppressed absent count (or no enrollment) enters neither
sum, or the rate would be biased low.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable, Mapping

from districtbench.plugins.hookspecs import hookimpl
from districtbench.sources.district import DistrictSource
from districtbench.sources.request import Endpoint
from districtbench.sources.values import (
    NO_FIPS,
    NO_LEAID,
    NOT_SUBGROUP_TOTAL,
    DropRow,
    Row,
    district_leaid,
    group_unique,
    is_subgroup_total,
    percent_value,
    ratio,
    to_number,
)

ABSENT = "schools/crdc/chronic-absenteeism/{year}/race/sex/"
ENROLLED = "schools/crdc/enrollment/{year}/race/sex/"
# Built-in years (the catalog's, when it can be read): those BOTH endpoints have —
# chronic absenteeism also has 2022, CRDC enrollment does not.
YEARS = (2013, 2015, 2017, 2020, 2021)
SUBGROUPS = ("race", "sex", "disability", "lep", "homeless")
# The absent count has been published under both names (urban-api.md: uncertain).
ABSENT_FIELDS = ("students_chronically_absent", "chronic_absent")
JOIN_FIELDS = ("ncessch", "crdc_id")
COLUMN = "chronic_absenteeism_rate"
# ≈24–32 rows per school (race × sex, more subgroups in later years); these are filter
# variables of each endpoint (CRDC enrollment has no `homeless`), so the API sends only the
# all-students row of each school.
ABSENT_FILTERS = dict.fromkeys(SUBGROUPS, 99)
ENROLLED_FILTERS = dict.fromkeys(("race", "sex", "disability", "lep"), 99)
ABSENT_ENDPOINT = Endpoint(
    ABSENT,
    filters=ABSENT_FILTERS,
    fields=(*JOIN_FIELDS, "leaid", "fips", *SUBGROUPS, *ABSENT_FIELDS),
    required=("leaid", "fips", "race", "sex", "|".join(JOIN_FIELDS), "|".join(ABSENT_FIELDS)),
)
ENROLLED_ENDPOINT = Endpoint(
    ENROLLED,
    filters=ENROLLED_FILTERS,
    fields=(*JOIN_FIELDS, "leaid", "fips", *ENROLLED_FILTERS, "enrollment_crdc"),
    required=("race", "sex", "|".join(JOIN_FIELDS), "enrollment_crdc"),
)

SCHOOL_NO_DISTRICT = "school without leaid or fips"
SCHOOL_NO_ID = "school without ncessch"
DUPLICATE_SCHOOL = "duplicate school"
DUPLICATE_ENROLLMENT = "duplicate school enrollment"
SCHOOL_COUNT_MISSING = "school absent count missing"
SCHOOL_NO_ENROLLMENT = "school enrollment missing"


def join_field(*listings: Iterable[Row]) -> str:
    """`ncessch` unless no row of the unit has it, then `crdc_id`."""
    if any("ncessch" in row for rows in listings for row in rows):
        return "ncessch"
    return "crdc_id"


def school_id(record: Row, field: str) -> str | None:
    value = record.get(field)
    if type(value) is str and value and not value[0].isspace() and not value[-1].isspace():
        return value  # the usual case, as the general path below would return it
    if value is None or isinstance(value, bool):
        return None
    if field == "ncessch" and isinstance(value, int):
        return str(value).zfill(12)
    text = str(value).strip()
    return text or None


def count(value: Any, field: str, nulled: Counter) -> int | Decimal | None:
    """A school count: a non-negative JSON int as it is (the usual case, summed as ints),
    anything else through `to_number`."""
    if type(value) is int and value >= 0:
        return value
    return to_number(value, field, nulled)


def absent_count(record: Row, nulled: Counter) -> int | Decimal | None:
    for field in ABSENT_FIELDS:
        value = record.get(field)
        if value is not None:
            return count(value, field, nulled)
    return None


def _total_rows(records: Iterable[Row], field: str, skipped: Counter | None):
    """(school id, record) of the all-students rows; problems counted when `skipped` is given."""
    for record in records:
        if not is_subgroup_total(record, SUBGROUPS):
            if skipped is not None:
                skipped[NOT_SUBGROUP_TOTAL] += 1
            continue
        identifier = school_id(record, field)
        if identifier is None:
            if skipped is not None:
                skipped[SCHOOL_NO_ID] += 1
            continue
        yield identifier, record


@dataclass(frozen=True)
class AbsenteeismSource(DistrictSource):
    def district_records(
        self, listings: Mapping[str, list[dict[str, Any]]], state_fips: str, skipped: Counter, nulled: Counter
    ) -> dict[str, Row]:
        """leaid → the district's sums over its schools: `absent`, `enrolled` (the schools
        where both counts are present) and `used` (how many schools)."""
        absent_rows = listings.get(ABSENT) or []
        enrolled_rows = listings.get(ENROLLED) or []
        field = join_field(absent_rows, enrolled_rows)
        enrolled = group_unique(_total_rows(enrolled_rows, field, None), skipped, DUPLICATE_ENROLLMENT)
        schools = group_unique(_total_rows(absent_rows, field, skipped), skipped, DUPLICATE_SCHOOL)

        sums: dict[str, dict[str, Any]] = {}
        for identifier, record in schools.items():
            try:
                leaid = district_leaid(record, state_fips, self.leaid_field, self.fips_field)
            except DropRow as drop:
                no_district = drop.reason in (NO_LEAID, NO_FIPS)
                skipped[SCHOOL_NO_DISTRICT if no_district else drop.reason] += 1
                continue
            totals = sums.setdefault(leaid, {"absent": 0, "enrolled": 0, "used": 0})
            absent = absent_count(record, nulled)
            if absent is None:
                skipped[SCHOOL_COUNT_MISSING] += 1
                continue
            match = enrolled.get(identifier)
            pupils = count(match.get("enrollment_crdc"), "enrollment_crdc", nulled) if match else None
            if pupils is None:
                skipped[SCHOOL_NO_ENROLLMENT] += 1
                continue
            totals["absent"] += absent
            totals["enrolled"] += pupils
            totals["used"] += 1
        return {leaid: sums[leaid] for leaid in sorted(sums)}

    def parse_row(self, record: Row, nulled: Counter, context: Any) -> dict[str, Any]:
        rate = ratio(record["absent"], record["enrolled"], 100)
        if rate is None and record["used"]:
            nulled[f"zero denominator: {COLUMN}"] += 1
        value = percent_value(rate, COLUMN, nulled)
        # the sums the rate is made of (NULL with the rate): pooled averages add them up
        fits = value is not None
        return {
            COLUMN: value,
            "absent_students": record["absent"] if fits else None,
            "crdc_enrollment": record["enrolled"] if fits else None,
        }


SOURCE = AbsenteeismSource(
    name="absenteeism",
    history_source="crdc_absenteeism",
    endpoints=(ABSENT_ENDPOINT, ENROLLED_ENDPOINT),
    years=YEARS,
    columns=(COLUMN,),
    extras=("absent_students", "crdc_enrollment"),
    description="CRDC: percent of students chronically absent (school counts summed per district)",
)


@hookimpl
def register_sources(register) -> None:
    register(SOURCE)
