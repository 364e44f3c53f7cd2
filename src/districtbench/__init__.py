"""districtbench: benchmarks for every US school district."""

import os
import sys

# The C module behind `signal`: importing `signal` itself pulls in `enum`, long enough for a
# Ctrl-C to land inside it before the handler below is installed.
import _signal as signal

__version__ = "0.1.0"

STARTUP_INTERRUPTED = b"error: interrupted during start-up; nothing was done.\n"
FINISHING_INTERRUPTED = b"error: interrupted while finishing; the command's work is kept.\n"
_interrupted_message = STARTUP_INTERRUPTED


def _exit_interrupted(signum, frame) -> None:
    """Ctrl-C before the command runs (while the modules import, plugins load, options are
    parsed) or after it returned: one line, exit 130. A KeyboardInterrupt there would print
    a traceback from deep inside some import, or click's "Aborted!" with exit code 1."""
    os.write(2, _interrupted_message)
    os._exit(130)


def _started_as_the_command() -> bool:
    """The `districtbench` console script or `python -m districtbench` — not a program or a
    test that imports the package (their Ctrl-C stays theirs)."""
    script = os.path.basename(sys.argv[0]) if sys.argv else ""
    if script.removesuffix(".exe").removesuffix("-script.py") == "districtbench":
        return True
    argv = getattr(sys, "orig_argv", [])
    return any(arg == "-m" and argv[i + 1 : i + 2] == ["districtbench"] or arg == "-mdistrictbench"
               for i, arg in enumerate(argv))


# First thing, before any heavy import (and only if Ctrl-C is not ignored).
_handling_interrupts = _started_as_the_command() and signal.getsignal(signal.SIGINT) is signal.default_int_handler
if _handling_interrupts:
    signal.signal(signal.SIGINT, _exit_interrupted)


_interrupted_command = False


def _interrupt_command(signum, frame) -> None:
    """Ctrl-C while the command runs: KeyboardInterrupt, as Python's own handler raises it,
    remembered — landing inside an import, it can come out as another error (CPython turns it
    into "TypeError: expected a message argument" there), which is still the interrupt."""
    global _interrupted_command
    _interrupted_command = True
    raise KeyboardInterrupt


def command_starting() -> None:
    """The command runs now: Ctrl-C raises KeyboardInterrupt again, which the CLI turns into
    "interrupted; completed work is kept" (exit 130)."""
    if _handling_interrupts:
        signal.signal(signal.SIGINT, _interrupt_command)


def interrupted() -> bool:
    """Whether Ctrl-C came while the command ran (`command_starting`)."""
    return _interrupted_command


def command_finished() -> None:
    global _interrupted_message
    if _handling_interrupts:
        _interrupted_message = FINISHING_INTERRUPTED
        signal.signal(signal.SIGINT, _exit_interrupted)
