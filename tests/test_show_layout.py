"""`districtbench show` at a fixed terminal width: blocks at 80 columns, a table at 160; no
line longer than the terminal, no word or number cut in two; school years, decoded locales,
sparklines, and the source and year of each figure."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console

from districtbench.cli.show import print_view
from districtbench.reporting.show import district_view
from tests import expected as ex

CONSOLE_SCRIPT = Path(sys.executable).with_name("districtbench")
HOUSTON = "4823640"
LABELS = ("Chronic absenteeism %", "Graduation rate %", "Students per teacher", "Special education %",
          "English learners %", "Math proficient %", "Reading proficient %", "Spending per pupil $")


def render(engine, leaid: str, width: int) -> list[str]:
    with engine.connect() as connection:
        view = district_view(connection, leaid)
    out = Console(width=width, file=io.StringIO(), color_system=None, highlight=False, record=True)
    print_view(view, out)
    return out.export_text().splitlines()


def numbers_of(row: dict, *columns: str) -> list[str]:
    return [f"{Decimal(str(row[column])):,.2f}" for column in columns if row[column] is not None]


@pytest.fixture
def texas(request, db_kind):
    url, _ = ex.shared_run(request, db_kind, "texas")
    return url, ex.engine_for(request, db_kind, url)


@pytest.fixture
def arak(request, db_kind):
    url, _ = ex.shared_run(request, db_kind, "arak")
    return url, ex.engine_for(request, db_kind, url)


def test_80_columns_one_block_per_metric_nothing_cut(texas):
    _, engine = texas
    lines = render(engine, HOUSTON, 80)
    assert max(len(line) for line in lines) <= 80
    text = "\n".join(lines)
    for label in LABELS:  # each label whole, on a line of its own block
        assert sum(line.startswith(label) for line in lines) == 1, label
    district = ex.table_rows(engine, "districts", f"leaid = '{HOUSTON}'")[0]
    texas_row = ex.table_rows(engine, "states", "fips = '48'")[0]
    for number in numbers_of(district, "expenditure_per_pupil", "ell_pct", "swd_pct", "student_teacher_ratio",
                             "chronic_absenteeism_rate") + numbers_of(texas_row, "avg_expenditure_per_pupil", "avg_ell_pct"):
        assert number in text, number  # e.g. 9,131.79 in one piece
    assert "school year 2021-22" in lines[2] and "193,727 students" in lines[2]
    ell = lines[next(i for i, line in enumerate(lines) if line.startswith("English learners %"))]
    assert "CCD 2021-22" in ell
    spending = next(i for i, line in enumerate(lines) if line.startswith("Spending per pupil $"))
    assert "CCD finance 2020-21" in lines[spending]
    trend = lines[spending + 2]
    assert trend.startswith("  trend ") and "2016-17…2020-21" in trend and "3-year +" in trend and "2017-18→2020-21" in trend
    sparkline = trend.split()[1]
    assert len(sparkline) == 5 and set(sparkline) <= set("▁▂▃▄▅▆▇█")  # finance 2016-2020
    # Houston's spending per pupil rose every year but the last (TX finance, synthetic): the bars say so.
    assert sparkline[0] == "▁" and "█" in sparkline[3:]


def test_160_columns_a_table(texas):
    _, engine = texas
    lines = render(engine, HOUSTON, 160)
    assert max(len(line) for line in lines) <= 160
    heading = next(line for line in lines if line.startswith("metric"))
    for column in ("value", "TX avg", "US avg", "vs TX", "vs US", "in state", "trend", "3-year"):
        assert column in heading, column
    rows = {line.split("  ")[0].strip(): line for line in lines if line.startswith(LABELS)}
    assert len(rows) == 8
    district = ex.table_rows(engine, "districts", f"leaid = '{HOUSTON}'")[0]
    spending = next(line for label, line in rows.items() if label.startswith("Spending"))
    assert numbers_of(district, "expenditure_per_pupil")[0] in spending
    assert f"{Decimal(str(district['expenditure_pp_vs_state'])):+,.2f}" in spending


def test_the_locale_is_decoded(arak):
    """DeWitt (Arkansas): the real API page gives urban_centric_locale 33 (Town, remote)."""
    _, engine = arak
    page = {row["leaid"]: row for row in ex.sample_page()}
    code = page["0500001"]["urban_centric_locale"]
    names = {31: "Town, fringe", 32: "Town, distant", 33: "Town, remote", 41: "Rural, fringe",
             42: "Rural, distant", 43: "Rural, remote", 21: "Suburb, large", 13: "City, small"}
    lines = render(engine, "0500001", 80)
    assert lines[1].endswith(names[code]), (code, lines[1])


def test_the_installed_command_at_80_columns(texas):
    url, _ = texas
    env = {**{k: v for k, v in os.environ.items() if k not in ex.DB_ENV}, "COLUMNS": "80"}
    completed = subprocess.run([str(CONSOLE_SCRIPT), "show", HOUSTON, "--database-url", url],
                               capture_output=True, text=True, env=env, timeout=60)
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert any(line.startswith("Spending per pupil $") for line in lines)


@pytest.mark.parametrize("command", [("status",), ("sources",), ("metrics",)], ids=lambda c: c[0])
def test_other_listings_fit_80_columns_without_cutting_words(texas, command):
    url, _ = texas
    env = {**{k: v for k, v in os.environ.items() if k not in ex.DB_ENV}, "COLUMNS": "80"}
    completed = subprocess.run([str(CONSOLE_SCRIPT), *command, "--database-url", url],
                               capture_output=True, text=True, env=env, timeout=60)
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    words = set(completed.stdout.replace(",", " ").split())
    expected = {
        "status": {"enrollment", "absenteeism", "latest", "deltas", "swd_pct_quartile_state"},
        "sources": {"school-districts/ccd/directory/{year}/", "spec_ed_students", "crdc_absenteeism"},
        "metrics": {"districts.student_teacher_ratio", "expenditure_pp_trend_3yr", "student_teacher_ratio"},
    }[command[0]]
    assert expected <= words, expected - words  # whole, not cut at the column's edge


def test_records_are_a_table_when_they_fit():
    from districtbench import console

    rows = [("enrollment", "school-districts/ccd/directory/{year}/", "1986–2024")]
    for width, table in ((200, True), (56, False)):
        out = Console(width=width, file=io.StringIO(), color_system=None, record=True)
        console.print_records("Sources", ("source", "endpoint", "years"), rows, out)
        text = out.export_text()
        assert ("┃ source" in text) == table, text
        if not table:
            assert "  endpoint  school-districts/ccd/directory/{year}/" in text


def test_show_json_gives_each_figure_its_source_school_year_and_history(texas):
    import json

    url, _ = texas
    result = ex.cli(url, "show", HOUSTON, "--json")
    assert result.exit_code == 0, result.output
    view = json.loads(result.stdout)
    assert view["school_year"] == "2021-22" and view["locale"] is None  # the TAPR records carry no locale
    metrics = {metric["key"]: metric for metric in view["metrics"]}
    ell = metrics["ell_pct"]
    assert (ell["data_year"], ell["school_year"]) == (2021, "2021-22")
    assert ell["source"] == "NCES Common Core of Data (CCD), district directory" and ell["source_short"] == "CCD"
    tapr = ex.tapr_by_leaid()[HOUSTON]
    assert ell["history"] == [
        [year, float(ex.q2(100 * tapr[year]["ell_students"] / tapr[year]["enrollment"]))] for year in range(2016, 2022)
    ]
    assert metrics["expenditure_pp"]["school_year"] == "2020-21"
    assert metrics["graduation"]["school_year"] is None and metrics["graduation"]["history"] == []
    assert all(metric["peer_average"] is None for metric in metrics.values())  # until peer groups exist
