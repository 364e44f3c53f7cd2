"""The whole plugin contract of districtbench.

A plugin is a module (or object) with functions marked `@hookimpl`. It receives a
`register` callback and calls it with the things it provides.
"""

from __future__ import annotations

from typing import Callable

import pluggy

PROJECT = "districtbench"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_sources(register: Callable[[object], None]) -> None:
    """Call `register(source)` for each data source this plugin provides.

    A source is a `districtbench.sources.base.Source`: a name, the endpoint(s) it reads,
    the years it has, the history columns it writes, and pure parsing functions.
    """


@hookspec
def register_metric_families(register: Callable[[object], None]) -> None:
    """Call `register(family)` for each metric family this plugin provides.

    A family is a `districtbench.metrics.base.MetricFamily`: a name, the families it runs
    after, the columns it writes, and set-based SQL that computes them.
    """


@hookspec
def register_migrations(register: Callable[[object], None]) -> None:
    """Call `register(PluginMigrations(name, directory))` for the tables this plugin ships.

    `directory` holds Alembic revision scripts of the plugin's own branch (the first has
    `down_revision = None` and `branch_labels = (name,)`); `districtbench migrate` runs them
    after the core's head, in the same transaction, with a version table of the plugin's own
    (`districtbench_alembic_version_<name>`). Their tables go into districtbench's own schema
    (`plugin_api.own_schema()`), never among the app's tables.
    """


@hookspec
def register_commands(app: object) -> None:
    """Add commands to the Typer `app` (third-party commands)."""
