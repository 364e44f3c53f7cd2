"""Where a figure comes from: its source and its school year — the ONE place that says so.

`show`, `report` and `export --with-years` all ask `figure_source(column)`. Today each history
source has one `*_data_year` column on `districts` (the as-of year `latest` took the source's
values from), so every figure of a source shares that year. When each measure gets a year of
its own (metrics.md, "as-of year per measure"), only `_figures()` below changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Iterable, Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from districtbench.db import tables
from districtbench.metrics.definitions import LATEST_SOURCES, METRICS

# history source → (who publishes it, short label for narrow displays)
SOURCE_NAMES: dict[str, tuple[str, str]] = {
    "ccd_directory": ("NCES Common Core of Data (CCD), district directory", "CCD"),
    "ccd_finance": ("NCES CCD school district finance survey (F-33)", "CCD finance"),
    "saipe": ("Census Bureau SAIPE school district estimates", "SAIPE"),
    "edfacts_grad": ("EDFacts four-year adjusted cohort graduation rates", "EDFacts"),
    "edfacts_assess": ("EDFacts state assessments, all grades", "EDFacts"),
    "crdc_absenteeism": ("Civil Rights Data Collection (CRDC), chronic absenteeism", "CRDC"),
}

AS_OF_RULE = (
    "as of the latest school year with data of this source for any district of the state; "
    "every district of the state is compared on that year (no older values)"
)


@dataclass(frozen=True)
class FigureSource:
    """The source of one `districts` figure and the column that holds its school year."""

    column: str
    history_source: str
    year_column: str

    @property
    def name(self) -> str:
        return SOURCE_NAMES.get(self.history_source, (self.history_source, ""))[0]

    @property
    def short_name(self) -> str:
        return SOURCE_NAMES.get(self.history_source, ("", self.history_source))[1]

    def year(self, district: Mapping) -> int | None:
        """The figure's year for one district row; None when the district has no value."""
        if district.get(self.column) is None:
            return None
        return district.get(self.year_column)


@lru_cache(maxsize=1)
def _figures() -> dict[str, FigureSource]:
    figures: dict[str, FigureSource] = {}
    year_column_of_source: dict[str, str] = {}
    for latest in LATEST_SOURCES:
        year_column_of_source[latest.source] = latest.year_columns[0]
        for district_column, _history_column in latest.columns:
            year_column = latest.year_columns[-1] if district_column in ("teachers_fte", "staff_total_fte") else (
                latest.year_columns[0]
            )
            figures[district_column] = FigureSource(district_column, latest.source, year_column)
    for metric in METRICS:  # the ratios, derived from one source's latest values
        if metric.district_column not in figures:
            figures[metric.district_column] = FigureSource(
                metric.district_column, metric.history_source, year_column_of_source[metric.history_source]
            )
    return figures


def figure_source(column: str) -> FigureSource | None:
    """Where the `districts` column `column` comes from (None: not a sourced figure)."""
    return _figures().get(column)


def figure_sources(columns: Iterable[str]) -> list[FigureSource]:
    """The sourced figures among `columns`, in their order."""
    return [source for source in map(figure_source, columns) if source is not None]


def average_source(column: str) -> str | None:
    """The history source a `states` column is computed from (None: not a sourced figure)."""
    if column in ("total_enrollment", "avg_enrollment"):
        return "ccd_directory"
    if column == "avg_poverty_rate":
        return "saipe"
    return next((metric.history_source for metric in METRICS if metric.average_column == column), None)


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
