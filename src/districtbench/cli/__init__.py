"""The command line. `main` is the console script: `districtbench --version` is answered
here, before Typer or anything else is imported; every other command line builds the Typer
app of `districtbench.cli.application` (which the names below are looked up in, so
`from districtbench.cli import build_app` keeps working)."""

from __future__ import annotations

import os
import sys

from districtbench import __version__


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        sys.stdout.write(f"districtbench {__version__}\n")
        sys.stdout.flush()
        return
    from districtbench.cli.application import main as run_command_line

    try:
        run_command_line()
    except SystemExit as exc:
        leave(exc.code)
    leave(0)


def leave(code: object) -> None:  # never returns (no `typing` import for --version)
    """Exit as `SystemExit(code)` would, without the interpreter's teardown: freeing every
    module and object one at a time (and the garbage collector's last passes) takes ~0.25 s
    after a national-scale `compute`, for memory the system takes back at once anyway. What
    else a normal exit does comes first, in its order: the atexit functions, then stdout and
    stderr flushed. With another thread still running, or a flush that fails (a closed pipe,
    `| head`), the normal exit instead, which reports that as it always has."""
    import atexit
    import threading

    if threading.active_count() == 1:
        atexit._run_exitfuncs()
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:
            pass
        else:
            os._exit(_status(code))
    raise SystemExit(code)


def _status(code: object) -> int:
    """The exit status of `SystemExit(code)`: None is 0, a number itself, anything else is
    written to stderr and is 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write(f"{code}\n")
    sys.stderr.flush()
    return 1


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    import importlib

    application = importlib.import_module("districtbench.cli.application")
    try:
        return getattr(application, name)
    except AttributeError:
        raise AttributeError(f"module 'districtbench.cli' has no attribute {name!r}") from None
