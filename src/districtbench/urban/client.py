"""The one module that talks HTTP to the Urban Institute Education Data Portal API.

`UrbanClient.fetch_all(path, params)` returns every row of a listing: it follows `next` to the
end, checks that the rows add up to `count`, retries what is worth retrying, and caches the
result for the client's lifetime (one fetch per listing, even when threads ask at once).
Anything else raises `FetchError(url, reason)` with a plain reason. See urban-api.md.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode, urljoin

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError

from districtbench import __version__
from districtbench.errors import FetchError
from districtbench.urban.urls import normalize_url, parse_retry_after, redact_url

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
ENVELOPE_KEYS = ("count", "next", "results")
POOL_SIZE = 16
CHUNK_BYTES = 64 * 1024


class _Retryable(Exception):
    """A failure worth another attempt (connection, timeout, 429/5xx)."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class _Flight:
    """One listing being fetched (or fetched): the other threads wait on `done`."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.rows: list[dict] | None = None
        self.error: BaseException | None = None


class UrbanClient:
    """HTTP client for the Urban API: retries, deadlines, pagination, count check, cache.

    base_url: e.g. `https://educationdata.urban.org/api/v1`.
    connect_timeout, read_timeout: per socket operation (s). deadline: wall-clock limit for
    one request, headers and whole body (s); a slow trickle is aborted once it passes (checked
    between reads, so it can overshoot by at most one read_timeout).
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
        max_retries: int = 5,
        backoff_base: float = 1.0,
        max_retry_after: float = 60.0,
        sleep: Callable[[float], Any] = time.sleep,
        session: requests.Session | None = None,
        keep_results: bool = True,
        give_up_after: int = 5,
    ):
        self.base_url = base_url.rstrip("/") + "/"
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.deadline = deadline
        self.max_retries = max(0, int(max_retries))
        self.backoff_base = backoff_base
        self.max_retry_after = max_retry_after
        self._sleep = sleep
        self._owns_session = session is None
        self.session = session if session is not None else self._new_session()
        self._lock = threading.Lock()
        self._cache: dict[str, _Flight] = {}
        self._request_count = 0
        # False: a listing is shared only with callers that asked while it was in flight,
        # then forgotten — a national backfill that groups its fetches needs no more, and
        # keeping every listing of a run would cost gigabytes.
        self.keep_results = keep_results
        # The API has been down for days at a time: after `give_up_after` requests in a row
        # that exhausted their retries, later requests fail at once instead of each waiting
        # through its own backoff (0 = never give up). A success resets the count.
        self.give_up_after = max(0, int(give_up_after))
        self._exhausted_in_a_row = 0

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

    def close(self) -> None:
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> "UrbanClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- listings ----------------------------------------------------------------------
    def listing_url(self, path: str, params: Mapping[str, object] | None = None) -> str:
        """The URL of page 1 of a listing (`fips` is always sent unpadded)."""
        url = urljoin(self.base_url, path.lstrip("/"))
        query = [(key, _param_text(key, value)) for key, value in (params or {}).items()
                 if value is not None]
        if query:
            url += ("&" if "?" in url else "?") + urlencode(query)
        return url

    def fetch_all(self, path: str, params: Mapping[str, object] | None = None) -> list[dict]:
        """GET base_url/path?params, follow `next` to the end, return all `results` rows.

        Thread-safe. Results are cached per (path, params) for the client's lifetime (unless
        keep_results=False); when two threads ask for the same listing at once, only one
        fetch happens and the other waits. A failed fetch is not cached. Each call gets its
        own copies of the rows.
        """
        url = self.listing_url(path, params)
        key = normalize_url(url)
        with self._lock:
            flight = self._cache.get(key)
            owner = flight is None
            if owner:
                flight = self._cache[key] = _Flight()
        assert flight is not None
        if owner:
            try:
                flight.rows = self._fetch_listing(url)
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
                return flight.rows  # waiters get copies; the owner may have the original
        else:
            flight.done.wait()
            if isinstance(flight.error, FetchError):
                raise FetchError(flight.error.url, flight.error.reason) from flight.error
            if flight.error is not None:
                raise flight.error
        assert flight.rows is not None
        return [dict(row) for row in flight.rows]

    def _fetch_listing(self, first_url: str) -> list[dict]:
        rows: list[dict] = []
        fetched: set[str] = set()
        count: int | None = None
        url: str | None = first_url
        while url is not None:
            if normalize_url(url) in fetched:
                raise FetchError(redact_url(url), "next link loops back to an already fetched URL")
            fetched.add(normalize_url(url))
            page = self._get_page(url)
            if count is None:
                count = page["count"]
            elif page["count"] != count:
                raise FetchError(redact_url(url),
                                 f"count changed from {count} to {page['count']} between pages")
            rows.extend(page["results"])
            if len(rows) > count:
                raise FetchError(redact_url(url), f"rows received {len(rows)} > count {count}")
            if page["next"] and not page["results"]:
                raise FetchError(redact_url(url), "empty page with a next link")
            url = urljoin(url, page["next"]) if page["next"] else None
        if len(rows) != count:
            raise FetchError(redact_url(first_url), f"rows received {len(rows)} != count {count}")
        return rows

    def _get_page(self, url: str) -> dict[str, Any]:
        body, content_type = self._get(url)
        shown = redact_url(url)
        if "html" in content_type.lower() or body.lstrip()[:1] == b"<":
            raise FetchError(shown, "response is HTML, not JSON")
        try:
            page = json.loads(body)
        except ValueError:
            raise FetchError(shown, f"truncated or malformed JSON ({len(body)} bytes)") from None
        if not isinstance(page, dict):
            raise FetchError(shown, f"response is a JSON {type(page).__name__}, not an object "
                                    "with count/next/results")
        missing = [key for key in ENVELOPE_KEYS if key not in page]
        if missing:
            raise FetchError(shown, f"missing envelope keys: {', '.join(missing)}")
        count, results, nxt = page["count"], page["results"], page["next"]
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise FetchError(shown, f"count is not a non-negative integer: {count!r}")
        if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
            raise FetchError(shown, "results is not a list of objects")
        if nxt is not None and not isinstance(nxt, str):
            raise FetchError(shown, f"next is not a URL: {nxt!r}")
        return page

    # --- one request, with retries -------------------------------------------------------
    def _get(self, url: str) -> tuple[bytes, str]:
        """(body, content type) of a 2xx answer, retrying what is worth retrying."""
        attempts = self.max_retries + 1
        with self._lock:
            given_up = self.give_up_after and self._exhausted_in_a_row >= self.give_up_after
        if given_up:
            raise FetchError(redact_url(url), f"not attempted: the API did not answer the last "
                                              f"{self.give_up_after} requests after retries "
                                              "(it may be down); run again later to resume")
        for attempt in range(1, attempts + 1):
            try:
                answer = self._attempt(url)
                with self._lock:
                    self._exhausted_in_a_row = 0
                return answer
            except _Retryable as failure:
                if attempt == attempts:
                    with self._lock:
                        self._exhausted_in_a_row += 1
                    plural = "s" if attempts != 1 else ""
                    raise FetchError(redact_url(url), f"retries exhausted after {attempts} "
                                                      f"attempt{plural}: {failure.reason}") from None
                if failure.retry_after is not None:
                    wait = min(failure.retry_after, self.max_retry_after)
                else:
                    wait = self.backoff_base * 2 ** (attempt - 1)
                self._sleep(wait)
        raise AssertionError("unreachable")

    def _attempt(self, url: str) -> tuple[bytes, str]:
        with self._lock:
            self._request_count += 1
        deadline_at = time.monotonic() + self.deadline
        try:
            response = self.session.get(
                url, stream=True,
                timeout=(self.connect_timeout, min(self.read_timeout, self.deadline)))
        except requests.exceptions.ConnectTimeout:
            raise _Retryable(f"connect timed out after {self.connect_timeout:g} s") from None
        except requests.exceptions.ReadTimeout:
            raise _Retryable(f"no response within {min(self.read_timeout, self.deadline):g} s") \
                from None
        except requests.exceptions.ConnectionError as exc:
            raise _Retryable(f"connection error: {_short(exc)}") from None
        except requests.exceptions.RequestException as exc:
            raise FetchError(redact_url(url), f"request failed: {_short(exc)}") from None
        with response:
            status = response.status_code
            if status in RETRY_STATUSES:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                raise _Retryable(f"HTTP {status}", retry_after)
            if not 200 <= status < 300:
                raise FetchError(redact_url(url), f"HTTP {status}{_api_error(response)}")
            body = self._read_body(response, deadline_at)
            return body, response.headers.get("Content-Type", "")

    def _read_body(self, response: requests.Response, deadline_at: float) -> bytes:
        """The whole body, aborted when the deadline passes (slow trickles happen)."""
        raw = response.raw
        read1 = getattr(raw, "read1", None)  # returns what has arrived, without waiting for more
        chunks: list[bytes] = []
        try:
            while True:
                if time.monotonic() > deadline_at:
                    raise _Retryable(f"request exceeded the {self.deadline:g} s deadline")
                if read1 is not None:
                    chunk = read1(CHUNK_BYTES, decode_content=True)
                else:  # urllib3 < 2
                    chunk = raw.read(8192, decode_content=True)
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)
        except ReadTimeoutError:
            raise _Retryable(f"read timed out after {self.read_timeout:g} s") from None
        except (ProtocolError, ConnectionError, OSError) as exc:
            raise _Retryable(f"connection broken while reading: {_short(exc)}") from None
        except DecodeError:
            raise _Retryable("response body could not be decoded") from None


def _param_text(key: str, value: object) -> str:
    if key == "fips":
        return str(int(str(value)))  # 6, "6", "06" -> "6": the API answers 0 rows to "06"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _short(exc: BaseException) -> str:
    """A one-line reason, without the nested urllib3 reprs (`Connection refused`,
    `Remote end closed connection without response`, `IncompleteRead(…)`)."""
    text = str(exc)
    errno = re.search(r"\[Errno -?\d+\] ([^'\"()]+)", text)
    if errno:
        return errno.group(1).strip()
    incomplete = re.search(r"IncompleteRead\([^)]*\)", text)
    if incomplete:
        return f"body ended early, {incomplete.group(0)}"
    quoted = re.findall(r"\w+\('([^']+)'", text)
    if quoted:
        return quoted[-1]
    return text[:200] or type(exc).__name__


def _api_error(response: requests.Response) -> str:
    """The API's own message for a 4xx (`[{"API ERROR": "..."}]` or `{"detail": "..."}`)."""
    try:
        payload = json.loads(response.raw.read(4096, decode_content=True) or b"null")
    except Exception:  # noqa: BLE001 - a best-effort detail only
        return ""
    if isinstance(payload, list) and payload and isinstance(payload[0], dict):
        payload = payload[0]
    if isinstance(payload, dict):
        message = payload.get("API ERROR") or payload.get("detail")
        if isinstance(message, str) and message:
            return f": {message[:200]}"
    return ""
