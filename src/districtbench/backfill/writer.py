"""The database side of a backfill: one transaction per unit, resume state.

A completed unit commits, in ONE transaction: its roster upsert (directory sources), its
history upsert, and its `districtbench_fetch_units` row. A failed unit commits only its
`districtbench_fetch_units` row (status `failed`, the reason). So a process killed at any
moment leaves each unit either fully written and marked complete, or not marked complete.

Roster rule — a roster row is never overwritten by an older year: the roster upsert updates
an existing district only when no `district_data_history` row of the same directory source
has a NEWER year for it. The newer unit wrote that history row in the same transaction as its
roster row, so the rule holds whatever order units finish in (resume, concurrency, reruns);
it needs no extra column (`districts.urban_institute_year` belongs to the `latest` family).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any, Iterable

import sqlalchemy as sa

from districtbench.backfill.plan import Unit
from districtbench.backfill.report import COMPLETE, FAILED
from districtbench.backfill.upsert import upsert
from districtbench.db import tables
from districtbench.sources.base import UnitRows

ROSTER_FIELDS = (
    "leaid",
    "name",
    "state_fips",
    "state_abbrev",
    "city_location",
    "county_name",
    "urban_centric_locale",
    "number_of_schools",
)
UNKNOWN_DISTRICT = "unknown district"
DUPLICATE_LEAID = "duplicate leaid"
INCOMPLETE_ROSTER_ROW = "roster row without leaid, name or state"

history = tables.district_data_history
districts = tables.districts
fetch_units = tables.fetch_units


def write_unit(connection: sa.Connection, unit: Unit, rows: UnitRows, now: datetime) -> tuple[int, Counter]:
    """Write one unit's rows and mark it complete. Returns (history rows written, skipped)."""
    source = unit.source
    skipped = Counter(rows.skipped)
    if source.provides_roster:
        # Roster rows dropped here are counted through their history row (unknown district).
        upsert_roster(connection, _dedupe(rows.roster, Counter(), roster=True), unit, now)
    records = _dedupe(rows.history, skipped)
    known = known_leaids(connection, (record["leaid"] for record in records))
    kept = [record for record in records if record["leaid"] in known]
    if len(kept) < len(records):
        skipped[UNKNOWN_DISTRICT] += len(records) - len(kept)
    upsert_history(connection, unit, kept, now)
    mark_unit(connection, unit, COMPLETE, now, written=len(kept), skipped=sum(skipped.values()))
    return len(kept), skipped


def upsert_history(connection: sa.Connection, unit: Unit, records: list[dict[str, Any]], now: datetime) -> None:
    """`INSERT … ON CONFLICT (leaid, year, source) DO UPDATE SET <this source's columns>`."""
    source = unit.source
    columns = tuple(source.columns)
    values = [
        {
            "leaid": record["leaid"],
            "year": unit.year,
            "source": source.history_source,
            "created_at": now,
            **{name: record.get(name) for name in columns},
        }
        for record in records
    ]
    upsert(connection, history, values, conflict=("leaid", "year", "source"), update=columns)


def upsert_roster(connection: sa.Connection, records: list[dict[str, Any]], unit: Unit, now: datetime) -> None:
    """Insert new districts; update existing ones unless a newer directory year wrote them."""
    values = [
        {**{name: record.get(name) for name in ROSTER_FIELDS}, "created_at": now, "updated_at": now}
        for record in records
    ]
    newer = (
        sa.select(sa.literal_column("1"))
        .where(
            # the existing roster row; spelled out because SQLAlchemy does not correlate a
            # subquery inside ON CONFLICT and would add `districts` to its FROM
            history.c.leaid == sa.literal_column(f"{districts.name}.leaid"),
            history.c.source == unit.source.history_source,
            history.c.year > sa.literal_column(str(int(unit.year))),
        )
        .exists()
    )
    update = [name for name in ROSTER_FIELDS if name != "leaid"] + ["updated_at"]
    upsert(connection, districts, values, conflict=("leaid",), update=update, where=~newer)


def known_leaids(connection: sa.Connection, leaids: Iterable[str]) -> set[str]:
    """Which of `leaids` (7 digits) are in the roster: one primary-key range query per state
    prefix (`'0600000'…'0699999'`; equal-length digit strings sort the same in any collation)."""
    wanted = set(leaids)
    found: set[str] = set()
    for prefix in sorted({leaid[:2] for leaid in wanted}):
        query = sa.select(districts.c.leaid).where(
            districts.c.leaid >= prefix + "00000", districts.c.leaid <= prefix + "99999"
        )
        found.update(connection.execute(query).scalars())
    return wanted & found


def mark_unit(
    connection: sa.Connection,
    unit: Unit,
    status: str,
    now: datetime,
    *,
    written: int = 0,
    skipped: int = 0,
    reason: str | None = None,
) -> None:
    row = {
        "source": unit.source.name,
        "year": unit.year,
        "state_fips": unit.state_fips,
        "status": status,
        "rows_written": written,
        "rows_skipped": skipped,
        "error_message": reason,
        "fetched_at": now,
    }
    update = ("status", "rows_written", "rows_skipped", "error_message", "fetched_at")
    upsert(connection, fetch_units, [row], conflict=("source", "year", "state_fips"), update=update)


def mark_failed(engine: sa.engine.Engine, unit: Unit, reason: str, now: datetime) -> None:
    with engine.begin() as connection:
        mark_unit(connection, unit, FAILED, now, reason=reason)


def completed_units(engine: sa.engine.Engine, source_names: Iterable[str]) -> set[tuple[str, int, str]]:
    """Keys (source, year, state_fips) already recorded complete."""
    names = list(source_names)
    if not names:
        return set()
    query = sa.select(fetch_units.c.source, fetch_units.c.year, fetch_units.c.state_fips).where(
        fetch_units.c.status == COMPLETE, fetch_units.c.source.in_(names)
    )
    with engine.connect() as connection:
        return {tuple(row) for row in connection.execute(query)}


def _dedupe(records: list[dict[str, Any]], skipped: Counter, *, roster: bool = False) -> list[dict[str, Any]]:
    """One row per leaid (a batch must not touch a row twice); the sources already dedupe."""
    seen: dict[str, dict[str, Any]] = {}
    for record in records:
        leaid = record.get("leaid")
        if not leaid or (roster and (not record.get("name") or not record.get("state_fips"))):
            skipped[INCOMPLETE_ROSTER_ROW if roster else "no leaid"] += 1
            continue
        if leaid in seen:
            skipped[DUPLICATE_LEAID] += 1
            continue
        seen[leaid] = record
    return list(seen.values())
