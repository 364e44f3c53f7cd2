"""What every command gets from the global options: settings, plugins, the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Callable

import pluggy
import typer

from districtbench.config import Settings
from districtbench.plugins.host import (
    Registry,
    build_plugin_manager,
    collect_metric_families,
    collect_sources,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

# The console script's process only (never a test or a program that builds the app, whose
# garbage must stay collectable): see `freeze_imports_on_connect`.
_freeze_on_connect = False


def freeze_imports_on_connect() -> None:
    """When a command opens its database, exempt what it imported on the way (SQLAlchemy,
    the driver, the metric families: objects that live as long as the process) from the
    garbage collector, as `main` does for the modules every command imports: in a new
    process the collector otherwise walks them again and again while `compute` runs
    (~0.1 s of a national-scale `compute all`)."""
    global _freeze_on_connect
    _freeze_on_connect = True


@dataclass
class AppState:
    # The settings, or a function resolving them on first use (`COMMAND --help` needs none:
    # resolving them imports SQLAlchemy to check the database URL).
    settings_source: Settings | Callable[[], Settings]
    # The plugins, or a function giving them on first use (the CLI's app: the built-in
    # sources and families are imported only by a command that needs them).
    plugin_manager: pluggy.PluginManager | Callable[[], pluggy.PluginManager] | None = None
    # The installed plugins without the built-ins, when the app has them apart (the CLI's app):
    # enough for the migration branches, which no built-in registers, so a command that needs
    # no sources or families does not import them just to check the schema.
    installed_plugins: pluggy.PluginManager | None = None
    _engine: Engine | None = field(default=None, repr=False)

    @cached_property
    def settings(self) -> Settings:
        source = self.settings_source
        return source() if callable(source) else source

    @cached_property
    def pm(self) -> pluggy.PluginManager:
        if self.plugin_manager is None:
            return build_plugin_manager(plugins_dir=self.settings.plugins_dir)
        if callable(self.plugin_manager):
            return self.plugin_manager()
        return self.plugin_manager

    @cached_property
    def sources(self) -> Registry:
        return collect_sources(self.pm)

    @cached_property
    def families(self) -> Registry:
        return collect_metric_families(self.pm)

    @cached_property
    def plugin_migrations(self) -> Registry:
        """The plugins' own migration branches, run by `migrate` after the core's head."""
        from districtbench.plugins.host import collect_migrations

        lean = self.installed_plugins is not None and "pm" not in self.__dict__
        return collect_migrations(self.installed_plugins if lean else self.pm)

    @cached_property
    def measures(self):
        """Which history sources provide which measures: the registered sources' declarations."""
        from districtbench.metrics.measures import from_sources

        return from_sources(self.sources)

    def engine(self) -> Engine:
        """The database engine (created on first use; reachability checked)."""
        if self._engine is None:
            from districtbench.db.engine import DbOptions, check_reachable, create_db_engine

            self._engine = create_db_engine(self.settings.database_url, DbOptions.from_settings(self.settings))
            check_reachable(self._engine)
            if _freeze_on_connect:
                import gc

                gc.freeze()
        return self._engine

    def close(self) -> None:
        """Close the engine's pooled connections (the command is over)."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def unavailable_reason(self) -> str | None:
        """Why there is no database to read (None: there is one, and `engine()` is open).
        A SQLite file that does not exist is not created just to find that out."""
        from pathlib import Path

        from sqlalchemy.engine import make_url

        from districtbench.errors import DatabaseUnavailableError

        url = make_url(self.settings.database_url)
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            if not Path(url.database).exists():
                return f"the SQLite file {url.database} does not exist yet"
        try:
            self.engine()
        except DatabaseUnavailableError as exc:
            return exc.message
        return None

    def migrated_engine(self) -> Engine:
        """The engine, after checking the schema is at the latest revision and every plugin
        branch at its head."""
        from districtbench.db.revision import at_head

        engine = self.engine()
        plugins = list(self.plugin_migrations)
        if not at_head(engine, plugins):
            from districtbench.db.migrations import require_current

            require_current(engine, plugins)  # raises, saying what is missing
        return engine

    def existing_engine(self) -> Engine:
        """`migrated_engine()` for commands that only read: a database that does not exist is
        reported, never created (connecting to a SQLite path would create the file)."""
        from districtbench.db.engine import require_existing

        require_existing(self.settings.database_url)
        return self.migrated_engine()


def get_state(ctx: typer.Context) -> AppState:
    return ctx.ensure_object(AppState) if ctx.obj is None else ctx.obj
