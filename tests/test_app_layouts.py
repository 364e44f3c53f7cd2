"""districtbench inside the app's database as it really is: the February 2026 (plan) and the
June 2026 (renamed) layouts, each with the app's own columns, NOT NULL columns without a
default, foreign keys and rows (tests/app_layouts.py), on SQLite and PostgreSQL.

Adopting must leave the app's own writes working, add nothing but nullable columns to the
app's tables, follow the app's renamed columns (and never add the old names), and keep
districtbench's bookkeeping out of the app's schema; backfill and compute must then write
into the app's physical columns (checked with raw SQL against tests/backfill_expected.py).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from districtbench.fakeapi import FakeUrbanApi, load_dataset
from tests import app_layouts
from tests import backfill_expected as expected
from tests import expected as ex

LAYOUTS = ("plan", "renamed")
RUN = ("run", "--years", "2013,2015,2018", "--states", "AK,AR")
STATES = {"AK": "02", "AR": "05"}
YEARS = (2013, 2015, 2018)
OWN_TABLES = {"districtbench_alembic_version", "districtbench_fetch_units", "districtbench_created_objects",
              "districtbench_column_map", "districtbench_figure_years",
              "districtbench_history_extras", "districtbench_peer_groups",
              "districtbench_peers", "districtbench_peer_benchmarks", "districtbench_family_inputs"}
HISTORY = {  # history source -> its logical columns (schema.md)
    "ccd_directory": ("enrollment", "teachers_fte", "staff_total_fte", "spec_ed_students", "ell_students"),
    "ccd_finance": ("total_revenue", "federal_revenue", "state_revenue", "local_revenue", "total_expenditure",
                    "sped_expenditure", "expenditure_pp"),
    "saipe": ("poverty_pct",),
    "edfacts_grad": ("graduation_rate",),
    "edfacts_assess": ("math_proficiency", "read_proficiency"),
    "crdc_absenteeism": ("chronic_absenteeism_rate",),
}
SOURCE_YEARS = {"ccd_finance": range(1994, 2021), "edfacts_grad": range(2010, 2020),
                "crdc_absenteeism": (2013, 2015, 2017, 2020, 2021, 2022)}


def physical(layout: str, table: str, logical: str) -> str:
    return app_layouts.RENAMES.get((table, logical), logical) if layout == "renamed" else logical


def describe_app(engine, names) -> dict:
    """Every column (type, nullability, default), key, index and unique of the app's tables."""
    with engine.connect() as connection:
        inspector = sa.inspect(connection)
        return {
            name: {
                "columns": {c["name"]: (str(c["type"]), c["nullable"], str(c.get("default"))) for c in inspector.get_columns(name)},
                "pk": inspector.get_pk_constraint(name)["constrained_columns"],
                "fks": sorted(str(fk) for fk in inspector.get_foreign_keys(name)),
                "indexes": sorted(str(ix) for ix in inspector.get_indexes(name)),
                "uniques": sorted(str(uq) for uq in inspector.get_unique_constraints(name)),
            }
            for name in names
        }


def rows(engine, sql: str) -> list[tuple]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(sa.text(sql))]


def tables_by_schema(engine) -> dict[str | None, set[str]]:
    with engine.connect() as connection:
        inspector = sa.inspect(connection)
        found = {None: set(inspector.get_table_names())}
        for schema in inspector.get_schema_names():
            if schema not in ("information_schema", "public", "main") and not schema.startswith("pg_"):
                found[schema] = set(inspector.get_table_names(schema=schema))
        return found


@pytest.fixture(params=LAYOUTS)
def layout(request) -> str:
    return request.param


@pytest.fixture
def app(database_factory, layout):
    url = database_factory.new_url()
    engine = database_factory.engine(url)
    app_layouts.build(engine, layout)
    return url, engine


# --- adopting ------------------------------------------------------------------------------------


def test_adopting_leaves_the_apps_tables_and_writes_working(app, layout, db_kind):
    url, engine = app
    names = app_layouts.APP_TABLES[layout]
    before = describe_app(engine, names)
    districts_before = rows(engine, "SELECT leaid, name, slug, sales_rep, notes, created_at, updated_at FROM districts ORDER BY leaid")
    opportunities_before = rows(engine, "SELECT * FROM opportunities ORDER BY id")

    result = ex.cli(url, "migrate")
    assert result.exit_code == 0, result.output
    after = describe_app(engine, names)
    for name in names:
        # the app's columns exactly as they were; no key, index, unique or foreign key added
        assert {c: after[name]["columns"][c] for c in before[name]["columns"]} == before[name]["columns"], name
        for part in ("pk", "fks", "indexes", "uniques"):
            assert after[name][part] == before[name][part], (name, part)
        # what districtbench added: nullable, without a default
        added = {c: d for c, d in after[name]["columns"].items() if c not in before[name]["columns"]}
        assert all(nullable and default == "None" for _, nullable, default in added.values()), (name, added)
    assert opportunities_before == rows(engine, "SELECT * FROM opportunities ORDER BY id")
    assert districts_before == rows(engine, "SELECT leaid, name, slug, sales_rep, notes, created_at, updated_at FROM districts ORDER BY leaid")

    app_layouts.run_app_inserts(engine, layout)  # raises if the database refuses one of the app's writes
    if layout == "renamed":  # the app's renamed columns are used, the old names never added
        for table, old_names in app_layouts.OLD_NAMES.items():
            assert not old_names & set(after[table]["columns"]), table
    placed = tables_by_schema(engine)
    if db_kind == "postgresql":
        assert placed[None] == set(names)  # the app's schema: the app's tables, nothing of districtbench's
        assert placed["districtbench"] == OWN_TABLES
    else:
        assert placed[None] == set(names) | OWN_TABLES


def test_adopting_the_smallest_districts_table_keeps_the_apps_insert_working(database_factory):
    url = database_factory.new_url()
    engine = database_factory.engine(url)
    app_layouts.build(engine, "minimal")
    assert ex.cli(url, "migrate").exit_code == 0
    app_layouts.run_app_inserts(engine, "minimal")  # INSERT INTO districts (leaid, name, sales_rep) …
    assert rows(engine, "SELECT leaid, name, sales_rep, state_fips, updated_at FROM districts ORDER BY leaid") == [
        ("0600001", "First", "Kim", None, None), ("0600002", "Second", "Ana", None, None)]


def test_migrate_says_what_it_did_not_add_and_what_will_fail(database_factory, db_kind):
    url = database_factory.new_url()
    engine = database_factory.engine(url)
    app_layouts.build(engine, "renamed")
    result = ex.cli(url, "migrate")
    assert result.exit_code == 0, result.output
    message = " ".join(result.stderr.split())
    assert "districts.graduation_rate_total → graduation_rate" in message
    assert "district_data_history.poverty_pct → poverty_percent" in message
    # the unique key the history upsert needs: reported with the exact statement, not added
    assert "district_data_history has no unique key on (leaid, year, source)" in message
    assert app_layouts.FIXES[db_kind]["unique"] in message
    # 12.15: an app column NOT NULL without a default that districtbench's inserts leave NULL
    assert "the app's column sales_rep is NOT NULL without a default" in message
    assert "every roster write" in message
    if db_kind == "postgresql":
        assert app_layouts.FIXES[db_kind]["sales_rep"] in message
    with engine.connect() as connection:
        assert not [u for u in sa.inspect(connection).get_unique_constraints("district_data_history")]


def test_backfill_stops_before_fetching_when_the_apps_table_refuses_its_rows(database_factory, db_kind, fake_api):
    url = database_factory.new_url()
    engine = database_factory.engine(url)
    app_layouts.build(engine, "renamed")
    assert ex.cli(url, "migrate").exit_code == 0
    result = ex.cli(url, "backfill", "enrollment", "--years", "2018", "--states", "AK", api_url=fake_api.url)
    assert result.exit_code == 2, result.output
    assert "sales_rep is NOT NULL without a default" in " ".join(result.stderr.split())
    assert "Traceback" not in result.output and "[SQL:" not in result.output
    assert [t for t in fake_api.requests_log if "/api-endpoint" not in t] == []  # nothing was fetched (but the catalog)
    # without the roster source, the missing unique key of the history is what stops it
    poverty = ex.cli(url, "backfill", "poverty", "--years", "2018", "--states", "AK", api_url=fake_api.url)
    assert poverty.exit_code == 2
    assert "no unique key on (leaid, year, source)" in " ".join(poverty.stderr.split())
    assert [t for t in fake_api.requests_log if "/api-endpoint" not in t] == []  # the catalog only


# --- backfill and compute into the app's columns --------------------------------------------------


@pytest.fixture
def filled(database_factory, layout, db_kind):
    """The app database of `layout`, migrated, fixed as migrate said, then `run` against the fake API."""
    url = database_factory.new_url()
    engine = database_factory.engine(url)
    app_layouts.build(engine, layout, fixed=True)
    assert ex.cli(url, "migrate").exit_code == 0
    app_layouts.apply_fixes(engine, layout)
    ex.warm_dataset()
    with FakeUrbanApi(load_dataset(), page_size=200) as api:
        result = ex.cli(url, *RUN, api_url=api.url)
    assert result.exit_code == 0, result.output
    return url, engine


def _roster() -> dict[str, dict]:
    roster = {}
    for fips in STATES.values():
        roster.update({leaid: attributes for leaid, (_, attributes) in expected.directory(2018, fips).items()})
    return roster


def test_backfill_writes_the_apps_physical_history_columns(filled, layout):
    url, engine = filled
    roster = _roster()
    for source, logical_columns in HISTORY.items():
        names = [physical(layout, "district_data_history", c) for c in logical_columns]
        got = {
            (row[0], row[1]): {c: ex.dec(v) if v is not None else None for c, v in zip(logical_columns, row[2:])}
            for row in rows(engine, f"SELECT year, leaid, {', '.join(names)} FROM district_data_history "
                                    f"WHERE source = '{source}' AND leaid <> '0299999'")
        }
        want = {}
        for year in YEARS:
            if year not in SOURCE_YEARS.get(source, (year,)):
                continue
            for fips in STATES.values():
                for leaid, values in expected.CALCULATIONS[source](year, fips).items():
                    if leaid in roster:
                        want[(year, leaid)] = values
        assert got == want, source
        assert any(v is not None for values in want.values() for v in values.values()), source
    if layout == "renamed":  # the app's timestamps: set on every row districtbench wrote
        assert rows(engine, "SELECT count(*) FROM district_data_history WHERE updated_at IS NULL OR created_at IS NULL") == [(0,)]
        assert rows(engine, "SELECT count(*) FROM data_refresh_logs WHERE created_at IS NULL") == [(0,)]
        # the app's own history row is untouched
        assert [(year, ex.dec(value)) for year, value in rows(
            engine, "SELECT year, poverty_percent FROM district_data_history WHERE leaid = '0299999'")] == [
            (2017, Decimal("12.34"))]


def test_the_roster_updates_its_columns_and_leaves_the_apps_own(filled):
    url, engine = filled
    (row,) = rows(engine, "SELECT name, city_location, slug, sales_rep, notes, created_at FROM districts WHERE leaid = '0200050'")
    attributes = _roster()["0200050"]
    assert row[0] == attributes["name"] and row[1] == attributes["city_location"]  # roster columns
    assert row[2:5] == ("alaska-gateway", "Dana", "renewal in May")  # the app's columns
    assert str(row[5]).startswith("2025-01-02 03:04:05.678")  # created_at of the app's row kept


def test_compute_writes_the_apps_renamed_district_column(filled, layout):
    url, engine = filled
    column = physical(layout, "districts", "graduation_rate_total")
    got = {leaid: value for leaid, value in rows(engine, f"SELECT leaid, {column} FROM districts WHERE {column} IS NOT NULL")}
    roster = _roster()
    # as-of year: the latest graduation year of the run (2013) for both states
    want = {leaid: values["graduation_rate"] for fips in STATES.values()
            for leaid, values in expected.CALCULATIONS["edfacts_grad"](2013, fips).items()
            if leaid in roster and values["graduation_rate"] is not None}
    assert {k: ex.dec(v) for k, v in got.items()} == want and len(want) > 50


def test_status_show_and_export_on_the_apps_layout(filled, layout):
    url, engine = filled
    status = ex.cli(url, "status")
    assert status.exit_code == 0, status.output
    text = " ".join(status.stdout.split())
    if layout == "renamed":
        assert "districts.graduation_rate_total → graduation_rate" in text
        assert "district_data_history.expenditure_pp → expenditure_per_pupil" in text
    else:
        assert "The app's column names in use" not in text
    (value,) = rows(engine, f"SELECT {physical(layout, 'districts', 'graduation_rate_total')} FROM districts WHERE leaid = '0200050'")[0]
    show = ex.cli(url, "show", "0200050", "--json")
    assert show.exit_code == 0, show.output
    import json

    graduation = next(m for m in json.loads(show.stdout)["metrics"] if m["key"] == "graduation")
    assert Decimal(str(graduation["value"])) == ex.dec(value)
    export = ex.cli(url, "export", "--states", "AK", "--format", "json")
    assert export.exit_code == 0, export.output
    by_leaid = {row["leaid"]: row for row in json.loads(export.stdout)}
    # export uses districtbench's names whatever the app calls the column
    assert "graduation_rate_total" in by_leaid["0200050"] and "graduation_rate" not in by_leaid["0200050"]
    assert Decimal(str(by_leaid["0200050"]["graduation_rate_total"])) == ex.dec(value)


def test_yearly_lines_report_and_export_with_years_on_the_apps_layout(filled, layout, tmp_path):
    """show's yearly values, the report and export --with-years read the app's physical
    columns (the June 2026 app's `expenditure_per_pupil` history column, `graduation_rate`)."""
    import json

    url, engine = filled
    spending = physical(layout, "district_data_history", "expenditure_pp")
    stored = {year: ex.dec(value) for year, value in rows(
        engine, f"SELECT year, {spending} FROM district_data_history WHERE leaid = '0200050' AND source = 'ccd_finance' "
                f"AND {spending} IS NOT NULL")}
    assert stored  # finance 2013, 2015, 2018
    show = ex.cli(url, "show", "0200050", "--json")
    assert show.exit_code == 0, show.output
    metrics = {m["key"]: m for m in json.loads(show.stdout)["metrics"]}
    assert {year: Decimal(str(value)) for year, value in metrics["expenditure_pp"]["history"]} == stored

    page = tmp_path / "report.html"
    report = ex.cli(url, "report", "0200050", "-o", str(page))
    assert report.exit_code == 0, report.output
    (graduation,) = rows(engine, f"SELECT {physical(layout, 'districts', 'graduation_rate_total')} FROM districts WHERE leaid = '0200050'")[0]
    html = page.read_text(encoding="utf-8")
    assert f'<td class="num" data-figure="value">{ex.dec(graduation):,.2f}</td>' in html

    export = ex.cli(url, "export", "--states", "AK", "--with-years", "--columns", "leaid,graduation_rate_total", "-f", "jsonl")
    assert export.exit_code == 0, export.output
    row = next(json.loads(line) for line in export.stdout.splitlines() if '"0200050"' in line)
    assert row["graduation_rate_total_source"] == "edfacts_grad" and row["graduation_rate_total_year"] == 2013
