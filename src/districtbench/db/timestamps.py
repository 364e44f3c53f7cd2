"""The one clock for rows we write: the app's TIMESTAMP(3) columns have no database default."""

from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    """Naive UTC to the millisecond, as TIMESTAMP(3) without time zone stores it (on SQLite too)."""
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
