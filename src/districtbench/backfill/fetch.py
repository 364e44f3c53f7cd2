"""The worker side of a backfill: fetch one task's endpoints, check, parse. No database.

Runs in the thread pool. Every failure becomes a reason string on the unit's result; nothing
here raises except KeyboardInterrupt/SystemExit.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from districtbench.backfill.plan import FetchTask, Unit
from districtbench.db.states import BY_FIPS
from districtbench.db.timestamps import utcnow
from districtbench.errors import DistrictbenchError, FetchError
from districtbench.sources import rows as host_rows
from districtbench.sources.base import UnitRows
from districtbench.sources.district import DistrictSource
from districtbench.sources.request import Endpoint
from districtbench.sources.values import DropRow, normalize_fips
from districtbench.urban.paginators import Paginator


class Client(Protocol):
    def fetch_pages(self, path: str, params: dict | None = None,
                    paginator: Paginator = ...) -> list[list[dict]]: ...


@dataclass
class UnitResult:
    """What a worker hands back for one unit: parsed rows, or why it failed."""

    unit: Unit
    rows: UnitRows | None
    failure: str | None
    started_at: datetime


@dataclass
class Fetched:
    """The listings of one task (endpoint key → records, and rows per page), or its units'
    failures."""

    task: FetchTask
    listings: dict[str, list[dict[str, Any]]] | None
    failed: list[UnitResult] | None
    started: datetime
    page_sizes: dict[str, list[int]] = field(default_factory=dict)


def fetch_task(client: Client, task: FetchTask) -> Fetched:
    """Fetch every endpoint of `task` for its (year, state) once. No parsing: a fetch
    thread is a slot of `concurrency` requests, freed as soon as its answers are in."""
    started = utcnow()

    def failed(reason: str) -> Fetched:
        return Fetched(task, None, [UnitResult(unit, None, reason, started) for unit in task.units], started)

    if task.failure is not None:
        return failed(task.failure)
    listings: dict[str, list[dict[str, Any]]] = {}
    page_sizes: dict[str, list[int]] = {}
    try:
        for endpoint in task.endpoints:
            pages = _fetch_pages(client, endpoint, task)
            rows = pages[0] if len(pages) == 1 else [row for page in pages for row in page]
            problem = other_state(rows, endpoint, task.state_fips)
            if problem:
                return failed(problem)
            listings[endpoint.key] = rows
            page_sizes[endpoint.key] = [len(page) for page in pages]
    except FetchError as exc:
        return failed(str(exc))
    except Exception as exc:  # a client bug or an unexpected transport error: still per-unit
        return failed(f"fetch failed: {type(exc).__name__}: {exc}")
    return Fetched(task, listings, None, started, page_sizes)


def _fetch_pages(client: Client, endpoint: Endpoint, task: FetchTask) -> list[list[dict[str, Any]]]:
    path, params = endpoint.path(task.year), endpoint.params(task.state_fips, task.year)
    paginator = endpoint.paginator
    pages = client.fetch_pages(path, params, paginator)
    if endpoint.filters and not any(pages):
        # The all-students filters matched nothing. A state without data answers the same,
        # but so would an API that codes its totals differently one year — and that must not
        # pass for "no data": ask again without them; the source keeps the totals itself.
        pages = client.fetch_pages(path, {k: v for k, v in params.items() if k not in endpoint.filters}, paginator)
    return pages


def other_state(rows: list[dict[str, Any]], endpoint: Endpoint, state_fips: str) -> str | None:
    """Why the rows are not this state's listing — most of them carry another state's code
    (the API answered with another listing) — or None."""
    field_name = endpoint.state_filter
    if not field_name or not rows:
        return None
    wanted = int(state_fips)
    others: Counter = Counter()
    for row in rows:
        value = row.get(field_name)
        if value == wanted or value is None:
            continue
        try:
            code = normalize_fips(value)
        except DropRow:
            continue
        if int(code) != wanted:
            others[code] += 1
    if sum(others.values()) * 2 <= len(rows):
        return None
    named = ", ".join(f"{BY_FIPS.get(code, (code,))[0]} {count:,}" for code, count in others.most_common(3))
    return (f"{sum(others.values()):,} of {len(rows):,} rows of {endpoint.key.format(year='…')} belong to another "
            f"state ({named}), not {BY_FIPS.get(state_fips, (state_fips,))[0]}: the API answered with "
            "another listing; nothing written, run again later to resume")


def parse_task(fetched: Fetched) -> list[UnitResult]:
    """Check and parse each unit of a fetched task (failures become reasons)."""
    if fetched.failed is not None:
        return fetched.failed
    # every unit of the task reads the same listings: the host derives the district records
    # and roster rows of each listing once for all of them (sources/rows.py)
    shared = host_rows.TaskListings(fetched.listings, fetched.task.state_fips)
    return [_parse(unit, fetched, shared) for unit in fetched.task.units]


def _parse(unit: Unit, fetched: Fetched, shared: host_rows.TaskListings) -> UnitResult:
    source = unit.source
    keys = [endpoint.key for endpoint in source.endpoints]
    mine = {key: fetched.listings[key] for key in keys}
    try:
        # a field renamed on every page, or on some pages only, fails the unit — never NULLs
        source.check_required(mine, {key: fetched.page_sizes.get(key, ()) for key in keys})
        if _row_contract(source):
            rows = host_rows.parse_unit(source, shared)
        else:
            rows = source.parse_unit(mine, unit.year, unit.state_fips)
        if not isinstance(rows, UnitRows):
            raise TypeError(f"parse_unit returned {type(rows).__name__}, not UnitRows")
    except DistrictbenchError as exc:
        return UnitResult(unit, None, str(exc).splitlines()[0], fetched.started)
    except Exception as exc:
        return UnitResult(unit, None, f"parse error: {type(exc).__name__}: {exc}", fetched.started)
    return UnitResult(unit, rows, None, fetched.started)


def _row_contract(source) -> bool:
    """A row-level source the host parses itself (one not overriding `parse_unit`, whose
    default checks the fields again and parses the listings alone)."""
    return isinstance(source, DistrictSource) and type(source).parse_unit is DistrictSource.parse_unit
