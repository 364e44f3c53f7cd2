"""The database side of a backfill: one transaction per unit, resume state.

A completed unit commits, in ONE transaction: its roster upsert (directory sources), its
history upsert, the rows it keeps beside them in `districtbench_history_extras` (the
denominators of pooled averages, the grades; sources with `extras`), and its
`districtbench_fetch_units` row. A failed unit commits only its
`districtbench_fetch_units` row (status `failed`, the reason). So a process killed at any
moment leaves each unit either fully written and marked complete, or not marked complete.

Roster rule — a roster row is never overwritten by an older year: the roster upsert updates
an existing district only when no `district_data_history` row of the same directory source
has a NEWER year for it. The newer unit wrote that history row in the same transaction as its
roster row, so the rule holds whatever order units finish in (resume, concurrency, reruns);
it needs no extra column (`districts.urban_institute_year` belongs to the `latest` family).
On an existing district it overwrites only the configured roster columns (default: all of
`tables.ROSTER_COLUMNS`); a new district gets all of them.

Statements go through the database's layout (`db.layout`): the app's column names, and the
timestamp columns each table has (`created_at`/`updated_at`, set on every row written).
"""

from __future__ import annotations

import functools
from collections import Counter
from datetime import datetime
from typing import Any, Iterable

import sqlalchemy as sa

from districtbench.backfill.plan import Unit
from districtbench.backfill.report import COMPLETE, FAILED
from districtbench.backfill.upsert import upsert_columns
from districtbench.db import layout, tables
from districtbench.db.engine import options_of
from districtbench.sources.base import UnitRows

ROSTER_FIELDS = tables.ROSTER_COLUMNS
UNKNOWN_DISTRICT = "unknown district"
DUPLICATE_LEAID = "duplicate leaid"
INCOMPLETE_ROSTER_ROW = "roster row without leaid, name or state"

fetch_units = tables.fetch_units


def write_units(connection: sa.Connection, items: list[tuple[Unit, UnitRows]], now: datetime) -> list[tuple[int, Counter]]:
    """Write the parsed rows of one or more units of ONE fetch (same year and state) and mark
    each complete, in the caller's transaction. Returns (history rows written, rows skipped)
    per unit.

    Units of one fetch share their listing (enrollment and ell read one directory page), so
    their roster rows go in one upsert, one row per district; and when they write the same
    history rows (same `source`, same districts) those go in one upsert setting the union
    of their columns — each row written once instead of once per source.
    """
    relax_commit_flush(connection)
    t = layout.of(connection)
    roster_units: dict[str, list[tuple[Unit, UnitRows]]] = {}  # by history source (the roster rule's)
    for unit, rows in items:
        if unit.source.provides_roster:
            roster_units.setdefault(unit.source.history_source, []).append((unit, rows))
    in_roster: set[str] = set()  # leaids upserted into `districts` just now
    for group in roster_units.values():
        # The same listing's roster rows usually come out equal for each source (made once
        # by the host, sources/rows.py): each distinct list once, a district in two lists once.
        # Roster rows dropped here are counted through their history row (unknown district).
        distinct: list[list[dict[str, Any]]] = []
        for _, rows in group:
            if not any(rows.roster == seen for seen in distinct):
                distinct.append(rows.roster)
        merged = distinct[0] if len(distinct) == 1 else [record for rows in distinct for record in rows]
        roster = _dedupe(merged, Counter(), roster=True)
        upsert_roster(connection, roster, group[0][0], now, t)
        in_roster.update(record["leaid"] for record in roster)
    skipped = [Counter(rows.skipped) for _, rows in items]
    records = [_dedupe(rows.history, counter) for (_, rows), counter in zip(items, skipped)]
    wanted = {record["leaid"] for group in records for record in group}
    known = known_leaids(connection, wanted - in_roster, t) | (wanted & in_roster)
    kept = []
    for group, counter in zip(records, skipped):
        kept.append(group if len(known) == len(wanted) else [record for record in group if record["leaid"] in known])
        if len(kept[-1]) < len(group):
            counter[UNKNOWN_DISTRICT] += len(group) - len(kept[-1])
    for indexes in _history_groups(items, kept):
        units = [items[i][0] for i in indexes]
        upsert_history(connection, units, [kept[i] for i in indexes], now, t)
    for (unit, rows), group in zip(items, kept):
        if unit.source.extras:
            upsert_extras(connection, unit, group, rows.extras)
    mark_units(
        connection,
        [(unit, COMPLETE, len(rows), sum(counter.values()), None) for (unit, _), rows, counter in zip(items, kept, skipped)],
        now,
    )
    return [(len(rows), counter) for rows, counter in zip(kept, skipped)]


def _history_groups(items, kept) -> list[list[int]]:
    """Indexes of units whose history rows can go in one upsert: same `source` value, same
    year, the same districts in the same order, no column in common."""
    groups: list[list[int]] = []
    for index, (unit, _) in enumerate(items):
        for group in groups:
            first = items[group[0]][0]
            columns = {name for i in group for name in items[i][0].source.columns}
            if (
                first.source.history_source == unit.source.history_source
                and first.year == unit.year
                and not columns & set(unit.source.columns)
                and _same_leaids(kept[group[0]], kept[index])
            ):
                group.append(index)
                break
        else:
            groups.append([index])
    return groups


def _same_leaids(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    return len(a) == len(b) and all(x["leaid"] == y["leaid"] for x, y in zip(a, b))


def relax_commit_flush(connection: sa.Connection) -> None:
    """PostgreSQL: do not wait for this transaction's WAL flush at commit. A server crash can
    lose the last units committed — data and `complete` mark together, so the next run
    fetches them again; a kill of districtbench itself loses nothing. Saves a disk flush per
    unit (hundreds per run)."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")


def upsert_history(connection: sa.Connection, units: list[Unit], groups: list[list[dict[str, Any]]], now: datetime,
                   t: layout.Layout | None = None) -> None:
    """`INSERT … ON CONFLICT (leaid, year, source) DO UPDATE SET <these sources' columns>`.
    `groups[i]` are the rows of `units[i]`; all for the same districts in the same order."""
    t = t or layout.of(connection)
    first = units[0]
    size = len(groups[0])
    if not size:
        return
    columns: dict[str, list[Any]] = {
        "leaid": [record["leaid"] for record in groups[0]],
        "year": [first.year] * size,
        "source": [first.source.history_source] * size,
    }
    stamps = t.stamps("district_data_history", now, insert=True)
    columns.update({name: [value] * size for name, value in stamps.items()})
    for unit, records in zip(units, groups):
        for name in unit.source.columns:
            columns[name] = [record.get(name) for record in records]
    update = tuple(name for unit in units for name in unit.source.columns) + tuple(
        t.stamps("district_data_history", now, insert=False)
    )
    upsert_columns(connection, t.district_data_history, columns, conflict=("leaid", "year", "source"), update=update)


def upsert_extras(connection: sa.Connection, unit: Unit, history: list[dict[str, Any]],
                  extras: list[dict[str, Any]]) -> None:
    """The unit's `districtbench_history_extras` rows: one per history row written (`history`),
    keyed like it, with the source's `extras` columns (NULL where the source gave none) — in
    the same transaction as the history rows, so each unit's values and their denominators
    are written (and resumed) together. A re-run overwrites them."""
    if not history:
        return
    names = unit.source.extras
    by_leaid = {row["leaid"]: row for row in extras} if extras else {}
    if len(extras) == len(history) and all(a["leaid"] == b["leaid"] for a, b in zip(extras, history)):
        matched = extras  # the usual case: the source's rows, in the same order
    else:
        matched = [by_leaid.get(record["leaid"], {}) for record in history]
    size = len(history)
    columns: dict[str, list[Any]] = {
        "leaid": [record["leaid"] for record in history],
        "year": [unit.year] * size,
        "source": [unit.source.history_source] * size,
    }
    for name in names:
        columns[name] = [row.get(name) for row in matched]
    upsert_columns(connection, tables.history_extras, columns, conflict=("leaid", "year", "source"), update=names)


def upsert_roster(connection: sa.Connection, records: list[dict[str, Any]], unit: Unit, now: datetime,
                  t: layout.Layout | None = None) -> None:
    """Insert new districts; update existing ones unless a newer directory year wrote them."""
    if not records:
        return
    t = t or layout.of(connection)
    columns: dict[str, list[Any]] = {name: [record.get(name) for record in records] for name in ROSTER_FIELDS}
    columns.update({name: [value] * len(records) for name, value in t.stamps("districts", now, insert=True).items()})
    configured = options_of(connection).roster_columns
    update = tuple(name for name in ROSTER_FIELDS[1:] if configured is None or name in configured)
    update += tuple(t.stamps("districts", now, insert=False))
    upsert_columns(
        connection, t.districts, columns, conflict=("leaid",), update=update,
        where=_no_newer_directory_year(t.district_data_history, t.districts, unit.source.history_source),
        params={"roster_year": int(unit.year)},
    )


@functools.lru_cache(maxsize=None)
def _no_newer_directory_year(history: sa.Table, districts: sa.Table, history_source: str) -> sa.ColumnElement[bool]:
    """NOT EXISTS a `history_source` history row of the existing district newer than the
    `roster_year` parameter. One object per layout and source, so the upsert compiles once."""
    newer = (
        sa.select(sa.literal_column("1"))
        .where(
            # the existing roster row; spelled out because SQLAlchemy does not correlate a
            # subquery inside ON CONFLICT and would add `districts` to its FROM
            history.c.leaid == sa.literal_column(f"{districts.name}.{districts.c.leaid.name}"),
            history.c.source == history_source,
            history.c.year > sa.bindparam("roster_year", type_=sa.Integer),
        )
        .exists()
    )
    return ~newer


def known_leaids(connection: sa.Connection, leaids: Iterable[str], t: layout.Layout | None = None) -> set[str]:
    """Which of `leaids` (7 digits) are in the roster: one primary-key range query per state
    prefix (`'0600000'…'0699999'`; equal-length digit strings sort the same in any collation)."""
    wanted = set(leaids)
    if not wanted:
        return set()
    districts = (t or layout.of(connection)).districts
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
    mark_units(connection, [(unit, status, written, skipped, reason)], now)


def mark_units(connection: sa.Connection, marks: list[tuple[Unit, str, int, int, str | None]], now: datetime) -> None:
    """Record (unit, status, rows written, rows skipped, reason) for each unit: one upsert."""
    if not marks:
        return
    columns = {
        "source": [unit.source.name for unit, *_ in marks],
        "year": [unit.year for unit, *_ in marks],
        "state_fips": [unit.state_fips for unit, *_ in marks],
        "status": [mark[1] for mark in marks],
        "rows_written": [mark[2] for mark in marks],
        "rows_skipped": [mark[3] for mark in marks],
        "error_message": [mark[4] for mark in marks],
        "fetched_at": [now] * len(marks),
    }
    update = ("status", "rows_written", "rows_skipped", "error_message", "fetched_at")
    upsert_columns(connection, fetch_units, columns, conflict=("source", "year", "state_fips"), update=update)


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
