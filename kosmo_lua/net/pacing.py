"""Client-side rate pacing, so a busy script waits a little instead of collecting 429s.

Each ``RateLimit`` of an integration (``rate_limits`` in integration.yaml) is a sliding window: at most ``limit``
requests in any ``per_seconds`` span. A sliding window rather than a token bucket, because a bucket that starts
full lets up to twice the limit through in one window, and some APIs (Stability) punish that with a long lock-out.
An operation is paced by the entry naming it, else by the entry that names no operations. One ``Pacer`` serves
every client of an account (``shared_pacer``) and is safe to use from several threads. ``HttpClient`` holds a
``slot`` per attempt: a request counts from when its answer arrived (see ``Pacer.slot`` for why).
``KOSMO_RATE_LIMITS`` replaces declared limits for tests and benchmarks (``effective_rate_limits``).
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from ..errors import CallError
from ..integration import RateLimit
from .errors import DeadlineReached

if TYPE_CHECKING:
    from ..config.accounts import Account
    from ..integration import Integration

__all__ = ["Pacer", "shared_pacer", "effective_rate_limits", "RATE_LIMITS_ENV"]


class Pacer:
    def __init__(self, limits: Sequence[RateLimit], *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._limits = tuple(x for x in limits if x.limit > 0 and x.per_seconds > 0)
        self._by_operation = {op: x for x in self._limits for op in x.operations}
        self._default = next((x for x in self._limits if not x.operations), None)
        self._windows: dict[str, deque[float]] = {x.name: deque() for x in self._limits}
        self._in_flight: dict[str, int] = {x.name: 0 for x in self._limits}
        self._lock = threading.Condition()
        self._waiting = 0  # threads in self._lock.wait(), changed only while holding the lock
        self._clock = clock
        self._sleep = sleep
        # On the real clock a waiter sleeps on the condition, so a request that ends wakes it at once; an injected
        # clock (tests) gets its injected sleep.
        self._real_time = clock is time.monotonic and sleep is time.sleep

    @property
    def limits(self) -> tuple[RateLimit, ...]:
        return self._limits

    def limit_for(self, rate_key: str | None) -> RateLimit | None:
        """The entry that paces rate_key (a canonical operation name); None when nothing limits it."""
        if rate_key is not None and rate_key in self._by_operation:
            return self._by_operation[rate_key]
        return self._default

    def acquire(self, rate_key: str | None, deadline: float | None, *, operation: str = "") -> float:
        """Wait until one more request fits its window, record it as sent now, and return the seconds waited.

        Raises DeadlineReached, without waiting, when the wait would end past deadline (a clock() value).
        """
        entry = self.limit_for(rate_key)
        if entry is None:
            return 0.0
        waited = self._take(entry, deadline, operation or rate_key or "request")
        self._count(entry)
        return waited

    def slot(self, rate_key: str | None, deadline: float | None, *, operation: str = "") -> "_Slot":
        """``acquire`` for a request that is about to be sent, as a context manager: the slot is held while the
        request is in flight and counted from the moment its answer arrived (``with`` gives the seconds waited).

        Why from the answer: the server counts a request when it *arrives*, which is somewhere between sending
        and the answer. Counting from the send time lets a request that left quickly overtake, in the server's
        window, one sent earlier that travelled slowly, and the server then sees one request too many. Counting
        from the answer can never be early, whatever the network does; it costs a request's latency per window.
        """
        return _Slot(self, self.limit_for(rate_key), deadline, operation or rate_key or "request")

    def _count(self, entry: RateLimit) -> None:
        """A request held by ``_take`` is no longer in flight: it counts in the window from now on."""
        with self._lock:
            self._in_flight[entry.name] -= 1
            self._windows[entry.name].append(self._clock())
            if self._waiting:  # wake the requests waiting for a place (none, in the usual case)
                self._lock.notify_all()

    def _take(self, entry: RateLimit, deadline: float | None, operation: str) -> float:
        """Wait for a free place in entry's window and hold it as in flight; the seconds waited."""
        window = self._windows[entry.name]
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                while window and window[0] <= now - entry.per_seconds:
                    window.popleft()
                used = len(window) + self._in_flight[entry.name]
                if used < entry.limit:
                    self._in_flight[entry.name] += 1
                    return waited
                # Full: the oldest counted request leaves the window at window[0] + per_seconds; if every place
                # is held by a request in flight, the first one to end frees a place one window later.
                wait = window[0] + entry.per_seconds - now if window else entry.per_seconds
                if deadline is not None and now + wait > deadline:
                    raise DeadlineReached(operation, f"a free slot in the '{entry.name}' rate limit "
                                                     f"({entry.limit} per {entry.per_seconds:g} s)")
                if self._real_time:
                    started = now
                    self._waiting += 1
                    try:
                        self._lock.wait(wait)  # a request ending wakes us early to look again
                    finally:
                        self._waiting -= 1
                    waited += self._clock() - started
                    continue
            # Sleep outside the lock so other threads can see the window; re-check afterwards since one of them
            # may have taken the slot first.
            self._sleep(wait)
            waited += wait


#: Environment variable that replaces declared limits, for tests and benchmarks against an emulator that enforces
#: smaller ones: ``replicate.create_prediction=10/1,replicate.default=50/1`` (``<integration>.<entry>=<n>/<s>``).
RATE_LIMITS_ENV = "KOSMO_RATE_LIMITS"

_shared: dict[tuple[tuple[str, str, str], tuple[RateLimit, ...]], Pacer] = {}
_shared_lock = threading.Lock()


class _Slot:
    """The context manager ``Pacer.slot`` returns (a class: a generator-based one cost every call a few us)."""

    __slots__ = ("pacer", "entry", "deadline", "operation")

    def __init__(self, pacer: Pacer, entry: RateLimit | None, deadline: float | None, operation: str) -> None:
        self.pacer = pacer
        self.entry = entry
        self.deadline = deadline
        self.operation = operation

    def __enter__(self) -> float:
        if self.entry is None:
            return 0.0
        return self.pacer._take(self.entry, self.deadline, self.operation)

    def __exit__(self, *exc: object) -> None:
        if self.entry is not None:
            self.pacer._count(self.entry)


def effective_rate_limits(integration: "Integration", environ: Mapping[str, str] | None = None
                          ) -> tuple[RateLimit, ...]:
    """integration.yaml's ``rate_limits`` with the overrides of ``KOSMO_RATE_LIMITS`` for this integration.

    Raises CallError for a malformed value or an entry the integration does not declare (a typo must not leave a
    benchmark silently paced by the published limits)."""
    text = (os.environ if environ is None else environ).get(RATE_LIMITS_ENV, "").strip()
    declared = integration.rate_limits
    if not text:
        return declared
    names = {x.name for x in declared}
    overrides: dict[str, tuple[int, float]] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, _, value = item.partition("=")
        owner, _, entry = key.strip().partition(".")
        count, _, seconds = value.partition("/")
        try:
            limit, per = int(count), float(seconds)
        except ValueError:
            limit, per = 0, 0.0
        if not owner or not entry or limit < 1 or not per > 0 or per == float("inf"):
            raise CallError(f"{RATE_LIMITS_ENV}: cannot read {item!r}; expected <integration>.<entry>=<limit>/"
                            "<seconds>, e.g. replicate.create_prediction=10/1", kind="config")
        if owner != integration.name:
            continue
        if entry not in names:
            raise CallError(f"{RATE_LIMITS_ENV}: {integration.name} declares no rate limit named {entry!r} "
                            f"(it has: {', '.join(sorted(names)) or 'none'})", kind="config")
        overrides[entry] = (limit, per)
    return tuple(replace(x, limit=overrides[x.name][0], per_seconds=overrides[x.name][1]) if x.name in overrides
                 else x for x in declared)


def shared_pacer(account: "Account", integration: "Integration") -> Pacer:
    """The process-wide pacer of an account (real clock), created on first use: every client and every thread
    sending for the account (the tasks of ``parallel`` included) counts in the same windows."""
    limits = effective_rate_limits(integration)
    key = (account.key, limits)
    with _shared_lock:
        pacer = _shared.get(key)
        if pacer is None:
            pacer = _shared[key] = Pacer(limits)
        return pacer
