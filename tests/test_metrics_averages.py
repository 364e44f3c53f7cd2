"""Family `averages`: pooled ratios, enrollment-weighted means, the US row over the 50 states
and DC only, states without qualifying districts."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from tests.metrics_helpers import district, insert, read_states, run


def _q(value: Decimal, places: str = "0.01") -> Decimal:
    return value.quantize(Decimal(places), rounding=ROUND_HALF_UP)


def _d(leaid: str, **values) -> dict:
    values = {k: Decimal(v) if isinstance(v, str) else v for k, v in values.items()}
    return district(leaid, **values)


def test_student_teacher_ratio_is_pooled_not_a_mean_of_ratios(db_engine):
    insert(
        db_engine,
        [
            _d("0600001", enrollment=100, teachers_fte="10.00"),  # ratio 10
            _d("0600002", enrollment=1000, teachers_fte="50.00"),  # ratio 20
            _d("0600003", enrollment=500, teachers_fte=None),  # no teachers: left out of both sums
            _d("0600004", enrollment=0, teachers_fte="5.00"),  # enrollment 0: not a qualifying district
        ],
    )
    run(db_engine, "averages")
    ca = read_states(db_engine)["06"]
    pooled = _q(Decimal(1100) / Decimal(60))  # 18.33
    weighted_mean_of_ratios = _q((10 * Decimal(100) + 20 * Decimal(1000)) / 1100)  # 19.09
    assert ca["avg_student_teacher_ratio"] == pooled == Decimal("18.33")
    assert pooled != weighted_mean_of_ratios
    assert (ca["total_districts"], ca["total_enrollment"]) == (4, 1600)
    assert ca["avg_enrollment"] == 533  # 1600 / 3 qualifying districts = 533.33


def test_weighted_means_round_half_away_from_zero(db_engine):
    insert(
        db_engine,
        [
            _d("0600001", enrollment=100, graduation_rate_total="10.00", chronic_absenteeism_rate="20.00",
               expenditure_per_pupil="1000.00", children_poverty_percent="10.00"),
            _d("0600002", enrollment=100, graduation_rate_total="10.01", chronic_absenteeism_rate="20.01",
               expenditure_per_pupil="1000.01", children_poverty_percent="10.01"),
            _d("0600003", enrollment=3, graduation_rate_total=None, chronic_absenteeism_rate=None),
        ],
    )
    run(db_engine, "averages")
    ca = read_states(db_engine)["06"]
    assert ca["avg_graduation_rate"] == Decimal("10.01")  # 10.005
    assert ca["avg_chronic_absenteeism_rate"] == Decimal("20.01")  # 20.005
    assert ca["avg_expenditure_per_pupil"] == Decimal("1000.01")  # 1000.005
    assert ca["avg_poverty_rate"] == Decimal("10.01")  # simple mean 10.005
    assert ca["avg_enrollment"] == 68  # 203 / 3 = 67.67


def test_percentages_are_pooled_over_districts_with_a_count(db_engine):
    insert(
        db_engine,
        [
            _d("4800001", enrollment=1000, spec_ed_students=100, ell_students=None),
            _d("4800002", enrollment=3000, spec_ed_students=450, ell_students=600),
            _d("4800003", enrollment=8, spec_ed_students=None, ell_students=1),
        ],
    )
    run(db_engine, "averages")
    tx = read_states(db_engine)["48"]
    assert tx["avg_swd_pct"] == _q(Decimal(100) * 550 / 4000) == Decimal("13.75")
    assert tx["avg_ell_pct"] == _q(Decimal(100) * 601 / 3008) == Decimal("19.98")


def test_national_row_is_the_fifty_states_and_dc_only(db_engine):
    insert(
        db_engine,
        [
            _d("0100001", enrollment=1000, math_proficiency_pct="40.00", teachers_fte="50.00"),
            _d("1100001", enrollment=3000, math_proficiency_pct="20.00", teachers_fte="100.00"),
            _d("7200001", enrollment=50000, math_proficiency_pct="90.00", teachers_fte="10.00"),  # Puerto Rico
            _d("6600001", enrollment=900, math_proficiency_pct="80.00"),  # Guam
        ],
    )
    run(db_engine, "averages")
    states = read_states(db_engine)
    us = states["00"]
    assert (us["total_districts"], us["total_enrollment"]) == (2, 4000)
    assert us["avg_math_proficiency"] == Decimal("25.00")  # (40·1000 + 20·3000) / 4000
    assert us["avg_student_teacher_ratio"] == _q(Decimal(4000) / 150) == Decimal("26.67")
    pr = states["72"]
    assert (pr["total_districts"], pr["avg_math_proficiency"]) == (1, Decimal("90.00"))
    assert states["11"]["avg_math_proficiency"] == Decimal("20.00")  # a one-district "state"


def test_states_without_qualifying_districts_get_null_averages(db_engine):
    insert(db_engine, [_d("0200001", enrollment=0, graduation_rate_total="90.00"), _d("0200002", enrollment=None)])
    run(db_engine, "averages")
    states = read_states(db_engine)
    ak, wy, us = states["02"], states["56"], states["00"]
    assert ak["total_districts"] == 2 and wy["total_districts"] == 0 and us["total_districts"] == 2
    for row in (ak, wy, us):
        assert row["total_enrollment"] is None and row["avg_enrollment"] is None
        assert row["avg_graduation_rate"] is None and row["avg_swd_pct"] is None
        assert row["aggregates_updated_at"] is not None


def test_an_average_that_does_not_fit_is_null_and_counted(db_engine):
    insert(db_engine, [_d("0600001", enrollment=10, spec_ed_students=20, ell_students=5)])
    result = run(db_engine, "averages")
    ca, us = read_states(db_engine)["06"], read_states(db_engine)["00"]
    assert ca["avg_swd_pct"] is None and us["avg_swd_pct"] is None  # 200 % is not a percentage
    assert ca["avg_ell_pct"] == Decimal("50.00")
    assert result["averages"].outcome.nulled == {"avg_swd_pct": 2}
