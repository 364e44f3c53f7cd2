"""Application databases as the Next.js + Prisma app really has them, built by raw DDL.

* `PLAN` — February 2026: the plan's names (schema.md), plus the app's own columns
  (`slug`, `sales_rep` NOT NULL without a default, `notes`), an `opportunities` table with a
  foreign key to `districts`, and rows. (SQLite cannot drop a NOT NULL later, so with
  `fixed=True` its `sales_rep` has the default the app team's fix gives it on PostgreSQL.)
* `RENAMED` — June 2026: the April 2026 renames (districts.graduation_rate; five history
  columns), `district_data_history.created_at`/`updated_at` NOT NULL and `updated_at` without
  a default (Prisma's @updatedAt), the same for `data_refresh_logs.created_at`, and no unique
  key on (leaid, year, source) in the history (the app only has its `id`).
* `MINIMAL` — `districts(leaid, name, sales_rep)`: the smallest app table to adopt.

The foreign keys have the referential actions `prisma migrate` gives them (a required
relation: ON DELETE RESTRICT ON UPDATE CASCADE; `opportunities` declares onDelete: Cascade).

The expected names and statements are written here from the issue, not read from the code.
"""

from __future__ import annotations

import sqlalchemy as sa

# logical (districtbench) name -> the June 2026 app's name
RENAMES = {
    ("districts", "graduation_rate_total"): "graduation_rate",
    ("district_data_history", "expenditure_pp"): "expenditure_per_pupil",
    ("district_data_history", "sped_expenditure"): "sped_expenditure_total",
    ("district_data_history", "poverty_pct"): "poverty_percent",
    ("district_data_history", "math_proficiency"): "math_proficiency_pct",
    ("district_data_history", "read_proficiency"): "read_proficiency_pct",
}
OLD_NAMES = {table: {old for (t, old) in RENAMES if t == table} for table in ("districts", "district_data_history")}

_STATES = """CREATE TABLE states (
    fips VARCHAR(2) NOT NULL PRIMARY KEY,
    abbrev VARCHAR(2) NOT NULL,
    name VARCHAR(100) NOT NULL,
    total_districts INTEGER NOT NULL DEFAULT 0,
    total_enrollment INTEGER,
    avg_expenditure_per_pupil NUMERIC(12,2),
    avg_graduation_rate NUMERIC(5,2),
    avg_poverty_rate NUMERIC(5,2),
    aggregates_updated_at TIMESTAMP(3),
    region VARCHAR(20),
    created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP(3) NOT NULL
)"""


def _districts(graduation: str, sales_rep_default: str = "") -> str:
    return f"""CREATE TABLE districts (
    leaid VARCHAR(7) NOT NULL PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    state_fips VARCHAR(2) NOT NULL REFERENCES states (fips) ON DELETE RESTRICT ON UPDATE CASCADE,
    state_abbrev VARCHAR(2),
    city_location VARCHAR(100),
    county_name VARCHAR(100),
    urban_centric_locale INTEGER,
    number_of_schools INTEGER,
    enrollment INTEGER,
    teachers_fte NUMERIC(10,2),
    {graduation} NUMERIC(5,2),
    slug VARCHAR(200),
    sales_rep VARCHAR(100) NOT NULL{sales_rep_default},
    notes TEXT,
    created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP(3) NOT NULL
)"""


def _history(names: dict[str, str], *, serial: str, timestamps: str, unique: str) -> str:
    return f"""CREATE TABLE district_data_history (
    id {serial},
    leaid VARCHAR(7) NOT NULL REFERENCES districts (leaid) ON DELETE RESTRICT ON UPDATE CASCADE,
    year INTEGER NOT NULL,
    source VARCHAR(30) NOT NULL,
    enrollment INTEGER,
    teachers_fte NUMERIC(10,2),
    staff_total_fte NUMERIC(10,2),
    spec_ed_students INTEGER,
    total_revenue NUMERIC(15,2),
    total_expenditure NUMERIC(15,2),
    federal_revenue NUMERIC(15,2),
    state_revenue NUMERIC(15,2),
    local_revenue NUMERIC(15,2),
    {names["sped_expenditure"]} NUMERIC(15,2),
    {names["expenditure_pp"]} NUMERIC(12,2),
    {names["poverty_pct"]} NUMERIC(5,2),
    graduation_rate NUMERIC(5,2),
    {names["math_proficiency"]} NUMERIC(5,2),
    {names["read_proficiency"]} NUMERIC(5,2),
    source_file TEXT,
    {timestamps}{unique}
)"""


def _refresh_logs(serial: str, created_at: str) -> str:
    return f"""CREATE TABLE data_refresh_logs (
    id {serial},
    data_source VARCHAR(50) NOT NULL,
    data_year INTEGER,
    records_updated INTEGER NOT NULL,
    records_failed INTEGER NOT NULL DEFAULT 0,
    status VARCHAR(20) NOT NULL,
    error_message TEXT,
    started_at TIMESTAMP(3) NOT NULL,
    completed_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP{created_at}
)"""


def _opportunities(serial: str) -> str:
    return f"""CREATE TABLE opportunities (
    id {serial},
    district_leaid VARCHAR(7) NOT NULL REFERENCES districts (leaid) ON DELETE CASCADE ON UPDATE CASCADE,
    title TEXT NOT NULL,
    created_at TIMESTAMP(3) NOT NULL
)"""


ROWS = [
    "INSERT INTO states (fips, abbrev, name, region, created_at, updated_at) VALUES "
    "('02', 'AK', 'Alaska', 'West', '2025-01-02 03:04:05.678', '2025-02-03 04:05:06.789'), "
    "('05', 'AR', 'Arkansas', 'South', '2025-01-02 03:04:05.678', '2025-02-03 04:05:06.789')",
    # a real Alaska district (in the 2018 directory) with the app's own data, and one of the app's own
    "INSERT INTO districts (leaid, name, state_fips, state_abbrev, slug, sales_rep, notes, created_at, updated_at) VALUES "
    "('0200050', 'Alaska Gateway SD (app name)', '02', 'AK', 'alaska-gateway', 'Dana', 'renewal in May', "
    "'2025-01-02 03:04:05.678', '2025-02-03 04:05:06.789'), "
    "('0299999', 'Pilot District', '02', 'AK', 'pilot', 'Lee', NULL, '2025-01-02 03:04:05.678', '2025-02-03 04:05:06.789')",
    "INSERT INTO opportunities (district_leaid, title, created_at) VALUES "
    "('0200050', 'Tutoring RFP', '2025-03-01 00:00:00.000'), ('0299999', 'Staffing study', '2025-03-02 00:00:00.000')",
]


def serial(kind: str) -> str:
    return "SERIAL PRIMARY KEY" if kind == "postgresql" else "INTEGER PRIMARY KEY AUTOINCREMENT"


def _sales_rep_default(kind: str, fixed: bool) -> str:
    return " DEFAULT 'unassigned'" if fixed and kind == "sqlite" else ""


def plan_ddl(kind: str, fixed: bool = False) -> list[str]:
    names = {name: name for name in ("sped_expenditure", "expenditure_pp", "poverty_pct", "math_proficiency",
                                     "read_proficiency")}
    return [
        _STATES, 'CREATE UNIQUE INDEX "states_abbrev_key" ON states (abbrev)',
        _districts("graduation_rate_total", _sales_rep_default(kind, fixed)),
        _history(names, serial=serial(kind),
                 timestamps="created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP",
                 unique=",\n    UNIQUE (leaid, year, source)"),
        _refresh_logs(serial(kind), ""),
        _opportunities(serial(kind)),
        *ROWS,
    ]


def renamed_ddl(kind: str, fixed: bool = False) -> list[str]:
    names = {old: RENAMES[("district_data_history", old)] for old in OLD_NAMES["district_data_history"]}
    return [
        _STATES, 'CREATE UNIQUE INDEX "states_abbrev_key" ON states (abbrev)',
        _districts("graduation_rate", _sales_rep_default(kind, fixed)),
        _history(names, serial=serial(kind),
                 timestamps="created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,\n    "
                 "updated_at TIMESTAMP(3) NOT NULL",
                 unique=""),
        "CREATE INDEX district_data_history_leaid_idx ON district_data_history (leaid)",
        _refresh_logs(serial(kind), ",\n    created_at TIMESTAMP(3) NOT NULL"),
        _opportunities(serial(kind)),
        *ROWS,
        "INSERT INTO district_data_history (leaid, year, source, poverty_percent, created_at, updated_at) VALUES "
        "('0299999', 2017, 'saipe', 12.34, '2025-01-02 03:04:05.678', '2025-01-02 03:04:05.678')",
    ]


MINIMAL_DDL = [
    "CREATE TABLE districts (leaid VARCHAR(7) NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL, sales_rep VARCHAR(100))",
    "INSERT INTO districts (leaid, name, sales_rep) VALUES ('0600001', 'First', 'Kim')",
]

# The app's own writes, in the app's own words: each must still work after districtbench adopts.
APP_INSERTS = {
    "plan": [
        "INSERT INTO districts (leaid, name, state_fips, sales_rep, updated_at) VALUES "
        "('0211111', 'New App District', '02', 'Sam', CURRENT_TIMESTAMP)",
        "INSERT INTO district_data_history (leaid, year, source, poverty_pct) VALUES ('0211111', 2016, 'saipe', 5.5)",
        "INSERT INTO states (fips, abbrev, name, updated_at) VALUES ('99', 'ZZ', 'Test State', CURRENT_TIMESTAMP)",
        "INSERT INTO data_refresh_logs (data_source, records_updated, status, started_at) "
        "VALUES ('app-import', 1, 'success', CURRENT_TIMESTAMP)",
        "INSERT INTO opportunities (district_leaid, title, created_at) VALUES ('0211111', 'New deal', CURRENT_TIMESTAMP)",
    ],
    "renamed": [
        "INSERT INTO districts (leaid, name, state_fips, sales_rep, graduation_rate, updated_at) VALUES "
        "('0211111', 'New App District', '02', 'Sam', 88.8, CURRENT_TIMESTAMP)",
        "INSERT INTO district_data_history (leaid, year, source, poverty_percent, updated_at) "
        "VALUES ('0211111', 2016, 'saipe', 5.5, CURRENT_TIMESTAMP)",
        "INSERT INTO states (fips, abbrev, name, updated_at) VALUES ('99', 'ZZ', 'Test State', CURRENT_TIMESTAMP)",
        "INSERT INTO data_refresh_logs (data_source, records_updated, status, started_at, created_at) "
        "VALUES ('app-import', 1, 'success', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
        "INSERT INTO opportunities (district_leaid, title, created_at) VALUES ('0211111', 'New deal', CURRENT_TIMESTAMP)",
    ],
    "minimal": ["INSERT INTO districts (leaid, name, sales_rep) VALUES ('0600002', 'Second', 'Ana')"],
}
APP_TABLES = {
    "plan": ("states", "districts", "district_data_history", "data_refresh_logs", "opportunities"),
    "renamed": ("states", "districts", "district_data_history", "data_refresh_logs", "opportunities"),
    "minimal": ("districts",),
}


def ddl(layout: str, kind: str, fixed: bool = False) -> list[str]:
    if layout == "minimal":
        return MINIMAL_DDL
    return {"plan": plan_ddl, "renamed": renamed_ddl}[layout](kind, fixed)


def build(engine: sa.engine.Engine, layout: str, fixed: bool = False) -> None:
    with engine.begin() as connection:
        for statement in ddl(layout, engine.dialect.name, fixed):
            connection.execute(sa.text(statement))


# What the app team runs after reading `districtbench migrate` (its exact statements).
FIXES = {
    "postgresql": {
        "sales_rep": "ALTER TABLE districts ALTER COLUMN sales_rep DROP NOT NULL;",
        "unique": "ALTER TABLE district_data_history ADD CONSTRAINT district_data_history_leaid_year_source_key "
                  "UNIQUE (leaid, year, source);",
    },
    "sqlite": {
        "unique": "CREATE UNIQUE INDEX district_data_history_leaid_year_source_key ON district_data_history "
                  "(leaid, year, source);",
    },
}


def apply_fixes(engine: sa.engine.Engine, layout: str) -> None:
    fixes = dict(FIXES[engine.dialect.name])
    if layout != "renamed":
        fixes.pop("unique", None)
    with engine.begin() as connection:
        for statement in fixes.values():
            connection.execute(sa.text(statement))


def run_app_inserts(engine: sa.engine.Engine, layout: str) -> None:
    """The app's own INSERTs (raises if the database refuses one)."""
    with engine.begin() as connection:
        for statement in APP_INSERTS[layout]:
            connection.execute(sa.text(statement))


def columns(engine: sa.engine.Engine, table: str) -> dict[str, dict]:
    with engine.connect() as connection:
        return {c["name"]: c for c in sa.inspect(connection).get_columns(table)}
