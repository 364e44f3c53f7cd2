"""The API's own description of itself: its endpoint catalog and the variables of an endpoint.

    GET /api/v1/api-endpoints/                         one page, ~129 rows: endpoint_id,
                                                       endpoint_url, years_available, var_list_id
    GET /api/v1/api-endpoint-varlist/?endpoint_id=N    variable, is_filter ("1"/"None"), data_type

`load_catalog` reads the catalog and the varlist of each endpoint a run uses (one request
each), and keeps them in a cache file per API base URL with the time they were fetched; a
copy younger than a day is used instead of asking again (`refresh=True` asks anyway).
Endpoints are matched on `endpoint_url`, never on ids. A varlist is asked for by
`endpoint_id`, and by `var_list_id` if that gives nothing; its rows are checked to be of that
endpoint (a parameter the API does not filter on would return every endpoint's rows).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable, Protocol

from districtbench.errors import FetchError
from districtbench.text import printable
from districtbench.urban.years import YearsTextError, parse_years_available

CATALOG_PATH = "api-endpoints/"
VARLIST_PATH = "api-endpoint-varlist/"
MAX_AGE = timedelta(days=1)
CACHE_FORMAT = 1


class Client(Protocol):
    def fetch_all(self, path: str, params: dict | None = None) -> list[dict]: ...


class CatalogUnavailable(Exception):
    """The catalog could not be read; `reason` says why (the run uses its built-in years)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Variable:
    name: str
    is_filter: bool
    data_type: str | None = None


@dataclass(frozen=True)
class CatalogEntry:
    endpoint_id: str
    endpoint_url: str
    years_available: str
    var_list_id: str | None = None

    @property
    def template(self) -> str:
        """`/api/v1/school-districts/ccd/directory/{year}/` → `school-districts/ccd/directory/{year}`."""
        path = self.endpoint_url
        marker = path.find("/api/v1/")
        return (path[marker + len("/api/v1/"):] if marker >= 0 else path).strip("/")

    def years(self) -> tuple[int, ...]:
        """The years it has; YearsTextError when the text cannot be read."""
        return parse_years_available(self.years_available)


@dataclass
class Catalog:
    """The catalog of one API, its varlists (endpoint_id → variables; only those fetched),
    when it was fetched, and whether it came from the API now or from the cache."""

    api_url: str
    fetched_at: datetime
    entries: list[CatalogEntry]
    varlists: dict[str, list[Variable]] = field(default_factory=dict)
    from_cache: bool = False
    varlist_problems: dict[str, str] = field(default_factory=dict)  # endpoint_id → why missing

    def entry_for(self, template: str) -> CatalogEntry | None:
        wanted = template.strip("/")
        return next((entry for entry in self.entries if entry.template == wanted), None)

    def variables(self, entry: CatalogEntry) -> list[Variable] | None:
        return self.varlists.get(entry.endpoint_id)

    @property
    def origin(self) -> str:
        when = self.fetched_at.strftime("%Y-%m-%d %H:%M UTC")
        return f"the API's catalog, cached copy fetched {when}" if self.from_cache else f"the API's catalog, fetched {when}"


def load_catalog(
    client: Client,
    api_url: str,
    templates: Iterable[str],
    *,
    cache_dir: Path | None,
    refresh: bool = False,
    now: datetime | None = None,
) -> Catalog:
    """The catalog with the varlists of `templates` (endpoint path templates), from a fresh
    cache when there is one, else from the API (then cached). CatalogUnavailable when the
    catalog itself cannot be read; a varlist that cannot be read is left out (and noted in
    `varlist_problems`), not cached."""
    now = now or datetime.now(timezone.utc)
    templates = list(templates)
    cached = None if refresh or cache_dir is None else read_cache(cache_dir, api_url)
    if cached is not None and now - cached.fetched_at < MAX_AGE:
        catalog = cached
        catalog.from_cache = True
    else:
        catalog = Catalog(api_url, now, fetch_entries(client))
    missing = []
    for template in templates:
        entry = catalog.entry_for(template)
        if entry is not None and entry.endpoint_id not in catalog.varlists and entry not in missing:
            missing.append(entry)
    for entry in missing:
        try:
            catalog.varlists[entry.endpoint_id] = fetch_variables(client, entry)
        except FetchError as exc:
            catalog.varlist_problems[entry.endpoint_id] = exc.reason
    if cache_dir is not None and (missing or not catalog.from_cache):
        write_cache(cache_dir, catalog)
    return catalog


def fetch_entries(client: Client) -> list[CatalogEntry]:
    try:
        rows = client.fetch_all(CATALOG_PATH)
    except FetchError as exc:
        raise CatalogUnavailable(f"{exc.reason} ({exc.url})") from None
    entries = []
    for row in rows:
        url, years = row.get("endpoint_url"), row.get("years_available")
        if row.get("endpoint_id") is None or not isinstance(url, str):
            continue
        var_list_id = row.get("var_list_id")
        entries.append(CatalogEntry(str(row["endpoint_id"]), printable(url),
                                    printable(years) if isinstance(years, str) else "",
                                    None if var_list_id is None else str(var_list_id)))
    if not entries:
        raise CatalogUnavailable(f"{CATALOG_PATH} lists no endpoint")
    return entries


def fetch_variables(client: Client, entry: CatalogEntry) -> list[Variable]:
    """The varlist of one endpoint: by endpoint_id, else by var_list_id; FetchError if neither
    gives rows of that endpoint."""
    for key in dict.fromkeys(k for k in (entry.endpoint_id, entry.var_list_id) if k):
        rows = [row for row in client.fetch_all(VARLIST_PATH, {"endpoint_id": key})
                if str(row.get("endpoint_id")) == key and isinstance(row.get("variable"), str)]
        if rows:
            return [Variable(row["variable"], str(row.get("is_filter")) == "1",
                             row.get("data_type") if isinstance(row.get("data_type"), str) else None)
                    for row in rows]
    raise FetchError(VARLIST_PATH, f"no variables listed for endpoint {entry.endpoint_id} ({entry.endpoint_url})")


# --- the cache ---------------------------------------------------------------------------

def cache_path(cache_dir: Path, api_url: str) -> Path:
    digest = hashlib.sha256(api_url.rstrip("/").encode()).hexdigest()[:16]
    return Path(cache_dir) / f"catalog-{digest}.json"


def read_cache(cache_dir: Path, api_url: str) -> Catalog | None:
    """The cached catalog of this API, or None (no file, another API's, unreadable)."""
    try:
        document = json.loads(cache_path(cache_dir, api_url).read_text(encoding="utf-8"))
        if document.get("format") != CACHE_FORMAT or document.get("api_url") != api_url.rstrip("/"):
            return None
        fetched_at = datetime.fromisoformat(document["fetched_at"])
        if fetched_at.tzinfo is None:
            return None
        entries = [CatalogEntry(**entry) for entry in document["endpoints"]]
        varlists = {key: [Variable(**v) for v in variables] for key, variables in document["varlists"].items()}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Catalog(api_url, fetched_at, entries, varlists)


def write_cache(cache_dir: Path, catalog: Catalog) -> None:
    """Write atomically (a temporary file renamed over the old one); a cache that cannot be
    written only costs a request next time."""
    document: dict[str, Any] = {
        "format": CACHE_FORMAT,
        "api_url": catalog.api_url.rstrip("/"),
        "fetched_at": catalog.fetched_at.isoformat(),
        "endpoints": [entry.__dict__ for entry in catalog.entries],
        "varlists": {key: [v.__dict__ for v in variables] for key, variables in catalog.varlists.items()},
    }
    path = cache_path(cache_dir, catalog.api_url)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".catalog-", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(document, out)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError:
        pass


__all__ = ["Catalog", "CatalogEntry", "CatalogUnavailable", "Variable", "YearsTextError", "load_catalog"]
