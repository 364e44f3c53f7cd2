"""One listing of the fake API (an endpoint and a year), stored by column.

CRDC listings hold ≈24–32 rows per school, so the shipped dataset has about a million rows:
as one dict per row that would take over a gigabyte; as columns (lists, or any sequence —
the benchmark uses arrays and computed columns) it takes a fraction. Rows become dicts only
when a page is served, with only the fields asked for.
"""

from __future__ import annotations

import itertools
from array import array
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

MISSING = object()  # a field a row does not have at all (only tables built from dicts)
Row = dict[str, Any]


def as_text(value: Any) -> str | None:
    """A value as it appears in a query string (`99`, `true`); None matches nothing."""
    if value is None or value is MISSING:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


class Table:
    """`names`: the fields in the API's order; `columns[name]`: one value per row."""

    def __init__(self, names: Sequence[str], columns: Mapping[str, Sequence[Any]], size: int):
        self.names = list(names)
        self.columns = dict(columns)
        self.size = size
        if any(len(self.columns[name]) != size for name in self.names):
            raise ValueError("every column needs one value per row")
        self._indexes: dict[tuple[str, ...], dict[tuple, array]] = {}

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> "Table":
        rows = list(rows)
        names: list[str] = []
        for row in rows:
            names.extend(name for name in row if name not in names)
        columns = {name: [row.get(name, MISSING) for row in rows] for name in names}
        return cls(names, columns, len(rows))

    def __len__(self) -> int:
        return self.size

    def extended(self, rows: Iterable[Mapping[str, Any]]) -> "Table":
        """A new table with these rows added after this table's."""
        return Table.from_rows([*self.rows(range(self.size)), *rows])

    def rows(self, indexes: Iterable[int], fields: Sequence[str] | None = None) -> list[Row]:
        """The rows at `indexes` as dicts: every field, or exactly `fields` (a name the table
        does not have comes back as None, as the API's `fields=` does)."""
        if fields is None:
            columns = [(name, self.columns[name]) for name in self.names]
            return [{name: value for name, column in columns if (value := column[i]) is not MISSING}
                    for i in indexes]
        absent: list[Any] = []
        columns = [(name, self.columns.get(name, absent)) for name in fields]
        return [{name: (None if column is absent or (value := column[i]) is MISSING else value)
                 for name, column in columns} for i in indexes]

    def select(self, filters: Mapping[str, Sequence[str]]) -> Sequence[int]:
        """Indexes of the rows whose value of each filter field is one of its texts; a field
        the table has no column for is ignored (the API would not have such a filter)."""
        active = {name: values for name, values in filters.items() if name in self.columns}
        if not active:
            return range(self.size)
        names = tuple(sorted(active))
        index = self._index(names)
        found: list[int] = []
        for key in itertools.product(*(active[name] for name in names)):
            found.extend(index.get(key, ()))
        if any(len(active[name]) > 1 for name in names):
            found.sort()  # a comma list (`fips=17,55`): rows in table order, as one listing
        return found

    def _index(self, names: tuple[str, ...]) -> dict[tuple, array]:
        """Row indexes by the texts of these fields (built on the first query that filters on
        exactly these fields; later queries of that shape are dictionary lookups)."""
        index = self._indexes.get(names)
        if index is None:
            index = {}
            columns = [self.columns[name] for name in names]
            for i in range(self.size):
                key = tuple(as_text(column[i]) for column in columns)
                bucket = index.get(key)
                if bucket is None:
                    bucket = index[key] = array("i")
                bucket.append(i)
            self._indexes[names] = index
        return index
