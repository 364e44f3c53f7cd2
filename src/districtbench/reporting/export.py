"""Rows of `districtbench export`: one per district (or per state and the US row), optionally
with where each figure comes from. Field names are districtbench's column names (schema.md's),
whatever the app calls the columns (e.g. `graduation_rate_total` for the June 2026 app's
`graduation_rate`), so an export reads the same from every database.

`--with-years` adds two fields after each sourced figure: `<figure>_source` (the history
source its state's values come from, e.g. `ccd_directory`, or a plugin's own source name; the
US row: those of its states) and `<figure>_year` (the school year's fall, e.g. 2021 for
2021-22; empty when the figure is). Both come from `reporting.provenance`.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime
from decimal import Decimal
from typing import IO, Iterator, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from districtbench.db import layout, tables
from districtbench.db.states import NATIONAL_FIPS
from districtbench.errors import UsageError
from districtbench.reporting.provenance import average_figure, average_source, figure_source, figure_years

# Bookkeeping columns of the app, not benchmarks.
EXCLUDED_COLUMNS = ("created_at", "updated_at")
TABLES = ("districts", "states", "peers", "peer_benchmarks")
# districtbench's own peer tables (family `peers`): the fields exported, in this order.
PEER_EXPORTS = {
    "peers": (tables.peers, ("leaid", "peer_leaid", "rank", "distance"), ("leaid", "rank")),
    "peer_benchmarks": (tables.peer_benchmarks, ("leaid", "metric", "peer_average", "vs_peers", "peer_quartile"),
                        ("leaid", "metric")),
}


def _table(name: str) -> sa.Table:
    return {"districts": tables.districts, "states": tables.states}[name]


def export_columns(table: str = "districts") -> list[str]:
    if table in PEER_EXPORTS:
        return list(PEER_EXPORTS[table][1])
    return [column.name for column in _table(table).columns if column.name not in EXCLUDED_COLUMNS]


def choose_columns(table: str, requested: str | None) -> list[str]:
    """`--columns a,b,c` in the order given (None: every column); unknown names are a usage
    error that lists the valid ones."""
    available = export_columns(table)
    if requested is None:
        return available
    names = [name.strip() for name in requested.split(",") if name.strip()]
    unknown = [name for name in names if name not in available]
    if unknown or not names:
        what = f"unknown column{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}" if unknown else "no columns given"
        raise UsageError(f"--columns: {what} for --table {table}.", hint=f"Valid columns: {', '.join(available)}.")
    return list(dict.fromkeys(names))


def with_provenance(table: str, columns: Sequence[str]) -> list[str]:
    """The field names once `--with-years` adds `_source` and `_year` after each figure."""
    fields: list[str] = []
    for column in columns:
        fields.append(column)
        if _sourced(table, column):
            fields += [f"{column}_source", f"{column}_year"]
    return fields


def _sourced(table: str, column: str) -> bool:
    if table in PEER_EXPORTS:
        return False
    if table == "districts":
        return figure_source(column) is not None
    return average_figure(column) is not None


def _source_of(table: str, column: str, years: dict) -> str | None:
    """The history source of a row's figure, given its state's `figure_years`."""
    if table == "districts":
        return figure_source(column).history_source(years)
    return average_source(column, years)


def rows(connection: Connection, table: str, columns: Sequence[str], state_fips: Sequence[str] | None,
         years: bool = False) -> Iterator[dict]:
    if table in PEER_EXPORTS:
        yield from _peer_rows(connection, table, columns, state_fips)
        return
    target = getattr(layout.of(connection), table)  # physical names, keyed and labelled by logical ones
    key = target.c.leaid if table == "districts" else target.c.fips
    state_column = target.c.state_fips if table == "districts" else target.c.fips
    selected = list(columns)
    extra: list[str] = []  # read for the provenance fields, not exported themselves
    if years:
        extra = [name for name in ("state_fips" if table == "districts" else "fips",) if name not in selected]
    query = sa.select(*(target.c[name].label(name) for name in selected + extra)).order_by(key)
    if state_fips:
        query = query.where(state_column.in_(list(state_fips)))
    as_of = figure_years(connection, state_fips) if years else {}
    if years and table == "states":  # the US row: the sources of its states' values
        national = _national_sources(figure_years(connection))
    for values in connection.execute(query):
        row = dict(zip(selected + extra, values))
        if not years:
            yield row
            continue
        out: dict = {}
        for column in selected:
            out[column] = row[column]
            if not _sourced(table, column):
                continue
            if table == "states" and row["fips"] == NATIONAL_FIPS:
                source = national.get(average_figure(column))
            else:
                source = _source_of(table, column, as_of.get(row["state_fips" if table == "districts" else "fips"], {}))
            if table == "districts":
                year = figure_source(column).year(row, as_of.get(row["state_fips"], {}))
            else:  # the US row has none: its states' years may differ (each state's row says its own)
                entry = as_of.get(row["fips"], {}).get(average_figure(column))
                year = entry.year if entry is not None and row[column] is not None else None
            out[f"{column}_source"] = source
            out[f"{column}_year"] = year
        yield out


def _national_sources(by_state: dict) -> dict[str, str]:
    """figure → the history sources of the states' values (", "-joined, sorted): the US row's."""
    found: dict[str, set[str]] = {}
    for years in by_state.values():
        for figure, entry in years.items():
            if entry.source is not None:
                found.setdefault(figure, set()).add(entry.source)
    return {figure: ", ".join(sorted(sources)) for figure, sources in found.items()}


def _peer_rows(connection: Connection, table: str, columns: Sequence[str],
               state_fips: Sequence[str] | None) -> Iterator[dict]:
    own, _, order = PEER_EXPORTS[table]
    query = sa.select(*(own.c[name].label(name) for name in columns)).order_by(*(own.c[name] for name in order))
    if state_fips:  # the district's state (its peers may be elsewhere)
        d = layout.of(connection).districts
        query = query.where(own.c.leaid.in_(sa.select(d.c.leaid).where(d.c.state_fips.in_(list(state_fips)))))
    for values in connection.execute(query):
        yield dict(zip(columns, values))


def _json_value(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and value.as_tuple().exponent >= 0 else float(value)
    return value


def write_csv(rows: Iterator[dict], columns: list[str], stream: IO[str]) -> int:
    writer = csv.DictWriter(stream, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow({key: "" if value is None else value for key, value in row.items()})
        count += 1
    return count


def write_json(rows: Iterator[dict], stream: IO[str]) -> int:
    """A JSON array, written row by row so a national export never sits in memory twice."""
    stream.write("[")
    count = 0
    for row in rows:
        stream.write(",\n  " if count else "\n  ")
        stream.write(json.dumps({key: _json_value(value) for key, value in row.items()}))
        count += 1
    stream.write("\n]\n" if count else "]\n")
    return count


def write_jsonl(rows: Iterator[dict], stream: IO[str]) -> int:
    """JSON Lines: one object per line, for exports too large to load as one array."""
    count = 0
    for row in rows:
        stream.write(json.dumps({key: _json_value(value) for key, value in row.items()}))
        stream.write("\n")
        count += 1
    return count


WRITERS = {"csv": write_csv, "json": lambda rows, _columns, stream: write_json(rows, stream),
           "jsonl": lambda rows, _columns, stream: write_jsonl(rows, stream)}
