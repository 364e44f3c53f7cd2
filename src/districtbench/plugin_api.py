"""Everything a districtbench plugin needs, in one module: a plugin imports nothing else.

    from districtbench.plugin_api import hookimpl, Source, Endpoint, ...

A plugin is a module with functions marked `@hookimpl` (`register_sources`,
`register_metric_families`, `register_commands`, `register_migrations`); it is found as a
built-in, through the `districtbench` entry point group of an installed package, or as a
`*.py` file of the folder named by `DISTRICTBENCH_PLUGINS_DIR`. The built-in sources and
families are plugins of exactly this contract. See the README, "Writing a plugin".

Sources (what the backfill host fetches, checks and writes):
    Source, DistrictSource, UnitRows, Endpoint, paginators (UrbanEnvelope, OffsetLimit,
    PlainList, Cursor), row helpers (DropRow, measure, percent, percent_value, fit,
    fit_value, to_number, raw_number, ratio, normalize_leaid, normalize_fips,
    district_leaid, group_unique), MissingFieldError.
    The row contract: a DistrictSource says how ONE record becomes its values (`parse_row`,
    raising DropRow to drop it, or just `measures`); the host checks leaid and fips (its
    `leaid_field`, `fips_field`), filters subgroup rows (`subgroup_columns`), removes
    duplicates, sorts, fits the values to their columns and counts what it dropped or
    nulled. Hooks: `batch_context` (what every row needs to know about its unit) and
    `district_records` (a district record assembled from several rows).
Tables of its own (hook `register_migrations`): PluginMigrations(name, directory), and in
    its Alembic scripts `own_schema()`, the schema its tables go into; `own_table(name,
    *columns)` to read and write one in a family's statements.
Metric families (set-based SQL run inside the compute transaction):
    MetricFamily, FamilyOutcome, RunContext (its `write_districts` / `write_states`, the
    exact `rounded` / `difference`, `districts()` for this run's values, `stage`/`fill`),
    Output, bounded, lit, sa (SQLAlchemy itself, for building statements).
"""

from __future__ import annotations

import sqlalchemy as sa

from districtbench.metrics.apply import Output, bounded
from districtbench.metrics.arith import lit
from districtbench.metrics.base import FamilyOutcome, MetricFamily
from districtbench.db.plugin_migrations import PluginMigrations
from districtbench.metrics.context import RunContext
from districtbench.plugins.hookspecs import hookimpl
from districtbench.sources.base import MissingFieldError, Source, UnitRows
from districtbench.sources.district import DistrictSource
from districtbench.sources.request import Endpoint
from districtbench.sources.rows import fit_value
from districtbench.sources.values import (
    DropRow,
    Row,
    district_leaid,
    fit,
    group_unique,
    measure,
    normalize_fips,
    normalize_leaid,
    percent,
    percent_value,
    ratio,
    raw_number,
    to_number,
)
from districtbench.urban.paginators import Cursor, OffsetLimit, PlainList, UrbanEnvelope



def own_table(name: str, *columns: sa.Column) -> sa.Table:
    """A table of the plugin's own (created by its migration branch), for a family's
    statements: in districtbench's own schema, whichever it is configured to be."""
    from districtbench.db.tables import OWN_SCHEMA

    return sa.Table(name, sa.MetaData(), *columns, schema=OWN_SCHEMA)


def own_schema() -> str | None:
    """In a plugin's migration script: the schema its tables go into (None on SQLite)."""
    from districtbench.db import adoption

    return adoption.own_schema()


__all__ = [
    "hookimpl",
    # tables of its own
    "PluginMigrations",
    "own_schema",
    "own_table",
    # sources
    "Source",
    "DistrictSource",
    "UnitRows",
    "Endpoint",
    "UrbanEnvelope",
    "OffsetLimit",
    "PlainList",
    "Cursor",
    "MissingFieldError",
    "DropRow",
    "Row",
    "district_leaid",
    "fit",
    "fit_value",
    "group_unique",
    "measure",
    "normalize_fips",
    "normalize_leaid",
    "percent",
    "percent_value",
    "ratio",
    "raw_number",
    "to_number",
    # metric families
    "MetricFamily",
    "FamilyOutcome",
    "RunContext",
    "Output",
    "bounded",
    "lit",
    "sa",
]
