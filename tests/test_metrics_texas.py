"""Real data: Texas TEA TAPR district rows (2019-20 … 2021-22) as ccd_directory history.

Texas's averages must equal a plain-Python computation over the same rows, and be within
0.3 points of TEA's published state figures (English learners 20.3 / 20.7 / 21.7 %, special
education 10.5 / 11.1 / 11.6 %): only districts in the 2013 CCD crosswalk are loaded, so a
few newer charters are missing. See ../shared/data/real/README.md.
"""

from __future__ import annotations

import csv
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from tests.metrics_helpers import directory, district, insert, read_districts, read_states, run

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real" / "texas-tapr"
PUBLISHED = {2019: (Decimal("20.3"), Decimal("10.5")), 2020: (Decimal("20.7"), Decimal("11.1")),
             2021: (Decimal("21.7"), Decimal("11.6"))}  # (English learners %, special education %)

pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason="../shared/data/real is not available")


def _q(value: Decimal, places: str = "0.01") -> Decimal:
    return value.quantize(Decimal(places), rounding=ROUND_HALF_UP)


def _number(text: str):
    text = text.strip()
    return None if text in ("", ".") else Decimal(text)


def load_rows() -> dict[int, list[dict]]:
    with open(REAL / "tx_ccd_2013_districts_crosswalk.csv", encoding="latin-1", newline="") as f:
        leaid_of = {row["STID"]: row["LEAID"].zfill(7) for row in csv.DictReader(f)}
    by_year: dict[int, list[dict]] = {year: [] for year in PUBLISHED}
    with open(REAL / "tx_tapr_districts_2012-2021.csv", encoding="latin-1", newline="") as f:
        for row in csv.DictReader(f):
            year = int(row["year"])
            if year in by_year and row["tea_district"] in leaid_of:
                teachers, staff = _number(row["DPSTTOFC"]), _number(row["DPSATOFC"])
                by_year[year].append(
                    dict(
                        leaid=leaid_of[row["tea_district"]],
                        enrollment=int(row["DPETALLC"]),
                        spec_ed=int(row["DPETSPEC"]),
                        ell=int(row["DPETLEPC"]),
                        teachers=_q(teachers) if teachers is not None else None,
                        staff=_q(staff) if staff is not None else None,
                    )
                )
    return by_year


def test_published_figures_are_tea_state_totals():
    with open(REAL / "tx_tapr_state_totals_2012-2021.csv", encoding="latin-1", newline="") as f:
        totals = {int(row["year"]): row for row in csv.DictReader(f)}
    for year, (ell, swd) in PUBLISHED.items():
        row = totals[year]
        enrollment = Decimal(row["DPETALLC"])
        assert _q(100 * Decimal(row["DPETLEPC"]) / enrollment, "0.1") == ell
        assert _q(100 * Decimal(row["DPETSPEC"]) / enrollment, "0.1") == swd


def test_texas_averages_match_the_rows_and_the_published_figures(db_engine):
    by_year = load_rows()
    leaids = sorted({row["leaid"] for rows in by_year.values() for row in rows})
    assert len(leaids) > 1100
    insert(db_engine, [district(leaid) for leaid in leaids])

    for year, rows in by_year.items():  # add one school year at a time, recompute each time
        insert(db_engine, rows=[
            directory(r["leaid"], year, r["enrollment"], r["teachers"], r["spec_ed"], r["ell"], r["staff"])
            for r in rows
        ])
        run(db_engine, "all")
        tx, us = read_states(db_engine)["48"], read_states(db_engine)["00"]
        enrolled = [r for r in rows if r["enrollment"] > 0]
        total = sum(r["enrollment"] for r in enrolled)
        ell = _q(Decimal(100) * sum(r["ell"] for r in enrolled) / total)
        swd = _q(Decimal(100) * sum(r["spec_ed"] for r in enrolled) / total)
        staffed = [r for r in enrolled if r["teachers"] is not None and r["teachers"] > 0]
        ratio = _q(Decimal(sum(r["enrollment"] for r in staffed)) / sum(r["teachers"] for r in staffed))

        assert (tx["avg_ell_pct"], tx["avg_swd_pct"]) == (ell, swd), year
        assert tx["avg_student_teacher_ratio"] == ratio
        assert (tx["total_enrollment"], tx["total_districts"]) == (total, len(leaids))
        assert us["avg_ell_pct"] == ell  # Texas is the whole nation here
        published_ell, published_swd = PUBLISHED[year]
        assert abs(ell - published_ell) <= Decimal("0.3"), (year, ell, published_ell)
        assert abs(swd - published_swd) <= Decimal("0.3"), (year, swd, published_swd)

    # Trends of 2021-22 against 2019-20 (the year closest to 2021 − 3 = 2018).
    first = {r["leaid"]: r for r in by_year[2019]}
    districts = read_districts(db_engine)
    checked = 0
    for r in by_year[2021]:
        base = first.get(r["leaid"])
        got = districts[r["leaid"]]["enrollment_trend_3yr"]
        if base is None or base["enrollment"] == 0:
            assert got is None
            continue
        assert got == _q(Decimal(100) * (r["enrollment"] - base["enrollment"]) / base["enrollment"]), r["leaid"]
        checked += 1
    assert checked > 1000
