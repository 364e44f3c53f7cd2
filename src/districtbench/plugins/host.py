"""Builds the plugin manager and collects what the plugins register."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import warnings
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Iterable

import pluggy

from districtbench.errors import PluginError
from districtbench.plugins import hookspecs

ENTRY_POINT_GROUP = "districtbench"
# Modules loaded from a plugins folder are named `districtbench_plugins_dir.<file stem>`.
PLUGINS_DIR_PACKAGE = "districtbench_plugins_dir"
# As a command argument: every registered source or metric family.
ALL = "all"

# Built-in sources and families are ordinary plugin modules, always registered.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "districtbench.sources.directory",
    "districtbench.sources.finance",
    "districtbench.sources.poverty",
    "districtbench.sources.graduation",
    "districtbench.sources.assessments",
    "districtbench.sources.absenteeism",
    "districtbench.metrics.latest",
    "districtbench.metrics.ratios",
    "districtbench.metrics.averages",
    "districtbench.metrics.trends",
    "districtbench.metrics.deltas",
    "districtbench.metrics.peers",
)


class PluginLoadWarning(UserWarning):
    """A plugin could not be imported or loaded; it was skipped."""


@dataclass
class Registry:
    """Named things registered by plugins; a second registration of a name is an error."""

    kind: str
    items: dict[str, Any] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)

    def add(self, item: Any, owner: str) -> None:
        name = getattr(item, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(f"Plugin {owner} registered a {self.kind} without a name: {item!r}")
        if name in self.items:
            raise PluginError(
                f"Two plugins register the {self.kind} {name!r}: {self.owners[name]} and {owner}.",
                hint="Uninstall or rename one of them.",
            )
        self.items[name] = item
        self.owners[name] = owner

    def __getitem__(self, name: str) -> Any:
        return self.items[name]

    def __contains__(self, name: object) -> bool:
        return name in self.items

    def __iter__(self):
        return iter(self.items.values())

    def names(self) -> list[str]:
        return list(self.items)


def build_plugin_manager(
    *,
    default_plugins: Iterable[str] = DEFAULT_PLUGINS,
    load_entry_points: bool = True,
    extra_plugins: Iterable[object] = (),
    plugins_dir: Path | str | None = None,
) -> pluggy.PluginManager:
    """A fresh manager: built-ins by module name, installed plugins by entry point, then each
    `*.py` file of `plugins_dir` (`DISTRICTBENCH_PLUGINS_DIR`) as a plugin module of its own,
    in file-name order. A plugin that fails to import is a warning, and skipped."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for module_name in default_plugins:
        _register_module(pm, module_name)
    if load_entry_points:
        for entry_point in entry_points(group=ENTRY_POINT_GROUP):
            try:
                plugin = entry_point.load()
            except Exception as exc:  # any import failure must not break the CLI
                _warn(f"Plugin {entry_point.name!r} ({entry_point.value}) failed to load: {exc}")
                continue
            _register_object(pm, plugin, entry_point.name)
    if plugins_dir is not None:
        for path in plugin_files(plugins_dir):
            _register_file(pm, path)
    for plugin in extra_plugins:
        _register_object(pm, plugin, getattr(plugin, "__name__", None) or repr(plugin))
    _drop_invalid_plugins(pm)
    return pm


def _drop_invalid_plugins(pm: pluggy.PluginManager) -> None:
    """A plugin with a misspelled hook name is skipped with a warning, like one that fails
    to import: it must not break the CLI."""
    while True:
        try:
            pm.check_pending()
            return
        except pluggy.PluginValidationError as exc:
            name = pm.get_name(exc.plugin) or repr(exc.plugin)
            _warn(f"Plugin {name!r} skipped: {exc}")
            pm.unregister(exc.plugin)


def _register_module(pm: pluggy.PluginManager, module_name: str) -> None:
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        _warn(f"Plugin {module_name!r} failed to import: {exc}")
        return
    _register_object(pm, module, module_name)


def plugin_files(plugins_dir: Path | str) -> list[Path]:
    """The plugin modules of a plugins folder: its `*.py` files (not `_*.py`), sorted. A folder
    that does not exist is a warning (a typo in the variable must not go unnoticed)."""
    folder = Path(plugins_dir).expanduser()
    if not folder.is_dir():
        _warn(f"Plugins folder {str(folder)!r} does not exist or is not a folder; no plugins loaded from it")
        return []
    return sorted(path for path in folder.glob("*.py") if not path.name.startswith("_"))


def _register_file(pm: pluggy.PluginManager, path: Path) -> None:
    """Import one file of the plugins folder as a module and register it under its path (so a
    duplicate name names the file)."""
    module_name = f"{PLUGINS_DIR_PACKAGE}.{path.stem}"
    try:
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise ImportError("not a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # dataclasses and pickling look modules up by name
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(module_name, None)
            raise
    except Exception as exc:
        _warn(f"Plugin {str(path)!r} failed to import: {type(exc).__name__}: {exc}")
        return
    _register_object(pm, module, str(path))


def _register_object(pm: pluggy.PluginManager, plugin: object, name: str) -> None:
    if pm.is_registered(plugin) or pm.has_plugin(name):
        return
    try:
        pm.register(plugin, name=name)
    except Exception as exc:
        _warn(f"Plugin {name!r} could not be registered: {exc}")


def _warn(message: str) -> None:
    warnings.warn(message, PluginLoadWarning, stacklevel=3)


def _collect(pm: pluggy.PluginManager, hook_name: str, kind: str) -> Registry:
    registry = Registry(kind)
    hook = getattr(pm.hook, hook_name)
    for impl in hook.get_hookimpls():
        owner = pm.get_name(impl.plugin) or repr(impl.plugin)
        impl.function(register=lambda item, _owner=owner: registry.add(item, _owner))
    return registry


def collect_sources(pm: pluggy.PluginManager) -> Registry:
    return _collect(pm, "register_sources", "source")


def collect_metric_families(pm: pluggy.PluginManager) -> Registry:
    return _collect(pm, "register_metric_families", "metric family")


def collect_migrations(pm: pluggy.PluginManager) -> Registry:
    """The plugins' own migration branches (`db.plugin_migrations.PluginMigrations`)."""
    return _collect(pm, "register_migrations", "migration branch")


def with_default_plugins(pm: pluggy.PluginManager, default_plugins: Iterable[str] = DEFAULT_PLUGINS) -> pluggy.PluginManager:
    """A manager with the built-ins first, then the plugins `pm` holds (already loaded and
    checked), in their order: what `build_plugin_manager()` gives, for a `pm` built without
    the built-ins. The CLI builds its app that way, so `--help` lists the installed plugins'
    commands without importing the built-in sources and families (and SQLAlchemy with them)."""
    full = pluggy.PluginManager(hookspecs.PROJECT)
    full.add_hookspecs(hookspecs)
    for module_name in default_plugins:
        _register_module(full, module_name)
    for name, plugin in pm.list_name_plugin():
        _register_object(full, plugin, name)
    _drop_invalid_plugins(full)
    return full
