"""Family `ratios` (after `latest`): rounding half away from zero, denominators, data errors,
implausible student/teacher ratios, numerator and denominator from one row."""

from __future__ import annotations

from decimal import Decimal

from tests.metrics_helpers import directory, district, insert, read_districts, read_logs, run


def _one(engine, enrollment, teachers=None, spec_ed=None, ell=None):
    insert(engine, [district("0600001")], [directory("0600001", 2021, enrollment, teachers, spec_ed, ell)])
    result = run(engine, "latest", "ratios")
    return read_districts(engine)["0600001"], result


def test_half_way_values_round_away_from_zero(db_engine):
    # 100 · 201 / 20000 = 1.005 and 100 · 535 / 20000 = 2.675 exactly; as doubles both are
    # just below the half (1.00499999…, 2.67499999…), so float rounding would give 1.00, 2.67.
    # 20000 / 7476.64 = 2.674998… is really below the half.
    row, _ = _one(db_engine, enrollment=20000, teachers="7476.64", spec_ed=201, ell=535)
    assert row["swd_pct"] == Decimal("1.01")
    assert row["ell_pct"] == Decimal("2.68")
    assert row["student_teacher_ratio"] == Decimal("2.67")


def test_ratio_exactly_half_a_cent(db_engine):
    row, _ = _one(db_engine, enrollment=107, teachers="40", spec_ed=1, ell=3)
    assert row["student_teacher_ratio"] == Decimal("2.68")  # 2.675
    assert row["swd_pct"] == Decimal("0.93")  # 0.934579…
    assert row["ell_pct"] == Decimal("2.80")  # 2.803738…


def test_eighths_and_thirds(db_engine):
    row, _ = _one(db_engine, enrollment=8, teachers="3", spec_ed=1, ell=5)
    assert row["swd_pct"] == Decimal("12.50")
    assert row["ell_pct"] == Decimal("62.50")
    assert row["student_teacher_ratio"] == Decimal("2.67")  # 2.666…


def test_zero_and_null_denominators_give_null_not_counted(db_engine):
    insert(
        db_engine,
        [district("0600001"), district("0600002"), district("0600003"), district("0600004")],
        [
            directory("0600001", 2021, enrollment=0, teachers="0", spec_ed=0, ell=0),
            directory("0600002", 2021, enrollment=None, teachers=None, spec_ed=5, ell=5),
            directory("0600003", 2021, enrollment=100, teachers="0", spec_ed=None, ell=None),
            directory("0600004", 2021, enrollment=0, teachers="5", spec_ed=0, ell=0),  # no students: no ratio
        ],
    )
    result = run(db_engine, "latest", "ratios")
    rows = read_districts(db_engine)
    for leaid in rows:
        assert rows[leaid]["swd_pct"] is None and rows[leaid]["ell_pct"] is None
        assert rows[leaid]["student_teacher_ratio"] is None
    assert result["ratios"].outcome.nulled == {}


def test_more_special_education_students_than_students_is_null_and_counted(db_engine):
    row, result = _one(db_engine, enrollment=50, teachers="5", spec_ed=51, ell=50)
    assert row["swd_pct"] is None  # 102 % is a data error
    assert row["ell_pct"] == Decimal("100.00")  # exactly 100 is fine
    assert result["ratios"].outcome.nulled == {"swd_pct": 1}
    log = [r for r in read_logs(db_engine) if r["data_source"] == "compute:ratios"][-1]
    assert log["records_failed"] == 1 and log["status"] == "success"


def test_implausible_student_teacher_ratios_are_null_and_counted(db_engine):
    """Fewer than 1 teacher FTE, or more than 150 students per teacher: NULL and counted (the
    real 2018 directory has Toltec, AZ, with 1,047 students and 1 FTE)."""
    cases = {
        "0408550": (1047, "1.00", None),  # Toltec: 1,047 per teacher
        "0400002": (40, "0.50", None),  # half a teacher
        "0400003": (2_000_000_000, "0.01", None),  # would not even fit DECIMAL(8,2)
        "0400004": (15000, "100.00", Decimal("150.00")),  # exactly 150: kept
        "0400005": (15001, "100.00", None),  # 150.01
        "0400006": (1, "1.00", Decimal("1.00")),  # 1 FTE is enough
    }
    insert(
        db_engine,
        [district(leaid) for leaid in cases],
        [directory(leaid, 2018, enrollment, teachers) for leaid, (enrollment, teachers, _) in cases.items()],
    )
    result = run(db_engine, "ratios")
    rows = read_districts(db_engine)
    assert {leaid: rows[leaid]["student_teacher_ratio"] for leaid in cases} == {
        leaid: expected for leaid, (_, _, expected) in cases.items()
    }
    assert rows["0408550"]["teachers_fte"] == Decimal("1.00")  # the inputs themselves are kept
    assert result["ratios"].outcome.nulled == {"student_teacher_ratio": 4}
    log = [r for r in read_logs(db_engine) if r["data_source"] == "compute:ratios"][-1]
    assert log["records_failed"] == 4


def test_numerator_and_denominator_come_from_the_same_row(db_engine):
    """The latest special-education count is of 2021, the latest enrollment of 2023: the share
    is 2021's count over 2021's enrollment, never over 2023's."""
    insert(
        db_engine,
        [district("0600001")],
        [
            directory("0600001", 2021, enrollment=400, teachers="20.00", spec_ed=48, ell=30),
            directory("0600001", 2023, enrollment=800, teachers="25.00"),
        ],
    )
    run(db_engine, "ratios")
    row = read_districts(db_engine)["0600001"]
    assert (row["enrollment"], row["spec_ed_students"]) == (800, 48)
    assert row["swd_pct"] == Decimal("12.00")  # 100 · 48 / 400 (not 48 / 800 = 6.00)
    assert row["ell_pct"] == Decimal("7.50")  # 100 · 30 / 400
    assert row["student_teacher_ratio"] == Decimal("32.00")  # 2023: 800 / 25


def test_ratios_alone_computes_from_the_history_not_from_stored_columns(db_engine):
    """`compute ratios` also runs `latest`: values stored by hand in `districts` are replaced
    by the history's, and the ratios come from the history rows."""
    insert(
        db_engine,
        [district("0600001", enrollment=400, teachers_fte=Decimal("16.00"), spec_ed_students=48)],
        [directory("0600001", 2021, enrollment=300, teachers="15.00", spec_ed=30)],
    )
    result = run(db_engine, "ratios")
    row = read_districts(db_engine)["0600001"]
    assert (row["enrollment"], row["student_teacher_ratio"], row["swd_pct"], row["ell_pct"]) == (
        300, Decimal("20.00"), Decimal("10.00"), None,
    )
    assert [f.name for f in result.families] == ["latest", "ratios"]
