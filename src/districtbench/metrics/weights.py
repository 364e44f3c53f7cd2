"""The denominators each district's values are pooled over (`definitions.Pooling`), from
districtbench's own `districtbench_history_extras`.

For every pooled measure (`POOLED`: the metrics with a `pooling`, and the poverty rate) the
stage holds, per district, the extras row of the SAME history row its value comes from: the
district's row of the measure's series in the series' as-of year in its state, of that year's
source there (`years`), so
a graduation rate of 2019 is weighted by the 2019 cohort, never by another year's count.
`<column>__row` is 1 where that extras row exists (a history row written before revision
0005 has none: see `averages` for what the averages do then), `<column>__<extra>` the
numbers. Every district has one row of the stage (NULLs where nothing is found).

Built once per run and shared (`district_weights`). Two forms of the same rows, as for the
snapshot: PostgreSQL reads the extras once, joined to each row's district and to the years
needed, pivoted by `max(CASE …)`; SQLite looks each district's rows up in the table's
primary key (one LEFT JOIN per source and year pattern).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from districtbench.db import tables
from districtbench.metrics.arith import lit
from districtbench.metrics.context import RunContext
from districtbench.metrics.definitions import FIGURES_BY_COLUMN, METRICS, POVERTY_POOLING, SERIES, Pooling, Series
from districtbench.metrics.years import series_year_rows

X = tables.history_extras


@dataclass(frozen=True)
class Pooled:
    """A district column whose group averages are pooled over its own denominator."""

    column: str  # the `districts` column holding the value
    average_column: str  # the `states` column of the average
    series: Series  # the rows the value comes from (source, as-of year)
    pooling: Pooling

    def label(self, name: str) -> str:
        """The stage column of extras column `name` (or `row`) for this measure."""
        return f"{self.column}__{name}"


def _pooled() -> tuple[Pooled, ...]:
    items = [
        Pooled(m.district_column, m.average_column, FIGURES_BY_COLUMN[m.district_column].series, m.pooling)
        for m in METRICS
        if m.pooling is not None
    ]
    poverty = "children_poverty_percent"
    items.append(Pooled(poverty, "avg_poverty_rate", FIGURES_BY_COLUMN[poverty].series, POVERTY_POOLING))
    return tuple(items)


POOLED: tuple[Pooled, ...] = _pooled()
POOLED_BY_AVERAGE = {item.average_column: item for item in POOLED}


def stage_columns() -> list[str]:
    """The stage's columns besides `leaid`."""
    return [item.label(name) for item in POOLED for name in ("row", *item.pooling.columns)]


def district_weights(ctx: RunContext) -> sa.Table:
    return ctx.memo("district_weights", lambda: _build(ctx))  # type: ignore[return-value]


@dataclass
class _Group:
    """Pooled measures whose as-of years and sources are the same in every state."""

    number: int
    years: dict[str, int]  # state fips -> year
    sources: dict[str, str]  # state fips -> the history source of that year's rows
    items: list[Pooled]

    @property
    def year_name(self) -> str:
        return f"y{self.number}"

    @property
    def source_name(self) -> str:
        return f"s{self.number}"

    def source(self, listed: sa.FromClause) -> sa.ColumnElement:
        """The history source of the rows, for a row of the listed years: a constant when it
        is the same in every state (the usual case: the join keeps its literal key)."""
        found = set(self.sources.values())
        return sa.literal(found.pop(), sa.String(30)) if len(found) == 1 else listed.c[self.source_name]


def _groups(ctx: RunContext) -> list[_Group]:
    latest = {(row.state_fips, row.series): (row.latest_source, row.latest_year) for row in series_year_rows(ctx)}
    groups: dict[tuple, _Group] = {}
    for item in POOLED:
        number = SERIES.index(item.series)
        found = {state: picked for (state, series), picked in latest.items() if series == number}
        key = tuple(sorted(found.items()))
        if key not in groups:
            years = {state: year for state, (_, year) in found.items()}
            sources = {state: source for state, (source, _) in found.items()}
            groups[key] = _Group(len(groups), years, sources, [])
        groups[key].items.append(item)
    return list(groups.values())


def _picked(group: _Group, row: sa.FromClause | None) -> list[sa.ColumnElement]:
    """The stage columns of a group from extras row `row` (None: no row anywhere)."""
    columns = []
    for item in group.items:
        if row is None:
            columns.append(sa.cast(sa.null(), sa.Integer).label(item.label("row")))
            columns += [sa.cast(sa.null(), X.c[name].type).label(item.label(name)) for name in item.pooling.columns]
        else:
            columns.append(sa.case((row.c.leaid.is_not(None), lit(1))).label(item.label("row")))
            columns += [row.c[name].label(item.label(name)) for name in item.pooling.columns]
    return columns


def _build(ctx: RunContext) -> sa.Table:
    groups = _groups(ctx)
    d = ctx.tables.districts
    states = sorted({state for group in groups for state in group.years})
    listed = ctx.stage(
        "weight_years",
        sa.Column("state_fips", sa.String(2), primary_key=True),
        *[sa.Column(group.year_name, sa.Integer) for group in groups],
        *[sa.Column(group.source_name, sa.String(30)) for group in groups],
    )
    if states:
        ctx.connection.execute(listed.insert(), [
            {"state_fips": s, **{g.year_name: g.years.get(s) for g in groups}, **{g.source_name: g.sources.get(s) for g in groups}}
            for s in states
        ])
    if ctx.arith.postgresql:
        return _pivot(ctx, groups, listed)
    joined: sa.FromClause = d.outerjoin(listed, listed.c.state_fips == d.c.state_fips)
    picked = []
    for group in groups:
        if not group.years:
            picked += _picked(group, None)
            continue
        row = X.alias(f"x{group.number}")
        joined = joined.outerjoin(
            row,
            sa.and_(row.c.leaid == d.c.leaid, row.c.year == listed.c[group.year_name], row.c.source == group.source(listed)),
        )
        picked += _picked(group, row)
    return ctx.stage_as("weights", sa.select(d.c.leaid, *picked).select_from(joined), key=("leaid",))


def _pivot(ctx: RunContext, groups: list[_Group], listed: sa.Table) -> sa.Table:
    """PostgreSQL: one pass over the extras rows of the sources and years needed."""
    d = ctx.tables.districts
    picked = []
    wanted = []
    for group in groups:
        if not group.years:
            picked += _picked(group, None)
            continue
        mine = sa.and_(X.c.source == group.source(listed), X.c.year == listed.c[group.year_name])
        wanted.append(mine)
        for item in group.items:
            picked.append(sa.func.max(sa.case((mine, lit(1)))).label(item.label("row")))
            picked += [sa.func.max(sa.case((mine, X.c[name]))).label(item.label(name)) for name in item.pooling.columns]
    if not wanted:
        query = sa.select(d.c.leaid, *picked)
        return ctx.stage_as("weights", query, key=("leaid",))
    pivot = (
        sa.select(X.c.leaid, *picked)
        .select_from(X.join(d, d.c.leaid == X.c.leaid).join(listed, listed.c.state_fips == d.c.state_fips))
        .where(sa.or_(*wanted))
        .group_by(X.c.leaid)
    )
    stage = ctx.stage_as("weights", pivot, key=("leaid",))
    missing = sa.select(d.c.leaid).where(d.c.leaid.not_in(sa.select(stage.c.leaid)))
    ctx.connection.execute(stage.insert().from_select(["leaid"], missing))
    return stage
