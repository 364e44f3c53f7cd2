"""How a backfill's progress looks (owned by the console: the only other module that uses rich).

On a terminal: one overall line — units done / total, rows, failures, elapsed, time left —
above a bar per source. Piped or logged: one plain line per (source, year) when its last unit
finishes. `verbose`: a line per unit as well; `quiet`: only failed units. Failed units are
always shown as they happen.
"""

from __future__ import annotations

from collections import Counter

from rich.console import Group
from rich.live import Live
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from districtbench import console
from districtbench.backfill.progress import BackfillProgress
from districtbench.backfill.report import COMPLETE, FAILED, UnitOutcome

QUIET, NORMAL, VERBOSE = "quiet", "normal", "verbose"


def make_progress(level: str = NORMAL) -> BackfillProgress:
    if console.err_console.is_terminal and level != QUIET:
        return LiveProgress(level)
    return PlainProgress(level)


def unit_line(outcome: UnitOutcome) -> str:
    if outcome.status == COMPLETE:
        text = f"{outcome.rows_written:,} rows"
        if outcome.rows_skipped:
            text += f", {sum(outcome.rows_skipped.values()):,} skipped"
    elif outcome.status == FAILED:
        text = f"FAILED: {outcome.reason}"
    else:
        text = "already complete"
    return f"{outcome.label}: {text}"


class _Tally(BackfillProgress):
    """Counts per (source, year) so a line can be written when the last unit of one is in."""

    def __init__(self, level: str) -> None:
        self.level = level
        self.per_year: dict[tuple[str, int], int] = {}
        self.done: Counter = Counter()
        self.rows: Counter = Counter()
        self.failed: Counter = Counter()
        self.skipped: Counter = Counter()

    def plan(self, units_per_year: dict[tuple[str, int], int]) -> None:
        self.per_year = dict(units_per_year)

    def count(self, outcome: UnitOutcome) -> bool:
        """Record one unit; True when it was the last of its (source, year)."""
        key = (outcome.source, outcome.year)
        self.done[key] += 1
        self.rows[key] += outcome.rows_written
        self.failed[key] += outcome.status == FAILED
        self.skipped[key] += outcome.status not in (COMPLETE, FAILED)
        return self.done[key] == self.per_year.get(key)

    def year_line(self, source: str, year: int) -> str:
        key = (source, year)
        units = self.done[key]
        parts = [f"{units} unit{'s' if units != 1 else ''}", f"{self.rows[key]:,} rows"]
        if self.skipped[key]:
            parts.append(f"{self.skipped[key]} already complete")
        parts.append(f"{self.failed[key]} failed" if self.failed[key] else "none failed")
        return f"{source} {year}: " + ", ".join(parts)


class PlainProgress(_Tally):
    """Plain lines for logs and pipes (no escape codes)."""

    def start(self, totals: dict[str, int]) -> None:
        if self.level != QUIET:
            planned = ", ".join(f"{name} {count}" for name, count in totals.items())
            console.info(f"backfill: {sum(totals.values())} units ({planned or 'none'})")

    def advance(self, outcome: UnitOutcome) -> None:
        last = self.count(outcome)
        if outcome.status == FAILED:
            console.error_line_unwrapped(unit_line(outcome))
        elif self.level == VERBOSE:
            console.info_line(unit_line(outcome))
        if last and self.level == NORMAL:
            console.info_line(self.year_line(outcome.source, outcome.year))

    def note(self, message: str) -> None:
        if self.level != QUIET:
            console.info(f"note: {message}")


class LiveProgress(_Tally):
    """rich: the overall line, then a bar per source."""

    def __init__(self, level: str) -> None:
        super().__init__(level)
        self.overall = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("units · {task.fields[rows]:>10,} rows · {task.fields[failed]} failed ·"),
            TimeElapsedColumn(),
            TextColumn("· left"),
            TimeRemainingColumn(),
            console=console.err_console,
        )
        self.sources = Progress(
            TextColumn("  {task.description:<12}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("units · {task.fields[rows]:>10,} rows · {task.fields[failed]} failed"),
            console=console.err_console,
        )
        self.live = Live(Group(self.overall, self.sources), console=console.err_console, refresh_per_second=8,
                         transient=False)
        self.tasks: dict[str, int] = {}
        self.total_task: int | None = None
        self.source_rows: Counter = Counter()
        self.source_failed: Counter = Counter()

    def start(self, totals: dict[str, int]) -> None:
        self.total_task = self.overall.add_task("all sources", total=sum(totals.values()), rows=0, failed=0)
        for name, total in totals.items():
            self.tasks[name] = self.sources.add_task(name, total=total, rows=0, failed=0)
        self.live.start()

    def advance(self, outcome: UnitOutcome) -> None:
        self.count(outcome)
        self.source_rows[outcome.source] += outcome.rows_written
        self.source_failed[outcome.source] += outcome.status == FAILED
        if outcome.status == FAILED:
            self.live.console.print(f"[red]✗[/red] {console.safe(console.masked(unit_line(outcome)))}")
        elif self.level == VERBOSE:
            self.live.console.print(console.safe(console.masked(unit_line(outcome))), highlight=False)
        task = self.tasks.get(outcome.source)
        if task is not None:
            self.sources.update(task, advance=1, rows=self.source_rows[outcome.source],
                                failed=self.source_failed[outcome.source])
        if self.total_task is not None:
            self.overall.update(self.total_task, advance=1, rows=sum(self.source_rows.values()),
                                failed=sum(self.source_failed.values()))

    def note(self, message: str) -> None:
        console.note(message)

    def finish(self) -> None:
        self.live.stop()
