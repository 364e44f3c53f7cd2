"""SYNTHETIC finance and CRDC records for the fake Urban API (there is no real file for them).

Every value here is generated (fixed seeds per district, so the output is stable), with
magnitudes scaled from each district's REAL enrollment in the directory rows. The leaids and
fips are real; the school ids (`ncessch` = leaid + `9` + 4 digits) and all money and counts are
made up. Used only by scripts/build_fake_dataset.py.
"""

from __future__ import annotations

import random
from collections import defaultdict

FINANCE_YEARS = (2016, 2017, 2018, 2019, 2020)
CRDC_YEARS = (2015, 2017, 2020)
# Rough current spending per pupil in 2018 (dollars), by state fips.
PER_PUPIL_2018 = {1: 9_700, 2: 18_000, 4: 8_400, 5: 10_100, 48: 9_600}
MISSING, NOT_APPLICABLE, SUPPRESSED = -1, -2, -3


def _enrollment(row: dict, year: int, rng: random.Random, growth: float) -> int | None:
    value = row.get("enrollment")
    if not isinstance(value, int) or value <= 0:
        return None
    return max(1, round(value * (1 + growth) ** (year - row["year"])))


def _district_years(base: list[dict], texas: dict[int, list[dict]], years) -> list[tuple]:
    """(year, directory row) pairs: AL/AK/AZ/AR scaled from 2018, Texas from that year."""
    pairs = [(year, row) for year in years for row in base]
    pairs += [(year, row) for year in years for row in texas.get(year, [])]
    return pairs


def build_finance(base: list[dict], texas: dict[int, list[dict]]) -> dict[int, list[dict]]:
    listings: dict[int, list[dict]] = defaultdict(list)
    for year, row in _district_years(base, texas, FINANCE_YEARS):
        rng = random.Random(f"finance-{row['leaid']}")
        growth, level = rng.gauss(0, 0.01), rng.lognormvariate(0, 0.15)
        fed, state = rng.uniform(0.07, 0.15), rng.uniform(0.35, 0.55)
        capital, sped = rng.uniform(1.08, 1.25), rng.uniform(0.08, 0.15)
        enrollment = _enrollment(row, year, rng, growth)
        if enrollment is None:
            continue
        yearly = random.Random(f"finance-{row['leaid']}-{year}")
        per_pupil = PER_PUPIL_2018[row["fips"]] * level * 1.03 ** (year - 2018)
        per_pupil *= yearly.uniform(0.98, 1.02)
        current = round(enrollment * per_pupil)
        total_exp = round(current * capital)
        revenue = round(total_exp * yearly.uniform(0.96, 1.04))
        rev_fed, rev_state = round(revenue * fed), round(revenue * state)
        record = {
            "year": year, "leaid": row["leaid"], "fips": row["fips"], "censusid": None,
            "enrollment_fall_responsible": round(enrollment * yearly.uniform(0.97, 1.02)),
            "rev_total": revenue, "rev_fed_total": rev_fed, "rev_state_total": rev_state,
            "rev_local_total": revenue - rev_fed - rev_state,
            "exp_total": total_exp, "exp_current_elsec_total": current,
            "exp_current_instruction_total": round(current * yearly.uniform(0.55, 0.62)),
            "exp_sped_current": round(current * sped),
        }
        roll = yearly.random()  # a few sentinels, as the real endpoint has
        if roll < 0.01:
            record["exp_sped_current"] = MISSING
        elif roll < 0.015:
            record["enrollment_fall_responsible"] = 0
        elif roll < 0.02:
            record["rev_fed_total"] = NOT_APPLICABLE
        listings[year].append(record)
    return dict(listings)


def _split(total: int, shares: list[float]) -> list[int]:
    """Integers proportional to shares that add up to total."""
    parts = [int(total * s / sum(shares)) for s in shares]
    parts[0] += total - sum(parts)
    return parts


RACES = (1, 2, 3, 4, 5, 6, 7)  # Urban's codes: White … Two or more races
SEXES = {2015: (1, 2), 2017: (1, 2), 2020: (1, 2, 3)}  # 3: gender not identified, from 2020


def _school_rows(school: dict, enrollment: int, absent: int, year: int, rng: random.Random):
    """Yield (enrollment row, absenteeism row) pairs of one school in the real multiplicity:
    every race × sex cell with the totals (99) of each — 8 × 3 = 24 rows, 8 × 4 = 32 from
    2020 — and disability = lep = 99 (the race/sex endpoints' all-students value; the
    absenteeism endpoint also has `homeless`, 99)."""
    race_shares = [rng.uniform(0.2, 1.0) ** 3 for _ in RACES]  # a few groups dominate
    race_shares = [share / sum(race_shares) for share in race_shares]
    sexes = SEXES[year]
    sex_shares = [rng.uniform(0.47, 0.53)] + ([0.004] if len(sexes) == 3 else [])
    sex_shares.insert(1, 1 - sum(sex_shares))
    for race, race_share in [*zip(RACES, race_shares), (99, 1.0)]:
        for sex, sex_share in [*zip(sexes, sex_shares), (99, 1.0)]:
            share = race_share * sex_share
            codes = {"race": race, "sex": sex, "disability": 99, "lep": 99}
            count = absent if absent < 0 else round(absent * share)
            yield school | codes | {"enrollment_crdc": round(enrollment * share)}, \
                school | codes | {"homeless": 99, "students_chronically_absent": count}


def build_crdc(base: list[dict], texas: dict[int, list[dict]]):
    """(absenteeism listings, enrollment listings) for CRDC_YEARS."""
    absent_rows: dict[int, list[dict]] = defaultdict(list)
    enrolled_rows: dict[int, list[dict]] = defaultdict(list)
    states: set[int] = set()
    for year, row in _district_years(base, texas, CRDC_YEARS):
        rng = random.Random(f"crdc-{row['leaid']}")
        growth, rate = rng.gauss(0, 0.01), rng.uniform(0.06, 0.2)
        enrollment = _enrollment(row, year, rng, growth)
        if enrollment is None:
            continue
        states.add(row["fips"])
        known = row.get("number_of_schools")
        n_schools = known if isinstance(known, int) and known > 0 else round(enrollment / 800)
        n_schools = max(1, min(6, n_schools, enrollment // 20 or 1))
        yearly = random.Random(f"crdc-{row['leaid']}-{year}")
        rate *= {2015: 1.0, 2017: 1.05, 2020: 1.5}[year]
        sizes = _split(round(enrollment * yearly.uniform(0.93, 1.0)),
                       [yearly.uniform(0.5, 1.5) for _ in range(n_schools)])
        for number, size in enumerate(sizes, start=1):
            ncessch = f"{row['leaid']}9{number:04d}"
            school = {"year": year, "ncessch": ncessch, "crdc_id": ncessch,
                      "leaid": row["leaid"], "fips": row["fips"]}
            absent = round(size * min(0.9, rate * yearly.uniform(0.8, 1.2)))
            if yearly.random() < 0.02:
                absent = SUPPRESSED
            for enrolled, absentee in _school_rows(school, size, absent, year, yearly):
                enrolled_rows[year].append(enrolled)
                absent_rows[year].append(absentee)
    for year in CRDC_YEARS:  # CRDC-only schools that cannot be attributed to a district
        for fips in sorted(states):
            rng = random.Random(f"crdc-orphans-{fips}-{year}")
            for number, ncessch in enumerate(("", None), start=1):
                school = {"year": year, "ncessch": ncessch,
                          "crdc_id": f"CRDC{fips:02d}{number:04d}", "leaid": None, "fips": fips}
                size = rng.randint(40, 400)
                absent = round(size * rng.uniform(0.1, 0.3))
                for enrolled, absentee in _school_rows(school, size, absent, year, rng):
                    enrolled_rows[year].append(enrolled)
                    absent_rows[year].append(absentee)
    return dict(absent_rows), dict(enrolled_rows)
