"""The user's view after a `run`: `status`, `show LEAID` and `export`, on SQLite and PostgreSQL.

The runs (AR+AK 2018 from the real API page, Texas 2016-2021 from TAPR) are made once per
database kind (tests/expected.py `shared_run`) and only read here. Expected values are
computed independently from the real files.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests import expected as ex

CONSOLE_SCRIPT = Path(sys.executable).with_name("districtbench")
AR, AK = 5, 2
RATIO_METRICS = {  # show key → (district column, quartile column)
    "swd_pct": ("swd_pct", "swd_pct_quartile_state"),
    "ell_pct": ("ell_pct", "ell_pct_quartile_state"),
    "student_teacher_ratio": ("student_teacher_ratio", "student_teacher_ratio_quartile_state"),
}
AVERAGE_OF = {"swd_pct": "avg_swd_pct", "ell_pct": "avg_ell_pct", "student_teacher_ratio": "avg_student_teacher_ratio"}
FAMILIES = ("latest", "ratios", "averages", "trends", "deltas", "peers")


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def arak(request, db_kind):
    url, _ = ex.shared_run(request, db_kind, "arak")
    return url, ex.engine_for(request, db_kind, url)


@pytest.fixture
def texas(request, db_kind):
    url, _ = ex.shared_run(request, db_kind, "texas")
    return url, ex.engine_for(request, db_kind, url)


def sample() -> dict[int, dict[str, dict]]:
    return {fips: ex.sample_districts(fips) for fips in (AR, AK)}


def expected_ratios() -> dict[str, dict]:
    """Per district: value, state and US averages, deltas and flag of the three ratio metrics."""
    by_state = sample()
    national = ex.state_averages([d for state in by_state.values() for d in state.values()])
    out: dict[str, dict] = {}
    for fips, districts in by_state.items():
        averages = ex.state_averages(districts.values())
        flags = {key: ex.quartile_flags({k: d[key] for k, d in districts.items()}) for key in RATIO_METRICS}
        for leaid, district in districts.items():
            metrics = {}
            for key in RATIO_METRICS:
                value, state_avg, us_avg = district[key], averages[AVERAGE_OF[key]], national[AVERAGE_OF[key]]
                metrics[key] = {
                    "value": value,
                    "state_average": state_avg,
                    "national_average": us_avg,
                    "vs_state": None if value is None or state_avg is None else value - state_avg,
                    "vs_national": None if value is None or us_avg is None else value - us_avg,
                    "quartile_state": flags[key][leaid],
                }
            out[leaid] = metrics
    return out


# --- status -----------------------------------------------------------------------------------


def test_status_json_counts_match_the_sample(arak):
    url, engine = arak
    result = ex.cli(url, "status", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["current_revision"] == report["head_revision"] and not report["migration_pending"]
    assert report["database"].endswith(sa.engine.make_url(url).database)

    districts = [d for state in sample().values() for d in state.values()]
    assert report["districts"] == len(districts) == 96

    rows = {(row["source"], row["year"]): row for row in report["sources"]}
    enrollment_columns = ("enrollment", "teachers_fte", "staff_total_fte", "spec_ed_students")
    expected_with_data = {
        "enrollment": sum(any(d[c] is not None for c in enrollment_columns) for d in districts),
        "ell": sum(d["ell_students"] is not None for d in districts),
        "graduation": 0,  # EDFacts graduation rates are served for 2012-2014 only
        "assessments": 0,  # assessments only for 2015
    }
    for source, count in expected_with_data.items():
        row = rows[(source, 2018)]
        assert row["districts_with_data"] == count, source
        assert (row["units_complete"], row["units_failed"]) == (2, 0), source  # AR and AK
        assert row["last_fetch"]
    for source in ("finance", "poverty"):
        assert (rows[(source, 2018)]["units_complete"], rows[(source, 2018)]["units_failed"]) == (2, 0)
    assert not any(source == "absenteeism" for source, _ in rows)  # CRDC has no 2018

    compute = {row["family"]: row for row in report["compute"]}
    assert set(compute) == set(FAMILIES)
    assert {row["status"] for row in compute.values()} == {"success"}

    # Coverage = districts with a value, counted here from the sample page.
    enrolled = [d for d in districts if d["enrollment"] is not None and d["enrollment"] > 0]
    coverage = report["coverage"]
    assert coverage["enrollment"] == sum(d["enrollment"] is not None for d in districts)
    assert coverage["ell_students"] == expected_with_data["ell"]
    assert coverage["swd_pct"] == sum(d["spec_ed_students"] is not None for d in enrolled)
    assert coverage["ell_pct"] == sum(d["ell_students"] is not None for d in enrolled)
    assert coverage["student_teacher_ratio"] == sum(
        d["teachers_fte"] is not None and d["teachers_fte"] > 0 for d in districts if d["enrollment"] is not None
    )
    assert coverage["enrollment_trend_3yr"] == 0  # one year only: no trends
    flagged = 0
    for state in sample().values():
        flagged += sum(flag is not None for flag in ex.quartile_flags({k: d["swd_pct"] for k, d in state.items()}).values())
    assert coverage["swd_pct_quartile_state"] == flagged

    # The same counts straight from the database.
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT COUNT(swd_pct) FROM districts")).scalar_one() == coverage["swd_pct"]


def test_status_human_output_has_its_sections(arak):
    url, _ = arak
    result = ex.cli(url, "status")
    assert result.exit_code == 0, result.output
    text = result.stdout
    for heading in ("Schema revision", "Districts in the roster", "Data per source and year",
                    "Last compute per family", "Coverage of computed columns"):
        assert heading in text, heading
    for family in FAMILIES:
        assert family in text
    assert "success" in text


# --- show -------------------------------------------------------------------------------------


@pytest.mark.parametrize("leaid", ["0500001", "500019", "0200180"])  # DeWitt, Batesville, Anchorage
def test_show_json_against_independent_averages_and_quartiles(arak, leaid):
    url, _ = arak
    result = ex.cli(url, "show", leaid, "--json")
    assert result.exit_code == 0, result.output
    view = json.loads(result.stdout)
    assert view["leaid"] == leaid.zfill(7)
    fips = int(leaid.zfill(7)[:2])
    district = ex.sample_districts(fips)[leaid.zfill(7)]
    assert view["name"] == district["name"]
    assert view["enrollment"] == district["enrollment"]

    want = expected_ratios()[leaid.zfill(7)]
    metrics = {metric["key"]: metric for metric in view["metrics"]}
    assert len(metrics) == 8
    for key, expected_metric in want.items():
        got = metrics[key]
        for field, value in expected_metric.items():
            if field == "quartile_state":
                assert got[field] == value, (key, field)
            else:
                assert ex.dec(got[field]) == value, (key, field, got[field], value)
        if got["value"] is not None:
            assert got["data_year"] == 2018
            assert ex.dec(got["vs_state"]) == ex.dec(got["value"]) - ex.dec(got["state_average"])
    # Nothing loaded for graduation in 2018: no value, no average, no flag.
    assert metrics["graduation"]["value"] is None and metrics["graduation"]["quartile_state"] is None


def test_quartile_flags_of_every_district_follow_the_ntile_rule(arak):
    """All AR and AK flags (three metrics) against the NTILE-with-ties rule, via export json."""
    url, _ = arak
    result = ex.cli(url, "export", "--format", "json")
    assert result.exit_code == 0, result.output
    exported = {row["leaid"]: row for row in json.loads(result.stdout)}
    want = expected_ratios()
    assert set(exported) == set(want)
    for leaid, metrics in want.items():
        for key, (column, flag_column) in RATIO_METRICS.items():
            assert ex.dec(exported[leaid][column]) == metrics[key]["value"], (leaid, column)
            assert exported[leaid][flag_column] == metrics[key]["quartile_state"], (leaid, flag_column)
    # A tie group shares one flag (metrics.md): check that the sample has ties that matter.
    swd = {k: v["swd_pct"]["value"] for k, v in want.items() if k.startswith("05")}
    flags = ex.quartile_flags(swd)
    assert sorted(set(flags.values()) - {None}) == ["above", "below", "well_above", "well_below"]


def test_show_human_output_names_the_district(arak):
    url, _ = arak
    result = ex.cli(url, "show", "0500001")
    assert result.exit_code == 0, result.output
    assert "DEWITT SCHOOL DISTRICT" in result.stdout
    assert "0500001" in result.stdout and "Arkansas" in result.stdout
    assert "12.44" in result.stdout  # the district's swd_pct


def test_show_by_a_unique_name_fragment_shows_the_district(arak):
    url, _ = arak
    result = ex.cli(url, "show", "dewitt", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["leaid"] == "0500001"


def test_show_by_an_ambiguous_name_lists_the_matches(arak):
    url, _ = arak
    result = ex.cli(url, "show", "Educ. Coop")
    assert result.exit_code == 2
    err = flat(result.stderr)
    assert "Several districts match 'Educ. Coop'" in err and "Close matches" in err
    matching = {k: d["name"] for k, d in ex.sample_districts(AR).items() if "educ. coop" in d["name"].lower()}
    assert len(matching) == 4
    for leaid, name in matching.items():
        assert f"{leaid} {name} (AR)" in err
    assert "Traceback" not in result.output and result.stdout == ""


def test_show_unknown_leaid_suggests_districts_with_the_same_prefix(arak):
    url, _ = arak
    result = ex.cli(url, "show", "0500099")
    assert result.exit_code == 2
    err = flat(result.stderr)
    assert "No leaid 0500099" in err
    assert "0500001 DEWITT SCHOOL DISTRICT (AR)" in err
    assert "Traceback" not in result.output


def test_show_texas_district_trends_and_their_years(texas):
    url, _ = texas
    result = ex.cli(url, "show", "4823640", "--json")  # Houston ISD
    assert result.exit_code == 0, result.output
    view = json.loads(result.stdout)
    assert view["name"].upper().startswith("HOUSTON")
    metrics = {metric["key"]: metric for metric in view["metrics"]}
    years = ex.tapr_by_leaid()["4823640"]
    base, latest = years[2018], years[2021]
    for key in ("swd_pct", "ell_pct", "student_teacher_ratio"):
        assert metrics[key]["trend_years"] == [2018, 2021], key
        assert metrics[key]["data_year"] == 2021
    column = {"swd_pct": "spec_ed_students", "ell_pct": "ell_students"}
    for key, count in column.items():  # % change of the count
        assert metrics[key]["trend_kind"] != "points"
        assert ex.dec(metrics[key]["trend_3yr"]) == ex.pct_change(latest[count], base[count]), key
    ratio = ex.q2(latest["enrollment"] / latest["teachers_fte"] - base["enrollment"] / base["teachers_fte"])
    assert metrics["student_teacher_ratio"]["trend_kind"] == "points"
    assert ex.dec(metrics["student_teacher_ratio"]["trend_3yr"]) == ratio
    # CRDC (synthetic) has 2017 and 2020 in the range: the pair is 2017 → 2020.
    assert metrics["absenteeism"]["trend_years"] == [2017, 2020]

    human = ex.cli(url, "show", "4823640")
    assert human.exit_code == 0
    assert "2018-19→2021-22" in human.stdout  # school years, as a person writes them


# --- export -----------------------------------------------------------------------------------


def database_columns(engine) -> list[str]:
    return [c["name"] for c in sa.inspect(engine).get_columns("districts") if c["name"] not in ("created_at", "updated_at")]


def selected(engine, columns, where: str = "") -> list[dict]:
    query = f"SELECT {', '.join(columns)} FROM districts {where} ORDER BY leaid"
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(sa.text(query)).mappings()]


def same(exported, stored) -> bool:
    if stored is None:
        return exported in (None, "")
    if isinstance(stored, (int, float, Decimal)) and not isinstance(stored, bool):
        return ex.dec(exported) == Decimal(str(stored))
    return str(exported) == str(stored)


def assert_rows_equal(exported: list[dict], stored: list[dict]) -> None:
    assert [row["leaid"] for row in exported] == [row["leaid"] for row in stored]
    for got, want in zip(exported, stored):
        assert set(got) == set(want)
        for column, value in want.items():
            assert same(got[column], value), (want["leaid"], column, got[column], value)


def test_export_csv_round_trips(arak):
    url, engine = arak
    result = ex.cli(url, "export")
    assert result.exit_code == 0, result.output
    reader = csv.DictReader(io.StringIO(result.stdout))
    columns = database_columns(engine)
    assert reader.fieldnames == columns
    assert columns[:3] == ["leaid", "name", "state_fips"] and "ell_pct" in columns
    rows = list(reader)
    assert len(rows) == 96 and len({row["leaid"] for row in rows}) == 96  # one row per district
    assert_rows_equal(rows, selected(engine, columns))
    assert "Exported 96 districts" in flat(result.stderr)


def test_export_json_equals_the_database(arak):
    url, engine = arak
    result = ex.cli(url, "export", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    columns = database_columns(engine)
    assert all(list(row) == columns for row in rows)
    assert_rows_equal(rows, selected(engine, columns))


def test_export_states_filter(arak):
    url, engine = arak
    result = ex.cli(url, "export", "--states", "AR", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == len(ex.sample_districts(AR)) == 42
    assert {row["state_abbrev"] for row in rows} == {"AR"}
    assert_rows_equal(rows, selected(engine, database_columns(engine), "WHERE state_fips = '05'"))
    by_fips = ex.cli(url, "export", "--states", "05")
    assert by_fips.exit_code == 0
    assert len(list(csv.DictReader(io.StringIO(by_fips.stdout)))) == 42


def test_export_to_a_file(arak, tmp_path):
    url, _ = arak
    target = tmp_path / "benchmarks.csv"
    result = ex.cli(url, "export", "--output", str(target))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    to_stdout = ex.cli(url, "export")
    assert target.read_text(encoding="utf-8") == to_stdout.stdout
    assert [p.name for p in tmp_path.iterdir()] == ["benchmarks.csv"]  # no temporary file left

    missing = tmp_path / "no-such-folder" / "out.csv"
    failed = ex.cli(url, "export", "-o", str(missing))
    assert failed.exit_code == 2
    assert "does not exist" in flat(failed.stderr)
    assert "Traceback" not in failed.output and not missing.parent.exists()


def test_export_piped_into_a_reader_that_stops_early(arak):
    """`districtbench export | head`: the installed command stops quietly, exit 0."""
    url, _ = arak
    process = subprocess.Popen(
        [str(CONSOLE_SCRIPT), "--database-url", url, "export", "--format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    first = process.stdout.read(100)  # the whole export (~190 kB) does not fit a pipe buffer
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 0, stderr
    assert first.startswith(b'[\n  {"leaid": ')
    assert "error" not in stderr and "Traceback" not in stderr
