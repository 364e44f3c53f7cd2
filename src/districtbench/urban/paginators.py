"""How a listing is paged and where its records are: strategies the HTTP client drives.

The client (client.py) is the one transport — retries, deadlines, caps, single flight; a
paginator only says what to add to the first request, and, for each page's decoded JSON,
which records it holds and which URL comes next (None: that was the last page). Everything
the API sends is checked: a body of another shape fails the listing with a plain reason.

- `UrbanEnvelope()`: the Urban API's `{"count", "next", "results"}` — follows `next`, checks
  that the rows add up to `count`, that `count` does not change and that `next` stays on
  the same listing.
- `OffsetLimit(limit=1000, limit_param="$limit", offset_param="$offset")`: a plain JSON list
  per page (Socrata's SODA, many state portals); the next page is asked with the offset moved
  by `limit`; a page shorter than `limit` (or empty) is the last.
- `PlainList()`: one request, a plain JSON list of records.
- `Cursor(records_key="results", cursor_key="next_cursor", cursor_param="cursor")`: an
  object whose `records_key` holds the records and `cursor_key` the cursor of the next page,
  sent as `cursor_param`; a null, empty or absent cursor ends the listing.

The client also refuses a next URL it has already fetched (a loop) and stops a listing past
its page cap, whatever the paginator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Protocol
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from districtbench.errors import FetchError
from districtbench.text import printable
from districtbench.urban.urls import listing_identity, shown_url

ENVELOPE_KEYS = ("count", "next", "results")
Records = list[dict[str, Any]]


class Walk(Protocol):
    """One listing being paged (a paginator's state for it)."""

    def page(self, payload: Any, url: str) -> tuple[Records, str | None]:
        """The records of the page fetched from `url` and the URL of the next page, or None."""

    def end(self, first_url: str) -> None:
        """Checks once the last page is in (FetchError)."""


class Paginator(Protocol):
    def first_params(self, params: Mapping[str, object]) -> dict[str, object]:
        """The query of page 1 (what the paginator adds to the endpoint's own)."""

    def start(self, first_url: str) -> Walk: ...


def records_of(value: Any, url: str, what: str) -> Records:
    """`value` if it is a list of JSON objects, else a FetchError naming `what` it should be."""
    if not isinstance(value, list) or not all(isinstance(record, dict) for record in value):
        raise FetchError(shown_url(url), f"{what} is not a list of objects ({_kind(value)})")
    return value


def with_param(url: str, name: str, value: object) -> str:
    """`url` with query parameter `name` set to `value` (replacing it if present)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name]
    query.append((name, str(value)))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query, safe=","), ""))


def _kind(value: Any) -> str:
    return "a JSON " + {dict: "object", list: "list", str: "string", type(None): "null"}.get(
        type(value), type(value).__name__)


@dataclass(frozen=True)
class UrbanEnvelope:
    """The Urban API's DRF envelope: `count`, `next` (absolute or relative), `results`."""

    def first_params(self, params: Mapping[str, object]) -> dict[str, object]:
        return dict(params)

    def start(self, first_url: str) -> Walk:
        return _EnvelopeWalk(first_url)


class _EnvelopeWalk:
    def __init__(self, first_url: str):
        self.identity = listing_identity(first_url)
        self.count: int | None = None
        self.received = 0

    def page(self, payload: Any, url: str) -> tuple[Records, str | None]:
        page = envelope(payload, url)
        if self.count is None:
            self.count = page["count"]
        elif page["count"] != self.count:
            raise FetchError(shown_url(url), f"count changed from {self.count} to {page['count']} between pages")
        results = page["results"]
        self.received += len(results)
        if self.received > self.count:
            raise FetchError(shown_url(url), f"rows received {self.received} > count {self.count}")
        if page["next"] and not results:
            raise FetchError(shown_url(url), "empty page with a next link")
        following = urljoin(url, page["next"]) if page["next"] else None
        if following is not None and listing_identity(following) != self.identity:
            raise FetchError(shown_url(following), "next link leads to another listing (path or filters "
                                                   "changed); nothing of it is used")
        return results, following

    def end(self, first_url: str) -> None:
        if self.received != self.count:
            raise FetchError(shown_url(first_url), f"rows received {self.received} != count {self.count}")


def envelope(payload: Any, url: str) -> dict[str, Any]:
    """The checked envelope of one Urban page; FetchError naming what is wrong."""
    shown = shown_url(url)
    if not isinstance(payload, dict):
        raise FetchError(shown, f"response is {_kind(payload)}, not an object with count/next/results")
    missing = [key for key in ENVELOPE_KEYS if key not in payload]
    if missing:
        raise FetchError(shown, f"missing envelope keys: {', '.join(missing)}")
    count, nxt = payload["count"], payload["next"]
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise FetchError(shown, f"count is not a non-negative integer: {printable(repr(count))[:80]}")
    if not isinstance(payload["results"], list) or not all(isinstance(r, dict) for r in payload["results"]):
        raise FetchError(shown, "results is not a list of objects")
    if nxt is not None and not isinstance(nxt, str):
        raise FetchError(shown, f"next is not a URL: {printable(repr(nxt))[:80]}")
    return payload


@dataclass(frozen=True)
class OffsetLimit:
    """Pages of a plain JSON list, asked with `limit_param=limit&offset_param=offset`."""

    limit: int = 1000
    limit_param: str = "$limit"
    offset_param: str = "$offset"

    def __post_init__(self) -> None:
        if not isinstance(self.limit, int) or self.limit < 1:
            raise ValueError(f"OffsetLimit: limit must be a positive integer, not {self.limit!r}")

    def first_params(self, params: Mapping[str, object]) -> dict[str, object]:
        return {**params, self.limit_param: self.limit, self.offset_param: 0}

    def start(self, first_url: str) -> Walk:
        return _OffsetWalk(self)


class _OffsetWalk:
    def __init__(self, paginator: OffsetLimit):
        self.paginator = paginator
        self.offset = 0
        self.previous: Records | None = None

    def page(self, payload: Any, url: str) -> tuple[Records, str | None]:
        p = self.paginator
        records = records_of(payload, url, "the response")
        if len(records) > p.limit:
            raise FetchError(shown_url(url), f"{len(records)} rows on a page asked with {p.limit_param}={p.limit}: "
                                             f"the API ignores {p.limit_param}; nothing of it is used")
        if records and records == self.previous:
            raise FetchError(shown_url(url), f"the page at {p.offset_param}={self.offset} repeats the one before: "
                                             f"the API ignores {p.offset_param}; nothing of it is used")
        self.previous = records
        if len(records) < p.limit:
            return records, None
        self.offset += p.limit
        return records, with_param(url, p.offset_param, self.offset)

    def end(self, first_url: str) -> None:
        pass


@dataclass(frozen=True)
class PlainList:
    """One request; the answer is a plain JSON list of records."""

    def first_params(self, params: Mapping[str, object]) -> dict[str, object]:
        return dict(params)

    def start(self, first_url: str) -> Walk:
        return _PlainWalk()


class _PlainWalk:
    def page(self, payload: Any, url: str) -> tuple[Records, str | None]:
        return records_of(payload, url, "the response"), None

    def end(self, first_url: str) -> None:
        pass


@dataclass(frozen=True)
class Cursor:
    """An object per page: records under `records_key`, the next page's cursor under
    `cursor_key`, sent back as the query parameter `cursor_param`."""

    records_key: str = "results"
    cursor_key: str = "next_cursor"
    cursor_param: str = "cursor"

    def first_params(self, params: Mapping[str, object]) -> dict[str, object]:
        return dict(params)

    def start(self, first_url: str) -> Walk:
        return _CursorWalk(self)


class _CursorWalk:
    def __init__(self, paginator: Cursor):
        self.paginator = paginator

    def page(self, payload: Any, url: str) -> tuple[Records, str | None]:
        p = self.paginator
        if not isinstance(payload, dict) or p.records_key not in payload:
            raise FetchError(shown_url(url), f"response is {_kind(payload)} without {p.records_key!r}")
        records = records_of(payload[p.records_key], url, repr(p.records_key))
        cursor = payload.get(p.cursor_key)
        if cursor is None or cursor == "":
            return records, None
        if not isinstance(cursor, (str, int)) or isinstance(cursor, bool):
            raise FetchError(shown_url(url), f"{p.cursor_key!r} is not a cursor: {printable(repr(cursor))[:80]}")
        if not records:
            raise FetchError(shown_url(url), f"empty page with a {p.cursor_key!r}")
        return records, with_param(url, p.cursor_param, cursor)

    def end(self, first_url: str) -> None:
        pass
