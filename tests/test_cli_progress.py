"""What a run prints while it works and when it ends: one line per source and year when piped,
a line per unit with --verbose, only errors and one result line with --quiet, the overall line
above the per-source bars on a terminal; a short run summary whose "Next:" commands are
complete and never wrapped; global options after the command."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console
from typer.testing import CliRunner

from districtbench import console
from districtbench.cli import build_app, hoist_global_options
from tests import expected as ex

ARGS = ("--years", "2018", "--states", "AR,AK")
UNIT_LINE = re.compile(r"^(enrollment|ell|finance|poverty|graduation|assessments) 2018 (AR|AK): ", re.M)


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch, tmp_path):
    monkeypatch.setenv("DISTRICTBENCH_BACKOFF_BASE", "0.01")
    monkeypatch.chdir(tmp_path)
    for name in ex.DB_ENV:
        monkeypatch.delenv(name, raising=False)
    ex.warm_dataset()


def test_piped_a_line_per_source_and_year(db_url, fake_api):
    url = db_url
    result = ex.cli(url, "backfill", "enrollment", "finance", *ARGS, api_url=fake_api.url)
    assert result.exit_code == 0, result.output
    err = result.stderr
    arkansas, alaska = ex.sample_districts(5), ex.sample_districts(2)
    assert f"enrollment 2018: 2 units, {len(arkansas) + len(alaska)} rows, none failed" in err
    assert re.search(r"^finance 2018: 2 units, [\d,]+ rows, none failed$", err, re.M)
    assert not UNIT_LINE.search(err)  # no line per unit
    assert "Backfill summary" in err


def test_verbose_a_line_per_unit(db_url, fake_api):
    url = db_url
    result = ex.cli(url, "backfill", "enrollment", *ARGS, "--verbose", api_url=fake_api.url)
    assert result.exit_code == 0, result.output
    lines = UNIT_LINE.findall(result.stderr)
    assert sorted(lines) == [("enrollment", "AK"), ("enrollment", "AR")]
    assert f"enrollment 2018 AR: {len(ex.sample_districts(5))} rows" in result.stderr


def test_quiet_only_errors_and_the_result(database_factory, fake_api):
    fake_api.add_fault("status", path_contains="ccd/finance/2018/?fips=2", status=503, times=None)
    url = database_factory.new_url()
    result = ex.cli(url, "run", *ARGS, "--quiet", api_url=fake_api.url)
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 2, lines
    assert lines[0].startswith("error: finance 2018 AK: FAILED: retries exhausted")
    assert lines[1].startswith("error: finished with failures: 11 units fetched (")
    # a failed unit means nothing is computed (issue 13.5), and the one result line says so
    assert "1 failed; not computed (units failed; --compute-anyway computes); database " in lines[1]


def test_run_summary_is_short_and_every_next_command_is_complete(database_factory, fake_api):
    url = database_factory.new_url()
    result = ex.cli(url, "run", *ARGS, api_url=fake_api.url)
    assert result.exit_code == 0, result.output
    summary = result.stderr[result.stderr.index("Run summary"):]
    assert "Backfill summary" not in result.stderr and "┃ family" not in result.stderr  # --verbose only
    for heading in ("Fetched: 12 units", "Failed: none.", "Computed: 6 families", f"Database: {url}"):
        assert heading in summary, heading
    nxt = summary[summary.index("Next:"):].splitlines()[1:]
    commands = [line.split("  #")[0].strip() for line in nxt if line.strip()]
    # The largest district loaded: Anchorage (the real page's enrollment, 2018).
    largest = max(((d["enrollment"] or 0, k) for s in (5, 2) for k, d in ex.sample_districts(s).items()))[1]
    prefix = f"districtbench --database-url {url}"
    # Anchorage has every peer feature (the real page's locale, ELL and SWD, SAIPE poverty), so
    # it is also the district suggested for --peers
    assert commands == [
        f"{prefix} status",
        f"{prefix} show {largest}",
        f"{prefix} show {largest} --peers",
        f"{prefix} report {largest} -o report-{largest}.html",
        f"{prefix} export -o benchmarks.csv",
    ]
    assert len(summary.splitlines()) < 25
    for command in commands:  # each one works as printed
        words = command.split()[1:]
        if words[2] in ("status", "show"):
            ran = CliRunner().invoke(build_app(), words)
            assert ran.exit_code == 0, command
            if "--peers" in words:
                assert "peers (national scope" in " ".join(ran.stdout.split()) and "No peer group" not in ran.stdout


def test_next_commands_are_never_wrapped_on_a_narrow_terminal(monkeypatch):
    from districtbench.cli.run import print_next

    narrow = Console(file=io.StringIO(), width=40, color_system=None)
    monkeypatch.setattr(console, "err_console", narrow)
    command = "districtbench --database-url postgresql://analyst@db.example.internal:5432/benchmarks report 4823640 -o report-4823640.html"
    print_next([("its report", command)])
    lines = narrow.file.getvalue().splitlines()
    assert lines == ["Next:", f"  {command}"]


def test_next_commands_have_their_purposes_beside_them_all_or_none(monkeypatch):
    from districtbench.cli.run import print_next

    commands = [("what is loaded and computed", "districtbench status"),
                ("one district against its state and the US", "districtbench show 4823640")]
    # 2 + 26 (longest command) + 4 + 41 (longest purpose) = 73 columns
    for width, beside in ((73, True), (72, False)):
        terminal = Console(file=io.StringIO(), width=width, color_system=None)
        monkeypatch.setattr(console, "err_console", terminal)
        print_next(commands)
        lines = terminal.file.getvalue().splitlines()
        if beside:
            assert lines == ["Next:", "  districtbench status        # what is loaded and computed",
                             "  districtbench show 4823640  # one district against its state and the US"]
        else:  # the second purpose does not fit: neither is shown, the commands stay aligned as typed
            assert lines == ["Next:", "  districtbench status", "  districtbench show 4823640"]


def test_the_overall_line_sits_above_the_bars_on_a_terminal(monkeypatch, database_factory, fake_api):
    from districtbench.backfill import run_backfill
    from districtbench.console_progress import LiveProgress
    from districtbench.plugins.host import build_plugin_manager, collect_sources
    from districtbench.urban.client import UrbanClient

    terminal = Console(file=io.StringIO(), width=120, force_terminal=True, color_system=None)
    monkeypatch.setattr(console, "err_console", terminal)
    engine = database_factory.engine(database_factory.new_url())
    from districtbench.db.migrations import upgrade

    upgrade(engine)
    sources = [s for s in collect_sources(build_plugin_manager(load_entry_points=False)) if s.name in ("enrollment", "finance")]
    with UrbanClient(fake_api.url, backoff_base=0.01) as client:
        report = run_backfill(engine, client, sources, [2018], ["05", "02"], progress=LiveProgress("normal"))
    assert not report.failures
    screen = terminal.file.getvalue().split("\x1b[2K")[-3:]  # the last frame: three lines
    last = "".join(screen)
    overall = re.search(r"all sources .* 4/4 units · +\d[\d,]* rows · 0 failed · \d+:\d\d:\d\d · left", last)
    assert overall, last
    assert last.index("all sources") < last.index("enrollment") < last.index("finance")


def test_global_options_after_the_command(request, db_kind, tmp_path):
    url, _ = ex.shared_run(request, db_kind, "arak")
    runner = CliRunner()
    before = runner.invoke(build_app(), ["--database-url", url, "show", "0500001", "--json"])
    after = runner.invoke(build_app(), ["show", "0500001", "--json", "--database-url", url, "--debug"])
    assert before.exit_code == after.exit_code == 0, after.output
    assert after.stdout == before.stdout
    equals = runner.invoke(build_app(), ["status", f"--database-url={url}", "--json"])
    assert equals.exit_code == 0, equals.output
    # The option still wins over the environment, wherever it is written.
    env = {"DISTRICTBENCH_DATABASE_URL": f"sqlite:///{tmp_path / 'other.db'}"}
    wins = runner.invoke(build_app(), ["export", "--states", "AK", "--database-url", url], env=env)
    assert wins.exit_code == 0, wins.output
    assert not (tmp_path / "other.db").exists()


def test_demo_with_the_database_url_after_the_command(tmp_path):
    target = tmp_path / "mine.db"
    result = CliRunner().invoke(build_app(), ["demo", *ARGS, "--database-url", f"sqlite:///{target}"])
    assert result.exit_code == 0, result.output
    assert target.exists() and not (tmp_path / "districtbench-demo.db").exists()
    assert f"districtbench --database-url sqlite:///{target} status" in result.stderr


def test_hoisting_leaves_the_commands_own_values_alone():
    app = build_app()
    from typer.main import get_command

    group = get_command(app)
    ctx = group.make_context("districtbench", ["--help"], resilient_parsing=True)
    cases = {
        ("show", "x", "--database-url", "u"): ["--database-url", "u", "show", "x"],
        ("--debug", "export", "--columns", "--debug"): ["--debug", "export", "--columns", "--debug"],
        ("show", "x", "--", "--debug"): ["show", "x", "--", "--debug"],
        ("report", "--state", "TX", "--api-url=http://a", "-o", "r.html"): ["--api-url=http://a", "report", "--state", "TX", "-o", "r.html"],
        ("--version",): ["--version"],
    }
    for args, expected in cases.items():
        assert hoist_global_options(group, ctx, list(args)) == expected, args
