"""An installation of the districtbench before revision 0003 is moved and repaired by `migrate`.

`install_as_before` does to an app database what that districtbench did (its revisions
0001 and 0002, written out here as SQL): its bookkeeping, resume state and version table in
the app's schema; every logical column the app's table lacked added under the plan's name —
beside the app's renamed columns — and NOT NULL ones filled and left NOT NULL; indexes and
keys (recognised by their columns) added to the app's tables; the state rows seeded.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from districtbench.db import migrations, tables
from districtbench.db.seed import upsert_states_statement
from tests import app_layouts
from tests import expected as ex

BENCHMARKS = {table: {name for name, _ in columns} for table, columns in tables.BENCHMARK_COLUMNS.items()}
FILL = {sa.DateTime: "CURRENT_TIMESTAMP", sa.Numeric: "0", sa.Integer: "0", sa.String: "''"}
NOW = datetime(2026, 5, 1, 12, 0, 0)


def install_as_before(engine: sa.engine.Engine) -> None:
    postgresql = engine.dialect.name == "postgresql"
    serial = "SERIAL PRIMARY KEY" if postgresql else "INTEGER PRIMARY KEY AUTOINCREMENT"
    with engine.begin() as connection:
        def run(sql, **params):
            connection.execute(sa.text(sql), params)

        def record(revision, kind, table, name):
            run("INSERT INTO districtbench_created_objects (revision, kind, table_name, name) VALUES (:r, :k, :t, :n)",
                r=revision, k=kind, t=table, n=name)

        run(f"CREATE TABLE districtbench_created_objects (id {serial}, revision VARCHAR(32) NOT NULL, "
            "kind VARCHAR(10) NOT NULL, table_name VARCHAR(63) NOT NULL, name VARCHAR(63) NOT NULL)")
        present = {name: {c["name"] for c in sa.inspect(connection).get_columns(name)}
                   for name in sa.inspect(connection).get_table_names() if name in tables.APP_TABLES}
        for name in tables.APP_TABLES:
            table = tables.metadata.tables[name]
            if name not in present:
                table.create(connection)
                record("0001_base", "table", name, name)
                continue
            for column in table.columns:
                if column.name in present[name]:
                    continue
                ddl = f"ALTER TABLE {name} ADD COLUMN {column.name} {column.type.compile(engine.dialect)}"
                if not column.nullable:
                    default = column.server_default.arg.text if column.server_default is not None else None
                    fill = default or next(v for t, v in FILL.items() if isinstance(column.type, t))
                    ddl += f" NOT NULL DEFAULT {fill}"
                run(ddl)
                if not column.nullable and column.server_default is None and postgresql:
                    run(f"ALTER TABLE {name} ALTER COLUMN {column.name} DROP DEFAULT")
                record("0002_benchmarks" if column.name in BENCHMARKS.get(name, ()) else "0001_base", "column", name, column.name)
            inspector = sa.inspect(connection)
            indexed = [tuple(ix["column_names"]) for ix in inspector.get_indexes(name)]
            for index_name, columns in tables.INDEXES.get(name, {}).items():
                if columns not in indexed:  # that districtbench recognised an index by its columns
                    run(f"CREATE INDEX {index_name} ON {name} ({', '.join(columns)})")
                    record("0001_base", "index", name, index_name)
            unique = [set(u["column_names"]) for u in inspector.get_unique_constraints(name)]
            unique += [set(ix["column_names"]) for ix in inspector.get_indexes(name) if ix["unique"]]
            for key_name, columns in tables.UNIQUES.get(name, {}).items():
                if set(columns) not in unique:
                    if postgresql:
                        run(f"ALTER TABLE {name} ADD CONSTRAINT {key_name} UNIQUE ({', '.join(columns)})")
                        record("0001_base", "unique", name, key_name)
                    else:
                        run(f"CREATE UNIQUE INDEX {key_name} ON {name} ({', '.join(columns)})")
                        record("0001_base", "index", name, key_name)
        run("CREATE TABLE districtbench_fetch_units (source VARCHAR(30) NOT NULL, year INTEGER NOT NULL, "
            "state_fips VARCHAR(2) NOT NULL, status VARCHAR(20) NOT NULL, rows_written INTEGER NOT NULL DEFAULT 0, "
            "rows_skipped INTEGER NOT NULL DEFAULT 0, error_message TEXT, fetched_at TIMESTAMP(3) NOT NULL, "
            "PRIMARY KEY (source, year, state_fips))")
        record("0001_base", "table", "districtbench_fetch_units", "districtbench_fetch_units")
        run("INSERT INTO districtbench_fetch_units VALUES ('poverty', 2018, '02', 'complete', 53, 0, NULL, :now)", now=NOW)
        connection.execute(upsert_states_statement(engine.dialect.name))
        record("0002_benchmarks", "row", "states", "fips=00")
        run("CREATE TABLE districtbench_alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
        run("INSERT INTO districtbench_alembic_version VALUES ('0002_benchmarks')")


def _columns(engine, table) -> dict[str, dict]:
    with engine.connect() as connection:
        return {c["name"]: c for c in sa.inspect(connection).get_columns(table)}


def test_renamed_app_the_old_names_are_dropped_and_their_values_kept(database_factory, db_kind):
    url = database_factory.new_url()
    engine = database_factory.engine(url)
    app_layouts.build(engine, "renamed", fixed=True)
    install_as_before(engine)
    assert {"poverty_pct", "expenditure_pp"} <= set(_columns(engine, "district_data_history"))  # the bug
    with engine.begin() as connection:  # what that districtbench wrote where the app never reads it
        connection.execute(sa.text(
            "INSERT INTO district_data_history (leaid, year, source, poverty_pct, created_at, updated_at) VALUES "
            "('0200050', 2018, 'saipe', 9.99, :now, :now), ('0299999', 2018, 'saipe', 1.11, :now, :now)"), {"now": NOW})
        connection.execute(sa.text(
            "UPDATE district_data_history SET poverty_percent = 7.77 WHERE leaid = '0299999' AND year = 2018"))
    assert migrations.current_revision(engine) == "0002_benchmarks"

    result = ex.cli(url, "migrate")
    assert result.exit_code == 0, result.output
    history, districts = _columns(engine, "district_data_history"), _columns(engine, "districts")
    assert not app_layouts.OLD_NAMES["district_data_history"] & set(history)
    assert "graduation_rate_total" not in districts
    with engine.connect() as connection:
        values = connection.execute(sa.text(
            "SELECT leaid, poverty_percent FROM district_data_history WHERE year = 2018 ORDER BY leaid")).all()
        mapping = dict(connection.execute(sa.select(tables.column_map.c.logical_name, tables.column_map.c.physical_name)).all())
        units = connection.execute(sa.select(tables.fetch_units.c.source, tables.fetch_units.c.rows_written)).all()
    # copied where the app's column was empty; the app's own value kept where it was not
    assert [(leaid, ex.dec(value)) for leaid, value in values] == [("0200050", Decimal("9.99")), ("0299999", Decimal("7.77"))]
    assert mapping == {"graduation_rate_total": "graduation_rate", **{
        old: app_layouts.RENAMES[("district_data_history", old)] for old in app_layouts.OLD_NAMES["district_data_history"]}}
    assert [tuple(row) for row in units] == [("poverty", 53)]  # the resume state came along
    if db_kind == "postgresql":  # nothing of districtbench is left in the app's schema
        with engine.connect() as connection:
            public = set(sa.inspect(connection).get_table_names())
            own = set(sa.inspect(connection).get_table_names(schema="districtbench"))
        assert not {name for name in public if name.startswith("districtbench")}
        assert own == {"districtbench_alembic_version", "districtbench_fetch_units", "districtbench_created_objects",
                       "districtbench_column_map", "districtbench_figure_years",
                       "districtbench_history_extras", *tables.PEER_TABLES, tables.family_inputs.name}
    assert not migrations.upgrade(engine).changed


@pytest.mark.parametrize("db_kind", ["postgresql"])
def test_columns_added_not_null_to_the_apps_table_become_nullable(database_factory):
    url = database_factory.new_url()
    engine = database_factory.engine(url)
    app_layouts.build(engine, "minimal")
    install_as_before(engine)
    added = _columns(engine, "districts")
    assert not added["state_fips"]["nullable"] and not added["updated_at"]["nullable"]
    with pytest.raises(sa.exc.IntegrityError):  # what the older districtbench broke
        app_layouts.run_app_inserts(engine, "minimal")

    assert ex.cli(url, "migrate").exit_code == 0
    repaired = _columns(engine, "districts")
    for name in ("state_fips", "created_at", "updated_at"):
        assert repaired[name]["nullable"] and repaired[name]["default"] is None, name
    app_layouts.run_app_inserts(engine, "minimal")  # INSERT INTO districts (leaid, name, sales_rep) works again
    # a table districtbench created keeps its constraints
    assert not _columns(engine, "district_data_history")["leaid"]["nullable"]
