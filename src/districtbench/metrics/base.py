"""What a metric-family plugin is: a name, what it runs after, the columns it writes,
and set-based SQL (SQLAlchemy Core) that computes them inside the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # pragma: no cover
    from districtbench.metrics.context import RunContext


@dataclass
class FamilyOutcome:
    """What one family did: rows whose values changed; values stored as NULL because they
    did not fit their column or were invalid or implausible (`nulled`, column -> count);
    trends left NULL because the district's state has no base year within the window
    (`no_base_year`, column -> districts); averages made by enrollment weighting for want of
    their own denominators (`enrollment_weighted`, column -> states and US rows); rows of
    the family's own tables inserted, deleted or changed (`rows_changed`, table -> rows;
    `districts_updated` then counts the districts those rows belong to); `inputs_unchanged`:
    the family found its inputs as the run that wrote its tables left them and did no work
    (`metrics.fingerprints`)."""

    districts_updated: int = 0
    states_updated: int = 0
    nulled: dict[str, int] = field(default_factory=dict)
    no_base_year: dict[str, int] = field(default_factory=dict)
    enrollment_weighted: dict[str, int] = field(default_factory=dict)
    rows_changed: dict[str, int] = field(default_factory=dict)
    inputs_unchanged: bool = False

    @property
    def values_nulled(self) -> int:
        """Every value this family could not store (logged as `records_failed`)."""
        return sum(self.nulled.values()) + sum(self.no_base_year.values())

    def add(self, other: "FamilyOutcome") -> None:
        self.districts_updated += other.districts_updated
        self.states_updated += other.states_updated
        self.inputs_unchanged = self.inputs_unchanged and other.inputs_unchanged
        for mine, theirs in (
            (self.nulled, other.nulled),
            (self.no_base_year, other.no_base_year),
            (self.enrollment_weighted, other.enrollment_weighted),
            (self.rows_changed, other.rows_changed),
        ):
            for column, count in theirs.items():
                mine[column] = mine.get(column, 0) + count


@dataclass(frozen=True)
class MetricFamily:
    """name: `latest`, `ratios`, …; runs_after: names of families that must run first;
    columns: `table.column` names it writes; compute: does the work inside the runner's
    transaction and reports a FamilyOutcome (it must write every column it declares, for
    every row, so nothing stale survives)."""

    name: str
    runs_after: tuple[str, ...]
    columns: tuple[str, ...]
    description: str = ""
    compute: Callable[["RunContext"], FamilyOutcome] | None = field(default=None, compare=False)
