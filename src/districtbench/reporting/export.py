"""Rows of `districtbench export`: one per district. Field names are districtbench's column
names (schema.md's), whatever the app calls the columns (e.g. `graduation_rate_total` for the
June 2026 app's `graduation_rate`), so an export reads the same from every database."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from typing import IO, Iterator, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from districtbench.db import layout, tables

# Bookkeeping columns of the app, not benchmarks.
EXCLUDED_COLUMNS = ("created_at", "updated_at")


def export_columns() -> list[str]:
    return [column.name for column in tables.districts.columns if column.name not in EXCLUDED_COLUMNS]


def district_rows(connection: Connection, state_fips: Sequence[str] | None) -> Iterator[dict]:
    districts = layout.of(connection).districts
    columns = export_columns()
    query = sa.select(*(districts.c[name].label(name) for name in columns)).order_by(districts.c.leaid)
    if state_fips:
        query = query.where(districts.c.state_fips.in_(list(state_fips)))
    for row in connection.execute(query):
        yield dict(zip(columns, row))


def _json_value(value):
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
