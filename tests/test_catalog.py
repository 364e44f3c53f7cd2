"""The API's catalog (issue 10, item 2): `years_available` in every form it has had, the cache
(a day, per API base URL, `--refresh-catalog`), varlist look-ups, `latest`/`latest-N`, and how
the catalog turns into each source's years, filters and fields. Over real HTTP to the fake."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from districtbench.backfill.availability import built_in, resolve
from districtbench.backfill.plan import plan_units
from districtbench.errors import UsageError
from districtbench.fakeapi import Dataset, FakeUrbanApi
from districtbench.fakeapi import dataset as ds
from districtbench.fakeapi.catalog import Catalog as FakeCatalog, shipped_catalog
from districtbench.plugins.host import build_plugin_manager, collect_sources
from districtbench.urban import UrbanClient
from districtbench.urban.catalog import CatalogUnavailable, cache_path, load_catalog
from districtbench.urban.years import YearsTextError, format_years_available, parse_years_available
from districtbench.yearspec import Latest, years_for

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "urban-api-samples"
needs_real = pytest.mark.skipif(not REAL.is_dir(), reason=f"real API samples not found at {REAL}")


@pytest.mark.parametrize("text, years", [
    ("1986&ndash;2024", range(1986, 2025)),
    ("1991, 1994&ndash;2020", [1991, *range(1994, 2021)]),
    ("1995, 1997, and 1999&ndash;2024", [1995, 1997, *range(1999, 2025)]),
    ("1995, 1997, 1999&ndash;2024", [1995, 1997, *range(1999, 2025)]),
    ("1986-2024", range(1986, 2025)),  # older releases: a plain hyphen
    ("1986 - 2008, 2010-2023", [*range(1986, 2009), *range(2010, 2024)]),
    ("2009\u20132018, 2020", [*range(2009, 2019), 2020]),  # an en dash as a character
    ("2013, 2015, 2017, 2020, 2021, 2022", [2013, 2015, 2017, 2020, 2021, 2022]),
    ("2018", [2018]),
])
def test_years_available_in_every_form(text, years):
    assert parse_years_available(text) == tuple(years)
    assert parse_years_available(format_years_available(years)) == tuple(years)


@pytest.mark.parametrize("text", ["-", "", "soon", "2020&ndash;2018", None, 2020, "20-21"])
def test_unreadable_years_available_is_an_error(text):
    with pytest.raises(YearsTextError):
        parse_years_available(text)


@needs_real
def test_every_years_available_of_the_real_catalog_parses():
    rows = json.loads((REAL / "api-endpoints_catalog_2026.json").read_text())["results"]
    parsed = {row["endpoint_url"]: parse_years_available(row["years_available"]) for row in rows}
    assert len(parsed) == 129
    assert parsed["/api/v1/schools/crdc/chronic-absenteeism/{year}/race/sex/"] == (2013, 2015, 2017, 2020, 2021, 2022)
    assert parsed["/api/v1/schools/crdc/enrollment/{year}/race/sex/"] == (2011, 2013, 2015, 2017, 2020, 2021)
    assert parsed["/api/v1/school-districts/saipe/{year}/"] == (1995, 1997, *range(1999, 2025))


@pytest.mark.parametrize("spec, available, expected", [
    (Latest(0), (2013, 2015, 2017, 2020, 2021), [2021]),
    (Latest(2), (2013, 2015, 2017, 2020, 2021), [2017, 2020, 2021]),  # counts the years it HAS
    (Latest(2), range(1986, 2025), [2022, 2023, 2024]),
    (Latest(9), (2018, 2020), [2018, 2020]),
    ([2019, 2020, 2021], (2018, 2020), [2020]),
])
def test_latest_years_per_source(spec, available, expected):
    assert years_for(spec, available) == expected


@pytest.fixture(scope="module")
def registry():
    return collect_sources(build_plugin_manager(load_entry_points=False))


def test_a_source_has_the_years_all_its_endpoints_have_and_says_why_not_others(fake_api, registry, tmp_path):
    sources = list(registry)
    with UrbanClient(fake_api.url, max_retries=0) as client:
        catalog = load_catalog(client, fake_api.url, [e.template for s in sources for e in s.endpoints], cache_dir=tmp_path)
    availability = resolve(sources, catalog)
    absenteeism = next(s for s in availability.statuses if s.source.name == "absenteeism")
    assert absenteeism.source.years == (2013, 2015, 2017, 2020, 2021)
    assert absenteeism.gaps == {2011: "schools/crdc/chronic-absenteeism/{year}/race/sex/ has no 2011",
                                2022: "schools/crdc/enrollment/{year}/race/sex/ has no 2022"}
    plan = plan_units(availability.sources, [2021, 2022], ["05"], gaps=availability.gaps)
    assert "absenteeism: skipping 2022 (schools/crdc/enrollment/{year}/race/sex/ has no 2022)" in plan.notes
    with pytest.raises(UsageError, match=r"absenteeism has no data for 2022 \(schools/crdc/enrollment"):
        plan_units([absenteeism.source], [2022], ["05"], strict_years=True, gaps=availability.gaps)
    latest = plan_units(availability.sources, Latest(2), ["05"])
    years = {name: sorted({u.year for u in latest.units if u.source.name == name}) for name in registry.names()}
    assert years["absenteeism"] == [2017, 2020, 2021]
    assert years["finance"] == [2018, 2019, 2020] and years["enrollment"] == [2022, 2023, 2024]
    assert years["assessments"] == [2017, 2018, 2020] and not latest.notes


def test_a_year_the_catalog_adds_is_there_without_a_code_change(registry, tmp_path):
    dataset = Dataset({(ds.DIRECTORY, 2025): [{"leaid": "0500001", "fips": 5}]},
                      valid_years={ds.DIRECTORY: range(1986, 2026)})
    with FakeUrbanApi(dataset) as api, UrbanClient(api.url, max_retries=0) as client:
        catalog = load_catalog(client, api.url, [ds.DIRECTORY], cache_dir=tmp_path)
    enrollment = resolve([registry["enrollment"]], catalog).sources[0]
    assert registry["enrollment"].years[-1] == 2024 and enrollment.years[-1] == 2025
    assert years_for(Latest(0), enrollment.years) == [2025]


def test_the_catalog_is_cached_for_a_day_per_api_and_refreshed_on_demand(fake_api, tmp_path):
    templates = [ds.DIRECTORY, ds.FINANCE]
    with UrbanClient(fake_api.url, max_retries=0, keep_results=False) as client:
        first = load_catalog(client, fake_api.url, templates, cache_dir=tmp_path)
        asked = len(fake_api.requests_log)
        assert asked == 3 and not first.from_cache  # the catalog and two varlists
        assert "api-endpoint-varlist/?endpoint_id=54" in " ".join(fake_api.requests_log)
        again = load_catalog(client, fake_api.url, templates, cache_dir=tmp_path)
        assert again.from_cache and len(fake_api.requests_log) == asked
        assert again.entries == first.entries and again.varlists == first.varlists
        # one more endpoint: only its varlist is asked for
        load_catalog(client, fake_api.url, [*templates, ds.SAIPE], cache_dir=tmp_path)
        assert len(fake_api.requests_log) == asked + 1
        load_catalog(client, fake_api.url, templates, cache_dir=tmp_path, refresh=True)
        assert len(fake_api.requests_log) == asked + 1 + 3
        # a day later the cached copy is stale
        tomorrow = datetime.now(timezone.utc) + timedelta(days=1, minutes=1)
        stale = load_catalog(client, fake_api.url, templates, cache_dir=tmp_path, now=tomorrow)
        assert not stale.from_cache and len(fake_api.requests_log) == asked + 1 + 3 + 3
    # another API base URL has a cache file of its own
    assert cache_path(tmp_path, fake_api.url) != cache_path(tmp_path, "https://educationdata.urban.org/api/v1")
    assert cache_path(tmp_path, fake_api.url).is_file()


def test_a_corrupt_cache_is_ignored(fake_api, tmp_path):
    cache_path(tmp_path, fake_api.url).write_text("{not json", encoding="utf-8")
    with UrbanClient(fake_api.url, max_retries=0) as client:
        catalog = load_catalog(client, fake_api.url, [ds.DIRECTORY], cache_dir=tmp_path)
    assert not catalog.from_cache and catalog.entry_for(ds.DIRECTORY) is not None
    assert json.loads(cache_path(tmp_path, fake_api.url).read_text())["api_url"] == fake_api.url


def test_an_unreachable_catalog_is_reported(fake_api, tmp_path, registry):
    fake_api.add_fault("status", status=503, path_contains="api-endpoints/", times=None)
    with UrbanClient(fake_api.url, max_retries=1, backoff_base=0) as client, pytest.raises(CatalogUnavailable) as caught:
        load_catalog(client, fake_api.url, [ds.DIRECTORY], cache_dir=tmp_path)
    assert "HTTP 503" in caught.value.reason
    fallback = built_in([registry["absenteeism"]], caught.value.reason)
    assert fallback.sources[0].years == registry["absenteeism"].years
    assert fallback.warnings == [f"the API's catalog could not be read ({caught.value.reason}); using the built-in years"]


def test_the_varlist_is_asked_by_var_list_id_when_endpoint_id_gives_nothing(tmp_path, registry):
    shipped = shipped_catalog()
    # the directory's variables filed under its var_list_id (36) instead of its endpoint_id (54)
    varlist = [dict(row, endpoint_id="36") if row["endpoint_id"] == "54" else row for row in shipped.varlist]
    dataset = Dataset(catalog=FakeCatalog(shipped.endpoints, varlist))
    with FakeUrbanApi(dataset) as api, UrbanClient(api.url, max_retries=0) as client:
        catalog = load_catalog(client, api.url, [ds.DIRECTORY], cache_dir=tmp_path)
        asked = [t for t in api.requests_log if "varlist" in t]
    entry = catalog.entry_for(ds.DIRECTORY)
    assert asked == ["/api/v1/api-endpoint-varlist/?endpoint_id=54", "/api/v1/api-endpoint-varlist/?endpoint_id=36"]
    assert "enrollment" in {v.name for v in catalog.variables(entry)}
    assert not resolve([registry["enrollment"]], catalog).blocked


def _catalog_without(variable: str, endpoint_id: str, *, only_filter: bool = False) -> FakeCatalog:
    """The shipped catalog with one variable of one endpoint gone (or no longer a filter)."""
    shipped = shipped_catalog()
    varlist = []
    for row in shipped.varlist:
        if row["endpoint_id"] == endpoint_id and row["variable"] == variable:
            if not only_filter:
                continue
            row = dict(row, is_filter="None")
        varlist.append(row)
    return FakeCatalog(shipped.endpoints, varlist)


def test_a_required_field_gone_from_the_varlist_blocks_its_source_only(tmp_path, registry):
    dataset = Dataset(catalog=_catalog_without("english_language_learners", "54"))
    with FakeUrbanApi(dataset) as api, UrbanClient(api.url, max_retries=0) as client:
        catalog = load_catalog(client, api.url, [ds.DIRECTORY], cache_dir=tmp_path)
    availability = resolve([registry["enrollment"], registry["ell"]], catalog)
    assert availability.blocked == {"ell": "field 'english_language_learners' no longer in the API's variable "
                                           "list of school-districts/ccd/directory/{year}/ (renamed?); the source "
                                           "plugin needs updating"}


def test_only_filter_variables_are_sent_as_filters(tmp_path, registry):
    dataset = Dataset(catalog=_catalog_without("sex", "60", only_filter=True))
    with FakeUrbanApi(dataset) as api, UrbanClient(api.url, max_retries=0) as client:
        catalog = load_catalog(client, api.url, [e.template for e in registry["absenteeism"].endpoints], cache_dir=tmp_path)
    availability = resolve([registry["absenteeism"]], catalog)
    absent, enrolled = availability.sources[0].endpoints
    assert "sex" in absent.filters and "sex" not in enrolled.filters
    assert "sex" in enrolled.fields  # still read: the source checks it on the rows
    assert availability.notes == ["absenteeism: sex not a filter variable of schools/crdc/enrollment/{year}/race/sex/; "
                                  "not sent (the rows are checked instead)"]
    # an optional name the varlist does not know is not asked for
    assert "chronic_absent" in registry["absenteeism"].endpoints[0].fields and "chronic_absent" not in absent.fields
