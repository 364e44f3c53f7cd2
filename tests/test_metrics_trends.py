"""Family `trends`: the base year lies within latest − 4 … latest − 2, closest to latest − 3
(earlier on a tie, per measure and state), otherwise no trend (counted); both rows required,
% change and points, implausible ratios, values that do not fit."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest

from tests.metrics_helpers import directory, district, history, insert, read_districts, read_logs, run


def _q(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _absenteeism(leaid: str, year: int, rate: str) -> dict:
    return history(leaid, year, "crdc_absenteeism", chronic_absenteeism_rate=rate)


@pytest.mark.parametrize(
    ("years", "pair", "counted"),
    [
        ((2013, 2015, 2017, 2020), (2017, 2020), False),  # CRDC: latest − 3 = 2017 exists
        ((2016, 2018, 2020), (2016, 2020), False),  # 2017 missing: 2016 and 2018 tie, the earlier wins
        ((2019, 2020), None, True),  # a gap of 1 year is no 3-year trend
        ((2018, 2020), (2018, 2020), False),  # gap 2: the nearest allowed
        ((2016, 2020), (2016, 2020), False),  # gap 4: the farthest allowed
        ((2015, 2020), None, True),  # gap 5: too far
        ((2011, 2019, 2020), None, True),  # 2019 too near, 2011 too far (it used to be 2019 → 2020)
        ((2015, 2019, 2020), None, True),
        ((2015, 2018, 2019, 2020), (2018, 2020), False),  # 2018 (gap 2) is in the window, 2019 is not
        ((2020,), None, False),  # no earlier year: no trend, and nothing to count
    ],
)
def test_base_year_lies_within_two_to_four_years_before_the_latest(db_engine, years, pair, counted):
    rates = {year: f"{10 + (year - 2010) * 1.5:.2f}" for year in years}
    insert(db_engine, [district("0600001")], [_absenteeism("0600001", y, r) for y, r in rates.items()])
    result = run(db_engine, "trends")
    trend = read_districts(db_engine)["0600001"]["absenteeism_trend_3yr"]
    if pair is None:
        assert trend is None
    else:
        base, latest = pair
        assert trend == Decimal(rates[latest]) - Decimal(rates[base])
    assert result["trends"].outcome.no_base_year == ({"absenteeism_trend_3yr": 1} if counted else {})
    log = [r for r in read_logs(db_engine) if r["data_source"] == "compute:trends"][-1]
    assert log["records_failed"] == (1 if counted else 0)


def test_a_state_without_a_base_year_counts_only_districts_with_a_latest_value(db_engine):
    insert(
        db_engine,
        [district("0600001"), district("0600002"), district("0600003")],
        [_absenteeism("0600001", 2019, "10.00"), _absenteeism("0600001", 2020, "12.00"),
         _absenteeism("0600002", 2019, "10.00"),  # no 2020 row: no latest value, not counted
         history("0600003", 2020, "crdc_absenteeism", chronic_absenteeism_rate=None)],
    )
    result = run(db_engine, "trends")
    assert result["trends"].outcome.no_base_year == {"absenteeism_trend_3yr": 1}


def test_base_year_is_chosen_per_state(db_engine):
    insert(
        db_engine,
        [district("0600001"), district("4800001")],
        [_absenteeism("0600001", y, "10.00") for y in (2015, 2017)] + [_absenteeism("0600001", 2020, "13.50")]
        + [_absenteeism("4800001", y, "20.00") for y in (2015,)] + [_absenteeism("4800001", 2018, "21.25")],
    )
    run(db_engine, "trends")
    rows = read_districts(db_engine)
    assert rows["0600001"]["absenteeism_trend_3yr"] == Decimal("3.50")  # 2017 → 2020
    assert rows["4800001"]["absenteeism_trend_3yr"] == Decimal("1.25")  # 2015 → 2018


def test_a_district_needs_its_own_rows_in_both_years(db_engine):
    insert(
        db_engine,
        [district("0600001"), district("0600002")],
        [
            directory("0600001", 2018, enrollment=100), directory("0600001", 2021, enrollment=150),
            directory("0600002", 2019, enrollment=100), directory("0600002", 2021, enrollment=150),
        ],
    )
    run(db_engine, "trends")
    rows = read_districts(db_engine)
    assert rows["0600001"]["enrollment_trend_3yr"] == Decimal("50.00")
    assert rows["0600002"]["enrollment_trend_3yr"] is None  # its 2019 row is not the state's base year


def test_percent_changes_points_and_the_vacancy_signal(db_engine):
    insert(
        db_engine,
        [district("0600001")],
        [
            directory("0600001", 2018, enrollment=3000, teachers="150.00", spec_ed=300, ell=0),
            directory("0600001", 2021, enrollment=3001, teachers="160.30", spec_ed=333, ell=40),
            history("0600001", 2017, "ccd_finance", expenditure_pp="10000.00"),
            history("0600001", 2020, "ccd_finance", expenditure_pp="10123.45"),
            history("0600001", 2018, "edfacts_assess", math_proficiency="40.10", read_proficiency="50.00"),
            history("0600001", 2021, "edfacts_assess", math_proficiency="38.35", read_proficiency=None),
        ],
    )
    run(db_engine, "trends")
    row = read_districts(db_engine)["0600001"]
    enrollment = _q(Decimal(100) * (3001 - 3000) / 3000)  # 0.0333… → 0.03
    staffing = _q(Decimal(100) * (Decimal("160.30") - 150) / 150)  # 6.8666… → 6.87
    assert row["enrollment_trend_3yr"] == enrollment == Decimal("0.03")
    assert row["staffing_trend_3yr"] == staffing == Decimal("6.87")
    assert row["vacancy_pressure_signal"] == enrollment - staffing
    assert row["swd_trend_3yr"] == Decimal("11.00")
    assert row["ell_trend_3yr"] is None  # base 0
    ratio = _q(Decimal(3001) / Decimal("160.30") - Decimal(3000) / Decimal("150.00"))  # exact ratios, then round
    assert row["student_teacher_ratio_trend_3yr"] == ratio == Decimal("-1.28")
    assert row["expenditure_pp_trend_3yr"] == Decimal("1.23")  # 1.2345 → 1.23
    assert row["math_proficiency_trend_3yr"] == Decimal("-1.75")
    assert row["read_proficiency_trend_3yr"] is None


def test_a_ratio_trend_uses_the_ratios_own_years_and_drops_implausible_ends(db_engine):
    """Students per teacher: its latest and base year are the state's years with both
    enrollment and teachers (2019 and 2022), not the enrollment's (2020 and 2023: 2020 and
    2023 have no teacher counts). An implausible ratio at either end gives no trend, counted."""
    insert(
        db_engine,
        [district("0600001"), district("0600002"), district("0600003")],
        [
            directory("0600001", 2019, enrollment=1000, teachers="50.00"),
            directory("0600001", 2020, enrollment=1010),  # no teachers reported that year
            directory("0600001", 2022, enrollment=1100, teachers="50.00"),
            directory("0600001", 2023, enrollment=1200),  # no teachers reported that year either
            directory("0600002", 2019, enrollment=900, teachers="0.50"),  # 1,800 per teacher
            directory("0600002", 2022, enrollment=950, teachers="50.00"),
            directory("0600003", 2019, enrollment=600, teachers="30.00"),
            directory("0600003", 2022, enrollment=0, teachers="30.00"),  # no students: no ratio, not counted
        ],
    )
    result = run(db_engine, "ratios", "trends")
    rows = read_districts(db_engine)
    assert rows["0600001"]["student_teacher_ratio_trend_3yr"] == Decimal("2.00")  # 20 → 22, 2019 → 2022
    assert rows["0600001"]["student_teacher_ratio"] == Decimal("22.00")  # the ratio of 2022
    assert rows["0600001"]["enrollment_trend_3yr"] == Decimal("18.81")  # 1010 → 1200, 2020 → 2023
    assert rows["0600002"]["student_teacher_ratio_trend_3yr"] is None
    assert rows["0600003"]["student_teacher_ratio_trend_3yr"] is None
    assert result["trends"].outcome.nulled == {"student_teacher_ratio_trend_3yr": 1}


def test_a_percent_change_that_does_not_fit_is_null_and_counted(db_engine):
    insert(
        db_engine,
        [district("0600001"), district("0600002")],
        [
            directory("0600001", 2018, enrollment=1), directory("0600001", 2021, enrollment=1001),
            directory("0600002", 2018, enrollment=1), directory("0600002", 2021, enrollment=100_001),
        ],
    )
    result = run(db_engine, "trends")
    rows = read_districts(db_engine)
    assert rows["0600001"]["enrollment_trend_3yr"] == Decimal("100000.00")  # fits DECIMAL(8,2)
    assert rows["0600002"]["enrollment_trend_3yr"] is None  # 10,000,000 % does not
    assert result["trends"].outcome.nulled == {"enrollment_trend_3yr": 1}
    log = [r for r in read_logs(db_engine) if r["data_source"] == "compute:trends"][-1]
    assert (log["records_failed"], log["status"]) == (1, "success")


def test_missing_years_and_sources(db_engine):
    insert(
        db_engine,
        [district("0600001"), district("0600002")],
        [
            history("0600001", 2016, "edfacts_grad", graduation_rate="80.00"),
            history("0600001", 2019, "edfacts_grad", graduation_rate="85.55"),
            history("0600002", 2019, "edfacts_grad", graduation_rate=None),
        ],
    )
    run(db_engine, "trends")
    rows = read_districts(db_engine)
    assert rows["0600001"]["graduation_trend_3yr"] == Decimal("5.55")
    assert rows["0600002"]["graduation_trend_3yr"] is None
    assert rows["0600001"]["enrollment_trend_3yr"] is None  # no directory data at all
