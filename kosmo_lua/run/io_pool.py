"""The worker's I/O pool: what lets ``parallel`` tasks overlap their waiting while Lua stays on one thread.

A LuaRuntime must only ever run on one thread (Lua in worker threads deadlocked; see the team's lupa findings),
so Lua never leaves the worker's main thread. What a task waits for becomes a numbered *ticket* here instead:

* ``submit(fn)``: a blocking function (one HTTP exchange, ``HttpClient.send``) run on a small thread pool;
* ``timer(seconds)``: a point in time (``sleep`` inside a task).

The Lua driver of ``parallel`` (``kosmo_lua/lua/parallel.lua``) asks ``wait(tickets)`` which of its tickets are
ready and resumes the task holding each one; ``take(ticket)`` hands over the outcome (the value, or the exception
raised in the pool thread). Nothing here touches Lua, so pool threads never need the runtime's lock.

``wait`` never blocks past the running script's deadline: there it raises ``CpuLimitExceeded``, which ends the
script like any other time-out. Tickets still open when a chunk ends are *abandoned*: their ``on_abandon``
callbacks run on the main thread (the binder records the call as unfinished), and whatever a pool thread is still
doing ends by itself at the deadline every request was given.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import CpuLimitExceeded

if TYPE_CHECKING:  # concurrent.futures imports logging & co (~4 ms): only a script that calls parallel pays
    from concurrent.futures import Future, ThreadPoolExecutor

__all__ = ["IoPool", "MAX_THREADS"]

#: Pool threads: one per request in flight. ``parallel``'s ``max`` is capped at this too, so a single batch never
#: queues behind itself; nested batches may, which only delays them.
MAX_THREADS = 64


@dataclass
class _Ticket:
    future: "Future[Any] | None" = None  # an exchange on the pool ...
    due: float = 0.0  # ... or a timer (a time.monotonic() value)
    on_abandon: Callable[[], None] | None = None


class IoPool:
    """Tickets for blocking work and timers. ``submit``/``timer``/``wait``/``take`` are for the main thread only."""

    def __init__(self, deadline: Callable[[], float], cpu_limit: Callable[[], float], *,
                 max_threads: int = MAX_THREADS) -> None:
        self._deadline = deadline
        self._cpu_limit = cpu_limit
        self._max_threads = max_threads
        self._executor: "ThreadPoolExecutor | None" = None  # made on first use: most scripts never need a thread
        self._tickets: dict[int, _Ticket] = {}
        self._next = 0
        self._changed = threading.Condition()

    # -- opening tickets -------------------------------------------------------------------------------------------

    def submit(self, fn: Callable[[], Any], *, on_abandon: Callable[[], None] | None = None) -> int:
        """Run ``fn()`` on a pool thread; its value (or exception) is kept for ``take``."""
        if self._executor is None:
            from concurrent.futures import ThreadPoolExecutor

            self._executor = ThreadPoolExecutor(max_workers=self._max_threads, thread_name_prefix="kosmo-io")
        future = self._executor.submit(fn)
        ticket = self._open(_Ticket(future=future, on_abandon=on_abandon))
        future.add_done_callback(self._wake)
        return ticket

    def timer(self, seconds: float) -> int:
        """A ticket that becomes ready ``seconds`` from now."""
        return self._open(_Ticket(due=time.monotonic() + seconds))

    def _open(self, ticket: _Ticket) -> int:
        self._next += 1
        self._tickets[self._next] = ticket
        return self._next

    def _wake(self, _future: "Future[Any]") -> None:
        with self._changed:
            self._changed.notify_all()

    # -- waiting -----------------------------------------------------------------------------------------------

    def wait(self, tickets: Iterable[int]) -> list[int]:
        """The given tickets that are ready, waiting until at least one is (or the script's deadline passes)."""
        numbers = list(tickets)
        wanted = [self._ticket(t) for t in numbers]
        if not wanted:
            raise ValueError("IoPool.wait: no tickets to wait for")
        with self._changed:
            while True:
                now = time.monotonic()
                ready = [n for n, t in zip(numbers, wanted) if _is_ready(t, now)]
                if ready:
                    return ready
                deadline = self._deadline()
                if now >= deadline:
                    raise CpuLimitExceeded(self._cpu_limit())
                next_timer = min((t.due for t in wanted if t.future is None), default=math.inf)
                # Futures wake us through _wake; timers and the deadline by the timeout.
                timeout = min(next_timer, deadline) - now
                self._changed.wait(None if math.isinf(timeout) else max(timeout, 0.0))

    def take(self, ticket: int) -> Any:
        """Close a ready ticket: the function's value (its exception is raised here), or None for a timer."""
        entry = self._tickets.pop(ticket, None)
        if entry is None:
            raise ValueError(f"IoPool.take: unknown ticket {ticket!r}")
        if entry.future is None:
            return None
        return entry.future.result(timeout=0)

    def _ticket(self, number: Any) -> _Ticket:
        entry = self._tickets.get(number) if isinstance(number, int) else None
        if entry is None:
            raise ValueError(f"IoPool.wait: unknown ticket {number!r}")
        return entry

    # -- ending --------------------------------------------------------------------------------------------------

    @property
    def open_tickets(self) -> int:
        return len(self._tickets)

    def abandon_all(self) -> None:
        """Forget every open ticket (the chunk ended while they were pending) and tell their owners."""
        tickets, self._tickets = self._tickets, {}
        for entry in tickets.values():
            if entry.on_abandon is not None:
                entry.on_abandon()

    def close(self) -> None:
        self.abandon_all()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


def _is_ready(ticket: _Ticket, now: float) -> bool:
    if ticket.future is not None:
        return ticket.future.done()
    return ticket.due <= now
