"""A backfill killed with SIGKILL and run again ends with the same database as an
uninterrupted run. Real processes: `python -m districtbench.fakeapi` and
`python -m districtbench backfill …`, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import re
import signal
from collections import Counter
import subprocess
import sys

import pytest
import requests
import sqlalchemy as sa

from typer.testing import CliRunner

from districtbench.cli import build_app
from districtbench.db import tables
from districtbench.db.engine import create_db_engine
from districtbench.fakeapi import dataset as ds
from tests import db_fixtures

ARGS = ["enrollment", "ell", "finance", "poverty", "--years", "2018", "--states", "AL,AK,AZ,AR", "--concurrency", "2"]
# `--verbose` prints a line per finished unit: "enrollment 2018 AL: 177 rows".
UNIT_LINE = re.compile(r"^(enrollment|ell|finance|poverty) 2018 [A-Z]{2}: ")


@pytest.fixture(scope="module")
def fake_api_process():
    process = subprocess.Popen(
        [sys.executable, "-m", "districtbench.fakeapi", "--latency", "0.02", "--page-size", "100"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stderr.readline()
        match = re.search(r"(http://\S+/api/v1)", line)
        assert match, line
        url = match.group(1)
        # One request per endpoint first: the server decodes each dataset file lazily, and
        # requests arriving while the first one decodes were answered with empty listings.
        for template in (ds.DIRECTORY, ds.FINANCE, ds.SAIPE):
            requests.get(f"{url}/{template.format(year=2018)}?fips=99", timeout=60)
        yield url
    finally:
        process.kill()
        process.wait()


def backfill_process(db_url, api_url, *extra):
    env = dict(
        os.environ,
        DISTRICTBENCH_DATABASE_URL=db_url,
        DISTRICTBENCH_API_URL=api_url,
        DISTRICTBENCH_BACKOFF_BASE="0.01",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "districtbench", "backfill", *ARGS, *extra],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )


def kill_after_units(db_url, api_url, units):
    """Start a backfill, SIGKILL it once `units` units have finished (or it ends)."""
    process = backfill_process(db_url, api_url, "--verbose")
    seen = 0
    for line in process.stderr:
        seen += bool(UNIT_LINE.match(line))
        if seen >= units:
            process.send_signal(signal.SIGKILL)
            break
    process.wait()
    return seen


def run_to_end(db_url, api_url):
    """The same command, run in-process to the end."""
    env = {"DISTRICTBENCH_DATABASE_URL": db_url, "DISTRICTBENCH_API_URL": api_url, "DISTRICTBENCH_BACKOFF_BASE": "0.01"}
    result = CliRunner().invoke(build_app(), ["backfill", *ARGS], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def snapshot(url):
    engine = create_db_engine(url)
    skip = {"id", "created_at", "updated_at", "fetched_at"}
    result = {}
    try:
        with engine.connect() as connection:
            for table in (tables.districts, tables.district_data_history, tables.fetch_units):
                columns = [c for c in table.c if c.name not in skip]
                query = sa.select(*columns).order_by(*columns[:4])
                result[table.name] = [tuple(row) for row in connection.execute(query)]
    finally:
        engine.dispose()
    return result


def assert_units_atomic(snap):
    """Each unit is all or nothing: its history rows exist iff it is recorded complete."""
    history = Counter((row[2], row[0][:2]) for row in snap["district_data_history"])
    complete = {(row[0], row[2]): row[4] for row in snap["districtbench_fetch_units"] if row[3] == "complete"}
    for (history_source, fips), count in history.items():
        names = {"ccd_directory": ("enrollment", "ell"), "ccd_finance": ("finance",), "saipe": ("poverty",)}
        written = [complete[(name, fips)] for name in names[history_source] if (name, fips) in complete]
        assert written and all(n == count for n in written), (history_source, fips, count, written)
    for (name, fips), rows in complete.items():
        source = {"enrollment": "ccd_directory", "ell": "ccd_directory", "finance": "ccd_finance", "poverty": "saipe"}[name]
        assert history[(source, fips)] == rows


def test_killed_run_resumes_to_the_same_database(db_url, db_kind, database_factory, fake_api_process):
    api = fake_api_process
    uninterrupted = database_factory.new_url(template=db_fixtures._migrated_templates[db_kind])
    run_to_end(uninterrupted, api)
    expected = snapshot(uninterrupted)
    assert len(expected["district_data_history"]) > 1500
    assert {row[3] for row in expected["districtbench_fetch_units"]} == {"complete"}

    kill_at = {"sqlite": 2, "postgresql": 5}[db_kind]  # two different moments
    assert kill_after_units(db_url, api, kill_at) >= kill_at  # killed mid-run, units in flight
    partial = snapshot(db_url)
    done = [row for row in partial["districtbench_fetch_units"] if row[3] == "complete"]
    assert 0 < len(done) < 16
    assert_units_atomic(partial)
    output = run_to_end(db_url, api)
    assert f"{len(done)} already complete" in " ".join(output.split())
    assert snapshot(db_url) == expected


def interrupt_after_units(db_url, api_url, units):
    """Start a backfill, press Ctrl-C (a real SIGINT) once `units` units have finished."""
    process = backfill_process(db_url, api_url, "--verbose")
    seen = 0
    for line in process.stderr:
        seen += bool(UNIT_LINE.match(line))
        if seen >= units:
            process.send_signal(signal.SIGINT)
            break
    rest = process.stderr.read()
    process.wait(timeout=120)
    return process.returncode, rest


def test_ctrl_c_keeps_completed_units_and_the_rerun_ends_the_same(db_url, db_kind, database_factory, fake_api_process):
    api = fake_api_process
    uninterrupted = database_factory.new_url(template=db_fixtures._migrated_templates[db_kind])
    run_to_end(uninterrupted, api)
    expected = snapshot(uninterrupted)

    code, after = interrupt_after_units(db_url, api, 3)
    assert code == 130, after
    assert "interrupted; completed work is kept" in " ".join(after.split()) and "Traceback" not in after
    partial = snapshot(db_url)
    done = [row for row in partial["districtbench_fetch_units"] if row[3] == "complete"]
    assert 3 <= len(done) < 16
    assert_units_atomic(partial)
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as connection:
            logged = connection.execute(sa.select(tables.data_refresh_logs.c.error_message)).scalars().all()
    finally:
        engine.dispose()
    assert any(message and "interrupted with" in message for message in logged), logged
    output = run_to_end(db_url, api)
    assert f"{len(done)} already complete" in " ".join(output.split())
    assert snapshot(db_url) == expected


def test_two_runs_at_once_end_with_the_same_database_as_one(db_url, db_kind, database_factory, fake_api_process):
    api = fake_api_process
    alone = database_factory.new_url(template=db_fixtures._migrated_templates[db_kind])
    run_to_end(alone, api)
    expected = snapshot(alone)

    first, second = backfill_process(db_url, api), backfill_process(db_url, api)
    errors = [first.stderr.read(), second.stderr.read()]
    codes = [first.wait(timeout=300), second.wait(timeout=300)]
    assert codes == [0, 0], errors
    assert all("Traceback" not in text for text in errors)
    assert snapshot(db_url) == expected
