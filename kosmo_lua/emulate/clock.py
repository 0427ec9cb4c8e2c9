"""Time stamps the way HTTP APIs write them, so emulators need not repeat the formatting."""

from __future__ import annotations

import email.utils
from datetime import datetime, timezone
from typing import Callable

__all__ = ["Clock", "rfc3339", "parse_rfc3339", "http_date"]

#: Seconds since the epoch, like ``time.time``; emulators take one so tests can freeze or advance time.
Clock = Callable[[], float]


def rfc3339(ts: float) -> str:
    """``1700000000.5`` -> ``"2023-11-14T22:13:20.500000Z"`` (UTC, microseconds, trailing Z as APIs send it)."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_rfc3339(text: str) -> float | None:
    """The epoch seconds of an RFC 3339 date-time, or None when ``text`` is not one (a date alone is refused)."""
    if "T" not in text and "t" not in text:
        return None
    candidate = text.strip()
    if candidate[-1:] in ("Z", "z"):
        candidate = candidate[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(candidate)
    except ValueError:
        return None
    if parsed.tzinfo is None:  # RFC 3339 requires an offset; a naive time would silently mean local time
        return None
    return parsed.timestamp()


def http_date(ts: float) -> str:
    """An IMF-fixdate (``Retry-After``, ``Date``): ``"Tue, 14 Nov 2023 22:13:20 GMT"``."""
    return email.utils.formatdate(ts, usegmt=True)
