"""A source that reaches the benchmarks from a plugins folder (issue 16, items 2 and 8).

The proof: examples/plugins/texas_portal.py and proficiency_gap.py copied into a plugins
folder; the fake Urban API serving the CCD directory of Texas for 2018-2020 only (the rows of
the shipped fake dataset; "2021 not yet published": its listing answers no rows) and the fake
state portal serving the REAL TEA TAPR district file (../shared/data/real/texas-tapr), both
over HTTP; `backfill` then `compute` through the CLI; `show` of Houston ISD gives the
portal's 2021 values, with the portal as their source, and the 3-year trends compare 2018
(CCD) with 2021 (the portal). Expected numbers from the TEA file, computed here.

Also: each paginator against the fake server (real HTTP), `Source.states`, an absolute base
URL not rewritten by --api-url.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
import requests

from districtbench.backfill.plan import plan_units
from districtbench.errors import FetchError
from districtbench.fakeapi import FakeUrbanApi, load_dataset
from districtbench.fakeapi.dataset import DIRECTORY, Dataset
from districtbench.fakeapi.portal import TAPR_DATASET, StatePortal, texas_tapr_portal
from districtbench.plugin_api import Cursor, Endpoint, OffsetLimit, PlainList, Source, UrbanEnvelope
from districtbench.urban.client import UrbanClient
from tests import expected as ex

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "plugins"
REAL = ROOT.parent / "shared" / "data" / "real"
HOUSTON = "4823640"
PORTAL_ENV = "DISTRICTBENCH_TEXAS_PORTAL_URL"

pytestmark = pytest.mark.skipif(not (REAL / "texas-tapr").is_dir(), reason="../shared/data/real is not available")


def tapr(year: int) -> dict[str, dict[str, str]]:
    """leaid → the TEA file's row of `year`, for the districts of the CCD crosswalk."""
    with open(REAL / "texas-tapr" / "tx_ccd_2013_districts_crosswalk.csv", encoding="latin-1", newline="") as f:
        leaid_of = {row["STID"]: row["LEAID"].zfill(7) for row in csv.DictReader(f)}
    with open(REAL / "texas-tapr" / "tx_tapr_districts_2012-2021.csv", encoding="latin-1", newline="") as f:
        return {leaid_of[row["tea_district"]]: row for row in csv.DictReader(f)
                if int(row["year"]) == year and row["tea_district"] in leaid_of}


def q2(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@pytest.fixture
def portal():
    with FakeUrbanApi(Dataset({}), portal=texas_tapr_portal(REAL)) as api:
        yield api


# --- the proof, end to end ----------------------------------------------------------------


@pytest.fixture
def federal_without_2021():
    shipped = load_dataset()
    dataset = Dataset({(DIRECTORY, year): shipped.table(DIRECTORY, year) for year in (2018, 2019, 2020)})
    with FakeUrbanApi(dataset, page_size=500) as api:
        yield api


def test_a_state_portal_plugin_reaches_show_and_the_trends(db_url, tmp_path, monkeypatch, federal_without_2021, portal):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    shutil.copy(EXAMPLES / "texas_portal.py", plugins)
    shutil.copy(EXAMPLES / "proficiency_gap.py", plugins)
    shutil.copytree(EXAMPLES / "proficiency_gap_migrations", plugins / "proficiency_gap_migrations")
    monkeypatch.setenv("DISTRICTBENCH_PLUGINS_DIR", str(plugins))
    monkeypatch.setenv(PORTAL_ENV, portal.portal_url)
    portal.add_fault("status", status=500, path_contains="year=2021", times=1)  # retried

    assert ex.cli(db_url, "migrate").exit_code == 0
    backfill = ex.cli(db_url, "backfill", "enrollment", "ell", "texas_portal", "--years", "2018-2021",
                      "--states", "TX", api_url=federal_without_2021.url)
    assert backfill.exit_code == 0, backfill.output
    computed = ex.cli(db_url, "compute")
    assert computed.exit_code == 0, computed.output

    portal_asked = [p for p in portal.requests_log if p.startswith("/resource/")]
    assert portal_asked and all("year=" in p and "%24limit=1000" in p for p in portal_asked)
    assert not any("/resource/" in p for p in federal_without_2021.requests_log)  # --api-url does not move it

    shown = ex.cli(db_url, "show", HOUSTON, "--json")
    assert shown.exit_code == 0, shown.output
    view = json.loads(shown.stdout)
    metrics = {metric["key"]: metric for metric in view["metrics"]}
    latest, base = tapr(2021)[HOUSTON], tapr(2018)[HOUSTON]
    assert view["enrollment"] == int(latest["DPETALLC"])
    enrollment, ell, swd = (Decimal(latest[k]) for k in ("DPETALLC", "DPETLEPC", "DPETSPEC"))
    assert ex.dec(metrics["ell_pct"]["value"]) == q2(100 * ell / enrollment)
    assert ex.dec(metrics["swd_pct"]["value"]) == q2(100 * swd / enrollment)
    for key in ("ell_pct", "swd_pct", "student_teacher_ratio"):
        assert metrics[key]["data_year"] == 2021, key
        assert metrics[key]["trend_years"] == [2018, 2021], key
        assert "tea_tapr" in metrics[key]["source"], (key, metrics[key]["source"])
    for key, field in (("ell_pct", "DPETLEPC"), ("swd_pct", "DPETSPEC")):  # % change of the count
        assert ex.dec(metrics[key]["trend_3yr"]) == q2(100 * (Decimal(latest[field]) - Decimal(base[field]))
                                                       / Decimal(base[field])), key
    ratio = q2(q2(enrollment / Decimal(latest["DPSTTOFC"])) - q2(Decimal(base["DPETALLC"]) / Decimal(base["DPSTTOFC"])))
    assert ex.dec(metrics["student_teacher_ratio"]["trend_3yr"]) == ratio

    human = ex.cli(db_url, "show", HOUSTON)
    assert human.exit_code == 0
    assert "tea_tapr" in human.stdout and "2018-19→2021-22" in human.stdout
    assert "texas_portal: covers TX only" not in backfill.output  # only TX was asked


def test_the_readme_source_section_is_the_example():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### A source"):readme.index("### Measures and precedence")]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    shown, example = {}, {}
    exec(compile(code, "README.md", "exec"), shown)
    exec(compile((EXAMPLES / "texas_portal.py").read_text(), "texas_portal.py", "exec"), example)
    assert shown["TEXAS_PORTAL"] == dataclasses.replace(example["TEXAS_PORTAL"], description="")


# --- paginators over HTTP -------------------------------------------------------------------


def portal_rows(year: int) -> list[dict]:
    return [r for r in texas_tapr_portal(REAL).datasets[TAPR_DATASET] if r["year"] == str(year)]


def test_offset_limit_pages_a_plain_list_to_its_short_last_page(portal):
    with UrbanClient("http://127.0.0.1:9/unused", sleep=lambda s: None) as client:
        pages = client.fetch_pages(portal.portal_url + "/tapr-districts.json", {"year": 2021}, OffsetLimit(limit=500))
    expected = portal_rows(2021)
    assert [len(page) for page in pages] == [500, 500, len(expected) - 1000]
    assert [row for page in pages for row in page] == expected
    assert [p.split("%24offset=")[1] for p in portal.requests_log] == ["0", "500", "1000"]


def test_offset_limit_with_its_own_parameter_names_and_an_exact_last_page():
    rows = [{"n": str(i)} for i in range(6)]
    with FakeUrbanApi(Dataset({}), portal=StatePortal({"six": rows})) as api:
        with UrbanClient(api.url, sleep=lambda s: None) as client:
            assert client.fetch_all(api.portal_url + "/six.json", None, OffsetLimit(3)) == rows
        assert [p.split("?")[1] for p in api.requests_log] == [
            "%24limit=3&%24offset=0", "%24limit=3&%24offset=3", "%24limit=3&%24offset=6"]  # the last one empty
    with FakeUrbanApi(Dataset({}), portal=StatePortal({"six": rows}, ignore=("limit", "offset"))) as api:
        with UrbanClient(api.url, sleep=lambda s: None) as client:
            # names the portal does not know (ignored here): 1,000 rows where 2 were asked
            with pytest.raises(FetchError) as caught:
                client.fetch_all(api.portal_url + "/six.json", None, OffsetLimit(2, "limit", "offset"))
        assert api.requests_log == ["/resource/six.json?limit=2&offset=0"]
    assert caught.value.reason == "6 rows on a page asked with limit=2: the API ignores limit; nothing of it is used"


def test_offset_limit_refuses_a_server_that_ignores_the_offset():
    rows = [{"n": str(i)} for i in range(4)]
    with FakeUrbanApi(Dataset({}), portal=StatePortal({"four": rows}, ignore=("$offset",))) as api:
        with UrbanClient(api.url, sleep=lambda s: None) as client:
            with pytest.raises(FetchError) as caught:
                client.fetch_all(api.portal_url + "/four.json", None, OffsetLimit(2))
    assert caught.value.reason == ("the page at $offset=2 repeats the one before: the API ignores $offset; "
                                   "nothing of it is used")


def test_offset_limit_retries_a_500_and_a_slow_page(portal):
    portal.add_fault("status", status=500, path_contains="%24offset=500", times=2)
    with UrbanClient(portal.url, sleep=lambda s: None, deadline=0.5) as client:
        portal.add_fault("slow", path_contains="%24offset=1000", times=1, seconds=2.0)
        rows = client.fetch_all(portal.portal_url + "/tapr-districts.json", {"year": 2020}, OffsetLimit(500))
        assert rows == portal_rows(2020)
        assert client.request_count == 3 + 2 + 1


def test_a_plain_list_and_what_is_not_one(portal, fake_api):
    with UrbanClient(portal.url, sleep=lambda s: None) as client:
        rows = client.fetch_all(portal.portal_url + "/tapr-districts.json", {"year": 2019, "$limit": 5000}, PlainList())
        assert rows == portal_rows(2019)
        with pytest.raises(FetchError) as caught:  # an error object where a list belongs
            client.fetch_all(portal.portal_url + "/tapr-districts.json", {"no_such": 1}, PlainList())
        assert caught.value.reason == "HTTP 400: No such column: no_such"
    with UrbanClient(fake_api.url, sleep=lambda s: None) as client:
        with pytest.raises(FetchError) as caught:  # the Urban envelope is not a plain list
            client.fetch_all("school-districts/ccd/directory/2018/", {"fips": 5}, PlainList())
        assert "not a list of objects (a JSON object)" in caught.value.reason


def test_the_urban_envelope_is_the_default_and_refuses_a_plain_list(fake_api, portal):
    with UrbanClient(fake_api.url, sleep=lambda s: None) as client:
        default = client.fetch_all("school-districts/ccd/directory/2018/", {"fips": 5})
        assert default == client.fetch_all("school-districts/ccd/directory/2018/", {"fips": 5}, UrbanEnvelope())
        assert len(default) == len(ex.sample_districts(5))
        with pytest.raises(FetchError) as caught:
            client.fetch_all(portal.portal_url + "/tapr-districts.json", {"year": 2019})
        assert "response is a JSON list, not an object with count/next/results" in caught.value.reason


def test_a_cursor_follows_its_field_to_the_end_and_refuses_a_loop(portal):
    cursor = Cursor(records_key="data", cursor_key="next_cursor", cursor_param="cursor")
    with UrbanClient(portal.url, sleep=lambda s: None) as client:
        pages = client.fetch_pages(portal.portal_url + "/tapr-districts.cursor.json", {"year": 2021, "$limit": 400}, cursor)
        assert [row for page in pages for row in page] == portal_rows(2021)
        assert [len(page) for page in pages] == [400, 400, 400, len(portal_rows(2021)) - 1200]
        with pytest.raises(FetchError) as caught:  # the records are not where the cursor API has them
            client.fetch_all(portal.portal_url + "/tapr-districts.cursor.json", {"year": 2021},
                             Cursor(records_key="results"))
        assert caught.value.reason == "response is a JSON object without 'results'"
    looping = StatePortal({"d": [{"n": "1"}, {"n": "2"}]}, ignore=("cursor",))
    with FakeUrbanApi(Dataset({}), portal=looping) as api, UrbanClient(api.url, sleep=lambda s: None) as client:
        with pytest.raises(FetchError) as caught:  # the cursor is ignored: the same cursor comes back
            client.fetch_all(api.portal_url + "/d.cursor.json", {"$limit": 1}, cursor)
    assert caught.value.reason == "next link loops back to an already fetched URL"


# --- states and base URLs -------------------------------------------------------------------


def source(states=None, **endpoint) -> Source:
    return Source(name="s", history_source="s", endpoints=(Endpoint("x/{year}/", **endpoint),),
                  years=(2020, 2021), columns=("enrollment",), states=states)


def test_a_source_of_some_states_gets_units_for_those_only():
    plan = plan_units([source(("48",)), source(None)], [2021], ["06", "48"])
    assert sorted((u.source.states or (), u.state_fips) for u in plan.units) == [((), "06"), ((), "48"), (("48",), "48")]
    assert plan.notes == ["s: covers TX only"]
    none = plan_units([source(("48",))], [2021], ["06"])
    assert none.units == [] and none.notes == ["s: covers TX only; none of the states asked"]
    with pytest.raises(ValueError, match="two-digit FIPS"):
        source("48")


def test_an_absolute_base_url_is_not_rewritten_and_its_variable_overrides_it(monkeypatch):
    endpoint = Endpoint("data.json", base_url="https://portal.example/resource", base_url_env="X_PORTAL",
                        year_param="year", state_filter=None)
    monkeypatch.delenv("X_PORTAL", raising=False)
    assert endpoint.path(2021) == "https://portal.example/resource/data.json"
    assert endpoint.params(None, 2021) == {"year": 2021}
    client = UrbanClient("http://127.0.0.1:1/api/v1")
    assert client.listing_url(endpoint.path(2021), endpoint.params(None, 2021)) == \
        "https://portal.example/resource/data.json?year=2021"
    monkeypatch.setenv("X_PORTAL", "http://127.0.0.1:5/mirror/")
    assert endpoint.path(2021) == "http://127.0.0.1:5/mirror/data.json"
    with pytest.raises(ValueError, match="absolute"):
        Endpoint("data.json", base_url="resource/", year_param="year")
    with pytest.raises(ValueError, match="no `year`"):
        Endpoint("x/{year}/", year_param="year")
