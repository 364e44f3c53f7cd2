"""A synthetic national-scale history for benchmarking `compute` (NOT real data).

About 18,000 districts in the 50 states and DC, 5 years of ccd_directory, ccd_finance,
saipe, edfacts_grad and edfacts_assess rows and 3 CRDC years: ~460,000 history rows.
Values are drawn from plausible ranges (seeded, so every run generates the same data) and
streamed as tuples, so memory stays flat. Bulk-loaded with COPY (PostgreSQL) or one
executemany in one transaction (SQLite).
"""

from __future__ import annotations

import csv
import io
import math
import random
from datetime import datetime
from typing import Iterator

from districtbench.db.states import BY_FIPS, STATES_AND_DC_FIPS

CREATED = datetime(2024, 1, 1)
YEARS = {
    "ccd_directory": (2017, 2018, 2019, 2020, 2021),
    "ccd_finance": (2016, 2017, 2018, 2019, 2020),
    "saipe": (2017, 2018, 2019, 2020, 2021),
    "edfacts_grad": (2016, 2017, 2018, 2019, 2020),
    "edfacts_assess": (2015, 2016, 2017, 2018, 2019),
    "crdc_absenteeism": (2015, 2017, 2020),
}
COVERAGE = {  # share of districts with a row in a year
    "ccd_directory": 0.995,
    "ccd_finance": 0.98,
    "saipe": 0.97,
    "edfacts_grad": 0.70,
    "edfacts_assess": 0.90,
    "crdc_absenteeism": 0.95,
}
DISTRICT_COLUMNS = ("leaid", "name", "state_fips", "state_abbrev", "urban_centric_locale", "created_at", "updated_at")
# Urban-centric locales in about the real shares (CCD: ~12 % city, 22 % suburb, 18 % town, 48 % rural).
LOCALE_SHARES = ((11, 4), (12, 4), (13, 4), (21, 16), (22, 3), (23, 3), (31, 2), (32, 7), (33, 9), (41, 16), (42, 20),
                 (43, 12))
HISTORY_COLUMNS = (
    "leaid", "year", "source", "enrollment", "teachers_fte", "staff_total_fte", "spec_ed_students",
    "ell_students", "total_expenditure", "expenditure_pp", "poverty_pct", "graduation_rate",
    "math_proficiency", "read_proficiency", "chronic_absenteeism_rate", "created_at",
)


def district_ids(count: int, seed: int = 7) -> list[tuple[str, str]]:
    """(leaid, state_fips), states weighted like real district counts (roughly)."""
    rnd = random.Random(seed)
    weights = [1 + (int(fips) * 37 % 11) ** 2 for fips in STATES_AND_DC_FIPS]
    states = rnd.choices(STATES_AND_DC_FIPS, weights=weights, k=count)
    seen: dict[str, int] = {}
    ids = []
    for fips in states:
        seen[fips] = seen.get(fips, 0) + 1
        ids.append((f"{fips}{seen[fips]:05d}", fips))
    return ids


def districts(ids: list[tuple[str, str]], seed: int = 5) -> Iterator[tuple]:
    rnd = random.Random(seed)
    codes, weights = zip(*LOCALE_SHARES)
    for leaid, fips in ids:
        locale = rnd.choices(codes, weights)[0]
        yield (leaid, f"Synthetic district {leaid}", fips, BY_FIPS[fips][0], locale, CREATED, CREATED)


def _cents(value: float) -> str:
    return f"{value:.2f}"


def history(ids: list[tuple[str, str]], seed: int = 11) -> Iterator[tuple]:
    rnd = random.Random(seed)
    for leaid, _fips in ids:
        size = math.exp(rnd.gauss(7.3, 1.4))  # median ~1,500 students
        ratio = rnd.uniform(9, 22)
        swd, ell = rnd.uniform(0.06, 0.2), rnd.uniform(0.0, 0.35)
        spend = rnd.uniform(9000, 24000)
        base = {"grad": rnd.uniform(60, 98), "math": rnd.uniform(15, 75), "read": rnd.uniform(20, 80),
                "abs": rnd.uniform(5, 35), "pov": rnd.uniform(4, 40)}
        for source, years in YEARS.items():
            for step, year in enumerate(years):
                if rnd.random() > COVERAGE[source]:
                    continue
                drift = 1 + 0.02 * step + rnd.uniform(-0.03, 0.03)
                row = dict.fromkeys(HISTORY_COLUMNS)
                row.update(leaid=leaid, year=year, source=source, created_at=CREATED)
                enrollment = max(0, int(size * drift))
                if source == "ccd_directory":
                    teachers = enrollment / ratio * rnd.uniform(0.95, 1.05)
                    row.update(
                        enrollment=enrollment,
                        teachers_fte=_cents(teachers),
                        staff_total_fte=_cents(teachers * 2.1),
                        spec_ed_students=int(enrollment * swd * drift),
                        ell_students=int(enrollment * ell * drift) if rnd.random() > 0.02 else None,
                    )
                elif source == "ccd_finance":
                    row.update(expenditure_pp=_cents(spend * drift), total_expenditure=_cents(spend * drift * enrollment))
                elif source == "saipe":
                    row.update(poverty_pct=_cents(min(100, base["pov"] * drift)))
                elif source == "edfacts_grad":
                    row.update(graduation_rate=_cents(min(100, base["grad"] * drift)))
                elif source == "edfacts_assess":
                    row.update(math_proficiency=_cents(min(100, base["math"] * drift)),
                               read_proficiency=_cents(min(100, base["read"] * drift)))
                else:
                    row.update(chronic_absenteeism_rate=_cents(min(100, base["abs"] * drift)))
                yield tuple(row[c] for c in HISTORY_COLUMNS)


EXTRAS_COLUMNS = ("leaid", "year", "source", "cohort", "math_takers", "read_takers", "absent_students",
                  "crdc_enrollment", "current_spending", "pupils", "children", "poor_children")


def extras(ids: list[tuple[str, str]], seed: int = 13) -> Iterator[tuple]:
    """The denominators beside each non-directory history row (districtbench_history_extras),
    consistent with the row's value where there is one (absent = rate × enrolled, …)."""
    rnd = random.Random(seed)
    position = {name: i for i, name in enumerate(HISTORY_COLUMNS)}
    for row in history(ids):
        source = row[position["source"]]
        if source == "ccd_directory":
            continue
        out = dict.fromkeys(EXTRAS_COLUMNS)
        out.update(leaid=row[position["leaid"]], year=row[position["year"]], source=source)
        pupils = int(math.exp(rnd.gauss(7.3, 1.4)))
        if source == "edfacts_grad":
            out["cohort"] = max(1, pupils // 13)
        elif source == "edfacts_assess":
            out["math_takers"] = out["read_takers"] = max(1, pupils * 7 // 13)
        elif source == "crdc_absenteeism":
            rate = float(row[position["chronic_absenteeism_rate"]])
            out.update(crdc_enrollment=pupils, absent_students=int(pupils * rate / 100))
        elif source == "ccd_finance":
            out.update(pupils=pupils, current_spending=_cents(float(row[position["expenditure_pp"]]) * pupils))
        else:
            rate = float(row[position["poverty_pct"]])
            children = int(pupils * 1.1)
            out.update(children=children, poor_children=int(children * rate / 100))
        yield tuple(out[c] for c in EXTRAS_COLUMNS)


def copy_rows(dbapi_connection, table: str, columns: tuple[str, ...], rows: Iterator[tuple], chunk: int = 50_000) -> int:
    """PostgreSQL COPY … FROM STDIN (CSV), in chunks."""
    cursor = dbapi_connection.cursor()
    total = 0
    while True:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        n = 0
        for row in rows:
            writer.writerow(["" if v is None else v for v in row])
            n += 1
            if n == chunk:
                break
        if not n:
            break
        buffer.seek(0)
        cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)", buffer)
        total += n
    cursor.close()
    return total


def insert_rows(dbapi_connection, table: str, columns: tuple[str, ...], rows: Iterator[tuple]) -> int:
    """SQLite: one executemany (values as text for decimals, like SQLAlchemy would bind floats)."""
    placeholders = ", ".join("?" for _ in columns)
    numeric = {"teachers_fte", "staff_total_fte", "total_expenditure", "expenditure_pp", "poverty_pct",
               "graduation_rate", "math_proficiency", "read_proficiency", "chronic_absenteeism_rate",
               "current_spending"}
    index = [i for i, c in enumerate(columns) if c in numeric]
    count = 0

    def converted():
        nonlocal count
        for row in rows:
            row = list(row)
            for i in index:
                if row[i] is not None:
                    row[i] = float(row[i])
            for i, value in enumerate(row):
                if isinstance(value, datetime):
                    row[i] = value.isoformat(sep=" ")
            count += 1
            yield row

    dbapi_connection.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", converted())
    return count
