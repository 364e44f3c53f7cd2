"""What `districtbench report` puts on a page, read from the database in a few queries.

A district's report: its `show` view, every district's value of each metric in its state (the
distribution), the state's figure year by year (`series`), and when each source was fetched.
A state's report: its averages against the US, the same distributions and yearly figures,
its largest districts and the districts at both ends of each metric.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from districtbench.db import layout
from districtbench.db.states import NATIONAL_FIPS
from districtbench.errors import UsageError
from districtbench.metrics.definitions import METRICS, Metric
from districtbench.reporting.provenance import fetch_dates, figure_years, source_years
from districtbench.metrics.measures import Measures
from districtbench.reporting.series import Series, area_series, national_series
from districtbench.reporting.show import DistrictView, district_view

ENDS = 5  # districts listed at each end of a metric
LARGEST = 10


@dataclass
class DistrictReport:
    view: DistrictView
    distributions: dict[str, list[Decimal]]  # metric key → every value in the state
    state_series: Series
    as_of: dict[str, int]  # history source → the state's as-of year
    fetched: dict[tuple[str, int], datetime]  # (history source, year) → last fetch
    generated_at: datetime
    database: str
    sources: dict[str, str] = field(default_factory=dict)  # figure → the history source of its state's values


@dataclass
class RankedDistrict:
    leaid: str
    name: str
    city: str | None
    enrollment: int | None
    value: Decimal | None = None
    locale_code: int | None = None


@dataclass
class StateMetric:
    metric: Metric
    state_average: Decimal | None
    national_average: Decimal | None
    districts_with_value: int
    lowest: list[RankedDistrict] = field(default_factory=list)
    highest: list[RankedDistrict] = field(default_factory=list)


@dataclass
class StateReport:
    fips: str
    abbrev: str
    name: str
    total_districts: int
    total_enrollment: int | None
    national_enrollment: int | None
    metrics: list[StateMetric]
    distributions: dict[str, list[Decimal]]
    state_series: Series
    national_series: Series
    largest: list[RankedDistrict]
    as_of: dict[str, int]
    fetched: dict[tuple[str, int], datetime]
    generated_at: datetime
    database: str
    sources: dict[str, str] = field(default_factory=dict)  # figure → the history source of its values


def distributions(connection: Connection, state_fips: str) -> dict[str, list[Decimal]]:
    d = layout.of(connection).districts
    columns = [d.c[metric.district_column] for metric in METRICS]
    rows = connection.execute(sa.select(*columns).where(d.c.state_fips == state_fips)).all()
    return {
        metric.key: sorted(row[index] for row in rows if row[index] is not None)
        for index, metric in enumerate(METRICS)
    }


def as_of_years(connection: Connection, state_fips: str) -> dict[str, int]:
    """The state's as-of years: history source → the year of its first measure (what its
    `*_data_year` column holds), and figure (a `districts` column) → that figure's own year."""
    years = figure_years(connection, [state_fips]).get(state_fips, {})
    return {**source_years(years), **{figure: entry.year for figure, entry in years.items()}}


def figure_sources_of(connection: Connection, state_fips: str) -> dict[str, str]:
    """figure → the history source its state's values come from (`provenance`)."""
    years = figure_years(connection, [state_fips]).get(state_fips, {})
    return {figure: entry.source for figure, entry in years.items() if entry.source is not None}


def district_report(connection: Connection, leaid: str, history_source_of: Mapping[str, str], database: str,
                    now: datetime, measures: Measures | None = None) -> DistrictReport:
    view = district_view(connection, leaid, measures)
    fips = view.state_fips or ""
    return DistrictReport(
        view=view,
        distributions=distributions(connection, fips),
        state_series=area_series(connection, [fips], measures),
        as_of=as_of_years(connection, fips),
        fetched=fetch_dates(connection, fips, history_source_of),
        sources=figure_sources_of(connection, fips),
        generated_at=now,
        database=database,
    )


def _ranked(connection: Connection, state_fips: str, order, limit: int, column=None) -> list[RankedDistrict]:
    d = layout.of(connection).districts
    value = d.c[column] if column is not None else sa.null()
    query = sa.select(d.c.leaid, d.c.name, d.c.city_location, d.c.enrollment, value, d.c.urban_centric_locale).where(
        d.c.state_fips == state_fips
    )
    if column is not None:
        query = query.where(d.c[column].is_not(None))
    rows = connection.execute(query.order_by(*order).limit(limit)).all()
    return [RankedDistrict(*row) for row in rows]


def state_report(connection: Connection, state_fips: str, history_source_of: Mapping[str, str], database: str,
                 now: datetime, measures: Measures | None = None) -> StateReport:
    t = layout.of(connection)
    s, d = t.states, t.districts
    by_logical_names = [column.label(column.key) for column in s.c]  # rows keyed by districtbench's names
    state = connection.execute(sa.select(*by_logical_names).where(s.c.fips == state_fips)).mappings().first()
    national = connection.execute(sa.select(*by_logical_names).where(s.c.fips == NATIONAL_FIPS)).mappings().first()
    districts_in_state = connection.execute(
        sa.select(sa.func.count()).select_from(d).where(d.c.state_fips == state_fips)
    ).scalar_one()
    if state is None or not districts_in_state:
        name = state["name"] if state else state_fips
        raise UsageError(
            f"No districts of {name} in the database.",
            hint="Fetch them first, e.g. `districtbench run --years 2019-2022 --states "
            f"{state['abbrev'] if state else 'TX'}`.",
        )
    dist = distributions(connection, state_fips)
    metrics = []
    for metric in METRICS:
        column = d.c[metric.district_column]
        metrics.append(
            StateMetric(
                metric=metric,
                state_average=state[metric.average_column],
                national_average=national[metric.average_column] if national else None,
                districts_with_value=len(dist[metric.key]),
                lowest=_ranked(connection, state_fips, (column.asc(), d.c.leaid), ENDS, metric.district_column),
                highest=_ranked(connection, state_fips, (column.desc(), d.c.leaid), ENDS, metric.district_column),
            )
        )
    enrollment = d.c.enrollment
    largest = _ranked(
        connection, state_fips, (sa.case((enrollment.is_(None), 1), else_=0), enrollment.desc(), d.c.leaid), LARGEST
    )
    return StateReport(
        fips=state_fips,
        abbrev=state["abbrev"],
        name=state["name"],
        total_districts=districts_in_state,
        total_enrollment=state["total_enrollment"],
        national_enrollment=national["total_enrollment"] if national else None,
        metrics=metrics,
        distributions=dist,
        state_series=area_series(connection, [state_fips], measures),
        national_series=national_series(connection, measures),
        largest=largest,
        as_of=as_of_years(connection, state_fips),
        fetched=fetch_dates(connection, state_fips, history_source_of),
        sources=figure_sources_of(connection, state_fips),
        generated_at=now,
        database=database,
    )
