"""Schema management entry points used by the CLI and tests.

TEMPORARY: creates the schema with metadata.create_all until the Alembic revisions land.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from districtbench.db import tables
from districtbench.db.states import NATIONAL, STATES, TERRITORIES
from districtbench.errors import NotMigratedError


def upgrade(engine: Engine) -> None:
    tables.metadata.create_all(engine)
    now = datetime.utcnow()
    with engine.begin() as connection:
        existing = set(connection.execute(sa.select(tables.states.c.fips)).scalars())
        rows = [
            {"fips": f, "abbrev": a, "name": n, "created_at": now, "updated_at": now}
            for f, a, n in STATES + TERRITORIES + (NATIONAL,)
            if f not in existing
        ]
        if rows:
            connection.execute(tables.states.insert(), rows)


def require_current(engine: Engine) -> None:
    if not sa.inspect(engine).has_table("districts"):
        raise NotMigratedError(
            "The database has no districtbench schema.", hint="Run `districtbench migrate` first."
        )
