"""The Alembic revisions on a fresh database, on SQLite and PostgreSQL.

The expected schema is written here from schema.md, not read from districtbench.db.tables.
The app's four tables are in the app's schema; districtbench's own tables in the schema
`districtbench` on PostgreSQL (in the same file on SQLite).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from districtbench.db import migrations, revision, tables
from districtbench.errors import ConfigurationError, NotMigratedError

APP_TABLES = ("states", "districts", "district_data_history", "data_refresh_logs")
OWN_TABLES = ("districtbench_fetch_units", "districtbench_created_objects", "districtbench_column_map",
              "districtbench_figure_years", "districtbench_history_extras",
              "districtbench_peer_groups", "districtbench_peers", "districtbench_peer_benchmarks",
              "districtbench_family_inputs")
FIVE_TABLES = APP_TABLES + ("districtbench_fetch_units",)
ALL_TABLES = APP_TABLES + OWN_TABLES
OWN_SCHEMA = "districtbench"
HEAD = "0009_peers_without_rowid"


def schema_of(kind: str, table: str) -> str | None:
    """Where a table is: districtbench's own tables in their schema on PostgreSQL."""
    return OWN_SCHEMA if kind == "postgresql" and (table in OWN_TABLES or table == "districtbench_alembic_version") else None

BASE_COLUMNS = {
    "states": """
        fips VARCHAR(2) NOT NULL
        abbrev VARCHAR(2) NOT NULL
        name VARCHAR(100) NOT NULL
        total_districts INTEGER NOT NULL DEFAULT 0
        total_enrollment INTEGER
        avg_expenditure_per_pupil NUMERIC(12,2)
        avg_graduation_rate NUMERIC(5,2)
        avg_poverty_rate NUMERIC(5,2)
        aggregates_updated_at TIMESTAMP(3)
        created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
        updated_at TIMESTAMP(3) NOT NULL
    """,
    "districts": """
        leaid VARCHAR(7) NOT NULL
        name VARCHAR(255) NOT NULL
        state_fips VARCHAR(2) NOT NULL
        state_abbrev VARCHAR(2)
        city_location VARCHAR(100)
        county_name VARCHAR(100)
        urban_centric_locale INTEGER
        number_of_schools INTEGER
        enrollment INTEGER
        urban_institute_year INTEGER
        spec_ed_students INTEGER
        ell_students INTEGER
        teachers_fte NUMERIC(10,2)
        staff_total_fte NUMERIC(10,2)
        staff_data_year INTEGER
        total_expenditure NUMERIC(15,2)
        expenditure_per_pupil NUMERIC(12,2)
        finance_data_year INTEGER
        children_poverty_percent NUMERIC(5,2)
        saipe_data_year INTEGER
        graduation_rate_total NUMERIC(5,2)
        graduation_data_year INTEGER
        chronic_absenteeism_rate NUMERIC(5,2)
        absenteeism_data_year INTEGER
        math_proficiency_pct NUMERIC(5,2)
        read_proficiency_pct NUMERIC(5,2)
        assessment_data_year INTEGER
        student_teacher_ratio NUMERIC(8,2)
        enrollment_trend_3yr NUMERIC(8,2)
        staffing_trend_3yr NUMERIC(8,2)
        vacancy_pressure_signal NUMERIC(8,2)
        created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
        updated_at TIMESTAMP(3) NOT NULL
    """,
    "district_data_history": """
        id SERIAL NOT NULL
        leaid VARCHAR(7) NOT NULL
        year INTEGER NOT NULL
        source VARCHAR(30) NOT NULL
        enrollment INTEGER
        teachers_fte NUMERIC(10,2)
        staff_total_fte NUMERIC(10,2)
        spec_ed_students INTEGER
        total_revenue NUMERIC(15,2)
        total_expenditure NUMERIC(15,2)
        federal_revenue NUMERIC(15,2)
        state_revenue NUMERIC(15,2)
        local_revenue NUMERIC(15,2)
        sped_expenditure NUMERIC(15,2)
        expenditure_pp NUMERIC(12,2)
        poverty_pct NUMERIC(5,2)
        graduation_rate NUMERIC(5,2)
        math_proficiency NUMERIC(5,2)
        read_proficiency NUMERIC(5,2)
        created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
    """,
    "data_refresh_logs": """
        id SERIAL NOT NULL
        data_source VARCHAR(50) NOT NULL
        data_year INTEGER
        records_updated INTEGER NOT NULL
        records_failed INTEGER NOT NULL DEFAULT 0
        status VARCHAR(20) NOT NULL
        error_message TEXT
        started_at TIMESTAMP(3) NOT NULL
        completed_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
    """,
    "districtbench_fetch_units": """
        source VARCHAR(30) NOT NULL
        year INTEGER NOT NULL
        state_fips VARCHAR(2) NOT NULL
        status VARCHAR(20) NOT NULL
        rows_written INTEGER NOT NULL DEFAULT 0
        rows_skipped INTEGER NOT NULL DEFAULT 0
        error_message TEXT
        fetched_at TIMESTAMP(3) NOT NULL
    """,
    "districtbench_created_objects": """
        id SERIAL NOT NULL
        revision VARCHAR(32) NOT NULL
        kind VARCHAR(10) NOT NULL
        table_name VARCHAR(63) NOT NULL
        name VARCHAR(63) NOT NULL
    """,
    "districtbench_column_map": """
        table_name VARCHAR(63) NOT NULL
        logical_name VARCHAR(63) NOT NULL
        physical_name VARCHAR(63) NOT NULL
        origin VARCHAR(20) NOT NULL
        recorded_at TIMESTAMP(3) NOT NULL
    """,
    "districtbench_figure_years": """
        state_fips VARCHAR(2) NOT NULL
        figure VARCHAR(63) NOT NULL
        year INTEGER NOT NULL
        base_year INTEGER
        source VARCHAR(30)
        base_source VARCHAR(30)
    """,
    "districtbench_history_extras": """
        leaid VARCHAR(7) NOT NULL
        year INTEGER NOT NULL
        source VARCHAR(30) NOT NULL
        cohort INTEGER
        math_takers INTEGER
        read_takers INTEGER
        absent_students INTEGER
        crdc_enrollment INTEGER
        current_spending NUMERIC(15,2)
        pupils INTEGER
        children INTEGER
        poor_children INTEGER
        lowest_grade INTEGER
        highest_grade INTEGER
    """,
    "districtbench_peer_groups": """
        leaid VARCHAR(7) NOT NULL
        scope VARCHAR(10) NOT NULL
        locale_group INTEGER NOT NULL
        enrollment INTEGER NOT NULL
        children_poverty_percent NUMERIC(5,2) NOT NULL
        ell_pct NUMERIC(5,2) NOT NULL
        swd_pct NUMERIC(5,2) NOT NULL
        peer_count INTEGER NOT NULL
    """,
    "districtbench_peers": """
        leaid VARCHAR(7) NOT NULL
        rank INTEGER NOT NULL
        peer_leaid VARCHAR(7) NOT NULL
        distance DOUBLE PRECISION NOT NULL
    """,
    "districtbench_peer_benchmarks": """
        leaid VARCHAR(7) NOT NULL
        metric VARCHAR(30) NOT NULL
        peer_average NUMERIC(12,2)
        vs_peers NUMERIC(14,2)
        peer_quartile VARCHAR(15)
    """,
    "districtbench_family_inputs": """
        family VARCHAR(63) NOT NULL
        fingerprint VARCHAR(200) NOT NULL
        recorded_at TIMESTAMP(3) NOT NULL
    """,
}

_KEYS = ("absenteeism graduation student_teacher_ratio swd_pct ell_pct math_proficiency "
         "read_proficiency expenditure_pp").split()
_TRENDS = ("swd ell absenteeism graduation student_teacher_ratio math_proficiency "
           "read_proficiency expenditure_pp").split()
BENCHMARK_COLUMNS = {
    "districts": ["swd_pct NUMERIC(5,2)", "ell_pct NUMERIC(5,2)"]
    + [f"{k}_trend_3yr NUMERIC(8,2)" for k in _TRENDS]
    + [f"{k}_vs_state NUMERIC(8,2)" for k in _KEYS]
    + [f"{k}_vs_national NUMERIC(8,2)" for k in _KEYS]
    + [f"{k}_quartile_state VARCHAR(15)" for k in _KEYS],
    "states": [
        "avg_chronic_absenteeism_rate NUMERIC(5,2)", "avg_student_teacher_ratio NUMERIC(8,2)",
        "avg_swd_pct NUMERIC(5,2)", "avg_ell_pct NUMERIC(5,2)", "avg_enrollment INTEGER",
        "avg_math_proficiency NUMERIC(5,2)", "avg_read_proficiency NUMERIC(5,2)",
    ],
    "district_data_history": ["ell_students INTEGER", "chronic_absenteeism_rate NUMERIC(5,2)"],
}

PRIMARY_KEYS = {
    "states": ("states_pkey", ["fips"]),
    "districts": ("districts_pkey", ["leaid"]),
    "district_data_history": ("district_data_history_pkey", ["id"]),
    "data_refresh_logs": ("data_refresh_logs_pkey", ["id"]),
    "districtbench_fetch_units": ("districtbench_fetch_units_pkey", ["source", "year", "state_fips"]),
    "districtbench_created_objects": ("districtbench_created_objects_pkey", ["id"]),
    "districtbench_column_map": ("districtbench_column_map_pkey", ["table_name", "logical_name"]),
    "districtbench_figure_years": ("districtbench_figure_years_pkey", ["state_fips", "figure"]),
    "districtbench_history_extras": ("districtbench_history_extras_pkey", ["leaid", "year", "source"]),
    "districtbench_peer_groups": ("districtbench_peer_groups_pkey", ["leaid"]),
    "districtbench_peers": ("districtbench_peers_pkey", ["leaid", "rank"]),
    "districtbench_peer_benchmarks": ("districtbench_peer_benchmarks_pkey", ["leaid", "metric"]),
    "districtbench_family_inputs": ("districtbench_family_inputs_pkey", ["family"]),
}
INDEXES = {
    "districts": {"districts_state_fips_idx": ["state_fips"], "districts_state_abbrev_idx": ["state_abbrev"]},
    "district_data_history": {
        "district_data_history_leaid_idx": ["leaid"],
        "district_data_history_year_idx": ["year"],
        "district_data_history_source_idx": ["source"],
    },
    "data_refresh_logs": {"data_refresh_logs_data_source_completed_at_idx": ["data_source", "completed_at"]},
}
UNIQUES = {
    "states": {"states_abbrev_key": ["abbrev"]},
    "district_data_history": {"district_data_history_leaid_year_source_key": ["leaid", "year", "source"]},
}
FOREIGN_KEYS = {
    "districts": [("districts_state_fips_fkey", ["state_fips"], "states", ["fips"])],
    "district_data_history": [("district_data_history_leaid_fkey", ["leaid"], "districts", ["leaid"])],
}
NUMBER_OF_BENCHMARK_COLUMNS = 43
NUMBER_OF_STATE_ROWS = 57


def expected_columns(table: str, *, benchmarks: bool = True) -> dict[str, str]:
    lines = [line.strip() for line in BASE_COLUMNS[table].strip().splitlines()]
    if benchmarks:
        lines += BENCHMARK_COLUMNS.get(table, [])
    return {line.split()[0]: " ".join(line.split()[1:]) for line in lines}


def describe_type(column: dict, kind: str, rowid_alias: bool = False) -> str:
    """A reflected column as `TYPE [NOT NULL] [DEFAULT x]`, in the notation used above.
    SERIAL: PostgreSQL's nextval default, or SQLite's INTEGER PRIMARY KEY (rowid alias)."""
    type_ = column["type"]
    default = column.get("default")
    if isinstance(type_, sa.Text):
        text = "TEXT"
    elif isinstance(type_, sa.String):
        text = f"VARCHAR({type_.length})"
    elif isinstance(type_, sa.Numeric) and not isinstance(type_, sa.Float):
        text = f"NUMERIC({type_.precision},{type_.scale})"
    elif isinstance(type_, sa.Float):
        text = "DOUBLE PRECISION"
    elif isinstance(type_, sa.Integer):
        text = "INTEGER"
        if default and str(default).startswith("nextval(") or rowid_alias:
            text, default = "SERIAL", None
    elif isinstance(type_, sa.DateTime):
        # SQLite has no precision (and reflects a raw "TIMESTAMP(3)" as timezone=3);
        # PostgreSQL must say TIMESTAMP(3) WITHOUT TIME ZONE
        assert kind == "sqlite" or not type_.timezone, column
        precision = 3 if kind == "sqlite" else type_.precision
        text = f"TIMESTAMP({precision})"
    else:
        text = repr(type_)
    if not column["nullable"]:
        text += " NOT NULL"
    if default is not None:
        text += f" DEFAULT {str(default).strip('()').strip(chr(39))}"
    return text


def reflect_columns(connection, table: str, kind: str) -> dict[str, str]:
    inspector = sa.inspect(connection)
    schema = schema_of(kind, table)
    columns = inspector.get_columns(table, schema=schema)
    pk = inspector.get_pk_constraint(table, schema=schema)["constrained_columns"]
    return {
        c["name"]: describe_type(
            c, kind, kind == "sqlite" and pk == [c["name"]] and str(c["type"]) == "INTEGER"
        )
        for c in columns
    }


def describe_schema(engine, names=ALL_TABLES) -> dict:
    """Columns, keys, indexes and uniques of the given tables, comparable across databases."""
    kind = engine.dialect.name
    with engine.connect() as connection:
        inspector = sa.inspect(connection)
        result = {}
        for name in names:
            schema = schema_of(kind, name)
            pk = inspector.get_pk_constraint(name, schema=schema)
            result[name] = {
                "columns": list(reflect_columns(connection, name, kind).items()),
                "pk": (pk["name"], pk["constrained_columns"]),
                "fks": sorted((fk["name"], tuple(fk["constrained_columns"]), fk["referred_table"],
                               tuple(fk["referred_columns"])) for fk in inspector.get_foreign_keys(name, schema=schema)),
                "indexes": sorted((ix["name"], tuple(ix["column_names"]), bool(ix["unique"]))
                                  for ix in inspector.get_indexes(name, schema=schema)
                                  if not ix.get("duplicates_constraint")),
                "uniques": sorted((uq["name"], tuple(uq["column_names"]))
                                  for uq in inspector.get_unique_constraints(name, schema=schema)),
            }
    return result


def table_names(engine) -> dict[str | None, set[str]]:
    """Tables per schema: None (the app's, the search path's) and, on PostgreSQL, districtbench's."""
    with engine.connect() as connection:
        inspector = sa.inspect(connection)
        found = {None: set(inspector.get_table_names())}
        if engine.dialect.name == "postgresql" and OWN_SCHEMA in inspector.get_schema_names():
            found[OWN_SCHEMA] = set(inspector.get_table_names(schema=OWN_SCHEMA))
        return found


@pytest.fixture
def fresh_engine(database_factory):
    return database_factory.engine(database_factory.new_url())


def test_fresh_migrate_creates_every_table_and_column_exactly(fresh_engine, db_kind):
    report = migrations.upgrade(fresh_engine)
    assert report.from_revision is None and report.to_revision == HEAD
    assert sorted(report.created_tables) == sorted(ALL_TABLES)
    assert report.adopted_tables == [] and report.added_columns == []
    placed = table_names(fresh_engine)
    if db_kind == "postgresql":  # the app's schema holds the app's tables only
        assert placed[None] == set(APP_TABLES)
        assert placed[OWN_SCHEMA] == set(OWN_TABLES) | {"districtbench_alembic_version"}
    else:
        assert placed[None] == set(ALL_TABLES) | {"districtbench_alembic_version"}
    with fresh_engine.connect() as connection:
        for table in ALL_TABLES:
            assert reflect_columns(connection, table, db_kind) == expected_columns(table), table
    total = sum(len(v) for v in BENCHMARK_COLUMNS.values())
    assert total == NUMBER_OF_BENCHMARK_COLUMNS


def test_fresh_migrate_creates_keys_indexes_and_unique_constraints(fresh_engine):
    migrations.upgrade(fresh_engine)
    schema = describe_schema(fresh_engine)
    for table in ALL_TABLES:
        name, columns = PRIMARY_KEYS[table]
        assert schema[table]["pk"] == (name, columns)
        assert schema[table]["indexes"] == sorted(
            (ix, tuple(cols), False) for ix, cols in INDEXES.get(table, {}).items()
        ), table
        assert schema[table]["uniques"] == sorted(
            (uq, tuple(cols)) for uq, cols in UNIQUES.get(table, {}).items()
        ), table
        assert schema[table]["fks"] == sorted(
            (fk, tuple(cols), ref, tuple(refcols)) for fk, cols, ref, refcols in FOREIGN_KEYS.get(table, [])
        ), table


def _state_rows(engine) -> list[tuple]:
    with engine.connect() as connection:
        return connection.execute(
            sa.text("SELECT fips, abbrev, name, created_at, updated_at, total_districts FROM states ORDER BY fips")
        ).all()


def test_state_reference_rows_are_seeded_with_timestamps(fresh_engine):
    migrations.upgrade(fresh_engine)
    rows = _state_rows(fresh_engine)
    assert len(rows) == NUMBER_OF_STATE_ROWS
    by_fips = {row[0]: row for row in rows}
    assert by_fips["00"][1:3] == ("US", "United States")
    assert by_fips["06"][1:3] == ("CA", "California")
    assert by_fips["11"][1:3] == ("DC", "District of Columbia")
    territories = {"60": "AS", "66": "GU", "69": "MP", "72": "PR", "78": "VI"}
    assert {f: by_fips[f][1] for f in territories} == territories
    assert sum(1 for f in by_fips if "01" <= f <= "56") == 51
    assert all(row[3] is not None and row[4] is not None and row[5] == 0 for row in rows)


def test_migrate_twice_changes_nothing(fresh_engine):
    migrations.upgrade(fresh_engine)
    schema, rows = describe_schema(fresh_engine), _state_rows(fresh_engine)
    report = migrations.upgrade(fresh_engine)
    assert not report.changed and "already up to date" in report.summary()
    assert describe_schema(fresh_engine) == schema
    assert _state_rows(fresh_engine) == rows
    assert migrations.current_revision(fresh_engine) == migrations.head_revision() == HEAD


def test_migrations_produce_exactly_the_models(fresh_engine, database_factory):
    migrations.upgrade(fresh_engine)
    models_engine = database_factory.engine(database_factory.new_url())
    with models_engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text(f"CREATE SCHEMA {OWN_SCHEMA}"))
        tables.metadata.create_all(connection)
    assert describe_schema(fresh_engine) == describe_schema(models_engine)


def test_alembic_check_passes_on_a_migrated_database(fresh_engine):
    migrations.upgrade(fresh_engine)
    migrations.check(fresh_engine)  # raises if models and migrations disagree


def test_alembic_check_notices_a_difference(fresh_engine):
    migrations.upgrade(fresh_engine)
    with fresh_engine.begin() as connection:
        connection.execute(sa.text("DROP INDEX districts_state_abbrev_idx"))
    with pytest.raises(NotMigratedError, match="differs"):
        migrations.check(fresh_engine)


def test_upgrade_downgrade_upgrade(fresh_engine, db_kind):
    migrations.upgrade(fresh_engine)
    first = describe_schema(fresh_engine)
    report = migrations.downgrade(fresh_engine, "base")
    assert sorted(report.dropped_tables) == sorted(ALL_TABLES)
    # nothing of districtbench is left: no version table, no schema of its own
    assert table_names(fresh_engine) == {None: set()}
    assert migrations.current_revision(fresh_engine) is None
    migrations.upgrade(fresh_engine)
    assert describe_schema(fresh_engine) == first
    assert len(_state_rows(fresh_engine)) == NUMBER_OF_STATE_ROWS


def test_downgrade_figure_sources_drops_only_its_two_columns(fresh_engine, db_kind):
    migrations.upgrade(fresh_engine)
    migrations.downgrade(fresh_engine, "0007_figure_sources")
    report = migrations.downgrade(fresh_engine, "0006_peers")
    assert migrations.current_revision(fresh_engine) == "0006_peers"
    assert report.dropped_tables == []
    assert sorted(report.dropped_columns) == ["districtbench_figure_years.base_source", "districtbench_figure_years.source"]
    migrations.upgrade(fresh_engine)
    assert revision.at_head(fresh_engine)


def test_downgrade_family_inputs_drops_only_its_table(fresh_engine, db_kind):
    migrations.upgrade(fresh_engine)
    kept = tuple(t for t in ALL_TABLES if t != "districtbench_family_inputs")
    before = describe_schema(fresh_engine, kept)
    report = migrations.downgrade(fresh_engine, "0007_figure_sources")
    assert migrations.current_revision(fresh_engine) == "0007_figure_sources"
    assert report.dropped_tables == ["districtbench_family_inputs"] and report.dropped_columns == []
    assert describe_schema(fresh_engine, kept) == before
    migrations.upgrade(fresh_engine)
    assert revision.at_head(fresh_engine)


def test_figure_sources_gives_the_years_already_recorded_their_sources(fresh_engine, db_kind):
    migrations.upgrade(fresh_engine, "0006_peers")
    t = tables.figure_years
    with fresh_engine.begin() as connection:
        connection.execute(sa.insert(t), [
            {"state_fips": "06", "figure": "graduation_trend_3yr", "year": 2019, "base_year": 2016},
            {"state_fips": "06", "figure": "ell_pct", "year": 2021, "base_year": None},
        ])
    migrations.upgrade(fresh_engine)
    with fresh_engine.connect() as connection:
        rows = connection.execute(sa.select(t.c.figure, t.c.source, t.c.base_source).order_by(t.c.figure)).all()
    assert [tuple(row) for row in rows] == [("ell_pct", "ccd_directory", None),
                                            ("graduation_trend_3yr", "edfacts_grad", "edfacts_grad")]


def test_downgrade_peers_drops_only_its_tables(fresh_engine, db_kind):
    migrations.upgrade(fresh_engine, "0006_peers")
    kept = FIVE_TABLES + ("districtbench_created_objects", "districtbench_column_map", "districtbench_figure_years")
    before = describe_schema(fresh_engine, kept)
    report = migrations.downgrade(fresh_engine, "0005_history_extras")
    assert migrations.current_revision(fresh_engine) == "0005_history_extras"
    assert sorted(report.dropped_tables) == sorted(
        ["districtbench_peer_groups", "districtbench_peers", "districtbench_peer_benchmarks"]
    )
    assert report.dropped_columns == []
    assert describe_schema(fresh_engine, kept) == before
    migrations.upgrade(fresh_engine)
    assert revision.at_head(fresh_engine)


def test_downgrade_history_extras_drops_only_its_table(fresh_engine, db_kind):
    migrations.upgrade(fresh_engine, "0005_history_extras")
    kept = FIVE_TABLES + ("districtbench_created_objects", "districtbench_column_map", "districtbench_figure_years")
    before = describe_schema(fresh_engine, kept)
    report = migrations.downgrade(fresh_engine, "-1")
    assert migrations.current_revision(fresh_engine) == "0004_figure_years"
    assert report.dropped_tables == ["districtbench_history_extras"] and report.dropped_columns == []
    assert describe_schema(fresh_engine, kept) == before
    migrations.upgrade(fresh_engine)
    assert revision.at_head(fresh_engine)


def test_downgrade_figure_years_drops_only_its_table(fresh_engine, db_kind):
    migrations.upgrade(fresh_engine, "0004_figure_years")
    kept = FIVE_TABLES + ("districtbench_created_objects", "districtbench_column_map")
    before = describe_schema(fresh_engine, kept)
    report = migrations.downgrade(fresh_engine, "-1")
    assert migrations.current_revision(fresh_engine) == "0003_own_schema"
    assert report.dropped_tables == ["districtbench_figure_years"] and report.dropped_columns == []
    assert describe_schema(fresh_engine, kept) == before
    migrations.upgrade(fresh_engine)
    assert revision.at_head(fresh_engine)


def test_downgrade_own_schema_drops_only_the_column_map(fresh_engine, db_kind):
    migrations.upgrade(fresh_engine, "0003_own_schema")
    before = describe_schema(fresh_engine, FIVE_TABLES + ("districtbench_created_objects",))
    report = migrations.downgrade(fresh_engine, "-1")
    assert migrations.current_revision(fresh_engine) == "0002_benchmarks"
    assert report.dropped_tables == ["districtbench_column_map"] and report.dropped_columns == []
    assert describe_schema(fresh_engine, FIVE_TABLES + ("districtbench_created_objects",)) == before
    migrations.upgrade(fresh_engine)
    assert revision.at_head(fresh_engine)


def test_downgrade_benchmarks_drops_exactly_the_43_columns_and_the_us_row(fresh_engine, db_kind):
    migrations.upgrade(fresh_engine)
    report = migrations.downgrade(fresh_engine, "0001_base")
    assert migrations.current_revision(fresh_engine) == "0001_base"
    expected_dropped = {f"{t}.{line.split()[0]}" for t, lines in BENCHMARK_COLUMNS.items() for line in lines}
    assert set(report.dropped_columns) == expected_dropped and len(report.dropped_columns) == 43
    assert report.removed_rows == ["states fips=00"]
    with fresh_engine.connect() as connection:
        for table in FIVE_TABLES:
            assert reflect_columns(connection, table, db_kind) == expected_columns(table, benchmarks=False)
    rows = _state_rows(fresh_engine)
    assert len(rows) == NUMBER_OF_STATE_ROWS - 1 and "00" not in {row[0] for row in rows}
    migrations.upgrade(fresh_engine)
    assert len(_state_rows(fresh_engine)) == NUMBER_OF_STATE_ROWS


def test_downgrade_to_a_revision_id_and_to_base_revision(fresh_engine):
    migrations.upgrade(fresh_engine)
    migrations.downgrade(fresh_engine, "0001_base")
    assert migrations.current_revision(fresh_engine) == "0001_base"
    assert not revision.at_head(fresh_engine)
    migrations.upgrade(fresh_engine, HEAD)
    assert revision.at_head(fresh_engine)


def test_require_current_says_what_is_missing(fresh_engine):
    with pytest.raises(NotMigratedError) as empty:
        migrations.require_current(fresh_engine)
    assert "no districtbench schema" in str(empty.value)
    assert "Run `districtbench migrate`" in str(empty.value)
    assert empty.value.exit_code == 2
    migrations.upgrade(fresh_engine, "0001_base")
    with pytest.raises(NotMigratedError) as older:
        migrations.require_current(fresh_engine)
    assert "0001_base" in str(older.value) and HEAD in str(older.value)
    assert "Run `districtbench migrate`" in str(older.value)
    migrations.upgrade(fresh_engine)
    migrations.require_current(fresh_engine)


def test_upgrade_sql_needs_no_database():
    for url, prefix in (("postgresql+psycopg2://user:pw@host.invalid:5/db", f"{OWN_SCHEMA}."),
                        ("sqlite:////nonexistent/dir/x.db", "")):
        sql = migrations.upgrade_sql(url)
        for table in APP_TABLES:
            assert re.search(rf"CREATE TABLE {table} \(", sql), (url, table)
        for table in OWN_TABLES + ("districtbench_alembic_version",):
            assert re.search(rf"CREATE TABLE {re.escape(prefix)}{table} \(", sql), (url, table)
        assert "'United States'" in sql
    postgresql = migrations.upgrade_sql("postgresql://h/db")
    assert "TIMESTAMP(3)" in postgresql and postgresql.startswith(f"CREATE SCHEMA IF NOT EXISTS \"{OWN_SCHEMA}\";")
    assert "CREATE TABLE reporting.districtbench_fetch_units (" in migrations.upgrade_sql("postgresql://h/db", "reporting")


def test_scripts_come_from_the_checkout_or_the_installed_package(tmp_path, monkeypatch):
    import districtbench

    repository_root = Path(__file__).resolve().parents[1]
    assert migrations.script_location() == repository_root / "alembic"
    installed = tmp_path / "site-packages" / "districtbench"
    (installed / "_alembic").mkdir(parents=True)
    (installed / "_alembic" / "env.py").write_text("")
    monkeypatch.setattr(districtbench, "__file__", str(installed / "__init__.py"))
    assert migrations.script_location() == installed / "_alembic"
    (installed / "_alembic" / "env.py").unlink()
    with pytest.raises(ConfigurationError, match="migration scripts are missing"):
        migrations.script_location()


def test_the_head_revision_the_quick_check_knows_is_alembics_head():
    assert revision.HEAD_REVISION == migrations.head_revision()


def test_the_quick_check_reads_the_revision_alembic_reads(fresh_engine):
    """revision.stored_revisions (no Alembic) against Alembic's own reading, at every step."""
    def both() -> tuple[list[str], str | None]:
        with fresh_engine.connect() as connection:
            quick = revision.stored_revisions(connection)
        return quick, migrations.current_revision(fresh_engine)

    assert both() == ([], None) and not revision.at_head(fresh_engine)
    for step in ("0001_base", "0002_benchmarks", "0003_own_schema", "0004_figure_years"):
        migrations.upgrade(fresh_engine, step)
        assert both() == ([step], step) and not revision.at_head(fresh_engine)
    migrations.upgrade(fresh_engine)
    assert both() == ([HEAD], HEAD) and revision.at_head(fresh_engine)
    migrations.downgrade(fresh_engine, "base")
    assert both() == ([], None) and not revision.at_head(fresh_engine)


BOOKKEEPING = ("districtbench_created_objects", "districtbench_fetch_units", "districtbench_alembic_version")


def test_a_downgrade_below_0003_moves_the_bookkeeping_back_where_0003_found_it(fresh_engine, db_kind):
    """An older installation kept its bookkeeping in the app's schema; 0003 moved it into
    districtbench's own. Going back below 0003 puts it back there (PostgreSQL); a database
    this districtbench created has it in its own schema from 0001 on and keeps it there."""
    migrations.upgrade(fresh_engine, "0002_benchmarks")
    if db_kind == "postgresql":  # the older installation's layout: everything in the app's schema
        with fresh_engine.begin() as connection:
            for name in BOOKKEEPING:
                connection.execute(sa.text(f'ALTER TABLE "{OWN_SCHEMA}"."{name}" SET SCHEMA public'))
            connection.execute(sa.text(f'DROP SCHEMA "{OWN_SCHEMA}"'))
    old = table_names(fresh_engine)
    assert migrations.upgrade(fresh_engine).to_revision == HEAD
    if db_kind == "postgresql":
        assert set(BOOKKEEPING) <= table_names(fresh_engine)[OWN_SCHEMA]
        assert not set(BOOKKEEPING) & table_names(fresh_engine)[None]

    report = migrations.downgrade(fresh_engine, "0002_benchmarks")
    assert report.to_revision == "0002_benchmarks" and migrations.current_revision(fresh_engine) == "0002_benchmarks"
    assert table_names(fresh_engine) == old  # every table where it was at 0002, in the same schema
    if db_kind == "postgresql":
        assert report.moved_back == [f"{name} → public" for name in BOOKKEEPING]
        assert "moved back to the app's schema, where revision 0003 found them" in report.summary()
        with fresh_engine.connect() as connection:  # the schema districtbench created is gone with them
            assert connection.execute(sa.text(f"SELECT 1 FROM pg_namespace WHERE nspname = '{OWN_SCHEMA}'")).first() is None
    else:
        assert report.moved_back == []

    assert migrations.upgrade(fresh_engine).to_revision == HEAD  # and forward again, as from the older installation
    assert revision.at_head(fresh_engine)
    if db_kind == "postgresql":
        assert set(BOOKKEEPING) <= table_names(fresh_engine)[OWN_SCHEMA]


def test_a_downgrade_below_0003_of_a_database_this_districtbench_created_keeps_its_schema(fresh_engine, db_kind):
    migrations.upgrade(fresh_engine, "0002_benchmarks")
    at_0002 = table_names(fresh_engine)
    migrations.upgrade(fresh_engine)
    report = migrations.downgrade(fresh_engine, "0002_benchmarks")
    assert report.moved_back == [] and "moved back" not in report.summary()
    assert table_names(fresh_engine) == at_0002
    if db_kind == "postgresql":
        assert set(BOOKKEEPING) <= at_0002[OWN_SCHEMA]


def _peer_table_rows(engine) -> dict[str, list[tuple]]:
    with engine.connect() as connection:
        return {table.name: sorted(tuple(row) for row in connection.execute(sa.select(table)))
                for table in (tables.peer_groups, tables.peers, tables.peer_benchmarks)}


def _without_rowid(engine) -> dict[str, bool]:
    with engine.connect() as connection:
        return {name: connection.exec_driver_sql(
                    "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).scalar()
                .rstrip().endswith("WITHOUT ROWID") for name in tables.PEER_TABLES}


def test_peers_without_rowid_rebuilds_the_sqlite_peer_tables_keeping_their_rows(fresh_engine, db_kind):
    migrations.upgrade(fresh_engine, "0008_family_inputs")
    with fresh_engine.begin() as connection:
        connection.execute(tables.peer_groups.insert(), [
            {"leaid": leaid, "scope": "national", "locale_group": 4, "enrollment": 120 + i,
             "children_poverty_percent": "21.50", "ell_pct": "1.25", "swd_pct": "14.00", "peer_count": 1}
            for i, leaid in enumerate(("0100005", "0100006"))])
        connection.execute(tables.peers.insert(), [
            {"leaid": "0100005", "rank": 1, "peer_leaid": "0100006", "distance": 0.1 + 0.2},
            {"leaid": "0100006", "rank": 1, "peer_leaid": "0100005", "distance": 0.1 + 0.2}])
        connection.execute(tables.peer_benchmarks.insert(), [
            {"leaid": "0100005", "metric": "enrollment", "peer_average": "121.00", "vs_peers": "-1.00",
             "peer_quartile": None}])
    rows, schema = _peer_table_rows(fresh_engine), describe_schema(fresh_engine, tables.PEER_TABLES)
    assert len(rows[tables.peers.name]) == 2 and rows[tables.peers.name][0][3] == 0.1 + 0.2

    report = migrations.upgrade(fresh_engine)
    assert _peer_table_rows(fresh_engine) == rows
    assert describe_schema(fresh_engine, tables.PEER_TABLES) == schema  # same columns, key and name
    rebuilt = "redefined tables " + ", ".join(tables.PEER_TABLES)
    if db_kind == "sqlite":  # the report says what the rebuild changed, though no column changed
        assert report.redefined_tables == list(tables.PEER_TABLES)
        assert report.summary().endswith(f"from 0008_family_inputs to {HEAD}: {rebuilt}.")
        assert _without_rowid(fresh_engine) == dict.fromkeys(tables.PEER_TABLES, True)
        with fresh_engine.connect() as connection, pytest.raises(sa.exc.OperationalError, match="rowid"):
            connection.exec_driver_sql(f"SELECT rowid FROM {tables.peers.name}")
    else:  # nothing to do on PostgreSQL
        assert report.redefined_tables == [] and report.summary().endswith(": no table changes.")

    report = migrations.downgrade(fresh_engine, "0008_family_inputs")
    assert report.redefined_tables == (list(tables.PEER_TABLES) if db_kind == "sqlite" else [])
    assert _peer_table_rows(fresh_engine) == rows
    assert describe_schema(fresh_engine, tables.PEER_TABLES) == schema
    if db_kind == "sqlite":
        assert _without_rowid(fresh_engine) == dict.fromkeys(tables.PEER_TABLES, False)
    migrations.upgrade(fresh_engine)
    assert revision.at_head(fresh_engine)
