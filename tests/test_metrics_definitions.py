"""The metric table and the family declarations agree with the schema (no database needed)."""

from __future__ import annotations

from collections import Counter

from districtbench.db import tables
from districtbench.metrics.definitions import FIGURES, LATEST_VALUES, METRICS, SERIES, TRENDS, YEAR_COLUMNS
from tests.metrics_helpers import registry


def test_the_eight_metrics_are_the_schema_keys():
    assert tuple(metric.key for metric in METRICS) == tables.METRIC_KEYS
    assert {metric.trend_column for metric in METRICS} == set(tables.TREND_COLUMNS)
    assert [metric.higher_is_better for metric in METRICS] == [False, True, False, None, None, True, True, None]


def test_every_named_column_exists():
    d, s, h = tables.districts.c, tables.states.c, tables.district_data_history.c
    for metric in METRICS:
        for name in (metric.district_column, metric.trend_column, metric.vs_state_column,
                     metric.vs_national_column, metric.quartile_column):
            assert name in d, name
        assert metric.average_column in s
        assert all(column in h for column in metric.history.columns)
        if metric.district_ratio:  # read from the history row, stored in districts too
            assert all(column in h and column in d for column in metric.district_ratio.columns)
    for value in LATEST_VALUES:
        assert value.column in d and value.history_column in h
    for year_column, of in YEAR_COLUMNS:
        assert year_column in d and of in {value.column for value in LATEST_VALUES}
    assert {c.name for c in tables.districts.c if c.name.endswith("_year")} == {c for c, _ in YEAR_COLUMNS}
    for trend in TRENDS:
        assert trend.column in d and all(column in h for column in trend.quantity.columns)
    for series in SERIES:
        assert all(column in h for column in series.columns)
    figures = [figure.column for figure in FIGURES]
    assert len(figures) == len(set(figures)) == 12 + 3 + 10  # latest values, ratios, trends
    assert all(len(name) <= tables.figure_years.c.figure.type.length for name in figures)
    assert {"absenteeism_vs_state", "graduation_quartile_state", "expenditure_pp_vs_national"} <= {
        name for metric in METRICS for name in (metric.vs_state_column, metric.vs_national_column,
                                                metric.quartile_column)
    }


def test_families_declare_what_they_write_and_cover_every_benchmark_column():
    families = list(registry())
    assert {f.name: f.runs_after for f in families} == {
        "latest": (), "ratios": ("latest",), "averages": ("ratios",), "trends": ("latest",), "deltas": ("averages",),
        "peers": ("averages",),
    }
    written = Counter(column for family in families for column in family.columns)
    assert max(written.values()) == 1, "two families write the same column"
    for column in written:
        table, name = column.split(".")
        own = f"{tables.OWN_SCHEMA}.{table}"  # districtbench's own tables (the peers family's)
        assert name in tables.metadata.tables.get(table, tables.metadata.tables.get(own)).c, column
    for table in ("districts", "states"):
        for name, _type in tables.BENCHMARK_COLUMNS[table]:
            assert f"{table}.{name}" in written, f"{table}.{name} is written by no family"
    for name in ("enrollment", "student_teacher_ratio", "enrollment_trend_3yr", "staffing_trend_3yr",
                 "vacancy_pressure_signal", "urban_institute_year"):
        assert f"districts.{name}" in written
    for name in ("total_districts", "total_enrollment", "avg_expenditure_per_pupil", "avg_graduation_rate",
                 "avg_poverty_rate", "aggregates_updated_at"):
        assert f"states.{name}" in written


# What each figure was read from before sources declared their measures (issue 16.1): the
# built-in sources' declarations must give exactly this, one source per figure.
BUILT_IN_SOURCE_OF = {
    "ccd_directory": ("enrollment", "teachers_fte", "staff_total_fte", "spec_ed_students", "ell_students",
                      "swd_pct", "ell_pct", "student_teacher_ratio", "enrollment_trend_3yr", "staffing_trend_3yr",
                      "swd_trend_3yr", "ell_trend_3yr", "student_teacher_ratio_trend_3yr"),
    "ccd_finance": ("total_expenditure", "expenditure_per_pupil", "expenditure_pp_trend_3yr"),
    "saipe": ("children_poverty_percent",),
    "edfacts_grad": ("graduation_rate_total", "graduation_trend_3yr"),
    "edfacts_assess": ("math_proficiency_pct", "read_proficiency_pct", "math_proficiency_trend_3yr",
                       "read_proficiency_trend_3yr"),
    "crdc_absenteeism": ("chronic_absenteeism_rate", "absenteeism_trend_3yr"),
}


def test_the_built_in_sources_declare_one_source_for_every_figure():
    from districtbench.metrics.measures import built_in

    measures = built_in()
    found = {figure.column: measures.sources_of(figure.series.columns) for figure in FIGURES}
    expected = {figure: (source,) for source, figures in BUILT_IN_SOURCE_OF.items() for figure in figures}
    assert found == expected


def test_precedence_highest_priority_then_registration_order():
    from districtbench.metrics.measures import from_sources
    from districtbench.sources.base import Source

    def source(name, history_source, columns, **kw):
        return Source(name=name, history_source=history_source, endpoints=(), years=(), columns=columns, **kw)

    federal = source("graduation", "edfacts_grad", ("graduation_rate",))
    portal = source("portal", "tx_portal", ("graduation_rate", "notes"), provides=("graduation_rate",))
    eager = source("eager", "eager_portal", ("graduation_rate",), priority=1)
    measures = from_sources([federal, portal, eager])
    assert measures.sources_of(["graduation_rate"]) == ("eager_portal", "edfacts_grad", "tx_portal")
    assert measures.sources_of(["notes"]) == ()  # written, but not declared as a measure
    # two plugins writing one history source provide the union of their measures
    merged = from_sources([source("a", "ccd", ("enrollment",)), source("b", "ccd", ("ell_students",))])
    assert merged.sources_of(["enrollment", "ell_students"]) == ("ccd",)
