"""The command line. `main` is the console script: `districtbench --version` is answered
here, before Typer or anything else is imported; every other command line builds the Typer
app of `districtbench.cli.application` (which the names below are looked up in, so
`from districtbench.cli import build_app` keeps working)."""

from __future__ import annotations

import sys

from districtbench import __version__


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        sys.stdout.write(f"districtbench {__version__}\n")
        sys.stdout.flush()
        return
    from districtbench.cli.application import main as run_command_line

    run_command_line()


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    import importlib

    application = importlib.import_module("districtbench.cli.application")
    try:
        return getattr(application, name)
    except AttributeError:
        raise AttributeError(f"module 'districtbench.cli' has no attribute {name!r}") from None
