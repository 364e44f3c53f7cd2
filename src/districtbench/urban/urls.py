"""Small URL and header helpers for the Urban API client."""

from __future__ import annotations

import email.utils
import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from districtbench.text import printable


def redact_url(url: str) -> str:
    """The URL without any user:password part (safe to show in messages)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def shown_url(url: str) -> str:
    """A URL as it may appear in a message: no credentials, no control characters."""
    return printable(redact_url(url))


def normalize_url(url: str) -> str:
    """A key under which the same page has the same URL: lower-case scheme and host, query
    parameters sorted, `page=1` dropped (page 1 is the URL without `page`), no fragment."""
    parts = urlsplit(redact_url(url))
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                   if not (k == "page" and v == "1"))
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/",
                       urlencode(query), ""))


def listing_identity(url: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """What makes two URLs pages of the same listing: the path after the API's `/api/v1/`
    (so a mirror's host or prefix does not matter), without a trailing slash, and the query
    parameters other than `page`, sorted."""
    parts = urlsplit(url)
    path = parts.path
    marker = path.find("/api/v1/")
    if marker >= 0:
        path = path[marker + len("/api/v1/"):]
    query = tuple(sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "page"))
    return path.strip("/"), query


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
