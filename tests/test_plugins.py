"""The plugin host: fake plugins registered on a fresh manager (entry points off, or faked)."""

from __future__ import annotations

import textwrap
import types
from importlib.metadata import EntryPoint
from types import SimpleNamespace

import pluggy
import pytest
import typer
from typer.testing import CliRunner

from districtbench.cli import build_app
from districtbench.errors import PluginError
from districtbench.plugins import host
from districtbench.plugins.hookspecs import hookimpl
from districtbench.plugins.host import (
    PluginLoadWarning,
    build_plugin_manager,
    collect_metric_families,
    collect_sources,
)


def plugin(name: str, *, sources=(), families=(), commands=None) -> types.ModuleType:
    """A module-like plugin that registers the given fakes (anything with a `name`)."""
    module = types.ModuleType(name)
    if sources:
        @hookimpl
        def register_sources(register):
            for source_name in sources:
                register(SimpleNamespace(name=source_name))
        module.register_sources = register_sources
    if families:
        @hookimpl
        def register_metric_families(register):
            for family_name in families:
                register(SimpleNamespace(name=family_name, runs_after=()))
        module.register_metric_families = register_metric_families
    if commands:
        @hookimpl
        def register_commands(app):
            commands(app)
        module.register_commands = register_commands
    return module


def manager(*plugins, default_plugins=()) -> pluggy.PluginManager:
    return build_plugin_manager(default_plugins=default_plugins, load_entry_points=False,
                                extra_plugins=list(plugins))


def test_fake_plugins_register_sources_and_families():
    pm = manager(plugin("acme_sources", sources=("state_portal", "charter_list")),
                 plugin("acme_metrics", families=("equity",)))
    sources = collect_sources(pm)
    assert sources.names() == ["state_portal", "charter_list"]
    assert sources.owners["state_portal"] == "acme_sources"
    assert "charter_list" in sources and sources["charter_list"].name == "charter_list"
    families = collect_metric_families(pm)
    assert families.names() == ["equity"] and families.owners["equity"] == "acme_metrics"


def test_two_plugins_with_the_same_name_is_an_error_naming_both():
    pm = manager(plugin("first_plugin", sources=("dup",)), plugin("second_plugin", sources=("dup",)))
    with pytest.raises(PluginError) as error:
        collect_sources(pm)
    message = str(error.value)
    assert "'dup'" in message and "first_plugin" in message and "second_plugin" in message
    assert error.value.exit_code == 2


def test_a_registration_without_a_name_is_an_error():
    module = types.ModuleType("nameless")

    @hookimpl
    def register_sources(register):
        register(SimpleNamespace(endpoint="x"))
    module.register_sources = register_sources
    with pytest.raises(PluginError, match="nameless"):
        collect_sources(manager(module))


def test_misspelled_hook_is_caught_by_check_pending_and_the_plugin_skipped():
    module = types.ModuleType("typo_plugin")

    @hookimpl
    def register_sourcez(register):  # noqa: ARG001 - misspelled on purpose
        pass
    module.register_sourcez = register_sourcez
    with pytest.warns(PluginLoadWarning, match="register_sourcez"):
        pm = manager(module)
    assert not pm.is_registered(module)


@pytest.fixture
def plugin_dir(tmp_path, monkeypatch):
    """A directory on sys.path with one module that fails to import and one that works."""
    (tmp_path / "broken_plugin_xyz.py").write_text("raise RuntimeError('plugin is broken on purpose')\n")
    (tmp_path / "working_plugin_xyz.py").write_text(textwrap.dedent("""
        from types import SimpleNamespace
        from districtbench.plugins.hookspecs import hookimpl

        @hookimpl
        def register_sources(register):
            register(SimpleNamespace(name="from_entry_point"))
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_a_default_plugin_that_fails_to_import_is_a_warning_and_skipped(plugin_dir):
    with pytest.warns(PluginLoadWarning, match="broken_plugin_xyz.*broken on purpose"):
        pm = manager(plugin("ok_plugin", sources=("fine",)),
                     default_plugins=("broken_plugin_xyz", "working_plugin_xyz"))
    assert collect_sources(pm).names() == ["from_entry_point", "fine"]


def _fake_entry_points(*specs: tuple[str, str]):
    points = [EntryPoint(name=name, value=value, group=host.ENTRY_POINT_GROUP) for name, value in specs]

    def entry_points(group=None, **_):
        return [p for p in points if group in (None, p.group)]
    return entry_points


def test_entry_point_plugins_load_and_a_broken_one_is_skipped(plugin_dir, monkeypatch):
    monkeypatch.setattr(host, "entry_points", _fake_entry_points(
        ("broken", "broken_plugin_xyz"), ("working", "working_plugin_xyz")))
    with pytest.warns(PluginLoadWarning, match="'broken'.*failed to load"):
        pm = build_plugin_manager(default_plugins=())
    sources = collect_sources(pm)
    assert sources.names() == ["from_entry_point"] and sources.owners["from_entry_point"] == "working"


def test_help_still_works_with_a_broken_installed_plugin(plugin_dir, monkeypatch, capsys):
    monkeypatch.setattr(host, "entry_points", _fake_entry_points(("broken", "broken_plugin_xyz")))
    app = build_app()
    assert "broken" in capsys.readouterr().err  # reported as a warning
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "migrate" in result.stdout


def test_register_commands_adds_a_command_that_runs():
    def add_hello(app: typer.Typer) -> None:
        @app.command("hello")
        def hello(who: str = typer.Option("world", help="Whom to greet.")) -> None:
            """Say hello (a third-party command)."""
            typer.echo(f"hello {who}")

    app = build_app(plugin_manager=manager(plugin("greeter", commands=add_hello)))
    result = CliRunner().invoke(app, ["hello", "--who", "districts"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "hello districts\n"
    assert "hello" in CliRunner().invoke(app, ["--help"]).stdout


def test_the_same_plugin_is_registered_once():
    module = plugin("twice", sources=("only_once",))
    pm = build_plugin_manager(default_plugins=(), load_entry_points=False, extra_plugins=[module, module])
    assert collect_sources(pm).names() == ["only_once"]


# --- a plugins folder (DISTRICTBENCH_PLUGINS_DIR) -------------------------------------------

def _write(folder, name, text):
    (folder / name).write_text(textwrap.dedent(text))


def test_a_plugins_folder_loads_each_file_and_a_broken_one_is_a_warning(tmp_path):
    _write(tmp_path, "portal.py", """
        from types import SimpleNamespace
        from districtbench.plugin_api import hookimpl

        @hookimpl
        def register_sources(register):
            register(SimpleNamespace(name="from_folder"))
    """)
    _write(tmp_path, "broken.py", "raise RuntimeError('broken on purpose')\n")
    _write(tmp_path, "_helper.py", "raise RuntimeError('never imported: a private module')\n")
    (tmp_path / "notes.txt").write_text("not a plugin")
    with pytest.warns(PluginLoadWarning, match="broken.py.*broken on purpose"):
        pm = build_plugin_manager(default_plugins=(), load_entry_points=False, plugins_dir=tmp_path)
    sources = collect_sources(pm)
    assert sources.names() == ["from_folder"]
    assert sources.owners["from_folder"] == str(tmp_path / "portal.py")


def test_a_folder_plugin_with_a_builtin_name_is_an_error_naming_both(tmp_path):
    _write(tmp_path, "mine.py", """
        from types import SimpleNamespace
        from districtbench.plugin_api import hookimpl

        @hookimpl
        def register_sources(register):
            register(SimpleNamespace(name="graduation"))
    """)
    pm = build_plugin_manager(load_entry_points=False, plugins_dir=tmp_path)
    with pytest.raises(PluginError) as error:
        collect_sources(pm)
    assert "districtbench.sources.graduation" in str(error.value) and "mine.py" in str(error.value)


def test_a_missing_plugins_folder_is_a_warning(tmp_path):
    with pytest.warns(PluginLoadWarning, match="does not exist"):
        build_plugin_manager(default_plugins=(), load_entry_points=False, plugins_dir=tmp_path / "nope")


def test_the_cli_loads_the_folder_named_by_the_variable(tmp_path, monkeypatch):
    _write(tmp_path, "greeter.py", """
        import typer
        from districtbench.plugin_api import hookimpl

        @hookimpl
        def register_commands(app):
            @app.command("hello-folder")
            def hello() -> None:
                typer.echo("hello from a folder")
    """)
    monkeypatch.setenv("DISTRICTBENCH_PLUGINS_DIR", str(tmp_path))
    result = CliRunner().invoke(build_app(), ["hello-folder"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "hello from a folder\n"


def test_plugin_api_exports_what_a_plugin_needs():
    from districtbench import plugin_api

    for name in plugin_api.__all__:
        assert getattr(plugin_api, name) is not None
    assert plugin_api.hookimpl is hookimpl
