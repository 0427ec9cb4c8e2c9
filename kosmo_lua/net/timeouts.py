"""The read timeout of one request: the integration's, extended when the request asks the server to wait.

``Prefer: wait=N`` (Replicate) makes the server hold the response up to N seconds, so a 30 s read timeout would cut
off a request that is behaving as asked. The header and its pattern come from integration.yaml
(``timeouts.wait_header``); a bare ``wait`` means the server's default hold time (``default_seconds``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from ..integration import Timeouts

__all__ = ["WAIT_MARGIN_SECONDS", "requested_wait", "read_timeout_for"]

#: Time on top of the requested hold for the server to finish answering.
WAIT_MARGIN_SECONDS = 10.0

# Without a pattern in integration.yaml the header's first number is the wait.
_DEFAULT_PATTERN = r"(\d+(?:\.\d+)?)"


@lru_cache(maxsize=16)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def requested_wait(headers: Iterable[tuple[str, str]], timeouts: Timeouts) -> float | None:
    """Seconds the request asks the server to hold the response, or None when it asks nothing."""
    if not timeouts.wait_header:
        return None
    wanted = timeouts.wait_header.lower()
    pattern = _compiled(timeouts.wait_pattern or _DEFAULT_PATTERN)
    for name, value in headers:
        if name.lower() != wanted:
            continue
        # Prefer may carry several comma-separated preferences ("respond-async, wait=5").
        for part in value.split(","):
            match = pattern.search(part.strip())
            if match:
                number = match.group(1) if match.groups() else None
                return float(number) if number else timeouts.wait_default_seconds
    return None


def read_timeout_for(headers: Iterable[tuple[str, str]], timeouts: Timeouts) -> float:
    wait = requested_wait(headers, timeouts)
    if wait is None:
        return timeouts.read
    return max(timeouts.read, wait + WAIT_MARGIN_SECONDS)
