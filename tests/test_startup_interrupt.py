"""Ctrl-C while `districtbench` is still starting (importing its modules, loading plugins) ends
with one line and exit code 130, never a traceback: a real SIGINT to a real process, for the
console script and `python -m districtbench`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import districtbench

CONSOLE_SCRIPT = str(Path(sys.executable).with_name("districtbench"))
COMMANDS = {"console script": [CONSOLE_SCRIPT], "python -m": [sys.executable, "-m", "districtbench"]}
ONE_LINE = districtbench.STARTUP_INTERRUPTED.decode()
# the other two moments: while the command runs, and after it returned
ONE_LINE_LATER = (
    "error: interrupted; completed work is kept — run the same command again to resume.\n",
    districtbench.FINISHING_INTERRUPTED.decode(),
)
PACKAGE_DIR = str(Path(districtbench.__file__).parent)
SLOW_PLUGIN_MARKER = "slow plugin: importing"


@pytest.fixture
def slow_plugin(tmp_path) -> dict[str, str]:
    """An installed plugin (an entry point of the `districtbench` group, found on PYTHONPATH)
    whose module takes a minute to import: the command is caught in the middle of start-up."""
    (tmp_path / "slow_plugin.py").write_text(
        "import sys, time\n"
        f"print({SLOW_PLUGIN_MARKER!r}, file=sys.stderr, flush=True)\n"
        "time.sleep(60)\n"
    )
    info = tmp_path / "slow_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: slow-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[districtbench]\nslow = slow_plugin\n")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))}


@pytest.mark.parametrize("how", list(COMMANDS))
def test_ctrl_c_while_a_plugin_imports(tmp_path, slow_plugin, how):
    process = subprocess.Popen([*COMMANDS[how], "sources"], cwd=tmp_path, env=slow_plugin,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr.readline().strip() == SLOW_PLUGIN_MARKER
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert err == ONE_LINE and out == ""


WIDE = {**os.environ, "COLUMNS": "200"}  # the console's messages on one line whatever the terminal


def _interrupt_after(command: list[str], delay: float, cwd: Path) -> tuple[int, str]:
    process = subprocess.Popen(command, cwd=cwd, env=WIDE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    return process.returncode, err


@pytest.mark.parametrize("how", list(COMMANDS))
def test_ctrl_c_at_any_moment_of_start_up(tmp_path, how):
    """SIGINT at moments spread over the whole run of `districtbench metrics`. Before
    districtbench's first line runs (the interpreter, `site`, the generated script's own
    `import re`), Python's handling is all there is; from then on every outcome is one line
    and 130, or the command finished first. (`metrics`: `sources` reads the API's catalog, so
    most of its run would be network, not start-up.)"""
    command = [*COMMANDS[how], "metrics"]
    began = time.perf_counter()
    subprocess.run(command, cwd=tmp_path, env=WIDE, capture_output=True, check=True, timeout=60)
    start_up = time.perf_counter() - began
    caught = 0
    # a sweep of 30 moments; on a loaded machine the run's length moves between sweeps, so
    # up to two more sweeps are made until 8 interrupts have landed in start-up
    for sweep in range(3):
        if caught >= 8:
            break
        caught += _sweep(command, start_up, tmp_path, offset=sweep / 3)
    assert caught >= 8  # most of start-up is districtbench's own imports


def _sweep(command: list[str], start_up: float, cwd: Path, offset: float) -> int:
    """SIGINT at 30 moments over 1.25 runs' length; how many came in start-up (one line, 130)."""
    caught = 0
    for step in range(30):
        code, err = _interrupt_after(command, start_up * (step + offset) / 24, cwd)
        if code == 130:
            assert err == ONE_LINE or err in ONE_LINE_LATER, err
            caught += err == ONE_LINE
        elif "Traceback" in err or code == -signal.SIGINT:
            assert PACKAGE_DIR not in err, err  # the signal came before districtbench's code ran
        else:
            assert code == 0 and "Traceback" not in err, err  # it had finished
    return caught
