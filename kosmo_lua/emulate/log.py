"""The request log every emulator keeps, with credentials redacted before anything is stored."""

from __future__ import annotations

import base64
import re
import threading
from dataclasses import dataclass
from typing import Any

__all__ = ["LoggedRequest", "RequestLog", "redact_headers", "redact_query", "REDACTED"]

REDACTED = "[redacted]"
#: Headers that carry a secret. Authorization keeps its scheme ("Bearer [redacted]") so tests can still see which
#: scheme a client used.
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key"})


#: Query parameters named like a credential (an API that takes ``?api_key=...`` or ``?token=...``).
_SECRET_PARAM = re.compile(r"(key|token|secret|password)$", re.IGNORECASE)


def redact_query(pairs: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """Query pairs with the values of credential-like parameters replaced by ``[redacted]``."""
    return tuple((k, REDACTED if _SECRET_PARAM.search(k) else v) for k, v in pairs)


def redact_headers(headers: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    out = []
    for name, value in headers:
        lower = name.lower()
        if lower in ("authorization", "proxy-authorization"):
            scheme, _, credential = value.strip().partition(" ")
            value = f"{scheme} {REDACTED}" if credential.strip() else REDACTED
        elif lower in _SECRET_HEADERS:
            value = REDACTED
        out.append((lower, value))
    return tuple(out)


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    headers: tuple[tuple[str, str], ...]  # names lower-cased, secrets redacted
    body: bytes
    status: int | None  # None when the connection was dropped before an answer
    fault: str | None  # the kind of the fault applied, if any
    timestamp: float  # epoch seconds when the request arrived
    #: Epoch seconds when the answer was ready to send (after latency and faults): with ``timestamp``, the span the
    #: request was in flight at the server, so tests can see requests overlap.
    answered: float | None = None

    def header(self, name: str) -> str | None:
        name = name.lower()
        for k, v in self.headers:
            if k == name:
                return v
        return None

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "method": self.method,
            "path": self.path,
            "query": [list(pair) for pair in self.query],
            "headers": dict(self.headers),
            "status": self.status,
            "fault": self.fault,
            "timestamp": self.timestamp,
            "answered": self.answered,
        }
        try:
            data["body"] = self.body.decode("utf-8")
        except UnicodeDecodeError:
            data["body"] = None
            data["body_base64"] = base64.b64encode(self.body).decode()
        return data


class RequestLog:
    """Append-only, thread-safe; ``snapshot`` returns a copy so readers never see a list being appended to."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[LoggedRequest] = []

    def append(self, item: LoggedRequest) -> None:
        with self._lock:
            self._items.append(item)

    def snapshot(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
