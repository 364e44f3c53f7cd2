"""What a family gets from the runner: the open transaction, the time of the run, exact
arithmetic for the dialect, and temporary staging tables that are dropped at the end."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from districtbench.metrics.arith import Arith

STAGE_PREFIX = "districtbench_stage_"
WORK_MEM_KB = 64 * 1024


@dataclass
class RunContext:
    connection: Connection
    now: datetime
    arith: Arith = field(init=False)
    _stages: dict[str, sa.Table] = field(default_factory=dict, init=False)
    _memo: dict[str, object] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.arith = Arith(self.connection.dialect.name)
        if self.arith.postgresql:
            # Sorts and hashes of a few hundred thousand rows in memory, for this transaction only.
            kb = self.connection.execute(sa.text("SELECT setting::bigint FROM pg_settings WHERE name = 'work_mem'"))
            if (kb.scalar() or 0) < WORK_MEM_KB:
                self.connection.execute(sa.text(f"SET LOCAL work_mem = '{WORK_MEM_KB}kB'"))

    @property
    def temp_schema(self) -> str:
        return "pg_temp" if self.arith.postgresql else "temp"

    def stage(self, name: str, *columns: sa.Column) -> sa.Table:
        """A fresh temporary table (private to this connection) for intermediate results."""
        self.drop_stage(name)
        table = sa.Table(
            STAGE_PREFIX + name, sa.MetaData(), *columns, schema=self.temp_schema, prefixes=["TEMPORARY"]
        )
        table.create(self.connection)
        self._stages[name] = table
        return table

    def fill(self, stage: sa.Table, query: sa.Select, *, analyze: bool = False) -> None:
        """INSERT the rows of `query` (columns in the stage's order) into `stage`. `analyze`
        for a stage joined to big tables later: autovacuum never sees temporary tables, and
        without statistics PostgreSQL picks nested loops over the whole history."""
        self.connection.execute(stage.insert().from_select(list(stage.c.keys()), query))
        if analyze and self.arith.postgresql:
            self.connection.execute(sa.text(f"ANALYZE {self.temp_schema}.{stage.name}"))

    def drop_stage(self, name: str) -> None:
        # Schema-qualified, so it can only ever drop a temporary table.
        self.connection.execute(sa.text(f"DROP TABLE IF EXISTS {self.temp_schema}.{STAGE_PREFIX}{name}"))
        self._stages.pop(name, None)

    def memo(self, key: str, build: Callable[[], object]) -> object:
        """Something computed once per run and shared by families (e.g. the source years)."""
        if key not in self._memo:
            self._memo[key] = build()
        return self._memo[key]

    def cleanup(self) -> None:
        for name in list(self._stages):
            self.drop_stage(name)
        self._memo.clear()
