"""The read timeout of one request: the integration's, extended when the request asks the server to wait.

``Prefer: wait=N`` (Replicate) makes the server hold the response up to N seconds, so a 30 s read timeout would cut
off a request that is behaving as asked. The header and its pattern come from integration.yaml
(``timeouts.wait_header``); a bare ``wait`` means the server's default hold time (``default_seconds``).

An account may override the integration's connect and read timeouts with its ``connect_timeout`` /
``read_timeout`` fields (``account_timeouts``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from functools import lru_cache
from typing import Any

from ..config.accounts import TIMEOUT_FIELDS
from ..integration import Timeouts

__all__ = ["WAIT_MARGIN_SECONDS", "requested_wait", "read_timeout_for", "account_timeouts"]

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


def account_timeouts(timeouts: Timeouts, fields: Mapping[str, Any]) -> Timeouts:
    """The integration's timeouts with an account's ``connect_timeout`` / ``read_timeout`` fields on top.

    An account that points at a slow proxy, or a test that wants a held answer to time out in one second, changes
    the timeouts without editing integration.yaml (``kosmo integrations:configure NAME --set read_timeout=5``).
    """
    changes = {attr: float(fields[name]) for name, attr in TIMEOUT_FIELDS.items() if name in fields}
    return replace(timeouts, **changes) if changes else timeouts
