"""How a backfill reports progress. The runner calls these from ONE thread (the writer).

The base class does nothing; the CLI passes a rich or plain-text implementation
(`districtbench.console_progress`), tests may pass a recorder.
"""

from __future__ import annotations

from districtbench.backfill.report import UnitOutcome


class BackfillProgress:
    def plan(self, units_per_year: dict[tuple[str, int], int]) -> None:
        """Units planned per (source, year), before `start` (including units already complete)."""

    def start(self, totals: dict[str, int]) -> None:
        """Units planned per source (including units already complete), in source order."""

    def advance(self, outcome: UnitOutcome) -> None:
        """One unit finished: complete, failed, or skipped (already complete)."""

    def note(self, message: str) -> None:
        """Something worth telling the user (a year a source does not have, …)."""

    def finish(self) -> None:
        """The run ended (normally or not)."""
