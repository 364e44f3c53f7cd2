"""Running metric families: dependency order, one transaction, one log row per family.

    result = run_families(engine, registry, ["all"])     # or ["trends", "latest"], or None

Families run in the order given by their `runs_after` declarations (a topological sort of
every registered family, restricted to the requested ones and every family they run after,
directly or not: `compute deltas` also runs latest, ratios and averages, so it never
compares with averages left from an earlier run or cleared since). The whole invocation is ONE
transaction: either every family's results are committed, or none. Each family gets a
`data_refresh_logs` row (`data_source = 'compute:<family>'`): inside that transaction on
success; after the rollback, in a transaction of its own, when anything fails.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from districtbench.db import layout
from districtbench.db.timestamps import utcnow
from districtbench.errors import PluginError, UsageError, WriteShortfallError
from districtbench.metrics.base import FamilyOutcome, MetricFamily
from districtbench.metrics.context import RunContext
from districtbench.metrics.measures import built_in, from_sources
from districtbench.plugins.host import ALL, Registry

STATISTICS_TABLES = ("districts", "district_data_history", "states")


@dataclass
class FamilyResult:
    name: str
    status: str = "not run"  # success | failed | rolled back | not run (logged as `failed` unless success)
    outcome: FamilyOutcome = field(default_factory=FamilyOutcome)
    started_at: datetime | None = None
    completed_at: datetime | None = None
    seconds: float = 0.0
    error: str | None = None

    @property
    def records_updated(self) -> int:
        return self.outcome.districts_updated + self.outcome.states_updated


@dataclass
class ComputeResult:
    families: list[FamilyResult]
    added: list[str] = field(default_factory=list)  # run because a named family runs after them
    ok: bool = True
    error: str | None = None  # why the transaction was rolled back
    failed_family: str | None = None  # the failed families' names, joined by ", "
    failed_families: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def __getitem__(self, name: str) -> FamilyResult:
        for family in self.families:
            if family.name == name:
                return family
        raise KeyError(name)


def dependency_order(registry: Registry) -> list[MetricFamily]:
    """Every registered family, each after the ones it runs after (registration order on
    ties). A `runs_after` naming an unregistered family is no constraint; a cycle is an error."""
    families: list[MetricFamily] = list(registry)
    known = {family.name for family in families}
    waiting = {family.name: {n for n in family.runs_after if n in known and n != family.name} for family in families}
    ordered: list[MetricFamily] = []
    done: set[str] = set()
    while len(ordered) < len(families):
        ready = [f for f in families if f.name not in done and waiting[f.name] <= done]
        if not ready:
            cycle = sorted(name for name in waiting if name not in done)
            raise PluginError(f"Metric families depend on each other in a cycle: {', '.join(cycle)}")
        ordered.append(ready[0])
        done.add(ready[0].name)
    return ordered


def resolve_families(registry: Registry, names: Iterable[str] | None) -> list[MetricFamily]:
    """The requested families and every registered family they run after (directly or
    not), in dependency order; no names or `all` means every family."""
    requested = [name.strip() for name in (names or ()) if name and name.strip()]
    available = registry.names()
    unknown = [name for name in requested if name != ALL and name not in registry]
    if unknown:
        raise UsageError(
            f"Unknown metric famil{'y' if len(unknown) == 1 else 'ies'}: {', '.join(unknown)}. "
            f"Available: {', '.join(available) or '(none registered)'}, or `all`."
        )
    ordered = dependency_order(registry)
    if not requested or ALL in requested:
        return ordered
    by_name = {family.name: family for family in ordered}
    wanted: set[str] = set()
    pending = list(requested)
    while pending:
        name = pending.pop()
        if name in wanted or name not in by_name:  # a `runs_after` naming an unregistered family
            continue
        wanted.add(name)
        pending += by_name[name].runs_after
    return [family for family in ordered if family.name in wanted]


@dataclass(frozen=True)
class FamilyPlan:
    """The families a command runs, resolved once (names checked, dependencies added, in
    running order) and passed on: `added` names those the command line did not."""

    families: list[MetricFamily]
    added: list[str]


def plan_families(registry: Registry, names: Iterable[str] | None) -> FamilyPlan:
    names = list(names or ())
    families = resolve_families(registry, names)
    requested = {name.strip() for name in names if name and name.strip()}
    if not requested or ALL in requested:
        return FamilyPlan(families, [])
    return FamilyPlan(families, [family.name for family in families if family.name not in requested])


def run_families(
    engine: Engine,
    registry: Registry,
    names: Sequence[str] | None = None,
    *,
    now: datetime | None = None,
    plan: FamilyPlan | None = None,
    options: Mapping[str, str] | None = None,
    sources: Iterable[object] | None = None,
) -> ComputeResult:
    """Run the named families, or those of `plan` (see module doc). Never raises for a
    failing family: the result says what failed (`ok`, `error`, `failed_family`) and the log
    rows are written. Raises UsageError for an unknown family name (before touching the
    database). `options` reach the families as `ctx.options` (e.g. {"peer_scope": "state"}).
    `sources`: the registered sources, whose declarations say which history sources feed
    which measures (`metrics.measures`); None: the built-in sources."""
    plan = plan or plan_families(registry, names)
    families, added = plan.families, plan.added
    for family in families:
        if family.compute is None:
            raise PluginError(f"Metric family {family.name!r} has no compute function.")
    measures = built_in() if sources is None else from_sources(sources)
    run_started = time.perf_counter()
    now = now or utcnow()
    result = ComputeResult([FamilyResult(family.name) for family in families], added)
    current: FamilyResult | None = None
    try:
        with engine.begin() as connection:
            _begin_immediate_on_sqlite(connection)
            ctx = RunContext(connection, now, options=dict(options or {}), measures=measures)
            ctx.analyze(*STATISTICS_TABLES, only_if_stale=True)
            for family, family_result in zip(families, result.families):
                current = family_result
                ctx.family = family.name
                family_result.started_at = utcnow()
                clock = time.perf_counter()
                family_result.outcome = family.compute(ctx)
                family_result.seconds = time.perf_counter() - clock
                family_result.completed_at = utcnow()
                family_result.status = "success"
            current = None
            ctx.family = None
            _write_districts(ctx, result.families)
            ctx.cleanup()
            _write_logs(connection, result.families)
    except BaseException as exc:  # rolled back by engine.begin(); record it, then report
        _record_failure(result, current, exc)
        _write_failure_logs(engine, result)
        if not isinstance(exc, Exception):
            raise
    result.seconds = time.perf_counter() - run_started
    return result


def _write_districts(ctx: RunContext, families: list[FamilyResult]) -> None:
    """The deferred `districts` values of every family, in one UPDATE (each family counted
    its changed rows already); its time is added to the last family's."""
    clock = time.perf_counter()
    ctx.flush()
    if families:
        families[-1].seconds += time.perf_counter() - clock
        families[-1].completed_at = utcnow()


def _begin_immediate_on_sqlite(connection: Connection) -> None:
    """pysqlite opens its transaction lazily, at the first write: the reads before it would
    see no snapshot and DDL would run outside it. BEGIN IMMEDIATE makes the whole run one
    transaction and takes the write lock up front (other writers wait, none fails midway)."""
    if connection.dialect.name == "sqlite" and not connection.connection.dbapi_connection.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _record_failure(result: ComputeResult, current: FamilyResult | None, exc: BaseException) -> None:
    message = f"{type(exc).__name__}: {exc}".strip()
    result.ok = False
    result.error = message.splitlines()[0][:2000] if message else type(exc).__name__
    failed = {current.name} if current else set()
    if isinstance(exc, WriteShortfallError):  # the end-of-run write of these families' values
        failed = set(exc.families) or failed
    result.failed_families = [family.name for family in result.families if family.name in failed]
    result.failed_family = ", ".join(result.failed_families) or None
    for family in result.families:
        family.completed_at = family.completed_at or utcnow()
        if family.name in failed:
            family.status = "failed"
            family.error = message
        elif family.status == "success":
            family.status = "rolled back"
            family.error = f"rolled back: {result.failed_family or 'commit'} failed ({result.error})"
        else:
            family.error = f"not run: {result.failed_family or 'an earlier step'} failed"
        family.outcome = FamilyOutcome()  # nothing of this run was kept


def _write_failure_logs(engine: Engine, result: ComputeResult) -> None:
    try:
        with engine.begin() as connection:
            _write_logs(connection, result.families)
    except Exception as exc:  # the database itself may be what failed
        result.error = f"{result.error}; the failure could not be logged either: {type(exc).__name__}: {exc}"


def _write_logs(connection: Connection, families: list[FamilyResult]) -> None:
    rows = []
    for family in families:
        started = family.started_at or family.completed_at or utcnow()
        rows.append(
            {
                "data_source": f"compute:{family.name}",
                "data_year": None,
                "records_updated": family.records_updated,
                "records_failed": family.outcome.values_nulled,
                "status": "success" if family.status == "success" else "failed",
                "error_message": family.error,
                "started_at": started,
                "completed_at": family.completed_at or started,
            }
        )
    if rows:
        t = layout.of(connection)
        stamps = t.stamps("data_refresh_logs", utcnow(), insert=True)
        connection.execute(sa.insert(t.data_refresh_logs), [{**row, **stamps} for row in rows])
