"""The shared validation rules of sources/values.py and the Source contract of base.py."""

from collections import Counter
from decimal import Decimal

import pytest

from districtbench.errors import DistrictbenchError
from districtbench.sources import values as v
from districtbench.sources.base import MissingFieldError, check_required_fields


@pytest.mark.parametrize(
    "raw, expected",
    [("0100002", "0100002"), (100002, "0100002"), ("100002", "0100002"), (100002.0, "0100002"),
     (" 0622710 ", "0622710"), (622710, "0622710")],
)
def test_leaid_is_padded_to_seven_digits(raw, expected):
    assert v.normalize_leaid(raw) == expected


@pytest.mark.parametrize(
    "raw, reason",
    [(None, v.NO_LEAID), ("", v.NO_LEAID), ("12345678", v.INVALID_LEAID), ("AL-210", v.INVALID_LEAID),
     (True, v.INVALID_LEAID), (12.5, v.INVALID_LEAID), (-100002, v.INVALID_LEAID)],
)
def test_bad_leaid_is_dropped_with_its_reason(raw, reason):
    with pytest.raises(v.DropRow) as caught:
        v.normalize_leaid(raw)
    assert caught.value.reason == reason


def test_district_leaid_checks_fips_against_prefix_and_unit_state():
    assert v.district_leaid({"leaid": "0600001", "fips": 6}, "06") == "0600001"
    assert v.district_leaid({"leaid": 600001, "fips": "06"}, "06") == "0600001"
    cases = [
        ({"leaid": "0600001", "fips": 5}, v.FIPS_MISMATCH),
        ({"leaid": "0500001", "fips": 5}, v.OTHER_STATE),
        ({"leaid": "0600001", "fips": None}, v.NO_FIPS),
        ({"leaid": None, "fips": 6}, v.NO_LEAID),
    ]
    for record, reason in cases:
        with pytest.raises(v.DropRow) as caught:
            v.district_leaid(record, "06")
        assert caught.value.reason == reason


@pytest.mark.parametrize("code", [-1, -2, -3, -1.0, -3.0, None])
def test_missing_codes_become_none_without_being_counted(code):
    nulled = Counter()
    assert v.measure(code, "enrollment", nulled) is None
    assert v.percent(code, "graduation_rate", nulled) is None
    assert not nulled


def test_other_negative_measures_become_none_and_are_counted():
    nulled = Counter()
    assert v.measure(-7, "enrollment", nulled) is None
    assert v.measure(-0.5, "teachers_fte", nulled) is None
    assert nulled == Counter({"negative value: enrollment": 1, "negative value: teachers_fte": 1})


def test_types_follow_the_columns():
    nulled = Counter()
    assert v.measure(1254, "enrollment", nulled) == 1254 and type(v.measure(1254, "enrollment", nulled)) is int
    assert v.measure(106, "teachers_fte", nulled) == Decimal("106.00")  # FTE as an int
    assert str(v.measure(12.345, "teachers_fte", nulled)) == "12.35"  # half up, not binary float
    assert str(v.measure(0.125, "total_revenue", nulled)) == "0.13"
    assert v.measure("42", "enrollment", nulled) == 42
    assert not nulled


def test_values_that_do_not_fit_their_column_become_none_and_are_counted():
    nulled = Counter()
    assert v.measure(2**31 - 1, "enrollment", nulled) == 2**31 - 1
    assert v.measure(2**31, "enrollment", nulled) is None
    assert v.measure(99_999_999.99, "teachers_fte", nulled) == Decimal("99999999.99")
    assert v.measure(100_000_000, "teachers_fte", nulled) is None
    assert v.measure(10**13, "total_revenue", nulled) is None
    assert v.measure(9_999_999_999_999.99, "total_revenue", nulled) == Decimal("9999999999999.99")
    assert nulled == Counter({
        "too large for column: enrollment": 1,
        "too large for column: teachers_fte": 1,
        "too large for column: total_revenue": 1,
    })


def test_not_a_number_is_none_and_counted():
    nulled = Counter()
    assert v.measure("n/a", "enrollment", nulled) is None
    assert v.measure(True, "enrollment", nulled) is None
    assert v.measure(float("nan"), "enrollment", nulled) is None
    assert nulled["not a number: enrollment"] == 3


@pytest.mark.parametrize("raw", [100.5, 101, -5, -0.01, 1e9])
def test_percentages_outside_0_100_drop_the_row(raw):
    with pytest.raises(v.DropRow) as caught:
        v.percent(raw, "graduation_rate", Counter())
    assert caught.value.reason == v.PCT_OUT_OF_RANGE


def test_percentage_bounds_are_kept():
    assert v.percent(0, "graduation_rate", Counter()) == Decimal("0.00")
    assert v.percent(100, "graduation_rate", Counter()) == Decimal("100.00")
    assert v.percent(24.5, "math_proficiency", Counter()) == Decimal("24.50")


def test_duplicates_keep_one_by_content_whatever_the_order():
    a = {"leaid": "0600001", "fips": 6, "enrollment": None}
    b = {"leaid": "0600001", "fips": 6, "enrollment": 10}
    c = {"leaid": 600001, "fips": 6, "enrollment": 10}
    kept = set()
    for order in ([a, b, c], [c, b, a], [b, a, c]):
        skipped = Counter()
        rows = v.district_records(order, "06", skipped)
        assert list(rows) == ["0600001"]
        assert skipped == Counter({v.DUPLICATE_LEAID: 2})
        kept.add(repr(rows["0600001"]))
    assert len(kept) == 1


def test_subgroup_total_checks_only_present_columns():
    columns = ("race", "foster_care")
    assert v.is_subgroup_total({"race": 99}, columns)
    assert v.is_subgroup_total({"race": 99, "foster_care": 99}, columns)
    assert not v.is_subgroup_total({"race": 99, "foster_care": 1}, columns)
    assert not v.is_subgroup_total({"race": 2}, columns)


def test_missing_field_error_names_the_field_and_accepts_alternatives():
    records = [{"leaid": "0600001", "a": 1}, {"leaid": "0600002"}]
    check_required_fields("x/{year}/", records, ("leaid", "a", "b|a"))
    check_required_fields("x/{year}/", [], ("anything",))  # empty response: no rename to see
    with pytest.raises(MissingFieldError) as caught:
        check_required_fields("x/{year}/", records, ("leaid", "enrollment"))
    assert caught.value.field == "enrollment"
    assert "'enrollment'" in str(caught.value) and "x/{year}/" in str(caught.value)
    assert isinstance(caught.value, DistrictbenchError) and caught.value.exit_code == 1
    with pytest.raises(MissingFieldError, match="students_chronically_absent or chronic_absent"):
        check_required_fields("x/{year}/", records, ("students_chronically_absent|chronic_absent",))
