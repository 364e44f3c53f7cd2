"""How the CLI shows a backfill on stderr: rich progress bars on a terminal, plain lines
otherwise (no escape codes), then a summary table per source × year and the failed units."""

from __future__ import annotations

from collections import Counter

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from districtbench import console
from districtbench.backfill.progress import BackfillProgress
from districtbench.backfill.report import COMPLETE, FAILED, BackfillReport, UnitOutcome


def make_progress() -> BackfillProgress:
    return RichProgress() if console.err_console.is_terminal else PlainProgress()


class PlainProgress(BackfillProgress):
    """One line per finished unit, for logs and pipes."""

    def start(self, totals: dict[str, int]) -> None:
        self.totals = dict(totals)
        self.done: Counter = Counter()
        planned = ", ".join(f"{name} {count}" for name, count in totals.items())
        console.info(f"backfill: {sum(totals.values())} units ({planned or 'none'})")

    def advance(self, outcome: UnitOutcome) -> None:
        self.done[outcome.source] += 1
        position = f"[{self.done[outcome.source]}/{self.totals.get(outcome.source, '?')}]"
        if outcome.status == COMPLETE:
            text = f"{outcome.rows_written} rows"
            if outcome.rows_skipped:
                text += f", {sum(outcome.rows_skipped.values())} skipped"
        elif outcome.status == FAILED:
            text = f"FAILED: {outcome.reason}"
        else:
            text = "already complete"
        console.info(f"{outcome.label} {position} {text}")

    def note(self, message: str) -> None:
        console.info(f"note: {message}")


class RichProgress(BackfillProgress):
    """A bar per source: units done/total, rows written, failures."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("{task.description:<12}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("units · {task.fields[rows]:>9,} rows · {task.fields[failed]} failed"),
            TimeElapsedColumn(),
            console=console.err_console,
        )
        self.tasks: dict[str, int] = {}
        self.rows: Counter = Counter()
        self.failed: Counter = Counter()

    def start(self, totals: dict[str, int]) -> None:
        for name, total in totals.items():
            self.tasks[name] = self.progress.add_task(name, total=total, rows=0, failed=0)
        self.progress.start()

    def advance(self, outcome: UnitOutcome) -> None:
        self.rows[outcome.source] += outcome.rows_written
        self.failed[outcome.source] += outcome.status == FAILED
        task = self.tasks.get(outcome.source)
        if task is not None:
            self.progress.update(
                task, advance=1, rows=self.rows[outcome.source], failed=self.failed[outcome.source]
            )

    def note(self, message: str) -> None:
        console.note(message)

    def finish(self) -> None:
        self.progress.stop()


MAX_FAILURES_LISTED = 25


def print_summary(report: BackfillReport) -> None:
    """A table per source × year, then the reasons rows were skipped, then the failures."""
    table = Table(title="Backfill summary", title_justify="left")
    longest = max((len(outcome.source) for outcome in report.outcomes), default=6)
    table.add_column("source", no_wrap=True, min_width=longest)
    for heading in ("year", "complete", "failed", "skipped", "rows written", "rows skipped", "values nulled"):
        table.add_column(heading, justify="right")
    details: list[str] = []
    for summary in report.summaries():
        table.add_row(
            summary.source,
            str(summary.year),
            str(summary.units_complete),
            f"[red]{summary.units_failed}[/red]" if summary.units_failed else "0",
            str(summary.units_skipped),
            f"{summary.rows_written:,}",
            f"{sum(summary.rows_skipped.values()):,}",
            f"{sum(summary.values_nulled.values()):,}",
        )
        if summary.rows_skipped:
            details.append(f"  {summary.source} {summary.year} rows skipped: {_reasons(summary.rows_skipped)}")
        if summary.values_nulled:
            details.append(f"  {summary.source} {summary.year} values nulled: {_reasons(summary.values_nulled)}")
    console.err_console.print(table)
    console.note("skipped = units already complete in an earlier run (--force fetches them again)")
    for line in details:
        console.info(line)
    console.info(
        f"{report.count(COMPLETE)} units complete, {report.count(FAILED)} failed, "
        f"{report.count('skipped')} already complete; {report.rows_written:,} rows written "
        f"in {report.elapsed:.1f} s with {report.requests} requests."
    )
    failures = sorted(report.failures, key=lambda o: (o.source, o.year, o.state_fips))
    if failures:
        console.error_line(f"{len(failures)} unit(s) failed; nothing of them was written:")
        for outcome in failures[:MAX_FAILURES_LISTED]:
            console.info(f"  {outcome.label}: {outcome.reason}")
        if len(failures) > MAX_FAILURES_LISTED:
            console.info(
                f"  … and {len(failures) - MAX_FAILURES_LISTED} more "
                "(`districtbench status` counts them per source and year)"
            )
        console.info("Run the same command again to retry them; completed units are kept.")


def _reasons(counter: Counter) -> str:
    return ", ".join(f"{reason} {count:,}" for reason, count in counter.most_common())
