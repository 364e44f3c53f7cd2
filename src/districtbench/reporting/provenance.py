"""Where a figure comes from: its source and its school year — the ONE place that says so.

`show`, `report`, `export --with-years` and `status` all ask here: `figure_source(column)`
for the source, `figure_years(connection, states)` for the years. Each measure has an as-of
year of its own in each state (metrics.md, "as-of year per measure"): the metric families
record it per (state, figure) in districtbench's own `districtbench_figure_years` (with the
base year of each 3-year trend), and a district's figure is of its state's year when the
district has a value. The source is recorded there too: when several sources provide one
measure (a state portal filling years the federal data lacks, `metrics.measures`), a figure's
source is the one its state's rows of that year come from — its real name, whichever plugin
it is. The `*_data_year` columns on `districts` hold only the year of their first measure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Iterable, Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from districtbench.db import tables
from districtbench.metrics.definitions import LATEST_VALUES, METRICS, RATIO_METRICS, YEAR_COLUMNS

# history source → (who publishes it, short label for narrow displays); a source of a plugin
# is shown under its own name (`district_data_history.source`).
SOURCE_NAMES: dict[str, tuple[str, str]] = {
    "ccd_directory": ("NCES Common Core of Data (CCD), district directory", "CCD"),
    "ccd_finance": ("NCES CCD school district finance survey (F-33)", "CCD finance"),
    "saipe": ("Census Bureau SAIPE school district estimates", "SAIPE"),
    "edfacts_grad": ("EDFacts four-year adjusted cohort graduation rates", "EDFacts"),
    "edfacts_assess": ("EDFacts state assessments, all grades", "EDFacts"),
    "crdc_absenteeism": ("Civil Rights Data Collection (CRDC), chronic absenteeism", "CRDC"),
}

AS_OF_RULE = (
    "as of the latest school year with data of this measure for any district of the state; "
    "every district of the state is compared on that year (no older values)"
)


@dataclass(frozen=True)
class FigureYear:
    """The years of one figure in one state (`districtbench_figure_years`)."""

    state_fips: str
    figure: str  # the districts column
    year: int  # the as-of year of the state's values of this figure
    base_year: int | None = None  # trends: the year compared with (None: no base year in the window)
    source: str | None = None  # the history source of the year's rows (None: before revision 0007)
    base_source: str | None = None  # trends: that of the base year's rows


YearsByFigure = dict[str, FigureYear]


def source_name(history_source: str | None) -> str | None:
    """Who publishes a history source, for a person (a plugin's source: its own name)."""
    if history_source is None:
        return None
    return SOURCE_NAMES.get(history_source, (history_source, ""))[0]


def source_label(history_source: str | None) -> str | None:
    """The short label of a history source, for narrow displays."""
    if history_source is None:
        return None
    return SOURCE_NAMES.get(history_source, ("", history_source))[1]


@dataclass(frozen=True)
class FigureSource:
    """A sourced `districts` figure: its source and year in a state come from the state's
    `figure_years`."""

    column: str

    def history_source(self, years: YearsByFigure) -> str | None:
        """The history source of the state's values of this figure (None: no data)."""
        entry = years.get(self.column)
        return entry.source if entry is not None else None

    def name(self, years: YearsByFigure) -> str | None:
        return source_name(self.history_source(years))

    def short_name(self, years: YearsByFigure) -> str | None:
        return source_label(self.history_source(years))

    def year(self, district: Mapping, years: YearsByFigure) -> int | None:
        """The figure's year for one district row, given its state's `figure_years`; None
        when the district has no value."""
        entry = years.get(self.column)
        if district.get(self.column) is None or entry is None:
            return None
        return entry.year


@lru_cache(maxsize=1)
def _figures() -> dict[str, FigureSource]:
    columns = [value.column for value in LATEST_VALUES] + [metric.district_column for metric in RATIO_METRICS]
    return {column: FigureSource(column) for column in columns}


def figure_source(column: str) -> FigureSource | None:
    """Where the `districts` column `column` comes from (None: not a sourced figure)."""
    return _figures().get(column)


def figure_sources(columns: Iterable[str]) -> list[FigureSource]:
    """The sourced figures among `columns`, in their order."""
    return [source for source in map(figure_source, columns) if source is not None]


def average_source(column: str, years: YearsByFigure) -> str | None:
    """The history source a `states` column is computed from in a state, given its
    `figure_years` (None: not a sourced figure, or no data)."""
    figure = average_figure(column)
    return figure_source(figure).history_source(years) if figure else None


def average_figure(column: str) -> str | None:
    """The district figure a `states` column averages (its year is that figure's year in
    the state; None: not a sourced figure)."""
    if column in ("total_enrollment", "avg_enrollment"):
        return "enrollment"
    if column == "avg_poverty_rate":
        return "children_poverty_percent"
    return next((metric.district_column for metric in METRICS if metric.average_column == column), None)


def figure_years(connection: Connection, states: Iterable[str] | None = None) -> dict[str, YearsByFigure]:
    """state fips → figure → its years, for the given states (all when None). States and
    figures without data are absent."""
    t = tables.figure_years
    query = sa.select(t.c.state_fips, t.c.figure, t.c.year, t.c.base_year, t.c.source, t.c.base_source).order_by(
        t.c.state_fips, t.c.figure
    )
    if states is not None:
        query = query.where(t.c.state_fips.in_(list(states)))
    result: dict[str, YearsByFigure] = {}
    for row in connection.execute(query):
        result.setdefault(row.state_fips, {})[row.figure] = FigureYear(*row)
    return result


def district_years(row: Mapping[str, object], years: YearsByFigure) -> dict[str, int | None]:
    """figure → the year of a district's own value (None where it has no value): `row` is
    the district's `districts` row, `years` its state's entry of `figure_years`."""
    return {figure: entry.year if row.get(figure) is not None else None for figure, entry in years.items()}


def trend_years(years: YearsByFigure, trend_column: str) -> tuple[int, int] | None:
    """(base year, latest year) a trend column compares, or None (no trend possible)."""
    entry = years.get(trend_column)
    if entry is None or entry.base_year is None:
        return None
    return entry.base_year, entry.year


def source_years(years: YearsByFigure) -> dict[str, int]:
    """History source → the year of its first measure in the state (what a `*_data_year`
    column holds), from the state's `figure_years`."""
    result: dict[str, int] = {}
    for _year_column, first_measure in YEAR_COLUMNS:
        entry = years.get(first_measure)
        if entry is not None and entry.source is not None:
            result.setdefault(entry.source, entry.year)
    return result


def fetch_dates(connection: Connection, state_fips: str, history_source_of: Mapping[str, str]) -> dict[tuple[str, int], datetime]:
    """(history source, year) → when its units for this state were last fetched (complete).

    `history_source_of` maps a source plugin's name (`enrollment`) to the history source it
    writes (`ccd_directory`); several plugins may write one history source."""
    units = tables.fetch_units
    rows = connection.execute(
        sa.select(units.c.source, units.c.year, sa.func.max(units.c.fetched_at))
        .where(units.c.state_fips == state_fips, units.c.status == "complete")
        .group_by(units.c.source, units.c.year)
    ).all()
    dates: dict[tuple[str, int], datetime] = {}
    for plugin, year, fetched in rows:
        key = (history_source_of.get(plugin, plugin), year)
        if fetched is not None and (key not in dates or fetched > dates[key]):
            dates[key] = fetched
    return dates
