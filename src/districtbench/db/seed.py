"""Seeding the `states` reference rows: an idempotent upsert on `fips`.

A new row gets created_at, updated_at and total_districts explicitly (the application's
NOT NULL columns have no database default). An existing row keeps everything the app or a
compute run put there; only a changed abbreviation or name is corrected (and updated_at set).
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from districtbench.db.timestamps import utcnow
from districtbench.db.states import NATIONAL, STATES, TERRITORIES

REFERENCE_ROWS: tuple[tuple[str, str, str], ...] = STATES + TERRITORIES + (NATIONAL,)

_states = sa.table(
    "states",
    sa.column("fips", sa.String(2)),
    sa.column("abbrev", sa.String(2)),
    sa.column("name", sa.String(100)),
    sa.column("total_districts", sa.Integer),
    sa.column("created_at", sa.DateTime),
    sa.column("updated_at", sa.DateTime),
)


def upsert_states_statement(
    dialect_name: str, rows: Iterable[tuple[str, str, str]] = REFERENCE_ROWS, now: datetime | None = None
):
    """One INSERT … ON CONFLICT (fips) DO UPDATE for PostgreSQL or SQLite."""
    now = now or utcnow()
    values = [
        {"fips": f, "abbrev": a, "name": n, "total_districts": 0, "created_at": now, "updated_at": now}
        for f, a, n in rows
    ]
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect_name]
    statement = insert(_states).values(values)
    excluded = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=["fips"],
        set_={"abbrev": excluded.abbrev, "name": excluded.name, "updated_at": excluded.updated_at},
        where=sa.or_(
            _states.c.abbrev.is_distinct_from(excluded.abbrev),
            _states.c.name.is_distinct_from(excluded.name),
        ),
    )
