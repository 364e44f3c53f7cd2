"""`run_backfill`: the library entry point of a backfill (the CLI and `run` call it).

Threads: a pool of `concurrency` workers fetches (fetch.py), one more thread parses what they
fetched; the calling thread is the one writer (writer.py), so SQLite never sees two writers
and every progress callback comes from one thread. At most 2 × concurrency tasks are fetched
ahead of the writer.

Dependencies: a unit of a non-roster source for state S is written only after every roster
(directory) unit of this run for S has finished, so it finds the full roster. If one of those
failed, the unit fails too ("roster incomplete"), to be retried with it by the next run —
writing it now would drop its rows as unknown districts and mark it complete for good.

Whatever goes wrong while writing or marking one unit fails that unit, never the run: a
database error, a value the driver refuses (psycopg2's "A string literal cannot contain NUL"
is a ValueError, not a database error), a failure to record the failure itself. The reason
is cleaned (`text.printable`) so that it can be stored and printed whatever bytes it quotes.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict, deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Sequence

import sqlalchemy as sa

from districtbench.backfill.availability import Availability
from districtbench.backfill.fetch import Client, UnitResult, fetch_task, parse_task
from districtbench.backfill.plan import FetchTask, Plan, group_tasks, plan_units
from districtbench.backfill.progress import BackfillProgress
from districtbench.backfill.report import (
    COMPLETE,
    FAILED,
    SKIPPED,
    BackfillReport,
    UnitOutcome,
    refresh_log_rows,
    write_refresh_logs,
)
from districtbench.db import preflight
from districtbench.backfill.writer import completed_units, mark_failed, write_units
from districtbench.db.timestamps import utcnow
from districtbench.sources.base import Source
from districtbench.text import printable
from districtbench.yearspec import YearSpec


def run_backfill(
    engine: sa.engine.Engine,
    client: Client,
    sources: Sequence[Source],
    years: YearSpec,
    states: Sequence[str],
    *,
    concurrency: int = 4,
    force: bool = False,
    progress: BackfillProgress | None = None,
    strict_years: bool = False,
    availability: Availability | None = None,
    plan: Plan | None = None,
    preflight_checked: bool = False,
) -> BackfillReport:
    """Backfill every (source, year, state) unit; returns what happened to each.

    Units already complete are skipped unless `force`. A year a source lacks is skipped with a
    note, or (`strict_years`, sources named by the user) raises UsageError before any work.
    Failed units are in `report.failures`; the database keeps everything that completed.
    `years` may be `yearspec.Latest` (each source's latest years). With `availability` (the
    API's catalog applied to `sources`, see availability.py) the sources run with the
    catalog's years, filters and fields, and a source whose fields are gone fails its units
    without a request.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    progress = progress or BackfillProgress()
    blocked: dict[str, str] = {}
    gaps: dict[str, dict[int, str]] = {}
    if availability is not None:
        wanted = {source.name for source in sources}
        sources = [source for source in availability.sources if source.name in wanted]
        blocked, gaps = availability.blocked, availability.gaps
    if plan is None:  # `backfill` planned already, to report usage errors before the database
        plan = plan_units(sources, years, states, strict_years=strict_years, gaps=gaps)
    report = BackfillReport(notes=list(plan.notes), sources=[source.name for source in sources])
    for note in plan.notes:
        progress.note(note)
    # before any request: a role that may not write, or a table that refuses the rows, is exit 2
    # (`preflight_checked`: the caller's own check covered a backfill with the roster, as `run`'s does)
    if not preflight_checked:
        preflight.check(engine, backfill=True, roster=any(unit.source.provides_roster for unit in plan.units))
    done = set() if force else completed_units(engine, {source.name for source in sources})
    totals = Counter(unit.source.name for unit in plan.units)
    progress.plan(dict(Counter((unit.source.name, unit.year) for unit in plan.units)))
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
    writer = _Writer(engine, report, progress, group_tasks(todo, blocked))
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
    """The one thread that writes: units in task order, roster dependencies, outcomes."""

    def __init__(self, engine, report: BackfillReport, progress: BackfillProgress, tasks: list[FetchTask]):
        self.engine = engine
        self.report = report
        self.progress = progress
        self.tasks = tasks
        self.held: list[list[UnitResult]] = []  # non-roster results of one task, waiting
        self.roster_pending: Counter = Counter(
            unit.state_fips for task in tasks for unit in task.units if unit.source.provides_roster
        )
        self.roster_failed: dict[str, list[str]] = defaultdict(list)
        self.finished_keys: set[tuple[str, int, str]] = set()
        self.connection: sa.Connection | None = None

    def run(self, client: Client, concurrency: int) -> None:
        queue = deque(self.tasks)
        window = 2 * concurrency
        fetching: set[Future] = set()
        parsing: set[Future] = set()
        pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="districtbench-fetch")
        # parsing has its own thread, so a fetch slot is free again as soon as its answers
        # are in (parsing then overlaps the next requests' latency instead of adding to it)
        parser = ThreadPoolExecutor(max_workers=1, thread_name_prefix="districtbench-parse")
        # one connection for the whole run (a transaction per task): no pool checkout and
        # pre-ping round trip per task; idle between transactions, so SQLite is not locked
        self.connection = self.engine.connect()
        try:
            while queue or fetching or parsing or self.held:
                while queue and len(fetching) + len(parsing) + len(self.held) < window:
                    fetching.add(pool.submit(fetch_task, client, queue.popleft()))
                if not fetching and not parsing:  # only held results whose roster units never ran
                    self._release(force=True)
                    continue
                finished, _ = wait(fetching | parsing, return_when=FIRST_COMPLETED)
                for future in finished:
                    if future in fetching:
                        fetching.discard(future)
                        parsing.add(parser.submit(parse_task, future.result()))
                    else:
                        parsing.discard(future)
                        self._handle(future.result())
                self._release()
        finally:
            busy = bool(fetching or parsing)
            pool.shutdown(wait=not busy, cancel_futures=True)
            parser.shutdown(wait=not busy, cancel_futures=True)
            connection, self.connection = self.connection, None
            connection.close()

    def _handle(self, results: list[UnitResult]) -> None:
        """The results of one task: roster units now, the others once their state's roster
        units of this run have all finished."""
        roster = [r for r in results if r.unit.source.provides_roster]
        others = [r for r in results if not r.unit.source.provides_roster]
        if roster:
            self._finish(roster)
        if others and self.roster_pending[others[0].unit.state_fips] > 0:
            self.held.append(others)
        elif others:
            self._finish(others)

    def _release(self, force: bool = False) -> None:
        ready, waiting = [], []
        for group in self.held:
            (ready if force or self.roster_pending[group[0].unit.state_fips] <= 0 else waiting).append(group)
        self.held = waiting
        for group in ready:
            self._finish(group)

    def _finish(self, results: list[UnitResult]) -> None:
        """Write the units of one task that parsed (one transaction), record the others."""
        now = utcnow()
        failures: dict[int, str] = {}
        for index, result in enumerate(results):
            state = result.unit.state_fips
            if result.failure is not None:
                failures[index] = result.failure
            elif not result.unit.source.provides_roster and self.roster_failed[state]:
                failed = ", ".join(self.roster_failed[state])
                failures[index] = f"roster incomplete: {failed} failed in this run; retry them together"
        written = self._write([r for i, r in enumerate(results) if i not in failures], now)
        ok = iter(written)
        for index, result in enumerate(results):
            unit = result.unit
            outcome = UnitOutcome(unit.source.name, unit.year, unit.state_fips, COMPLETE, started_at=result.started_at)
            failure = failures.get(index)
            if failure is None:
                counts = next(ok)
                if isinstance(counts, str):
                    failure = counts
                else:
                    outcome.rows_written, outcome.rows_skipped = counts
                    outcome.values_nulled = Counter(getattr(result.rows, "nulled", None) or {})
            if failure is not None:
                outcome.status, outcome.reason = FAILED, self._mark_failed(unit, printable(failure), now)
            outcome.finished_at = utcnow()
            if unit.source.provides_roster:
                self.roster_pending[unit.state_fips] -= 1
                if outcome.status == FAILED:
                    self.roster_failed[unit.state_fips].append(unit.label)
            self.finished_keys.add(unit.key)
            self.report.outcomes.append(outcome)
            self.progress.advance(outcome)

    def _mark_failed(self, unit, reason: str, now) -> str:
        """Record the unit as failed; returns the reason to report. If even recording fails,
        the unit is still failed in this run's report (and, not marked complete, fetched
        again by the next run)."""
        try:
            mark_failed(self.engine, unit, reason, now)
        except Exception as exc:
            return f"{reason} (the failure could not be recorded: {_describe(exc)})"
        return reason

    def _write(self, results: list[UnitResult], now) -> list:
        """(rows written, skipped) per result, or why writing it failed. Units of one task go
        in one transaction; if it fails, each is tried alone so that one unit's bad rows do
        not fail its sibling."""
        if not results:
            return []
        try:
            if self.connection is None:
                with self.engine.begin() as connection:
                    return write_units(connection, [(r.unit, r.rows) for r in results], now)
            if self.connection.in_transaction():  # left open by a failed statement
                self.connection.rollback()
            with self.connection.begin():
                return write_units(self.connection, [(r.unit, r.rows) for r in results], now)
        except Exception as exc:  # not BaseException: Ctrl-C still ends the run
            if len(results) == 1:
                return [_describe(exc)]
        return [self._write([result], now)[0] for result in results]

    def unfinished(self) -> dict[tuple[str, int], int]:
        """(source, year) → units of this run that did not finish (an interrupted run)."""
        pending: Counter = Counter()
        for task in self.tasks:
            for unit in task.units:
                if unit.key not in self.finished_keys:
                    pending[(unit.source.name, unit.year)] += 1
        return dict(pending)


def _describe(exc: Exception) -> str:
    """One clean line: `database error: …` (the driver's own message) or `write error:
    ValueError: …` for what the driver raised outside its own error classes."""
    orig = getattr(exc, "orig", None) if isinstance(exc, sa.exc.SQLAlchemyError) else None
    text = str(orig if orig is not None else exc).strip()
    first = printable(text.splitlines()[0]) if text else ""
    if isinstance(exc, sa.exc.SQLAlchemyError):
        return f"database error: {first or type(exc).__name__}"
    return f"write error: {type(exc).__name__}: {first}" if first else f"write error: {type(exc).__name__}"
