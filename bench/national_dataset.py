"""A national dataset for the fake API: all seven sources, the three latest years of each.

Built in memory from the shipped fake dataset (districtbench/fakeapi/data), deterministically:
- directory 2022–2024: the NCES CCD 2023-24 rows (17,500 districts of the 50 states and DC,
  67 fields each), enrollment varied by year;
- finance 2018–2020: one row per district with ALL 163 fields of the real varlist (the ones
  the source reads synthetic but plausible, the others constant);
- SAIPE 2022–2024: the real SAIPE rows (13,300 districts), with the varlist's 10 fields;
- grad-rates 2017–2019: the real EDFacts rows of 2012–2014 (≈9 subgroup rows per district);
- assessments grade-99 2017, 2018, 2020: one synthetic row per district, the varlist's 23 fields;
- CRDC chronic absenteeism and enrollment 2017, 2020, 2021: one school per ~520 pupils of each
  district (≈95,000 schools), each with every race × sex cell and their totals — 24 rows a
  school in 2017, 32 from 2020 (≈2.3 and 3.0 million rows a year per endpoint).

The CRDC tables are computed, not stored (`GridTable`): a row is (school, cell), its values
derived from the school's totals and fixed cell shares, so 17 million rows cost a few MB.
GridTable.select answers a query with exactly the rows a stored table would.
"""

from __future__ import annotations

import itertools
import random
from array import array
from collections.abc import Mapping, Sequence
from typing import Any, Callable

from districtbench.db.states import STATES_AND_DC_FIPS
from districtbench.fakeapi import Dataset, load_dataset
from districtbench.fakeapi import dataset as ds
from districtbench.fakeapi.catalog import shipped_catalog
from districtbench.fakeapi.table import Table, as_text

YEARS = {
    ds.DIRECTORY: (2022, 2023, 2024),
    ds.FINANCE: (2018, 2019, 2020),
    ds.SAIPE: (2022, 2023, 2024),
    ds.GRAD_RATES: (2017, 2018, 2019),
    ds.ASSESSMENTS: (2017, 2018, 2020),
    ds.CRDC_ABSENTEEISM: (2017, 2020, 2021),
    ds.CRDC_ENROLLMENT: (2017, 2020, 2021),
}
RACES = (1, 2, 3, 4, 5, 6, 7, 99)
RACE_SHARES = (0.46, 0.15, 0.28, 0.055, 0.01, 0.005, 0.04, 1.0)
PUPILS_PER_SCHOOL = 520


class Computed(Sequence):
    """A column whose value at row i is `value(i)`."""

    def __init__(self, size: int, value: Callable[[int], Any]):
        self.size, self.value = size, value

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self.value(i) for i in range(*index.indices(self.size))]
        return self.value(index)


class GridTable(Table):
    """School rows × subgroup cells: row i is school i // cells, cell i % cells."""

    def __init__(self, names, columns, schools: Mapping[str, Sequence[Any]], cells: Sequence[dict[str, Any]]):
        self.schools, self.cells = schools, cells
        super().__init__(names, columns, len(next(iter(schools.values()))) * len(cells))
        self._school_index: dict[tuple, list[int]] = {}

    def select(self, filters):
        active = {name: set(values) for name, values in filters.items() if name in self.columns}
        school_filters = {n: v for n, v in active.items() if n in self.schools}
        cell_filters = {n: v for n, v in active.items() if n not in self.schools}
        offsets = [c for c, cell in enumerate(self.cells)
                   if all(as_text(cell.get(n, _constant(self, n))) in v for n, v in cell_filters.items())]
        names = tuple(sorted(school_filters))
        index = self._school_index.get(names)
        if index is None:  # schools by the texts of these fields, built once
            index = self._school_index[names] = {}
            columns = [self.schools[n] for n in names]
            for school in range(len(columns[0]) if columns else len(next(iter(self.schools.values())))):
                index.setdefault(tuple(as_text(column[school]) for column in columns), []).append(school)
        schools = sorted(s for key in itertools.product(*(sorted(school_filters[n]) for n in names))
                         for s in index.get(key, ()))
        k = len(self.cells)
        found = array("i")
        for school in schools:
            found.extend(school * k + offset for offset in offsets)
        return found


def _constant(table: GridTable, name: str) -> Any:
    return table.columns[name][0]


def crdc_tables(districts: list[dict], year: int) -> tuple[GridTable, GridTable]:
    """(chronic absenteeism, enrollment) of one year."""
    rng = random.Random(f"national-crdc-{year}")
    ncessch, leaid, fips, pupils, absent = [], [], [], [], []
    for district in districts:
        enrollment = district.get("enrollment")
        if not isinstance(enrollment, int) or enrollment <= 0:
            continue
        count = max(1, round(enrollment / PUPILS_PER_SCHOOL))
        for number in range(1, count + 1):
            size = max(1, round(enrollment / count * rng.uniform(0.8, 1.2)))
            ncessch.append(f"{district['leaid']}{number:05d}")
            leaid.append(district["leaid"])
            fips.append(district["fips"])
            pupils.append(size)
            absent.append(-3 if rng.random() < 0.02 else round(size * rng.uniform(0.08, 0.3)))
    sexes = ((1, 0.51), (2, 0.489), (3, 0.001), (99, 1.0)) if year >= 2020 else ((1, 0.51), (2, 0.49), (99, 1.0))
    cells = [{"race": race, "sex": sex, "share": race_share * sex_share}
             for race, race_share in zip(RACES, RACE_SHARES) for sex, sex_share in sexes]
    k = len(cells)
    schools = {"ncessch": ncessch, "crdc_id": ncessch, "leaid": leaid, "fips": fips}
    size = len(ncessch) * k
    common = {
        "crdc_id": Computed(size, lambda i: ncessch[i // k]), "year": ds._Constant(year, size),
        "ncessch": Computed(size, lambda i: ncessch[i // k]), "leaid": Computed(size, lambda i: leaid[i // k]),
        "fips": Computed(size, lambda i: fips[i // k]), "sex": Computed(size, lambda i: cells[i % k]["sex"]),
        "race": Computed(size, lambda i: cells[i % k]["race"]), "disability": ds._Constant(99, size),
        "lep": ds._Constant(99, size),
    }
    absent_columns = common | {
        "students_chronically_absent": Computed(
            size, lambda i: absent[i // k] if absent[i // k] < 0 else round(absent[i // k] * cells[i % k]["share"])),
        "homeless": ds._Constant(99, size),
    }
    enrolled_columns = common | {
        "enrollment_crdc": Computed(size, lambda i: round(pupils[i // k] * cells[i % k]["share"])),
        "psenrollment_crdc": ds._Constant(-2, size),
    }
    order = ("crdc_id", "year", "ncessch", "leaid", "fips", "sex", "race", "disability", "lep")
    absent_table = GridTable([*order, "students_chronically_absent", "homeless"], absent_columns, schools, cells)
    enrolled_table = GridTable([*order, "enrollment_crdc", "psenrollment_crdc"], enrolled_columns, schools, cells)
    return absent_table, enrolled_table


def _table(rows: list[dict], names: Sequence[str]) -> Table:
    """A stored table with exactly `names` (in that order; a name no row has: constant None)."""
    size = len(rows)
    columns: dict[str, Sequence[Any]] = {}
    for name in names:
        if any(name in row for row in rows[:50]):
            columns[name] = [row.get(name) for row in rows]
        else:
            columns[name] = ds._Constant(None, size)
    return Table(list(names), columns, size)


def varlist_names(endpoint_id: str) -> list[str]:
    return [row["variable"] for row in shipped_catalog().varlist if row["endpoint_id"] == endpoint_id]


def national_dataset() -> Dataset:
    shipped = load_dataset()
    states = {int(fips) for fips in STATES_AND_DC_FIPS}
    directory = [row for row in shipped.records(ds.DIRECTORY, 2023) if row.get("fips") in states]
    tables: dict[tuple[str, int], Table] = {}
    for year in YEARS[ds.DIRECTORY]:
        rows = [dict(row, year=year, enrollment=row["enrollment"] + (year - 2023) * 3
                     if isinstance(row.get("enrollment"), int) and row["enrollment"] > 100 else row.get("enrollment"))
                for row in directory]
        tables[(ds.DIRECTORY, year)] = _table(rows, list(directory[0]))
    finance_names = varlist_names("29")
    for year in YEARS[ds.FINANCE]:
        rng = random.Random(f"national-finance-{year}")
        rows = []
        for district in directory:
            pupils = district.get("enrollment") if isinstance(district.get("enrollment"), int) else 0
            current = round(max(pupils, 0) * rng.uniform(9_000, 16_000))
            row = dict.fromkeys(finance_names, 0) | {
                "year": year, "leaid": district["leaid"], "fips": district["fips"], "censusid": None,
                "enrollment_fall_responsible": pupils, "exp_current_elsec_total": current,
                "exp_total": round(current * 1.15), "exp_sped_current": round(current * 0.12),
                "rev_total": round(current * 1.1), "rev_fed_total": round(current * 0.1),
                "rev_state_total": round(current * 0.5), "rev_local_total": round(current * 0.5),
            }
            rows.append(row)
        tables[(ds.FINANCE, year)] = _table(rows, finance_names)
    saipe = shipped.records(ds.SAIPE, 2018)
    for year in YEARS[ds.SAIPE]:
        rows = [dict(row, year=year, district_id=row["leaid"], district_name=row["lea_name"]) for row in saipe
                if row["fips"] in states]
        tables[(ds.SAIPE, year)] = _table(rows, varlist_names("30"))
    for source_year, year in zip((2012, 2013, 2014), YEARS[ds.GRAD_RATES]):
        rows = [dict(row, year=year) for row in shipped.records(ds.GRAD_RATES, source_year) if row["fips"] in states]
        tables[(ds.GRAD_RATES, year)] = _table(rows, varlist_names("101"))
    assessment_names = varlist_names("80")
    for year in YEARS[ds.ASSESSMENTS]:
        rng = random.Random(f"national-assessments-{year}")
        rows = []
        for district in directory:
            math, read = round(rng.uniform(10, 80), 1), round(rng.uniform(15, 85), 1)
            rows.append(dict.fromkeys(assessment_names, 99) | {
                "leaid": district["leaid"], "leaid_num": int(district["leaid"]), "year": year,
                "lea_name": district["lea_name"], "fips": district["fips"],
                "read_test_num_valid": 300, "read_test_pct_prof_midpt": read, "read_test_pct_prof_high": read,
                "read_test_pct_prof_low": read, "math_test_num_valid": 300, "math_test_pct_prof_midpt": math,
                "math_test_pct_prof_high": math, "math_test_pct_prof_low": math})
        tables[(ds.ASSESSMENTS, year)] = _table(rows, assessment_names)
    for year in YEARS[ds.CRDC_ENROLLMENT]:
        absent, enrolled = crdc_tables(directory, year)
        tables[(ds.CRDC_ABSENTEEISM, year)] = absent
        tables[(ds.CRDC_ENROLLMENT, year)] = enrolled
    return Dataset(tables, catalog=shipped_catalog())
