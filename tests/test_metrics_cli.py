"""`districtbench compute [FAMILY…|all]` and `districtbench metrics` through the CLI."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from districtbench.cli import build_app
from districtbench.plugins.host import build_plugin_manager
from tests.metrics_helpers import directory, district, insert, read_districts, read_logs
from tests.test_metrics_runner import FailingFamilies


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in ("DISTRICTBENCH_DATABASE_URL", "DIRECT_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


def compute(url: str, *args: str, plugin_manager=None):
    return CliRunner().invoke(build_app(plugin_manager), ["--database-url", url, "compute", *args])


def test_compute_all_prints_a_summary_on_stderr(db_url, db_engine):
    insert(db_engine, [district("0600001"), district("0600002")],
           [directory("0600001", 2021, enrollment=10, spec_ed=20), directory("0600002", 2021, enrollment=10)])
    result = compute(db_url, "all")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # stdout is for data
    for name in ("latest", "ratios", "averages", "trends", "deltas"):
        assert name in result.stderr
    assert "swd_pct 1" in " ".join(result.stderr.split())  # the NULLed value and why
    assert read_districts(db_engine)["0600001"]["enrollment"] == 10


def test_compute_without_arguments_runs_every_family(db_url, db_engine):
    result = compute(db_url)
    assert result.exit_code == 0, result.output
    assert [log["data_source"] for log in read_logs(db_engine)] == [
        "compute:latest", "compute:ratios", "compute:averages", "compute:trends", "compute:deltas", "compute:peers",
    ]


def test_named_families_run_in_dependency_order_with_what_they_run_after(db_url, db_engine):
    result = compute(db_url, "deltas", "latest")
    assert result.exit_code == 0, result.output
    assert [log["data_source"] for log in read_logs(db_engine)] == [
        "compute:latest", "compute:ratios", "compute:averages", "compute:deltas",
    ]
    assert "Also running ratios, averages: the families named run after them" in " ".join(result.stderr.split())


def test_unknown_family_exits_2_and_lists_the_families(db_url):
    result = compute(db_url, "latest", "averagez")
    assert result.exit_code == 2
    text = " ".join(result.stderr.split())
    assert "averagez" in text and "latest, ratios, averages, trends, deltas" in text


def test_unmigrated_database_exits_2(empty_db_url):
    result = compute(empty_db_url, "all")
    assert result.exit_code == 2
    assert "migrate" in result.stderr


def test_a_failing_family_exits_1_and_keeps_nothing(db_url, db_engine):
    insert(db_engine, [district("0600001")], [directory("0600001", 2021, enrollment=10)])
    pm = build_plugin_manager(load_entry_points=False, extra_plugins=[FailingFamilies()])
    result = compute(db_url, "latest", "boom", plugin_manager=pm)
    assert result.exit_code == 1
    text = " ".join(result.stderr.split())
    assert "boom" in text and "something broke" in text
    assert read_districts(db_engine)["0600001"]["enrollment"] is None
    assert {log["status"] for log in read_logs(db_engine)} == {"failed"}


def test_metrics_command_lists_families_and_the_eight_metrics():
    result = CliRunner().invoke(build_app(), ["metrics"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    for word in ("latest", "ratios", "averages", "trends", "deltas", "absenteeism", "graduation", "USD"):
        assert word in text  # (rich wraps long cells at the test terminal's width)


@pytest.mark.parametrize("db_kind", ["postgresql"], indirect=True)  # SQLite has no sessions to count
def test_a_command_leaves_no_database_connection_open(db_url, db_engine):
    """The CLI disposes its engine when the command ends (a library caller running many
    commands in one process, or the tests, would otherwise pile up idle connections)."""
    import sqlalchemy as sa

    database = sa.engine.make_url(db_url).database

    def sessions() -> int:
        with db_engine.connect() as connection:
            return connection.execute(
                sa.text("SELECT count(*) FROM pg_stat_activity WHERE datname = :db AND pid <> pg_backend_pid()"),
                {"db": database},
            ).scalar_one()

    def sessions_once_settled(expected: int) -> int:
        # A backend leaves pg_stat_activity a moment after its client hangs up; on a loaded
        # machine that moment can outlast the command. A leaked connection never leaves.
        import time

        count = sessions()
        for _ in range(100):
            if count == expected:
                break
            time.sleep(0.05)
            count = sessions()
        return count

    db_engine.dispose()
    before = sessions_once_settled(0)
    for _ in range(2):
        assert compute(db_url, "all").exit_code == 0
    assert sessions_once_settled(before) == before
