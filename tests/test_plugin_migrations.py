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
    assert "is already up to date (revision 0009_peers_without_rowid)" in output
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


SECOND_REVISION = '''
"""portal notes: a second table"""
import sqlalchemy as sa
from alembic import op

from districtbench.plugin_api import own_schema

revision = "portal_notes_0002"
down_revision = "portal_notes_0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("portal_note_tags", sa.Column("tag", sa.String(20), primary_key=True), schema=own_schema())


def downgrade():
    op.drop_table("portal_note_tags", schema=own_schema())
'''


def example_plugins_dir(tmp_path):
    """The README's example plugin (a family writing a table of its own branch), as installed."""
    import shutil
    from pathlib import Path

    examples = Path(__file__).resolve().parents[1] / "examples" / "plugins"
    folder = tmp_path / "example_plugins"
    folder.mkdir()
    shutil.copy(examples / "proficiency_gap.py", folder)
    shutil.copytree(examples / "proficiency_gap_migrations", folder / "proficiency_gap_migrations")
    return folder


def cli(db_url, monkeypatch, folder, *args):
    monkeypatch.setenv("DISTRICTBENCH_PLUGINS_DIR", str(folder))
    result = ex.cli(db_url, *args)
    return result.exit_code, " ".join(result.output.split())


def refresh_log_count(engine) -> int:
    return len(ex.table_rows(engine, "data_refresh_logs"))


def test_a_plugin_branch_not_applied_stops_every_command_before_it_touches_data(db_url, db_engine, tmp_path,
                                                                               monkeypatch):
    folder = example_plugins_dir(tmp_path)
    logs = refresh_log_count(db_engine)
    behind = ("plugin proficiency_gap at none (its tables are missing), latest proficiency_gap_0001, "
              "pending proficiency_gap_0001")
    for command in (("compute",), ("status",), ("show", "0100005")):
        code, output = cli(db_url, monkeypatch, folder, *command)
        assert code == 2, (command, output)
        assert behind in output and "Run `districtbench migrate` first" in output, (command, output)
        assert "Traceback" not in output and "no such table" not in output.lower()
    assert refresh_log_count(db_engine) == logs  # compute wrote nothing, not even a log row

    code, output = cli(db_url, monkeypatch, folder, "migrate", "--status")
    assert code == 2, output
    assert "plugin proficiency_gap: current none, latest proficiency_gap_0001, pending proficiency_gap_0001" in output
    assert "migration pending: yes" in output

    code, output = cli(db_url, monkeypatch, folder, "migrate")
    assert code == 0, output
    code, output = cli(db_url, monkeypatch, folder, "migrate", "--status")
    assert code == 0, output
    assert "plugin proficiency_gap: current proficiency_gap_0001, latest proficiency_gap_0001, up to date" in output
    assert "migration pending: no" in output
    code, output = cli(db_url, monkeypatch, folder, "status")
    assert code == 0, output
    assert "Plugin schema branches: proficiency_gap at proficiency_gap_0001 (its latest)" in output
    code, output = cli(db_url, monkeypatch, folder, "compute")
    assert code == 0, output
    assert refresh_log_count(db_engine) > logs


def test_a_plugin_branch_behind_its_head_is_named_and_run_migrates_it(db_url, db_engine, tmp_path, monkeypatch):
    from districtbench.pipeline import ensure_migrated

    folder = plugins_dir(tmp_path)
    branch = PluginMigrations("portal_notes", folder / "portal_notes_migrations")
    code, output = migrate(db_url, monkeypatch, folder)
    assert code == 0, output
    assert revision.at_head(db_engine, [branch])
    (folder / "portal_notes_migrations" / "0002_portal_note_tags.py").write_text(SECOND_REVISION)
    assert not revision.at_head(db_engine, [branch])
    assert revision.at_head(db_engine)  # the core alone is current

    code, output = migrate(db_url, monkeypatch, folder, "--status")
    assert code == 2, output
    assert "current revision: 0009_peers_without_rowid" in output
    assert "plugin portal_notes: current portal_notes_0001, latest portal_notes_0002, pending portal_notes_0002" in output
    code, output = cli(db_url, monkeypatch, folder, "compute")
    assert code == 2 and "plugin portal_notes at portal_notes_0001, latest portal_notes_0002, pending portal_notes_0002" in output

    assert ensure_migrated(db_engine, [branch]) == [
        "Plugin portal_notes: migrated from portal_notes_0001 to portal_notes_0002: created tables portal_note_tags."
    ]
    assert revision.at_head(db_engine, [branch]) and ensure_migrated(db_engine, [branch]) == []


def test_a_plugin_branch_migrated_by_a_newer_plugin_is_a_configuration_error(db_url, db_engine, tmp_path, monkeypatch):
    folder = plugins_dir(tmp_path)
    (folder / "portal_notes_migrations" / "0002_portal_note_tags.py").write_text(SECOND_REVISION)
    assert migrate(db_url, monkeypatch, folder)[0] == 0
    (folder / "portal_notes_migrations" / "0002_portal_note_tags.py").unlink()
    code, output = cli(db_url, monkeypatch, folder, "compute")
    assert code == 2, output
    assert "portal_notes is at portal_notes_0002, latest known portal_notes_0001" in output
    assert "Upgrade the plugin" in output


def test_the_core_and_a_plugin_branch_describe_their_changes_in_the_same_words():
    from districtbench.db.migration_report import BranchReport, MigrationReport

    branch = BranchReport("portal_notes", "portal_notes_0001", "portal_notes_0002", ["portal_note_tags"], ["old_notes"])
    core = MigrationReport("sqlite:///x.db", "0006_x", "0007_figure_sources", created_tables=["portal_note_tags"],
                           dropped_tables=["old_notes"], added_columns=["districts.a", "districts.b"])
    core.plugins = [branch, BranchReport("other", "other_0001", "other_0001")]
    assert core.summary().splitlines() == [
        "Migrated sqlite:///x.db from 0006_x to 0007_figure_sources: created tables portal_note_tags; "
        "dropped tables old_notes; added 2 columns.",
        "Plugin portal_notes: migrated from portal_notes_0001 to portal_notes_0002: created tables "
        "portal_note_tags; dropped tables old_notes.",
        "Plugin other: already up to date (revision other_0001).",
    ]
    assert BranchReport("x", None, "x_0001").summary() == "Plugin x: migrated from nothing to x_0001: no table changes."
