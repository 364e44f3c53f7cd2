"""The records the fake Urban API serves: endpoint path template x year -> list of rows.

The shipped dataset lives in `data/*.json.gz` (built by `scripts/build_fake_dataset.py` from
the real files in `shared/data/real`; see `data/README.md` for the provenance of each file).
Each file holds one endpoint template in a compact columnar form:

    {"format": 1, "endpoint": "school-districts/ccd/directory/{year}/", "synthetic": false,
     "provenance": "...",
     "listings": {"2018": {"order": [all field names, in API order],
                           "constants": {field: value shared by every row},
                           "columns": {other field: [value per row, ...]}, "n": rows}}}

Files are decoded lazily (on the first request for that endpoint) and the result is shared:
treat the returned rows as read-only.
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

DATA_DIR = Path(__file__).with_name("data")

DIRECTORY = "school-districts/ccd/directory/{year}/"
FINANCE = "school-districts/ccd/finance/{year}/"
SAIPE = "school-districts/saipe/{year}/"
GRAD_RATES = "school-districts/edfacts/grad-rates/{year}/"
ASSESSMENTS = "school-districts/edfacts/assessments/{year}/grade-99/"
CRDC_ABSENTEEISM = "schools/crdc/chronic-absenteeism/{year}/race/sex/"
CRDC_ENROLLMENT = "schools/crdc/enrollment/{year}/race/sex/"

# Years the real API accepts per endpoint (urban-api.md). A year in this set without rows in
# the dataset answers 200 with count 0; a year outside it answers 404.
ENDPOINT_YEARS: dict[str, frozenset[int]] = {
    DIRECTORY: frozenset(range(1986, 2025)),
    FINANCE: frozenset([1991, *range(1994, 2021)]),
    SAIPE: frozenset([1995, 1997, *range(1999, 2025)]),
    GRAD_RATES: frozenset(range(2010, 2020)),
    ASSESSMENTS: frozenset([*range(2009, 2019), 2020]),
    CRDC_ABSENTEEISM: frozenset([2013, 2015, 2017, 2020, 2021, 2022]),
    CRDC_ENROLLMENT: frozenset([2011, 2013, 2015, 2017, 2020, 2021, 2022]),
}

Record = dict[str, Any]
Listings = dict[int, list[Record]]


def _template_regex(template: str) -> re.Pattern[str]:
    if template.count("{year}") != 1:
        raise ValueError(f"endpoint template needs exactly one {{year}}: {template!r}")
    before, after = template.strip("/").split("{year}")
    return re.compile(re.escape(before) + r"(\d{4})" + re.escape(after) + r"/?")


class Dataset:
    """Rows per (endpoint template, year); the fake server filters them by query parameters.

    `Dataset({(DIRECTORY, 2019): [row, ...]})` builds one in memory (tests do this);
    `load_dataset()` returns the shipped one. `valid_years` overrides ENDPOINT_YEARS per
    template (by default: ENDPOINT_YEARS, or just the years with data for other templates).
    """

    def __init__(
        self,
        listings: Mapping[tuple[str, int], Sequence[Record]] | None = None,
        *,
        valid_years: Mapping[str, Iterable[int]] | None = None,
    ):
        self._lock = threading.Lock()
        self._data: dict[str, Listings] = {}
        self._lazy: dict[str, Callable[[], Listings]] = {}
        self._regex: dict[str, re.Pattern[str]] = {}
        self._valid = {t: frozenset(y) for t, y in (valid_years or {}).items()}
        for (template, year), rows in (listings or {}).items():
            self.add(template, year, rows)

    def add(self, template: str, year: int, rows: Iterable[Record]) -> None:
        """Add rows for one endpoint and year (appends to rows already there)."""
        self._register(template)
        self._listings(template).setdefault(int(year), []).extend(rows)

    def add_lazy(self, template: str, loader: Callable[[], Listings]) -> None:
        """Register an endpoint whose listings are produced by `loader()` on first use."""
        self._register(template)
        self._lazy[template] = loader

    def _register(self, template: str) -> None:
        self._regex.setdefault(template, _template_regex(template))
        self._data.setdefault(template, {})

    def _listings(self, template: str) -> Listings:
        if template in self._lazy:
            # The loader stays registered until its rows are stored, so a concurrent request
            # waits on the lock instead of seeing a half-loaded (empty) listing.
            with self._lock:
                loader = self._lazy.get(template)
                if loader is not None:
                    for year, rows in loader().items():
                        self._data[template].setdefault(year, []).extend(rows)
                    del self._lazy[template]
        return self._data[template]

    @property
    def templates(self) -> list[str]:
        return list(self._regex)

    def years(self, template: str) -> list[int]:
        """Years with rows for this endpoint."""
        return sorted(y for y, rows in self._listings(template).items() if rows)

    def valid_years(self, template: str) -> frozenset[int]:
        if template in self._valid:
            return self._valid[template]
        return ENDPOINT_YEARS.get(template, frozenset(self.years(template)))

    def records(self, template: str, year: int) -> list[Record]:
        """Rows for one endpoint and year ([] when there are none). Read-only."""
        if template not in self._regex:
            return []
        return self._listings(template).get(int(year), [])

    def resolve(self, path: str) -> tuple[str, int] | None:
        """Match a request path (relative to /api/v1/) to (template, year), or None."""
        path = path.strip("/") + "/"
        for template, regex in self._regex.items():
            match = regex.fullmatch(path)
            if match:
                return template, int(match.group(1))
        return None


def decode_listings(document: Mapping[str, Any], *, seed: str = "") -> Listings:
    """Turn the file form back into rows (dicts in the API's field order).

    Files store rows sorted (it compresses far better); the real API does not sort, so rows
    are served in a fixed pseudo-random order (seeded by `seed` and the year).
    """
    out: Listings = {}
    for year, listing in document["listings"].items():
        order, constants, columns = listing["order"], listing["constants"], listing["columns"]
        names = list(columns)
        rows = []
        for values in zip(*(columns[name] for name in names)):
            row = dict(constants)
            row.update(zip(names, values))
            rows.append({name: row[name] for name in order})
        if not names:
            rows = [dict(constants) for _ in range(listing.get("n", 0))]
        random.Random(f"{seed}-{year}").shuffle(rows)
        out[int(year)] = rows
    return out


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


def _file_loader(path: Path) -> Callable[[], Listings]:
    return lambda: decode_listings(read_data_file(path), seed=path.name)


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
    dataset = Dataset()
    for name, template in FILES.items():
        path = directory / name
        if path.is_file():
            dataset.add_lazy(template, _file_loader(path))
    return dataset
