"""Faults the fake Urban API can inject, and the table that hands them out per request.

A fault applies to the next `times` requests whose path+query contains `path_contains`
(`times=None`: every such request). Kinds and their options (defaults in KINDS):

Response-replacing (the first matching one answers the request instead of the data):
  status          any status code: `status` (500), `body` (a short text), `retry_after` (None)
  rate_limit      429 with `Retry-After: retry_after` (1 s); `status` can be changed
  html            an HTML error page served as text/html with `status` (200)
  challenge       the bot protection of January 2025: HTTP 403 with an HTML page "Enable
                  JavaScript and cookies to continue" (switch it on with `times=None`, off
                  with `clear_faults()`)
  drop_connection the connection is closed without any response
  redirect        HTTP 302 to `to` (a path and query under /api/v1/, e.g. another state's
                  listing `school-districts/ccd/directory/2018/?fips=5`)
  wrong_listing   the answer to `to` instead of the one asked for (a confused cache)
  endless         200 with a body that never ends (no Content-Length), `chunk_bytes` (64 KiB)
                  at a time, until the client hangs up

Transforming (every matching one changes the normal data response):
  truncated       the JSON body cut to `fraction` (0.5) of its bytes; Content-Length is the cut
                  length, or with `declare_full_length=True` the full length (the connection
                  then closes early: the client sees an incomplete read)
  count_mismatch  `count` is `extra` (10) more than the rows the listing really has
  slow            `mode="delay"`: wait `seconds` (5) before answering; `mode="trickle"`: send
                  the headers at once, then the body in `chunks` (50) pieces over `seconds`
  relative_next   `next`/`previous` links relative: `form="path"` (`/api/v1/...?page=2`) or
                  `form="query"` (`?page=2`)
  rename_field    field `old` renamed to `new` in every row (the API renaming a column)
  loop_next       `next` points back at the page itself (a pagination loop)
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

REPLACING = ("status", "rate_limit", "html", "challenge", "drop_connection", "redirect", "wrong_listing", "endless")
KINDS: dict[str, dict[str, Any]] = {
    "status": {"status": 500, "body": None, "retry_after": None},
    "rate_limit": {"retry_after": 1, "status": 429},
    "html": {"status": 200},
    "challenge": {},
    "drop_connection": {},
    "redirect": {"to": None},
    "wrong_listing": {"to": None},
    "endless": {"chunk_bytes": 64 * 1024},
    "truncated": {"fraction": 0.5, "declare_full_length": False},
    "count_mismatch": {"extra": 10},
    "slow": {"seconds": 5.0, "mode": "delay", "chunks": 50},
    "relative_next": {"form": "path"},
    "rename_field": {"old": None, "new": None},
    "loop_next": {},
}


@dataclass
class Fault:
    kind: str
    path_contains: str = ""
    times: int | None = 1
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def replaces_response(self) -> bool:
        return self.kind in REPLACING

    def __getattr__(self, name: str) -> Any:  # fault.status, fault.seconds, ...
        options = self.__dict__.get("options", {})
        if name in options:
            return options[name]
        raise AttributeError(name)


def make_fault(kind: str, path_contains: str, times: int | None, options: dict) -> Fault:
    if kind not in KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(KINDS)}")
    unknown = set(options) - set(KINDS[kind])
    if unknown:
        raise ValueError(f"fault {kind!r} has no option(s) {sorted(unknown)}; "
                         f"it takes {sorted(KINDS[kind]) or 'none'}")
    if times is not None and times < 1:
        raise ValueError("times must be >= 1 or None (forever)")
    merged = KINDS[kind] | options
    if kind in ("redirect", "wrong_listing") and not merged["to"]:
        raise ValueError(f"{kind} needs to= (a path and query under /api/v1/)")
    if kind == "rename_field" and not (merged["old"] and merged["new"]):
        raise ValueError("rename_field needs old= and new= field names")
    if kind == "slow" and merged["mode"] not in ("delay", "trickle"):
        raise ValueError("slow mode is 'delay' or 'trickle'")
    if kind == "relative_next" and merged["form"] not in ("path", "query"):
        raise ValueError("relative_next form is 'path' or 'query'")
    return Fault(kind, path_contains, times, merged)


class FaultTable:
    """Thread-safe list of pending faults."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, target: str) -> list[Fault]:
        """The faults for one request (consuming one use of each): at most one replacing
        fault, plus every matching transforming fault, in the order they were added."""
        chosen: list[Fault] = []
        with self._lock:
            replacing_taken = False
            for fault in list(self._faults):
                if fault.path_contains not in target:
                    continue
                if fault.replaces_response:
                    if replacing_taken:
                        continue
                    replacing_taken = True
                chosen.append(fault)
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
        return chosen
