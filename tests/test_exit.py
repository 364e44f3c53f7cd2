"""How the console script ends (`districtbench.cli.leave`): without the interpreter's teardown,
but with everything else a normal exit does — exit status, atexit functions, flushed output —
and the normal exit when another thread still runs. Checked in new processes."""

from __future__ import annotations

import subprocess
import sys


def run_main(tmp_path, args: list[str], before: str = "") -> subprocess.CompletedProcess:
    """`districtbench ARGS` as the console script runs it, after the Python of `before`."""
    code = (
        "import atexit, sys, threading, time\n"
        f"{before}\n"
        f"sys.argv = ['districtbench'] + {args!r}\n"
        "from districtbench.cli import main\n"
        "main()\n"
        "print('after main')\n"  # never reached: main ends the process
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DISTRICTBENCH_CACHE_DIR": str(tmp_path)})


def migrated(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    assert run_main(tmp_path, ["--database-url", url, "migrate"]).returncode == 0
    return url


def test_exit_status_and_atexit_output_are_kept(tmp_path):
    url = migrated(tmp_path)
    # stdout is a pipe here (block-buffered): the atexit line shows only if it is flushed after
    at_exit = "atexit.register(lambda: sys.stdout.write('atexit ran\\n'))"
    ok = run_main(tmp_path, ["--database-url", url, "metrics"], at_exit)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.endswith("atexit ran\n") and "Metric families" in ok.stdout
    assert "after main" not in ok.stdout
    bad = run_main(tmp_path, ["--database-url", url, "compute", "nosuch"], at_exit)
    assert bad.returncode == 2
    assert "Unknown metric family: nosuch" in bad.stderr and bad.stdout == "atexit ran\n"


def test_a_thread_still_running_is_waited_for(tmp_path):
    url = migrated(tmp_path)
    # it writes once the main thread has finished: only an exit that waits for it shows the line
    thread = ("def later():\n"
              "    while threading.main_thread().is_alive():\n"
              "        time.sleep(0.01)\n"
              "    sys.stdout.write('thread done\\n')\n"
              "threading.Thread(target=later).start()")
    result = run_main(tmp_path, ["--database-url", url, "metrics"], thread)
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("thread done\n")


def test_a_message_as_exit_code_is_written_and_is_status_1(tmp_path):
    code = "from districtbench.cli import leave\nleave('gone: a reason')\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert (result.returncode, result.stderr) == (1, "gone: a reason\n")
