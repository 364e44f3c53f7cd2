"""What `districtbench status` reports, gathered with a handful of set-based queries."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from districtbench.db import layout, tables
from districtbench.db.states import BY_FIPS


@dataclass
class SourceYearStatus:
    source: str
    year: int
    districts_with_data: int
    units_complete: int
    units_failed: int
    last_fetch: datetime | None
    empty_states: list[str] = field(default_factory=list)  # units complete with 0 rows (state abbreviations)


@dataclass
class FamilyRun:
    family: str
    status: str
    records_updated: int
    records_failed: int
    completed_at: datetime | None
    error_message: str | None


@dataclass
class FigureYears:
    """Where a figure's as-of years stand across the states: year -> number of states, for a
    trend the base years (None: states with no base year in the window), and the history
    sources its states' values come from -> number of states."""

    figure: str
    years: dict[int, int]
    base_years: dict[int | None, int] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)


@dataclass
class StatusReport:
    database: str
    current_revision: str | None
    head_revision: str
    migration_pending: bool
    districts: int
    sources: list[SourceYearStatus] = field(default_factory=list)
    compute: list[FamilyRun] = field(default_factory=list)
    coverage: dict[str, int] = field(default_factory=dict)
    # "table.logical": the app's column, where the database's name is not the plan's
    column_names: dict[str, str] = field(default_factory=dict)
    as_of: list[FigureYears] = field(default_factory=list)
    # family `peers`: districts with a peer group by scope and locale group, and peer benchmarks
    peers: dict = field(default_factory=dict)
    # the plugins' own migration branches: name -> the revision its tables are at (its head)
    plugin_branches: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        def encode(value):
            return value.isoformat() if isinstance(value, datetime) else value

        data = asdict(self)
        data["sources"] = [{k: encode(v) for k, v in row.items()} for row in data["sources"]]
        data["compute"] = [{k: encode(v) for k, v in row.items()} for row in data["compute"]]
        return data


def source_year_statuses(connection: Connection, sources: Iterable) -> list[SourceYearStatus]:
    history = layout.of(connection).district_data_history
    units = tables.fetch_units
    unit_rows = connection.execute(
        sa.select(
            units.c.source,
            units.c.year,
            sa.func.sum(sa.case((units.c.status == "complete", 1), else_=0)),
            sa.func.sum(sa.case((units.c.status == "failed", 1), else_=0)),
            sa.func.max(units.c.fetched_at),
        ).group_by(units.c.source, units.c.year)
    ).all()
    by_key = {(name, year): (done, failed, last) for name, year, done, failed, last in unit_rows}
    empty: dict[tuple[str, int], list[str]] = {}
    empty_rows = connection.execute(
        sa.select(units.c.source, units.c.year, units.c.state_fips)
        .where(units.c.status == "complete", units.c.rows_written == 0)
        .order_by(units.c.source, units.c.year, units.c.state_fips)
    ).all()
    for name, year, fips in empty_rows:
        empty.setdefault((name, year), []).append(BY_FIPS.get(fips, (fips,))[0])

    results: list[SourceYearStatus] = []
    for source in sources:
        has_value = sa.or_(*(history.c[column].is_not(None) for column in source.columns))
        counts = dict(
            connection.execute(
                sa.select(history.c.year, sa.func.count(sa.distinct(history.c.leaid)))
                .where(history.c.source == source.history_source, has_value)
                .group_by(history.c.year)
            ).all()
        )
        years = sorted({year for name, year in by_key if name == source.name} | set(counts))
        for year in years:
            done, failed, last = by_key.get((source.name, year), (0, 0, None))
            results.append(
                SourceYearStatus(
                    source.name, year, counts.get(year, 0), int(done or 0), int(failed or 0), last,
                    empty.get((source.name, year), []),
                )
            )
    return results


def last_compute_runs(connection: Connection) -> list[FamilyRun]:
    logs = layout.of(connection).data_refresh_logs
    newest = (
        sa.select(logs.c.data_source, sa.func.max(logs.c.id).label("id"))
        .where(logs.c.data_source.like("compute:%"))
        .group_by(logs.c.data_source)
        .subquery()
    )
    rows = connection.execute(
        sa.select(
            logs.c.data_source,
            logs.c.status,
            logs.c.records_updated,
            logs.c.records_failed,
            logs.c.completed_at,
            logs.c.error_message,
        )
        .join(newest, logs.c.id == newest.c.id)
        .order_by(logs.c.id)
    ).all()
    return [
        FamilyRun(name.removeprefix("compute:"), status, updated, failed, completed, error)
        for name, status, updated, failed, completed, error in rows
    ]


LOCALE_GROUP_NAMES = {1: "City", 2: "Suburb", 3: "Town", 4: "Rural"}


def peer_coverage(connection: Connection) -> dict:
    """How far the last compute's peer groups reach: districts with a peer group (by scope and
    locale group), those with a full group of 20, and the peer benchmarks with a value."""
    from districtbench.db import tables

    g, b = tables.peer_groups, tables.peer_benchmarks
    rows = connection.execute(
        sa.select(g.c.scope, g.c.locale_group, sa.func.count(), sa.func.sum(sa.case((g.c.peer_count >= 20, 1), else_=0)))
        .group_by(g.c.scope, g.c.locale_group)
        .order_by(g.c.scope, g.c.locale_group)
    ).all()
    if not rows:
        return {}
    benchmarks = connection.execute(
        sa.select(sa.func.count()).select_from(b).where(b.c.peer_average.is_not(None))
    ).scalar_one()
    return {
        "scope": ", ".join(sorted({scope for scope, *_ in rows})),
        "districts": sum(int(n) for _, _, n, _ in rows),
        "full_groups": sum(int(full or 0) for *_, full in rows),
        "by_locale_group": {LOCALE_GROUP_NAMES.get(group, str(group)): int(n) for _, group, n, _ in rows},
        "peer_averages": int(benchmarks),
        **not_eligible(connection),
    }


def not_eligible(connection: Connection) -> dict:
    """The districts that cannot have a peer group, by the family's own rule (`peers.lacking`
    over their values on `districts` now), and per required column how many of them lack it
    (one district may lack several)."""
    from collections import Counter

    from districtbench.metrics.peers import REQUIREMENTS, lacking

    d = layout.of(connection).districts
    counts: Counter = Counter()
    total = 0
    for row in connection.execute(sa.select(*(d.c[r.column] for r in REQUIREMENTS))):
        missing = lacking(*row)
        total += bool(missing)
        counts.update(r.column for r in missing)
    return {"not_eligible": total,
            "not_eligible_lacking": {r.column: counts[r.column] for r in REQUIREMENTS if counts[r.column]}}


def column_coverage(connection: Connection, columns: Iterable[str]) -> dict[str, int]:
    districts = layout.of(connection).districts
    columns = list(columns)
    if not columns:
        return {}
    row = connection.execute(sa.select(*(sa.func.count(districts.c[name]) for name in columns))).one()
    return dict(zip(columns, (int(value) for value in row)))


def figure_year_summary(connection: Connection, figures: Iterable[str]) -> list[FigureYears]:
    """The as-of year (and trend base year) of each figure, counted over the states, in the
    order of `figures` (read through reporting.provenance, as `show` and `export` do)."""
    from districtbench.reporting.provenance import figure_years

    by_state = figure_years(connection)
    summary = []
    for figure in figures:
        entries = [years[figure] for years in by_state.values() if figure in years]
        if not entries:
            continue
        row = FigureYears(figure, {})
        for entry in sorted(entries, key=lambda e: -e.year):
            row.years[entry.year] = row.years.get(entry.year, 0) + 1
        for entry in entries:
            if entry.source is not None:
                row.sources[entry.source] = row.sources.get(entry.source, 0) + 1
        if figure.endswith("_trend_3yr"):
            for entry in sorted(entries, key=lambda e: -(e.base_year or 0)):
                row.base_years[entry.base_year] = row.base_years.get(entry.base_year, 0) + 1
        summary.append(row)
    return summary
