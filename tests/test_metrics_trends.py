"""Family `trends`: base year closest to latest − 3 (earlier on a tie, strictly before the
latest, per source and state), both rows required, % change and points, values that do not fit."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest

from tests.metrics_helpers import directory, district, history, insert, read_districts, read_logs, run


def _q(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _absenteeism(leaid: str, year: int, rate: str) -> dict:
    return history(leaid, year, "crdc_absenteeism", chronic_absenteeism_rate=rate)


@pytest.mark.parametrize(
    ("years", "pair"),
    [
        ((2013, 2015, 2017, 2020), (2017, 2020)),  # CRDC: latest − 3 = 2017 exists
        ((2016, 2018, 2020), (2016, 2020)),  # 2017 missing: 2016 and 2018 tie, the earlier wins
        ((2011, 2019, 2020), (2019, 2020)),  # 2019 is 2 away, 2011 is 6 away
        ((2020,), None),  # no earlier year: no trend
    ],
)
def test_base_year_is_closest_to_latest_minus_three(db_engine, years, pair):
    rates = {year: f"{10 + (year - 2010) * 1.5:.2f}" for year in years}
    insert(db_engine, [district("0600001")], [_absenteeism("0600001", y, r) for y, r in rates.items()])
    run(db_engine, "trends")
    trend = read_districts(db_engine)["0600001"]["absenteeism_trend_3yr"]
    if pair is None:
        assert trend is None
    else:
        base, latest = pair
        assert trend == Decimal(rates[latest]) - Decimal(rates[base])


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
