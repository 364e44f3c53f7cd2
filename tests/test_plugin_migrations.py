"""A plugin ships its own tables through `register_migrations` (issue 16.4): its own Alembic
branch, run by `districtbench migrate` after the core's head, reported, in districtbench's own
schema and never among the app's tables; its downgrade too. Both databases."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from districtbench.db import migrations, revision
from districtbench.db.engine import own_schema
from districtbench.db.plugin_migrations import PluginMigrations
from tests import expected as ex

PLUGIN = '''
from pathlib import Path

from districtbench.plugin_api import PluginMigrations, hookimpl


@hookimpl
def register_migrations(register):
    register(PluginMigrations("portal_notes", Path(__file__).with_name("portal_notes_migrations")))
'''

REVISION = '''
"""portal notes: one table of the plugin's own"""
import sqlalchemy as sa
from alembic import op

from districtbench.plugin_api import own_schema

revision = "portal_notes_0001"
down_revision = None
branch_labels = ("portal_notes",)
depends_on = None


def upgrade():
    op.create_table("portal_notes", sa.Column("leaid", sa.String(7), primary_key=True), sa.Column("note", sa.Text),
                    schema={schema})


def downgrade():
    op.drop_table("portal_notes", schema={schema})
'''


def plugins_dir(tmp_path, schema: str = "own_schema()"):
    folder = tmp_path / "plugins"
    (folder / "portal_notes_migrations").mkdir(parents=True)
    (folder / "portal_notes.py").write_text(PLUGIN)
    (folder / "portal_notes_migrations" / "0001_portal_notes.py").write_text(REVISION.replace("{schema}", schema))
    return folder


def migrate(db_url, monkeypatch, folder, *args):
    """`districtbench migrate ARGS` with the plugins folder (read when the app is built);
    (exit code, output with its lines joined)."""
    monkeypatch.setenv("DISTRICTBENCH_PLUGINS_DIR", str(folder))
    result = ex.cli(db_url, "migrate", *args)
    return result.exit_code, " ".join(result.output.split())


def tables_by_schema(engine) -> dict[str | None, set[str]]:
    with engine.connect() as connection:
        inspector = sa.inspect(connection)
        schemas = [None] + ([own_schema(connection)] if engine.dialect.name == "postgresql" else [])
        return {schema: set(inspector.get_table_names(schema=schema)) for schema in schemas}


def test_migrate_runs_a_plugins_branch_after_the_core_and_says_so(db_url, db_engine, db_kind, tmp_path, monkeypatch):
    folder = plugins_dir(tmp_path)
    code, output = migrate(db_url, monkeypatch, folder)
    assert code == 0, output
    assert "is already up to date (revision 0007_figure_sources)" in output
    assert "Plugin portal_notes: migrated from nothing to portal_notes_0001: created tables portal_notes." in output
    found = tables_by_schema(db_engine)
    if db_kind == "postgresql":  # in districtbench's own schema, not among the app's tables
        assert "portal_notes" in found["districtbench"] and "portal_notes" not in found[None]
        assert "districtbench_alembic_version_portal_notes" in found["districtbench"]
    else:
        assert "portal_notes" in found[None]
    assert revision.at_head(db_engine)  # the core's version table keeps its one row

    code, output = migrate(db_url, monkeypatch, folder)
    assert code == 0 and "Plugin portal_notes: already up to date (revision portal_notes_0001)." in output

    code, output = migrate(db_url, monkeypatch, folder, "--downgrade", "base", "--plugin", "portal_notes", "--yes")
    assert code == 0, output
    assert "drops: portal_notes" in output
    assert "Plugin portal_notes: migrated from portal_notes_0001 to nothing: dropped tables portal_notes." in output
    assert not any("portal_notes" in names for names in tables_by_schema(db_engine).values())
    assert revision.at_head(db_engine)


def test_a_branch_that_puts_a_table_among_the_apps_is_refused_and_nothing_is_kept(db_url, db_engine, db_kind, tmp_path,
                                                                                   monkeypatch):
    if db_kind == "sqlite":  # one file, no schemas: changing an app table is what it cannot do there
        folder = plugins_dir(tmp_path, "None")
        path = folder / "portal_notes_migrations" / "0001_portal_notes.py"
        path.write_text(path.read_text().replace(
            'op.create_table("portal_notes"', 'op.add_column("districts", sa.Column("portal_note", sa.Text))\n    op.create_table("portal_notes"'
        ))
    else:
        folder = plugins_dir(tmp_path, "None")  # the search path's schema: the app's
    code, output = migrate(db_url, monkeypatch, folder)
    assert code != 0
    assert "Plugin migration branch 'portal_notes'" in output and "nothing was migrated" in output
    assert not any("portal_notes" in names for names in tables_by_schema(db_engine).values())
    with db_engine.connect() as connection:
        assert "portal_note" not in {c["name"] for c in sa.inspect(connection).get_columns("districts")}


def test_a_branch_without_its_label_is_a_clear_error(db_engine, tmp_path):
    folder = plugins_dir(tmp_path)
    path = folder / "portal_notes_migrations" / "0001_portal_notes.py"
    path.write_text(path.read_text().replace('branch_labels = ("portal_notes",)', "branch_labels = None"))
    with pytest.raises(Exception, match="branch_labels = \\('portal_notes',\\)"):
        migrations.upgrade(db_engine, plugins=[PluginMigrations("portal_notes", folder / "portal_notes_migrations")])
