"""A real HTTP server on 127.0.0.1 that speaks the Urban Institute API contract (urban-api.md).

    with FakeUrbanApi(load_dataset(), page_size=50) as api:
        requests.get(api.url + "/school-districts/ccd/directory/2018/?fips=5&race=99")

- `GET /api/v1/<endpoint path with the year>/` answers the DRF envelope
  `{"count", "next", "previous", "results"}`; `next` is absolute and keeps the query string.
- Query parameters that are *filter variables* of the endpoint (its varlist's `is_filter`)
  filter by exact text, combined with AND, comma lists meaning any of (`fips=17,55`):
  `fips=6` matches, `fips=06` matches nothing, like the real API. Any other parameter is
  ignored — the answer is unfiltered, as the real API's is (`limit`, `per_page`, a field that
  is not a filter).
- `fields=a,b` returns only those columns, in that order; a name the endpoint does not have
  comes back as an empty (null) column, not an error.
- `GET /api/v1/api-endpoints/`: the catalog (endpoint ids, URL templates, `years_available`);
  `GET /api/v1/api-endpoint-varlist/?endpoint_id=N`: its variables. Both in one page.
- HTTP 500 for a year the endpoint does not have (the real API does not answer 404) and for a
  bare grade segment (`assessments/2015/8/`); 404 for an unknown path or a page past the end;
  200 with count 0 for a valid query without rows.
- With a `portal` (portal.py, a fake Socrata-style state portal), `GET /resource/…` is the
  portal's: plain JSON lists paged with `$limit`/`$offset`.
- Faults (faults.py) make it misbehave on demand, on the portal's paths too; `latency`: every answer leaves that long
  after its request came in (the time spent preparing it included, when shorter).
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from districtbench.fakeapi.dataset import Dataset
from districtbench.fakeapi.faults import Fault, FaultTable, make_fault
from districtbench.fakeapi.portal import StatePortal
from districtbench.fakeapi.table import Table

PREFIX = "/api/v1/"
CATALOG_PATH = "api-endpoints"
VARLIST_PATH = "api-endpoint-varlist"
METADATA_PAGE_SIZE = 10_000
RESERVED = frozenset({"page", "fields"})
BARE_GRADE = re.compile(r"school-districts/edfacts/assessments/\d{4}/\d+/?")
HTML_PAGE = (
    "<!DOCTYPE html><html><head><title>Service Unavailable</title></head>"
    "<body><h1>The Education Data Portal is temporarily unavailable</h1>"
    "<p>Please try again later.</p></body></html>"
)
CHALLENGE_PAGE = (
    "<!DOCTYPE html><html lang=\"en-US\"><head><title>Just a moment...</title></head>"
    "<body><noscript>Enable JavaScript and cookies to continue</noscript>"
    "<div id=\"challenge\">Checking your browser before accessing educationdata.urban.org.</div>"
    "</body></html>"
)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    api: "FakeUrbanApi"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so clients can pool connections
    server: _Server
    timeout = 30  # idle keep-alive connections are closed after this

    def setup(self) -> None:
        super().setup()
        # Small writes must not wait for the peer's delayed ACK (~40 ms per page otherwise).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.api._track(self.connection, add=True)

    def finish(self) -> None:
        self.server.api._track(self.connection, add=False)
        super().finish()

    def handle(self) -> None:
        try:
            super().handle()
        except (ConnectionResetError, BrokenPipeError):  # a client that hung up between requests
            self.close_connection = True

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        try:
            self.server.api._handle(self)
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


class _Response:
    def __init__(self, status: int, body: bytes, content_type: str = "application/json",
                 headers: dict[str, str] | None = None):
        self.status, self.body, self.content_type = status, body, content_type
        self.headers = headers or {}


def _json(status: int, payload: Any) -> _Response:
    return _Response(status, json.dumps(payload).encode())


class FakeUrbanApi:
    """The fake Urban API. `url` (…/api/v1, no trailing slash) is valid once started."""

    def __init__(self, dataset: Dataset, *, page_size: int = 1000, latency: float = 0.0,
                 host: str = "127.0.0.1", port: int = 0, portal: StatePortal | None = None):
        self.dataset = dataset
        self.portal = portal
        self.page_size = page_size
        self.latency = latency
        self.host, self.port = host, port
        self.requests_log: list[str] = []
        self._log_lock = threading.Lock()
        self._faults = FaultTable()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()

    # --- lifecycle -------------------------------------------------------------------
    def start(self) -> "FakeUrbanApi":
        if self._httpd is not None:
            return self
        self._stopping = threading.Event()
        httpd = _Server((self.host, self.port), _Handler)
        httpd.api = self
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"fake-urban-api:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stopping.set()  # wakes handlers sleeping on latency / slow faults
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._log_lock:  # keep-alive connections must not outlive the server
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> "FakeUrbanApi":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def portal_url(self) -> str:
        """The base URL of the portal's datasets (…/resource)."""
        if self._httpd is None:
            raise RuntimeError("FakeUrbanApi is not started")
        return f"http://{self.host}:{self.port}/resource"

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("FakeUrbanApi is not started")
        return f"http://{self.host}:{self.port}{PREFIX.rstrip('/')}"

    # --- faults ----------------------------------------------------------------------
    def add_fault(self, kind: str, *, path_contains: str = "", times: int | None = 1,
                  **options: Any) -> None:
        """Misbehave on the next `times` matching requests (None: forever). See faults.py."""
        self._faults.add(make_fault(kind, path_contains, times, options))

    def clear_faults(self) -> None:
        self._faults.clear()

    # --- request handling --------------------------------------------------------------
    def _track(self, connection: socket.socket, *, add: bool) -> None:
        with self._log_lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def _handle(self, handler: _Handler) -> None:
        if self._stopping.is_set():
            handler.close_connection = True
            return
        target = handler.path
        asked_at = time.monotonic()
        with self._log_lock:
            self.requests_log.append(target)
        faults = self._faults.take(target)
        replacing = next((f for f in faults if f.replaces_response), None)
        if replacing is not None and replacing.kind == "drop_connection":
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        if replacing is not None and replacing.kind == "endless":
            self._send_endless(handler, replacing)
            return
        for fault in faults:
            if fault.kind == "slow" and fault.mode == "delay" and self._stopping.wait(fault.seconds):
                return
        if replacing is not None and replacing.kind == "wrong_listing":
            response = self._answer(PREFIX + replacing.to.lstrip("/"), faults)
        elif replacing is not None:
            response = self._replacement(replacing)
        else:
            response = self._answer(target, faults)
        # the answer leaves `latency` after the request came in, its preparation included
        if self.latency > 0 and self._stopping.wait(max(0.0, asked_at + self.latency - time.monotonic())):
            return
        trickle = next((f for f in faults if f.kind == "slow" and f.mode == "trickle"), None)
        truncated = next((f for f in faults if f.kind == "truncated"), None)
        if truncated is not None and response.status == 200 and replacing is None:
            self._send_truncated(handler, response, truncated)
        else:
            self._send(handler, response, trickle)

    def _replacement(self, fault: Fault) -> _Response:
        if fault.kind == "html":
            return _Response(fault.status, HTML_PAGE.encode(), "text/html; charset=utf-8")
        if fault.kind == "challenge":
            return _Response(403, CHALLENGE_PAGE.encode(), "text/html; charset=UTF-8")
        if fault.kind == "redirect":
            location = f"http://{self.host}:{self.port}{PREFIX}{fault.to.lstrip('/')}"
            return _Response(302, b"", "text/html; charset=utf-8", {"Location": location})
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
        if fault.kind == "rate_limit":
            return _Response(fault.status, b'{"detail":"Request was throttled."}',
                             headers=headers)
        body = fault.body or f"Server Error ({fault.status})"
        return _Response(fault.status, body.encode(), "text/plain; charset=utf-8", headers)

    def _answer(self, target: str, faults: list[Fault]) -> _Response:
        parts = urlsplit(target)
        if self.portal is not None and self.portal.serves(parts.path):
            return _Response(*self.portal.answer(parts.path, parse_qsl(parts.query, keep_blank_values=True)))
        if not parts.path.startswith(PREFIX):
            return _json(404, {"detail": "Not found."})
        relative = parts.path[len(PREFIX):]
        query = parse_qsl(parts.query, keep_blank_values=True)
        if relative.strip("/") in (CATALOG_PATH, VARLIST_PATH):
            return self._metadata(relative.strip("/"), parts.path, query)
        resolved = self.dataset.resolve(relative)
        if resolved is None:
            if BARE_GRADE.fullmatch(relative):
                return _Response(500, b"Server Error (500)", "text/plain")
            return _json(404, {"detail": "Not found."})
        template, year = resolved
        if year not in self.dataset.valid_years(template):
            return _Response(500, b"Server Error (500)", "text/plain")  # what the real API answers
        table = self.dataset.table(template, year) or Table([], {}, 0)
        filter_names = self.dataset.filter_names(template)
        filters = {name: value.split(",") for name, value in query
                   if name not in RESERVED and (filter_names is None or name in filter_names)}
        return self._page(table, table.select(filters), parts.path, query, faults, self.page_size)

    def _metadata(self, which: str, path: str, query: list[tuple[str, str]]) -> _Response:
        """The catalog, or the varlist filtered by `endpoint_id` (its only filter here)."""
        endpoints, varlist = self.dataset.catalog_rows()
        rows = endpoints if which == CATALOG_PATH else varlist
        wanted = [value.split(",") for name, value in query if name == "endpoint_id"]
        if which == VARLIST_PATH and wanted:
            rows = [row for row in rows if all(str(row["endpoint_id"]) in values for values in wanted)]
        table = Table.from_rows(rows)
        return self._page(table, range(len(table)), path, query, [], max(self.page_size, METADATA_PAGE_SIZE))

    def _page(self, table: Table, selected, path: str, query: list[tuple[str, str]],
              faults: list[Fault], page_size: int) -> _Response:
        page_text = dict(query).get("page", "1")
        if not page_text.isdigit() or int(page_text) < 1:
            return _json(404, {"detail": "Invalid page."})
        page = int(page_text)
        size = max(1, int(page_size))
        start = (page - 1) * size
        if page > 1 and start >= len(selected):
            return _json(404, {"detail": "Invalid page."})
        fields = _fields(query)
        payload = {
            "count": len(selected),
            "next": self._link(path, query, page + 1) if start + size < len(selected) else None,
            "previous": self._link(path, query, page - 1) if page > 1 else None,
            "results": table.rows(selected[start:start + size], fields),
        }
        for fault in faults:
            payload = self._transform(fault, payload, path, query, page)
        return _json(200, payload)

    def _link(self, path: str, query: list[tuple[str, str]], page: int, *,
              form: str = "absolute") -> str:
        """DRF's page links: the request's query with `page` replaced (dropped for page 1)."""
        kept = [(k, v) for k, v in query if k != "page"]
        if page > 1:
            kept.append(("page", str(page)))
        qs = urlencode(kept)
        if form == "query":
            return f"?{qs}" if qs else path
        suffix = f"{path}?{qs}" if qs else path
        return suffix if form == "path" else f"http://{self.host}:{self.port}{suffix}"

    def _transform(self, fault: Fault, payload: dict, path: str, query: list, page: int) -> dict:
        if fault.kind == "count_mismatch":
            payload["count"] += fault.extra
        elif fault.kind == "relative_next":
            if payload["next"]:
                payload["next"] = self._link(path, query, page + 1, form=fault.form)
            if payload["previous"]:
                payload["previous"] = self._link(path, query, page - 1, form=fault.form)
        elif fault.kind == "rename_field":
            payload["results"] = [
                {(fault.new if k == fault.old else k): v for k, v in row.items()}
                for row in payload["results"]
            ]
        elif fault.kind == "loop_next":
            payload["next"] = self._link(path, query, page)
        return payload

    # --- writing -----------------------------------------------------------------------
    def _headers(self, handler: _Handler, response: _Response, length: int,
                 body: bytes = b"") -> None:
        """Status line and headers, written in one piece with the start of the body."""
        handler.send_response(response.status)
        handler.send_header("Content-Type", response.content_type)
        handler.send_header("Content-Length", str(length))
        for name, value in response.headers.items():
            handler.send_header(name, value)
        handler._headers_buffer.append(b"\r\n" + body)  # what end_headers() would add
        handler.flush_headers()

    def _send(self, handler: _Handler, response: _Response, trickle: Fault | None) -> None:
        body = response.body
        if trickle is None:
            self._headers(handler, response, len(body), body)
            return
        self._headers(handler, response, len(body))
        pieces = max(1, min(int(trickle.chunks), len(body)))
        step = -(-len(body) // pieces)
        gap = float(trickle.seconds) / pieces
        for offset in range(0, len(body), step):
            handler.wfile.write(body[offset:offset + step])
            handler.wfile.flush()
            if self._stopping.wait(gap):
                handler.close_connection = True
                return

    def _send_endless(self, handler: _Handler, fault: Fault) -> None:
        """A JSON-looking body without an end (no Content-Length): until the client hangs up."""
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True
        chunk = b'{"count": 1, "next": null, "results": [{"lea_name": "' + b"x" * int(fault.chunk_bytes)
        handler.wfile.write(chunk)
        filler = b"x" * int(fault.chunk_bytes)
        while not self._stopping.is_set():
            handler.wfile.write(filler)  # BrokenPipeError once the client is gone

    def _send_truncated(self, handler: _Handler, response: _Response, fault: Fault) -> None:
        cut = response.body[: max(1, int(len(response.body) * float(fault.fraction)))]
        length = len(response.body) if fault.declare_full_length else len(cut)
        self._headers(handler, response, length)
        handler.wfile.write(cut)
        handler.wfile.flush()
        if fault.declare_full_length:
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)


def _fields(query: list[tuple[str, str]]) -> list[str] | None:
    """The `fields=` names (the last `fields` parameter wins), or None for every column."""
    values = [value for name, value in query if name == "fields"]
    if not values:
        return None
    names: list[str] = []
    for name in values[-1].split(","):
        if name.strip() and name.strip() not in names:
            names.append(name.strip())
    return names
