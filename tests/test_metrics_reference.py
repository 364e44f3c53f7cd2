"""`compute all` on seeded random datasets full of edge cases (denominators of pooled averages
missing in some states), checked column by column
against the plain-Python reference (tests/metrics_helpers.reference), on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from collections import Counter
from decimal import Decimal

import pytest

from tests.metrics_helpers import (
    district,
    extras,
    history,
    insert,
    mismatches,
    read_districts,
    read_states,
    reference,
    run,
)
from tests.metrics_helpers import METRIC_ROWS

STATES = {"06": 17, "48": 9, "72": 6, "11": 1, "02": 3}  # CA, TX, PR (territory), DC (one district), AK (< 4)
YEARS = list(range(2013, 2022))
PERCENT_POOL = [Decimal(v) for v in ("0", "12.34", "12.35", "50", "66.67", "99.99", "100", "33.33", "10.01", "10.00")]


def _cents(rnd: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rnd.randint(low, high)).scaleb(-2)


def _percent(rnd: random.Random):
    roll = rnd.random()
    if roll < 0.1:
        return None
    return rnd.choice(PERCENT_POOL) if roll < 0.5 else _cents(rnd, 0, 10000)


def _directory_values(rnd: random.Random) -> dict:
    enrollment = rnd.choice([None, 0, 1, 8, 40, 107, 333, 2000, 20000, rnd.randint(1, 60000)])
    teachers = rnd.choice(
        [None, Decimal(0), Decimal(40), Decimal("0.01"), Decimal("0.99"), Decimal(1), _cents(rnd, 1, 500000)]
    )
    spec_ed = rnd.choice([None, 0, 1, 2469, rnd.randint(0, 8000)])  # sometimes more than enrollment
    ell = rnd.choice([None, 0, 1, 3, rnd.randint(0, 9000)])
    return dict(enrollment=enrollment, teachers_fte=teachers, spec_ed_students=spec_ed, ell_students=ell,
                staff_total_fte=_cents(rnd, 0, 900000))


def _values(rnd: random.Random, source: str) -> dict:
    if source == "ccd_directory":
        return _directory_values(rnd)
    if source == "ccd_finance":
        pp = rnd.choice([None, Decimal(0), Decimal("0.01"), Decimal("1.00"), _cents(rnd, 100, 4000000)])
        return dict(expenditure_pp=pp, total_expenditure=_cents(rnd, 0, 10**12))
    if source == "saipe":
        return dict(poverty_pct=_percent(rnd))
    if source == "edfacts_grad":
        return dict(graduation_rate=_percent(rnd))
    if source == "edfacts_assess":
        return dict(math_proficiency=_percent(rnd), read_proficiency=_percent(rnd))
    return dict(chronic_absenteeism_rate=_percent(rnd))


def _count(rnd: random.Random, high: int):
    return rnd.choice([None, 0, 1, rnd.randint(1, high), rnd.randint(1, high)])


def _extras(rnd: random.Random, row: dict) -> dict | None:
    """The denominators beside a history row (None: no extras row, as written before 0005)."""
    source = row["source"]
    if source == "edfacts_grad":
        values = dict(cohort=_count(rnd, 3000))
    elif source == "edfacts_assess":
        values = dict(math_takers=_count(rnd, 20000), read_takers=_count(rnd, 20000))
    elif source == "crdc_absenteeism":
        enrolled = _count(rnd, 50000)
        values = dict(crdc_enrollment=enrolled, absent_students=rnd.randint(0, enrolled) if enrolled else rnd.choice([None, 0]))
    elif source == "ccd_finance":
        values = dict(pupils=_count(rnd, 60000), current_spending=rnd.choice([None, _cents(rnd, 0, 10**11)]))
    elif source == "saipe":
        children = _count(rnd, 90000)
        values = dict(children=children, poor_children=rnd.randint(0, children) if children else rnd.choice([None, 0]))
    else:
        return None
    return extras(row["leaid"], row["year"], source, **values)


def random_dataset(seed: int) -> tuple[list[dict], list[dict], list[dict]]:
    rnd = random.Random(seed)
    districts, rows, extra_rows = [], [], []
    sources = ("ccd_directory", "ccd_finance", "saipe", "edfacts_grad", "edfacts_assess", "crdc_absenteeism")
    for fips, count in STATES.items():
        members = [f"{fips}{n:05d}" for n in rnd.sample(range(1, 99999), count)]
        districts += [district(leaid) for leaid in members]
        for source in sources:
            years = sorted(rnd.sample(YEARS, rnd.randint(0, 5)))  # gaps, single years, none
            for year in years:
                for leaid in members:
                    if rnd.random() < 0.85:
                        rows.append(history(leaid, year, source, **_values(rnd, source)))
                        # denominators: always in some states, never in others (a history
                        # written before revision 0005), mostly in the rest
                        chance = {"06": 1.0, "02": 0.0}.get(fips, 0.93)
                        if rnd.random() < chance and (x := _extras(rnd, rows[-1])) is not None:
                            extra_rows.append(x)
        if rnd.random() < 0.6:  # a newer directory year with enrollment and teachers only (CCD 2023-24)
            for leaid in members:
                if rnd.random() < 0.9:
                    values = _directory_values(rnd) | {"spec_ed_students": None, "ell_students": None}
                    rows.append(history(leaid, 2023, "ccd_directory", **values))
    rnd.shuffle(districts)
    rnd.shuffle(rows)
    return districts, rows, extra_rows




@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_compute_all_matches_reference(db_engine, seed):
    districts, rows, extra_rows = random_dataset(seed)
    insert(db_engine, districts, rows, extra_rows)
    result = run(db_engine, "all")

    expected_districts, expected_states, expected_nulled, expected_no_base, fell_back = reference(
        districts, rows, extra_rows
    )
    got_districts, got_states = read_districts(db_engine), read_states(db_engine)
    columns = sorted({c for e in expected_districts.values() for c in e})
    problems = mismatches(got_districts, expected_districts, columns)
    problems += mismatches(got_states, expected_states, sorted({c for e in expected_states.values() for c in e}))
    assert not problems, "\n".join(problems[:40])

    nulled, no_base, by_enrollment = Counter(), Counter(), Counter()
    for family in result.families:
        nulled.update(family.outcome.nulled)
        no_base.update(family.outcome.no_base_year)
        by_enrollment.update(family.outcome.enrollment_weighted)
    assert nulled == +expected_nulled
    assert no_base == +expected_no_base
    assert by_enrollment == +fell_back
    assert fell_back and set(fell_back) <= {"avg_poverty_rate", *(avg for _, _, avg, how in METRIC_ROWS if how == "own")}
    assert sum(f.outcome.districts_updated for f in result.families) > 0

    # Re-running with unchanged data changes nothing, not even updated_at.
    again = run(db_engine, "all")
    assert [f.outcome.districts_updated + f.outcome.states_updated for f in again.families] == [0] * len(result.families)
    assert read_districts(db_engine) == got_districts
    assert read_states(db_engine) == got_states
