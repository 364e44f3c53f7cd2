"""Family `averages`: pooled ratios (each district's numerator and denominator from one row),
rates pooled over their own denominators (enrollment weighting without them), the US row over the 50 states and DC only, states without
qualifying districts. `compute averages` also runs latest and ratios, so every test builds
its districts from history rows."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from tests.metrics_helpers import directory, district, extras, history, insert, read_states, run


def _q(value: Decimal, places: str = "0.01") -> Decimal:
    return value.quantize(Decimal(places), rounding=ROUND_HALF_UP)


def _districts(*leaids: str) -> list[dict]:
    return [district(leaid) for leaid in leaids]


def test_student_teacher_ratio_is_pooled_not_a_mean_of_ratios(db_engine):
    insert(
        db_engine,
        _districts("0600001", "0600002", "0600003", "0600004"),
        [
            directory("0600001", 2021, enrollment=100, teachers="10.00"),  # ratio 10
            directory("0600002", 2021, enrollment=1000, teachers="50.00"),  # ratio 20
            directory("0600003", 2021, enrollment=500, teachers=None),  # no teachers: left out of both sums
            directory("0600004", 2021, enrollment=0, teachers="5.00"),  # no students: no ratio, not in the sums
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


def test_an_implausible_ratio_is_not_pooled(db_engine):
    """Toltec (AZ) reported 1,047 students and 1 teacher FTE in 2018: its ratio (1,047) is
    NULL, and its students and teacher do not enter the state's pooled ratio either."""
    insert(
        db_engine,
        _districts("0400001", "0400002", "0408550"),
        [
            directory("0400001", 2018, enrollment=300, teachers="20.00"),
            directory("0400002", 2018, enrollment=900, teachers="40.00"),
            directory("0408550", 2018, enrollment=1047, teachers="1.00"),
        ],
    )
    run(db_engine, "averages")
    az = read_states(db_engine)["04"]
    assert az["avg_student_teacher_ratio"] == _q(Decimal(1200) / 60) == Decimal("20.00")
    assert az["total_enrollment"] == 2247  # enrollment totals still count every district with students


def test_weighted_means_round_half_away_from_zero(db_engine):
    insert(
        db_engine,
        _districts("0600001", "0600002", "0600003"),
        [
            directory("0600001", 2021, enrollment=100),
            directory("0600002", 2021, enrollment=100),
            directory("0600003", 2021, enrollment=3),
            history("0600001", 2021, "edfacts_grad", graduation_rate="10.00"),
            history("0600002", 2021, "edfacts_grad", graduation_rate="10.01"),
            history("0600001", 2021, "crdc_absenteeism", chronic_absenteeism_rate="20.00"),
            history("0600002", 2021, "crdc_absenteeism", chronic_absenteeism_rate="20.01"),
            history("0600001", 2020, "ccd_finance", expenditure_pp="1000.00"),
            history("0600002", 2020, "ccd_finance", expenditure_pp="1000.01"),
            history("0600001", 2021, "saipe", poverty_pct="10.00"),
            history("0600002", 2021, "saipe", poverty_pct="10.01"),
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
        _districts("4800001", "4800002", "4800003"),
        [
            directory("4800001", 2021, enrollment=1000, spec_ed=100, ell=None),
            directory("4800002", 2021, enrollment=3000, spec_ed=450, ell=600),
            directory("4800003", 2021, enrollment=8, spec_ed=None, ell=1),
        ],
    )
    run(db_engine, "averages")
    tx = read_states(db_engine)["48"]
    assert tx["avg_swd_pct"] == _q(Decimal(100) * 550 / 4000) == Decimal("13.75")
    assert tx["avg_ell_pct"] == _q(Decimal(100) * 601 / 3008) == Decimal("19.98")


def test_shares_are_pooled_from_their_own_year_when_enrollment_is_newer(db_engine):
    """2023 brings enrollment only: the English-learner share pools 2021's counts over 2021's
    enrollment (the same rows), not 2021's counts over 2023's enrollment."""
    insert(
        db_engine,
        _districts("4800001", "4800002"),
        [
            directory("4800001", 2021, enrollment=1000, ell=200),
            directory("4800002", 2021, enrollment=3000, ell=300),
            directory("4800001", 2023, enrollment=2000, teachers="100.00"),
            directory("4800002", 2023, enrollment=6000, teachers="300.00"),
        ],
    )
    run(db_engine, "averages")
    tx = read_states(db_engine)["48"]
    assert tx["avg_ell_pct"] == _q(Decimal(100) * 500 / 4000) == Decimal("12.50")  # not 500 / 8000 = 6.25
    assert tx["total_enrollment"] == 8000 and tx["avg_student_teacher_ratio"] == Decimal("20.00")


def test_national_row_is_the_fifty_states_and_dc_only(db_engine):
    insert(
        db_engine,
        _districts("0100001", "1100001", "7200001", "6600001"),
        [
            directory("0100001", 2021, enrollment=1000, teachers="50.00"),
            directory("1100001", 2021, enrollment=3000, teachers="100.00"),
            directory("7200001", 2021, enrollment=50000, teachers="400.00"),  # Puerto Rico
            directory("6600001", 2021, enrollment=900),  # Guam
            history("0100001", 2018, "edfacts_assess", math_proficiency="40.00"),
            history("1100001", 2018, "edfacts_assess", math_proficiency="20.00"),
            history("7200001", 2018, "edfacts_assess", math_proficiency="90.00"),
            history("6600001", 2018, "edfacts_assess", math_proficiency="80.00"),
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
    insert(
        db_engine,
        _districts("0200001", "0200002"),
        [directory("0200001", 2021, enrollment=0), history("0200001", 2021, "edfacts_grad", graduation_rate="90.00")],
    )
    run(db_engine, "averages")
    states = read_states(db_engine)
    ak, wy, us = states["02"], states["56"], states["00"]
    assert ak["total_districts"] == 2 and wy["total_districts"] == 0 and us["total_districts"] == 2
    for row in (ak, wy, us):
        assert row["total_enrollment"] is None and row["avg_enrollment"] is None
        assert row["avg_graduation_rate"] is None and row["avg_swd_pct"] is None
        assert row["aggregates_updated_at"] is not None


def test_a_share_above_100_is_neither_stored_nor_pooled(db_engine):
    """A district share above 100 % is a data error: NULL, counted by `ratios`, and left out
    of the pooled share (which therefore cannot exceed 100 % either)."""
    insert(db_engine, _districts("0600001"), [directory("0600001", 2021, enrollment=10, spec_ed=20, ell=5)])
    result = run(db_engine, "averages")
    ca, us = read_states(db_engine)["06"], read_states(db_engine)["00"]
    assert ca["avg_swd_pct"] is None and us["avg_swd_pct"] is None  # 200 % is not a percentage
    assert ca["avg_ell_pct"] == Decimal("50.00")
    assert result["ratios"].outcome.nulled == {"swd_pct": 1}
    assert result["averages"].outcome.nulled == {}


def test_rates_are_pooled_over_their_own_denominators(db_engine):
    """Graduation by cohort, proficiency by valid test takers, absenteeism Σ absent / Σ CRDC
    enrollment, spending Σ current spending / Σ pupils, poverty Σ poor / Σ children — each
    from the extras row of the value's own history row, never by K-12 enrollment."""
    insert(
        db_engine,
        _districts("0600001", "0600002", "0600003"),
        [
            directory("0600001", 2021, enrollment=10000),
            directory("0600002", 2021, enrollment=1000),
            directory("0600003", 2021, enrollment=500),
            history("0600001", 2019, "edfacts_grad", graduation_rate="80.00"),
            history("0600002", 2019, "edfacts_grad", graduation_rate="95.00"),
            history("0600003", 2019, "edfacts_grad", graduation_rate="70.00"),  # cohort 0: not pooled
            history("0600001", 2018, "edfacts_assess", math_proficiency="30.00", read_proficiency="40.00"),
            history("0600002", 2018, "edfacts_assess", math_proficiency="60.00", read_proficiency="50.00"),
            history("0600001", 2020, "crdc_absenteeism", chronic_absenteeism_rate="12.35"),
            history("0600002", 2020, "crdc_absenteeism", chronic_absenteeism_rate="30.00"),
            history("0600001", 2020, "ccd_finance", expenditure_pp="12000.00"),
            history("0600002", 2020, "ccd_finance", expenditure_pp="20000.00"),
            history("0600001", 2021, "saipe", poverty_pct="10.00"),
            history("0600002", 2021, "saipe", poverty_pct="40.00"),
        ],
        [
            extras("0600001", 2019, "edfacts_grad", cohort=600),
            extras("0600002", 2019, "edfacts_grad", cohort=200),
            extras("0600003", 2019, "edfacts_grad", cohort=0),
            extras("0600001", 2018, "edfacts_assess", math_takers=3000, read_takers=1000),
            extras("0600002", 2018, "edfacts_assess", math_takers=1000, read_takers=3000),
            extras("0600001", 2020, "crdc_absenteeism", absent_students=1235, crdc_enrollment=10000),
            extras("0600002", 2020, "crdc_absenteeism", absent_students=600, crdc_enrollment=2000),
            extras("0600001", 2020, "ccd_finance", current_spending="120000000.00", pupils=10000),
            extras("0600002", 2020, "ccd_finance", current_spending="40000000.00", pupils=2000),
            extras("0600001", 2021, "saipe", children=8000, poor_children=800),
            extras("0600002", 2021, "saipe", children=2000, poor_children=800),
        ],
    )
    result = run(db_engine, "averages")
    ca, us = read_states(db_engine)["06"], read_states(db_engine)["00"]
    assert ca["avg_graduation_rate"] == _q(Decimal(80 * 600 + 95 * 200) / 800) == Decimal("83.75")
    assert ca["avg_math_proficiency"] == _q(Decimal(30 * 3000 + 60 * 1000) / 4000) == Decimal("37.50")
    assert ca["avg_read_proficiency"] == _q(Decimal(40 * 1000 + 50 * 3000) / 4000) == Decimal("47.50")
    assert ca["avg_chronic_absenteeism_rate"] == _q(Decimal(100) * 1835 / 12000) == Decimal("15.29")
    assert ca["avg_expenditure_per_pupil"] == _q(Decimal(160000000) / 12000) == Decimal("13333.33")
    assert ca["avg_poverty_rate"] == _q(Decimal(100) * 1600 / 10000) == Decimal("16.00")
    # by K-12 enrollment (the rule before issue 13) graduation would be (80·10000 + 95·1000 + 70·500) / 11500
    assert _q(Decimal(80 * 10000 + 95 * 1000 + 70 * 500) / 11500) == Decimal("80.87")
    for column in ("avg_graduation_rate", "avg_math_proficiency", "avg_poverty_rate", "avg_expenditure_per_pupil"):
        assert us[column] == ca[column], column
    assert result["averages"].outcome.enrollment_weighted == {}


def test_the_weights_come_from_the_values_own_row(db_engine):
    """The cohort of the graduation rate's own year (2019), not a newer or older one."""
    insert(
        db_engine,
        _districts("4800001", "4800002"),
        [
            directory("4800001", 2021, enrollment=100),
            directory("4800002", 2021, enrollment=100),
            history("4800001", 2018, "edfacts_grad", graduation_rate="50.00"),
            history("4800001", 2019, "edfacts_grad", graduation_rate="90.00"),
            history("4800002", 2019, "edfacts_grad", graduation_rate="70.00"),
        ],
        [
            extras("4800001", 2018, "edfacts_grad", cohort=10000),
            extras("4800001", 2019, "edfacts_grad", cohort=100),
            extras("4800002", 2019, "edfacts_grad", cohort=300),
            extras("4800002", 2019, "edfacts_assess", math_takers=5),  # another source's row
        ],
    )
    run(db_engine, "averages")
    assert read_states(db_engine)["48"]["avg_graduation_rate"] == _q(Decimal(90 * 100 + 70 * 300) / 400) == Decimal("75.00")


def test_a_history_without_denominators_falls_back_to_enrollment_weighting(db_engine):
    """History written before revision 0005 has no extras rows: a state where any district
    with a value lacks one is averaged by enrollment, as before issue 13, over all its
    districts (not by cohort for some and enrollment for others), and counted; the US row
    follows the same rule over its districts."""
    insert(
        db_engine,
        _districts("0600001", "0600002", "4800001", "4800002"),
        [
            directory("0600001", 2021, enrollment=1000),
            directory("0600002", 2021, enrollment=3000),
            directory("4800001", 2021, enrollment=1000),
            directory("4800002", 2021, enrollment=1000),
            history("0600001", 2019, "edfacts_grad", graduation_rate="80.00"),
            history("0600002", 2019, "edfacts_grad", graduation_rate="90.00"),
            history("4800001", 2019, "edfacts_grad", graduation_rate="60.00"),
            history("4800002", 2019, "edfacts_grad", graduation_rate="70.00"),
            history("4800001", 2021, "saipe", poverty_pct="10.00"),
            history("4800002", 2021, "saipe", poverty_pct="30.00"),
        ],
        [
            extras("0600001", 2019, "edfacts_grad", cohort=100),  # 0600002 has none
            extras("4800001", 2019, "edfacts_grad", cohort=100),
            extras("4800002", 2019, "edfacts_grad", cohort=300),
            extras("4800001", 2021, "saipe", children=100, poor_children=10),
            extras("4800002", 2021, "saipe", children=None, poor_children=None),  # a row without counts
        ],
    )
    result = run(db_engine, "averages")
    states = read_states(db_engine)
    ca, tx, us = states["06"], states["48"], states["00"]
    assert ca["avg_graduation_rate"] == _q(Decimal(80 * 1000 + 90 * 3000) / 4000) == Decimal("87.50")
    assert tx["avg_graduation_rate"] == _q(Decimal(60 * 100 + 70 * 300) / 400) == Decimal("67.50")
    assert us["avg_graduation_rate"] == _q(Decimal(80 * 1000 + 90 * 3000 + 60 * 1000 + 70 * 1000) / 6000)
    # an extras row without counts: the district is left out of the pooled sums
    assert tx["avg_poverty_rate"] == Decimal("10.00")
    assert result["averages"].outcome.enrollment_weighted == {"avg_graduation_rate": 2}  # CA and the US
