"""Retry rules, pure so they can be tested without a network.

What may be repeated (the rule that keeps a POST from creating two predictions):

* 429 on any method: the server refused without acting.
* 502/503/504 and network failures (timeouts, dropped connections) only for idempotent methods
  (``RequestSpec.idempotent``: GET, HEAD, QUERY, DELETE, OPTIONS).
* A failure to *connect* (``httpx.ConnectError``, a connect or pool timeout) on any method: no byte of the
  request left this machine, so the server cannot have acted on it.
* A POST/PATCH/PUT that may have reached the server (a 5xx, a read timeout, a connection dropped mid-request) is
  never repeated.
"""

from __future__ import annotations

from collections.abc import Callable
from email.utils import parsedate_to_datetime

from ..integration import RetryPolicy

__all__ = ["RETRYABLE_GATEWAY_STATUSES", "retryable_status", "parse_retry_after", "backoff_delay"]

RETRYABLE_GATEWAY_STATUSES = frozenset({502, 503, 504})


def retryable_status(status: int, *, idempotent: bool) -> bool:
    return status == 429 or (idempotent and status in RETRYABLE_GATEWAY_STATUSES)


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or an HTTP date; ``now`` is Unix time).

    None when absent or unreadable; never negative.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds and seconds != float("inf") else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP dates are GMT; a date without a zone is read as such
        from datetime import timezone

        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - now)


def backoff_delay(retry_index: int, policy: RetryPolicy, rng: Callable[[], float]) -> float:
    """Exponential back-off with full jitter: uniform in [0, min(cap, base * 2^retry_index)]."""
    ceiling = min(policy.backoff_cap, policy.backoff_base * (2 ** min(retry_index, 30)))
    return max(0.0, rng() * ceiling)
