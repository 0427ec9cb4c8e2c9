"""Deterministic fault injection: what can go wrong between a client and an API, on demand.

A ``Fault`` matches requests by method and/or a regular expression searched in the full request path
(``"/v1/predictions"``, so ``path="predictions"`` and ``path="^/v1/predictions$"`` both work), for ``times``
requests or forever. Kinds:

=======================  ==============================================================================================
status                   answer ``status`` (default 500) with the API's own error body; ``retry_after`` seconds
                         (sent as seconds, or as an HTTP date with ``retry_after_date=True``); 429 always carries one
html_error               502 (or ``status``) with an HTML page, as a reverse proxy sends
malformed_json           200 ``application/json`` whose body is cut off mid-object
drop_before_response     the connection closes without an answer (in-process: ``httpx.RemoteProtocolError``)
rate_limit               at most ``limit`` requests per ``per_seconds`` per credential; above that 429 + Retry-After
delay                    ``ms`` milliseconds of latency added to every matching request (combines with the others)
drop_mid_body            the headers and part of the body are sent, then the connection closes
read_timeout             the answer is held ``seconds`` before it is sent
large_body               the answer is padded with whitespace to ``size_mb`` MiB in all, streamed in chunks
=======================  ==============================================================================================

The first five replace the answer: the request never reaches the emulated API, so nothing changes there (as
with a proxy error or a throttle). The last three damage the delivery of a real answer: the API did act, which is
the case a client must not blindly repeat for a POST.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field, fields
from typing import Any

from .clock import http_date

__all__ = ["Fault", "FaultPlan", "Selection", "FAULT_KINDS", "REPLACING_KINDS", "fault_from_data",
           "retry_after_header"]

FAULT_KINDS = ("status", "html_error", "malformed_json", "drop_before_response", "rate_limit", "delay",
               "drop_mid_body", "read_timeout", "large_body")
#: Kinds that answer instead of the API (the request is not processed).
REPLACING_KINDS = frozenset({"status", "html_error", "malformed_json", "drop_before_response", "rate_limit"})


@dataclass
class Fault:
    kind: str
    method: str | None = None
    path: str | None = None
    times: int | None = None  # None: forever
    status: int | None = None  # status / html_error
    retry_after: float | None = None  # seconds
    retry_after_date: bool = False
    detail: str | None = None  # status: the message in the error body
    ms: float = 0.0  # delay
    seconds: float = 0.0  # read_timeout
    size_mb: float = 0.0  # large_body
    limit: int = 0  # rate_limit
    per_seconds: float = 0.0  # rate_limit

    _pattern: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)
    _used: int = field(default=0, init=False, repr=False, compare=False)
    _windows: dict[str, deque[float]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise ValueError(f"Fault(kind={self.kind!r}): " + "; ".join(problems))
        if self.method:
            self.method = self.method.upper()
        if self.path:
            self._pattern = re.compile(self.path)
        if self.kind == "status" and self.status is None:
            self.status = 500
        if self.kind == "html_error" and self.status is None:
            self.status = 502

    @property
    def replaces_answer(self) -> bool:
        return self.kind in REPLACING_KINDS

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self._used >= self.times

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method != method.upper():
            return False
        return self._pattern is None or self._pattern.search(path) is not None

    def to_data(self) -> dict[str, Any]:
        """The fault as JSON-ready data (only what differs from the defaults), plus how often it has fired."""
        data: dict[str, Any] = {"kind": self.kind}
        for f in fields(self):
            if f.name.startswith("_") or f.name == "kind":
                continue
            value = getattr(self, f.name)
            if value != f.default:
                data[f.name] = value
        data["used"] = self._used
        return data


def _problems(f: Fault) -> list[str]:
    out: list[str] = []
    if f.kind not in FAULT_KINDS:
        return [f"kind must be one of {', '.join(FAULT_KINDS)}"]
    if f.times is not None and (not isinstance(f.times, int) or isinstance(f.times, bool) or f.times < 1):
        out.append(f"times must be a positive integer or null (forever), not {f.times!r}")
    if f.path is not None:
        try:
            re.compile(f.path)
        except (re.error, TypeError) as exc:
            out.append(f"path must be a regular expression ({exc})")
    if f.status is not None and (not isinstance(f.status, int) or not 400 <= f.status <= 599):
        out.append(f"status must be an HTTP error code 400-599, not {f.status!r}")
    if f.retry_after is not None and (not _number(f.retry_after) or f.retry_after < 0):
        out.append(f"retry_after must be a number of seconds >= 0, not {f.retry_after!r}")
    needs = {"delay": ("ms",), "read_timeout": ("seconds",), "large_body": ("size_mb",),
             "rate_limit": ("limit", "per_seconds")}
    for name in needs.get(f.kind, ()):
        value = getattr(f, name)
        if not _number(value) or value <= 0:
            out.append(f"{name} must be a number > 0 for kind {f.kind}, not {value!r}")
    return out


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_FIELD_NAMES = tuple(f.name for f in fields(Fault) if not f.name.startswith("_"))


def fault_from_data(data: Any) -> Fault:
    """A fault from JSON data (the control endpoint). ``ValueError`` names the bad field."""
    if not isinstance(data, dict):
        raise ValueError(f"a fault must be a JSON object, not {type(data).__name__}")
    unknown = sorted(set(data) - set(_FIELD_NAMES) - {"used"})
    if unknown:
        raise ValueError(f"unknown fault field(s) {', '.join(unknown)}; expected: {', '.join(_FIELD_NAMES)}")
    if "kind" not in data:
        raise ValueError("a fault needs a 'kind'")
    args = {k: v for k, v in data.items() if k != "used"}
    try:
        return Fault(**args)
    except TypeError as exc:  # wrong value types that __post_init__ could not word better
        raise ValueError(str(exc)) from None


@dataclass(frozen=True)
class Selection:
    """What the plan decided for one request."""

    delay_ms: float = 0.0
    fault: Fault | None = None
    retry_after: float | None = None  # seconds, for a rate-limit refusal


class FaultPlan:
    """The ordered, thread-safe list of active faults of one emulator."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def extend(self, faults: list[Fault]) -> None:
        with self._lock:
            self._faults.extend(faults)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def active(self) -> list[Fault]:
        with self._lock:
            return [f for f in self._faults if not f.exhausted]

    def __len__(self) -> int:
        return len(self.active())

    def select(self, method: str, path: str, credential: str | None) -> Selection:
        """Delays of every matching delay fault add up; the first other matching fault is the one applied."""
        delay = 0.0
        now = time.monotonic()
        with self._lock:
            for f in self._faults:
                if f.exhausted or not f.matches(method, path):
                    continue
                if f.kind == "delay":
                    f._used += 1
                    delay += f.ms
                    continue
                if f.kind == "rate_limit":
                    wait = _take_from_window(f, credential or "", now)
                    if wait is None:
                        continue
                    f._used += 1
                    return Selection(delay, f, wait)
                f._used += 1
                return Selection(delay, f, f.retry_after)
        return Selection(delay)


def _take_from_window(f: Fault, key: str, now: float) -> float | None:
    """Record a request in the sliding window; None if it is allowed, else the seconds until a slot frees up."""
    window = f._windows.setdefault(key, deque())
    while window and window[0] <= now - f.per_seconds:
        window.popleft()
    if len(window) < f.limit:
        window.append(now)
        return None
    return max(window[0] + f.per_seconds - now, 0.0)


def retry_after_header(seconds: float, as_date: bool) -> str:
    """The Retry-After value: whole seconds rounded up (never 0 for a pending wait), or an HTTP date."""
    if as_date:
        # An HTTP date has one-second resolution: round up so a client that obeys it never comes back early.
        return http_date(math.ceil(time.time() + seconds))
    return str(math.ceil(seconds))
