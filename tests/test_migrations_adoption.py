"""Adopting an application database that already has some of the tables (SQLite and PostgreSQL).

The app's database is built by raw DDL, the way a Prisma/Next.js app would have it: more
columns, foreign keys from its own tables, NOT NULL timestamps without defaults, data.
On the app's tables districtbench adds only nullable columns without a default — no index,
key or constraint (tests/test_app_layouts.py has the app's real layouts).
"""

from __future__ import annotations

from districtbench.db.revision import HEAD_REVISION

import pytest
import sqlalchemy as sa

from districtbench.db import migrations, revision
from tests.test_migrations import (
    ALL_TABLES,
    BENCHMARK_COLUMNS,
    OWN_TABLES,
    expected_columns,
    reflect_columns,
)

APP_DDL = [
    """CREATE TABLE states (
        fips VARCHAR(2) NOT NULL PRIMARY KEY,
        abbrev VARCHAR(2) NOT NULL,
        name VARCHAR(100) NOT NULL,
        region VARCHAR(20),
        created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
        updated_at TIMESTAMP(3) NOT NULL
    )""",
    'CREATE UNIQUE INDEX "states_abbrev_key" ON states (abbrev)',
    """CREATE TABLE districts (
        leaid VARCHAR(7) NOT NULL PRIMARY KEY,
        name VARCHAR(255) NOT NULL,
        state_fips VARCHAR(2) NOT NULL REFERENCES states (fips),
        state_abbrev VARCHAR(2),
        slug VARCHAR(200) NOT NULL,
        geom TEXT,
        enrollment INTEGER,
        swd_pct NUMERIC(5,2),
        created_at TIMESTAMP(3) NOT NULL,
        updated_at TIMESTAMP(3) NOT NULL
    )""",
    "CREATE INDEX app_districts_by_state ON districts (state_fips)",
    """CREATE TABLE opportunities (
        id INTEGER NOT NULL PRIMARY KEY,
        district_leaid VARCHAR(7) NOT NULL REFERENCES districts (leaid),
        title TEXT NOT NULL,
        created_at TIMESTAMP(3) NOT NULL
    )""",
    """CREATE TABLE contacts (
        id INTEGER NOT NULL PRIMARY KEY,
        district_leaid VARCHAR(7) REFERENCES districts (leaid),
        email VARCHAR(320) NOT NULL
    )""",
    """INSERT INTO states (fips, abbrev, name, region, created_at, updated_at) VALUES
        ('06', 'CA', 'California', 'West', '2024-01-02 03:04:05.678', '2024-02-03 04:05:06.789'),
        ('48', 'TX', 'Texas', 'South', '2024-01-02 03:04:05.678', '2024-02-03 04:05:06.789')""",
    """INSERT INTO districts (leaid, name, state_fips, state_abbrev, slug, geom, enrollment, swd_pct,
                              created_at, updated_at) VALUES
        ('0622710', 'Los Angeles Unified', '06', 'CA', 'los-angeles-unified', 'POINT(-118 34)', 420000,
         12.50, '2024-01-02 03:04:05.678', '2024-02-03 04:05:06.789'),
        ('4823640', 'Houston ISD', '48', 'TX', 'houston-isd', NULL, 187000, NULL,
         '2024-01-02 03:04:05.678', '2024-02-03 04:05:06.789')""",
    """INSERT INTO opportunities (id, district_leaid, title, created_at) VALUES
        (1, '0622710', 'Tutoring RFP', '2024-03-01 00:00:00.000'),
        (2, '4823640', 'Staffing study', '2024-03-02 00:00:00.000')""",
    "INSERT INTO contacts (id, district_leaid, email) VALUES (1, '0622710', 'a@example.org')",
]
APP_TABLES = ("states", "districts", "opportunities", "contacts")


@pytest.fixture
def app_engine(database_factory):
    engine = database_factory.engine(database_factory.new_url())
    with engine.begin() as connection:
        for statement in APP_DDL:
            connection.execute(sa.text(statement))
    return engine


def app_schema(engine, names=APP_TABLES) -> dict:
    """Everything about the app's tables: columns (as reflected), FKs, indexes, uniques."""
    kind = engine.dialect.name
    with engine.connect() as connection:
        inspector = sa.inspect(connection)
        return {
            name: {
                "columns": reflect_columns(connection, name, kind),
                "pk": inspector.get_pk_constraint(name),
                "fks": sorted(str(fk) for fk in inspector.get_foreign_keys(name)),
                "indexes": sorted(str(ix) for ix in inspector.get_indexes(name)),
                "uniques": sorted(str(uq) for uq in inspector.get_unique_constraints(name)),
            }
            for name in names
        }


def app_rows(engine) -> dict:
    with engine.connect() as connection:
        return {
            "states": connection.execute(sa.text(
                "SELECT fips, abbrev, name, region, created_at, updated_at FROM states ORDER BY fips")).all(),
            "districts": connection.execute(sa.text(
                "SELECT leaid, name, state_fips, state_abbrev, slug, geom, enrollment, swd_pct, created_at, "
                "updated_at FROM districts ORDER BY leaid")).all(),
            "opportunities": connection.execute(sa.text("SELECT * FROM opportunities ORDER BY id")).all(),
            "contacts": connection.execute(sa.text("SELECT * FROM contacts ORDER BY id")).all(),
        }


def _table_names(engine) -> set[str]:
    with engine.connect() as connection:
        return set(sa.inspect(connection).get_table_names())


def test_adoption_keeps_everything_the_app_has(app_engine, db_kind):
    schema_before, rows_before = app_schema(app_engine), app_rows(app_engine)
    report = migrations.upgrade(app_engine)

    assert sorted(report.adopted_tables) == ["districts", "states"]
    assert sorted(report.created_tables) == sorted(["data_refresh_logs", "district_data_history", *OWN_TABLES])
    schema_after = app_schema(app_engine)
    for table in ("opportunities", "contacts"):
        assert schema_after[table] == schema_before[table]
    for table in ("states", "districts"):
        before, after = schema_before[table], schema_after[table]
        assert {c: after["columns"][c] for c in before["columns"]} == before["columns"], table
        assert after["fks"] == before["fks"] and after["pk"] == before["pk"], table
        assert after["indexes"] == before["indexes"] and after["uniques"] == before["uniques"], table
    rows_after = app_rows(app_engine)
    assert rows_after["districts"] == rows_before["districts"]
    assert rows_after["opportunities"] == rows_before["opportunities"]
    assert rows_after["contacts"] == rows_before["contacts"]
    existing = {row[0]: row for row in rows_after["states"]}
    for row in rows_before["states"]:
        assert existing[row[0]] == row  # region, name and both timestamps untouched
    assert len(rows_after["states"]) == 57


def test_adoption_adds_only_nullable_columns_to_the_apps_tables(app_engine, db_kind):
    apps_columns = {t: set(v["columns"]) for t, v in app_schema(app_engine).items()}
    report = migrations.upgrade(app_engine)
    with app_engine.connect() as connection:
        for table in ALL_TABLES:
            reflected = reflect_columns(connection, table, db_kind)
            for column, description in expected_columns(table).items():
                if column in apps_columns.get(table, ()):
                    continue  # the app's own columns stay as they are
                if table in apps_columns:  # added to the app's table: nullable, no default
                    assert reflected[column] == description.split(" NOT NULL")[0], (table, column)
                else:  # a table districtbench created: exactly as declared
                    assert reflected[column] == description, (table, column)
        inspector = sa.inspect(connection)
        district_indexes = {ix["name"]: ix["column_names"] for ix in inspector.get_indexes("districts")}
        state_uniques = [uq["column_names"] for uq in inspector.get_unique_constraints("states")]
        state_uniques += [ix["column_names"] for ix in inspector.get_indexes("states") if ix["unique"]]
    assert district_indexes == {"app_districts_by_state": ["state_fips"]}  # no index added to the app's table
    assert state_uniques.count(["abbrev"]) == 1
    added = set(report.added_columns)
    assert "districts.swd_pct" not in added and "districts.geom" not in added
    assert {"districts.city_location", "districts.ell_pct", "states.total_districts",
            "states.avg_swd_pct"} <= added
    # the app's own inserts, which know nothing of districtbench's columns, still work
    with app_engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO states (fips, abbrev, name, updated_at) VALUES ('99', 'ZZ', 'Z', CURRENT_TIMESTAMP)"))
        connection.execute(sa.text(
            "INSERT INTO districts (leaid, name, state_fips, slug, created_at, updated_at) "
            "VALUES ('9900001', 'Z1', '99', 'z1', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))


def test_adoption_is_idempotent(app_engine):
    migrations.upgrade(app_engine)
    schema, rows = app_schema(app_engine), app_rows(app_engine)
    assert not migrations.upgrade(app_engine).changed
    assert app_schema(app_engine) == schema and app_rows(app_engine) == rows


def test_downgrade_to_nothing_leaves_the_apps_tables_as_they_were(app_engine, db_kind):
    schema_before, rows_before = app_schema(app_engine), app_rows(app_engine)
    migrations.upgrade(app_engine)
    migrations.downgrade(app_engine, "0001_base")
    with app_engine.connect() as connection:
        districts = reflect_columns(connection, "districts", db_kind)
    assert "swd_pct" in districts  # the app had it before districtbench: not dropped
    assert "ell_pct" not in districts

    report = migrations.downgrade(app_engine, "base")
    assert sorted(report.dropped_tables) == sorted(["data_refresh_logs", "district_data_history",
                                                    "districtbench_fetch_units", "districtbench_created_objects"])
    assert _table_names(app_engine) == set(APP_TABLES)  # not even the version table is left
    assert app_schema(app_engine) == schema_before
    rows_after = app_rows(app_engine)
    for table in ("districts", "opportunities", "contacts"):
        assert rows_after[table] == rows_before[table]
    # reference rows districtbench inserted stay (districts may refer to them); US row is gone
    fips = {row[0] for row in rows_after["states"]}
    assert len(fips) == 56 and "00" not in fips

    migrations.upgrade(app_engine)  # and back up again
    assert revision.at_head(app_engine)


def test_a_table_created_by_districtbench_is_not_dropped_if_the_app_now_depends_on_it(database_factory):
    engine = database_factory.engine(database_factory.new_url())
    migrations.upgrade(engine)
    with engine.begin() as connection:
        connection.execute(sa.text(
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, leaid VARCHAR(7) REFERENCES districts (leaid))"))
        connection.execute(sa.text(
            "INSERT INTO districts (leaid, name, state_fips, updated_at) "
            "VALUES ('0600001', 'X', '06', CURRENT_TIMESTAMP)"))
        connection.execute(sa.text("INSERT INTO notes (id, leaid) VALUES (1, '0600001')"))
    with pytest.raises(migrations.MigrationFailedError) as failed:  # no DROP … CASCADE
        migrations.downgrade(engine, "base")
    assert failed.value.exit_code == 1
    # the run is one transaction: nothing of it is kept (also the benchmarks step)
    assert migrations.current_revision(engine) == HEAD_REVISION
    assert {"districts", "notes"} <= _table_names(engine)
    with engine.connect() as connection:
        assert "ell_pct" in reflect_columns(connection, "districts", engine.dialect.name)


def test_a_not_null_column_is_added_nullable_to_a_table_with_rows(database_factory):
    engine = database_factory.engine(database_factory.new_url())
    with engine.begin() as connection:
        connection.execute(sa.text(
            "CREATE TABLE data_refresh_logs (id INTEGER NOT NULL PRIMARY KEY, data_source VARCHAR(50) NOT NULL,"
            " records_updated INTEGER NOT NULL, status VARCHAR(20) NOT NULL)"))
        connection.execute(sa.text(
            "INSERT INTO data_refresh_logs VALUES (1, 'ccd_directory', 10, 'success')"))
    migrations.upgrade(engine)
    with engine.begin() as connection:
        columns = reflect_columns(connection, "data_refresh_logs", engine.dialect.name)
        # the app's own insert, which names none of districtbench's columns
        connection.execute(sa.text(
            "INSERT INTO data_refresh_logs (id, data_source, records_updated, status) VALUES (2, 'app', 1, 'success')"))
        kept = connection.execute(sa.text("SELECT id, started_at, records_failed FROM data_refresh_logs ORDER BY id")).all()
    assert columns["started_at"] == "TIMESTAMP(3)" and columns["records_failed"] == "INTEGER"
    assert [tuple(row) for row in kept] == [(1, None, None), (2, None, None)]


def test_benchmark_columns_the_app_already_has_are_kept(app_engine):
    report = migrations.upgrade(app_engine)
    expected = {f"{t}.{line.split()[0]}" for t in ("districts", "states") for line in BENCHMARK_COLUMNS[t]}
    assert expected - set(report.added_columns) == {"districts.swd_pct"}
