"""Client-side rate pacing, so a busy script waits a little instead of collecting 429s.

Each ``RateLimit`` of an integration (``rate_limits`` in integration.yaml) is a sliding window: at most ``limit``
requests in any ``per_seconds`` span. A sliding window rather than a token bucket, because a bucket that starts
full lets up to twice the limit through in one window, and some APIs (Stability) punish that with a long lock-out.
An operation is paced by the entry naming it, else by the entry that names no operations. One ``Pacer`` serves
every client of an account (``shared_pacer``) and is safe to use from several threads.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..integration import RateLimit
from .errors import DeadlineReached

if TYPE_CHECKING:
    from ..config.accounts import Account
    from ..integration import Integration

__all__ = ["Pacer", "shared_pacer"]


class Pacer:
    def __init__(self, limits: Sequence[RateLimit], *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._limits = tuple(x for x in limits if x.limit > 0 and x.per_seconds > 0)
        self._by_operation = {op: x for x in self._limits for op in x.operations}
        self._default = next((x for x in self._limits if not x.operations), None)
        self._windows: dict[str, deque[float]] = {x.name: deque() for x in self._limits}
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    def limit_for(self, rate_key: str | None) -> RateLimit | None:
        """The entry that paces rate_key (a canonical operation name); None when nothing limits it."""
        if rate_key is not None and rate_key in self._by_operation:
            return self._by_operation[rate_key]
        return self._default

    def acquire(self, rate_key: str | None, deadline: float | None, *, operation: str = "") -> float:
        """Wait until one more request fits its window, record it, and return the seconds waited.

        Raises DeadlineReached, without waiting, when the wait would end past deadline (a clock() value).
        """
        entry = self.limit_for(rate_key)
        if entry is None:
            return 0.0
        window = self._windows[entry.name]
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                while window and window[0] <= now - entry.per_seconds:
                    window.popleft()
                if len(window) < entry.limit:
                    window.append(now)
                    return waited
                wait = window[0] + entry.per_seconds - now
            if deadline is not None and now + wait > deadline:
                raise DeadlineReached(operation or rate_key or "request",
                                      f"a free slot in the '{entry.name}' rate limit "
                                      f"({entry.limit} per {entry.per_seconds:g} s)")
            # Sleep outside the lock so other threads can see the window; re-check afterwards since one of them
            # may have taken the slot first.
            self._sleep(wait)
            waited += wait


_shared: dict[tuple[str, str, str], Pacer] = {}
_shared_lock = threading.Lock()


def shared_pacer(account: "Account", integration: "Integration") -> Pacer:
    """The process-wide pacer of an account (real clock), created on first use."""
    key = account.key
    with _shared_lock:
        pacer = _shared.get(key)
        if pacer is None:
            pacer = _shared[key] = Pacer(integration.rate_limits)
        return pacer
