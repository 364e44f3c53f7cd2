"""The fake API's dataset reproduces the real files, and the fake server keeps the contract.

Tests marked `needs_real` compare against ../shared/data/real (CI has it beside the clone);
they are skipped when it is absent. Expected values are computed here from the CSV/JSON files
with plain Python, independently of the build script.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections import defaultdict
from pathlib import Path

import pytest
import requests

from districtbench.fakeapi import Dataset, FakeUrbanApi, load_dataset
from districtbench.fakeapi import dataset as ds

REAL = Path(os.environ.get("DISTRICTBENCH_REAL_DATA",
                           Path(__file__).resolve().parents[2] / "shared" / "data" / "real"))
needs_real = pytest.mark.skipif(not REAL.is_dir(), reason=f"real data not found at {REAL}")
DATA = Path(ds.__file__).with_name("data")

DIRECTORY_FIELDS = ("leaid", "lea_name", "fips", "state_location", "city_location", "county_name",
                    "urban_centric_locale", "number_of_schools", "agency_type", "enrollment",
                    "teachers_total_fte", "staff_total_fte", "spec_ed_students",
                    "english_language_learners")
GRAD_SUBGROUPS = ("race", "lep", "homeless", "disability", "econ_disadvantaged", "foster_care")


@pytest.fixture(scope="module")
def data() -> Dataset:
    return load_dataset()


def real_csv(relative: str) -> list[dict[str, str]]:
    with open(REAL / relative, newline="", encoding="latin-1") as handle:
        return list(csv.DictReader(handle))


def real_json(relative: str) -> dict:
    return json.loads((REAL / relative).read_text(encoding="utf-8"))


def as_number(text: str):
    return None if text in (".", "") else float(text)


# --- against the real files -------------------------------------------------------------

@needs_real
def test_directory_2018_is_the_real_page_unchanged(data):
    sample = real_json("urban-api-samples/school-districts_ccd_directory_2018_page-1.json")
    served = [r for r in data.records(ds.DIRECTORY, 2018) if r["fips"] != 48]
    key = lambda r: r["leaid"]  # noqa: E731
    assert [json.dumps(r) for r in sorted(served, key=key)] == \
        [json.dumps(r) for r in sorted(sample["results"], key=key)]


@needs_real
def test_texas_directory_reproduces_tapr(data):
    crosswalk = {r["STID"]: r["LEAID"] for r in
                 real_csv("texas-tapr/tx_ccd_2013_districts_crosswalk.csv")}
    tapr: dict[int, dict] = defaultdict(dict)
    for r in real_csv("texas-tapr/tx_tapr_districts_2012-2021.csv"):
        tapr[int(r["year"])][r["tea_district"]] = tuple(
            as_number(r[c]) for c in ("DPETALLC", "DPETSPEC", "DPETLEPC", "DPSTTOFC",
                                      "DPSATOFC"))
    for year in range(2012, 2022):
        rows = [r for r in data.records(ds.DIRECTORY, year) if r["fips"] == 48]
        served = {r["state_leaid"].removeprefix("TX-"): (
            r["enrollment"], r["spec_ed_students"], r["english_language_learners"],
            r["teachers_total_fte"], r["staff_total_fte"]) for r in rows}
        assert len(served) == len(rows)
        assert served == {tea: v for tea, v in tapr[year].items() if tea in served}, year
        # every crosswalk district is there under its LEAID; at most a few newer ones are not
        by_tea = {r["state_leaid"].removeprefix("TX-"): r["leaid"] for r in rows}
        assert all(by_tea[tea] == crosswalk[tea] for tea in tapr[year] if tea in crosswalk)
        assert len(tapr[year]) - len(served) <= 6


@needs_real
@pytest.mark.parametrize("year", [2019, 2020, 2021])
def test_texas_shares_match_tea_state_totals(data, year):
    state = {int(r["year"]): r for r in real_csv("texas-tapr/tx_tapr_state_totals_2012-2021.csv")}
    rows = [r for r in data.records(ds.DIRECTORY, year) if r["fips"] == 48]
    enrollment = sum(r["enrollment"] for r in rows)
    for column, field in (("DPETLEPC", "english_language_learners"),
                          ("DPETSPEC", "spec_ed_students")):
        published = 100 * float(state[year][column]) / float(state[year]["DPETALLC"])
        ours = 100 * sum(r[field] for r in rows) / enrollment
        assert round(ours, 1) == round(published, 1), (year, field)
    if year == 2019:  # the README's published figure
        assert round(100 * sum(r["english_language_learners"] for r in rows) / enrollment,
                     1) == 20.3


@needs_real
def test_ccd_2023_reproduces_the_file(data):
    source = real_csv("ccd/ccd_lea_enrollment_teachers_2023-24.csv")
    rows = data.records(ds.DIRECTORY, 2023)
    assert len(rows) == len(source) == 17_842
    assert sum(r["enrollment"] for r in rows) == sum(float(r["enrollment"]) for r in source) \
        == 49_426_649
    assert sum(r["teachers_total_fte"] for r in rows) == pytest.approx(3_279_078.32, abs=0.01)
    assert {r["leaid"] for r in rows} == {r["district_id"].zfill(7) for r in source}


def _acgr_bounds(text: str):
    """Independent reading of the EDFacts range codes (data/README.md's mapping)."""
    if text in ("PS", ".", ""):
        return None
    if m := re.fullmatch(r"(\d+)", text):
        return float(m[1]), float(m[1])
    if m := re.fullmatch(r"(\d+)-(\d+)", text):
        return float(m[1]), float(m[2])
    if m := re.fullmatch(r"GE(\d+)", text):
        return float(m[1]), 100.0
    if m := re.fullmatch(r"L[TE](\d+)", text):
        return 0.0, float(m[1])
    raise AssertionError(f"unexpected rate {text!r}")


@needs_real
@pytest.mark.parametrize("year", [2012, 2013, 2014])
def test_grad_rates_aggregate_the_school_files(data, year):
    tag = f"{year % 100:02d}{(year + 1) % 100:02d}"
    cohorts, weighted, weights = defaultdict(int), defaultdict(float), defaultdict(int)
    for s in real_csv(f"edfacts-acgr/edfacts_acgr_school_sy{year}-{(year + 1) % 100:02d}.csv"):
        size = s[f"ALL_COHORT_{tag}"]
        if not size.isdigit():
            continue
        cohorts[s["LEAID"]] += int(size)
        bounds = _acgr_bounds(s[f"ALL_RATE_{tag}"])
        if bounds and int(size) > 0:
            weighted[s["LEAID"]] += int(size) * sum(bounds) / 2
            weights[s["LEAID"]] += int(size)
    totals = [r for r in data.records(ds.GRAD_RATES, year)
              if all(r[c] == 99 for c in GRAD_SUBGROUPS)]
    assert len(totals) == len({r["leaid"] for r in totals}) == len(cohorts)
    for r in totals:
        assert r["cohort_num"] == cohorts[r["leaid"]]
        if weights[r["leaid"]]:
            assert r["grad_rate_midpt"] == pytest.approx(
                weighted[r["leaid"]] / weights[r["leaid"]], abs=0.051)
            assert r["grad_rate_low"] <= r["grad_rate_midpt"] <= r["grad_rate_high"]
        else:
            assert r["grad_rate_midpt"] == -3
    national = sum(weighted.values()) / sum(weights.values())
    served = [r for r in totals if r["grad_rate_midpt"] >= 0]
    served_national = (sum(r["cohort_num"] * r["grad_rate_midpt"] for r in served)
                       / sum(r["cohort_num"] for r in served))
    assert served_national == pytest.approx(national, abs=0.1)
    assert national == pytest.approx({2012: 83.3, 2013: 84.3, 2014: 85.1}[year], abs=0.05)


@needs_real
def test_assessments_are_the_real_page_regraded(data):
    sample = real_json(
        "urban-api-samples/school-districts_edfacts_assessments_2015_grade-8_page-1.json")
    expected = sorted((json.dumps({**r, "grade_edfacts": 99}) for r in sample["results"]))
    assert sorted(json.dumps(r) for r in data.records(ds.ASSESSMENTS, 2015)) == expected


@needs_real
def test_saipe_reproduces_the_file(data):
    source = real_csv("saipe/urban_household_conditions_saipe_geodistrict.csv")
    rows = data.records(ds.SAIPE, 2018)
    assert len(rows) == len(source)
    children = sum(float(r["children"]) for r in source)
    assert sum(r["est_population_5_17"] for r in rows) == children
    assert round(children / 1e6, 1) == 56.7
    poor = sum(r["est_population_5_17_poverty"] for r in rows)
    assert round(100 * poor / children, 1) == 16.6
    assert all(0 <= r["est_population_5_17_poverty_pct"] <= 1 for r in rows)


# --- shape of the shipped data (no real files needed) ----------------------------------

def test_directory_rows_carry_every_field_the_sources_use(data):
    for year in data.years(ds.DIRECTORY):
        for row in data.records(ds.DIRECTORY, year):
            assert all(field in row for field in DIRECTORY_FIELDS), (year, row["leaid"])
            assert row["year"] == year
            assert isinstance(row["leaid"], str) and re.fullmatch(r"\d{7}", row["leaid"])
            assert isinstance(row["fips"], int) and row["fips"] == int(row["leaid"][:2])


def test_directory_years_and_states(data):
    years = data.years(ds.DIRECTORY)
    assert years == [*range(2012, 2022), 2023]
    fips_2018 = {r["fips"] for r in data.records(ds.DIRECTORY, 2018)}
    assert fips_2018 == {1, 2, 4, 5, 48}
    assert {r["fips"] for r in data.records(ds.DIRECTORY, 2015)} == {48}


def test_grad_rates_have_one_total_row_and_the_real_subgroup_rows(data):
    for year in (2012, 2013, 2014):
        rows = data.records(ds.GRAD_RATES, year)
        totals = [r for r in rows if all(r[c] == 99 for c in GRAD_SUBGROUPS)]
        others = [r for r in rows if any(r[c] != 99 for c in GRAD_SUBGROUPS)]
        assert len({r["leaid"] for r in totals}) == len(totals)
        assert {r["race"] for r in others} == {1, 2, 3, 4, 5, 7, 99}
        assert {r["disability"] for r in others} == {1, 99} and {r["lep"] for r in others} == {1, 99}
        assert {r["econ_disadvantaged"] for r in others} == {1, 99}
        assert {r["leaid"] for r in others} <= {r["leaid"] for r in totals}
        # every other row differs from the total row in exactly one subgroup column
        assert all(sum(r[c] != 99 for c in GRAD_SUBGROUPS) == 1 for r in others)
        per_district = len(rows) / len(totals)
        assert 6 <= per_district <= 10, per_district  # the real endpoint: ≈8–10


@needs_real
def test_grad_rates_subgroup_rows_aggregate_the_school_files(data):
    """The rows of Hispanic students (race 3) and English learners (lep 1) of 2013 carry the
    cohorts of the school file's MHI and LEP columns, summed per district."""
    cohorts = {"MHI": defaultdict(int), "LEP": defaultdict(int)}
    for s in real_csv("edfacts-acgr/edfacts_acgr_school_sy2013-14.csv"):
        for group, counts in cohorts.items():
            if s[f"{group}_COHORT_1314"].isdigit():
                counts[s["LEAID"]] += int(s[f"{group}_COHORT_1314"])
    rows = data.records(ds.GRAD_RATES, 2013)
    hispanic = {r["leaid"]: r["cohort_num"] for r in rows if r["race"] == 3}
    learners = {r["leaid"]: r["cohort_num"] for r in rows if r["lep"] == 1}
    assert hispanic == dict(cohorts["MHI"]) and learners == dict(cohorts["LEP"])


def test_crdc_endpoints_describe_the_same_schools_in_the_real_multiplicity(data):
    for year, per_school in ((2015, 24), (2017, 24), (2020, 32)):
        absent = data.records(ds.CRDC_ABSENTEEISM, year)
        enrolled = data.records(ds.CRDC_ENROLLMENT, year)
        key = lambda r: (r["crdc_id"], r["race"], r["sex"])  # noqa: E731
        assert sorted(map(key, absent)) == sorted(map(key, enrolled))
        totals = [r for r in absent if r["race"] == 99 and r["sex"] == 99]
        assert any(r["leaid"] is None for r in totals)
        assert any(r["ncessch"] == "" for r in totals)
        assert any(r["students_chronically_absent"] == -3 for r in totals)
        # every race × sex cell and their totals: 8 × 3 rows a school, 8 × 4 from 2020
        assert len(absent) == len(enrolled) == per_school * len(totals)
        cells = defaultdict(set)
        for r in absent:
            cells[r["crdc_id"]].add((r["race"], r["sex"]))
        assert {len(c) for c in cells.values()} == {per_school}
        assert all(r["disability"] == r["lep"] == 99 for r in enrolled)
        assert all("students_chronically_absent" in r and r["homeless"] == 99 for r in absent)
        assert all("enrollment_crdc" in r and "homeless" not in r for r in enrolled)


def test_finance_rows_have_the_fields_the_source_uses(data):
    fields = ("rev_total", "rev_fed_total", "rev_state_total", "rev_local_total", "exp_total",
              "exp_current_elsec_total", "exp_sped_current", "enrollment_fall_responsible")
    assert data.years(ds.FINANCE) == [2016, 2017, 2018, 2019, 2020]
    for row in data.records(ds.FINANCE, 2018):
        assert all(f in row for f in fields)
        assert row["exp_total"] > row["exp_current_elsec_total"] > 0


def test_synthetic_files_are_labelled():
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    assert "SYNTHETIC" in readme
    for name in ("finance.json.gz", "crdc_absenteeism.json.gz", "crdc_enrollment.json.gz"):
        assert ds.read_data_file(DATA / name)["synthetic"] is True
        assert f"`{name}`" in readme
    for name in ("directory.json.gz", "grad_rates.json.gz", "saipe.json.gz",
                 "assessments.json.gz"):
        assert ds.read_data_file(DATA / name)["synthetic"] is False


def test_shipped_data_stays_small():
    # 2.7 MB before the CRDC and grad-rates subgroup rows (≈1.1 million rows in all now)
    assert sum(p.stat().st_size for p in DATA.glob("*.json.gz")) < 5_000_000


# --- the server's contract (urban-api.md) ------------------------------------------------

def get(api: FakeUrbanApi, target: str) -> requests.Response:
    return requests.get(f"{api.url}/{target}", timeout=5)


def test_envelope_and_absolute_next_that_keeps_the_query(fake_api):
    fake_api.page_size = 10
    first = get(fake_api, "school-districts/ccd/directory/2018/?fips=5&limit=5").json()
    assert list(first) == ["count", "next", "previous", "results"]
    assert first["count"] == 42 and len(first["results"]) == 10  # limit is ignored
    assert first["previous"] is None
    assert first["next"] == (f"{fake_api.url}/school-districts/ccd/directory/2018/"
                             "?fips=5&limit=5&page=2")
    second = requests.get(first["next"], timeout=5).json()
    assert second["previous"] == (f"{fake_api.url}/school-districts/ccd/directory/2018/"
                                  "?fips=5&limit=5")
    assert not {r["leaid"] for r in first["results"]} & {r["leaid"] for r in second["results"]}


def test_rows_are_not_sorted(fake_api):
    fake_api.page_size = 1000
    leaids = [r["leaid"] for r in
              get(fake_api, "school-districts/ccd/directory/2018/?fips=4").json()["results"]]
    assert leaids != sorted(leaids)


@pytest.mark.parametrize("target, status, count", [
    ("school-districts/ccd/directory/2018/?fips=06", 200, 0),  # padded fips: nothing
    ("school-districts/ccd/directory/2010/?fips=48", 200, 0),  # a valid year without rows
    ("schools/crdc/chronic-absenteeism/2013/race/sex/?fips=5", 200, 0),
    ("school-districts/ccd/directory/1970/", 500, None),  # a year the endpoint lacks: 500
    ("schools/crdc/chronic-absenteeism/2011/race/sex/", 500, None),
    ("schools/crdc/enrollment/2022/race/sex/?fips=5", 500, None),  # absenteeism has 2022, this not
    ("schools/crdc/chronic-absenteeism/2015/", 404, None),  # without race/sex: not an endpoint
    ("school-districts/ccd/directorY/2018/", 404, None),
    ("school-districts/edfacts/assessments/2015/8/", 500, None),  # bare grade number
    ("school-districts/ccd/directory/2018/?fips=5&page=99", 404, None),
])
def test_statuses_like_the_real_api(fake_api, target, status, count):
    response = get(fake_api, target)
    assert response.status_code == status
    if count is not None:
        assert response.json() == {"count": count, "next": None, "previous": None, "results": []}


def test_a_custom_dataset_can_be_served():
    rows = [{"leaid": "4800001", "fips": 48, "enrollment": 10},
            {"leaid": "0600001", "fips": 6, "enrollment": 20}]
    with FakeUrbanApi(Dataset({(ds.DIRECTORY, 2019): rows})) as api:
        page = get(api, "school-districts/ccd/directory/2019/?fips=6").json()
        assert page["results"] == [rows[1]]
        assert api.requests_log == ["/api/v1/school-districts/ccd/directory/2019/?fips=6"]


def test_faults_are_consumed_and_validated(fake_api):
    fake_api.add_fault("status", status=503, path_contains="fips=5", times=2)
    statuses = [get(fake_api, "school-districts/ccd/directory/2018/?fips=5").status_code
                for _ in range(3)]
    assert statuses == [503, 503, 200]
    with pytest.raises(ValueError):
        fake_api.add_fault("status", code=500)  # misspelt option
    with pytest.raises(ValueError):
        fake_api.add_fault("teapot")


def test_standalone_server_on_a_taken_port_says_so_in_one_line_and_exits_2():
    import socket
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "districtbench.fakeapi", "--port", str(port)],
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in lines[0] and "Address already in use" in lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""


# --- what the real API does that a kinder fake would not (issue 10) ---------------------

def listing(api, target):
    response = get(api, target)
    assert response.status_code == 200, (target, response.status_code)
    return response.json()


def test_filters_work_on_filter_variables_and_combine_with_and(fake_api):
    fake_api.page_size = 100_000
    crdc = "schools/crdc/enrollment/2017/race/sex/"
    everything = listing(fake_api, f"{crdc}?fips=5")["results"]
    totals = listing(fake_api, f"{crdc}?fips=5&race=99&sex=99&disability=99&lep=99")["results"]
    assert totals == [r for r in everything if r["race"] == 99 and r["sex"] == 99]
    assert len(everything) == 24 * len(totals) > 0
    both = listing(fake_api, f"{crdc}?fips=2,5&race=99&sex=99")["count"]
    assert both == len(totals) + listing(fake_api, f"{crdc}?fips=2&race=99&sex=99")["count"]


def test_a_variable_that_is_not_a_filter_is_ignored_unfiltered_200(fake_api):
    fake_api.page_size = 100_000
    plain = listing(fake_api, "school-districts/ccd/directory/2018/?fips=5")
    # enrollment and lea_name are directory fields but not filter variables (varlist 54)
    assert listing(fake_api, "school-districts/ccd/directory/2018/?fips=5&enrollment=1")["count"] == plain["count"] == 42
    assert listing(fake_api, "school-districts/ccd/directory/2018/?fips=5&lea_name=x&ordering=leaid&mode=R") == plain
    # grad-rates has no `sex` column and no such filter: every subgroup row comes back
    grad = "school-districts/edfacts/grad-rates/2013/?fips=2"
    assert listing(fake_api, f"{grad}&sex=99")["count"] == listing(fake_api, grad)["count"]
    alaska = [r for r in load_dataset().records(ds.GRAD_RATES, 2013) if r["fips"] == 2]
    totals = [r for r in alaska if all(r[c] == 99 for c in GRAD_SUBGROUPS)]
    assert len(alaska) > len(totals) > 40
    assert listing(fake_api, f"{grad}&race=99&lep=99&homeless=99&disability=99&econ_disadvantaged=99"
                             "&foster_care=99")["count"] == len(totals)


def test_fields_returns_those_columns_and_unknown_names_as_empty_columns(fake_api):
    fake_api.page_size = 1000
    rows = listing(fake_api, "school-districts/ccd/directory/2018/?fips=5&fields=leaid,enrollment,no_such_field")["results"]
    assert len(rows) == 42
    assert all(list(r) == ["leaid", "enrollment", "no_such_field"] and r["no_such_field"] is None for r in rows)
    raw = {r["leaid"]: r["enrollment"] for r in load_dataset().records(ds.DIRECTORY, 2018) if r["fips"] == 5}
    assert {r["leaid"]: r["enrollment"] for r in rows} == raw


@needs_real
def test_catalog_and_varlist_are_the_real_ones_trimmed(fake_api):
    catalog = listing(fake_api, "api-endpoints/")
    real = real_json("urban-api-samples/api-endpoints_catalog_2026.json")
    assert catalog["count"] == real["count"] == 129 and catalog["next"] is None
    served = {r["endpoint_id"]: r for r in catalog["results"]}
    for row in real["results"]:
        mine = served[row["endpoint_id"]]
        assert (mine["endpoint_url"], mine["years_available"], mine["var_list_id"]) == (
            row["endpoint_url"], row["years_available"], row["var_list_id"])
        assert "python_code" not in mine
    varlist = listing(fake_api, "api-endpoint-varlist/?endpoint_id=80")
    real_rows = [r for r in real_json("urban-api-samples/api-endpoint-varlist_2026_subset.json")["results"]
                 if r["endpoint_id"] == "80"]
    assert [(r["variable"], r["is_filter"], r["data_type"]) for r in varlist["results"]] == [
        (r["variable"], r["is_filter"], r["data_type"]) for r in real_rows]
    # endpoint_id is this listing's filter; anything else is ignored like everywhere
    assert listing(fake_api, "api-endpoint-varlist/?variable=leaid")["count"] == 302


def test_catalog_shows_the_years_a_dataset_overrides_and_its_own_endpoints():
    dataset = Dataset({(ds.DIRECTORY, 2025): [{"leaid": "0500001", "fips": 5}],
                       ("my/own/{year}/", 2020): [{"leaid": "0500001", "fips": 5, "x": 1}]},
                      valid_years={ds.DIRECTORY: range(1986, 2026)})
    with FakeUrbanApi(dataset) as api:
        rows = {r["endpoint_url"]: r for r in listing(api, "api-endpoints/")["results"]}
        assert rows["/api/v1/school-districts/ccd/directory/{year}/"]["years_available"] == "1986&ndash;2025"
        own = rows["/api/v1/my/own/{year}/"]
        assert own["years_available"] == "2020"
        variables = listing(api, f"api-endpoint-varlist/?endpoint_id={own['endpoint_id']}")["results"]
        assert [(v["variable"], v["is_filter"]) for v in variables] == [("leaid", "1"), ("fips", "1"), ("x", "1")]
        assert listing(api, "school-districts/ccd/directory/2025/?fips=5")["count"] == 1
        assert get(api, "school-districts/ccd/directory/2026/?fips=5").status_code == 500


def test_the_bot_protection_challenge_can_be_switched_on_and_off(fake_api):
    fake_api.add_fault("challenge", times=None)
    for _ in range(2):
        blocked = get(fake_api, "school-districts/ccd/directory/2018/?fips=5")
        assert blocked.status_code == 403 and blocked.headers["Content-Type"].startswith("text/html")
        assert "Enable JavaScript and cookies to continue" in blocked.text
    fake_api.clear_faults()
    assert get(fake_api, "school-districts/ccd/directory/2018/?fips=5").status_code == 200
