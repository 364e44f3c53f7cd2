"""`absenteeism`: CRDC school rows joined to CRDC enrollment and summed per district."""

from collections import Counter
from decimal import ROUND_HALF_UP, Decimal

import pytest

from districtbench.sources.absenteeism import (
    ABSENT,
    DUPLICATE_SCHOOL,
    ENROLLED,
    SCHOOL_COUNT_MISSING,
    SCHOOL_NO_DISTRICT,
    SCHOOL_NO_ENROLLMENT,
    SCHOOL_NO_ID,
    SOURCE,
)
from districtbench.sources.base import MissingFieldError
from districtbench.sources.values import FIPS_MISMATCH, NOT_SUBGROUP_TOTAL, PCT_OUT_OF_RANGE


def absent(ncessch, count, leaid=..., fips=6, field="students_chronically_absent", **subgroups):
    leaid = (ncessch or "")[:7] if leaid is ... else leaid
    record = {"ncessch": ncessch, "crdc_id": f"C{ncessch}", "leaid": leaid, "fips": fips, "year": 2017,
              "race": 99, "sex": 99, "disability": 99, "lep": 99, field: count}
    record.update(subgroups)
    return record


def enrolled(ncessch, pupils, **subgroups):
    record = {"ncessch": ncessch, "crdc_id": f"C{ncessch}", "leaid": ncessch[:7], "fips": 6,
              "year": 2017, "race": 99, "sex": 99, "disability": 99, "lep": 99, "enrollment_crdc": pupils}
    record.update(subgroups)
    return record


def parse(absent_rows, enrolled_rows, state="06"):
    return SOURCE.parse_unit({ABSENT: absent_rows, ENROLLED: enrolled_rows}, 2017, state)


def pct(numerator, denominator):
    return (Decimal(100 * numerator) / Decimal(denominator)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def test_district_rate_skips_suppressed_schools_in_both_sums():
    absent_rows = [
        absent("060000100001", 10),
        absent("060000100002", -3),  # suppressed: neither sum
        absent("060000100003", 5, field="chronic_absent"),  # the older name
        absent("060000100001", 400, race=1),  # a subgroup row
        absent("060000100004", 7),  # no enrollment row
        absent("060000200001", 30),
    ]
    enrolled_rows = [
        enrolled("060000100001", 100), enrolled("060000100002", 200), enrolled("060000100003", 50),
        enrolled("060000100001", 40, sex=1), enrolled("060000200001", 90),
    ]
    unit = parse(absent_rows, enrolled_rows)
    # Independent: schools with both values present, summed per district.
    assert unit.history == [{"leaid": "0600001", "chronic_absenteeism_rate": pct(10 + 5, 100 + 50)},
                            {"leaid": "0600002", "chronic_absenteeism_rate": pct(30, 90)}]
    assert unit.history[0]["chronic_absenteeism_rate"] == Decimal("10.00")
    assert unit.history[1]["chronic_absenteeism_rate"] == Decimal("33.33")
    assert unit.skipped == Counter({SCHOOL_COUNT_MISSING: 1, NOT_SUBGROUP_TOTAL: 1, SCHOOL_NO_ENROLLMENT: 1})


def test_unattributable_schools_are_skipped_and_counted():
    absent_rows = [
        absent("060000100001", 10),
        absent("060000900001", 3, leaid=None),
        absent("069999900001", 3, leaid="0699999", fips=None),
        absent("", 4, leaid="0600001"),
        absent(None, 4, leaid="0600001"),
        absent("060000300001", 3, leaid="0600003", fips=5),
        absent("060000100001", 10),  # listed twice
    ]
    enrolled_rows = [enrolled("060000100001", 20), enrolled("060000900001", 10), enrolled("060000300001", 10)]
    unit = parse(absent_rows, enrolled_rows)
    assert unit.history == [{"leaid": "0600001", "chronic_absenteeism_rate": Decimal("50.00")}]
    assert unit.skipped == Counter({SCHOOL_NO_DISTRICT: 2, SCHOOL_NO_ID: 2, FIPS_MISMATCH: 1, DUPLICATE_SCHOOL: 1})


def test_zero_enrollment_and_rates_above_100():
    absent_rows = [absent("060000100001", 0), absent("060000200001", 12), absent("060000300001", -3)]
    enrolled_rows = [enrolled("060000100001", 0), enrolled("060000200001", 10), enrolled("060000300001", 10)]
    unit = parse(absent_rows, enrolled_rows)
    assert unit.history == [{"leaid": "0600001", "chronic_absenteeism_rate": None},
                            {"leaid": "0600003", "chronic_absenteeism_rate": None}]
    assert unit.skipped == Counter({PCT_OUT_OF_RANGE: 1, SCHOOL_COUNT_MISSING: 1})
    assert unit.nulled == Counter({"zero denominator: chronic_absenteeism_rate": 1})


def test_join_on_crdc_id_when_there_is_no_ncessch():
    absent_rows = [absent("060000100001", 9), absent("060000100002", 1)]
    enrolled_rows = [enrolled("060000100001", 30), enrolled("060000100002", 10)]
    for record in absent_rows + enrolled_rows:
        del record["ncessch"]
    unit = parse(absent_rows, enrolled_rows)
    assert unit.history == [{"leaid": "0600001", "chronic_absenteeism_rate": pct(10, 40)}]


def test_an_int_leaid_and_empty_listings():
    unit = parse([absent("060000100001", 3, leaid=600001)], [enrolled("060000100001", 12)])
    assert unit.history == [{"leaid": "0600001", "chronic_absenteeism_rate": Decimal("25.00")}]
    assert parse([], []).history == []


def test_missing_absent_count_field_fails_the_unit():
    rows = [absent("060000100001", 3, field="absent_total")]
    with pytest.raises(MissingFieldError) as caught:
        parse(rows, [enrolled("060000100001", 12)])
    assert caught.value.field == "students_chronically_absent or chronic_absent"
    with pytest.raises(MissingFieldError, match="enrollment_crdc"):
        parse([absent("060000100001", 3)], [{"ncessch": "060000100001", "race": 99, "sex": 99, "total": 4}])
