"""The report as one self-contained HTML page: Jinja2 templates (package data) + the charts.

Everything the page needs is inside it — styles inline, charts as data: images — so it opens
from a file with no network and prints as it shows.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from decimal import Decimal

import jinja2

from districtbench import __version__
from districtbench.formatting import locale_name, school_year
from districtbench.metrics.definitions import METRICS, Metric
from districtbench.reporting import charts
from districtbench.metrics.definitions import FIGURES_BY_COLUMN
from districtbench.reporting.provenance import AS_OF_RULE, SOURCE_NAMES, source_name

FIGURE_COLUMNS = frozenset(FIGURES_BY_COLUMN)
from districtbench.reporting.report_data import DistrictReport, StateReport
from districtbench.reporting.show import FLAG_TEXT, METRIC_LABELS, MetricView

# The page's sections: related metrics together, each section starting a printed page.
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Student outcomes", ("graduation", "math_proficiency", "read_proficiency", "absenteeism")),
    ("Students and staff", ("student_teacher_ratio", "swd_pct", "ell_pct")),
    ("Spending", ("expenditure_pp",)),
)
METRIC_BY_KEY = {metric.key: metric for metric in METRICS}
DIRECTION_TEXT = {True: "higher is better", False: "lower is better", None: "no better or worse direction"}


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("districtbench.reporting", "templates"),
        autoescape=jinja2.select_autoescape(("html", "j2")),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["number"] = number
    environment.filters["signed"] = lambda value: number(value, signed=True)
    environment.filters["count"] = lambda value: "—" if value is None else f"{value:,}"
    environment.filters["school_year"] = school_year
    environment.filters["locale"] = lambda code: locale_name(code) or "—"
    return environment


def number(value: Decimal | None, signed: bool = False) -> str:
    """The figure as `show` prints it: 2 decimals, thousands separators, — for none."""
    if value is None:
        return "—"
    return f"{value:+,.2f}" if signed else f"{value:,.2f}"


def data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


@dataclass
class Provenance:
    source: str
    year: int | None
    fetched: str | None

    state: str = "the state"

    @property
    def text(self) -> str:
        if self.year:
            year = f"school year {school_year(self.year)}, the latest with data for {self.state} (all its districts compared on it)"
        else:
            year = f"no data loaded for {self.state}"
        fetched = f"fetched {self.fetched}" if self.fetched else "fetch date not recorded"
        return " · ".join((f"Source: {self.source}", year, fetched))


def _provenance(metric: Metric, year: int | None, fetched: dict, state: str, sources: dict[str, str]) -> Provenance:
    history_source = sources.get(metric.district_column)
    when = fetched.get((history_source, year)) if year is not None else None
    name = source_name(history_source) or "none with data"
    return Provenance(name, year, when.strftime("%Y-%m-%d") if when else None, state)


def _flag_text(view: MetricView, state: str) -> str:
    if view.quartile_state is None:
        return "no quartile flag (fewer than 4 districts of the state have a value, or this one has none)"
    where = FLAG_TEXT[view.quartile_state].replace("the state", state)
    reading = {"good": " — good for this metric", "concern": " — a concern for this metric"}.get(view.reading or "", "")
    return where + reading


def _methodology(as_of: dict[str, int], fetched: dict) -> dict:
    sources = []
    plugins = [name for name in as_of if name not in SOURCE_NAMES and name not in FIGURE_COLUMNS]
    for history_source in [*SOURCE_NAMES, *plugins]:  # a plugin's sources that have data, after the built-ins
        name = source_name(history_source)
        year = as_of.get(history_source)
        when = fetched.get((history_source, year)) if year else None
        sources.append({"name": name, "year": school_year(year) if year else None,
                        "fetched": when.strftime("%Y-%m-%d") if when else None})
    return {"sources": sources, "as_of_rule": AS_OF_RULE}


def render_district(report: DistrictReport) -> str:
    view = report.view
    state_label = view.state_abbrev or "state"
    state_name = view.state_name or "the state"
    cards = {}
    for metric_view in view.metrics:
        metric = METRIC_BY_KEY[metric_view.key]
        colour = charts.reading_colour(metric_view.reading)
        bars = [
            charts.Bar("This district", metric_view.value, colour),
            charts.Bar(f"{state_label} average", metric_view.state_average, charts.STATE),
            charts.Bar("US average", metric_view.national_average, charts.NATION),
        ]
        if metric_view.peer_average is not None:  # peer groups (family `peers`), once they exist
            bars.insert(1, charts.Bar("Peer average", metric_view.peer_average, charts.PEERS))
        lines = [
            charts.Line("This district", metric_view.history, colour),
            charts.Line(f"{state_label} (all districts)", report.state_series[metric.key], charts.STATE, 1.6, True),
        ]
        year = metric_view.data_year or report.as_of.get(metric.district_column)
        cards[metric.key] = {
            "key": metric.key,
            "label": METRIC_LABELS[metric.key],
            "units": metric.units,
            "direction": DIRECTION_TEXT[metric.higher_is_better],
            "view": metric_view,
            "flag_text": _flag_text(metric_view, state_name),
            "flag_class": metric_view.reading or "neutral",
            "trend_years": " → ".join(school_year(y) for y in metric_view.trend_years) if metric_view.trend_years else None,
            "trend_unit": "points" if metric.trend_kind == "points" else "% change",
            "provenance": _provenance(metric, year, report.fetched, state_name, report.sources).text,
            "empty": metric_view.value is None and not report.distributions[metric.key] and not metric_view.history,
            "districts_in_state": len(report.distributions[metric.key]),
        }
        if not cards[metric.key]["empty"]:
            cards[metric.key].update(
                bars=data_uri(charts.comparison_bars(bars, metric.units)),
                distribution=data_uri(
                    charts.distribution(report.distributions[metric.key], metric_view.value, "this district", colour,
                                        metric.units, metric_view.state_average, f"{state_label} avg")
                ),
                trend=data_uri(charts.trend(lines)),
            )
    groups = [(title, [cards[key] for key in keys]) for title, keys in GROUPS]
    return _environment().get_template("district.html.j2").render(
        view=view,
        groups=groups,
        cards=[cards[metric.key] for metric in METRICS],
        methodology=_methodology(report.as_of, report.fetched),
        generated=report.generated_at.strftime("%Y-%m-%d %H:%M"),
        database=report.database,
        version=__version__,
    )


def render_state(report: StateReport) -> str:
    cards = {}
    for item in report.metrics:
        metric = item.metric
        bars = [
            charts.Bar(f"{report.abbrev} average", item.state_average, charts.NEUTRAL),
            charts.Bar("US average", item.national_average, charts.NATION),
        ]
        lines = [
            charts.Line(report.abbrev, report.state_series[metric.key], charts.NEUTRAL),
            charts.Line("US", report.national_series[metric.key], charts.STATE, 1.6, True),
        ]
        difference = None
        if item.state_average is not None and item.national_average is not None:
            difference = item.state_average - item.national_average
        cards[metric.key] = {
            "key": metric.key,
            "label": METRIC_LABELS[metric.key],
            "units": metric.units,
            "direction": DIRECTION_TEXT[metric.higher_is_better],
            "item": item,
            "difference": difference,
            "provenance": _provenance(metric, report.as_of.get(metric.district_column), report.fetched, report.name,
                                      report.sources).text,
            "empty": not report.distributions[metric.key] and not report.state_series[metric.key],
        }
        if not cards[metric.key]["empty"]:
            cards[metric.key].update(
                bars=data_uri(charts.comparison_bars(bars, metric.units)),
                distribution=data_uri(
                    charts.distribution(report.distributions[metric.key], item.state_average, f"{report.abbrev} avg",
                                        charts.NEUTRAL, metric.units)
                ),
                trend=data_uri(charts.trend(lines)),
            )
    groups = [(title, [cards[key] for key in keys]) for title, keys in GROUPS]
    return _environment().get_template("state.html.j2").render(
        report=report,
        groups=groups,
        cards=[cards[metric.key] for metric in METRICS],
        methodology=_methodology(report.as_of, report.fetched),
        generated=report.generated_at.strftime("%Y-%m-%d %H:%M"),
        database=report.database,
        version=__version__,
    )
