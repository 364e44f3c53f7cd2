"""`run_backfill`: the library entry point of a backfill (the CLI and `run` call it).

Threads: a pool of `concurrency` workers fetches and parses (fetch.py); the calling thread is
the one writer (writer.py), so SQLite never sees two writers and every progress callback
comes from one thread. At most 2 × concurrency tasks are fetched ahead of the writer.

Dependencies: a unit of a non-roster source for state S is written only after every roster
(directory) unit of this run for S has finished, so it finds the full roster. If one of those
failed, the unit fails too ("roster incomplete"), to be retried with it by the next run —
writing it now would drop its rows as unknown districts and mark it complete for good.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict, deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Sequence

import sqlalchemy as sa

from districtbench.backfill.fetch import Client, UnitResult, run_task
from districtbench.backfill.plan import FetchTask, group_tasks, plan_units
from districtbench.backfill.progress import BackfillProgress
from districtbench.backfill.report import (
    COMPLETE,
    FAILED,
    SKIPPED,
    BackfillReport,
    UnitOutcome,
    refresh_log_rows,
    utcnow,
    write_refresh_logs,
)
from districtbench.backfill.writer import completed_units, mark_failed, write_unit
from districtbench.sources.base import Source


def run_backfill(
    engine: sa.engine.Engine,
    client: Client,
    sources: Sequence[Source],
    years: Sequence[int],
    states: Sequence[str],
    *,
    concurrency: int = 4,
    force: bool = False,
    progress: BackfillProgress | None = None,
    strict_years: bool = False,
) -> BackfillReport:
    """Backfill every (source, year, state) unit; returns what happened to each.

    Units already complete are skipped unless `force`. A year a source lacks is skipped with a
    note, or (`strict_years`, sources named by the user) raises UsageError before any work.
    Failed units are in `report.failures`; the database keeps everything that completed.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    progress = progress or BackfillProgress()
    plan = plan_units(sources, years, states, strict_years=strict_years)
    report = BackfillReport(notes=list(plan.notes), sources=[source.name for source in sources])
    for note in plan.notes:
        progress.note(note)
    done = set() if force else completed_units(engine, {source.name for source in sources})
    totals = Counter(unit.source.name for unit in plan.units)
    progress.start({source.name: totals[source.name] for source in sources if totals[source.name]})
    todo = []
    for unit in plan.units:
        if unit.key in done:
            outcome = UnitOutcome(unit.source.name, unit.year, unit.state_fips, SKIPPED)
            report.outcomes.append(outcome)
            progress.advance(outcome)
        else:
            todo.append(unit)
    requests_before = getattr(client, "request_count", 0)
    clock = time.perf_counter()
    writer = _Writer(engine, report, progress, group_tasks(todo))
    try:
        writer.run(client, concurrency)
    except BaseException:
        report.interrupted = True
        _close(engine, report, writer, progress, clock, client, requests_before, quiet=True)
        raise
    _close(engine, report, writer, progress, clock, client, requests_before, quiet=False)
    return report


def _close(engine, report, writer, progress, clock, client, requests_before, *, quiet: bool) -> None:
    """Totals, one `data_refresh_logs` row per (source, year), progress done. When the run is
    being interrupted, a failure to log must not hide the interruption."""
    report.elapsed = time.perf_counter() - clock
    report.requests = getattr(client, "request_count", 0) - requests_before
    try:
        write_refresh_logs(engine, refresh_log_rows(report, writer.unfinished()))
    except Exception:
        if not quiet:
            raise
    finally:
        progress.finish()


class _Writer:
    def __init__(self, engine, report: BackfillReport, progress: BackfillProgress, tasks: list[FetchTask]):
        self.engine = engine
        self.report = report
        self.progress = progress
        self.tasks = tasks
        self.held: list[UnitResult] = []
        self.roster_pending: Counter = Counter(
            unit.state_fips for task in tasks for unit in task.units if unit.source.provides_roster
        )
        self.roster_failed: dict[str, list[str]] = defaultdict(list)
        self.finished_keys: set[tuple[str, int, str]] = set()

    def run(self, client: Client, concurrency: int) -> None:
        queue = deque(self.tasks)
        window = 2 * concurrency
        running: set[Future] = set()
        pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="districtbench-fetch")
        try:
            while queue or running or self.held:
                while queue and len(running) + len(self.held) < window:
                    running.add(pool.submit(run_task, client, queue.popleft()))
                if not running:  # only held results whose roster units never ran: cannot wait
                    self._release(force=True)
                    continue
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    for result in future.result():
                        self._handle(result)
                self._release()
        finally:
            pool.shutdown(wait=not running, cancel_futures=True)

    def _handle(self, result: UnitResult) -> None:
        unit = result.unit
        if not unit.source.provides_roster and self.roster_pending[unit.state_fips] > 0:
            self.held.append(result)
        else:
            self._finish(result)

    def _release(self, force: bool = False) -> None:
        ready, waiting = [], []
        for result in self.held:
            (ready if force or self.roster_pending[result.unit.state_fips] <= 0 else waiting).append(result)
        self.held = waiting
        for result in ready:
            self._finish(result)

    def _finish(self, result: UnitResult) -> None:
        unit, rows, failure = result.unit, result.rows, result.failure
        if failure is None and not unit.source.provides_roster and self.roster_failed[unit.state_fips]:
            failed = ", ".join(self.roster_failed[unit.state_fips])
            failure = f"roster incomplete: {failed} failed in this run; retry them together"
        outcome = UnitOutcome(unit.source.name, unit.year, unit.state_fips, COMPLETE, started_at=result.started_at)
        now = utcnow()
        if failure is None:
            try:
                with self.engine.begin() as connection:
                    outcome.rows_written, outcome.rows_skipped = write_unit(connection, unit, rows, now)
                outcome.values_nulled = Counter(getattr(rows, "nulled", None) or {})
            except sa.exc.SQLAlchemyError as exc:
                failure = f"database error: {_first_line(exc)}"
        if failure is not None:
            outcome.status, outcome.reason = FAILED, failure
            outcome.rows_written, outcome.rows_skipped = 0, Counter()
            mark_failed(self.engine, unit, failure, now)
        outcome.finished_at = utcnow()
        if unit.source.provides_roster:
            self.roster_pending[unit.state_fips] -= 1
            if outcome.status == FAILED:
                self.roster_failed[unit.state_fips].append(unit.label)
        self.finished_keys.add(unit.key)
        self.report.outcomes.append(outcome)
        self.progress.advance(outcome)

    def unfinished(self) -> dict[tuple[str, int], int]:
        """(source, year) → units of this run that did not finish (an interrupted run)."""
        pending: Counter = Counter()
        for task in self.tasks:
            for unit in task.units:
                if unit.key not in self.finished_keys:
                    pending[(unit.source.name, unit.year)] += 1
        return dict(pending)


def _first_line(exc: sa.exc.SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
