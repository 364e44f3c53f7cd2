"""One pass over the history for `latest`, `ratios` and `trends`: every district's row of each
series (`definitions.SERIES`) in the series' latest year and base year of the district's state,
of the history source that year's rows come from there (see `years`), pivoted into one staging row per district (every district, NULLs where it has
no such row).

Per series and end (latest, base) the snapshot holds the series' columns of that one row, so
a ratio's numerator and denominator always come from the same row, and the year of the
district's latest row (for the `*_data_year` columns). Series whose years and sources are the
same in every state — most of them, most of the time: a CCD directory year usually brings
every count — read the same rows, so each such group of (series, end) is picked once.

Built once per run and shared, so the ~450,000 history rows are read twice per run in all
(once for the years, once here), however many families use them.

Two forms of the same rows, one per database:
* PostgreSQL: one hash-joined pass over the history, pivoted by `max(CASE …)` per column.
  The years go into the statement as unnested arrays, one row per (state, source) with the
  distinct years needed there and each group's year, not as a join to a temporary table:
  PostgreSQL never scans a temporary table in a parallel worker, and that one join kept the
  whole pass on one core (0.44 s → 0.25 s on two cores);
* SQLite: `districts` LEFT JOINed to those rows per source and, per group, to the history
  row with that (leaid, year, source) — one lookup in the history's unique index each, no
  aggregate (SQLite runs the pivot's CASEs per row slowly; 2–2.5× faster here). On
  PostgreSQL that form is slower (it hashes the history once per join).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY

from districtbench.db import tables
from districtbench.db.layout import Layout
from districtbench.metrics.context import RunContext
from districtbench.metrics.definitions import FIGURES_BY_COLUMN, SERIES, TREND_SERIES, YEAR_COLUMNS, Series
from districtbench.metrics.years import series_year_rows

ENDS = ("latest", "base")
# Series whose latest row's year goes into a `*_data_year` column.
YEAR_SERIES = frozenset(FIGURES_BY_COLUMN[figure].series for _, figure in YEAR_COLUMNS)


def ends(series: Series) -> tuple[str, ...]:
    return ENDS if series in TREND_SERIES else ("latest",)


@dataclass(frozen=True)
class Snapshot:
    """The staging table and where each (series, history column, end) value lives in it."""

    table: sa.Table
    columns: dict[tuple[Series, str, str], str]
    year_columns: dict[Series, str]

    def value(self, series: Series, column: str, end: str = "latest") -> sa.Column:
        """`district_data_history.column` of the district's row of `series` in the `end` year
        of its state (NULL: no such year or no such row)."""
        return self.table.c[self.columns[(series, column, end)]]

    def year(self, series: Series) -> sa.Column:
        """The year of the district's row of `series` in its latest year (series of a
        `*_data_year` column; NULL where the district has no such row)."""
        return self.table.c[self.year_columns[series]]

    @property
    def leaid(self) -> sa.Column:
        return self.table.c.leaid


@dataclass
class _Group:
    """(series, end) pairs with the same year and source in every state: one row each."""

    number: int
    years: dict[str, int | None]  # state fips -> year
    sources: dict[str, str | None]  # state fips -> the history source of that year's rows
    columns: list[str] = field(default_factory=list)
    year_wanted: bool = False

    def label(self, column: str) -> str:
        return f"g{self.number}__{column}"

    @property
    def year_name(self) -> str:
        return f"y{self.number}"

    @property
    def source(self) -> str | None:
        """The one history source of every state's rows (None: it differs between states)."""
        found = {source for source in self.sources.values() if source is not None}
        return found.pop() if len(found) == 1 else None


def snapshot(ctx: RunContext) -> Snapshot:
    return ctx.memo("snapshot", lambda: _build(ctx))  # type: ignore[return-value]


def _groups(ctx: RunContext) -> tuple[list[_Group], dict[tuple[Series, str, str], str], dict[Series, str]]:
    rows = series_year_rows(ctx)
    states = sorted({row.state_fips for row in rows})
    year_of: dict[tuple[str, int, str], tuple[str | None, int | None]] = {}
    for row in rows:
        year_of[(row.state_fips, row.series, "latest")] = (row.latest_source, row.latest_year)
        if row.base_year is not None:
            year_of[(row.state_fips, row.series, "base")] = (row.base_source, row.base_year)
    groups: dict[tuple, _Group] = {}
    columns: dict[tuple[Series, str, str], str] = {}
    year_columns: dict[Series, str] = {}
    for number, series in enumerate(SERIES):
        for end in ends(series):
            vector = tuple(year_of.get((state, number, end), (None, None)) for state in states)
            group = groups.get(vector)
            if group is None:
                group = _Group(len(groups), {state: year for state, (_, year) in zip(states, vector)},
                               {state: source for state, (source, _) in zip(states, vector)})
                groups[vector] = group
            for column in series.columns:
                if column not in group.columns:
                    group.columns.append(column)
                columns[(series, column, end)] = group.label(column)
            if end == "latest" and series in YEAR_SERIES:
                group.year_wanted = True
                year_columns[series] = group.label("year")
    return list(groups.values()), columns, year_columns


def _listed_rows(groups: list[_Group]) -> tuple[list[str], list[list], list[str]]:
    """One row per (state, source) with data: `slot_1 … slot_n`, the distinct years any
    group of the source needs there, and each group's year (NULL in other sources' rows)."""
    by_key: dict[tuple[str, str], dict[str, int]] = {}
    for group in groups:
        for state, year in group.years.items():
            if year is not None:
                by_key.setdefault((state, group.sources[state]), {})[group.year_name] = year
    width = max((len(set(years.values())) for years in by_key.values()), default=0)
    slots = [f"slot_{n}" for n in range(1, max(width, 1) + 1)]
    names = ["state_fips", "source", *slots, *[group.year_name for group in groups]]
    rows = []
    for (state, source), years in sorted(by_key.items()):
        distinct = sorted(set(years.values()))
        rows.append([state, source, *[distinct[i] if i < len(distinct) else None for i in range(len(slots))],
                     *[years.get(group.year_name) for group in groups]])
    return names, rows, slots


def _type(name: str) -> sa.types.TypeEngine:
    return sa.String(2) if name == "state_fips" else sa.String(30) if name == "source" else sa.Integer()


def _build(ctx: RunContext) -> Snapshot:
    groups, columns, year_columns = _groups(ctx)
    names, rows, slots = _listed_rows(groups)
    if ctx.arith.postgresql:
        table = _pivot(ctx, groups, names, rows, slots)
    else:
        listed = ctx.stage("listed_years", *[sa.Column(n, _type(n), primary_key=n in ("state_fips", "source")) for n in names])
        if rows:
            ctx.connection.execute(listed.insert(), [dict(zip(names, row)) for row in rows])
        table = ctx.stage_as("snapshot", _lookups(ctx.tables, groups, listed), key=("leaid",))
    return Snapshot(table, columns, year_columns)


def _pivot(ctx: RunContext, groups: list[_Group], names: list[str], rows: list[list], slots: list[str]) -> sa.Table:
    d, h = ctx.tables.districts, ctx.tables.district_data_history
    arrays = [
        sa.cast(sa.bindparam(f"listed_{name}", [row[i] for row in rows]), ARRAY(_type(name)))
        for i, name in enumerate(names)
    ]
    unnested = (
        sa.func.unnest(*arrays)
        .table_valued(*[sa.column(name, _type(name)) for name in names])
        .render_derived(name="listed_years")
    )
    listed = sa.select(*[unnested.c[name] for name in names]).subquery("years")
    picked = []
    for group in groups:
        # The listed row is of the history row's own (state, source): a group of another
        # source has no year there, so the year alone picks the row.
        in_group = h.c.year == listed.c[group.year_name]
        picked += [sa.func.max(sa.case((in_group, h.c[column]))).label(group.label(column)) for column in group.columns]
        if group.year_wanted:
            picked.append(sa.func.max(sa.case((in_group, h.c.year))).label(group.label("year")))
    pivot = (
        sa.select(d.c.leaid, *picked)
        .select_from(
            h.join(d, d.c.leaid == h.c.leaid).join(
                listed,
                sa.and_(
                    listed.c.state_fips == d.c.state_fips,
                    listed.c.source == h.c.source,
                    h.c.year.in_([listed.c[slot] for slot in slots]),
                ),
            )
        )
        .group_by(d.c.leaid)
    )
    # The listed years have no statistics: left to itself, the planner joins them to the history
    # on `source` first (millions of rows), and expects a few rows where there are 18,000
    # groups (so it sorts them by leaid under the locale's collation). Written join order —
    # each history row gets its district's state, then its years — keeps both hash tables
    # small (18,000 districts, a few hundred years); and a hash aggregate.
    with ctx.settings(join_collapse_limit="1", enable_sort="off"):
        stage = ctx.stage_as("snapshot", pivot, key=("leaid",))
    # Districts without any of those rows get an all-NULL row (cheaper than a LEFT JOIN of
    # the pivot).
    missing = sa.select(d.c.leaid).where(d.c.leaid.not_in(sa.select(stage.c.leaid)))
    ctx.connection.execute(stage.insert().from_select(["leaid"], missing))
    return stage


def _lookups(t: Layout, groups: list[_Group], listed: sa.Table) -> sa.Select:
    """Every district, with its row of each group (NULLs where its state has no such year or
    it has no such row), over the app's tables of layout `t`. `listed` has one row per
    (state, source) and the history one per (leaid, year, source), so each district is
    exactly one row."""
    d, h = t.districts, t.district_data_history
    joined: sa.FromClause = d
    per_source: dict[str, sa.FromClause] = {}
    picked = []
    for group in groups:
        if all(year is None for year in group.years.values()):  # no state has this year: no lookup
            picked += [
                sa.cast(sa.null(), tables.district_data_history.c[column].type).label(group.label(column))
                for column in group.columns
            ]
            if group.year_wanted:
                picked.append(sa.cast(sa.null(), sa.Integer).label(group.label("year")))
            continue
        if group.source is None:  # states read different sources: the listed row that has this year
            w = listed.alias(f"m{group.number}")
            joined = joined.outerjoin(w, sa.and_(w.c.state_fips == d.c.state_fips, w.c[group.year_name].is_not(None)))
            source = w.c.source
        else:
            if group.source not in per_source:
                w = listed.alias(f"w{len(per_source)}")
                joined = joined.outerjoin(w, sa.and_(w.c.state_fips == d.c.state_fips, w.c.source == group.source))
                per_source[group.source] = w
            w, source = per_source[group.source], group.source
        row = h.alias(f"h{group.number}")
        joined = joined.outerjoin(
            row, sa.and_(row.c.leaid == d.c.leaid, row.c.year == w.c[group.year_name], row.c.source == source)
        )
        picked += [row.c[column].label(group.label(column)) for column in group.columns]
        if group.year_wanted:
            picked.append(row.c.year.label(group.label("year")))
    return sa.select(d.c.leaid, *picked).select_from(joined)
