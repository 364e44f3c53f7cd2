"""What a metric-family plugin is: a name, what it runs after, the columns it writes,
and set-based SQL (SQLAlchemy Core) that computes them inside the database."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricFamily:
    """name: `latest`, `ratios`, …; runs_after: names of families that must run first;
    columns: `table.column` names it writes."""

    name: str
    runs_after: tuple[str, ...]
    columns: tuple[str, ...]
    description: str = ""
