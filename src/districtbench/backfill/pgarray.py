"""PostgreSQL bulk upsert in ONE statement: each column's values travel as one array
literal parameter and the rows are rebuilt server-side with `unnest`:

    INSERT INTO t (a, b, …) SELECT * FROM unnest(CAST(%s AS type_a[]), CAST(%s AS type_b[]), …)
    ON CONFLICT (…) DO UPDATE SET … [WHERE …]

No staging table (its CREATE/COPY/DROP cost three more round trips and catalog churn per
batch), no per-row SQL: the client formats each value once into its column's array text
(`{1,NULL,"O'Brien \"Jr\""}`), psycopg2 quotes the few big strings, the server parses them
with the element types' input functions — the same conversions (and typmod rounding) as
COPY. Measured on the benchmark machine for 100,000 history rows: ~30,000 rows/s against
~21,000 for COPY into a temporary table + INSERT … SELECT, and ~32,000 for the server alone
running INSERT … SELECT … ON CONFLICT from an already filled table.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable, Sequence

_ARRAY_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"'})


def array_text(values: Sequence[Any]) -> str:
    """The values of one column as a PostgreSQL array literal; None is NULL. A run of the
    same object (a unit's `created_at`) is formatted once."""
    out: list[str] = []
    append = out.append
    last_in: Any = array_text
    last_out = ""
    formats = _FORMATS
    for value in values:
        if value is None:
            append("NULL")
        elif value is last_in:
            append(last_out)
        else:
            last_in = value
            last_out = formats.get(type(value), _other)(value)
            append(last_out)
    return "{" + ",".join(out) + "}"


def _quoted(value: str) -> str:
    if "\\" in value or '"' in value:
        value = value.translate(_ARRAY_ESCAPES)
    return '"' + value + '"'


def _other(value: Any) -> str:
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime):
        return '"' + value.isoformat(sep=" ") + '"'
    if isinstance(value, date):
        return value.isoformat()
    return _quoted(str(value))


_FORMATS: dict[type, Callable[[Any], str]] = {
    int: str,
    str: _quoted,
    Decimal: str,
    float: repr,
    bool: lambda value: "t" if value else "f",
    datetime: lambda value: '"' + value.isoformat(sep=" ") + '"',
    date: date.isoformat,
}
