"""A real HTTP server on 127.0.0.1 that speaks the Urban Institute API contract (urban-api.md).

    with FakeUrbanApi(load_dataset(), page_size=50) as api:
        requests.get(api.url + "/school-districts/ccd/directory/2018/?fips=5")

- `GET /api/v1/<endpoint path with the year>/` answers the DRF envelope
  `{"count", "next", "previous", "results"}`; `next` is absolute and keeps the query string.
- Query parameters naming a field of the rows filter by exact text (`fips=6` matches,
  `fips=06` matches nothing, like the real API); others (`limit`, `per_page`) are ignored.
- 404 for an unknown path, a year the endpoint does not have, or a page past the end;
  500 for a bare grade segment (`assessments/2015/8/`), as the real API does;
  200 with count 0 for a valid query without rows.
- Faults (faults.py) make it misbehave on demand; `latency` delays every answer.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from districtbench.fakeapi.dataset import Dataset
from districtbench.fakeapi.faults import Fault, FaultTable, make_fault

PREFIX = "/api/v1/"
BARE_GRADE = re.compile(r"school-districts/edfacts/assessments/\d{4}/\d+/?")
HTML_PAGE = (
    "<!DOCTYPE html><html><head><title>Service Unavailable</title></head>"
    "<body><h1>The Education Data Portal is temporarily unavailable</h1>"
    "<p>Please try again later.</p></body></html>"
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
                 host: str = "127.0.0.1", port: int = 0):
        self.dataset = dataset
        self.page_size = page_size
        self.latency = latency
        self.host, self.port = host, port
        self.requests_log: list[str] = []
        self._log_lock = threading.Lock()
        self._faults = FaultTable()
        self._filtered: dict[tuple, list[dict]] = {}
        self._fips_index: dict[tuple, dict[str | None, list[dict]]] = {}
        self._filter_lock = threading.Lock()
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
        with self._log_lock:
            self.requests_log.append(target)
        if self.latency > 0 and self._stopping.wait(self.latency):
            return
        faults = self._faults.take(target)
        replacing = next((f for f in faults if f.replaces_response), None)
        if replacing is not None and replacing.kind == "drop_connection":
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        for fault in faults:
            if fault.kind == "slow" and fault.mode == "delay" and self._stopping.wait(fault.seconds):
                return
        response = self._replacement(replacing) if replacing else self._answer(target, faults)
        trickle = next((f for f in faults if f.kind == "slow" and f.mode == "trickle"), None)
        truncated = next((f for f in faults if f.kind == "truncated"), None)
        if truncated is not None and response.status == 200 and replacing is None:
            self._send_truncated(handler, response, truncated)
        else:
            self._send(handler, response, trickle)

    def _replacement(self, fault: Fault) -> _Response:
        if fault.kind == "html":
            return _Response(fault.status, HTML_PAGE.encode(), "text/html; charset=utf-8")
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
        if not parts.path.startswith(PREFIX):
            return _json(404, {"detail": "Not found."})
        relative = parts.path[len(PREFIX):]
        resolved = self.dataset.resolve(relative)
        if resolved is None:
            if BARE_GRADE.fullmatch(relative):
                return _Response(500, b"Server Error (500)", "text/plain")
            return _json(404, {"detail": "Not found."})
        template, year = resolved
        if year not in self.dataset.valid_years(template):
            return _json(404, {"detail": "Not found."})
        query = parse_qsl(parts.query, keep_blank_values=True)
        page_text = dict(query).get("page", "1")
        if not page_text.isdigit() or int(page_text) < 1:
            return _json(404, {"detail": "Invalid page."})
        page = int(page_text)
        rows = self._filter(template, year, [(k, v) for k, v in query if k != "page"])
        size = max(1, int(self.page_size))
        start = (page - 1) * size
        if page > 1 and start >= len(rows):
            return _json(404, {"detail": "Invalid page."})
        results = rows[start:start + size]
        payload = {
            "count": len(rows),
            "next": self._link(parts.path, query, page + 1) if start + size < len(rows) else None,
            "previous": self._link(parts.path, query, page - 1) if page > 1 else None,
            "results": results,
        }
        for fault in faults:
            payload = self._transform(fault, payload, parts.path, query, page)
        return _json(200, payload)

    def _filter(self, template: str, year: int, filters: list[tuple[str, str]]) -> list[dict]:
        rows = self.dataset.records(template, year)
        fields = rows[0].keys() if rows else ()
        active = tuple(sorted((k, v) for k, v in filters if k in fields))
        if not active:
            return rows
        if len(active) == 1 and active[0][0] == "fips":
            return self._by_fips(template, year, rows).get(active[0][1], [])
        key = (template, year, active)
        with self._filter_lock:
            cached = self._filtered.get(key)
        if cached is None:
            cached = [r for r in rows if all(_text(r.get(k)) == v for k, v in active)]
            with self._filter_lock:
                if len(self._filtered) > 256:
                    self._filtered.clear()
                self._filtered[key] = cached
        return cached

    def _by_fips(self, template: str, year: int, rows: list[dict]) -> dict[str, list[dict]]:
        """Rows of one listing grouped by fips, built once: the common `?fips=N` query."""
        key = (template, year, id(rows), len(rows))  # rows added later make a new index
        with self._filter_lock:
            index = self._fips_index.get(key)
            if index is None:
                index = {}
                for row in rows:
                    index.setdefault(_text(row.get("fips")), []).append(row)
                self._fips_index[key] = index
        return index

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

    def _send_truncated(self, handler: _Handler, response: _Response, fault: Fault) -> None:
        cut = response.body[: max(1, int(len(response.body) * float(fault.fraction)))]
        length = len(response.body) if fault.declare_full_length else len(cut)
        self._headers(handler, response, length)
        handler.wfile.write(cut)
        handler.wfile.flush()
        if fault.declare_full_length:
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)


def _text(value: Any) -> str | None:
    """A row value as it would appear in a query string (None matches nothing)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
