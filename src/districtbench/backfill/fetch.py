"""The worker side of a backfill: fetch one task's endpoints, check, parse. No database.

Runs in the thread pool. Every failure becomes a reason string on the unit's result; nothing
here raises except KeyboardInterrupt/SystemExit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, Protocol

from districtbench.backfill.plan import FetchTask, Unit
from districtbench.db.timestamps import utcnow
from districtbench.errors import DistrictbenchError, FetchError
from districtbench.sources.base import UnitRows
from districtbench.sources.values import sibling_units


class Client(Protocol):
    def fetch_all(self, path: str, params: dict | None = None) -> list[dict]: ...


@dataclass
class UnitResult:
    """What a worker hands back for one unit: parsed rows, or why it failed."""

    unit: Unit
    rows: UnitRows | None
    failure: str | None
    started_at: datetime


def run_task(client: Client, task: FetchTask) -> list[UnitResult]:
    """Fetch every endpoint of `task` for its (year, state) once, then parse each unit."""
    fetched = fetch_task(client, task)
    return fetched.failed if fetched.failed is not None else parse_task(fetched)


@dataclass
class Fetched:
    """The listings of one task (endpoint template → records), or its units' failures."""

    task: FetchTask
    listings: dict[str, list[dict[str, Any]]] | None
    failed: list[UnitResult] | None
    started: datetime


def fetch_task(client: Client, task: FetchTask) -> Fetched:
    """Fetch every endpoint of `task` for its (year, state) once. No parsing: a fetch
    thread is a slot of `concurrency` requests, freed as soon as its answers are in."""
    started = utcnow()
    listings: dict[str, list[dict[str, Any]]] = {}
    params = {"fips": int(task.state_fips)}  # ?fips=6, never ?fips=06
    try:
        for template in task.endpoints:
            listings[template] = client.fetch_all(template.format(year=task.year), dict(params))
    except FetchError as exc:
        return Fetched(task, None, [UnitResult(unit, None, str(exc), started) for unit in task.units], started)
    except Exception as exc:  # a client bug or an unexpected transport error: still per-unit
        reason = f"fetch failed: {type(exc).__name__}: {exc}"
        return Fetched(task, None, [UnitResult(unit, None, reason, started) for unit in task.units], started)
    return Fetched(task, listings, None, started)


def parse_task(fetched: Fetched) -> list[UnitResult]:
    """Check and parse each unit of a fetched task (failures become reasons)."""
    if fetched.failed is not None:
        return fetched.failed
    with sibling_units():  # enrollment and ell share the work done on one directory page
        return [_parse(unit, fetched.listings, fetched.started) for unit in fetched.task.units]


def _parse(unit: Unit, listings: Mapping[str, list[dict[str, Any]]], started: datetime) -> UnitResult:
    source = unit.source
    mine = {template: listings[template] for template in source.endpoints}
    try:
        source.check_required(mine)  # a renamed field fails the unit, never zero rows
        rows = source.parse_unit(mine, unit.year, unit.state_fips)
        if not isinstance(rows, UnitRows):
            raise TypeError(f"parse_unit returned {type(rows).__name__}, not UnitRows")
    except DistrictbenchError as exc:
        return UnitResult(unit, None, str(exc).splitlines()[0], started)
    except Exception as exc:
        return UnitResult(unit, None, f"parse error: {type(exc).__name__}: {exc}", started)
    return UnitResult(unit, rows, None, started)
