"""Family `latest`: the as-of year is per source AND per state; never an older value;
every column recomputed (a value that can no longer be computed becomes NULL)."""

from __future__ import annotations

from decimal import Decimal

from districtbench.db import tables
from tests.metrics_helpers import delete_history, directory, district, history, insert, read_districts, run


def test_as_of_year_is_per_state_and_per_source(db_engine):
    insert(
        db_engine,
        [district("0600001"), district("0600002"), district("4800001")],
        [
            directory("0600001", 2020, enrollment=100),
            directory("0600001", 2021, enrollment=110),
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
