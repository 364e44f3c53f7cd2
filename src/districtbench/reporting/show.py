"""Everything `districtbench show LEAID` says about one district, read in a few queries."""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, field
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from districtbench.db import layout
from districtbench.errors import UsageError
from districtbench.metrics.definitions import LATEST_SOURCES, METRICS, Metric
from districtbench.metrics.years import years_query

NATIONAL_FIPS = "00"
YEAR_COLUMN_OF_SOURCE = {source.source: source.year_columns[0] for source in LATEST_SOURCES}

# How a quartile flag reads for a metric of each direction.
FLAG_TEXT = {
    "well_above": "well above most districts in the state",
    "above": "above the state's middle",
    "below": "below the state's middle",
    "well_below": "well below most districts in the state",
}


@dataclass
class MetricView:
    key: str
    units: str
    higher_is_better: bool | None
    value: Decimal | None
    data_year: int | None
    state_average: Decimal | None
    national_average: Decimal | None
    vs_state: Decimal | None
    vs_national: Decimal | None
    quartile_state: str | None
    reading: str | None  # "good", "concern" or None (no direction / no flag)
    trend_3yr: Decimal | None
    trend_kind: str
    trend_years: tuple[int, int] | None


@dataclass
class DistrictView:
    leaid: str
    name: str
    state_abbrev: str | None
    state_name: str | None
    city: str | None
    county: str | None
    enrollment: int | None
    metrics: list[MetricView] = field(default_factory=list)

    def to_json(self) -> dict:
        def encode(value):
            if isinstance(value, Decimal):
                return float(value)
            if isinstance(value, tuple):
                return list(value)
            return value

        data = asdict(self)
        data["metrics"] = [{key: encode(value) for key, value in metric.items()} for metric in data["metrics"]]
        return data


def normalize_leaid(text: str) -> str | None:
    text = text.strip()
    return text.zfill(7) if text.isdigit() and len(text) <= 7 else None


def reading(metric: Metric, flag: str | None) -> str | None:
    """Whether a flag is good news: `well_above` absenteeism is a concern, not a strength."""
    if flag is None or metric.higher_is_better is None:
        return None
    high = flag in ("well_above", "above")
    return "good" if high == metric.higher_is_better else "concern"


def find_district(connection: Connection, query: str) -> str:
    """The leaid of the district asked for, or a UsageError with close matches.

    `query` is a leaid (leading zeros optional) or part of a district's name: a name that
    matches exactly one district (or exactly one district by its full name) selects it.
    """
    districts = layout.of(connection).districts
    leaid = normalize_leaid(query)
    if leaid and connection.execute(sa.select(districts.c.leaid).where(districts.c.leaid == leaid)).first():
        return leaid
    several = False
    if not leaid and query.strip():
        matches = _name_matches(connection, query.strip().lower())
        if len(matches) == 1:
            return matches[0]
        several = bool(matches)
    suggestions = _close_matches(connection, query, leaid)
    hint = "Close matches: " + "; ".join(suggestions) if suggestions else (
        "Check the NCES LEAID (7 digits, e.g. 0622710), or run `districtbench export` to list districts."
    )
    if several:
        raise UsageError(f"Several districts match {query!r}: name one by its leaid.", hint=hint)
    what = f"leaid {leaid}" if leaid else f"district {query!r}"
    raise UsageError(f"No {what} in the database.", hint=hint)


def _name_matches(connection: Connection, words: str) -> list[str]:
    """Leaids (at most 2) of the districts named `words` (case-insensitive), else of those
    whose name contains it: one leaid means the query names a single district."""
    districts = layout.of(connection).districts
    lowered = sa.func.lower(districts.c.name)
    leaids: list[str] = []
    for condition in (lowered == words, lowered.contains(words, autoescape=True)):
        leaids = connection.execute(sa.select(districts.c.leaid).where(condition).limit(2)).scalars().all()
        if len(leaids) == 1:
            return leaids
    return leaids


def _close_matches(connection: Connection, query: str, leaid: str | None) -> list[str]:
    districts = layout.of(connection).districts
    label = lambda row: f"{row.leaid} {row.name} ({row.state_abbrev or row.state_fips})"  # noqa: E731
    columns = (districts.c.leaid, districts.c.name, districts.c.state_abbrev, districts.c.state_fips)
    if leaid:
        rows = connection.execute(
            sa.select(*columns).where(districts.c.leaid.like(leaid[:5] + "%")).order_by(districts.c.leaid).limit(5)
        ).all()
        return [label(row) for row in rows]
    words = query.strip().lower()
    rows = connection.execute(
        sa.select(*columns).where(sa.func.lower(districts.c.name).contains(words, autoescape=True)).order_by(districts.c.name).limit(8)
    ).all()
    if rows:
        return [label(row) for row in rows]
    names = connection.execute(sa.select(*columns)).all()
    close = difflib.get_close_matches(words, [row.name.lower() for row in names], n=5, cutoff=0.75)
    return [label(row) for row in names if row.name.lower() in close][:5]


def district_view(connection: Connection, leaid: str) -> DistrictView:
    t = layout.of(connection)
    districts, states = t.districts, t.states
    district = connection.execute(sa.select(*_by_logical_names(districts)).where(districts.c.leaid == leaid)).mappings().one()
    state = connection.execute(
        sa.select(*_by_logical_names(states)).where(states.c.fips == district["state_fips"])
    ).mappings().first()
    national = connection.execute(sa.select(*_by_logical_names(states)).where(states.c.fips == NATIONAL_FIPS)).mappings().first()
    trend_years = _trend_years(connection, district["state_fips"])
    view = DistrictView(
        leaid=leaid,
        name=district["name"],
        state_abbrev=district["state_abbrev"],
        state_name=state["name"] if state else None,
        city=district["city_location"],
        county=district["county_name"],
        enrollment=district["enrollment"],
    )
    for metric in METRICS:
        flag = district[metric.quartile_column]
        value = district[metric.district_column]
        view.metrics.append(
            MetricView(
                key=metric.key,
                units=metric.units,
                higher_is_better=metric.higher_is_better,
                value=value,
                data_year=district[YEAR_COLUMN_OF_SOURCE[metric.history_source]],
                state_average=state[metric.average_column] if state else None,
                national_average=national[metric.average_column] if national else None,
                vs_state=district[metric.vs_state_column],
                vs_national=district[metric.vs_national_column],
                quartile_state=flag,
                reading=reading(metric, flag),
                trend_3yr=district[metric.trend_column],
                trend_kind=metric.trend_kind,
                trend_years=trend_years.get(metric.history_source),
            )
        )
    return view


def _by_logical_names(table: sa.Table) -> list:
    """The table's columns labelled with districtbench's names (rows keyed by them)."""
    return [column.label(column.key) for column in table.c]


def _trend_years(connection: Connection, state_fips: str) -> dict[str, tuple[int, int]]:
    # years_query() gives (state_fips, source, latest_year, base_year) by position.
    state_column, source, latest, base = years_query(layout.of(connection)).subquery().c
    rows = connection.execute(
        sa.select(source, base, latest).where(state_column == state_fips, base.is_not(None))
    ).all()
    return {name: (base_year, latest_year) for name, base_year, latest_year in rows}
