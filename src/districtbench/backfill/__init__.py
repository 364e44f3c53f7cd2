"""Backfill: fetch (source, year, state) units from the Urban API into the database.

Library API: `run_backfill(engine, client, sources, years, states, *, concurrency=4,
force=False, progress=None, strict_years=False) -> BackfillReport`.
"""

from districtbench.backfill.plan import ALL, Unit, plan_units, resolve_sources
from districtbench.backfill.progress import BackfillProgress
from districtbench.backfill.report import BackfillReport, SourceYearSummary, UnitOutcome
from districtbench.backfill.runner import run_backfill

__all__ = [
    "ALL",
    "BackfillProgress",
    "BackfillReport",
    "SourceYearSummary",
    "Unit",
    "UnitOutcome",
    "plan_units",
    "resolve_sources",
    "run_backfill",
]
