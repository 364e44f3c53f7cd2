"""`assessments`: the real 2015 assessments page served as grade-99 rows, plus edge cases."""

import copy
import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from districtbench.sources.assessments import ASSESSMENTS, SOURCE
from districtbench.sources.base import MissingFieldError
from districtbench.sources.values import NOT_SUBGROUP_TOTAL, OTHER_STATE, PCT_OUT_OF_RANGE


def real_dir() -> Path:
    beside_clone = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
    return beside_clone if beside_clone.is_dir() else Path("/work/shared/data/real")


SAMPLE = real_dir() / "urban-api-samples" / "school-districts_edfacts_assessments_2015_grade-8_page-1.json"
needs_real = pytest.mark.skipif(not SAMPLE.exists(), reason="real Urban API samples not available")


@pytest.fixture(scope="module")
def grade99():
    rows = json.loads(SAMPLE.read_text())["results"]
    for record in rows:
        record["grade_edfacts"] = 99
    return rows


def parse(records, state, year=2015):
    return SOURCE.parse_unit({ASSESSMENTS: records}, year, state)


def expected(raw):
    return None if raw is None or raw in (-1, -2, -3) else Decimal(str(raw)).quantize(Decimal("0.01"))


@needs_real
@pytest.mark.parametrize("fips", [1, 4, 5, 6])
def test_real_rows(grade99, fips):
    mine = [r for r in grade99 if r["fips"] == fips]
    unit = parse(grade99, f"{fips:02d}")
    assert {h["leaid"]: (h["math_proficiency"], h["read_proficiency"]) for h in unit.history} == {
        r["leaid"]: (expected(r["math_test_pct_prof_midpt"]), expected(r["read_test_pct_prof_midpt"]))
        for r in mine
    }
    assert unit.skipped == Counter({OTHER_STATE: len(grade99) - len(mine)})


@needs_real
def test_real_row_with_null_reading_result(grade99):
    record = next(r for r in grade99 if r["read_test_pct_prof_midpt"] is None)
    unit = parse(grade99, f"{record['fips']:02d}")
    parsed = next(h for h in unit.history if h["leaid"] == record["leaid"])
    assert parsed["read_proficiency"] is None
    assert parsed["math_proficiency"] == expected(record["math_test_pct_prof_midpt"])


@needs_real
def test_subgroup_rows_and_other_grades_are_not_totals(grade99):
    arkansas = [r for r in grade99 if r["fips"] == 5]
    extra = []
    for column, value in (("race", 1), ("sex", 2), ("econ_disadvantaged", 1), ("military_connected", 1),
                          ("grade_edfacts", 8)):
        variant = copy.deepcopy(arkansas[0])
        variant[column] = value
        variant["math_test_pct_prof_midpt"] = 1.0
        extra.append(variant)
    unit = parse(arkansas + extra, "05")
    assert len(unit.history) == len(arkansas)
    assert unit.skipped == Counter({NOT_SUBGROUP_TOTAL: len(extra)})
    first = next(h for h in unit.history if h["leaid"] == arkansas[0]["leaid"])
    assert first["math_proficiency"] == expected(arkansas[0]["math_test_pct_prof_midpt"])


def test_older_year_without_foster_care_columns_and_suppression():
    def row(leaid, math, read, **subgroups):
        record = {"leaid": leaid, "fips": 36, "grade_edfacts": 99, "race": 99, "sex": 99, "lep": 99,
                  "homeless": 99, "migrant": 99, "disability": 99, "econ_disadvantaged": 99,
                  "math_test_pct_prof_midpt": math, "read_test_pct_prof_midpt": read}
        record.update(subgroups)
        return record

    records = [row("3600001", 62.5, -3), row("3600002", 101.0, 50), row("3600003", -2, None),
               row("3600001", 10, 10, lep=1)]
    unit = parse(records, "36", year=2012)
    assert unit.history == [
        {"leaid": "3600001", "math_proficiency": Decimal("62.50"), "read_proficiency": None},
        {"leaid": "3600003", "math_proficiency": None, "read_proficiency": None},
    ]
    assert unit.skipped == Counter({PCT_OUT_OF_RANGE: 1, NOT_SUBGROUP_TOTAL: 1})


def test_a_renamed_field_fails_the_unit():
    records = [{"leaid": "3600001", "fips": 36, "race": 99, "math_test_pct_prof_midpt": 3}]
    with pytest.raises(MissingFieldError, match="read_test_pct_prof_midpt"):
        parse(records, "36")
