"""What a backfill did: one outcome per unit, summaries per (source, year), failures.

`data_refresh_logs` gets one row per (source, year) of the run:
records_updated = history rows written; records_failed = rows dropped (invalid values,
unknown districts, …) by the units that completed; status `success` (no unit failed),
`partial` (some failed), `failed` (every unit that ran failed); error_message lists the
failed units with their reasons.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from districtbench.db import layout
from districtbench.db.timestamps import utcnow
from districtbench.db.states import BY_FIPS

COMPLETE = "complete"
FAILED = "failed"
SKIPPED = "skipped"  # already complete in an earlier run (resume)


@dataclass
class UnitOutcome:
    source: str
    year: int
    state_fips: str
    status: str
    rows_written: int = 0
    rows_skipped: Counter = field(default_factory=Counter)
    values_nulled: Counter = field(default_factory=Counter)
    reason: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def state_abbrev(self) -> str:
        return BY_FIPS.get(self.state_fips, (self.state_fips, ""))[0]

    @property
    def label(self) -> str:
        return f"{self.source} {self.year} {self.state_abbrev}"


@dataclass
class SourceYearSummary:
    source: str
    year: int
    units_complete: int = 0
    units_failed: int = 0
    units_skipped: int = 0
    rows_written: int = 0
    rows_skipped: Counter = field(default_factory=Counter)
    values_nulled: Counter = field(default_factory=Counter)
    failures: list[UnitOutcome] = field(default_factory=list)
    started_at: datetime | None = None
    completed_at: datetime | None = None

    @property
    def status(self) -> str:
        if not self.units_failed:
            return "success"
        return "failed" if not self.units_complete else "partial"

    def add(self, outcome: UnitOutcome) -> None:
        if outcome.status == COMPLETE:
            self.units_complete += 1
        elif outcome.status == FAILED:
            self.units_failed += 1
            self.failures.append(outcome)
        else:
            self.units_skipped += 1
        self.rows_written += outcome.rows_written
        self.rows_skipped.update(outcome.rows_skipped)
        self.values_nulled.update(outcome.values_nulled)
        if outcome.started_at and (self.started_at is None or outcome.started_at < self.started_at):
            self.started_at = outcome.started_at
        if outcome.finished_at and (self.completed_at is None or outcome.finished_at > self.completed_at):
            self.completed_at = outcome.finished_at


@dataclass
class BackfillReport:
    """Everything a caller (the CLI, the `run` command) needs after a backfill."""

    outcomes: list[UnitOutcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    requests: int = 0
    started_at: datetime = field(default_factory=utcnow)
    elapsed: float = 0.0
    interrupted: bool = False

    @property
    def failures(self) -> list[UnitOutcome]:
        return [outcome for outcome in self.outcomes if outcome.status == FAILED]

    @property
    def empty_units(self) -> list[UnitOutcome]:
        """Units of this run that completed without writing a row (the API had no records of
        that state-year, or every record was dropped)."""
        return [outcome for outcome in self.outcomes if outcome.status == COMPLETE and not outcome.rows_written]

    @property
    def ok(self) -> bool:
        return not self.failures and not self.interrupted

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    @property
    def rows_written(self) -> int:
        return sum(outcome.rows_written for outcome in self.outcomes)

    def count(self, status: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)

    def summaries(self) -> list[SourceYearSummary]:
        """Per (source, year): sources in the order given, years ascending."""
        by_key: dict[tuple[str, int], SourceYearSummary] = {}
        for outcome in self.outcomes:
            key = (outcome.source, outcome.year)
            summary = by_key.get(key) or by_key.setdefault(key, SourceYearSummary(*key))
            summary.add(outcome)
        rank = {name: index for index, name in enumerate(self.sources)}
        return sorted(by_key.values(), key=lambda s: (rank.get(s.source, len(rank)), s.source, s.year))


def refresh_log_rows(report: BackfillReport, pending: dict[tuple[str, int], int] | None = None) -> list[dict]:
    """One `data_refresh_logs` row per (source, year); `pending` counts units not finished
    (an interrupted run) so the log says so."""
    now = utcnow()
    rows = []
    pending = pending or {}
    summaries = report.summaries()
    seen = {(summary.source, summary.year) for summary in summaries}
    summaries += [SourceYearSummary(*key) for key in pending if key not in seen]
    for summary in summaries:
        unfinished = pending.get((summary.source, summary.year), 0)
        messages = [f"{failure.state_abbrev}: {failure.reason}" for failure in summary.failures]
        if unfinished:
            messages.append(f"interrupted with {unfinished} unit(s) unfinished")
        status = summary.status
        if unfinished:
            status = "partial" if summary.units_complete or summary.units_skipped else "failed"
        rows.append(
            {
                "data_source": summary.source,
                "data_year": summary.year,
                "records_updated": summary.rows_written,
                "records_failed": sum(summary.rows_skipped.values()),
                "status": status,
                "error_message": "\n".join(messages) or None,
                "started_at": summary.started_at or report.started_at,
                "completed_at": summary.completed_at or now,
            }
        )
    return rows


def write_refresh_logs(engine: sa.engine.Engine, rows: list[dict]) -> None:
    if rows:
        with engine.begin() as connection:
            t = layout.of(connection)
            stamps = t.stamps("data_refresh_logs", utcnow(), insert=True)
            connection.execute(t.data_refresh_logs.insert(), [{**row, **stamps} for row in rows])
