"""`districtbench prisma [--all] [--check FILE]`: the Prisma fields of the columns districtbench
adds to the app's tables, ready to paste; or a check of the app's schema file against them."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from districtbench import __version__, console
from districtbench.cli.state import get_state
from districtbench.errors import UsageError


def expected_models(state, everything: bool, schema_models=None):
    """(models, where they come from): the bookkeeping of a migrated database, else (or with
    `everything`) every column districtbench declares; names as this database has them.
    Without a database, the names are found in the app's schema file (`schema_models`, for
    --check) the way `migrate` finds them in the database: a known rename the file has."""
    import sqlalchemy as sa

    from districtbench.db import layout, tables
    from districtbench.db.revision import at_head
    from districtbench.prisma import fields

    configured = {(t, logical): physical for t, logical, physical in state.settings.column_overrides}
    reason = state.unavailable_reason()
    if reason is not None:
        present = {model.table: model.by_column() for model in schema_models or ()}
        physical = {(table, logical): layout.resolve(table, logical, present.get(table), configured, {})[0]
                    for table in tables.APP_TABLES for logical in layout.logical_names(table)}
        return fields.declared_models(physical), f"every column districtbench declares (no database: {reason})"
    engine = state.engine()
    migrated = at_head(engine)
    with engine.connect() as connection:
        physical = {key: name for key, (name, _) in layout.build(connection).mapping.items()}
        if everything or not migrated:
            why = "--all" if everything else "the database is not migrated yet"
            return fields.declared_models(physical), f"every column districtbench declares ({why}), with this database's names"
        c = tables.created_objects
        added = [tuple(row) for row in connection.execute(sa.select(c.c.kind, c.c.table_name, c.c.name).order_by(c.c.id))]
    return fields.added_models(added, physical), f"what districtbench added to the app's tables of {state.settings.masked_database_url}"


def database_foreign_keys(state):
    """The foreign keys on districtbench's tables in the database (table → keys; None: no
    database to read them from)."""
    import sqlalchemy as sa

    from districtbench.db import tables
    from districtbench.prisma.check import ForeignKey

    if state.unavailable_reason() is not None:
        return None
    with state.engine().connect() as connection:
        inspector = sa.inspect(connection)
        present = set(inspector.get_table_names())
        return {table: [ForeignKey(key.get("name"), tuple(key["constrained_columns"]), key["referred_table"],
                                   tuple(key["referred_columns"]), *_actions(connection, table, key))
                        for key in inspector.get_foreign_keys(table)]
                for table in tables.APP_TABLES if table in present}


def _actions(connection, table: str, key: dict) -> tuple[str, str]:
    """(ON DELETE, ON UPDATE) of a reflected foreign key, upper case. PostgreSQL's come with
    the reflection (absent: NO ACTION); SQLite's from PRAGMA foreign_key_list, which the
    reflection does not pass on."""
    if connection.dialect.name != "sqlite":
        options = key.get("options") or {}
        return (options.get("ondelete") or "NO ACTION").upper(), (options.get("onupdate") or "NO ACTION").upper()
    rows = connection.exec_driver_sql(f"PRAGMA foreign_key_list(\"{table}\")").mappings().all()
    by_id: dict[int, list] = {}
    for row in rows:
        by_id.setdefault(row["id"], []).append(row)
    for parts in by_id.values():
        parts.sort(key=lambda row: row["seq"])
        if (parts[0]["table"], tuple(row["from"] for row in parts)) == (key["referred_table"],
                                                                          tuple(key["constrained_columns"])):
            return parts[0]["on_delete"].upper(), parts[0]["on_update"].upper()
    return "NO ACTION", "NO ACTION"


def render(models, source: str) -> str:
    lines = [
        f"// districtbench {__version__}: the Prisma fields of {source}.",
        "// Paste the lines of each block into the app's model of that table (the one mapped to it), or the",
        "// whole block where the app has no model for the table yet. Then see the README,",
        "// \"Using districtbench with a Prisma app\", for the migration to record them without drift.",
    ]
    if not models:
        lines.append("// districtbench added nothing to the app's tables: there is nothing to paste.")
    for model in models:
        lines += ["", model.render()]
    return "\n".join(lines) + "\n"


def register(app: typer.Typer) -> None:
    @app.command("prisma")
    def prisma_command(
        ctx: typer.Context,
        check: Optional[Path] = typer.Option(
            None, "--check", metavar="FILE", dir_okay=False,
            help="Compare the app's schema.prisma with these fields instead: list what is missing, typed "
            "differently or has another @default, and (with a database) each @relation no foreign key backs; "
            "exit 1 if anything is (for the app's CI).",
        ),
        everything: bool = typer.Option(
            False, "--all", help="Every column districtbench declares on the app's tables, not only what it added.",
        ),
    ) -> None:
        """Print the Prisma field lines of the columns districtbench adds to the app's tables.

        With a migrated database: what its bookkeeping says districtbench added (columns, and whole models for tables it created), under the database's column names. Without a database, or with --all: every column it declares. In the app's CI, `--check prisma/schema.prisma` compares the app's schema file with them.

        Example: districtbench prisma > districtbench.prisma
        """
        from districtbench.prisma.check import compare, relations
        from districtbench.prisma.schema_file import parse

        state = get_state(ctx)
        if check is None:
            models, source = expected_models(state, everything)
            typer.echo(render(models, source), nl=False)
            return
        try:
            text = check.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"Cannot read {check}: {exc.strerror if isinstance(exc, OSError) else exc}.",
                             hint="Give the path of the app's schema file, e.g. prisma/schema.prisma.") from None
        app_models = parse(text, str(check))
        models, source = expected_models(state, everything, app_models)
        problems = compare(models, app_models)
        keys = database_foreign_keys(state)
        if keys is not None:
            problems += relations(app_models, keys)
        for problem in problems:
            typer.echo(problem.text())
        checked = sum(1 for model in models for f in model.fields if f.scalar is not None)
        if problems:
            console.error_line(f"{check}: {len(problems)} difference(s) from {source}.")
            console.info("Paste the lines shown (`districtbench prisma` prints them all), fix the relations the "
                         "database does not back, then run the check again.")
            raise typer.Exit(1)
        backed = ("its relations on districtbench's tables are backed by foreign keys" if keys is not None
                  else "relations not checked without a database")
        console.info(f"{check} declares all {checked} fields with their defaults ({source}); {backed}.")
