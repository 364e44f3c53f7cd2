"""The command line as a whole: --version, help on every command and option, exit codes."""

from __future__ import annotations

import re
import types
from importlib.metadata import version

import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner

from districtbench.cli import build_app
from districtbench.errors import ComputeError, FetchError, UsageError
from districtbench.plugins.hookspecs import hookimpl
from districtbench.plugins.host import build_plugin_manager

EXPECTED_COMMANDS = {"migrate", "sources", "metrics"}  # at least these (cli.md)


def flat(text: str) -> str:
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in ("DISTRICTBENCH_DATABASE_URL", "DIRECT_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def app():
    return build_app()  # the real built-in plugins, as users get them


def test_version(app):
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"districtbench {version('districtbench')}\n"


def test_help_lists_the_commands_with_their_help(app):
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    text = flat(result.stdout)
    for option in ("--database-url", "--api-url", "--debug", "--version"):
        assert option in text
    for name, command in get_command(app).commands.items():
        assert name in text
        summary = (command.help or "").strip().splitlines()[0]
        assert summary, f"command {name} has no help text"
        assert flat(summary)[:30] in text


def test_every_command_and_option_has_help(app):
    group = get_command(app)
    assert EXPECTED_COMMANDS <= set(group.commands)
    assert all(p.help for p in group.params if p.name != "help"), "a global option lacks help"
    for name, command in group.commands.items():
        result = CliRunner().invoke(app, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert (command.help or "").strip(), f"{name} has no help"
        for param in command.params:
            if isinstance(param, typer.core.TyperOption) or param.param_type_name == "option":
                assert getattr(param, "help", None), f"{name} {param.opts} has no help text"


def test_usage_errors_exit_2(app):
    runner = CliRunner()
    assert runner.invoke(app, ["no-such-command"]).exit_code == 2
    assert runner.invoke(app, ["--no-such-option"]).exit_code == 2
    assert runner.invoke(app, ["migrate", "--downgrade"]).exit_code == 2  # missing value


def _failing_app():
    def add_commands(app: typer.Typer) -> None:
        @app.command("fail-usage")
        def fail_usage() -> None:
            """Raise a usage error."""
            raise UsageError("no such year 1850 for source finance", hint="finance has 1991–2020.")

        @app.command("fail-units")
        def fail_units() -> None:
            """Raise a fetch error."""
            raise FetchError("https://api.example/x", "HTTP 503 after 5 attempts")

        @app.command("fail-compute")
        def fail_compute() -> None:
            """Raise a compute error."""
            raise ComputeError("family deltas failed")

        @app.command("fail-bug")
        def fail_bug() -> None:
            """Raise an unexpected error."""
            raise RuntimeError("something unexpected")

        @app.command("interrupt")
        def interrupt() -> None:
            """Act like Ctrl-C."""
            raise KeyboardInterrupt

    module = types.ModuleType("failing_commands")
    module.register_commands = hookimpl(lambda app: add_commands(app))
    pm = build_plugin_manager(default_plugins=(), load_entry_points=False, extra_plugins=[module])
    return build_app(plugin_manager=pm)


@pytest.mark.parametrize("command, code, text", [
    ("fail-usage", 2, "error: no such year 1850 for source finance finance has 1991–2020."),
    ("fail-units", 1, "error: HTTP 503 after 5 attempts (https://api.example/x)"),
    ("fail-compute", 1, "error: family deltas failed"),
    ("fail-bug", 1, "error: unexpected error: RuntimeError: something unexpected"),
    ("interrupt", 130, "error: interrupted"),
])
def test_errors_are_one_red_line_with_their_exit_code(command, code, text):
    result = CliRunner().invoke(_failing_app(), [command])
    assert result.exit_code == code, result.output
    assert flat(result.stderr).startswith(text)
    assert "Traceback" not in result.output


def test_debug_shows_the_traceback():
    result = CliRunner().invoke(_failing_app(), ["--debug", "fail-bug"])
    assert result.exit_code == 1
    assert "Traceback" in result.stderr and "RuntimeError: something unexpected" in result.stderr
    plain = CliRunner().invoke(_failing_app(), ["fail-bug"])
    assert "--debug" in flat(plain.stderr)


USAGE = {  # the usage line of each command, as a person reads it
    "backfill": "districtbench backfill [OPTIONS] SOURCE...",
    "compute": "districtbench compute [OPTIONS] [FAMILY...]",
    "show": "districtbench show [OPTIONS] LEAID",
    "report": "districtbench report [OPTIONS] [LEAID]",
    "export": "districtbench export [OPTIONS]",
    "run": "districtbench run [OPTIONS]",
}


def test_help_is_readable_with_one_example_per_command(app):
    group = get_command(app)
    top = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "100"})
    assert "<bool>" not in top.stdout and "--install-completion" not in top.stdout
    for name in group.commands:
        result = CliRunner().invoke(app, [name, "--help"], env={"COLUMNS": "100"})
        assert result.exit_code == 0, (name, result.output)
        text = flat(result.stdout)
        assert "<bool>" not in text and "<list[str]>" not in text, name
        examples = re.findall(r"Example: districtbench (\S+)", text)
        assert examples and examples[0] == name and len(examples) == 1, (name, examples)
        if name in USAGE:
            assert f"Usage: {USAGE[name]}" in text, (name, text[:120])
        assert "may also be given after the command" in text, name
