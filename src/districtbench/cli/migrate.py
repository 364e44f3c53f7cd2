"""`districtbench migrate`: upgrade (default), --sql, --status, --downgrade REV [--yes]."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from districtbench import console
from districtbench.cli.state import get_state
from districtbench.errors import UsageError

# What a downgrade cannot take back, in the app's tables districtbench writes.
NOT_UNDONE = (
    "Not undone by a downgrade: rows districtbench inserted into tables it did not create stay "
    "({kept}: districts from the roster, history rows, refresh logs, the state reference rows), and the "
    "values it wrote into the app's columns (the roster columns of districts, the metric columns listed "
    "in the README) keep their new values — the earlier values were not saved."
)


def register(app: typer.Typer) -> None:
    @app.command("migrate")
    def migrate_command(
        ctx: typer.Context,
        sql: bool = typer.Option(
            False,
            "--sql",
            help="Print the SQL `migrate` would run against this database (adoption included), to stdout, "
            "without changing anything. Without a reachable database: the SQL for a fresh, empty one.",
        ),
        status: bool = typer.Option(
            False,
            "--status",
            help="Show the database's current and the latest schema revision, and each plugin branch's "
            "(current, latest, pending revisions); exit code 2 if a migration is pending.",
        ),
        downgrade: Optional[str] = typer.Option(
            None,
            "--downgrade",
            metavar="REV",
            help="Go back to revision REV: a revision id (0001_base), -1 (one step back) or base "
            "(remove districtbench's schema; tables that existed before it stay). Shows what it will "
            "remove and asks first.",
            show_default=False,
        ),
        yes: bool = typer.Option(False, "--yes", "-y", help="With --downgrade: do not ask for confirmation."),
        plugin: Optional[str] = typer.Option(
            None,
            "--plugin",
            metavar="NAME",
            help="With --downgrade: take the plugin NAME's own migration branch back to REV (one of its "
            "revisions, -1 or base: its tables dropped) instead of districtbench's schema.",
            show_default=False,
        ),
    ) -> None:
        """Create or adopt the tables, add the benchmark columns and seed the state rows.

        Upgrades the database to the latest schema revision; an up-to-date database is left as it is. Tables the application already has are adopted: only missing columns are added (nullable, under the app's names where it renamed them), nothing is dropped or changed, and what districtbench needs but does not add there is listed with the statement to run.

        Example: districtbench migrate --sql > plan.sql
        """
        from districtbench.db import migrations

        chosen = [name for name, on in (("--sql", sql), ("--status", status),
                                        ("--downgrade", downgrade is not None)) if on]
        if len(chosen) > 1:
            raise UsageError(f"{' and '.join(chosen)} cannot be combined.", hint="Use one at a time.")
        state = get_state(ctx)
        if sql:
            _print_sql(state)
            return
        if plugin is not None and downgrade is None:
            raise UsageError("--plugin goes with --downgrade REV.", hint="A plain `migrate` upgrades every plugin branch.")
        if plugin is not None:
            _downgrade_plugin(state, plugin, downgrade, yes)
            return
        if downgrade is not None:
            migrations.validate_revision(downgrade)
            _downgrade(state, downgrade, yes)
            return
        engine = state.engine()
        if status:
            _print_status(state, engine)
            return
        report = migrations.upgrade(engine, plugins=list(state.plugin_migrations))
        console.info(report.summary())
        print_findings(report)


def _print_status(state, engine) -> None:
    """The core's revisions, one line per plugin branch; exit 2 (the check's error) if behind."""
    from districtbench.db import migrations
    from districtbench.db.revision import plugin_statuses

    plugins = list(state.plugin_migrations)
    current, head = migrations.current_revision(engine), migrations.head_revision()
    with engine.connect() as connection:
        branches = plugin_statuses(connection, plugins)
    typer.echo(f"database: {state.settings.masked_database_url}")
    typer.echo(f"current revision: {current or 'none (no districtbench schema)'}")
    typer.echo(f"latest revision: {head}")
    for branch in branches:
        typer.echo(branch.line())
    pending = current != head or not all(branch.up_to_date for branch in branches)
    typer.echo(f"migration pending: {'yes' if pending else 'no'}")
    migrations.require_current(engine, plugins)


def print_findings(report) -> None:
    """The app's column names in use, then what stands in the way of districtbench's writes."""
    from districtbench.db.findings import ERROR

    if report.renamed:
        console.note("The app's column names in use (districtbench's name → the app's): "
                     + "; ".join(report.mapping_lines()) + ".")
    for finding in report.findings:
        (console.warn if finding.level == ERROR else console.note)(finding.message)
        for statement in finding.statements:
            console.info(f"    {statement}")


def _print_sql(state) -> None:
    from districtbench.db import migrations

    reason = state.unavailable_reason()
    database = state.settings.masked_database_url
    if reason is not None:
        console.warn(f"No database to plan against ({reason}): showing the SQL for a fresh, empty database.")
        typer.echo(f"-- districtbench migrate --sql: {database} could not be used ({reason}).")
        typer.echo("-- This is the SQL for a fresh, empty database, not a plan for that one.")
        typer.echo(migrations.upgrade_sql(state.settings.database_url, state.settings.own_schema), nl=False)
        return
    report = migrations.upgrade(state.engine(), dry_run=True, plugins=list(state.plugin_migrations))
    start = report.from_revision or "no districtbench schema"
    typer.echo(f"-- The SQL `districtbench migrate` would run on {database} (now at {start}).")
    typer.echo("-- Recorded from the migration run in a transaction that was rolled back: nothing was changed.")
    for statement in report.statements:
        typer.echo(statement)
    if not report.statements:
        typer.echo("-- Nothing: the database is up to date.")
    if report.renamed:
        typer.echo("-- The app's column names districtbench uses: " + "; ".join(report.mapping_lines()) + ".")
    if report.findings:
        typer.echo("-- Not run: districtbench does not add keys, indexes or constraints to the app's tables.")
        typer.echo("-- For the app team to review and run:")
    for finding in report.findings:
        typer.echo(f"-- {finding.message}")
        for statement in finding.statements:
            typer.echo(f"--   {statement}")


def _downgrade(state, revision: str, yes: bool) -> None:
    from districtbench.db import migrations
    from districtbench.db.tables import APP_TABLES

    engine = state.engine()
    preview = migrations.downgrade(engine, revision, dry_run=True)
    if not preview.changed:
        console.info(f"Nothing to remove: {state.settings.masked_database_url} is at {preview.from_revision or 'no revision'}.")
        return
    console.info(f"Going back from {preview.from_revision} to {preview.to_revision or 'nothing of districtbench'} removes:")
    for label, names in (("tables", preview.dropped_tables), ("columns", preview.dropped_columns),
                         ("rows", preview.removed_rows)):
        if names:
            console.info(f"  {label} ({len(names)}): {', '.join(names)}")
    kept = [name for name in APP_TABLES if name not in preview.dropped_tables]
    if kept:
        console.info(NOT_UNDONE.format(kept=", ".join(kept)))
    if not yes:
        if not _interactive():
            raise UsageError(
                "--downgrade removes what is listed above and asks for a confirmation, but the input is not a terminal.",
                hint="Add --yes to confirm it without a prompt.",
            )
        if not typer.confirm("Remove it?", default=False, err=True):
            console.info("Nothing was changed.")
            raise typer.Exit(1)
    console.info(migrations.downgrade(engine, revision).summary())


def _downgrade_plugin(state, name: str, revision: str, yes: bool) -> None:
    from districtbench.db import migrations

    branches = {branch.name: branch for branch in state.plugin_migrations}
    if name not in branches:
        raise UsageError(f"No plugin registers the migration branch {name!r}.",
                         hint=f"Branches: {', '.join(branches) or 'none'}.")
    engine = state.engine()
    preview = migrations.downgrade_plugin(engine, branches[name], revision, dry_run=True)
    if not preview.changed:
        console.info(preview.summary())
        return
    console.info(f"Taking plugin {name} back from {preview.from_revision} to {preview.to_revision or 'nothing'} "
                 f"drops: {', '.join(preview.dropped_tables) or 'no tables'}.")
    if not yes:
        if not _interactive():
            raise UsageError("--downgrade asks for a confirmation, but the input is not a terminal.",
                             hint="Add --yes to confirm it without a prompt.")
        if not typer.confirm("Drop it?", default=False, err=True):
            console.info("Nothing was changed.")
            raise typer.Exit(1)
    console.info(migrations.downgrade_plugin(engine, branches[name], revision).summary())


def _interactive() -> bool:
    return sys.stdin.isatty()
