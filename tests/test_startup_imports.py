"""Which modules a command imports (issue 16 item 7): checked in a new process, not timed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("sqlalchemy", "requests", "rich.progress", "typer")
COMMANDS = ("run", "demo", "status", "show", "report", "export", "backfill", "compute", "migrate", "prisma",
            "sources", "metrics")


def modules_after(args: list[str], tmp_path) -> tuple[set[str], subprocess.CompletedProcess]:
    """Run `districtbench ARGS` as the console script does, then list sys.modules."""
    code = (
        "import atexit, json, sys\n"
        "atexit.register(lambda: sys.__stderr__.write('MODULES=' + json.dumps(sorted(sys.modules)) + '\\n'))\n"
        f"sys.argv = ['districtbench'] + {args!r}\n"
        "from districtbench.cli import main\n"
        "main()\n"
    )
    process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                             env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DISTRICTBENCH_CACHE_DIR": str(tmp_path)})
    line = [text for text in process.stderr.splitlines() if text.startswith("MODULES=")][-1]
    return set(json.loads(line.removeprefix("MODULES="))), process


def imported(modules: set[str], package: str) -> bool:
    return any(name == package or name.startswith(package + ".") for name in modules)


def test_version_imports_no_typer_database_http_or_rich(tmp_path):
    modules, process = modules_after(["--version"], tmp_path)
    assert process.stdout == "districtbench 0.1.0\n"
    assert [name for name in HEAVY + ("rich",) if imported(modules, name)] == []


def test_help_imports_no_database_layer_nor_http_client(tmp_path):
    modules, process = modules_after(["--help"], tmp_path)
    assert "compute" in process.stdout and "backfill" in process.stdout
    assert [name for name in ("sqlalchemy", "requests", "rich.progress") if imported(modules, name)] == []


@pytest.mark.parametrize("command", COMMANDS)
def test_a_commands_help_imports_no_database_layer_nor_http_client(command, tmp_path):
    modules, process = modules_after([command, "--help"], tmp_path)
    assert process.returncode == 0, process.stderr
    assert f"districtbench {command}" in process.stdout  # its own usage line
    assert [name for name in ("sqlalchemy", "alembic", "requests", "rich.progress") if imported(modules, name)] == []


def test_a_commands_help_does_not_resolve_the_settings_but_the_command_does(tmp_path):
    _, helped = modules_after(["--database-url", "mysql://nowhere/db", "status", "--help"], tmp_path)
    assert helped.returncode == 0 and "districtbench status" in helped.stdout
    _, ran = modules_after(["--database-url", "mysql://nowhere/db", "status"], tmp_path)
    assert ran.returncode == 2 and "Unsupported database 'mysql'" in ran.stderr


def test_compute_imports_no_http_client(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    _, migrated = modules_after(["--database-url", url, "migrate"], tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    modules, process = modules_after(["--database-url", url, "compute", "all"], tmp_path)
    assert process.returncode == 0, process.stderr
    assert imported(modules, "sqlalchemy")  # it did run
    assert [name for name in ("requests", "urllib3", "rich.progress") if imported(modules, name)] == []


def test_export_imports_no_http_client_nor_progress(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    _, migrated = modules_after(["--database-url", url, "migrate"], tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    modules, process = modules_after(["--database-url", url, "export", "-o", str(tmp_path / "out.csv")], tmp_path)
    assert process.returncode == 0, process.stderr
    assert [name for name in ("requests", "urllib3", "rich.progress") if imported(modules, name)] == []


def test_show_checks_plugin_branches_without_importing_the_built_in_sources_or_families(tmp_path):
    """The schema check looks at the installed plugins' migration branches; the built-ins
    register none, so a command that needs no sources or families does not import them."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    _, migrated = modules_after(["--database-url", url, "migrate"], tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    modules, process = modules_after(["--database-url", url, "show", "0100005"], tmp_path)
    assert "No data yet" in process.stderr  # past the schema check: it ran
    assert [name for name in ("districtbench.sources.finance", "districtbench.metrics.peers") if imported(modules, name)] == []
