"""Real data: EDFacts four-year adjusted cohort graduation rates, SY2012-13 … 2014-15.

NCES published national rates of 81.4, 82.3 and 83.2 % — +0.9 points a year. The EDFacts
school files in ../shared/data/real/edfacts-acgr/ aggregated to districts (as the Urban API's
district rows are: cohort = Σ the schools' cohorts, rate = the cohort-weighted mean of the
schools' range midpoints) and pooled by cohort reproduce those changes within a few tenths
(the level runs ~2 points high: schools only, midpoints; see that folder's README). The US
row must also equal the cohort-pooled mean computed here in plain Python, one school year
added at a time (the as-of year of each state: its latest year with a rate, so Louisiana,
missing from 2014-15, keeps its 2013-14 districts).
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from districtbench.db.states import BY_FIPS
from tests.metrics_helpers import district, extras, history, insert, read_states, run

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real" / "edfacts-acgr"
YEARS = (2012, 2013, 2014)  # the Urban API's year: the fall of the school year (2012 = 2012-13)
PUBLISHED = {2012: Decimal("81.4"), 2013: Decimal("82.3"), 2014: Decimal("83.2")}  # NCES ACGR, %
FIFTY_AND_DC = {f"{n:02d}" for n in range(1, 57)} - {"03", "07", "14", "43", "52"}

pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason="../shared/data/real is not available")


def _bounds(text: str) -> tuple[int, int] | None:
    """`82` → (82, 82), `90-94` → (90, 94), `GE95` → (95, 100), `LT50`/`LE5` → (0, n); PS, `.` → None."""
    text = text.strip()
    if text.isdigit():
        return int(text), int(text)
    if m := re.fullmatch(r"(\d+)-(\d+)", text):
        return int(m[1]), int(m[2])
    if m := re.fullmatch(r"GE(\d+)", text):
        return int(m[1]), 100
    if m := re.fullmatch(r"L[TE](\d+)", text):
        return 0, int(m[1])
    return None


def load_districts(year: int) -> dict[str, tuple[str, int, Decimal | None]]:
    """leaid → (state fips, cohort, rate at 2 decimals or None) of one school year's file."""
    tag = f"{year % 100:02d}{(year + 1) % 100:02d}"
    cohort: dict[str, int] = defaultdict(int)
    weighted: dict[str, Fraction] = defaultdict(Fraction)
    weights: dict[str, int] = defaultdict(int)
    state: dict[str, str] = {}
    with open(REAL / f"edfacts_acgr_school_sy{year}-{(year + 1) % 100:02d}.csv", encoding="latin-1", newline="") as f:
        for school in csv.DictReader(f):
            size = school[f"ALL_COHORT_{tag}"].strip()
            if not size.isdigit():
                continue
            leaid = school["LEAID"].zfill(7)
            state[leaid] = school["FIPST"].zfill(2)
            cohort[leaid] += int(size)
            bounds = _bounds(school[f"ALL_RATE_{tag}"])
            if bounds and int(size) > 0:
                weighted[leaid] += int(size) * Fraction(sum(bounds), 2)
                weights[leaid] += int(size)
    out = {}
    for leaid, total in cohort.items():
        rate = None
        if weights[leaid]:
            exact = weighted[leaid] / weights[leaid]
            rate = (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(Decimal("0.01"), ROUND_HALF_UP)
        out[leaid] = (state[leaid], total, rate)
    return out


def pooled(rows: list[tuple[int, Decimal]]) -> Decimal:
    exact = sum(Fraction(rate) * cohort for cohort, rate in rows) / sum(cohort for cohort, _ in rows)
    return (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def test_national_graduation_rate_changes_match_the_published_ones(db_engine):
    by_year = {year: load_districts(year) for year in YEARS}
    leaids = {leaid: values[0] for year in YEARS for leaid, values in by_year[year].items()}
    assert len(leaids) > 12000
    insert(db_engine, [district(leaid, fips) for leaid, fips in sorted(leaids.items()) if fips in BY_FIPS])

    national: dict[int, Decimal] = {}
    latest_of_state: dict[str, int] = {}
    for year in YEARS:
        rows = {leaid: v for leaid, v in by_year[year].items() if v[0] in BY_FIPS}
        insert(
            db_engine,
            rows=[history(leaid, year, "edfacts_grad", graduation_rate=rate) for leaid, (_, _, rate) in rows.items()],
            extra_rows=[extras(leaid, year, "edfacts_grad", cohort=cohort) for leaid, (_, cohort, _) in rows.items()],
        )
        result = run(db_engine, "averages")
        assert result["averages"].outcome.enrollment_weighted == {}
        states = read_states(db_engine)
        for fips, _, rate in rows.values():
            if rate is not None:
                latest_of_state[fips] = year
        expected = [  # each state's districts of its own latest year
            (cohort, rate)
            for fips, state_year in latest_of_state.items() if fips in FIFTY_AND_DC
            for f, cohort, rate in by_year[state_year].values()
            if f == fips and rate is not None and cohort > 0
        ]
        national[year] = states["00"]["avg_graduation_rate"]
        assert national[year] == pooled(expected), year
        assert abs(national[year] - PUBLISHED[year] - 2) < 1, (year, national[year])  # ~2 points high (README)
        texas = [(c, r) for f, c, r in rows.values() if f == "48" and r is not None and c > 0]
        assert states["48"]["avg_graduation_rate"] == pooled(texas)

    for before, after in zip(YEARS, YEARS[1:]):
        change, published = national[after] - national[before], PUBLISHED[after] - PUBLISHED[before]
        assert abs(change - published) <= Decimal("0.3"), (before, after, change, published)
