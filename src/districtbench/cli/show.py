"""`districtbench show LEAID`: one district's benchmarks against its state and the nation."""

from __future__ import annotations

import json
from decimal import Decimal

import typer

from districtbench import console
from districtbench.cli.state import get_state
from districtbench.reporting.show import DistrictView, MetricView, district_view, find_district


def _number(value: Decimal | None, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+,.2f}" if signed else f"{value:,.2f}"


def _trend(metric: MetricView) -> str:
    if metric.trend_3yr is None:
        return "—"
    unit = " pts" if metric.trend_kind == "points" else " %"
    years = f" ({metric.trend_years[0]}→{metric.trend_years[1]})" if metric.trend_years else ""
    return f"{metric.trend_3yr:+,.2f}{unit}{years}"


def _flag(metric: MetricView) -> str:
    if metric.quartile_state is None:
        return "—"
    text = console.safe(metric.quartile_state.replace("_", " "))
    colour = {"good": "green", "concern": "red"}.get(metric.reading or "", "")
    return f"[{colour}]{text}[/{colour}]" if colour else text


LABELS = {
    "absenteeism": "Chronic absenteeism %",
    "graduation": "Graduation rate %",
    "student_teacher_ratio": "Students per teacher",
    "swd_pct": "Special education %",
    "ell_pct": "English learners %",
    "math_proficiency": "Math proficient %",
    "read_proficiency": "Reading proficient %",
    "expenditure_pp": "Spending per pupil $",
}


def print_view(view: DistrictView) -> None:
    out = console.out_console
    where = ", ".join(part for part in (view.city, view.county, view.state_name) if part)
    out.print(f"[bold]{console.safe(view.name)}[/bold] — leaid {console.safe(view.leaid)}, {console.safe(where)}")
    if view.enrollment is not None:
        out.print(f"Enrollment {view.enrollment:,}")
    numbers = ("value", "year", f"{view.state_abbrev or 'state'} avg", "US avg", "vs state", "vs US", "3-year trend")
    table = console.table(None, "metric", *numbers[:6], "in state", numbers[6], right=numbers)
    for metric in view.metrics:
        direction = {True: " [dim]↑[/dim]", False: " [dim]↓[/dim]", None: ""}[metric.higher_is_better]
        table.add_row(
            f"{LABELS.get(metric.key, metric.key)}{direction}",
            _number(metric.value),
            str(metric.data_year or "—"),
            _number(metric.state_average),
            _number(metric.national_average),
            _number(metric.vs_state, signed=True),
            _number(metric.vs_national, signed=True),
            _flag(metric),
            _trend(metric),
        )
    out.print(table)
    out.print(
        "[dim]↑/↓: higher/lower is better. In state: quartile of the value among the state's districts "
        "(well above = top quarter), green when good for that metric, red when a concern. "
        "Trends: points, or % change for counts and spending, between the years shown.[/dim]"
    )


def register(app: typer.Typer) -> None:
    @app.command("show")
    def show_command(
        ctx: typer.Context,
        leaid: str = typer.Argument(..., help="The district's NCES LEAID (7 digits; leading zeros optional) or part of its name."),
        as_json: bool = typer.Option(False, "--json", help="Print the district as JSON on stdout."),
    ) -> None:
        """Show one district: each metric's value, state and US averages, deltas, quartile flag and 3-year trend."""
        engine = get_state(ctx).migrated_engine()
        with engine.connect() as connection:
            view = district_view(connection, find_district(connection, leaid))
        if as_json:
            typer.echo(json.dumps(view.to_json(), indent=2))
        else:
            print_view(view)
