"""The records the fake Urban API serves: endpoint path template x year -> a Table of rows.

The shipped dataset lives in `data/*.json.gz` (built by `scripts/build_fake_dataset.py` from
the real files in `shared/data/real`; see `data/README.md` for the provenance of each file).
Each file holds one endpoint template in a compact columnar form:

    {"format": 1, "endpoint": "school-districts/ccd/directory/{year}/", "synthetic": false,
     "provenance": "...",
     "listings": {"2018": {"order": [all field names, in API order],
                           "constants": {field: value shared by every row},
                           "columns": {other field: [value per row, ...]}, "n": rows}}}

Files are decoded lazily (on the first request for that endpoint) and kept by column
(`table.py`). What the real API has per endpoint — its years, its filter variables — comes
from the shipped copy of the API's catalog and varlist (`catalog.py`).
"""

from __future__ import annotations

import functools
import gzip
import json
import random
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from districtbench.fakeapi.catalog import Catalog, served_rows, shipped_catalog
from districtbench.fakeapi.table import Table, as_text

DATA_DIR = Path(__file__).with_name("data")

DIRECTORY = "school-districts/ccd/directory/{year}/"
FINANCE = "school-districts/ccd/finance/{year}/"
SAIPE = "school-districts/saipe/{year}/"
GRAD_RATES = "school-districts/edfacts/grad-rates/{year}/"
ASSESSMENTS = "school-districts/edfacts/assessments/{year}/grade-99/"
CRDC_ABSENTEEISM = "schools/crdc/chronic-absenteeism/{year}/race/sex/"
CRDC_ENROLLMENT = "schools/crdc/enrollment/{year}/race/sex/"

Record = dict[str, Any]
Tables = dict[int, Table]


def _template_regex(template: str) -> re.Pattern[str]:
    if template.count("{year}") != 1:
        raise ValueError(f"endpoint template needs exactly one {{year}}: {template!r}")
    before, after = template.strip("/").split("{year}")
    return re.compile(re.escape(before) + r"(\d{4})" + re.escape(after) + r"/?")


class Dataset:
    """Rows per (endpoint template, year); the fake server filters them by query parameters.

    `Dataset({(DIRECTORY, 2019): [row, ...]})` builds one in memory (tests do this; a Table
    may stand for the rows); `load_dataset()` returns the shipped one.
    valid_years: per template, the years the endpoint has (others answer HTTP 500); default:
        the shipped catalog's years for an endpoint it lists, else the years with data. The
        catalog the fake serves shows these years.
    filters: per template, its filter variables; default: the shipped varlist's for an
        endpoint it lists, else every field.
    catalog: the catalog and varlist (default: the shipped copy of the real ones).
    """

    def __init__(
        self,
        listings: Mapping[tuple[str, int], Sequence[Record] | Table] | None = None,
        *,
        valid_years: Mapping[str, Iterable[int]] | None = None,
        filters: Mapping[str, Iterable[str]] | None = None,
        catalog: Catalog | None = None,
    ):
        self._lock = threading.Lock()
        self._data: dict[str, Tables] = {}
        self._lazy: dict[str, Callable[[], Tables]] = {}
        self._regex: dict[str, re.Pattern[str]] = {}
        self._valid = {t: frozenset(y) for t, y in (valid_years or {}).items()}
        self._filters = {t: frozenset(f) for t, f in (filters or {}).items()}
        self.catalog = catalog if catalog is not None else shipped_catalog()
        for (template, year), rows in (listings or {}).items():
            self.add(template, year, rows)

    def add(self, template: str, year: int, rows: Iterable[Record] | Table) -> None:
        """Add rows for one endpoint and year (after the rows already there)."""
        self._register(template)
        tables = self._tables(template)
        existing = tables.get(int(year))
        if isinstance(rows, Table) and existing is None:
            tables[int(year)] = rows
        elif existing is None:
            tables[int(year)] = Table.from_rows(rows)
        else:
            tables[int(year)] = existing.extended(rows.rows(range(len(rows))) if isinstance(rows, Table) else rows)

    def add_lazy(self, template: str, loader: Callable[[], Tables]) -> None:
        """Register an endpoint whose tables are produced by `loader()` on first use."""
        self._register(template)
        self._lazy[template] = loader

    def _register(self, template: str) -> None:
        self._regex.setdefault(template, _template_regex(template))
        self._data.setdefault(template, {})

    def _tables(self, template: str) -> Tables:
        if template in self._lazy:
            # The loader stays registered until its tables are stored, so a concurrent request
            # waits on the lock instead of seeing a half-loaded (empty) listing.
            with self._lock:
                loader = self._lazy.get(template)
                if loader is not None:
                    self._data[template].update(loader())
                    del self._lazy[template]
        return self._data[template]

    def load_all(self) -> "Dataset":
        """Decode every lazily loaded file now (before serving concurrent requests)."""
        for template in self.templates:
            self._tables(template)
        return self

    @property
    def templates(self) -> list[str]:
        return list(self._regex)

    def years(self, template: str) -> list[int]:
        """Years with rows for this endpoint."""
        return sorted(y for y, table in self._tables(template).items() if len(table))

    def valid_years(self, template: str) -> frozenset[int]:
        if template in self._valid:
            return self._valid[template]
        years = self.catalog.years(template)
        return years if years is not None else frozenset(self.years(template))

    def filter_names(self, template: str) -> frozenset[str] | None:
        """The endpoint's filter variables (None: every field filters)."""
        if template in self._filters:
            return self._filters[template]
        return self.catalog.filter_names(template)

    def table(self, template: str, year: int) -> Table | None:
        if template not in self._regex:
            return None
        return self._tables(template).get(int(year))

    def records(self, template: str, year: int, **equal: Any) -> list[Record]:
        """The rows of one endpoint and year as dicts ([] when there are none); with `equal`,
        only those whose fields have these values (`records(t, 2018, fips=5)`)."""
        table = self.table(template, year)
        if table is None:
            return []
        if not equal:
            return table.rows(range(len(table)))
        if any(name not in table.columns for name in equal):
            return []
        return table.rows(table.select({name: [as_text(value)] for name, value in equal.items()}))

    def resolve(self, path: str) -> tuple[str, int] | None:
        """Match a request path (relative to /api/v1/) to (template, year), or None."""
        path = path.strip("/") + "/"
        for template, regex in self._regex.items():
            match = regex.fullmatch(path)
            if match:
                return template, int(match.group(1))
        return None

    def catalog_rows(self) -> tuple[list[Record], list[Record]]:
        """(the `api-endpoints/` rows, the `api-endpoint-varlist/` rows) this dataset serves."""
        years = {t: self.valid_years(t) for t in self.templates if t in self._valid or self.catalog.entry_for(t) is None}
        fields: dict[str, list[str]] = {}
        for template in self.templates:
            if self.catalog.entry_for(template) is None:
                names: list[str] = []
                for year in self.years(template):
                    names += [name for name in self._tables(template)[year].names if name not in names]
                fields[template] = names
        return served_rows(self.catalog, self.templates, years, fields)


def decode_tables(document: Mapping[str, Any], *, seed: str = "") -> Tables:
    """Turn the file form back into tables (fields in the API's order).

    Files store rows sorted (it compresses far better); the real API does not sort, so rows
    are served in a fixed pseudo-random order (seeded by `seed` and the year).
    """
    out: Tables = {}
    for year, listing in document["listings"].items():
        order, constants, columns, size = listing["order"], listing["constants"], listing["columns"], listing["n"]
        permutation = list(range(size))
        random.Random(f"{seed}-{year}").shuffle(permutation)
        texts: dict[str, str] = {}  # one object per distinct string: ids repeat on every subgroup row
        decoded = {}
        for name in order:
            if name in constants:
                decoded[name] = _Constant(constants[name], size)
            else:
                values = [texts.setdefault(v, v) if type(v) is str else v for v in columns[name]]
                decoded[name] = [values[i] for i in permutation]
        out[int(year)] = Table(order, decoded, size)
    return out


class _Constant(Sequence):
    """A column whose every value is the same."""

    def __init__(self, value: Any, size: int):
        self.value, self.size = value, size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self.value] * len(range(*index.indices(self.size)))
        if not -self.size <= index < self.size:
            raise IndexError(index)
        return self.value


def encode_listing(rows: Sequence[Record], sort_key: Callable[[Record], Any] | None = None
                   ) -> dict[str, Any]:
    """The file form of one listing: values shared by every row once, the rest by column."""
    rows = sorted(rows, key=sort_key) if sort_key else list(rows)
    order: list[str] = []
    for row in rows:
        order.extend(k for k in row if k not in order)
    constants: dict[str, Any] = {}
    if rows:
        for name in order:
            first = rows[0].get(name)
            if all(name in r and r[name] == first and type(r[name]) is type(first) for r in rows):
                constants[name] = first
    columns = {name: [row.get(name) for row in rows] for name in order if name not in constants}
    return {"order": order, "constants": constants, "columns": columns, "n": len(rows)}


def read_data_file(path: Path) -> dict[str, Any]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return json.load(handle)


def _file_loader(path: Path) -> Callable[[], Tables]:
    return lambda: decode_tables(read_data_file(path), seed=path.name)


FILES: dict[str, str] = {
    "directory.json.gz": DIRECTORY,
    "finance.json.gz": FINANCE,
    "saipe.json.gz": SAIPE,
    "grad_rates.json.gz": GRAD_RATES,
    "assessments.json.gz": ASSESSMENTS,
    "crdc_absenteeism.json.gz": CRDC_ABSENTEEISM,
    "crdc_enrollment.json.gz": CRDC_ENROLLMENT,
}


@functools.lru_cache(maxsize=None)
def load_dataset(data_dir: Path | None = None) -> Dataset:
    """The dataset shipped with the package (shared, lazily decoded, read-only)."""
    directory = Path(data_dir) if data_dir is not None else DATA_DIR
    dataset = Dataset(catalog=shipped_catalog(data_dir))
    for name, template in FILES.items():
        path = directory / name
        if path.is_file():
            dataset.add_lazy(template, _file_loader(path))
    return dataset
