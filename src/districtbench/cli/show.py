"""`districtbench show LEAID`: one district's benchmarks against its state and the nation.

Two layouts of the same figures: a table when the terminal is wide enough for it (~120
columns), otherwise one block of three lines per metric, so nothing is cut inside a word or a
number at 80 columns.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING

import typer

from districtbench import console
from districtbench.cli.state import get_state
from districtbench.formatting import school_year, sparkline

if TYPE_CHECKING:
    from districtbench.reporting.show import DistrictView, MetricView

DIRECTION = {True: "↑", False: "↓", None: ""}
LEGEND = (
    "↑/↓: higher/lower is better. In state: quartile of the value among the state's districts "
    "(well above = top quarter), green when good for that metric, red when a concern. "
    "Trend: the district's value in each year of the history; 3-year: points, or % change for "
    "counts and spending, between the school years shown."
)


def _number(value: Decimal | None, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+,.2f}" if signed else f"{value:,.2f}"


def _three_year(metric: MetricView) -> str:
    if metric.trend_3yr is None:
        return "—"
    unit = " pts" if metric.trend_kind == "points" else " %"
    return f"{metric.trend_3yr:+,.2f}{unit}"


def _trend_years(metric: MetricView) -> str:
    if not metric.trend_years or metric.trend_3yr is None:
        return ""
    base, latest = metric.trend_years
    return f"{school_year(base)}→{school_year(latest)}"


def _spark(metric: MetricView) -> str:
    return sparkline(value for _, value in sorted(metric.history.items()))


def _history_years(metric: MetricView) -> str:
    years = sorted(metric.history)
    if not years:
        return ""
    return school_year(years[0]) if len(years) == 1 else f"{school_year(years[0])}…{school_year(years[-1])}"


def _flag(metric: MetricView) -> console.Cell:
    if metric.quartile_state is None:
        return "—"
    text = console.one_line(metric.quartile_state.replace("_", " "))
    colour = {"good": "green", "concern": "red"}.get(metric.reading or "", "")
    return console.styled(text, colour) if colour else text


def _provenance(metric: MetricView) -> str:
    if metric.value is None:
        return "no value"
    return f"{metric.source_short} {metric.school_year or '—'}"


def _label(metric: MetricView) -> str:
    arrow = DIRECTION[metric.higher_is_better]
    from districtbench.reporting.show import METRIC_LABELS

    label = METRIC_LABELS.get(metric.key, metric.key)
    return f"{label} {arrow}" if arrow else label


def header_lines(view: DistrictView) -> list[console.Cell]:
    e = console.one_line  # names and places come from the API: one line, no control characters
    where = ", ".join(part for part in (view.city, view.county, view.state_name) if part)
    facts = [f"leaid {e(view.leaid)}"] + ([e(where)] if where else []) + ([view.locale] if view.locale else [])
    size = []
    if view.enrollment is not None:
        size.append(f"{view.enrollment:,} students")
    if view.grades is not None:
        size.append(view.grades)
    if view.number_of_schools is not None:
        size.append(f"{view.number_of_schools:,} schools")
    if view.directory_year is not None:
        size.append(f"school year {school_year(view.directory_year)}")
    return [console.styled(e(view.name), "bold"), " · ".join(facts), " · ".join(size)]


def wide_table(view: DistrictView):
    state = view.state_abbrev or "state"
    numbers = ("value", f"{state} avg", "US avg", f"vs {state}", "vs US")
    peers = ("peers avg", "vs peers") if view.has_peers else ()
    table = console.table(
        None, "metric", *numbers, *peers, "in state", "trend", "3-year", right=(*numbers, *peers, "3-year"), plain=True
    )
    for metric in view.metrics:
        peer_cells = (_number(metric.peer_average), _number(_minus(metric.value, metric.peer_average), True)) if peers else ()
        table.add_row(
            (f"{_label(metric)}\n", console.styled(_provenance(metric), "dim")),
            _number(metric.value),
            _number(metric.state_average),
            _number(metric.national_average),
            _number(metric.vs_state, signed=True),
            _number(metric.vs_national, signed=True),
            *peer_cells,
            _flag(metric),
            (f"{_spark(metric) or '—'}\n", console.styled(_history_years(metric), "dim")),
            (f"{_three_year(metric)}\n", console.styled(_trend_years(metric), "dim")),
        )
    return table


def _minus(left: Decimal | None, right: Decimal | None) -> Decimal | None:
    return None if left is None or right is None else left - right


def _compared(average: Decimal | None, delta: Decimal | None) -> str:
    """`18.99 (-3.46)`: an average and the district's difference from it, when there is one."""
    return _number(average) if delta is None else f"{_number(average)} ({_number(delta, signed=True)})"


def compact_blocks(view: DistrictView) -> list[console.Cell]:
    """Three lines per metric: name, source and flag; value against state and US; trend."""
    state = view.state_abbrev or "state"
    lines: list[console.Cell] = []
    for metric in view.metrics:
        lines.append("")
        lines.append((console.styled(_label(metric), "bold"), "  ", console.styled(_provenance(metric), "dim"), "  ",
                      _flag(metric)))
        parts = [f"  {_number(metric.value)}"]
        parts.append(f"{state} {_compared(metric.state_average, metric.vs_state)}")
        parts.append(f"US {_compared(metric.national_average, metric.vs_national)}")
        if view.has_peers:
            parts.append(f"peers {_number(metric.peer_average)}")
        lines.append("   ".join(parts))
        trend = f"  trend {_spark(metric)} {_history_years(metric)}" if metric.history else "  trend —"
        lines.append(f"{trend}   3-year {_three_year(metric)} {_trend_years(metric)}".rstrip())
    return lines


def print_view(view: DistrictView, out=None) -> None:
    """`out`: a console other than stdout's (tests give one of a fixed width)."""
    console.print_out(*header_lines(view), target=out)
    table = wide_table(view)
    if console.fits(table, out):
        console.print_out("", table, target=out)
    else:
        console.print_out(*compact_blocks(view), target=out)
    console.print_out("", console.styled(LEGEND, "dim"), target=out)


LOCALE_GROUPS = {1: "City", 2: "Suburb", 3: "Town", 4: "Rural"}


def print_peers(view: DistrictView, own: dict | None, peers: list, as_json: bool, missing: list[str]) -> None:
    """`show LEAID --peers`: who the peers are and why (distance on the four z-scored features);
    without a peer group, what the district lacks for one (`missing`)."""
    if as_json:
        from dataclasses import asdict

        rows = [{**asdict(p), "distance": p.distance} for p in peers]
        document = {"leaid": view.leaid, "peer_group": own, "peers": rows}
        if own is None:
            document["missing_for_a_peer_group"] = missing
        typer.echo(json.dumps(document, indent=2, default=str))
        return
    show = console.print_out
    show(*header_lines(view), "")
    if own is None and missing:
        show(f"No peer group: {console.one_line(view.name or view.leaid)} lacks what one needs, on the districts "
             f"table: {'; '.join(missing)}.")
        return
    if own is None:
        show("No peer group yet: the district has every feature the peers need; run `districtbench compute` "
             "(the peers family writes the groups).")
        return
    group = LOCALE_GROUPS.get(own["locale_group"], str(own["locale_group"]))
    show(
        f"{len(peers)} peers ({own['scope']} scope, {group} districts), nearest first — distance on the z-scores of "
        f"ln(enrollment), poverty, English learners and special education. This district: "
        f"{own['enrollment']:,} students, poverty {own['children_poverty_percent']} %, "
        f"ELL {own['ell_pct']} %, SWD {own['swd_pct']} %."
    )
    table = console.table(None, "#", "leaid", "district", "state", "distance", "students", "poverty %", "ELL %", "SWD %",
                          right=("#", "distance", "students", "poverty %", "ELL %", "SWD %"), whole=("leaid",),
                          plain=True)
    for p in peers:
        name = console.one_line(p.name or p.leaid)
        table.add_row(str(p.rank), p.leaid, name, console.one_line(p.state_abbrev or ""), f"{p.distance:.3f}",
                      f"{p.enrollment:,}", str(p.children_poverty_percent), str(p.ell_pct), str(p.swd_pct))
    show(table)


def register(app: typer.Typer) -> None:
    @app.command("show")
    def show_command(
        ctx: typer.Context,
        leaid: str = typer.Argument(
            ..., metavar="LEAID", help="The district's NCES LEAID (7 digits; leading zeros optional) or part of its name."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the district as JSON on stdout."),
        peers: bool = typer.Option(
            False, "--peers", help="List the district's peer group instead: each peer's distance and the four features."
        ),
    ) -> None:
        """Show one district: each metric's value, state and US averages, deltas, quartile flag and trend.

        Example: districtbench show 4823640
        """
        from districtbench.reporting.show import district_peers, district_view, find_district, peer_requirements_missing

        state = get_state(ctx)
        engine = state.existing_engine()
        with engine.connect() as connection:
            found = find_district(connection, leaid)
            if peers:
                own, peer_list = district_peers(connection, found)
                missing = peer_requirements_missing(connection, found) if own is None else []
            view = district_view(connection, found, state.measures)
        if peers:
            print_peers(view, own, peer_list, as_json, missing)
        elif as_json:
            typer.echo(json.dumps(view.to_json(), indent=2))
        else:
            print_view(view)
