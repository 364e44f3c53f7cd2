"""districtbench's settings about the app's database, from `districtbench.toml` and the
environment (read by `config.resolve_settings`, which puts them into `config.Settings`).

    # districtbench.toml — in the working folder, or the file named by $DISTRICTBENCH_CONFIG
    [database]
    schema = "districtbench"            # PostgreSQL schema of districtbench's own tables

    [columns]                           # "table.logical column" = "the app's column"
    "district_data_history.poverty_pct" = "poverty_percent"

    [roster]                            # districts columns a directory backfill overwrites
    update = ["name", "state_abbrev", "city_location", "county_name"]

Environment variables override the file: DISTRICTBENCH_SCHEMA, DISTRICTBENCH_COLUMNS
(`table.logical=physical,…`) and DISTRICTBENCH_ROSTER_COLUMNS (`name,state_abbrev,…`).
Only the names are checked here; whether a configured column exists is checked against the
database (`db.layout`).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from districtbench.errors import ConfigurationError

CONFIG_FILE = "districtbench.toml"
CONFIG_VARIABLE = "DISTRICTBENCH_CONFIG"
SCHEMA_VARIABLE = "DISTRICTBENCH_SCHEMA"
COLUMNS_VARIABLE = "DISTRICTBENCH_COLUMNS"
ROSTER_VARIABLE = "DISTRICTBENCH_ROSTER_COLUMNS"
DEFAULT_OWN_SCHEMA = "districtbench"

_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_COLUMN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_SECTIONS = {"database": {"schema"}, "columns": None, "roster": {"update"}}
TIMESTAMP_COLUMNS = ("created_at", "updated_at")


@dataclass(frozen=True)
class DatabaseSettings:
    own_schema: str = DEFAULT_OWN_SCHEMA
    columns: tuple[tuple[str, str, str], ...] = ()  # (table, logical, physical)
    roster_columns: tuple[str, ...] | None = None
    config_file: str | None = None


def read_database_settings(environ: Mapping[str, str], cwd: Path) -> DatabaseSettings:
    path = _config_path(environ, cwd)
    document = _load(path) if path else {}
    where = str(path) if path else None
    schema = document.get("database", {}).get("schema", DEFAULT_OWN_SCHEMA)
    columns = dict(_file_columns(document.get("columns", {}), where))
    roster = document.get("roster", {}).get("update")
    if environ.get(SCHEMA_VARIABLE, "").strip():
        schema, where_schema = environ[SCHEMA_VARIABLE].strip(), SCHEMA_VARIABLE
    else:
        where_schema = where or "the default"
    if environ.get(COLUMNS_VARIABLE, "").strip():
        columns.update(_env_columns(environ[COLUMNS_VARIABLE]))
    if environ.get(ROSTER_VARIABLE, "").strip():
        roster = [name.strip() for name in environ[ROSTER_VARIABLE].split(",") if name.strip()]
    return DatabaseSettings(
        own_schema=_schema(schema, where_schema),
        columns=tuple((table, logical, physical) for (table, logical), physical in columns.items()),
        roster_columns=_roster(roster, where) if roster is not None else None,
        config_file=where,
    )


def _config_path(environ: Mapping[str, str], cwd: Path) -> Path | None:
    named = environ.get(CONFIG_VARIABLE, "").strip()
    if named:
        path = Path(named).expanduser()
        path = path if path.is_absolute() else cwd / path
        if not path.is_file():
            raise ConfigurationError(
                f"{CONFIG_VARIABLE} names {path}, which is not a file.",
                hint=f"Point {CONFIG_VARIABLE} at a districtbench.toml, or unset it.",
            )
        return path
    default = cwd / CONFIG_FILE
    return default if default.is_file() else None


def _load(path: Path) -> dict[str, Any]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"Cannot read {path}: {exc}", hint="Fix the file (TOML syntax).") from None
    for section, value in document.items():
        if section not in _SECTIONS or not isinstance(value, dict):
            raise ConfigurationError(
                f"{path}: unknown section [{section}].",
                hint="districtbench.toml knows [database] schema, [columns] and [roster] update.",
            )
        allowed = _SECTIONS[section]
        unknown = sorted(set(value) - allowed) if allowed is not None else []
        if unknown:
            raise ConfigurationError(
                f"{path}: unknown setting {unknown[0]!r} in [{section}].",
                hint=f"[{section}] knows: {', '.join(sorted(allowed))}.",
            )
    return document


def _schema(name: Any, where: str) -> str:
    if not isinstance(name, str) or not _SCHEMA_NAME.fullmatch(name) or name in ("public", "pg_catalog"):
        raise ConfigurationError(
            f"The schema for districtbench's own tables ({where}) must be a lower-case name other than "
            f"public, such as districtbench; got {name!r}.",
            hint="districtbench keeps its bookkeeping out of the app's schema.",
        )
    return name


def _file_columns(section: Mapping[str, Any], where: str | None):
    for key, physical in section.items():
        if not isinstance(physical, str):
            raise ConfigurationError(f"{where}: [columns] {key!r} must be a column name in quotes.")
        yield _column_key(key, physical, f"{where} [columns]"), physical


def _env_columns(text: str):
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        key, sep, physical = item.partition("=")
        if not sep:
            raise ConfigurationError(
                f"{COLUMNS_VARIABLE}: {item!r} is not table.column=app_column.",
                hint=f"Example: {COLUMNS_VARIABLE}=district_data_history.poverty_pct=poverty_percent",
            )
        yield _column_key(key.strip(), physical.strip(), COLUMNS_VARIABLE), physical.strip()


def _column_key(key: str, physical: str, where: str) -> tuple[str, str]:
    from districtbench.db.tables import APP_TABLES, metadata

    table, _, logical = key.partition(".")
    if table not in APP_TABLES:
        raise ConfigurationError(
            f"{where}: {key!r} does not name one of the app's tables.",
            hint=f"Write \"table.column\" with table one of {', '.join(APP_TABLES)}.",
        )
    known = list(metadata.tables[table].c.keys()) + [c for c in TIMESTAMP_COLUMNS if c not in metadata.tables[table].c]
    if logical not in known:
        raise ConfigurationError(
            f"{where}: {table} has no districtbench column {logical!r}.",
            hint=f"Use districtbench's names (schema.md) on the left, e.g. {table}.{known[-1]}.",
        )
    if not _COLUMN_NAME.fullmatch(physical):
        raise ConfigurationError(f"{where}: {physical!r} (for {key}) is not a column name.")
    return table, logical


def _roster(names: Any, where: str | None) -> tuple[str, ...]:
    from districtbench.db.tables import ROSTER_COLUMNS

    allowed = ROSTER_COLUMNS[1:]
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise ConfigurationError(f"{where or ROSTER_VARIABLE}: the roster update list must be a list of column names.")
    unknown = [name for name in names if name not in allowed]
    if unknown:
        raise ConfigurationError(
            f"{where or ROSTER_VARIABLE}: {unknown[0]!r} is not a roster column.",
            hint=f"Roster columns: {', '.join(allowed)} (leaid is the key and always written).",
        )
    return tuple(dict.fromkeys(names))
