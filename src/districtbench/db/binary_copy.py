"""PostgreSQL's binary COPY format, both ways, in numpy: rows of fixed-width fields only.

A binary COPY stream is a header (signature, flags, extension), then per row a 16-bit field
count and per field a 32-bit length (−1: NULL) and that many bytes, then a trailer (−1).
When every field of a column has the same length in every row — whole numbers, doubles,
strings of one length, no NULL — a row is a fixed record and the whole stream one numpy
array: no value formatted or parsed one by one, by Python or by the server (`encode` writes
such rows for COPY … FROM STDIN, `read` reads them from COPY (query) TO STDOUT). Anything
else gives None, and the caller takes its general path.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
HEADER = SIGNATURE + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")  # no flags, no extension
TRAILER = (-1).to_bytes(2, "big", signed=True)
# The field kinds `read` takes: the PostgreSQL types whose binary form is a fixed record.
KINDS = {"int4": ">i4", "int8": ">i8", "float8": ">f8", "bool": "?", "text": "S"}


@dataclass
class Coded:
    """A column of strings given as indices into `labels` (say each leaid once), so that a
    string is encoded once however many rows hold it."""

    codes: np.ndarray
    labels: np.ndarray  # object

    def values(self) -> list:
        return self.labels[self.codes].tolist()

    def __len__(self) -> int:
        return len(self.codes)


def encode(values: list) -> bytes | None:
    """The binary COPY stream of the rows given column by column, when every column is a
    numpy array of int32 or float64, or `Coded` strings of one length and ASCII; else None."""
    fields: list[tuple[str, str]] = []
    data = {}
    for index, column in enumerate(values):
        if isinstance(column, Coded):
            labels = fixed_width(column.labels)
            if labels is None:
                return None
            kind, width, array = labels.dtype.str, labels.dtype.itemsize, labels[column.codes]
        elif not isinstance(column, np.ndarray):
            return None
        elif column.dtype == np.int32:
            kind, width, array = ">i4", 4, column
        elif column.dtype == np.float64:
            kind, width, array = ">f8", 8, column
        else:
            return None
        fields += [(f"n{index}", ">i4"), (f"v{index}", kind)]
        data[f"n{index}"], data[f"v{index}"] = width, array
    rows = np.empty(len(values[0]), dtype=[("count", ">i2"), *fields])
    rows["count"] = len(values)
    for name, value in data.items():
        rows[name] = value
    return HEADER + rows.tobytes() + TRAILER


def fixed_width(labels: np.ndarray) -> np.ndarray | None:
    """`labels` as ASCII bytes of one length (numpy `S…`), or None if they are not that."""
    if not len(labels) or (labels == None).any():  # noqa: E711 (elementwise)
        return None
    try:
        text = labels.astype(str)  # TypeError/ValueError: not all strings
        width = text.dtype.itemsize // 4
        if (np.char.str_len(text) != width).any():
            return None  # of different lengths
        return text.astype(f"S{width}")  # UnicodeEncodeError: not ASCII
    except (TypeError, ValueError, UnicodeError):
        return None


def decode(data: bytes, kinds: tuple[str, ...]) -> list[np.ndarray] | None:
    """The columns of a binary COPY stream whose fields are of `kinds` (keys of `KINDS`), as
    numpy arrays (`text`: bytes `S…`), when every row is a fixed record of the first row's
    widths; else None (a NULL, strings of different lengths, a stream not of this form)."""
    if not data.startswith(SIGNATURE) or len(data) < len(HEADER) + len(TRAILER):
        return None
    extension = int.from_bytes(data[15:19], "big")
    body = memoryview(data)[19 + extension:len(data) - len(TRAILER)]
    if bytes(data[-len(TRAILER):]) != TRAILER:
        return None
    widths = _first_row_widths(body, len(kinds))
    if widths is None:
        return [np.empty(0, KINDS[k] if k != "text" else "S1") for k in kinds] if not len(body) else None
    fields: list[tuple[str, str]] = [("count", ">i2")]
    for index, (kind, width) in enumerate(zip(kinds, widths)):
        code = KINDS[kind]
        if code == "S":
            code = f"S{width}"
        elif np.dtype(code).itemsize != width:
            return None  # not the type asked for
        fields += [(f"n{index}", ">i4"), (f"v{index}", code)]
    record = np.dtype(fields)
    if len(body) % record.itemsize:
        return None
    rows = np.frombuffer(body, dtype=record)
    if (rows["count"] != len(kinds)).any():
        return None
    for index, width in enumerate(widths):
        if (rows[f"n{index}"] != width).any():
            return None  # another length (or a NULL) further down
    return [rows[f"v{index}"].astype(rows.dtype[f"v{index}"].newbyteorder("=")) for index in range(len(kinds))]


def _first_row_widths(body: memoryview, count: int) -> list[int] | None:
    """The field lengths of the stream's first row (None: no row, a NULL, another count)."""
    if len(body) < 2 or int.from_bytes(body[:2], "big", signed=True) != count:
        return None
    widths, at = [], 2
    for _ in range(count):
        width = int.from_bytes(body[at:at + 4], "big", signed=True)
        if width < 0:
            return None
        widths.append(width)
        at += 4 + width
    return widths


def copied(connection: sa.Connection, query: sa.Select, binary: bool = False) -> bytes | str:
    """The output of `COPY (query) TO STDOUT` — binary format or text — on this PostgreSQL
    connection (`query` compiled with its literals and the connection's schema translation)."""
    options = connection.get_execution_options()
    sql = query.compile(dialect=connection.dialect, schema_translate_map=options.get("schema_translate_map"),
                        render_schema_translate=True, compile_kwargs={"literal_binds": True})
    out = io.BytesIO() if binary else io.StringIO()
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.copy_expert(f"COPY ({sql}) TO STDOUT{' (FORMAT binary)' if binary else ''}", out)
    finally:
        cursor.close()
    return out.getvalue()


def read(connection: sa.Connection, query: sa.Select, kinds: tuple[str, ...]) -> list[np.ndarray] | None:
    """`decode` of the query's binary COPY on this PostgreSQL connection (`copied`)."""
    return decode(copied(connection, query, binary=True), kinds)
