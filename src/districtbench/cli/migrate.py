"""`districtbench migrate`: upgrade (default), --sql, --status, --downgrade REV."""

from __future__ import annotations

from typing import Optional

import typer

from districtbench import console
from districtbench.cli.state import get_state
from districtbench.errors import UsageError


def register(app: typer.Typer) -> None:
    @app.command("migrate")
    def migrate_command(
        ctx: typer.Context,
        sql: bool = typer.Option(
            False,
            "--sql",
            help="Print the SQL of a full upgrade to stdout instead of running it (for review, or "
            "to paste into another migration tool). Needs no database connection.",
        ),
        status: bool = typer.Option(
            False,
            "--status",
            help="Show the database's current and the latest schema revision; exit code 2 if a "
            "migration is pending.",
        ),
        downgrade: Optional[str] = typer.Option(
            None,
            "--downgrade",
            metavar="REV",
            help="Go back to revision REV: a revision id (0001_base), -1 (one step back) or base "
            "(remove districtbench's schema; tables that existed before it stay).",
            show_default=False,
        ),
    ) -> None:
        """Create or adopt the tables, add the benchmark columns and seed the state rows.

        Upgrades the database to the latest schema revision; an up-to-date database is left as it is. Tables the application already has are adopted: only missing tables, columns and indexes are added, nothing is dropped or changed.
        """
        from districtbench.db import migrations

        chosen = [name for name, on in (("--sql", sql), ("--status", status),
                                        ("--downgrade", downgrade is not None)) if on]
        if len(chosen) > 1:
            raise UsageError(f"{' and '.join(chosen)} cannot be combined.", hint="Use one at a time.")
        state = get_state(ctx)
        if sql:
            typer.echo(migrations.upgrade_sql(state.settings.database_url), nl=False)
            return
        if downgrade is not None:
            migrations.validate_revision(downgrade)
            console.info(migrations.downgrade(state.engine(), downgrade).summary())
            return
        engine = state.engine()
        if status:
            current, head = migrations.current_revision(engine), migrations.head_revision()
            typer.echo(f"database: {state.settings.masked_database_url}")
            typer.echo(f"current revision: {current or 'none (no districtbench schema)'}")
            typer.echo(f"latest revision: {head}")
            typer.echo(f"migration pending: {'no' if current == head else 'yes'}")
            migrations.require_current(engine)
            return
        console.info(migrations.upgrade(engine).summary())
