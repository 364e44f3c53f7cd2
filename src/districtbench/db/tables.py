"""The tables districtbench reads and writes (schema.md), as SQLAlchemy Core.

These are the *latest* shape of the schema; the Alembic revisions build it step by step
and adopt an application database that already has some of it.

The four application tables (`APP_TABLES`) are the LOGICAL model: schema.md's names, and
the types code reads scales, lengths and ranges from. Statements against them are built
from `districtbench.db.layout.of(bind)`, which renders the names the database really has
(the app renamed some columns). districtbench's own tables live in their own PostgreSQL
schema: they are declared with `schema=OWN_SCHEMA`, a placeholder every engine made by
`db.engine.create_db_engine` translates (`schema_translate_map`) into the configured
schema (default `districtbench`), or into none on SQLite.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# Prisma/PostgreSQL's own default names, so an app-created index or key is recognised.
NAMING_CONVENTION = {
    "pk": "%(table_name)s_pkey",
    "ix": "%(table_name)s_%(column_0_N_name)s_idx",
    "uq": "%(table_name)s_%(column_0_N_name)s_key",
    "fk": "%(table_name)s_%(column_0_name)s_fkey",
    "ck": "%(table_name)s_%(constraint_name)s_check",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

# Placeholder schema of districtbench's own tables; translated by the engine (module doc).
OWN_SCHEMA = "__districtbench_schema__"
APP_TABLES = ("states", "districts", "district_data_history", "data_refresh_logs")
# The `districts` columns the directory sources write (the roster); leaid is the key.
ROSTER_COLUMNS = (
    "leaid",
    "name",
    "state_fips",
    "state_abbrev",
    "city_location",
    "county_name",
    "urban_centric_locale",
    "number_of_schools",
)

# TIMESTAMP(3) without time zone on PostgreSQL; plain TIMESTAMP elsewhere.
Timestamp = postgresql.TIMESTAMP(precision=3)
NOW = sa.text("CURRENT_TIMESTAMP")


def Decimal(precision: int, scale: int) -> sa.Numeric:
    return sa.Numeric(precision, scale)


# Benchmark columns added by the second revision ("benchmarks"): name -> type factory.
METRIC_KEYS = (
    "absenteeism",
    "graduation",
    "student_teacher_ratio",
    "swd_pct",
    "ell_pct",
    "math_proficiency",
    "read_proficiency",
    "expenditure_pp",
)
TREND_COLUMNS = (
    "swd_trend_3yr",
    "ell_trend_3yr",
    "absenteeism_trend_3yr",
    "graduation_trend_3yr",
    "student_teacher_ratio_trend_3yr",
    "math_proficiency_trend_3yr",
    "read_proficiency_trend_3yr",
    "expenditure_pp_trend_3yr",
)


def _benchmark_district_columns() -> list[tuple[str, sa.types.TypeEngine]]:
    columns: list[tuple[str, sa.types.TypeEngine]] = [
        ("swd_pct", Decimal(5, 2)),
        ("ell_pct", Decimal(5, 2)),
    ]
    columns += [(name, Decimal(8, 2)) for name in TREND_COLUMNS]
    columns += [(f"{key}_vs_state", Decimal(8, 2)) for key in METRIC_KEYS]
    columns += [(f"{key}_vs_national", Decimal(8, 2)) for key in METRIC_KEYS]
    columns += [(f"{key}_quartile_state", sa.String(15)) for key in METRIC_KEYS]
    return columns


BENCHMARK_COLUMNS: dict[str, list[tuple[str, sa.types.TypeEngine]]] = {
    "districts": _benchmark_district_columns(),
    "states": [
        ("avg_chronic_absenteeism_rate", Decimal(5, 2)),
        ("avg_student_teacher_ratio", Decimal(8, 2)),
        ("avg_swd_pct", Decimal(5, 2)),
        ("avg_ell_pct", Decimal(5, 2)),
        ("avg_enrollment", sa.Integer()),
        ("avg_math_proficiency", Decimal(5, 2)),
        ("avg_read_proficiency", Decimal(5, 2)),
    ],
    "district_data_history": [
        ("ell_students", sa.Integer()),
        ("chronic_absenteeism_rate", Decimal(5, 2)),
    ],
}


def _benchmark(table: str) -> list[sa.Column]:
    return [sa.Column(name, type_, nullable=True) for name, type_ in BENCHMARK_COLUMNS[table]]


states = sa.Table(
    "states",
    metadata,
    sa.Column("fips", sa.String(2), primary_key=True),
    sa.Column("abbrev", sa.String(2), nullable=False, unique=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("total_districts", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("total_enrollment", sa.Integer),
    sa.Column("avg_expenditure_per_pupil", Decimal(12, 2)),
    sa.Column("avg_graduation_rate", Decimal(5, 2)),
    sa.Column("avg_poverty_rate", Decimal(5, 2)),
    sa.Column("aggregates_updated_at", Timestamp),
    sa.Column("created_at", Timestamp, nullable=False, server_default=NOW),
    sa.Column("updated_at", Timestamp, nullable=False),
    *_benchmark("states"),
)

districts = sa.Table(
    "districts",
    metadata,
    sa.Column("leaid", sa.String(7), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("state_fips", sa.String(2), sa.ForeignKey("states.fips"), nullable=False, index=True),
    sa.Column("state_abbrev", sa.String(2), index=True),
    sa.Column("city_location", sa.String(100)),
    sa.Column("county_name", sa.String(100)),
    sa.Column("urban_centric_locale", sa.Integer),
    sa.Column("number_of_schools", sa.Integer),
    sa.Column("enrollment", sa.Integer),
    sa.Column("urban_institute_year", sa.Integer),
    sa.Column("spec_ed_students", sa.Integer),
    sa.Column("ell_students", sa.Integer),
    sa.Column("teachers_fte", Decimal(10, 2)),
    sa.Column("staff_total_fte", Decimal(10, 2)),
    sa.Column("staff_data_year", sa.Integer),
    sa.Column("total_expenditure", Decimal(15, 2)),
    sa.Column("expenditure_per_pupil", Decimal(12, 2)),
    sa.Column("finance_data_year", sa.Integer),
    sa.Column("children_poverty_percent", Decimal(5, 2)),
    sa.Column("saipe_data_year", sa.Integer),
    sa.Column("graduation_rate_total", Decimal(5, 2)),
    sa.Column("graduation_data_year", sa.Integer),
    sa.Column("chronic_absenteeism_rate", Decimal(5, 2)),
    sa.Column("absenteeism_data_year", sa.Integer),
    sa.Column("math_proficiency_pct", Decimal(5, 2)),
    sa.Column("read_proficiency_pct", Decimal(5, 2)),
    sa.Column("assessment_data_year", sa.Integer),
    sa.Column("student_teacher_ratio", Decimal(8, 2)),
    sa.Column("enrollment_trend_3yr", Decimal(8, 2)),
    sa.Column("staffing_trend_3yr", Decimal(8, 2)),
    sa.Column("vacancy_pressure_signal", Decimal(8, 2)),
    sa.Column("created_at", Timestamp, nullable=False, server_default=NOW),
    sa.Column("updated_at", Timestamp, nullable=False),
    *_benchmark("districts"),
)

district_data_history = sa.Table(
    "district_data_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("leaid", sa.String(7), sa.ForeignKey("districts.leaid"), nullable=False, index=True),
    sa.Column("year", sa.Integer, nullable=False, index=True),
    sa.Column("source", sa.String(30), nullable=False, index=True),
    sa.Column("enrollment", sa.Integer),
    sa.Column("teachers_fte", Decimal(10, 2)),
    sa.Column("staff_total_fte", Decimal(10, 2)),
    sa.Column("spec_ed_students", sa.Integer),
    sa.Column("total_revenue", Decimal(15, 2)),
    sa.Column("total_expenditure", Decimal(15, 2)),
    sa.Column("federal_revenue", Decimal(15, 2)),
    sa.Column("state_revenue", Decimal(15, 2)),
    sa.Column("local_revenue", Decimal(15, 2)),
    sa.Column("sped_expenditure", Decimal(15, 2)),
    sa.Column("expenditure_pp", Decimal(12, 2)),
    sa.Column("poverty_pct", Decimal(5, 2)),
    sa.Column("graduation_rate", Decimal(5, 2)),
    sa.Column("math_proficiency", Decimal(5, 2)),
    sa.Column("read_proficiency", Decimal(5, 2)),
    sa.Column("created_at", Timestamp, nullable=False, server_default=NOW),
    *_benchmark("district_data_history"),
    sa.UniqueConstraint("leaid", "year", "source"),
)

data_refresh_logs = sa.Table(
    "data_refresh_logs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("data_source", sa.String(50), nullable=False),
    sa.Column("data_year", sa.Integer),
    sa.Column("records_updated", sa.Integer, nullable=False),
    sa.Column("records_failed", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("error_message", sa.Text),
    sa.Column("started_at", Timestamp, nullable=False),
    sa.Column("completed_at", Timestamp, nullable=False, server_default=NOW),
    sa.Index(None, "data_source", "completed_at"),
)

fetch_units = sa.Table(
    "districtbench_fetch_units",
    metadata,
    sa.Column("source", sa.String(30), primary_key=True),
    sa.Column("year", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("state_fips", sa.String(2), primary_key=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("rows_written", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("rows_skipped", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("error_message", sa.Text),
    sa.Column("fetched_at", Timestamp, nullable=False),
    schema=OWN_SCHEMA,
)

# What the revisions created (tables, columns, indexes, uniques, rows): what a downgrade
# removes, and what `districtbench prisma` tells the app to declare.
created_objects = sa.Table(
    "districtbench_created_objects",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("revision", sa.String(32), nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("table_name", sa.String(63), nullable=False),
    sa.Column("name", sa.String(63), nullable=False),
    schema=OWN_SCHEMA,
)

# The app's physical column for a logical column, where they differ (detected when adopting
# the app's tables, or configured): one row per (table, logical column).
column_map = sa.Table(
    "districtbench_column_map",
    metadata,
    sa.Column("table_name", sa.String(63), primary_key=True),
    sa.Column("logical_name", sa.String(63), primary_key=True),
    sa.Column("physical_name", sa.String(63), nullable=False),
    sa.Column("origin", sa.String(20), nullable=False),
    sa.Column("recorded_at", Timestamp, nullable=False),
    schema=OWN_SCHEMA,
)
# The year of each figure districtbench computes, per state (figure = the `districts` column it
# is stored in): `year` the as-of year of its values, `base_year` the year a 3-year trend
# compares it with (trend columns only; NULL: no base year in the window), and the history
# source of the rows of each (`source`, `base_source`: of several sources providing one
# measure, the one that year's rows come from, metrics/measures.py). Written by the metric
# families, read by `show`, `export` and `status` (reporting/provenance.py).
figure_years = sa.Table(
    "districtbench_figure_years",
    metadata,
    sa.Column("state_fips", sa.String(2), primary_key=True),
    sa.Column("figure", sa.String(63), primary_key=True),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("base_year", sa.Integer),
    sa.Column("source", sa.String(30)),
    sa.Column("base_source", sa.String(30)),
    schema=OWN_SCHEMA,
)
# What districtbench keeps of a `district_data_history` row beside the app's table: the
# denominators state averages are pooled over (issue 13.2) and the grades a directory year
# says the district offers. One row per history row, same key (leaid, year, source), written
# by the backfill in the same transaction as the history row; a history row written before
# revision 0005 has none. NULL: the API had no such count (or none that fits).
history_extras = sa.Table(
    "districtbench_history_extras",
    metadata,
    sa.Column("leaid", sa.String(7), primary_key=True),
    sa.Column("year", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("source", sa.String(30), primary_key=True),
    sa.Column("cohort", sa.Integer),  # edfacts_grad: students in the adjusted cohort
    sa.Column("math_takers", sa.Integer),  # edfacts_assess: valid mathematics tests
    sa.Column("read_takers", sa.Integer),  # edfacts_assess: valid reading tests
    sa.Column("absent_students", sa.Integer),  # crdc_absenteeism: Σ absent of the schools counted
    sa.Column("crdc_enrollment", sa.Integer),  # crdc_absenteeism: Σ CRDC enrollment of those schools
    sa.Column("current_spending", Decimal(15, 2)),  # ccd_finance: current el.-sec. expenditure
    sa.Column("pupils", sa.Integer),  # ccd_finance: fall membership the district is responsible for
    sa.Column("children", sa.Integer),  # saipe: children 5-17
    sa.Column("poor_children", sa.Integer),  # saipe: children 5-17 in poverty
    sa.Column("lowest_grade", sa.Integer),  # ccd_directory: -1 PK, 0 K, 1 … 12, 13 adult education
    sa.Column("highest_grade", sa.Integer),
    schema=OWN_SCHEMA,
)
EXTRA_COLUMNS = tuple(c.name for c in history_extras.c if c.name not in ("leaid", "year", "source"))
# Peer groups (family `peers`, issue 15), rewritten whole by every run of the family.
# peer_groups: one row per eligible district — the scope its peers were drawn from
# ('national' or 'state'), its locale group (1 City, 2 Suburb, 3 Town, 4 Rural), the four
# feature values used (enrollment before its logarithm) and how many peers it got (≤ 20).
peer_groups = sa.Table(
    "districtbench_peer_groups",
    metadata,
    sa.Column("leaid", sa.String(7), primary_key=True),
    sa.Column("scope", sa.String(10), nullable=False),
    sa.Column("locale_group", sa.Integer, nullable=False),
    sa.Column("enrollment", sa.Integer, nullable=False),
    sa.Column("children_poverty_percent", Decimal(5, 2), nullable=False),
    sa.Column("ell_pct", Decimal(5, 2), nullable=False),
    sa.Column("swd_pct", Decimal(5, 2), nullable=False),
    sa.Column("peer_count", sa.Integer, nullable=False),
    schema=OWN_SCHEMA,
    sqlite_with_rowid=False,  # one b-tree in key order (revision 0009)
)
# peers: a district's peers, rank 1 = the nearest; distance on the four z-scores.
peers = sa.Table(
    "districtbench_peers",
    metadata,
    sa.Column("leaid", sa.String(7), primary_key=True),
    sa.Column("rank", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("peer_leaid", sa.String(7), nullable=False),
    sa.Column("distance", sa.Double, nullable=False),
    schema=OWN_SCHEMA,
    sqlite_with_rowid=False,  # one b-tree in key order (revision 0009)
)
# peer_benchmarks: per district with a peer group and metric key (metrics.md): the peers'
# average (pooled like the state average), the district's value minus it, and its quartile
# flag among itself and its peers.
peer_benchmarks = sa.Table(
    "districtbench_peer_benchmarks",
    metadata,
    sa.Column("leaid", sa.String(7), primary_key=True),
    sa.Column("metric", sa.String(30), primary_key=True),
    sa.Column("peer_average", Decimal(12, 2)),
    sa.Column("vs_peers", Decimal(14, 2)),
    sa.Column("peer_quartile", sa.String(15)),
    schema=OWN_SCHEMA,
    sqlite_with_rowid=False,  # one b-tree in key order (revision 0009)
)
PEER_TABLES = (peer_groups.name, peers.name, peer_benchmarks.name)
# What a metric family last computed its own tables from (metrics/fingerprints.py): a digest
# of its inputs and of the row counts it left, so a run finding the same can skip the work.
family_inputs = sa.Table(
    "districtbench_family_inputs",
    metadata,
    sa.Column("family", sa.String(63), primary_key=True),
    sa.Column("fingerprint", sa.String(200), nullable=False),
    sa.Column("recorded_at", Timestamp, nullable=False),
    schema=OWN_SCHEMA,
)
OWN_TABLES = (fetch_units.name, created_objects.name, column_map.name, figure_years.name, history_extras.name,
              *PEER_TABLES, family_inputs.name)

# Keys and indexes of the app's tables, named as revision 0001 (and NAMING_CONVENTION) name
# them: created with a table districtbench creates, only suggested on an app's table.
INDEXES: dict[str, dict[str, tuple[str, ...]]] = {
    "districts": {"districts_state_fips_idx": ("state_fips",), "districts_state_abbrev_idx": ("state_abbrev",)},
    "district_data_history": {
        "district_data_history_leaid_idx": ("leaid",),
        "district_data_history_year_idx": ("year",),
        "district_data_history_source_idx": ("source",),
    },
    "data_refresh_logs": {"data_refresh_logs_data_source_completed_at_idx": ("data_source", "completed_at")},
}
UNIQUES: dict[str, dict[str, tuple[str, ...]]] = {
    "states": {"states_abbrev_key": ("abbrev",)},
    "district_data_history": {"district_data_history_leaid_year_source_key": ("leaid", "year", "source")},
}
FOREIGN_KEYS: dict[str, dict[str, tuple[str, str, str]]] = {  # name -> (column, table, column)
    "districts": {"districts_state_fips_fkey": ("state_fips", "states", "fips")},
    "district_data_history": {"district_data_history_leaid_fkey": ("leaid", "districts", "leaid")},
}
