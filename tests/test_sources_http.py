"""Each source over real HTTP: UrbanClient fetches a unit from the fake Urban API with the
request the source declares (its filters and fields), parse_unit parses it, and the values are
checked against a plain-Python calculation over the records of the fake server's dataset.
`fake_api` is the shared fixture (tests/fakeapi_fixtures.py)."""

from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

import pytest

from districtbench.sources import absenteeism, assessments, directory, finance, graduation, poverty
from districtbench.urban.client import UrbanClient


def fetch_and_parse(api, source, year, state, *, server_filters=True):
    """Fetch as the host does (or, server_filters=False, as an API that ignores the filters
    would answer: every subgroup row) and parse."""
    client = UrbanClient(api.url, max_retries=0)
    listings = {}
    for endpoint in source.endpoints:
        params = endpoint.params(state)
        if not server_filters:
            params = {k: v for k, v in params.items() if k not in endpoint.filters}
        rows = listings[endpoint.key] = client.fetch_all(endpoint.path(year), params)
        assert rows, f"the fake dataset has no {endpoint.key} rows for {year}/{state}"
        assert all(row["fips"] == int(state) for row in rows)
        assert all(list(row) == list(endpoint.fields) for row in rows)  # fields= honoured
        wanted = [r for r in records(api, endpoint.key, year, int(state))
                  if all(r.get(k) == v for k, v in params.items() if k in endpoint.filters)]
        assert len(rows) == len(wanted)
    return source.parse_unit(listings, year, state)


def records(api, template, year, fips):
    return [r for r in api.dataset.records(template, year, fips=fips) if r.get("fips") == fips]


def cents(value):
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def missing(value):
    return value is None or value < 0


def total_row(record, columns):
    return all(record.get(c) in (99, None) for c in columns)


@pytest.mark.parametrize("year, state", [(2018, "05"), (2019, "48")])
def test_enrollment(fake_api, year, state):
    unit = fetch_and_parse(fake_api, directory.ENROLLMENT, year, state)
    raw = records(fake_api, directory.DIRECTORY, year, int(state))
    got = {h["leaid"]: h for h in unit.history}
    assert sorted(got) == sorted(r["leaid"] for r in raw)
    assert sum(h["enrollment"] or 0 for h in unit.history) == sum(
        r["enrollment"] for r in raw if not missing(r["enrollment"]))
    for r in raw:
        assert got[r["leaid"]]["teachers_fte"] == (None if missing(r["teachers_total_fte"]) else cents(r["teachers_total_fte"]))
        assert got[r["leaid"]]["spec_ed_students"] == (None if missing(r["spec_ed_students"]) else r["spec_ed_students"])
    assert {r["leaid"]: r["name"] for r in unit.roster} == {r["leaid"]: r["lea_name"] for r in raw}


def test_ell(fake_api):
    unit = fetch_and_parse(fake_api, directory.ELL, 2018, "04")
    raw = records(fake_api, directory.DIRECTORY, 2018, 4)
    assert {h["leaid"]: h["ell_students"] for h in unit.history} == {
        r["leaid"]: (None if missing(r["english_language_learners"]) else r["english_language_learners"]) for r in raw}


def test_finance(fake_api):
    unit = fetch_and_parse(fake_api, finance.SOURCE, 2018, "01")
    raw = records(fake_api, finance.FINANCE, 2018, 1)
    got = {h["leaid"]: h for h in unit.history}
    assert len(got) == len(raw)
    for r in raw:
        spending, pupils = r["exp_current_elsec_total"], r["enrollment_fall_responsible"]
        pp = None
        if not missing(spending) and not missing(pupils) and spending > 0 and pupils > 0:
            pp = (Decimal(str(spending)) / Decimal(str(pupils))).quantize(Decimal("0.01"), ROUND_HALF_UP)
        assert got[r["leaid"]]["expenditure_pp"] == pp
        assert got[r["leaid"]]["total_revenue"] == (None if missing(r["rev_total"]) else cents(r["rev_total"]))
    assert any(h["expenditure_pp"] for h in unit.history)


def test_poverty(fake_api):
    unit = fetch_and_parse(fake_api, poverty.SOURCE, 2018, "17")
    raw = records(fake_api, poverty.SAIPE, 2018, 17)
    expected = {}
    for r in raw:
        children, poor = r["est_population_5_17"], r["est_population_5_17_poverty"]
        if missing(children) or missing(poor) or children == 0:
            continue
        expected[r["leaid"]] = (Decimal(100 * poor) / Decimal(children)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    got = {h["leaid"]: h["poverty_pct"] for h in unit.history if h["poverty_pct"] is not None}
    assert got == expected and len(got) > 500
    # the counts and the 0–1 `_pct` of the dataset agree to within rounding
    share = {r["leaid"]: r["est_population_5_17_poverty_pct"] for r in raw}
    assert all(abs(float(value) - 100 * share[leaid]) < 1 for leaid, value in got.items())


def test_graduation(fake_api):
    unit = fetch_and_parse(fake_api, graduation.SOURCE, 2013, "48")
    raw = [r for r in records(fake_api, graduation.GRAD_RATES, 2013, 48) if total_row(r, graduation.SUBGROUPS)]
    expected = {r["leaid"]: (None if missing(r["grad_rate_midpt"]) else cents(r["grad_rate_midpt"])) for r in raw}
    assert {h["leaid"]: h["graduation_rate"] for h in unit.history} == expected
    assert not unit.skipped  # the API sent the all-students rows only
    # an API that ignored the filters would send every subgroup row: the source keeps the totals
    fake_api.page_size = 1000
    unfiltered = fetch_and_parse(fake_api, graduation.SOURCE, 2013, "48", server_filters=False)
    assert {h["leaid"]: h["graduation_rate"] for h in unfiltered.history} == expected
    subgroup_rows = len(records(fake_api, graduation.GRAD_RATES, 2013, 48)) - len(raw)
    assert unfiltered.skipped == {"not a subgroup total": subgroup_rows} and subgroup_rows > 5 * len(raw)


def test_assessments(fake_api):
    unit = fetch_and_parse(fake_api, assessments.SOURCE, 2015, "06")
    raw = records(fake_api, assessments.ASSESSMENTS, 2015, 6)
    assert {h["leaid"]: (h["math_proficiency"], h["read_proficiency"]) for h in unit.history} == {
        r["leaid"]: tuple(None if missing(r[f]) else cents(r[f])
                          for f in ("math_test_pct_prof_midpt", "read_test_pct_prof_midpt")) for r in raw}


def test_absenteeism(fake_api):
    unit = fetch_and_parse(fake_api, absenteeism.SOURCE, 2017, "02")
    subgroups = ("race", "sex", "disability", "lep", "homeless")
    absent_rows = [r for r in records(fake_api, absenteeism.ABSENT, 2017, 2) if total_row(r, subgroups)]
    enrolled = {r["ncessch"]: r["enrollment_crdc"]
                for r in records(fake_api, absenteeism.ENROLLED, 2017, 2) if total_row(r, subgroups)}
    sums = defaultdict(lambda: [0, 0])
    for r in absent_rows:
        if not r["leaid"] or not r["ncessch"]:
            continue
        count, pupils = r["students_chronically_absent"], enrolled.get(r["ncessch"])
        sums[r["leaid"]]  # the district is reported even if every school is suppressed
        if missing(count) or missing(pupils):
            continue
        sums[r["leaid"]][0] += count
        sums[r["leaid"]][1] += pupils
    expected = {leaid: (Decimal(100 * a) / Decimal(e)).quantize(Decimal("0.01"), ROUND_HALF_UP) if e else None
                for leaid, (a, e) in sums.items()}
    assert {h["leaid"]: h["chronic_absenteeism_rate"] for h in unit.history} == expected
    assert any(v is not None for v in expected.values())
    fake_api.page_size = 1000
    unfiltered = fetch_and_parse(fake_api, absenteeism.SOURCE, 2017, "02", server_filters=False)
    assert unfiltered.history == unit.history  # 24 rows a school sent: the totals kept
    assert unfiltered.skipped["not a subgroup total"] == 23 * len(absent_rows)
