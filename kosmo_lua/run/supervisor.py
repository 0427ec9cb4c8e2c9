"""Run a handler in a forked worker process under a hard deadline. Knows nothing of Lua.

The parent forks a child lazily on the first request; the child keeps serving requests one after another, so state
the handler keeps (a Lua sandbox, say) survives between them. Requests, streamed events and results travel as
length-prefixed frames over pipes, in ``marshal`` format: both ends are the same interpreter (a fork), only our own
code writes to the pipes (the child closes every other descriptor it inherited), and marshal needs no import (JSON
would cost ~8 ms of every start-up, for ``json`` and the ``re`` it imports). Frames carry plain data only (dict,
list, str, bytes, numbers, bools, None); whatever does not load as a dict is treated as a corrupt stream. The parent
waits with ``select`` against the deadline, so a child that hangs in C code, deadlocks or stops writing cannot hang
it: at the deadline the child is SIGKILLed and the next request starts a fresh one.

Events take one of two pipes. ``emit(event)`` wakes the parent at once (printed lines: they are shown live);
``emit(event, deferred=True)`` goes to a pipe the parent reads at most every ``DEFERRED_INTERVAL`` seconds, and
always before it returns the result (records of integration calls: waking the parent for each one cost a tight
loop of calls ~10 % of its speed, bench/call_overhead.py). Either way an event, once emitted, is never lost: the
kernel keeps what the child wrote even after the child is killed, and the parent reads both pipes to the end then.

Forking: ``request`` forks from the calling thread, which must be the thread that created the session, and the
process must not have other threads running at that moment (a forked child only inherits the forking thread, and
locks other threads held stay locked forever in it). The CLI runs single-threaded.

A child never outlives its session: a watchdog thread in the child waits for the request pipe to hang up (the
parent closed the session, or died: the kernel closes its descriptors) and ends the child at once, even in the
middle of a long C call (lupa releases the GIL while Lua runs). This works on every POSIX system and needs no
import; Linux's PR_SET_PDEATHSIG would need ctypes, ~2 ms of every start-up.
"""

from __future__ import annotations

import _signal  # the C module: `signal` wraps it in enums, and importing enum costs ~4 ms of start-up
import _thread
import marshal
import math
import os
import select
import time

from kosmo_lua.errors import UsageError

TYPE_CHECKING = False  # typing costs milliseconds of start-up; type checkers read the names below anyway
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Handler = Callable[[dict, Callable[..., None]], dict]  # handler(payload, emit(event, deferred=False))

__all__ = ["WorkerReply", "WorkerSession"]

_HEADER_SIZE = 4  # a frame is its body's length (4 bytes, big-endian), then the marshalled body
_MAX_FRAME = 1 << 30  # a length beyond this means the stream is corrupt
_READ_CHUNK = 1 << 16
_CLOSE_GRACE = 1.0  # seconds a closing child gets to exit on its own before SIGKILL
#: Seconds between two reads of the deferred-events pipe while a request runs (64 KiB of pipe buffer holds hundreds
#: of call records; a child that fills it only waits for the next read).
DEFERRED_INTERVAL = 0.05

# Every pipe end the sessions of this process hold (so each is closed exactly once).
_open_session_fds: set[int] = set()


class WorkerReply:
    """What came back from one request."""

    __slots__ = ("result", "events", "killed", "crashed", "exit_status", "fresh")

    def __init__(self, result: dict | None, events: list[dict] | None = None, *, killed: bool = False,
                 crashed: bool = False, exit_status: int | None = None, fresh: bool = False) -> None:
        self.result = result  # the handler's result; None when the child was killed or crashed
        # Every event, in order for each of the two pipes (kept after a kill).
        self.events: list[dict] = events if events is not None else []
        self.killed = killed  # the deadline passed and the child was SIGKILLed
        self.crashed = crashed  # the child died on its own (abort, segfault, os._exit) before answering
        self.exit_status = exit_status  # shell convention: exit code, or 128 + signal (134 abort, 137 kill)
        self.fresh = fresh  # ran in a newly forked child: first request, or earlier state was lost

    def __repr__(self) -> str:
        return (f"WorkerReply(result={self.result!r}, events={len(self.events)}, killed={self.killed}, "
                f"crashed={self.crashed}, exit_status={self.exit_status}, fresh={self.fresh})")


def _exit_status(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else status


def _encode_frame(message: dict) -> bytes:
    body = marshal.dumps(message)
    return len(body).to_bytes(_HEADER_SIZE, "big") + body


class _Frames:
    """The frames arriving on one pipe from the child."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = bytearray()

    def read(self) -> bool:
        """Read what the pipe holds (one read; call when select says it is readable). False at end-of-file."""
        try:
            chunk = os.read(self.fd, _READ_CHUNK)
        except OSError:
            chunk = b""
        self.buffer += chunk
        return bool(chunk)

    def take(self) -> dict | None:
        """The next complete message, or None. ValueError when the stream is not our framing."""
        if len(self.buffer) < _HEADER_SIZE:
            return None
        size = int.from_bytes(self.buffer[:_HEADER_SIZE], "big")
        if size > _MAX_FRAME:
            raise ValueError("corrupt message stream from the worker")
        end = _HEADER_SIZE + size
        if len(self.buffer) < end:
            return None
        body = bytes(self.buffer[_HEADER_SIZE:end])
        del self.buffer[:end]
        try:
            message = marshal.loads(body)
        except (EOFError, TypeError) as exc:
            raise ValueError("corrupt message stream from the worker") from exc
        if not isinstance(message, dict) or not ("event" in message or "result" in message):
            raise ValueError("unexpected message from the worker")
        return message


class _Child:
    """The parent's handle on one forked worker."""

    def __init__(self, pid: int, request_fd: int, reply_fd: int, deferred_fd: int) -> None:
        self.pid = pid
        self.request_fd = request_fd  # parent writes requests here
        self.reply = _Frames(reply_fd)  # results and immediate events
        self.deferred = _Frames(deferred_fd)  # deferred events
        self.deferred_due = 0.0  # time.monotonic() after which the deferred pipe is read again
        self.status: int | None = None  # raw wait status once reaped

    def send(self, frame: bytes, deadline: float) -> bool:
        """Write one frame before the deadline; False when the child is gone or the deadline passed."""
        data = memoryview(frame)
        while data:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            _, writable, _ = select.select([], [self.request_fd], [], remaining)
            if not writable:
                continue
            try:
                written = os.write(self.request_fd, data[:_READ_CHUNK])
            except (BrokenPipeError, OSError):
                return False
            data = data[written:]
        return True

    def receive(self, deadline: float, on_deferred: Callable[[dict], None]) -> dict | str:
        """The next message on the reply pipe, or "timeout" when the deadline passed, "eof" when the child closed
        the pipe, or "corrupt" when what it wrote is not our framing (something in the child wrote to a pipe
        directly). Deferred events that are due are handed to ``on_deferred`` meanwhile."""
        while True:
            try:
                message = self.reply.take()
            except ValueError:  # marshal.loads refusing the bytes, or not one of our messages
                return "corrupt"
            if message is not None:
                return message
            now = time.monotonic()
            remaining = deadline - now
            if remaining <= 0:
                return "timeout"
            watched = [self.reply.fd]
            if now >= self.deferred_due:
                watched.append(self.deferred.fd)
            else:
                remaining = min(remaining, self.deferred_due - now)
            readable, _, _ = select.select(watched, [], [], remaining)
            if self.deferred.fd in readable:
                self.deferred.read()
                if not self.take_deferred(on_deferred):
                    return "corrupt"
                self.deferred_due = time.monotonic() + DEFERRED_INTERVAL
            if self.reply.fd in readable and not self.reply.read():
                return "eof"

    def drain_deferred(self, on_deferred: Callable[[dict], None]) -> bool:
        """Hand over every deferred event written so far (all of them once the child is gone); False if corrupt."""
        while select.select([self.deferred.fd], [], [], 0)[0] and self.deferred.read():
            pass
        return self.take_deferred(on_deferred)

    def take_deferred(self, on_deferred: Callable[[dict], None]) -> bool:
        try:
            while (message := self.deferred.take()) is not None:
                if "event" not in message:
                    return False
                on_deferred(message["event"])
        except ValueError:
            return False
        return True

    def alive(self) -> bool:
        if self.status is not None:
            return False
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            self.status = 0
            return False
        if pid == 0:
            return True
        self.status = status
        return False

    def kill(self, before_closing: Callable[[dict], None] | None = None) -> int:
        """SIGKILL and reap; returns the exit status (shell convention). ``before_closing`` receives the deferred
        events the child wrote and the parent had not read yet (a dead child's pipe still holds them)."""
        if self.status is None:
            try:
                os.kill(self.pid, _signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._wait_blocking()
        if before_closing is not None:
            self.drain_deferred(before_closing)
        self._close_fds()
        return _exit_status(self.status or 0)

    def reap(self, grace: float, before_closing: Callable[[dict], None] | None = None) -> int:
        """Wait up to ``grace`` seconds for the child to exit on its own, then kill it; returns the exit status."""
        until = time.monotonic() + grace
        pause = 0.0005
        while self.alive() and time.monotonic() < until:
            # A worker told to stop exits within a millisecond or two: a fixed 10 ms nap cost every run 10 ms.
            time.sleep(pause)
            pause = min(pause * 2, 0.01)
        return self.kill(before_closing)

    def _wait_blocking(self) -> None:
        try:
            _, status = os.waitpid(self.pid, 0)
        except ChildProcessError:
            status = 0
        self.status = status

    def _close_fds(self) -> None:
        for fd in (self.request_fd, self.reply.fd, self.deferred.fd):
            if fd in _open_session_fds:
                _open_session_fds.discard(fd)
                try:
                    os.close(fd)
                except OSError:
                    pass


class WorkerSession:
    """A forked worker that runs ``handler(payload, emit)`` for each request. Also a context manager."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._owner_pid = os.getpid()
        self._owner_thread = _thread.get_ident()
        self._child: _Child | None = None
        self._closed = False

    @property
    def pid(self) -> int | None:
        """The current worker's process id (None before the first request and after a kill or crash)."""
        return self._child.pid if self._child is not None else None

    def request(self, payload: dict, *, timeout: float, on_event: Callable[[dict], None] | None = None,
                meanwhile: Callable[[], None] | None = None) -> WorkerReply:
        """Run one request in the worker, waiting at most ``timeout`` seconds before killing it.

        ``meanwhile`` is called once the request is on its way: work the caller needs anyway that can run while
        the worker does (on another core), such as imports for presenting the result."""
        self._check_caller("request")
        if (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout)
                or timeout <= 0):
            raise UsageError(f"WorkerSession.request: timeout: expected a positive number of seconds, got {timeout!r}")
        if not isinstance(payload, dict):
            raise UsageError(f"WorkerSession.request: payload: expected a dict, got {type(payload).__name__}")
        try:
            frame = _encode_frame({"payload": payload})
        except ValueError as exc:  # marshal: "unmarshallable object"
            raise UsageError(f"WorkerSession.request: payload: not plain data ({exc})") from None
        deadline = time.monotonic() + timeout
        fresh = False
        if self._child is not None and not self._child.alive():
            self._child.kill()  # died while idle: reap it and start over
            self._child = None
        if self._child is None:
            self._child = self._spawn()
            fresh = True
        child = self._child
        events: list[dict] = []

        def take(event: dict) -> None:
            events.append(event)
            if on_event is not None:
                on_event(event)

        try:
            if not child.send(frame, deadline):
                return self._lost(child, take, events, fresh, timed_out=time.monotonic() >= deadline)
            if meanwhile is not None:
                meanwhile()
            while True:
                message = child.receive(deadline, take)
                if message == "timeout":
                    return self._lost(child, take, events, fresh, timed_out=True)
                if message == "eof":
                    return self._lost(child, take, events, fresh, timed_out=False)
                if message == "corrupt":
                    return self._lost(child, take, events, fresh, timed_out=False, corrupt=True)
                assert isinstance(message, dict)
                if "event" in message:
                    take(message["event"])
                elif not child.drain_deferred(take):  # everything deferred was written before the result
                    return self._lost(child, take, events, fresh, timed_out=False, corrupt=True)
                else:
                    return WorkerReply(message.get("result"), events, fresh=fresh)
        except BaseException:
            # An on_event callback failed, Ctrl-C, a corrupt stream: the worker's state is unknown, end it.
            child.kill()
            self._child = None
            raise

    def close(self) -> None:
        """End the worker: it gets end-of-file on its request pipe and a moment to exit, then SIGKILL."""
        if self._closed or os.getpid() != self._owner_pid:
            return  # a forked child holding a copy of this object must not touch the parent's worker
        self._closed = True
        child, self._child = self._child, None
        if child is not None:
            fd = child.request_fd
            if fd in _open_session_fds:
                _open_session_fds.discard(fd)
                os.close(fd)
            child.reap(_CLOSE_GRACE)

    def __enter__(self) -> "WorkerSession":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    # -- internals -----------------------------------------------------------------------------------------------

    def _check_caller(self, what: str) -> None:
        if self._closed:
            raise UsageError(f"WorkerSession.{what}: the session is closed")
        if os.getpid() != self._owner_pid or _thread.get_ident() != self._owner_thread:
            raise UsageError(f"WorkerSession.{what}: call it from the thread (and process) that created the session")

    def _lost(self, child: _Child, take: Callable[[dict], None], events: list[dict], fresh: bool, *,
              timed_out: bool, corrupt: bool = False) -> WorkerReply:
        self._child = None
        if timed_out or corrupt:
            status = child.kill(before_closing=None if corrupt else take)
        else:
            status = child.reap(_CLOSE_GRACE, before_closing=take)
        return WorkerReply(None, events, killed=timed_out, crashed=not timed_out, exit_status=status, fresh=fresh)

    def _spawn(self) -> _Child:
        request_r, request_w = os.pipe()
        reply_r, reply_w = os.pipe()
        deferred_r, deferred_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            _child_main(self._handler, request_r, reply_w, deferred_w)
        for fd in (request_r, reply_w, deferred_w):
            os.close(fd)
        _open_session_fds.update((request_w, reply_r, deferred_r))
        return _Child(pid, request_w, reply_r, deferred_r)


# -- the child -----------------------------------------------------------------------------------------------------

def _read_exact(fd: int, size: int) -> bytes | None:
    parts = bytearray()
    while len(parts) < size:
        chunk = os.read(fd, size - len(parts))
        if not chunk:
            return None
        parts += chunk
    return bytes(parts)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _close_other_fds(keep: set[int]) -> None:
    """Close every inherited descriptor above stderr except ``keep`` (other sessions' pipes, files, sockets)."""
    low = 3
    for fd in sorted(k for k in keep if k >= 3):
        if fd > low:
            os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, max(low, _max_fd()))


def _max_fd() -> int:
    try:
        return max(int(name) for name in os.listdir("/proc/self/fd")) + 1
    except (OSError, ValueError):
        return os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 1024


def _exit_when_parent_hangs_up(request_fd: int) -> None:
    """The watchdog thread's body: block until no process holds the request pipe's write end, then exit."""
    poller = select.poll()
    poller.register(request_fd, 0)  # no events asked for: poll still reports POLLHUP (and POLLERR/POLLNVAL)
    while True:
        try:
            if poller.poll():
                break
        except InterruptedError:
            continue
    os._exit(0)


def _child_main(handler: Handler, request_fd: int, reply_fd: int, deferred_fd: int) -> None:
    code = 0
    try:
        _thread.start_new_thread(_exit_when_parent_hangs_up, (request_fd,))
        _signal.signal(_signal.SIGINT, _signal.SIG_IGN)  # Ctrl-C is the parent's to handle
        _close_other_fds({request_fd, reply_fd, deferred_fd})
        _redirect_fault_handler()
        debug = os.environ.get("KOSMO_DEBUG") == "1"

        def emit(event: dict, *, deferred: bool = False) -> None:
            _write_all(deferred_fd if deferred else reply_fd, _encode_frame({"event": event}))

        while True:
            header = _read_exact(request_fd, _HEADER_SIZE)
            if header is None:
                break  # the parent closed the session (or died)
            body = _read_exact(request_fd, int.from_bytes(header, "big"))
            if body is None:
                break
            payload = marshal.loads(body)["payload"]
            try:
                result = handler(payload, emit)
                if not isinstance(result, dict):
                    raise TypeError(f"the handler returned {type(result).__name__}, expected dict")
                frame = _encode_frame({"result": result})
            except BaseException as exc:  # noqa: BLE001 - anything the handler does becomes a result
                frame = _encode_frame({"result": _internal_error(exc, debug)})
            _write_all(reply_fd, frame)
    except BaseException:  # noqa: BLE001 - a broken pipe or anything else: just leave
        code = 1
    finally:
        os._exit(code)  # never run the parent's atexit handlers or flush its buffers


def _internal_error(exc: BaseException, debug: bool) -> dict:
    result: dict[str, Any] = {"internal_error": f"{type(exc).__name__}: {exc}"}
    if debug:
        import traceback

        result["traceback"] = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return result


def _redirect_fault_handler() -> None:
    """faulthandler may write to a descriptor we just closed (pytest dups stderr for it): point it at stderr."""
    import faulthandler

    if faulthandler.is_enabled():
        try:
            faulthandler.enable(file=2)
        except (ValueError, OSError, TypeError):
            faulthandler.disable()
