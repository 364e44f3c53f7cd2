"""The seven built-in sources register through the plugin host with their declarations."""

import json
from pathlib import Path

import pytest

from districtbench.db import tables
from districtbench.plugins.host import DEFAULT_PLUGINS, build_plugin_manager, collect_sources
from districtbench.sources.base import Source

SOURCE_MODULES = tuple(name for name in DEFAULT_PLUGINS if name.startswith("districtbench.sources."))

EXPECTED = {
    "enrollment": ("ccd_directory", ("school-districts/ccd/directory/{year}/",), range(1986, 2025)),
    "ell": ("ccd_directory", ("school-districts/ccd/directory/{year}/",), range(1986, 2025)),
    "finance": ("ccd_finance", ("school-districts/ccd/finance/{year}/",), [1991, *range(1994, 2021)]),
    "poverty": ("saipe", ("school-districts/saipe/{year}/",), [1995, 1997, *range(1999, 2025)]),
    "graduation": ("edfacts_grad", ("school-districts/edfacts/grad-rates/{year}/",), range(2010, 2020)),
    "assessments": ("edfacts_assess", ("school-districts/edfacts/assessments/{year}/grade-99/",),
                    [*range(2009, 2019), 2020]),
    "absenteeism": ("crdc_absenteeism", ("schools/crdc/chronic-absenteeism/{year}/race/sex/",
                                         "schools/crdc/enrollment/{year}/race/sex/"),
                    [2013, 2015, 2017, 2020, 2021]),  # both endpoints' years; absenteeism alone has 2022
}


@pytest.fixture(scope="module")
def sources():
    pm = build_plugin_manager(default_plugins=SOURCE_MODULES, load_entry_points=False)
    return collect_sources(pm)


# schema.md: the `source` values of the built-in sources
BUILT_IN_HISTORY_SOURCES = ("ccd_directory", "ccd_finance", "saipe", "edfacts_grad", "edfacts_assess", "crdc_absenteeism")


def test_seven_sources_register(sources):
    assert sorted(sources.names()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_declarations(sources, name):
    source = sources[name]
    history_source, endpoints, years = EXPECTED[name]
    assert isinstance(source, Source)
    assert source.history_source == history_source in BUILT_IN_HISTORY_SOURCES
    assert tuple(endpoint.key for endpoint in source.endpoints) == endpoints
    assert source.years == tuple(years)
    assert source.columns and all(column in tables.district_data_history.c for column in source.columns)
    assert source.provides_roster is (name in ("enrollment", "ell"))
    assert source.description


def test_history_columns_are_not_shared_between_sources(sources):
    seen = [column for source in sources for column in source.columns]
    assert len(seen) == len(set(seen))


REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "urban-api-samples"
needs_real = pytest.mark.skipif(not REAL.is_dir(), reason=f"real API samples not found at {REAL}")
# What each source must ask for (issue 10): the filters that select the all-students rows, and
# the fields it reads plus the weights of the pooled averages to come.
REQUESTS = {
    "enrollment": ({}, {"leaid", "fips", "lea_name", "enrollment", "teachers_total_fte"}),
    "ell": ({}, {"leaid", "fips", "english_language_learners"}),
    "finance": ({}, {"exp_current_elsec_total", "enrollment_fall_responsible", "rev_total"}),
    "poverty": ({}, {"est_population_5_17", "est_population_5_17_poverty"}),
    "graduation": (dict.fromkeys(("race", "lep", "homeless", "disability", "econ_disadvantaged", "foster_care"), 99),
                   {"cohort_num", "grad_rate_midpt"}),
    "assessments": ({}, {"math_test_num_valid", "read_test_num_valid", "math_test_pct_prof_midpt"}),
}


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_district_sources_ask_for_their_filters_and_fields(sources, name):
    filters, fields = REQUESTS[name]
    (endpoint,) = sources[name].endpoints
    assert dict(endpoint.filters) == filters
    assert fields <= set(endpoint.fields)
    assert endpoint.params("06")["fips"] == 6


def test_absenteeism_asks_for_the_all_students_row_of_each_school(sources):
    absent, enrolled = sources["absenteeism"].endpoints
    assert dict(absent.filters) == dict.fromkeys(("race", "sex", "disability", "lep", "homeless"), 99)
    assert dict(enrolled.filters) == dict.fromkeys(("race", "sex", "disability", "lep"), 99)  # it has no homeless
    assert "enrollment_crdc" in enrolled.fields and "students_chronically_absent" in absent.fields
    assert absent.params("05") == {"fips": 5, **absent.filters, "fields": ",".join(absent.fields)}


@needs_real
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_requests_match_the_real_catalog_and_varlist(sources, name):
    """Every endpoint is in the real catalog; every filter is a filter variable of its
    endpoint, every required field a variable of it (one name of an `a|b`)."""
    catalog = json.loads((REAL / "api-endpoints_catalog_2026.json").read_text())["results"]
    varlist = json.loads((REAL / "api-endpoint-varlist_2026_subset.json").read_text())["results"]
    for endpoint in sources[name].endpoints:
        (entry,) = [row for row in catalog if row["endpoint_url"] == "/api/v1/" + endpoint.template]
        variables = {row["variable"]: row["is_filter"] == "1" for row in varlist
                     if row["endpoint_id"] == str(entry["endpoint_id"])}
        assert all(variables.get(name) for name in endpoint.filters), endpoint.key
        assert variables.get(endpoint.state_filter) is True
        for spec in endpoint.required:
            assert any(alternative in variables for alternative in spec.split("|")), spec
