"""The main job as a library call: migrate if needed, backfill every source, compute all.

`run` and `demo` both call `run_pipeline`; the demo only points it at a local fake API.
When a unit of the backfill failed, nothing is computed (unless `compute_anyway`): the
benchmarks the last compute published stay as they were rather than being recomputed from
a partly loaded history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from districtbench.backfill import run_backfill
from districtbench.backfill.availability import Availability
from districtbench.backfill.progress import BackfillProgress
from districtbench.backfill.report import COMPLETE, SKIPPED, BackfillReport
from districtbench.db import layout, migrations, preflight, revision, tables
from districtbench.db.plugin_migrations import PluginMigrations
from districtbench.db.states import BY_FIPS
from districtbench.errors import UsageError
from districtbench.metrics.runner import ComputeResult, run_families
from districtbench.plugins.host import Registry
from districtbench.sources.base import Source
from districtbench.formatting import format_years
from districtbench.yearspec import Latest, YearSpec, years_for


@dataclass
class SourceCoverage:
    source: str
    years: list[int]  # requested years in which a requested state has data of this source
    districts: int  # districts with a value of this source in those years
    failed_units: int
    empty: list[tuple[int, str]] = field(default_factory=list)  # (year, state) complete with 0 rows


@dataclass
class PipelineReport:
    migrated: list[str] = field(default_factory=list)  # what the migration did, if anything
    backfill: BackfillReport | None = None
    compute: ComputeResult | None = None  # None: not computed (see compute_skipped)
    compute_skipped: bool = False  # units failed and compute_anyway was not given
    coverage: list[SourceCoverage] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        failed = bool(self.backfill and self.backfill.failures) or bool(self.compute and not self.compute.ok)
        return 1 if failed else 0


def check_years(sources: Sequence[Source], years: YearSpec) -> None:
    """At least one source must have one of the years; otherwise say which years exist."""
    if any(years_for(years, source.years) for source in sources):
        return

    listing = "; ".join(f"{source.name} {format_years(source.years)}" for source in sources)
    raise UsageError(
        f"No source has data for {years if isinstance(years, Latest) else format_years(years)}.",
        hint=f"Years available: {listing}.",
    )


def ensure_migrated(engine: Engine, plugins: Sequence[PluginMigrations] = ()) -> list[str]:
    """Upgrade the core and the plugin branches to their heads when needed; returns lines
    saying what was done."""
    if revision.at_head(engine, plugins):
        return []
    report = migrations.upgrade(engine, plugins=plugins)
    lines = [f"migrated the database from {report.from_revision or 'an empty schema'} to {report.to_revision}"] \
        if report.changed else []
    return lines + [branch.summary() for branch in report.plugins if branch.changed]


def run_pipeline(
    engine: Engine,
    client,
    sources: Sequence[Source],
    families: Registry,
    years: YearSpec,
    states: Sequence[str],
    *,
    concurrency: int = 4,
    progress: BackfillProgress | None = None,
    after_backfill=None,
    availability: Availability | None = None,
    compute_anyway: bool = False,
    years_checked: bool = False,
    compute_options: dict[str, str] | None = None,
    plugin_migrations: Sequence[PluginMigrations] = (),
) -> PipelineReport:
    """`sources` as declared; with `availability`, as the API's catalog describes them.
    `plugin_migrations`: the plugins' branches, migrated with the core when needed."""
    if availability is not None:
        sources = availability.sources
    if not years_checked:  # `run` checks them before it opens the database
        check_years(sources, years)
    report = PipelineReport(migrated=ensure_migrated(engine, plugin_migrations))
    preflight.check(engine, backfill=True, compute=True)  # before any request; the backfill's too
    report.backfill = run_backfill(
        engine, client, sources, years, states, concurrency=concurrency, progress=progress, strict_years=False,
        availability=availability, preflight_checked=True,
    )
    if after_backfill is not None:
        after_backfill(report.backfill)
    if report.backfill.failures and not compute_anyway:
        report.compute_skipped = True
    else:
        report.compute = run_families(engine, families, None, options=compute_options, sources=sources)
    report.coverage = source_coverage(engine, sources, report.backfill, states)
    return report


def source_coverage(
    engine: Engine, sources: Sequence[Source], backfill: BackfillReport, states: Sequence[str]
) -> list[SourceCoverage]:
    """Per source: the requested years that have data for the requested states (not the
    years asked for), the districts with a value in them, the failed units, and the
    requested (year, state) units that are complete with 0 rows (now or in an earlier run:
    `districtbench_fetch_units` says)."""
    units = tables.fetch_units
    coverage: list[SourceCoverage] = []
    with engine.connect() as connection:
        t = layout.of(connection)
        history, districts = t.district_data_history, t.districts
        for source in sources:
            outcomes = [o for o in backfill.outcomes if o.source == source.name]
            asked = sorted({o.year for o in outcomes})
            failed = sum(1 for o in outcomes if o.status not in (COMPLETE, SKIPPED))
            years: list[int] = []
            count = 0
            empty: list[tuple[int, str]] = []
            if asked:
                has_value = sa.or_(*(history.c[column].is_not(None) for column in source.columns))
                in_scope = sa.and_(
                    history.c.source == source.history_source,
                    history.c.year.in_(asked),
                    districts.c.state_fips.in_(list(states)),
                    has_value,
                )
                joined = history.join(districts, districts.c.leaid == history.c.leaid)
                per_year = connection.execute(
                    sa.select(history.c.year, sa.func.count(sa.distinct(history.c.leaid)))
                    .select_from(joined)
                    .where(in_scope)
                    .group_by(history.c.year)
                ).all()
                years = sorted(year for year, _ in per_year)
                count = connection.execute(
                    sa.select(sa.func.count(sa.distinct(history.c.leaid))).select_from(joined).where(in_scope)
                ).scalar_one()
                empty_rows = connection.execute(
                    sa.select(units.c.year, units.c.state_fips)
                    .where(
                        units.c.source == source.name,
                        units.c.year.in_(asked),
                        units.c.state_fips.in_(list(states)),
                        units.c.status == COMPLETE,
                        units.c.rows_written == 0,
                    )
                    .order_by(units.c.year, units.c.state_fips)
                ).all()
                empty = [(year, BY_FIPS.get(fips, (fips,))[0]) for year, fips in empty_rows]
            coverage.append(SourceCoverage(source.name, years, int(count), failed, empty))
    return coverage
