"""`districtbench demo`: the whole pipeline against the local copy of the API.

It writes its own SQLite file (districtbench-demo.db in the working folder) unless
--database-url is given — never a database configured by environment or .env.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from districtbench.cli import build_app
from districtbench.config import resolve_settings
from tests import expected as ex

CONSOLE_SCRIPT = Path(sys.executable).with_name("districtbench")
DEMO_ARGS = ("demo", "--years", "2018", "--states", "AR,AK")


def flat(text: str) -> str:
    return " ".join(text.split())


def arkansas_row(path: Path) -> tuple:
    with sqlite3.connect(path) as connection:
        return connection.execute(
            "SELECT total_districts, avg_ell_pct, avg_swd_pct, avg_student_teacher_ratio FROM states WHERE fips = '05'"
        ).fetchone()


def expected_arkansas() -> tuple:
    averages = ex.state_averages(ex.sample_districts(5).values())
    return (
        averages["total_districts"],
        averages["avg_ell_pct"],
        averages["avg_swd_pct"],
        averages["avg_student_teacher_ratio"],
    )


def as_decimals(row: tuple) -> tuple:
    return tuple(Decimal(str(value)) if isinstance(value, float) else value for value in row)


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in ex.DB_ENV:
        monkeypatch.delenv(name, raising=False)
    ex.warm_dataset()
    return tmp_path


def test_demo_console_script_writes_its_own_database(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ex.DB_ENV}
    completed = subprocess.run(
        [str(CONSOLE_SCRIPT), *DEMO_ARGS], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr
    assert completed.stdout == ""  # progress and the summary go to stderr
    err = flat(completed.stderr)
    for heading in ("local API at http://127.0.0.1:", "Run summary", "Fetched: ", "Failed: none.", "Computed: 6 families"):
        assert heading in err, heading
    assert "sqlite:///districtbench-demo.db" in err
    assert "districtbench --database-url sqlite:///districtbench-demo.db status" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["districtbench-demo.db"]  # not districtbench.db
    # Real data made it through: Arkansas's pooled figures from the real 2018 API page.
    assert as_decimals(arkansas_row(tmp_path / "districtbench-demo.db")) == expected_arkansas()


@pytest.mark.parametrize("configured_by", ["DATABASE_URL", "DISTRICTBENCH_DATABASE_URL", ".env"])
def test_demo_ignores_a_configured_application_database(clean_env, monkeypatch, configured_by):
    app_db = clean_env / "app" / "production.db"
    app_db.parent.mkdir()
    url = f"sqlite:///{app_db}"
    if configured_by == ".env":
        (clean_env / ".env").write_text(f"DATABASE_URL={url}\n", encoding="utf-8")
    else:
        monkeypatch.setenv(configured_by, url)
    assert resolve_settings(None, None, False).database_url == url  # what other commands would use
    result = CliRunner().invoke(build_app(), list(DEMO_ARGS))
    assert result.exit_code == 0, result.output
    assert not app_db.exists() and list(app_db.parent.iterdir()) == []
    assert (clean_env / "districtbench-demo.db").exists()
    assert not (clean_env / "districtbench.db").exists()
    assert as_decimals(arkansas_row(clean_env / "districtbench-demo.db")) == expected_arkansas()


def test_demo_with_an_explicit_database_url_writes_there(clean_env):
    target = clean_env / "mine.db"
    result = CliRunner().invoke(build_app(), ["--database-url", f"sqlite:///{target}", *DEMO_ARGS])
    assert result.exit_code == 0, result.output
    assert target.exists()
    assert not (clean_env / "districtbench-demo.db").exists()
    assert as_decimals(arkansas_row(target)) == expected_arkansas()
    assert f"sqlite:///{target}" in flat(result.stderr)


def test_demo_bad_years_is_a_usage_error(clean_env):
    result = CliRunner().invoke(build_app(), ["demo", "--years", "2021-2019"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert not (clean_env / "districtbench-demo.db").exists()
