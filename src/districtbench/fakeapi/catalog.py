"""The fake API's endpoint catalog (`api-endpoints/`) and variable list (`api-endpoint-varlist/`).

Both are trimmed copies of the real 2026 responses (`data/catalog.json.gz`, built by
`scripts/build_fake_dataset.py`; provenance in `data/README.md`): all 129 catalog rows with the
columns a client reads, and the variable rows of the seven endpoints districtbench uses. An
endpoint the real catalog does not list (a test's own) gets a generated row whose every field
is a filter variable.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
from pathlib import Path
from typing import Any, Iterable

from districtbench.urban.years import YearsTextError, format_years_available, parse_years_available

DATA_DIR = Path(__file__).with_name("data")
CATALOG_FILE = "catalog.json.gz"
PREFIX = "/api/v1/"
GENERATED_IDS_FROM = 10_000


class Catalog:
    """Catalog rows and varlist rows, and what a dataset template maps to."""

    def __init__(self, endpoints: list[dict[str, Any]], varlist: list[dict[str, Any]]):
        self.endpoints = endpoints
        self.varlist = varlist
        self._patterns = [(_pattern(row["endpoint_url"]), row) for row in endpoints]

    def entry_for(self, template: str) -> dict[str, Any] | None:
        """The catalog row of a dataset template (`…/assessments/{year}/grade-99/` is the row of
        `…/assessments/{year}/{grade_edfacts}/`), or None."""
        for pattern, row in self._patterns:
            if pattern.fullmatch(template.strip("/")):
                return row
        return None

    def years(self, template: str) -> frozenset[int] | None:
        entry = self.entry_for(template)
        if entry is None:
            return None
        try:
            return frozenset(parse_years_available(entry["years_available"]))
        except YearsTextError:
            return None

    def filter_names(self, template: str) -> frozenset[str] | None:
        """The endpoint's filter variables; None when the varlist does not describe it."""
        entry = self.entry_for(template)
        if entry is None:
            return None
        rows = [row for row in self.varlist if str(row["endpoint_id"]) == str(entry["endpoint_id"])]
        if not rows:
            return None
        return frozenset(row["variable"] for row in rows if row.get("is_filter") == "1")


def _pattern(endpoint_url: str) -> re.Pattern[str]:
    """`/api/v1/a/{year}/{grade_edfacts}/` → a regex matching `a/{year}/<any segment>`."""
    path = endpoint_url.removeprefix(PREFIX).strip("/")
    parts = re.split(r"(\{[a-z_]+\})", path)
    regex = "".join(
        re.escape(part) if not part.startswith("{") else (r"\{year\}" if part == "{year}" else r"[^/{}]+")
        for part in parts
    )
    return re.compile(regex)


@functools.lru_cache(maxsize=None)
def shipped_catalog(data_dir: Path | None = None) -> Catalog:
    path = (Path(data_dir) if data_dir is not None else DATA_DIR) / CATALOG_FILE
    if not path.is_file():
        return Catalog([], [])
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        document = json.load(handle)
    return Catalog(document["endpoints"], document["varlist"])


def served_rows(
    catalog: Catalog,
    templates: Iterable[str],
    years_of: dict[str, frozenset[int]],
    fields_of: dict[str, list[str]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(catalog rows, varlist rows) the fake serves for a dataset: the shipped rows, with the
    years of a template whose years the dataset overrides (`years_of`), plus generated rows
    for templates the catalog does not list (`fields_of`: their fields)."""
    endpoints = [dict(row) for row in catalog.endpoints]
    by_id = {row["endpoint_id"]: row for row in endpoints}
    varlist = list(catalog.varlist)
    next_id = GENERATED_IDS_FROM
    for template in templates:
        entry = catalog.entry_for(template)
        years = years_of.get(template)
        if entry is not None:
            if years is not None:
                by_id[entry["endpoint_id"]]["years_available"] = format_years_available(years)
            continue
        endpoints.append({
            "endpoint_id": next_id, "endpoint_url": PREFIX + template.strip("/") + "/",
            "years_available": format_years_available(years or ()), "var_list_id": next_id,
        })
        varlist += [{"endpoint_id": str(next_id), "variable": name, "is_filter": "1",
                     "data_type": "string", "format": "string"} for name in fields_of.get(template, [])]
        next_id += 1
    return endpoints, varlist
