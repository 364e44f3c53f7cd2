"""`districtbench report`: the HTML page in a real headless Chromium, on SQLite and PostgreSQL.

The page is made from the shared Texas run (TAPR 2016-2021 through the fake API). The test
reads the figures from the database itself and finds them, formatted as the page formats
numbers, in the page's text; it checks the page loads with no error, requests nothing but
its own file, is light, prints to a handful of pages, and that its screenshot is a real picture.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image

from tests import expected as ex
from tests.browser import open_page  # the `browser` fixture comes from tests/browser.py (conftest)

HOUSTON = "4823640"
# metric key → (district value, vs state, vs US, trend, state/US average column)
COLUMNS = {
    "absenteeism": ("chronic_absenteeism_rate", "absenteeism_vs_state", "absenteeism_vs_national", "absenteeism_trend_3yr", "avg_chronic_absenteeism_rate"),
    "graduation": ("graduation_rate_total", "graduation_vs_state", "graduation_vs_national", "graduation_trend_3yr", "avg_graduation_rate"),
    "student_teacher_ratio": ("student_teacher_ratio", "student_teacher_ratio_vs_state", "student_teacher_ratio_vs_national", "student_teacher_ratio_trend_3yr", "avg_student_teacher_ratio"),
    "swd_pct": ("swd_pct", "swd_pct_vs_state", "swd_pct_vs_national", "swd_trend_3yr", "avg_swd_pct"),
    "ell_pct": ("ell_pct", "ell_pct_vs_state", "ell_pct_vs_national", "ell_trend_3yr", "avg_ell_pct"),
    "math_proficiency": ("math_proficiency_pct", "math_proficiency_vs_state", "math_proficiency_vs_national", "math_proficiency_trend_3yr", "avg_math_proficiency"),
    "read_proficiency": ("read_proficiency_pct", "read_proficiency_vs_state", "read_proficiency_vs_national", "read_proficiency_trend_3yr", "avg_read_proficiency"),
    "expenditure_pp": ("expenditure_per_pupil", "expenditure_pp_vs_state", "expenditure_pp_vs_national", "expenditure_pp_trend_3yr", "avg_expenditure_per_pupil"),
}


def shown(value, signed: bool = False) -> str:
    """A stored number as a person reads it on the page: 2 decimals, thousands separators."""
    if value is None:
        return "—"
    number = Decimal(str(value))
    return f"{number:+,.2f}" if signed else f"{number:,.2f}"


@pytest.fixture
def texas(request, db_kind):
    url, _ = ex.shared_run(request, db_kind, "texas")
    return url, ex.engine_for(request, db_kind, url)


@pytest.fixture
def houston_page(texas, tmp_path):
    url, engine = texas
    target = tmp_path / "houston.html"
    result = ex.cli(url, "report", HOUSTON, "-o", str(target))
    assert result.exit_code == 0, result.output
    assert f"Wrote {target}" in " ".join(result.stderr.split())
    return target, engine


def test_district_report_shows_the_stored_numbers_and_loads_offline(houston_page, browser):
    path, engine = houston_page
    loaded = open_page(browser, path)
    page = loaded.page
    assert loaded.requests == [path.resolve().as_uri()]  # nothing fetched but the file itself
    assert loaded.errors == [] and loaded.console == []

    district = ex.table_rows(engine, "districts", f"leaid = '{HOUSTON}'")[0]
    texas_row = ex.table_rows(engine, "states", "fips = '48'")[0]
    nation = ex.table_rows(engine, "states", "fips = '00'")[0]
    assert page.inner_text("h1") == district["name"] == "HOUSTON ISD"
    assert page.inner_text("[data-figure=enrollment]") == f"{district['enrollment']:,}" == "193,727"
    assert page.inner_text("#district [data-figure=school-year]") == "2021-22"  # urban_institute_year 2021

    for key, (value, vs_state, vs_us, trend, average) in COLUMNS.items():
        row = page.locator(f"#summary tr[data-metric={key}]")
        cells = {name: row.locator(f"[data-figure={name}]").inner_text() for name in
                 ("value", "state_average", "national_average", "vs_state", "vs_national")}
        assert cells == {
            "value": shown(district[value]),
            "state_average": shown(texas_row[average]),
            "national_average": shown(nation[average]),
            "vs_state": shown(district[vs_state], signed=True),
            "vs_national": shown(district[vs_us], signed=True),
        }, key
        trend_text = row.locator("[data-figure=trend_3yr]").inner_text()
        assert trend_text.startswith(shown(district[trend], signed=True)), (key, trend_text)
    # Spelled out from the TAPR file: Houston's English learners 2021-22, and its 2018 → 2021 change.
    tapr = ex.tapr_by_leaid()[HOUSTON]
    assert page.locator("#metric-ell_pct .headline [data-figure=value]").inner_text() == shown(
        ex.q2(100 * tapr[2021]["ell_students"] / tapr[2021]["enrollment"])
    )
    assert shown(district["ell_trend_3yr"], True) == shown(ex.pct_change(tapr[2021]["ell_students"], tapr[2018]["ell_students"]), True)

    text = page.inner_text("body")
    assert "Where these numbers come from" in text
    provenance = page.inner_text("#metric-ell_pct .provenance")
    assert provenance.startswith("Source: NCES Common Core of Data (CCD), district directory · school year 2021-22, the latest")
    assert "well above most districts in Texas" in page.inner_text("#metric-ell_pct .reading")
    assert "NCES Common Core of Data" in text and "fetched " in text
    # Graduation rates are served for 2012-2014 and assessments for 2015 only: the 2016-2021
    # run has none, and their cards say so instead of drawing empty charts.
    for key in ("graduation", "math_proficiency", "read_proficiency"):
        assert "No data for this metric in Texas" in page.inner_text(f"#metric-{key}"), key
    with_charts = page.eval_on_selector_all("article.card:has(img)", "els => els.map(e => e.dataset.metric)")
    assert sorted(with_charts) == ["absenteeism", "ell_pct", "expenditure_pp", "student_teacher_ratio", "swd_pct"]
    images = page.eval_on_selector_all("img", "els => els.map(e => [e.complete, e.naturalWidth])")
    assert len(images) == 3 * 5  # three charts for each metric with data
    assert all(complete and width > 0 for complete, width in images)
    page.close()


def test_district_report_screenshot_is_a_real_picture(houston_page, browser, tmp_path):
    path, _ = houston_page
    loaded = open_page(browser, path, width=1280)
    png = loaded.page.screenshot(full_page=True)
    loaded.page.close()
    (tmp_path / "houston.png").write_bytes(png)
    image = Image.open(io.BytesIO(png)).convert("L")
    width, height = image.size
    assert width == 1280 and 3000 < height < 9000, image.size
    # Share of the picture that is not page background: text, table rules, charts.
    histogram = image.histogram()
    ink = sum(histogram[:235]) / (width * height)
    assert ink > 0.04, ink
    # Every band of 600 pixels down the page has something on it (no blank stretch).
    for top in range(0, height - 600, 600):
        band = image.crop((0, top, width, top + 600)).histogram()
        assert sum(band[:235]) > 2_000, top


def test_district_report_prints_one_section_per_page(houston_page, browser, tmp_path):
    path, _ = houston_page
    loaded = open_page(browser, path)
    pdf = loaded.page.pdf(format="Letter", print_background=True)
    loaded.page.close()
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    # At a glance; student outcomes; students and staff; spending; the methodology: each
    # section starts a page and fits on it.
    assert pages == 5, pages
    size = path.stat().st_size
    assert size < 2_000_000, size  # well under the 5 MB budget


def test_state_report_lists_the_largest_districts_and_both_ends(texas, tmp_path, browser):
    url, engine = texas
    target = tmp_path / "tx.html"
    result = ex.cli(url, "report", "--state", "tx", "-o", str(target))
    assert result.exit_code == 0, result.output
    loaded = open_page(browser, target)
    page = loaded.page
    assert loaded.requests == [target.resolve().as_uri()] and loaded.errors == [] and loaded.console == []
    assert page.inner_text("h1") == "Texas"

    districts = ex.table_rows(engine, "districts", "state_fips = '48'")
    texas_row = ex.table_rows(engine, "states", "fips = '48'")[0]
    nation = ex.table_rows(engine, "states", "fips = '00'")[0]
    assert page.inner_text("[data-figure=districts]") == f"{len(districts):,}"
    for key, (value, _, _, _, average) in COLUMNS.items():
        row = page.locator(f"#summary tr[data-metric={key}]")
        assert row.locator("[data-figure=state_average]").inner_text() == shown(texas_row[average]), key
        assert row.locator("[data-figure=national_average]").inner_text() == shown(nation[average]), key
        with_value = sorted((d for d in districts if d[value] is not None), key=lambda d: (Decimal(str(d[value])), d["leaid"]))
        assert row.locator("[data-figure=districts_with_value]").inner_text() == f"{len(with_value):,}", key
        if not with_value:
            continue
        lowest = page.locator(f"#metric-{key} table[data-end=lowest] tr")
        assert lowest.evaluate_all("rows => rows.map(r => r.dataset.leaid)") == [d["leaid"] for d in with_value[:5]], key
        highest = sorted(with_value, key=lambda d: (-Decimal(str(d[value])), d["leaid"]))[:5]
        cells = page.locator(f"#metric-{key} table[data-end=highest] [data-figure=value]").all_inner_texts()
        assert cells == [shown(d[value]) for d in highest], key

    largest = sorted((d for d in districts if d["enrollment"] is not None), key=lambda d: (-d["enrollment"], d["leaid"]))[:10]
    listed = page.locator("table.largest tbody tr").evaluate_all("rows => rows.map(r => r.dataset.leaid)")
    assert listed == [d["leaid"] for d in largest]
    assert listed[0] == HOUSTON  # 193,727 students in 2021-22
    page.close()


def test_report_usage_errors(texas, tmp_path):
    url, _ = texas
    neither = ex.cli(url, "report")
    assert neither.exit_code == 2 and "Name one district" in neither.stderr
    both = ex.cli(url, "report", HOUSTON, "--state", "TX")
    assert both.exit_code == 2 and "Name one district" in both.stderr
    unknown = ex.cli(url, "report", "--state", "XX")
    assert unknown.exit_code == 2 and "unknown state 'XX'" in unknown.stderr
    no_districts = ex.cli(url, "report", "--state", "CA", "-o", str(tmp_path / "ca.html"))
    assert no_districts.exit_code == 2 and "No districts of California" in no_districts.stderr
    assert not (tmp_path / "ca.html").exists()
    assert "Traceback" not in neither.output + both.output + unknown.output + no_districts.output


def test_other_commands_do_not_import_the_charting_library():
    code = (
        "import sys; from districtbench.cli import build_app; build_app(); "
        "print(sorted(m for m in ('matplotlib', 'jinja2', 'numpy') if m in sys.modules))"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"


def test_yearly_lines_follow_the_state_average_formula(texas):
    """The trend charts' data: Texas's figure in each year is the state average's formula over
    that year's directory records (checked against plain sums of the served records), and in
    the as-of year it is the stored average; Houston's line is its own TAPR values."""
    from districtbench.reporting.series import area_series, district_series

    _, engine = texas
    with engine.connect() as connection:
        state = area_series(connection, ["48"])
        houston = district_series(connection, HOUSTON)
    tapr = ex.tapr_by_leaid()[HOUSTON]
    for year in range(2016, 2022):
        averages = ex.state_averages(ex.served_directory(year, 48).values())
        assert state["ell_pct"][year] == averages["avg_ell_pct"], year
        assert state["swd_pct"][year] == averages["avg_swd_pct"], year
        assert state["student_teacher_ratio"][year] == averages["avg_student_teacher_ratio"], year
        row = tapr[year]
        assert houston["ell_pct"][year] == ex.q2(100 * row["ell_students"] / row["enrollment"]), year
        assert houston["student_teacher_ratio"][year] == ex.q2(row["enrollment"] / row["teachers_fte"]), year
    assert sorted(state["ell_pct"]) == list(range(2016, 2022))
    stored = ex.table_rows(engine, "states", "fips = '48'")[0]
    assert state["ell_pct"][2021] == Decimal(str(stored["avg_ell_pct"]))
    assert state["expenditure_pp"][2020] == Decimal(str(stored["avg_expenditure_per_pupil"]))


def test_the_installed_command_writes_the_page_where_it_is_told(texas, tmp_path):
    url, _ = texas
    env = {k: v for k, v in os.environ.items() if k not in ex.DB_ENV}
    completed = subprocess.run(
        [str(Path(sys.executable).with_name("districtbench")), "report", HOUSTON, "--database-url", url],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    page = tmp_path / f"report-{HOUSTON}.html"  # the default name, in the working folder
    assert [p.name for p in tmp_path.iterdir()] == [page.name]
    html = page.read_text(encoding="utf-8")
    assert "default-src 'none'; img-src data:" in html  # the page may load nothing
    assert not re.search(r"""(src|href)=["']https?:""", html)
    assert f"Wrote report-{HOUSTON}.html" in completed.stderr


@pytest.fixture
def arak(request, db_kind):
    url, _ = ex.shared_run(request, db_kind, "arak")
    return url, ex.engine_for(request, db_kind, url)


def _grade_name(code: int) -> str:
    return {-1: "PK", 0: "K"}.get(code, str(code))


def test_grades_in_the_report_and_show_headers(arak, tmp_path, browser):
    """The grades the fake API's (real) 2018 directory rows give: `lowest_grade_offered` -1 is
    Pre-K, 0 kindergarten; shown as "PK–12" in the report's header and "Grades PK–12" by show;
    a district whose rows have no grades (-2 not applicable) shows none."""
    from districtbench.fakeapi.dataset import DIRECTORY

    url, _ = arak
    served = {r["leaid"]: r for r in ex.warm_dataset().records(DIRECTORY, 2018) if r["fips"] == 2}
    with_grades = {leaid for leaid, r in served.items()
                   if r.get("lowest_grade_offered") == -1 and r.get("highest_grade_offered") == 12}
    leaid = "0200180" if "0200180" in with_grades else sorted(with_grades)[0]
    target = tmp_path / "anchorage.html"
    result = ex.cli(url, "report", leaid, "-o", str(target))
    assert result.exit_code == 0, result.output
    loaded = open_page(browser, target)
    expected = f"{_grade_name(served[leaid]['lowest_grade_offered'])}–{served[leaid]['highest_grade_offered']}"
    assert loaded.page.inner_text("#district [data-figure=grades]") == expected == "PK–12"
    loaded.page.close()
    shown_header = ex.cli(url, "show", leaid).stdout
    assert "Grades PK–12" in shown_header
    without = sorted(leaid for leaid, r in served.items() if r.get("lowest_grade_offered") in (-2, -3, None)
                     and r.get("highest_grade_offered") in (-2, -3, None))
    if without:
        assert "Grade" not in ex.cli(url, "show", without[0]).stdout.splitlines()[2]
