"""The app's tables as this database really has them: logical names → physical names.

`districtbench.db.tables` is the logical model (schema.md's names and types). The app's
database may name some columns differently — in April 2026 the app renamed six of them —
and may have timestamp columns the plan did not (the June 2026 app gave
`district_data_history` NOT NULL `created_at`/`updated_at`). Every statement against the
app's tables is built from

    t = layout.of(connection)            # Engine or Connection; cached per engine
    t.districts.c.graduation_rate_total  # renders "graduation_rate" on the June 2026 app

whose Tables are keyed by LOGICAL names (`.c`, insert/update values, result labels) and
render the PHYSICAL names. A logical column's physical name is, in order: the configured
one (`[columns]` of districtbench.toml / DISTRICTBENCH_COLUMNS), the one recorded in
`districtbench_column_map` when districtbench adopted the table, the logical name if the
table has it, the app's renamed column if the table has that (a known rename), else the
logical name (a column `migrate` will add).
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Mapping

import sqlalchemy as sa

from districtbench.config_file import TIMESTAMP_COLUMNS
from districtbench.db import tables
from districtbench.db.engine import options_of, own_schema
from districtbench.errors import ConfigurationError

# (table, logical column) → the app's name since April 2026.
KNOWN_RENAMES: dict[tuple[str, str], str] = {
    ("districts", "graduation_rate_total"): "graduation_rate",
    ("district_data_history", "expenditure_pp"): "expenditure_per_pupil",
    ("district_data_history", "sped_expenditure"): "sped_expenditure_total",
    ("district_data_history", "poverty_pct"): "poverty_percent",
    ("district_data_history", "math_proficiency"): "math_proficiency_pct",
    ("district_data_history", "read_proficiency"): "read_proficiency_pct",
}

# How a physical name was chosen.
CONFIGURED, RECORDED, PLAN, RENAMED, MISSING = "configured", "recorded", "plan", "renamed", "missing"


@dataclass(frozen=True)
class PhysicalColumn:
    name: str
    nullable: bool
    has_default: bool  # a default, identity or generated value: an INSERT may leave it out


def physical_columns(bind, names: Iterable[str] = tables.APP_TABLES) -> dict[str, dict[str, PhysicalColumn]]:
    """The columns of those of `names` that exist (in the search path's schema)."""
    names = list(names)
    found: dict[str, dict[str, PhysicalColumn]] = {}
    if bind.dialect.name == "postgresql":
        regclasses = ", ".join(f"to_regclass(:t{i})" for i in range(len(names)))
        query = sa.text(
            "SELECT c.relname, a.attname, NOT a.attnotnull, "
            "a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '' "
            "FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
            f"WHERE a.attrelid IN ({regclasses}) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY c.relname, a.attnum"
        )
        params = {f"t{i}": f'"{name}"' for i, name in enumerate(names)}
        for table, column, nullable, default in bind.execute(query, params):
            found.setdefault(table, {})[column] = PhysicalColumn(column, bool(nullable), bool(default))
        return found
    for name in names:
        rows = bind.exec_driver_sql(f'PRAGMA table_info("{name}")').all()
        integer_key = [row for row in rows if row[5]]
        for _, column, type_, notnull, default, pk in rows:
            rowid = pk and len(integer_key) == 1 and str(type_).upper() == "INTEGER"
            found.setdefault(name, {})[column] = PhysicalColumn(column, not notnull or bool(rowid), default is not None or bool(rowid))
    return found


def recorded_mapping(bind) -> dict[tuple[str, str], str]:
    """The mapping `migrate` recorded (empty before revision 0003 or on a fresh database)."""
    if not sa.inspect(bind).has_table(tables.column_map.name, schema=own_schema(bind)):
        return {}
    m = tables.column_map
    rows = bind.execute(sa.select(m.c.table_name, m.c.logical_name, m.c.physical_name))
    return {(table, logical): physical for table, logical, physical in rows}


def logical_names(table: str) -> list[str]:
    """The logical columns of an app table, with the timestamps the plan does not declare."""
    declared = list(tables.metadata.tables[table].c.keys())
    return declared + [name for name in TIMESTAMP_COLUMNS if name not in declared]


def resolve(table: str, logical: str, present: Mapping[str, PhysicalColumn] | None,
            configured: Mapping[tuple[str, str], str], recorded: Mapping[tuple[str, str], str]) -> tuple[str, str]:
    """(physical name, how it was chosen) of one logical column (module doc).
    `present`: the table's physical columns, None if the table does not exist yet."""
    key = (table, logical)
    if key in configured:
        physical = configured[key]
        if present is not None and physical not in present:
            raise ConfigurationError(
                f"The configuration maps {table}.{logical} to the column {physical!r}, which the table "
                f"{table} does not have.",
                hint=f"{table} has: {', '.join(sorted(present))}. Fix [columns] in districtbench.toml "
                "(or DISTRICTBENCH_COLUMNS).",
            )
        return physical, CONFIGURED
    present = present or {}
    if key in recorded and recorded[key] in present:
        return recorded[key], RECORDED
    if logical in present:
        return logical, PLAN
    renamed = KNOWN_RENAMES.get(key)
    if renamed and renamed in present:
        return renamed, RENAMED
    return logical, MISSING


def detect(bind, *, present=None, recorded=None) -> dict[tuple[str, str], tuple[str, str]]:
    """(table, logical) → (physical, origin) for every logical column of the app tables,
    timestamps included; uncached (used while migrating)."""
    present = physical_columns(bind) if present is None else present
    recorded = recorded_mapping(bind) if recorded is None else recorded
    configured = {(t, logical): physical for t, logical, physical in options_of(bind).columns}
    mapping: dict[tuple[str, str], tuple[str, str]] = {}
    for table in tables.APP_TABLES:
        used: dict[str, str] = {}
        for logical in logical_names(table):
            physical, origin = resolve(table, logical, present.get(table), configured, recorded)
            if physical in used and origin != MISSING:
                raise ConfigurationError(
                    f"Both {table}.{used[physical]} and {table}.{logical} would be the column {physical!r}.",
                    hint="Map each districtbench column to its own column in [columns] of districtbench.toml.",
                )
            used[physical] = logical
            mapping[(table, logical)] = (physical, origin)
    return mapping


@dataclass
class Layout:
    """The app's four tables as SQLAlchemy Tables of this database (module doc)."""

    states: sa.Table
    districts: sa.Table
    district_data_history: sa.Table
    data_refresh_logs: sa.Table
    mapping: dict[tuple[str, str], tuple[str, str]]
    present: dict[str, dict[str, PhysicalColumn]] = field(default_factory=dict)

    def table(self, name: str) -> sa.Table:
        return getattr(self, name)

    def physical(self, table: str, logical: str) -> str:
        return self.mapping[(table, logical)][0]

    def renamed(self) -> list[tuple[str, str, str, str]]:
        """(table, logical, physical, origin) where the database's name is not the plan's."""
        return [(t, logical, physical, origin) for (t, logical), (physical, origin) in self.mapping.items()
                if physical != logical]

    def stamps(self, table: str, now: datetime, *, insert: bool) -> dict[str, datetime]:
        """The timestamp columns this table has, set to `now`: created_at and updated_at
        for a new row, updated_at for a changed one."""
        names = TIMESTAMP_COLUMNS if insert else ("updated_at",)
        return {name: now for name in names if name in self.table(table).c}

    def blocking_columns(self, table: str, written: Iterable[str]) -> list[str]:
        """The table's NOT NULL columns without a default that an INSERT of the logical
        columns `written` (and the timestamps) leaves NULL: the app's columns that make
        districtbench's inserts fail."""
        columns = self.table(table).c
        filled = {columns[key].name for key in (*written, *self.stamps(table, datetime.min, insert=True)) if key in columns}
        return [c.name for c in self.present.get(table, {}).values()
                if not c.nullable and not c.has_default and c.name not in filled]


def build(bind) -> Layout:
    """A Layout read from the database now (uncached)."""
    present = physical_columns(bind)
    mapping = detect(bind, present=present)
    metadata = sa.MetaData()
    built = {}
    for name in tables.APP_TABLES:
        logical = tables.metadata.tables[name]
        columns = [
            sa.Column(mapping[(name, c.key)][0], c.type, key=c.key, primary_key=c.primary_key,
                      nullable=c.nullable, autoincrement=c.autoincrement)
            for c in logical.columns
        ]
        for stamp in TIMESTAMP_COLUMNS:
            physical, origin = mapping[(name, stamp)]
            if stamp not in logical.c and origin != MISSING:
                columns.append(sa.Column(physical, tables.Timestamp, key=stamp))
        built[name] = sa.Table(name, metadata, *columns)
    return Layout(**built, mapping=mapping, present=present)


_cache: "weakref.WeakKeyDictionary[sa.engine.Engine, Layout]" = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def of(bind) -> Layout:
    """The Layout of this Engine's (or Connection's) database, read once per engine."""
    engine = bind.engine
    with _lock:
        cached = _cache.get(engine)
    if cached is not None:
        return cached
    if isinstance(bind, sa.engine.Connection):
        layout = build(bind)
    else:
        with bind.connect() as connection:
            layout = build(connection)
    with _lock:
        return _cache.setdefault(engine, layout)


def forget(bind) -> None:
    """Drop the cached Layout (after a migration changed the tables)."""
    with _lock:
        _cache.pop(bind.engine, None)


def record_mapping(connection, mapping: Mapping[tuple[str, str], tuple[str, str]], now: datetime) -> bool:
    """Make `districtbench_column_map` hold the renamed entries of `mapping`; returns
    whether anything changed."""
    wanted = {key: value for key, value in mapping.items() if value[0] != key[1] and value[1] != MISSING}
    current = recorded_mapping(connection)
    if current == {key: physical for key, (physical, _) in wanted.items()}:
        return False
    m = tables.column_map
    connection.execute(m.delete())
    if wanted:
        connection.execute(m.insert(), [
            {"table_name": t, "logical_name": logical, "physical_name": physical,
             "origin": CONFIGURED if origin == CONFIGURED else RENAMED, "recorded_at": now}
            for (t, logical), (physical, origin) in sorted(wanted.items())
        ])
    return True
