"""`districtbench export`: formats from the file extension, --table states, --columns, JSON
Lines, --with-years, and output files that cannot be written (issue 12.10) — on SQLite and
PostgreSQL, against the database's own rows."""

from __future__ import annotations

import csv
import io
import json
import os
import resource
import signal
import stat
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from tests import expected as ex
from tests.test_cli_status_show_export import assert_rows_equal, flat, same, selected

CONSOLE_SCRIPT = Path(sys.executable).with_name("districtbench")


@pytest.fixture
def arak(request, db_kind):
    url, _ = ex.shared_run(request, db_kind, "arak")
    return url, ex.engine_for(request, db_kind, url)


@pytest.fixture
def texas(request, db_kind):
    url, _ = ex.shared_run(request, db_kind, "texas")
    return url, ex.engine_for(request, db_kind, url)


def state_columns(engine) -> list[str]:
    import sqlalchemy as sa

    return [c["name"] for c in sa.inspect(engine).get_columns("states") if c["name"] not in ("created_at", "updated_at")]


@pytest.mark.parametrize("name, kind", [("out.json", "json"), ("OUT.JSONL", "jsonl"), ("out.Csv", "csv"), ("out.ndjson", "jsonl")])
def test_the_format_follows_the_file_extension(arak, tmp_path, name, kind):
    url, engine = arak
    target = tmp_path / name
    result = ex.cli(url, "export", "--states", "AK", "-o", str(target))
    assert result.exit_code == 0, result.output
    text = target.read_text(encoding="utf-8")
    if kind == "json":
        exported = json.loads(text)
    elif kind == "jsonl":
        lines = text.splitlines()
        assert len(lines) == 54 and all(line.startswith('{"leaid": ') for line in lines)
        exported = [json.loads(line) for line in lines]
    else:
        exported = list(csv.DictReader(io.StringIO(text)))
    columns = [c for c in exported[0]]
    assert_rows_equal(exported, selected(engine, columns, "WHERE state_fips = '02'"))
    assert f"({kind})" in flat(result.stderr)


def test_format_option_overrides_the_extension_and_ignores_case(arak, tmp_path):
    url, _ = arak
    target = tmp_path / "data.csv"
    result = ex.cli(url, "export", "--states", "AK", "--format", "JSON", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert len(json.loads(target.read_text(encoding="utf-8"))) == 54


def test_an_unknown_extension_without_format_is_a_usage_error(arak, tmp_path):
    url, _ = arak
    result = ex.cli(url, "export", "-o", str(tmp_path / "data.xlsx"))
    assert result.exit_code == 2
    assert "Cannot tell the format of 'data.xlsx'" in flat(result.stderr) and "--format" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_table_states_exports_every_state_row_and_the_us(arak):
    url, engine = arak
    result = ex.cli(url, "export", "--table", "states", "--format", "json")
    assert result.exit_code == 0, result.output
    exported = json.loads(result.stdout)
    columns = state_columns(engine)
    assert all(list(row) == columns for row in exported)
    stored = ex.table_rows(engine, "states")
    assert [row["fips"] for row in exported] == [row["fips"] for row in stored]
    assert len(exported) == 57  # 50 states, DC, 5 territories and the US row
    for got, want in zip(exported, stored):
        for column in columns:
            if isinstance(want[column], datetime):  # aggregates_updated_at: ISO 8601 in JSON
                assert got[column] == want[column].isoformat(), (want["fips"], column)
            else:
                assert same(got[column], want[column]), (want["fips"], column)
    us = next(row for row in exported if row["fips"] == "00")
    arkansas = ex.state_averages(ex.sample_districts(5).values())
    alaska = ex.state_averages(ex.sample_districts(2).values())
    assert us["abbrev"] == "US" and us["total_districts"] == arkansas["total_districts"] + alaska["total_districts"]
    only = ex.cli(url, "export", "--table", "STATES", "--states", "AR")
    assert [row["abbrev"] for row in csv.DictReader(io.StringIO(only.stdout))] == ["AR"]


def test_columns_chooses_and_orders_the_fields(arak):
    url, engine = arak
    result = ex.cli(url, "export", "--columns", "ell_pct, leaid,name", "--states", "AR", "-f", "json")
    assert result.exit_code == 0, result.output
    exported = json.loads(result.stdout)
    assert all(list(row) == ["ell_pct", "leaid", "name"] for row in exported)
    assert_rows_equal(exported, selected(engine, ["ell_pct", "leaid", "name"], "WHERE state_fips = '05'"))


def test_an_unknown_column_lists_the_valid_ones(arak):
    url, engine = arak
    result = ex.cli(url, "export", "--columns", "leaid,ell_share")
    assert result.exit_code == 2 and result.stdout == ""
    text = flat(result.stderr)
    assert "unknown column 'ell_share'" in text
    assert "Valid columns: leaid, name, state_fips" in text and "expenditure_pp_quartile_state" in text


def test_with_years_gives_each_figure_its_source_and_year(texas):
    """Texas 2016-2021: the directory figures come from 2021-22 and spending from 2020-21 (the
    latest years the fake API serves for Texas), absenteeism from CRDC 2020-21."""
    url, engine = texas
    result = ex.cli(url, "export", "--with-years", "--columns", "leaid,ell_pct,expenditure_per_pupil,chronic_absenteeism_rate,name", "-f", "jsonl")
    assert result.exit_code == 0, result.output
    exported = [json.loads(line) for line in result.stdout.splitlines()]
    assert list(exported[0]) == [
        "leaid", "ell_pct", "ell_pct_source", "ell_pct_year", "expenditure_per_pupil", "expenditure_per_pupil_source",
        "expenditure_per_pupil_year", "chronic_absenteeism_rate", "chronic_absenteeism_rate_source",
        "chronic_absenteeism_rate_year", "name",
    ]
    directory_years = [year for year in range(2016, 2022) if ex.served_directory(year, 48)]
    stored = {row["leaid"]: row for row in ex.table_rows(engine, "districts", "state_fips = '48'")}
    for row in exported:
        district = stored[row["leaid"]]
        assert row["ell_pct_source"] == "ccd_directory" and row["expenditure_per_pupil_source"] == "ccd_finance"
        assert row["chronic_absenteeism_rate_source"] == "crdc_absenteeism"
        assert row["ell_pct_year"] == (max(directory_years) if district["ell_pct"] is not None else None)
        assert row["expenditure_per_pupil_year"] == (2020 if district["expenditure_per_pupil"] is not None else None)
        assert row["chronic_absenteeism_rate_year"] == (2020 if district["chronic_absenteeism_rate"] is not None else None)
    houston = next(row for row in exported if row["leaid"] == "4823640")
    assert (houston["ell_pct_year"], houston["expenditure_per_pupil_year"]) == (2021, 2020)

    states = ex.cli(url, "export", "--table", "states", "--with-years", "--columns", "abbrev,avg_ell_pct")
    rows = {row["abbrev"]: row for row in csv.DictReader(io.StringIO(states.stdout))}
    assert rows["TX"]["avg_ell_pct_source"] == "ccd_directory" and rows["TX"]["avg_ell_pct_year"] == "2021"
    assert rows["US"]["avg_ell_pct_year"] == ""  # the US row mixes its states' years
    assert rows["CA"]["avg_ell_pct"] == "" and rows["CA"]["avg_ell_pct_year"] == ""


# --- output files that cannot be written (issue 12.10) ----------------------------------------


@pytest.mark.parametrize("target", ["/proc/version", "/proc/districtbench.csv", "/sys/districtbench.csv"])
def test_a_file_that_cannot_be_written_is_one_clean_message(arak, target):
    url, _ = arak
    result = ex.cli(url, "export", "-f", "csv", "-o", target)
    assert result.exit_code == 2, result.output
    text = flat(result.stderr)
    assert text.startswith(f"error: Cannot write {target}:") and "Choose another --output" in text
    assert "unexpected error" not in text and "OSError" not in text and "Traceback" not in result.output


def test_a_full_disk_leaves_nothing_behind(arak, tmp_path):
    """The write fails half-way (a file-size limit stands in for a full disk: the same OSError
    from write()): a clean message, exit 2, no partial file and no temporary file."""
    url, _ = arak
    target = tmp_path / "all.json"

    def limit_file_size():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    env = {k: v for k, v in os.environ.items() if k not in ex.DB_ENV}
    completed = subprocess.run(
        [str(CONSOLE_SCRIPT), "--database-url", url, "export", "-o", str(target)],
        capture_output=True, text=True, env=env, timeout=120, preexec_fn=limit_file_size,
    )
    assert completed.returncode == 2, completed.stderr
    assert f"error: Cannot write {target}: File too large." in flat(completed.stderr)
    assert "Traceback" not in completed.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_an_exported_file_gets_the_mode_the_umask_gives(arak, tmp_path, umask, mode):
    url, _ = arak
    target = tmp_path / "out.csv"
    previous = os.umask(umask)
    try:
        result = ex.cli(url, "export", "--states", "AK", "-o", str(target))
    finally:
        os.umask(previous)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(target.stat().st_mode) == mode
