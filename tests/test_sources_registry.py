"""The seven built-in sources register through the plugin host with their declarations."""

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
                    [2013, 2015, 2017, 2020, 2021, 2022]),
}


@pytest.fixture(scope="module")
def sources():
    pm = build_plugin_manager(default_plugins=SOURCE_MODULES, load_entry_points=False)
    return collect_sources(pm)


def test_seven_sources_register(sources):
    assert sorted(sources.names()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_declarations(sources, name):
    source = sources[name]
    history_source, endpoints, years = EXPECTED[name]
    assert isinstance(source, Source)
    assert source.history_source == history_source in tables.HISTORY_SOURCES
    assert source.endpoints == endpoints
    assert source.years == tuple(years)
    assert set(source.required_fields) <= set(source.endpoints)
    assert source.columns and all(column in tables.district_data_history.c for column in source.columns)
    assert source.provides_roster is (name in ("enrollment", "ell"))
    assert source.description


def test_history_columns_are_not_shared_between_sources(sources):
    seen = [column for source in sources for column in source.columns]
    assert len(seen) == len(set(seen))
