"""Reading and checking one HTTP answer of the Urban API (used by `client.py` only).

- `read_body`: the body, aborted when the request's deadline passes (slow trickles happen) or
  when it grows past the size cap (a real page is ~12 MB; a 2 GB answer must not grow the
  process to 5 GB).
- `is_challenge`: a 403 with an HTML page is the API's bot protection (January 2025: days of
  "Enable JavaScript and cookies to continue"), not a missing permission.
- `decode_json`: the JSON of a body, or a FetchError saying why not (HTML, truncated); what
  the JSON must hold is the paginator's to check (paginators.py).
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import requests
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError

from districtbench.errors import FetchError
from districtbench.text import printable

CHUNK_BYTES = 64 * 1024
CHALLENGE_PEEK_BYTES = 16 * 1024
# Integers longer than this are unconvertible values to the sources, not a reason to fail
# the page (Python refuses to parse integers of more than 4,300 digits).
LONGEST_INTEGER = 100


class Retryable(Exception):
    """A failure worth another attempt (connection, timeout, 429/5xx)."""

    def __init__(self, reason: str, retry_after: float | None = None, status: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.status = status


class TooLarge(Exception):
    """The body is larger than the cap: the listing fails (retrying would fetch it again)."""


def read_body(response: requests.Response, deadline_at: float, deadline: float, read_timeout: float,
              max_bytes: int) -> bytes:
    """The whole body; Retryable when the deadline passes or the connection breaks,
    TooLarge past `max_bytes`."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise TooLarge(_too_large(int(declared), max_bytes, declared=True))
    raw = response.raw
    read1 = getattr(raw, "read1", None)  # returns what has arrived, without waiting for more
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            if time.monotonic() > deadline_at:
                raise Retryable(f"request exceeded the {deadline:g} s deadline")
            if read1 is not None:
                chunk = read1(CHUNK_BYTES, decode_content=True)
            else:  # urllib3 < 2
                chunk = raw.read(8192, decode_content=True)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > max_bytes:
                raise TooLarge(_too_large(size, max_bytes, declared=False))
            chunks.append(chunk)
    except ReadTimeoutError:
        raise Retryable(f"read timed out after {read_timeout:g} s") from None
    except (ProtocolError, ConnectionError, OSError) as exc:
        raise Retryable(f"connection broken while reading: {short_reason(exc)}") from None
    except DecodeError:
        raise Retryable("response body could not be decoded") from None


def _too_large(size: int, limit: int, *, declared: bool) -> str:
    what = f"declares {_size(size)}" if declared else f"passed {_size(limit)}"
    return (f"response body {what}, over the {_size(limit)} limit (a real page is ~12 MB): "
            "not read; run again later to resume")


def _size(count: int) -> str:
    return f"{count / 1e6:,.0f} MB" if count >= 1e6 else f"{count / 1e3:,.0f} kB"


def is_challenge(response: requests.Response) -> bool:
    """A bot-protection page: HTML (by its type or its first bytes) instead of JSON."""
    if "html" in response.headers.get("Content-Type", "").lower():
        return True
    try:
        start = response.raw.read(CHALLENGE_PEEK_BYTES, decode_content=True) or b""
    except Exception:  # noqa: BLE001 - the status alone already says it failed
        return False
    return start.lstrip()[:1] == b"<" or b"Enable JavaScript" in start


def decode_json(body: bytes, content_type: str, shown_url: str) -> Any:
    """The decoded JSON of one answer; FetchError naming what is wrong."""
    if "html" in content_type.lower() or body.lstrip()[:1] == b"<":
        raise FetchError(shown_url, "response is HTML, not JSON")
    try:
        return json.loads(body)
    except ValueError as exc:
        if "integer string conversion" not in str(exc):
            raise FetchError(shown_url, f"truncated or malformed JSON ({len(body)} bytes)") from None
        return json.loads(body, parse_int=_bounded_int)


def _bounded_int(text: str) -> int | float:
    """JSON integers as int; absurdly long ones as infinity (a value sources NULL and count)."""
    if len(text.lstrip("-")) > LONGEST_INTEGER:
        return float("-inf") if text.startswith("-") else float("inf")
    return int(text)


def api_error(response: requests.Response) -> str:
    """The API's own message for a 4xx (`[{"API ERROR": "..."}]` or `{"detail": "..."}`, or a
    Socrata portal's `{"message": "..."}`), cleaned of control characters (it is shown to the
    user)."""
    try:
        payload = json.loads(response.raw.read(4096, decode_content=True) or b"null")
    except Exception:  # noqa: BLE001 - a best-effort detail only
        return ""
    if isinstance(payload, list) and payload and isinstance(payload[0], dict):
        payload = payload[0]
    if isinstance(payload, dict):
        message = payload.get("API ERROR") or payload.get("detail") or payload.get("message")
        if isinstance(message, str) and message:
            return f": {printable(message)[:200]}"
    return ""


def short_reason(exc: BaseException) -> str:
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
    return printable(text[:200]) or type(exc).__name__
