"""`districtbench migrate` (TEMPORARY until the Alembic revisions land)."""

from __future__ import annotations

import typer

from districtbench import console
from districtbench.cli.state import get_state


def register(app: typer.Typer) -> None:
    @app.command("migrate")
    def migrate_command(ctx: typer.Context) -> None:
        """Create or adopt the tables and seed the state rows."""
        from districtbench.db.migrations import upgrade

        state = get_state(ctx)
        upgrade(state.engine())
        console.info(f"Database {state.settings.masked_database_url} is up to date.")
