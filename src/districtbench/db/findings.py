"""What stands in the way of districtbench's writes on the app's tables, found by looking.

districtbench adds nothing to an adopted table but nullable columns (adoption.py). What it
needs there and does not add — the unique key its upserts rely on — and what in the app's
tables makes its inserts fail — a NOT NULL column without a default that it does not fill —
is reported here with the exact statement the app team can run: by `migrate` and
`migrate --sql` (`inspect`), and before a backfill or run fetches anything (`preflight`).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from districtbench.db import tables
from districtbench.db.layout import Layout
from districtbench.prisma.fields import camel_case

ERROR, SUGGESTION = "error", "suggestion"

# The key each upsert names in ON CONFLICT (logical columns).
UPSERT_KEYS = {
    "states": ("fips",),
    "districts": ("leaid",),
    "district_data_history": ("leaid", "year", "source"),
}
# Logical columns every insert of districtbench fills with a value (timestamps come on top).
ALWAYS_FILLED = {
    "states": ("fips", "abbrev", "name", "total_districts"),
    "districts": ("leaid", "name", "state_fips"),
    "district_data_history": ("leaid", "year", "source"),
    "data_refresh_logs": ("data_source", "records_updated", "records_failed", "status", "started_at", "completed_at"),
}
WHAT_FAILS = {
    "states": "adding the state reference rows",
    "districts": "every roster write (the enrollment and ell units; PostgreSQL checks the column even "
    "for districts that exist)",
    "district_data_history": "every backfill unit",
    "data_refresh_logs": "the log row of every backfill and compute run (compute then rolls back)",
}
@dataclass(frozen=True)
class Finding:
    level: str  # ERROR: a write of districtbench will fail; SUGGESTION: optional
    table: str
    message: str
    statements: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        return [self.message, *(f"  {statement}" for statement in self.statements)]


def inspect(connection: Connection, layout: Layout, names=None) -> list[Finding]:
    """Findings on the app's tables that exist (all four, or those `names`)."""
    sqlite = connection.dialect.name == "sqlite"
    inspector = sa.inspect(connection)
    found: list[Finding] = []
    for table in names or layout.present:
        if table not in layout.present:
            continue
        key = UPSERT_KEYS.get(table)
        if key and not _has_unique(inspector, table, [layout.physical(table, name) for name in key]):
            found.append(_missing_key(layout, table, key, sqlite))
        blocking = layout.blocking_columns(table, ALWAYS_FILLED[table])
        if blocking:
            found.append(_blocking(table, blocking, sqlite))
    for table in names or layout.present:
        if table in layout.present and not names:
            found += _missing_indexes(inspector, layout, table)
    return found


def _has_unique(inspector, table: str, columns: list[str]) -> bool:
    wanted = set(columns)
    if set(inspector.get_pk_constraint(table)["constrained_columns"]) == wanted:
        return True
    uniques = [set(uq["column_names"]) for uq in inspector.get_unique_constraints(table)]
    uniques += [set(ix["column_names"]) for ix in inspector.get_indexes(table) if ix["unique"]]
    return wanted in uniques


def _missing_key(layout: Layout, table: str, key: tuple[str, ...], sqlite: bool) -> Finding:
    physical = [layout.physical(table, name) for name in key]
    name = f"{table}_{'_'.join(physical)}_key"
    listed = ", ".join(physical)
    statement = (f"CREATE UNIQUE INDEX {name} ON {table} ({listed});" if sqlite
                 else f"ALTER TABLE {table} ADD CONSTRAINT {name} UNIQUE ({listed});")
    return Finding(
        ERROR, table,
        f"{table} has no unique key on ({listed}); districtbench's upserts need one and it does not add "
        f"constraints to the app's tables, so {WHAT_FAILS[table]} will fail. The app team can add it "
        "(after removing duplicate rows, if any), and declare it in the Prisma schema "
        f"(@@unique([{', '.join(camel_case(c) for c in physical)}])):",
        (statement,),
    )


def _blocking(table: str, columns: list[str], sqlite: bool) -> Finding:
    listed = ", ".join(columns)
    statements = () if sqlite else tuple(f"ALTER TABLE {table} ALTER COLUMN {c} DROP NOT NULL;" for c in columns)
    what_to_do = ("allow NULL there, or give each a default (ALTER TABLE … ALTER COLUMN … SET DEFAULT …):"
                  if not sqlite else "allow NULL there or give each a default (SQLite: rebuild the table).")
    return Finding(
        ERROR, table,
        f"{table}: the app's column{'s' if len(columns) > 1 else ''} {listed} {'are' if len(columns) > 1 else 'is'} "
        f"NOT NULL without a default, and districtbench does not fill {'them' if len(columns) > 1 else 'it'}: "
        f"{WHAT_FAILS[table]} will fail. To let districtbench insert rows, {what_to_do}",
        statements,
    )


def _missing_indexes(inspector, layout: Layout, table: str) -> list[Finding]:
    present = {tuple(ix["column_names"]) for ix in inspector.get_indexes(table)}
    present |= {tuple(uq["column_names"]) for uq in inspector.get_unique_constraints(table)}
    present.add(tuple(inspector.get_pk_constraint(table)["constrained_columns"]))
    statements = []
    for name, columns in tables.INDEXES.get(table, {}).items():
        physical = tuple(layout.physical(table, c) for c in columns)
        if not any(existing[: len(physical)] == physical for existing in present):
            statements.append(f"CREATE INDEX {name} ON {table} ({', '.join(physical)});")
    if not statements:
        return []
    return [Finding(SUGGESTION, table, f"{table}: optional indexes for speed, left to the app team:", tuple(statements))]
