"""The command line: composes the global options and one small module per command."""

from __future__ import annotations

import gc
import importlib
from typing import Optional

import typer
from typer.core import TyperGroup

from districtbench import __version__, command_finished, command_starting, console, interrupted
from districtbench.cli.state import AppState, freeze_imports_on_connect
from districtbench.config import plugins_dir as configured_plugins_dir, resolve_settings
from districtbench.errors import DistrictbenchError
from districtbench.cli.plugin_warnings import shown_as_warnings
from districtbench.plugins.host import build_plugin_manager, with_default_plugins

# Each module has `register(app)`; the order is the order of `--help`.
COMMAND_MODULES: tuple[str, ...] = (
    "districtbench.cli.run",
    "districtbench.cli.demo",
    "districtbench.cli.status",
    "districtbench.cli.show",
    "districtbench.cli.report",
    "districtbench.cli.export",
    "districtbench.cli.backfill",
    "districtbench.cli.compute",
    "districtbench.cli.migrate",
    "districtbench.cli.prisma",
    "districtbench.cli.listing",
)


DEBUG_KEY = "districtbench.debug"
HELP_ONLY_KEY = "districtbench.help_only"

# Global options a user may also write after the command (`districtbench show X --debug`).
GLOBAL_OPTIONS_WITH_VALUE = ("--database-url", "--api-url")
GLOBAL_FLAGS = ("--debug",)
GLOBAL_EPILOG = "The global options --database-url, --api-url and --debug may also be given after the command."


def hoist_global_options(group, ctx, args: list[str]) -> list[str]:
    """Move the global options found after the command name in front of it, where click
    expects them, so they mean the same wherever they are written. A command's own option of
    the same name keeps it; the values of the command's options and anything after `--` are
    never taken for a global option."""
    position = 0
    while position < len(args) and args[position].startswith("-"):
        position += 2 if args[position] in GLOBAL_OPTIONS_WITH_VALUE else 1
    if position >= len(args):
        return args
    command = group.get_command(ctx, args[position])
    if command is None:
        return args
    own: set[str] = set()
    takes_value: set[str] = set()
    for param in command.params:
        names = set(getattr(param, "opts", ())) | set(getattr(param, "secondary_opts", ()))
        own |= names
        if not getattr(param, "is_flag", False) and getattr(param, "param_type_name", "") == "option":
            takes_value |= names
    hoisted: list[str] = []
    rest: list[str] = []
    tail = args[position + 1 :]
    index = 0
    while index < len(tail):
        token = tail[index]
        name = token.split("=", 1)[0]
        if token == "--":
            rest += tail[index:]
            break
        if name in own:
            rest.append(token)
            if token in takes_value and index + 1 < len(tail):
                rest.append(tail[index + 1])
                index += 1
        elif name in GLOBAL_OPTIONS_WITH_VALUE:
            hoisted.append(token)
            if "=" not in token and index + 1 < len(tail):
                hoisted.append(tail[index + 1])
                index += 1
        elif token in GLOBAL_FLAGS:
            hoisted.append(token)
        else:
            rest.append(token)
        index += 1
    return args[:position] + hoisted + [args[position]] + rest


def _plain_flags(params):
    """Readable help: a flag shows no type (`--debug`, not `--debug <bool>`); an argument
    given a metavar is written exactly so in the usage line (`SOURCE...`, `[FAMILY...]`),
    without a Python type beside it."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
        elif getattr(param, "param_type_name", "") == "argument" and param.metavar:
            metavar = param.metavar
            param._usage_display_name = lambda metavar=metavar: metavar
            param.display_type_rich = lambda ctx: None
    return params


class DistrictbenchGroup(TyperGroup):
    """Turns library errors into one red line and the exit codes of cli.md."""

    def parse_args(self, ctx, args):
        return super().parse_args(ctx, hoist_global_options(self, ctx, list(args)))

    def get_params(self, ctx):
        return _plain_flags(super().get_params(ctx))

    def resolve_command(self, ctx, args):
        name, command, rest = super().resolve_command(ctx, args)
        ctx.meta[HELP_ONLY_KEY] = asks_for_help(rest, ctx.help_option_names)
        return name, command, rest

    def get_command(self, ctx, cmd_name):
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _plain_flags(command.get_params(ctx))
            if command.epilog is None:
                command.epilog = GLOBAL_EPILOG
        return command

    def invoke(self, ctx: typer.Context):
        try:
            command_starting()
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except DistrictbenchError as exc:
            _report(ctx, exc, str(exc))
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            _interrupted(ctx)
        except Exception as exc:  # unexpected: still one line unless --debug
            if interrupted():  # an error the interrupt caused (`districtbench.interrupted`)
                _interrupted(ctx)
            _report(ctx, exc, f"unexpected error: {type(exc).__name__}: {exc}")
            if not _debug(ctx):
                console.note("Run again with --debug for the full traceback.")
            ctx.exit(1)
        finally:
            command_finished()

    def list_commands(self, ctx: typer.Context) -> list[str]:
        return list(self.commands)  # registration order, not alphabetical


def _interrupted(ctx: typer.Context) -> None:
    console.error_line("interrupted; completed work is kept — run the same command again to resume.")
    ctx.exit(130)


def asks_for_help(args: list[str], help_names) -> bool:
    """Whether a command's arguments hold `--help` (not after `--`). Should an option's value
    be `--help` after all, the command runs, its settings resolved when it first reads them."""
    for token in args:
        if token == "--":
            return False
        if token in help_names:
            return True
    return False


def _debug(ctx: typer.Context) -> bool:
    return bool(ctx.meta.get(DEBUG_KEY))


def _report(ctx: typer.Context, exc: BaseException, message: str) -> None:
    if _debug(ctx):
        console.print_traceback(exc)
    first, _, rest = message.partition("\n")
    console.error_line(first)
    if rest:
        console.info(rest)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"districtbench {__version__}")
        raise typer.Exit()


def build_app(plugin_manager=None) -> typer.Typer:
    """A new Typer app with every built-in command and the commands plugins add."""
    app = typer.Typer(
        cls=DistrictbenchGroup,
        name="districtbench",
        help="Benchmarks for every US school district, from the Urban Institute Education Data Portal.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode="rich",
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @app.callback()
    def main_options(
        ctx: typer.Context,
        database_url: Optional[str] = typer.Option(
            None,
            "--database-url",
            metavar="URL",
            help="Database to write to. Default: $DISTRICTBENCH_DATABASE_URL, $DIRECT_URL, "
            "$DATABASE_URL (also read from ./.env), else sqlite:///districtbench.db.",
            show_default=False,
        ),
        api_url: Optional[str] = typer.Option(
            None,
            "--api-url",
            metavar="URL",
            help="Urban Institute API base URL. Default: $DISTRICTBENCH_API_URL, else "
            "https://educationdata.urban.org/api/v1.",
            show_default=False,
        ),
        debug: bool = typer.Option(False, "--debug", help="Show full tracebacks (passwords masked)."),
        version: bool = typer.Option(
            False, "--version", callback=_version_callback, is_eager=True, help="Show the version and exit."
        ),
    ) -> None:
        ctx.meta[DEBUG_KEY] = debug  # for an error in the settings themselves

        def settings():
            resolved = resolve_settings(database_url, api_url, debug)
            console.register_secret_url(resolved.database_url)
            return resolved

        ctx.obj = AppState(settings, plugin_manager=plugin_manager, installed_plugins=installed_plugins)
        ctx.call_on_close(ctx.obj.close)
        if not ctx.meta.get(HELP_ONLY_KEY):
            ctx.obj.settings  # a bad URL or variable: one error line before the command starts

    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(app)

    pm = plugin_manager
    installed_plugins = None  # the installed plugins alone (AppState.plugin_migrations)
    if pm is None:
        # installed plugins now (their commands belong in --help, their load warnings first);
        # the built-ins when a command needs sources or families (AppState.pm)
        with shown_as_warnings():
            pm = build_plugin_manager(default_plugins=(), plugins_dir=configured_plugins_dir())
        plugin_manager, installed_plugins = _with_built_ins_when_needed(pm), pm
    pm.hook.register_commands(app=app)
    return app


def _with_built_ins_when_needed(installed):
    """The app's plugin manager, built the first time a command asks for it: the built-in
    sources and families first, then the installed plugins (as `build_plugin_manager()`)."""
    built: list = []

    def plugin_manager():
        if not built:
            with shown_as_warnings():
                built.append(with_default_plugins(installed))
        return built[0]

    return plugin_manager


def main() -> None:
    try:
        app = build_app()
    except DistrictbenchError as exc:
        console.error_line(str(exc))
        raise SystemExit(exc.exit_code) from None
    # The objects of the imported modules live as long as the process: exempt them from
    # the garbage collector, whose passes would otherwise walk them again and again while
    # a command builds its SQL (~0.06 s of a national-scale `compute all`).
    gc.freeze()
    freeze_imports_on_connect()
    app()
