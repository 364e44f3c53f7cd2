"""Family `latest`: the as-of year is per measure AND per state; never an older value;
every column recomputed (a value that can no longer be computed becomes NULL); each
figure's year recorded per state."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from districtbench.db import tables
from tests.metrics_helpers import delete_history, directory, district, history, insert, read_districts, run


def figure_years(engine) -> dict[tuple[str, str], tuple[int, int | None]]:
    t = tables.figure_years
    with engine.connect() as connection:
        rows = connection.execute(sa.select(t.c.state_fips, t.c.figure, t.c.year, t.c.base_year)).all()
    return {(row.state_fips, row.figure): (row.year, row.base_year) for row in rows}


def test_as_of_year_is_per_state_and_per_source(db_engine):
    insert(
        db_engine,
        [district("0600001"), district("0600002"), district("4800001")],
        [
            directory("0600001", 2020, enrollment=100),
            directory("0600001", 2021, enrollment=110, teachers="5.00"),
            directory("0600002", 2020, enrollment=200),  # no 2021 row: NULL, not its 2020 value
            directory("4800001", 2019, enrollment=300),
            directory("4800001", 2020, enrollment=310),  # Texas's latest directory year is 2020
            history("0600001", 2018, "ccd_finance", expenditure_pp="12000.50", total_expenditure="1200050"),
            history("4800001", 2019, "ccd_finance", expenditure_pp="9000.25"),
        ],
    )
    run(db_engine, "latest")
    rows = read_districts(db_engine)
    ca1, ca2, tx = rows["0600001"], rows["0600002"], rows["4800001"]
    assert (ca1["enrollment"], ca1["urban_institute_year"], ca1["staff_data_year"]) == (110, 2021, 2021)
    assert (ca2["enrollment"], ca2["urban_institute_year"]) == (None, None)
    assert (tx["enrollment"], tx["urban_institute_year"]) == (310, 2020)
    assert (ca1["expenditure_per_pupil"], ca1["total_expenditure"], ca1["finance_data_year"]) == (
        Decimal("12000.50"), Decimal("1200050.00"), 2018,
    )
    assert (ca2["expenditure_per_pupil"], ca2["finance_data_year"]) == (None, None)
    assert (tx["expenditure_per_pupil"], tx["finance_data_year"]) == (Decimal("9000.25"), 2019)
    assert ca1["graduation_rate_total"] is None and ca1["graduation_data_year"] is None
    assert (tx["teachers_fte"], tx["staff_data_year"]) == (None, None)  # Texas has no teacher counts at all


def test_every_source_maps_to_its_columns(db_engine):
    leaid = "1100001"
    insert(
        db_engine,
        [district(leaid)],
        [
            directory(leaid, 2021, enrollment=500, teachers="30.5", spec_ed=60, ell=40, staff="70.25"),
            history(leaid, 2020, "ccd_finance", expenditure_pp="20000.00", total_expenditure="10000000.00"),
            history(leaid, 2021, "saipe", poverty_pct="17.35"),
            history(leaid, 2019, "edfacts_grad", graduation_rate="88.80"),
            history(leaid, 2018, "edfacts_assess", math_proficiency="41.10", read_proficiency="52.20"),
            history(leaid, 2017, "crdc_absenteeism", chronic_absenteeism_rate="14.40"),
        ],
    )
    run(db_engine, "latest")
    row = read_districts(db_engine)[leaid]
    expected = {
        "enrollment": 500, "teachers_fte": Decimal("30.50"), "spec_ed_students": 60, "ell_students": 40,
        "staff_total_fte": Decimal("70.25"), "urban_institute_year": 2021, "staff_data_year": 2021,
        "expenditure_per_pupil": Decimal("20000.00"), "total_expenditure": Decimal("10000000.00"),
        "finance_data_year": 2020, "children_poverty_percent": Decimal("17.35"), "saipe_data_year": 2021,
        "graduation_rate_total": Decimal("88.80"), "graduation_data_year": 2019,
        "math_proficiency_pct": Decimal("41.10"), "read_proficiency_pct": Decimal("52.20"),
        "assessment_data_year": 2018, "chronic_absenteeism_rate": Decimal("14.40"), "absenteeism_data_year": 2017,
    }
    assert {k: row[k] for k in expected} == expected


def test_a_value_that_can_no_longer_be_computed_becomes_null(db_engine):
    insert(
        db_engine,
        [district("0600001"), district("0600002"), district("0600003"), district("0600004")],
        [directory(f"060000{n}", year, enrollment=100 * n + year - 2018, teachers="10", spec_ed=n)
         for n in (1, 2, 3, 4) for year in (2018, 2021)]
        + [history(f"060000{n}", 2021, "edfacts_grad", graduation_rate=f"{80 + n}.00") for n in (1, 2, 3, 4)],
    )
    run(db_engine, "all")
    before = read_districts(db_engine)["0600001"]
    assert before["enrollment"] == 103 and before["swd_pct"] is not None
    assert before["enrollment_trend_3yr"] is not None and before["graduation_quartile_state"] is not None

    h = tables.district_data_history.c
    delete_history(db_engine, h.leaid == "0600001", h.source == "ccd_directory", h.year == 2021)
    delete_history(db_engine, h.source == "edfacts_grad")
    run(db_engine, "all")
    after = read_districts(db_engine)["0600001"]
    gone = ["enrollment", "teachers_fte", "spec_ed_students", "urban_institute_year", "swd_pct",
            "student_teacher_ratio", "enrollment_trend_3yr", "staffing_trend_3yr", "vacancy_pressure_signal",
            "swd_trend_3yr", "swd_pct_vs_state", "swd_pct_quartile_state", "graduation_rate_total",
            "graduation_data_year", "graduation_vs_state", "graduation_vs_national", "graduation_quartile_state"]
    assert {k: after[k] for k in gone} == dict.fromkeys(gone)
    assert after["updated_at"] > before["updated_at"]
    assert read_districts(db_engine)["0600002"]["graduation_rate_total"] is None


def test_a_directory_year_without_english_learner_counts_moves_only_the_enrollment(db_engine):
    """The CCD 2023-24 file brings enrollment and teachers but no English-learner or
    special-education counts. Each measure keeps its own latest year: enrollment and teachers
    of 2023, counts and shares of 2021 (from the 2021 rows), their trends 2018 → 2021."""
    insert(
        db_engine,
        [district("4800001"), district("4800002"), district("4800003")],
        [
            directory("4800001", 2018, enrollment=900, teachers="60.00", spec_ed=90, ell=100),
            directory("4800002", 2018, enrollment=400, teachers="30.00", spec_ed=50, ell=40),
            directory("4800001", 2021, enrollment=1000, teachers="62.00", spec_ed=110, ell=150),
            directory("4800002", 2021, enrollment=500, teachers="31.00", spec_ed=60, ell=50),
            directory("4800001", 2023, enrollment=1100, teachers="64.00"),
            directory("4800002", 2023, enrollment=520, teachers="32.00"),
            directory("4800003", 2023, enrollment=80, teachers="8.00"),  # new in 2023: no counts at all
        ],
    )
    result = run(db_engine, "all")
    rows = read_districts(db_engine)
    one, two, new = rows["4800001"], rows["4800002"], rows["4800003"]
    assert (one["enrollment"], one["teachers_fte"], one["urban_institute_year"], one["staff_data_year"]) == (
        1100, Decimal("64.00"), 2023, 2023,
    )
    assert (one["ell_students"], one["spec_ed_students"]) == (150, 110)  # 2021's counts …
    assert one["ell_pct"] == Decimal("15.00")  # … over 2021's enrollment: 100 · 150 / 1000
    assert one["swd_pct"] == Decimal("11.00")  # 100 · 110 / 1000, not 110 / 1100
    assert one["student_teacher_ratio"] == Decimal("17.19")  # 2023: 1100 / 64 = 17.1875
    assert one["ell_trend_3yr"] == Decimal("50.00")  # 100 → 150, 2018 → 2021
    assert two["swd_trend_3yr"] == Decimal("20.00")  # 50 → 60
    # Enrollment: 2023 against 2021 (2020 is missing; 2021, two years back, is in the window).
    assert one["enrollment_trend_3yr"] == Decimal("10.00")  # 1000 → 1100
    assert result["trends"].outcome.no_base_year == {}
    assert (new["ell_pct"], new["ell_students"], new["enrollment"]) == (None, None, 80)
    assert one["ell_pct_quartile_state"] is None  # two districts with a share: fewer than 4, no flags
    years = figure_years(db_engine)
    assert years[("48", "enrollment")] == (2023, None)
    assert years[("48", "ell_students")] == (2021, None)
    assert years[("48", "ell_pct")] == (2021, None) and years[("48", "swd_pct")] == (2021, None)
    assert years[("48", "student_teacher_ratio")] == (2023, None)
    assert years[("48", "ell_trend_3yr")] == (2021, 2018)
    assert years[("48", "enrollment_trend_3yr")] == (2023, 2021)
    assert ("48", "graduation_rate_total") not in years  # no graduation data in Texas


def test_figure_years_follow_the_data_and_are_not_rewritten_when_unchanged(db_engine):
    insert(
        db_engine,
        [district("0600001")],
        [directory("0600001", 2018, enrollment=100, ell=5), directory("0600001", 2021, enrollment=120, ell=6)],
    )
    run(db_engine, "all")
    assert figure_years(db_engine)[("06", "ell_pct")] == (2021, None)
    assert figure_years(db_engine)[("06", "ell_trend_3yr")] == (2021, 2018)
    again = run(db_engine, "all")
    assert sum(f.outcome.districts_updated + f.outcome.states_updated for f in again.families) == 0
    h = tables.district_data_history.c
    delete_history(db_engine, h.year == 2021)
    run(db_engine, "all")
    years = figure_years(db_engine)
    assert years[("06", "ell_pct")] == (2018, None)
    assert years[("06", "ell_trend_3yr")] == (2018, None)  # a single year: no base year
    delete_history(db_engine, h.leaid == "0600001")
    run(db_engine, "all")
    assert figure_years(db_engine) == {}
