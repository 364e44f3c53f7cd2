"""Build the fake Urban API dataset (src/districtbench/fakeapi/data/*.json.gz) from real files.

    python scripts/build_fake_dataset.py [PATH_TO_shared/data/real]

Default path: ../shared/data/real relative to the repository. The output is deterministic
(fixed seeds, gzip mtime 0): running it twice gives identical files. What comes from where
is documented in src/districtbench/fakeapi/data/README.md; keep the two in step.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from districtbench.fakeapi import dataset as ds  # noqa: E402
from fake_dataset_synthetic import build_crdc, build_finance  # noqa: E402

OUT = REPO / "src" / "districtbench" / "fakeapi" / "data"
CATALOG_SAMPLE = "urban-api-samples/api-endpoints_catalog_2026.json"
VARLIST_SAMPLE = "urban-api-samples/api-endpoint-varlist_2026_subset.json"
# What a client reads of the catalog and the varlist; the rest (descriptions, the example code
# snippets) is left out of the shipped copy.
CATALOG_COLUMNS = ("endpoint_id", "endpoint_url", "section", "class_name", "topic", "sub_topic",
                   "years_available", "var_list_id")
VARLIST_COLUMNS = ("endpoint_id", "variable", "label", "is_filter", "format", "data_type",
                   "string_length")
DIRECTORY_SAMPLE = "urban-api-samples/school-districts_ccd_directory_2018_page-1.json"
ASSESSMENT_SAMPLE = "urban-api-samples/school-districts_edfacts_assessments_2015_grade-8_page-1.json"
TX_FIPS = 48


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="latin-1") as handle:
        return list(csv.DictReader(handle))


def number(text: str) -> int | float | None:
    """A CSV cell as int or float; None for '.', '' and other non-numbers."""
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value.is_integer() and "." not in text else value


def sort_key(row: dict) -> tuple:
    """Files store rows sorted (better compression); the loader shuffles them."""
    return tuple("" if row.get(k) is None else str(row[k])
                 for k in ("leaid", "ncessch", "crdc_id", "race", "sex", "disability", "lep"))


def write_gzip_json(name: str, document: dict) -> Path:
    payload = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    path = OUT / name
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0,
                                                 compresslevel=9) as handle:
        handle.write(payload)
    return path


def build_catalog(real: Path) -> dict:
    """The real catalog (every endpoint, the columns a client reads) and the real varlist rows
    of the seven endpoints, in the responses' own order."""
    endpoints = json.loads((real / CATALOG_SAMPLE).read_text(encoding="utf-8"))["results"]
    varlist = json.loads((real / VARLIST_SAMPLE).read_text(encoding="utf-8"))["results"]
    return {
        "format": 1,
        "synthetic": False,
        "provenance": "real api-endpoints/ and api-endpoint-varlist/ responses (2026), trimmed",
        "endpoints": [{k: row.get(k) for k in CATALOG_COLUMNS} for row in endpoints],
        "varlist": [{k: row.get(k) for k in VARLIST_COLUMNS} for row in varlist],
    }


def write(name: str, template: str, listings: dict[int, list[dict]], *, synthetic: bool,
          provenance: str) -> None:
    document = {
        "format": 1,
        "endpoint": template,
        "synthetic": synthetic,
        "provenance": provenance,
        "listings": {
            str(year): ds.encode_listing(rows, sort_key=sort_key)
            for year, rows in sorted(listings.items())
        },
    }
    path = write_gzip_json(name, document)
    rows = sum(len(r) for r in listings.values())
    print(f"{name}: {rows} rows, {path.stat().st_size / 1e3:.0f} kB", file=sys.stderr)


# --- directory --------------------------------------------------------------------------

def later_texas_leaids(real: Path, tapr: list[dict], known: set[str]) -> dict[str, tuple]:
    """TEA number -> (LEAID, name) for Texas districts newer than the 2013 crosswalk.

    TAPR names them (in its 2020 and 2021 rows); the NCES CCD 2023-24 file has their LEAIDs.
    A TEA name matches a CCD Texas district missing from the crosswalk when the two are equal
    ignoring case and punctuation, or else when one starts with the other, and only one does.
    """
    def key(name: str) -> str:
        return re.sub(r"[^A-Z0-9]", "", name.upper())

    candidates = {key(r["district_name"]): r["district_id"].zfill(7)
                  for r in read_csv(real / "ccd/ccd_lea_enrollment_teachers_2023-24.csv")
                  if r["state"] == "TX" and r["district_id"].zfill(7) not in known}
    names: dict[str, list[str]] = defaultdict(list)
    for r in sorted(tapr, key=lambda r: r["year"]):
        if r["name"]:
            names[r["tea_district"]].append(r["name"])
    found = {}
    for tea, seen in names.items():
        hits = {candidates[key(n)] for n in seen if key(n) in candidates} or {
            leaid for n in seen for c, leaid in candidates.items()
            if key(n).startswith(c) or c.startswith(key(n))}
        if len(hits) == 1:
            found[tea] = (hits.pop(), seen[-1])
    return found


def build_directory(real: Path) -> tuple[dict[int, list[dict]], list[str]]:
    sample = json.loads((real / DIRECTORY_SAMPLE).read_text(encoding="utf-8"))["results"]
    fields = list(sample[0])  # the real API's field order; every row gets every field

    def blank(year: int) -> dict:
        return dict.fromkeys(fields) | {"year": year}

    listings: dict[int, list[dict]] = defaultdict(list)
    listings[2018].extend(sample)  # the 1,000 real rows, untouched

    crosswalk = {r["STID"]: r for r in read_csv(real / "texas-tapr/tx_ccd_2013_districts_crosswalk.csv")}
    tapr = read_csv(real / "texas-tapr/tx_tapr_districts_2012-2021.csv")
    later = later_texas_leaids(real, tapr, {x["LEAID"] for x in crosswalk.values()})
    unmatched: Counter = Counter()
    for r in tapr:
        year, x = int(r["year"]), crosswalk.get(r["tea_district"])
        measures = {
            "enrollment": number(r["DPETALLC"]), "spec_ed_students": number(r["DPETSPEC"]),
            "english_language_learners": number(r["DPETLEPC"]),
            "teachers_total_fte": number(r["DPSTTOFC"]), "staff_total_fte": number(r["DPSATOFC"]),
        }
        if x is not None:
            row = blank(year) | {
                "leaid": x["LEAID"], "lea_name": x["NAME"], "street_location": x["LSTREE"],
                "city_location": x["LCITY"], "zip_location": x["LZIP"],
                "latitude": number(x["LATCOD"]), "longitude": number(x["LONCOD"]),
                "county_code": x["CONUM"], "county_name": x["CONAME"],
                "agency_type": int(x["TYPE"]),
            }
        elif r["tea_district"] in later:
            leaid, name = later[r["tea_district"]]
            row = blank(year) | {"leaid": leaid, "lea_name": name}
        else:  # a district with no LEAID in either file
            unmatched[year] += 1
            continue
        row |= {"fips": TX_FIPS, "state_location": "TX", "state_leaid": f"TX-{r['tea_district']}"}
        listings[year].append(row | measures)
    print(f"Texas TAPR rows without a known LEAID (left out): {dict(unmatched)}", file=sys.stderr)

    for r in read_csv(real / "ccd/ccd_lea_enrollment_teachers_2023-24.csv"):
        leaid = r["district_id"].zfill(7)
        listings[2023].append(blank(2023) | {
            "leaid": leaid, "lea_name": r["district_name"], "fips": int(leaid[:2]),
            "state_location": r["state"], "enrollment": int(float(r["enrollment"])),
            "teachers_total_fte": float(r["instructional_staff"]),
        })
    return dict(listings), fields


# --- graduation rates ----------------------------------------------------------------------

def rate_range(text: str) -> tuple[int, int] | None:
    """An EDFacts ACGR rate cell as (low, high) percent; None when suppressed or n/a.

    `82` -> (82, 82); `90-94` -> (90, 94); `GE95` -> (95, 100); `LT50` and `LE5` -> (0, 50)
    and (0, 5); `PS` (privacy suppressed), `.` (not applicable) and blank -> None.
    """
    text = text.strip()
    if text in ("", ".", "PS"):
        return None
    if text.isdigit():
        return int(text), int(text)
    if text.startswith("GE"):
        return int(text[2:]), 100
    if text.startswith(("LT", "LE")):
        return 0, int(text[2:])
    low, high = text.split("-")
    return int(low), int(high)


SUBGROUPS = ("race", "lep", "homeless", "disability", "econ_disadvantaged", "foster_care")
# (CSV column prefix, the subgroup column and its code in that row): the all-students total,
# the six race groups of the files (Urban's race codes; EDFacts "MAS" is Asian/Pacific
# Islander), students with disabilities, economically disadvantaged, English learners —
# up to 10 rows per district, as the real endpoint has ≈8–10.
GRAD_GROUPS = (
    ("ALL", None, None),
    ("MWH", "race", 1), ("MBL", "race", 2), ("MHI", "race", 3), ("MAS", "race", 4),
    ("MAM", "race", 5), ("MTR", "race", 7),
    ("CWD", "disability", 1), ("ECD", "econ_disadvantaged", 1), ("LEP", "lep", 1),
)


def aggregate_group(schools: list[dict], prefix: str, suffix: str) -> dict | None:
    cohort = weight = low = high = 0.0
    any_cohort = False
    for s in schools:
        size = number(s[f"{prefix}_COHORT_{suffix}"])
        if size is None:
            continue
        any_cohort = True
        cohort += size
        bounds = rate_range(s[f"{prefix}_RATE_{suffix}"])
        if bounds is not None and size > 0:
            weight += size
            low += size * bounds[0]
            high += size * bounds[1]
    if not any_cohort:
        return None
    if weight == 0:
        return {"cohort_num": int(cohort), "grad_rate_high": -3, "grad_rate_low": -3,
                "grad_rate_midpt": -3}
    return {"cohort_num": int(cohort), "grad_rate_high": round(high / weight, 1),
            "grad_rate_low": round(low / weight, 1),
            "grad_rate_midpt": round((low + high) / 2 / weight, 1)}


def build_grad_rates(real: Path) -> dict[int, list[dict]]:
    listings = {}
    for year in (2012, 2013, 2014):
        suffix = f"{year % 100:02d}{(year + 1) % 100:02d}"
        by_lea: dict[str, list[dict]] = defaultdict(list)
        for s in read_csv(real / f"edfacts-acgr/edfacts_acgr_school_sy{year}-{year + 1 - 2000}.csv"):
            by_lea[s["LEAID"]].append(s)
        rows = []
        for leaid, schools in by_lea.items():
            for prefix, subgroup, code in GRAD_GROUPS:
                measures = aggregate_group(schools, prefix, suffix)
                if measures is None:
                    continue
                codes = dict.fromkeys(SUBGROUPS, 99) | ({subgroup: code} if subgroup else {})
                rows.append({"year": year, "leaid": leaid, "leaid_num": int(leaid),
                             "lea_name": schools[0]["LEANM"], "fips": int(schools[0]["FIPST"]),
                             **codes, **measures})
        listings[year] = rows
    return listings


# --- assessments, SAIPE ----------------------------------------------------------------

def build_assessments(real: Path) -> dict[int, list[dict]]:
    sample = json.loads((real / ASSESSMENT_SAMPLE).read_text(encoding="utf-8"))["results"]
    return {2015: [row | {"grade_edfacts": 99} for row in sample]}


def build_saipe(real: Path) -> dict[int, list[dict]]:
    rows = []
    for r in read_csv(real / "saipe/urban_household_conditions_saipe_geodistrict.csv"):
        children, pct = int(float(r["children"])), float(r["pct_pov"])
        rows.append({
            "year": 2018, "leaid": r["leaid"], "fips": int(r["leaid"][:2]),
            "lea_name": r["dist"], "est_population_total": None,
            "est_population_5_17": children,
            "est_population_5_17_poverty": round(children * pct / 100),
            "est_population_5_17_poverty_pct": round(pct / 100, 6),
        })
    return {2018: rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("real", nargs="?", type=Path, default=REPO.parent / "shared/data/real")
    real = parser.parse_args(argv).real
    if not (real / DIRECTORY_SAMPLE).is_file():
        parser.error(f"no real data at {real}")
    OUT.mkdir(parents=True, exist_ok=True)
    catalog = write_gzip_json("catalog.json.gz", build_catalog(real))
    print(f"catalog.json.gz: {catalog.stat().st_size / 1e3:.0f} kB", file=sys.stderr)

    directory, _ = build_directory(real)
    write("directory.json.gz", ds.DIRECTORY, directory, synthetic=False,
          provenance="2018: real API page (AL, AK, AZ, AR) + TEA TAPR Texas; 2012-2021 TEA TAPR "
                     "Texas via the CCD 2013 crosswalk; 2023: NCES CCD 2023-24 file")
    write("grad_rates.json.gz", ds.GRAD_RATES, build_grad_rates(real), synthetic=False,
          provenance="EDFacts ACGR school files SY2012-13..2014-15 aggregated per LEAID")
    write("assessments.json.gz", ds.ASSESSMENTS, build_assessments(real), synthetic=False,
          provenance="real API page assessments/2015/grade-8 re-keyed as grade-99")
    write("saipe.json.gz", ds.SAIPE, build_saipe(real), synthetic=False,
          provenance="SAIPE children 5-17 and % poverty by LEAID (about 2018)")

    base = [r for r in directory[2018] if r["fips"] != TX_FIPS]  # AL, AK, AZ, AR (2018)
    texas = {y: [r for r in rows if r["fips"] == TX_FIPS] for y, rows in directory.items()}
    write("finance.json.gz", ds.FINANCE, build_finance(base, texas), synthetic=True,
          provenance="SYNTHETIC, seeded, scaled from real enrollment")
    absent, enrolled = build_crdc(base, texas)
    write("crdc_absenteeism.json.gz", ds.CRDC_ABSENTEEISM, absent, synthetic=True,
          provenance="SYNTHETIC, seeded, scaled from real enrollment")
    write("crdc_enrollment.json.gz", ds.CRDC_ENROLLMENT, enrolled, synthetic=True,
          provenance="SYNTHETIC, seeded, scaled from real enrollment")
    total = sum(p.stat().st_size for p in OUT.glob("*.json.gz"))
    print(f"total {total / 1e6:.2f} MB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
