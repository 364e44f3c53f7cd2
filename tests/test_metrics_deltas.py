"""Family `deltas`: differences to the state and US averages, and within-state quartile flags
(equal values share a flag, independent of row order; none below 4 districts; none for a
district without students). `compute deltas` also runs latest, ratios and averages, so the
districts are built from history rows."""

from __future__ import annotations

import random
from decimal import Decimal

from districtbench.db import tables
from tests.metrics_helpers import (
    directory, district, history, insert, ntile_flags, read_districts, read_states, run,
)

SOURCE_OF = {  # districts column: (history source, column)
    "graduation_rate_total": ("edfacts_grad", "graduation_rate"),
    "chronic_absenteeism_rate": ("crdc_absenteeism", "chronic_absenteeism_rate"),
    "expenditure_per_pupil": ("ccd_finance", "expenditure_pp"),
}


def _with_rates(
    rates: dict[str, str | None], column: str = "graduation_rate_total", enrollment: int = 100
) -> tuple[list[dict], list[dict]]:
    """Districts (in the order given) with `column` = rate in 2021 and `enrollment` students."""
    source, history_column = SOURCE_OF[column]
    districts = [district(leaid) for leaid in rates]
    rows = [directory(leaid, 2021, enrollment=enrollment) for leaid in rates]
    rows += [history(leaid, 2021, source, **{history_column: rate}) for leaid, rate in rates.items()]
    return districts, rows


def _delete_all(engine) -> None:
    with engine.begin() as connection:
        connection.execute(tables.district_data_history.delete())
        connection.execute(tables.districts.delete())


def _flags(engine, column: str = "graduation_quartile_state") -> dict[str, str | None]:
    return {leaid: row[column] for leaid, row in read_districts(engine).items()}


def test_quartiles_of_distinct_values_follow_ntile(db_engine):
    rates = {f"06{n:05d}": f"{n}.00" for n in range(1, 11)}  # 10 districts: groups of 3, 3, 2, 2
    insert(db_engine, *_with_rates(rates))
    run(db_engine, "deltas")
    flags = _flags(db_engine)
    assert [flags[f"06{n:05d}"] for n in range(1, 11)] == (
        ["well_below"] * 3 + ["below"] * 3 + ["above"] * 2 + ["well_above"] * 2
    )


def test_equal_values_share_the_flag_of_the_first_of_the_tie(db_engine):
    # Sorted: 10, 20, 20, 20, 20, 30, 40, 50 → NTILE(4): 1 1 2 2 3 3 4 4 → the 20s all get group 1.
    values = ["20.00", "10.00", "20.00", "50.00", "20.00", "30.00", "40.00", "20.00"]
    rates = {f"48{n:05d}": v for n, v in enumerate(values, start=1)}
    insert(db_engine, *_with_rates(rates))
    run(db_engine, "deltas")
    flags = _flags(db_engine)
    assert {flags[k] for k, v in rates.items() if v == "20.00"} == {"well_below"}
    assert [flags[k] for k, v in rates.items() if v != "20.00"] == ["well_below", "well_above", "above", "well_above"]
    expected = ntile_flags({k: Decimal(v) for k, v in rates.items()})  # the reference agrees
    assert flags == expected


def test_flags_do_not_depend_on_row_order(db_engine):
    rnd = random.Random(5)
    rates = {f"06{n:05d}": rnd.choice(["55.50", "60.00", "60.00", "71.25", "80.00", "99.99"]) for n in range(1, 24)}
    rates["0600099"] = None
    orders = [sorted(rates), sorted(rates, reverse=True), rnd.sample(sorted(rates), len(rates))]
    seen = []
    for order in orders:
        _delete_all(db_engine)
        insert(db_engine, *_with_rates({leaid: rates[leaid] for leaid in order}))
        run(db_engine, "deltas")
        seen.append(_flags(db_engine))
    assert seen[0] == seen[1] == seen[2]
    assert seen[0]["0600099"] is None
    for a in rates:
        for b in rates:
            if rates[a] is not None and rates[a] == rates[b]:
                assert seen[0][a] == seen[0][b]


def test_no_flags_below_four_districts_with_a_value(db_engine):
    alaska = _with_rates({"0200001": "10.00", "0200002": "20.00", "0200003": "30.00", "0200004": None})
    dc = _with_rates({"1100001": "50.00"})
    insert(db_engine, alaska[0] + dc[0], alaska[1] + dc[1])
    run(db_engine, "averages", "deltas")
    flags = _flags(db_engine)
    assert set(flags.values()) == {None}
    dc = read_districts(db_engine)["1100001"]
    assert dc["graduation_vs_state"] == Decimal("0.00")  # a one-district state is its own average


def test_differences_to_state_and_nation(db_engine):
    spending = {"0600001": (100, "12000.00"), "0600002": (300, "8000.00"), "4800001": (600, "10000.01"),
                "7200001": (1000, "1.00")}  # Puerto Rico: not in the US row
    insert(
        db_engine,
        [district(leaid) for leaid in spending],
        [directory(leaid, 2021, enrollment=n) for leaid, (n, _) in spending.items()]
        + [history(leaid, 2020, "ccd_finance", expenditure_pp=pp) for leaid, (_, pp) in spending.items()],
    )
    run(db_engine, "averages", "deltas")
    states, rows = read_states(db_engine), read_districts(db_engine)
    assert states["06"]["avg_expenditure_per_pupil"] == Decimal("9000.00")
    assert states["00"]["avg_expenditure_per_pupil"] == Decimal("9600.01")  # 9,600,006 / 1000
    assert rows["0600001"]["expenditure_pp_vs_state"] == Decimal("3000.00")
    assert rows["0600001"]["expenditure_pp_vs_national"] == Decimal("2399.99")
    assert rows["4800001"]["expenditure_pp_vs_state"] == Decimal("0.00")
    assert rows["7200001"]["expenditure_pp_vs_national"] == Decimal("-9599.01")
    assert rows["0600001"]["student_teacher_ratio_vs_state"] is None  # NULL when a side is NULL


def test_a_difference_that_does_not_fit_is_null_and_counted(db_engine):
    spending = {"0600001": (1, "2000000.00"), "0600002": (1_000_000, "1.00"), "0600003": (1_000_000, "1.00")}
    insert(
        db_engine,
        [district(leaid) for leaid in spending],
        [directory(leaid, 2021, enrollment=n) for leaid, (n, _) in spending.items()]
        + [history(leaid, 2020, "ccd_finance", expenditure_pp=pp) for leaid, (_, pp) in spending.items()],
    )
    result = run(db_engine, "averages", "deltas")
    row = read_districts(db_engine)["0600001"]
    assert row["expenditure_pp_vs_state"] is None  # 2,000,000 − 2.00 > 999,999.99
    assert row["expenditure_pp_vs_national"] is None
    assert result["deltas"].outcome.nulled == {"expenditure_pp_vs_state": 1, "expenditure_pp_vs_national": 1}


def test_flags_say_where_the_value_stands_whatever_is_better(db_engine):
    rates = {f"06{n:05d}": f"{n * 10}.00" for n in range(1, 5)}
    insert(db_engine, *_with_rates(rates, "chronic_absenteeism_rate"))
    run(db_engine, "deltas")
    flags = _flags(db_engine, "absenteeism_quartile_state")
    assert flags["0600004"] == "well_above"  # the highest absenteeism, although lower is better


def test_only_differences_whose_column_types_allow_overflow_are_range_checked():
    """vs_state/vs_national are NUMERIC(8,2) (±999,999.99). A difference of two NUMERIC(5,2)
    values lies within ±1,999.98 and needs no check; of two NUMERIC(8,2) (student/teacher
    ratio) or NUMERIC(12,2) (expenditure per pupil) values it can overflow."""
    from districtbench.metrics.apply import bounded
    from districtbench.metrics.deltas import _difference_range
    from districtbench.metrics.definitions import METRICS

    value = tables.districts.c.graduation_vs_state  # any expression
    fits = bounded(tables.districts, "graduation_vs_state", value, value_range=(Decimal("-1999.98"), Decimal("1999.98")))
    assert not fits.checked
    wide = (Decimal("-1999999.98"), Decimal("1999999.98"))
    overflows = bounded(tables.districts, "graduation_vs_state", value, value_range=wide)
    assert (overflows.low, overflows.high) == (Decimal("-999999.99"), Decimal("999999.99"))

    assert _difference_range(next(m for m in METRICS if m.key == "graduation")) == (
        Decimal("-1999.98"), Decimal("1999.98"))
    checked = {
        m.key for m in METRICS
        if bounded(tables.districts, m.vs_state_column, value, value_range=_difference_range(m)).checked
    }
    assert checked == {"student_teacher_ratio", "expenditure_pp"}


def test_flags_match_the_ntile_rule_for_every_remainder_and_many_ties(db_engine):
    """States of 4 to 13 districts (every n mod 4), values drawn from a few, so that ties
    straddle the group boundaries; the reference is tests/expected.py's plain NTILE."""
    from tests.expected import quartile_flags

    rnd = random.Random(11)
    rates: dict[str, str | None] = {}
    for state, n in zip(("01", "02", "04", "05", "06", "08", "09", "10", "12", "13"), range(4, 14)):
        for number in range(1, n + 1):
            rates[f"{state}{number:05d}"] = rnd.choice(["10.00", "20.00", "20.00", "30.00", "30.00", "40.00"])
    insert(db_engine, *_with_rates(rates))
    run(db_engine, "deltas")
    flags = _flags(db_engine)
    expected: dict[str, str | None] = {}
    for state in {leaid[:2] for leaid in rates}:
        expected |= quartile_flags({k: Decimal(v) for k, v in rates.items() if k[:2] == state})
    assert flags == expected
    assert {flag for flag in flags.values()} == {"well_below", "below", "above", "well_above"}


def test_a_district_without_students_gets_no_flag_and_is_not_ranked(db_engine):
    """Enrollment 0 (a district that has closed its schools, a supervisory union): no flag on
    any metric, and the state's other districts are ranked without it."""
    rates = {f"06{n:05d}": f"{n * 10}.00" for n in range(1, 6)}  # 5 districts with students
    districts, rows = _with_rates(rates)
    empty = _with_rates({"0600099": "99.00"}, enrollment=0)
    insert(db_engine, districts + empty[0], rows + empty[1])
    run(db_engine, "deltas")
    flags = _flags(db_engine)
    assert flags["0600099"] is None
    assert flags == {"0600099": None} | ntile_flags({k: Decimal(v) for k, v in rates.items()})
    row = read_districts(db_engine)["0600099"]
    assert row["graduation_rate_total"] == Decimal("99.00")  # its value is kept and compared …
    assert row["graduation_vs_state"] is not None  # … but not ranked
    assert row["student_teacher_ratio"] is None and row["swd_pct"] is None


def test_deltas_alone_recomputes_the_averages_it_compares_with(db_engine):
    """`compute deltas` after the state averages were cleared: it runs latest, ratios and
    averages first, so the differences are against this run's averages, not NULLs."""
    rates = {"0600001": "80.00", "0600002": "90.00"}
    insert(db_engine, *_with_rates(rates))
    run(db_engine, "all")
    with db_engine.begin() as connection:
        connection.execute(tables.states.update().values(avg_graduation_rate=None))
    result = run(db_engine, "deltas")
    assert [f.name for f in result.families] == ["latest", "ratios", "averages", "deltas"]
    assert result.added == ["latest", "ratios", "averages"]
    assert read_states(db_engine)["06"]["avg_graduation_rate"] == Decimal("85.00")
    rows = read_districts(db_engine)
    assert rows["0600001"]["graduation_vs_state"] == Decimal("-5.00")
    assert rows["0600002"]["graduation_vs_national"] == Decimal("5.00")
