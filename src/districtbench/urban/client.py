"""The one module that talks HTTP to the APIs a source reads (the Urban Institute Education
Data Portal API, and any other a plugin's source declares).

`UrbanClient.fetch_pages(path, params, paginator)` returns every page of a listing (`fetch_all`
the rows): the paginator (paginators.py; the Urban envelope by default) says which records a
page holds and which request comes next — following `next` and checking the rows against
`count` is the Urban envelope's part. The client retries what is worth retrying, refuses a
next URL it has fetched already and a listing past `max_pages`, and shares a listing between
the threads that ask for it at once. Anything else raises `FetchError(url, reason)` with a
plain reason. See urban-api.md and the README ("How it works").

A path may be an absolute URL (a source with a base URL of its own): it is asked as it is.

Bounds: a request has a wall-clock deadline, a whole listing has one too (pages, retries and
waits included), and a body has a size cap. After `give_up_after` requests in a row failed for
good the API is taken to be down and later requests fail at once; a path that answered HTTP
500 to every attempt does not count (the API answers 500 for a year or path it does not
have). A 403 with an HTML page is the API's bot protection: the client stops asking.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urljoin

import requests
from requests.adapters import HTTPAdapter

from districtbench import __version__
from districtbench.errors import FetchError
from districtbench.urban.paginators import Paginator, UrbanEnvelope
from districtbench.urban.response import (
    Retryable,
    TooLarge,
    api_error,
    decode_json,
    is_challenge,
    read_body,
    short_reason,
)
from districtbench.urban.urls import listing_identity, normalize_url, parse_retry_after, shown_url

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
POOL_SIZE = 16
MAX_BODY_BYTES = 128 * 1024 * 1024  # ten times a real 10,000-row page
MAX_PAGES = 10_000  # a real listing has at most a few dozen pages
URBAN_ENVELOPE = UrbanEnvelope()
BLOCKED = "blocked by the API's bot protection (HTTP 403 with a challenge page) — resumable, try later"


class _Flight:
    """One listing being fetched (or fetched): the other threads wait on `done`."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.pages: list[list[dict]] | None = None
        self.error: BaseException | None = None


@dataclass
class Traffic:
    """What one path cost: requests sent (retries included), body bytes and rows received."""

    requests: int = 0
    bytes: int = 0
    rows: int = 0


class UrbanClient:
    """HTTP client: retries, deadlines, caps, single flight; pagination by strategy.

    base_url: e.g. `https://educationdata.urban.org/api/v1`.
    connect_timeout, read_timeout: per socket operation (s). deadline: wall-clock limit for
    one request, headers and whole body (s); a slow trickle is aborted once it passes (checked
    between reads, so it can overshoot by at most one read_timeout). listing_timeout: the
    same for a whole listing, every page, retry and wait included (s).
    max_body_bytes: the largest body read; a larger one fails the listing. max_pages: the
    most pages of one listing (a server that pages without end fails it).
    max_retries: further attempts after the first, on connection errors, timeouts, 429 and
    500/502/503/504; waits backoff_base × 1, 2, 4, … s, or `Retry-After` (capped at
    max_retry_after). sleep: how to wait (tests inject their own).
    """

    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        deadline: float = 180.0,
        listing_timeout: float = 900.0,
        max_body_bytes: int = MAX_BODY_BYTES,
        max_retries: int = 5,
        backoff_base: float = 1.0,
        max_retry_after: float = 60.0,
        sleep: Callable[[float], Any] = time.sleep,
        session: requests.Session | None = None,
        keep_results: bool = True,
        give_up_after: int = 5,
        max_pages: int = MAX_PAGES,
    ):
        self.base_url = base_url.rstrip("/") + "/"
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.deadline = deadline
        self.listing_timeout = listing_timeout
        self.max_body_bytes = max_body_bytes
        self.max_pages = max(1, int(max_pages))
        self.max_retries = max(0, int(max_retries))
        self.backoff_base = backoff_base
        self.max_retry_after = max_retry_after
        self._sleep = sleep
        self._owns_session = session is None
        self.session = session if session is not None else self._new_session()
        self._lock = threading.Lock()
        self._cache: dict[str, _Flight] = {}
        self._request_count = 0
        self._traffic: dict[str, Traffic] = {}
        # False: a listing is shared only with callers that asked while it was in flight,
        # then forgotten — a national backfill that groups its fetches needs no more, and
        # keeping every listing of a run would cost gigabytes.
        self.keep_results = keep_results
        # The API has been down for days at a time: after `give_up_after` requests in a row
        # that failed for good, later requests fail at once instead of each waiting through
        # its own backoff (0 = never give up). A success resets the count.
        self.give_up_after = max(0, int(give_up_after))
        self._exhausted_in_a_row = 0
        self._blocked = False

    @staticmethod
    def _new_session() -> requests.Session:
        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.headers.update({
            "Accept": "application/json",
            "User-Agent": f"districtbench/{__version__} (python-requests)",
        })
        return session

    @property
    def request_count(self) -> int:
        """HTTP requests actually sent so far, retries included."""
        with self._lock:
            return self._request_count

    def traffic(self) -> dict[str, Traffic]:
        """Per URL path (without the query): requests, body bytes and rows received so far."""
        with self._lock:
            return {path: Traffic(t.requests, t.bytes, t.rows) for path, t in self._traffic.items()}

    def close(self) -> None:
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> "UrbanClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- listings ----------------------------------------------------------------------
    def listing_url(self, path: str, params: Mapping[str, object] | None = None) -> str:
        """The URL of page 1 of a listing (`fips` is always sent unpadded); an absolute `path`
        is not joined to the base URL."""
        url = urljoin(self.base_url, path.lstrip("/")) if "://" not in path else path
        query = [(key, _param_text(key, value)) for key, value in (params or {}).items()
                 if value is not None]
        if query:
            url += ("&" if "?" in url else "?") + urlencode(query, safe=",")
        return url

    def fetch_all(self, path: str, params: Mapping[str, object] | None = None,
                  paginator: Paginator = URBAN_ENVELOPE) -> list[dict]:
        """Every row of a listing (see `fetch_pages`)."""
        return [row for page in self.fetch_pages(path, params, paginator) for row in page]

    def fetch_pages(self, path: str, params: Mapping[str, object] | None = None,
                    paginator: Paginator = URBAN_ENVELOPE) -> list[list[dict]]:
        """GET base_url/path?params and every following page `paginator` asks for; the records
        of each page.

        Thread-safe. Results are cached per (path, params) for the client's lifetime (unless
        keep_results=False); when two threads ask for the same listing at once, only one
        fetch happens and the other waits. A failed fetch is not cached. Each call gets its
        own copies of the rows.
        """
        url = self.listing_url(path, paginator.first_params(params or {}))
        key = normalize_url(url) if paginator == URBAN_ENVELOPE else f"{normalize_url(url)} {paginator!r}"
        with self._lock:
            flight = self._cache.get(key)
            owner = flight is None
            if owner:
                flight = self._cache[key] = _Flight()
        assert flight is not None
        if owner:
            try:
                flight.pages = self._fetch_listing(url, paginator)
            except BaseException as exc:
                flight.error = exc
                with self._lock:
                    self._cache.pop(key, None)
                raise
            finally:
                flight.done.set()
            if not self.keep_results:
                with self._lock:
                    self._cache.pop(key, None)
                return flight.pages  # waiters get copies; the owner may have the original
        else:
            flight.done.wait()
            if isinstance(flight.error, FetchError):
                raise FetchError(flight.error.url, flight.error.reason) from flight.error
            if flight.error is not None:
                raise flight.error
        assert flight.pages is not None
        return [[dict(row) for row in page] for page in flight.pages]

    def _fetch_listing(self, first_url: str, paginator: Paginator) -> list[list[dict]]:
        pages: list[list[dict]] = []
        fetched: set[str] = set()
        url: str | None = first_url
        walk = paginator.start(first_url)
        ends_at = time.monotonic() + self.listing_timeout
        while url is not None:
            if normalize_url(url) in fetched:
                raise FetchError(_shown(url), "next link loops back to an already fetched URL")
            if len(pages) >= self.max_pages:
                raise FetchError(_shown(url), f"listing passed {self.max_pages:,} pages; nothing of it is used")
            fetched.add(normalize_url(url))
            records, following = walk.page(self._get_json(url, ends_at), url)
            with self._lock:
                self._traffic_of(url).rows += len(records)
            pages.append(records)
            url = following
        walk.end(first_url)
        return pages

    def _get_json(self, url: str, ends_at: float) -> Any:
        body, content_type = self._get(url, ends_at)
        return decode_json(body, content_type, _shown(url))

    def _traffic_of(self, url: str) -> Traffic:  # with self._lock held
        path = url.split("?", 1)[0]
        traffic = self._traffic.get(path)
        if traffic is None:
            traffic = self._traffic[path] = Traffic()
        return traffic

    # --- one request, with retries -------------------------------------------------------
    def _get(self, url: str, ends_at: float) -> tuple[bytes, str]:
        """(body, content type) of a 2xx answer, retrying what is worth retrying."""
        attempts = self.max_retries + 1
        self._check_not_given_up(url)
        statuses: list[int | None] = []
        for attempt in range(1, attempts + 1):
            remaining = ends_at - time.monotonic()
            if remaining <= 0:
                self._count_failure(statuses)
                raise FetchError(_shown(url), self._listing_timed_out(statuses))
            try:
                answer = self._attempt(url, min(self.deadline, remaining))
            except Retryable as failure:
                statuses.append(failure.status)
                if attempt == attempts:
                    self._count_failure(statuses)
                    plural = "s" if attempts != 1 else ""
                    reason = f"retries exhausted after {attempts} attempt{plural}: {failure.reason}"
                    if _all_500(statuses):
                        reason += " on every attempt (the API answers 500 for a path or year it does not have)"
                    raise FetchError(_shown(url), reason) from None
                if failure.retry_after is not None:
                    wait = min(failure.retry_after, self.max_retry_after)
                else:
                    wait = self.backoff_base * 2 ** (attempt - 1)
                if wait >= ends_at - time.monotonic():
                    self._count_failure(statuses)
                    raise FetchError(_shown(url), self._listing_timed_out(statuses, failure.reason)) from None
                self._sleep(wait)
                continue
            with self._lock:
                self._exhausted_in_a_row = 0
            return answer
        raise AssertionError("unreachable")

    def _check_not_given_up(self, url: str) -> None:
        with self._lock:
            blocked = self._blocked
            given_up = self.give_up_after and self._exhausted_in_a_row >= self.give_up_after
        if blocked:
            raise FetchError(_shown(url), f"not attempted: {BLOCKED}")
        if given_up:
            raise FetchError(_shown(url), f"not attempted: the API did not answer the last "
                                          f"{self.give_up_after} requests after retries "
                                          "(it may be down); run again later to resume")

    def _count_failure(self, statuses: list[int | None]) -> None:
        """One more request failed for good — unless every attempt was an HTTP 500: a path the
        API does not serve says nothing about whether the API is up."""
        if not _all_500(statuses):
            with self._lock:
                self._exhausted_in_a_row += 1

    def _listing_timed_out(self, statuses: list[int | None], last: str | None = None) -> str:
        tried = f" after {len(statuses)} attempt{'s' if len(statuses) != 1 else ''}" if statuses else ""
        why = f" (last: {last})" if last else ""
        return (f"listing exceeded its {self.listing_timeout:g} s limit{tried}{why}; "
                "run again later to resume")

    def _attempt(self, url: str, deadline: float) -> tuple[bytes, str]:
        with self._lock:
            self._request_count += 1
            self._traffic_of(url).requests += 1
        deadline_at = time.monotonic() + deadline
        read_timeout = min(self.read_timeout, deadline)
        try:
            response = self.session.get(url, stream=True, timeout=(self.connect_timeout, read_timeout))
        except requests.exceptions.ConnectTimeout:
            raise Retryable(f"connect timed out after {self.connect_timeout:g} s") from None
        except requests.exceptions.ReadTimeout:
            raise Retryable(f"no response within {read_timeout:g} s") from None
        except requests.exceptions.ConnectionError as exc:
            raise Retryable(f"connection error: {short_reason(exc)}") from None
        except requests.exceptions.RequestException as exc:
            raise FetchError(_shown(url), f"request failed: {short_reason(exc)}") from None
        with response:
            if response.history and listing_identity(response.url) != listing_identity(url):
                raise FetchError(_shown(url), f"redirected to another listing ({_shown(response.url)}); "
                                              "nothing of it is used")
            status = response.status_code
            if status in RETRY_STATUSES:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                raise Retryable(f"HTTP {status}", retry_after, status)
            if status == 403 and is_challenge(response):
                with self._lock:
                    self._blocked = True
                raise FetchError(_shown(url), BLOCKED)
            if not 200 <= status < 300:
                raise FetchError(_shown(url), f"HTTP {status}{api_error(response)}")
            try:
                body = read_body(response, deadline_at, deadline, self.read_timeout, self.max_body_bytes)
            except TooLarge as exc:
                raise FetchError(_shown(url), str(exc)) from None
            with self._lock:
                self._traffic_of(url).bytes += len(body)
            return body, response.headers.get("Content-Type", "")


def _all_500(statuses: list[int | None]) -> bool:
    return bool(statuses) and all(status == 500 for status in statuses)


_shown = shown_url


def _param_text(key: str, value: object) -> str:
    if key == "fips":
        return str(int(str(value)))  # 6, "6", "06" -> "6": the API answers 0 rows to "06"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

