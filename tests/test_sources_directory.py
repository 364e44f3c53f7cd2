"""`enrollment` and `ell` over the real 2018 directory page and hand-made edge cases."""

import copy
import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from districtbench.sources.base import MissingFieldError
from districtbench.sources.directory import DIRECTORY, ELL, ENROLLMENT
from districtbench.sources.roster import NO_NAME
from districtbench.sources.values import DUPLICATE_LEAID, FIPS_MISMATCH, INVALID_LEAID, OTHER_STATE


def real_dir() -> Path:
    beside_clone = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
    return beside_clone if beside_clone.is_dir() else Path("/work/shared/data/real")


SAMPLE = real_dir() / "urban-api-samples" / "school-districts_ccd_directory_2018_page-1.json"
needs_real = pytest.mark.skipif(not SAMPLE.exists(), reason="real Urban API samples not available")


@pytest.fixture(scope="module")
def rows():
    return json.loads(SAMPLE.read_text())["results"]


def parse(source, records, state="05", year=2018):
    return source.parse_unit({DIRECTORY: records}, year, state)


def row(leaid="0500001", fips=5, **values):
    base = {
        "leaid": leaid, "fips": fips, "lea_name": "Test District", "state_location": "AR",
        "city_location": "Town", "county_name": "Some County", "urban_centric_locale": 41,
        "number_of_schools": 3, "agency_type": 1, "lowest_grade_offered": -1,
        "enrollment": 100, "teachers_total_fte": 7.5, "staff_total_fte": 15,
        "spec_ed_students": 12, "english_language_learners": 4,
    }
    base.update(values)
    return base


@needs_real
@pytest.mark.parametrize("fips", [1, 2, 4, 5])
def test_rows_per_state_match_the_real_page(rows, fips):
    state = f"{fips:02d}"
    expected = sorted(r["leaid"] for r in rows if r["fips"] == fips)
    for source in (ENROLLMENT, ELL):
        unit = parse(source, rows, state)
        assert [h["leaid"] for h in unit.history] == expected
        assert [r["leaid"] for r in unit.roster] == expected
        assert unit.skipped == Counter({OTHER_STATE: len(rows) - len(expected)})
        assert not unit.nulled


@needs_real
def test_enrollment_values_of_arkansas(rows):
    arkansas = [r for r in rows if r["fips"] == 5]
    unit = parse(ENROLLMENT, rows, "05")
    assert len(unit.history) == 42
    assert sum(h["enrollment"] or 0 for h in unit.history) == sum(r["enrollment"] or 0 for r in arkansas)
    by_leaid = {h["leaid"]: h for h in unit.history}
    for record in arkansas:
        parsed = by_leaid[record["leaid"]]
        assert set(parsed) == {"leaid", "enrollment", "teachers_fte", "staff_total_fte", "spec_ed_students"}
        assert parsed["enrollment"] == record["enrollment"]
        assert parsed["spec_ed_students"] == record["spec_ed_students"]
        for column, field in (("teachers_fte", "teachers_total_fte"), ("staff_total_fte", "staff_total_fte")):
            raw = record[field]
            assert parsed[column] == (None if raw is None else Decimal(str(raw)).quantize(Decimal("0.01")))
            assert parsed[column] is None or isinstance(parsed[column], Decimal)


@needs_real
def test_null_english_learners_stay_missing(rows):
    arizona = [r for r in rows if r["fips"] == 4]
    unit = parse(ELL, rows, "04")
    nulls = {r["leaid"] for r in arizona if r["english_language_learners"] is None}
    assert nulls  # the real page has them
    parsed = {h["leaid"]: h["ell_students"] for h in unit.history}
    assert {leaid for leaid, value in parsed.items() if value is None} == nulls
    assert sum(v for v in parsed.values() if v is not None) == sum(
        r["english_language_learners"] for r in arizona if r["english_language_learners"] is not None
    )
    assert all(set(h) == {"leaid", "ell_students"} for h in unit.history)


@needs_real
def test_roster_of_the_real_page(rows):
    unit = parse(ENROLLMENT, rows, "04")
    roster = {r["leaid"]: r for r in unit.roster}
    for record in (r for r in rows if r["fips"] == 4):
        got = roster[record["leaid"]]
        assert got["name"] == record["lea_name"]
        assert got["state_fips"] == "04" and got["state_abbrev"] == "AZ"
        assert got["city_location"] == record["city_location"]
        assert got["county_name"] == record["county_name"]
        assert got["urban_centric_locale"] == record["urban_centric_locale"]
        assert got["number_of_schools"] == record["number_of_schools"]
    # An Arizona charter whose office is in Illinois still belongs to AZ.
    assert roster["0400811"]["state_abbrev"] == "AZ"


@needs_real
def test_integer_leaids_parse_the_same(rows):
    as_ints = copy.deepcopy(rows)
    for record in as_ints:
        record["leaid"] = int(record["leaid"])
    assert parse(ENROLLMENT, as_ints, "01").history == parse(ENROLLMENT, rows, "01").history


def test_sentinels_on_measures_only():
    unit = parse(ENROLLMENT, [row(enrollment=-1, teachers_total_fte=-2, staff_total_fte=-3,
                                  spec_ed_students=None, urban_centric_locale=-1, number_of_schools=-2)])
    assert unit.history == [{"leaid": "0500001", "enrollment": None, "teachers_fte": None,
                             "staff_total_fte": None, "spec_ed_students": None}]
    assert unit.roster[0]["urban_centric_locale"] == -1  # a code, kept
    assert unit.roster[0]["number_of_schools"] is None
    assert not unit.nulled and not unit.skipped


def test_negative_and_oversized_values_become_null_and_are_counted():
    unit = parse(ENROLLMENT, [row(enrollment=-40, staff_total_fte=1e9, spec_ed_students=2**31)])
    assert unit.history[0]["enrollment"] is None
    assert unit.history[0]["staff_total_fte"] is None
    assert unit.history[0]["spec_ed_students"] is None
    assert unit.history[0]["teachers_fte"] == Decimal("7.50")
    assert unit.nulled == Counter({"negative value: enrollment": 1, "too large for column: staff_total_fte": 1,
                                   "too large for column: spec_ed_students": 1})


def test_bad_identifiers_are_dropped_and_counted():
    records = [
        row("0500001"),
        row("0500001", enrollment=None),  # duplicate
        row("0600002", fips=5),  # fips disagrees with the leaid
        row("05000031", fips=5),  # 8 digits
        row(500004),  # int leaid
        row("0500005", lea_name=None),
        row("0400006", fips=4),  # another state
    ]
    unit = parse(ENROLLMENT, records)
    assert [h["leaid"] for h in unit.history] == ["0500001", "0500004"]
    assert unit.history[0]["enrollment"] == 100  # the more complete duplicate
    assert unit.skipped == Counter({DUPLICATE_LEAID: 1, FIPS_MISMATCH: 1, INVALID_LEAID: 1,
                                    NO_NAME: 1, OTHER_STATE: 1})


def test_a_renamed_field_fails_the_unit():
    records = [row(), row("0500002")]
    for record in records:
        record["total_enrollment"] = record.pop("enrollment")
    with pytest.raises(MissingFieldError) as caught:
        parse(ENROLLMENT, records)
    assert caught.value.field == "enrollment"
    assert parse(ELL, records).history  # ell does not read it
    for record in records:
        del record["english_language_learners"]
    with pytest.raises(MissingFieldError, match="english_language_learners"):
        parse(ELL, records)


def test_empty_unit_is_empty():
    unit = parse(ENROLLMENT, [])
    assert unit.history == [] and unit.roster == [] and not unit.skipped
