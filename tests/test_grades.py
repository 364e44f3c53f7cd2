"""Grades offered: the CCD codes the directory source keeps and how headers write them."""

from __future__ import annotations

from districtbench.formatting import grades_label
from districtbench.sources.directory import ELL, ENROLLMENT


def _row(**values) -> dict:
    row = {"leaid": "0200180", "fips": 2, "lea_name": "Anchorage", "city_location": "Anchorage",
           "county_name": "Anchorage", "urban_centric_locale": 11, "number_of_schools": 100,
           "enrollment": 46115, "teachers_total_fte": 2400.5, "staff_total_fte": 5000.0,
           "spec_ed_students": 6000, "english_language_learners": 7000}
    row.update(values)
    return row


def _parse(source, **values):
    return source.parse_unit({source.endpoint: [_row(**values)]}, 2018, "02")


def test_the_enrollment_source_keeps_the_grade_codes_beside_its_history_row():
    unit = _parse(ENROLLMENT, lowest_grade_offered=-1, highest_grade_offered=12)
    assert unit.extras == [{"leaid": "0200180", "lowest_grade": -1, "highest_grade": 12}]
    assert "lowest_grade" not in unit.history[0]
    assert _parse(ELL, lowest_grade_offered=-1, highest_grade_offered=12).extras == []  # one source keeps them
    for code in (-2, -3, 16, None, "x", True):
        assert _parse(ENROLLMENT, lowest_grade_offered=code, highest_grade_offered=code).extras[0]["lowest_grade"] is None
    assert _parse(ENROLLMENT).extras == [{"leaid": "0200180", "lowest_grade": None, "highest_grade": None}]


def test_grades_are_written_as_people_say_them():
    assert grades_label(-1, 12) == "Grades PK–12"
    assert grades_label(0, 8) == "Grades K–8"
    assert grades_label(9, 12) == "Grades 9–12"
    assert grades_label(15, 15) == "Ungraded"
    assert grades_label(5, 5) == "Grade 5"
    assert grades_label(None, None) is None
    assert grades_label(None, 12) == "Grades ?–12"
