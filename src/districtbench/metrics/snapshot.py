"""One pass over the history for `latest` and `trends`: every district's rows of each source
in that source's latest year and base year of the district's state (see `years`), pivoted
into one staging row per district (every district, NULLs where it has no row).

Built once per run and shared, so the ~450,000 history rows are read twice per run in all
(once for the years, once here), however many families use them.

Two forms of the same rows, one per database:
* PostgreSQL: one hash-joined pass over the history, pivoted by `max(CASE …)` per column.
  The years (a few hundred rows) go into the statement as unnested arrays, not as a join to
  their temporary table: PostgreSQL never scans a temporary table in a parallel worker,
  and that one join kept the whole pass on one core (0.44 s → 0.25 s on two cores);
* SQLite: `districts` LEFT JOINed to each source's years and, per source and end, to the
  history row with that (leaid, year, source) — one lookup in the history's unique index
  each, no aggregate (SQLite runs the pivot's ~50 CASEs per row slowly; 2–2.5× faster here).
  On PostgreSQL that form is a little slower (it hashes the history once per join).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY

from districtbench.metrics.context import RunContext
from districtbench.metrics.definitions import LATEST_SOURCES, TRENDS
from districtbench.metrics.years import source_years

ENDS = ("latest", "base")


def label(source: str, column: str, end: str) -> str:
    """Snapshot column of `district_data_history.column` of `source` in the `end` year."""
    return f"{source}__{column}__{end}"


def year_label(source: str) -> str:
    """Snapshot column: the latest year, where the district has a row of `source` in it."""
    return f"{source}__year"


def wanted() -> list[tuple[str, str, str]]:
    """(source, history column, end) triples the families read."""
    triples = [(spec.source, column, "latest") for spec in LATEST_SOURCES for _, column in spec.columns]
    triples += [(t.source, column, end) for t in TRENDS for column in t.quantity.columns for end in ENDS]
    return list(dict.fromkeys(triples))


def snapshot(ctx: RunContext) -> sa.Table:
    return ctx.memo("snapshot", lambda: _build(ctx))  # type: ignore[return-value]


def _build(ctx: RunContext) -> sa.Table:
    if not ctx.arith.postgresql:
        return ctx.stage_as("snapshot", _lookups(ctx.tables, source_years(ctx)), key=("leaid",))
    d, h = ctx.tables.districts, ctx.tables.district_data_history
    triples = wanted()
    sources = list(dict.fromkeys([spec.source for spec in LATEST_SOURCES] + [t.source for t in TRENDS]))
    years = _inline(ctx, source_years(ctx), sources)
    year_of = {"latest": years.c.latest_year, "base": years.c.base_year}

    def row_of(source: str, end: str) -> sa.ColumnElement[bool]:
        # The joined years row is the history row's own source: its number says which one,
        # an integer test instead of ~50 string comparisons per history row.
        return sa.and_(years.c.source_number == sources.index(source), h.c.year == year_of[end])

    picked = [
        sa.func.max(sa.case((row_of(source, end), h.c[column]))).label(label(source, column, end))
        for source, column, end in triples
    ]
    picked += [
        sa.func.max(sa.case((row_of(source, "latest"), h.c.year))).label(year_label(source)) for source in sources
    ]
    pivot = (
        sa.select(d.c.leaid, *picked)
        .select_from(
            h.join(d, d.c.leaid == h.c.leaid).join(
                years,
                sa.and_(
                    years.c.state_fips == d.c.state_fips,
                    years.c.source == h.c.source,
                    h.c.year.in_([years.c.latest_year, years.c.base_year]),
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
    # the pivot, which SQLite would have to index first).
    missing = sa.select(d.c.leaid).where(d.c.leaid.not_in(sa.select(stage.c.leaid)))
    ctx.connection.execute(stage.insert().from_select(["leaid"], missing))
    return stage


def _inline(ctx: RunContext, stage: sa.Table, sources: list[str]) -> sa.FromClause:
    """The rows of the years stage of `sources`, written into the statement, with the
    stage's columns and types plus `source_number` (the source's index in `sources`): one
    array per column, unnested (five parameters, where a VALUES list would be ~1,500)."""
    rows = ctx.connection.execute(sa.select(*stage.c).where(stage.c.source.in_(sources))).all()
    columns = [*stage.c, sa.Column("source_number", sa.Integer)]
    data = [(*row, sources.index(row.source)) for row in rows]
    arrays = [
        sa.cast(sa.bindparam(f"listed_{column.name}", [row[index] for row in data]), ARRAY(column.type))
        for index, column in enumerate(columns)
    ]
    listed = (
        sa.func.unnest(*arrays)
        .table_valued(*[sa.column(c.name, c.type) for c in columns])
        .render_derived(name="listed_years")
    )
    return sa.select(*[listed.c[c.name] for c in columns]).subquery("years")


def _lookups(t, years: sa.Table) -> sa.Select:
    """Every district, with its row of each source in the latest and base year of its state
    (NULLs where the state has no such year or the district no such row). The years table
    has one row per (state, source) and the history one per (leaid, year, source), so each
    district is exactly one row."""
    d, h = t.districts, t.district_data_history
    triples = wanted()
    sources = list(dict.fromkeys(source for source, _, _ in triples))
    joined: sa.FromClause = d
    rows: dict[tuple[str, str], sa.FromClause] = {}
    for number, source in enumerate(sources):
        y = years.alias(f"y{number}")
        joined = joined.outerjoin(y, sa.and_(y.c.state_fips == d.c.state_fips, y.c.source == source))
        year_of = {"latest": y.c.latest_year, "base": y.c.base_year}
        for end in ENDS:
            if end != "latest" and not any(s == source and e == end for s, _, e in triples):
                continue
            row = h.alias(f"h{number}_{end}")
            joined = joined.outerjoin(
                row, sa.and_(row.c.leaid == d.c.leaid, row.c.year == year_of[end], row.c.source == source)
            )
            rows[(source, end)] = row
    picked = [rows[(source, end)].c[column].label(label(source, column, end)) for source, column, end in triples]
    picked += [rows[(source, "latest")].c.year.label(year_label(source)) for source in sources]
    return sa.select(d.c.leaid, *picked).select_from(joined)
