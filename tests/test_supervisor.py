"""The generic worker supervisor: streaming, state, deadline kills, crashes, clean-up."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from kosmo_lua.errors import UsageError
from kosmo_lua.run.supervisor import WorkerReply, WorkerSession

SLACK = 5.0
REPO = Path(__file__).resolve().parents[1]

_state: dict[str, Any] = {"count": 0}


def handler(payload: dict, emit: Callable[[dict], None]) -> dict:
    """Runs in the child. Module-level state survives between requests only while the child lives."""
    _state["count"] += 1
    op = payload.get("op", "count")
    if op == "count":
        return {"count": _state["count"], "pid": os.getpid()}
    if op == "events":
        for i in range(payload["n"]):
            emit({"type": "output", "line": f"line {i}"})
        return {"done": True}
    if op == "emit_then_hang":
        emit({"type": "output", "line": "before the hang"})
        time.sleep(600)
    if op == "deferred":  # deferred and immediate events interleaved; "hang" then never answers
        if payload.get("pause"):  # one event the parent reads at once; the rest comes within its read interval
            emit({"type": "call", "n": -1, "pad": ""}, deferred=True)
            time.sleep(payload["pause"])
        for i in range(payload["n"]):
            emit({"type": "call", "n": i, "pad": "x" * payload.get("pad", 0)}, deferred=True)
            if i % 10 == 0:
                emit({"type": "output", "line": f"line {i}"})
        if payload.get("hang"):
            time.sleep(600)
        if payload.get("abort"):
            os.abort()
        return {"done": True}
    if op == "abort":
        emit({"type": "output", "line": "about to abort"})
        os.abort()
    if op == "segfault":
        os.kill(os.getpid(), signal.SIGSEGV)
    if op == "exit":
        os._exit(3)
    if op == "raise":
        raise ValueError("bad value")
    if op == "not_plain":
        return {"value": object()}
    if op == "not_dict":
        return ["a list"]  # type: ignore[return-value]
    if op == "big":
        return {"data": "x" * payload["size"]}
    if op == "scribble":
        os.write(payload["fd"], b"\x00\x00\x00\x05hello")  # not our framing: the parent must not trust it
        time.sleep(600)
    if op == "fd_open":
        try:
            os.fstat(payload["fd"])
            return {"open": True}
        except OSError:
            return {"open": False}
    raise AssertionError(f"unknown op {op}")


def _reaped(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


@pytest.fixture
def session() -> Any:
    with WorkerSession(handler) as s:
        yield s


def test_first_request_forks_and_state_survives(session: WorkerSession) -> None:
    first = session.request({}, timeout=SLACK)
    second = session.request({}, timeout=SLACK)
    assert first.fresh and not second.fresh
    assert first.result is not None and second.result is not None
    assert second.result["count"] == first.result["count"] + 1
    assert first.result["pid"] == second.result["pid"] == session.pid != os.getpid()


def test_events_stream_in_order(session: WorkerSession) -> None:
    seen: list[dict] = []
    reply = session.request({"op": "events", "n": 50}, timeout=SLACK, on_event=seen.append)
    assert reply.result == {"done": True}
    assert [e["line"] for e in reply.events] == [f"line {i}" for i in range(50)]
    assert seen == reply.events


def test_events_arrive_before_the_result_and_survive_a_kill(session: WorkerSession) -> None:
    arrived: list[float] = []
    started = time.monotonic()
    reply = session.request({"op": "emit_then_hang"}, timeout=1.0,
                            on_event=lambda e: arrived.append(time.monotonic()))
    assert reply.killed and not reply.crashed and reply.result is None
    assert reply.exit_status == 128 + signal.SIGKILL
    assert reply.events == [{"type": "output", "line": "before the hang"}]
    assert arrived and arrived[0] - started < 1.0  # streamed while the child was still running
    assert time.monotonic() - started < 1.0 + SLACK


def test_deferred_events_all_arrive_before_the_result(session: WorkerSession) -> None:
    seen: list[dict] = []
    reply = session.request({"op": "deferred", "n": 95}, timeout=SLACK, on_event=seen.append)
    assert reply.result == {"done": True} and seen == reply.events
    assert [e["n"] for e in reply.events if e["type"] == "call"] == list(range(95))  # in order, none missing
    assert [e["line"] for e in reply.events if e["type"] == "output"] == [f"line {i}" for i in range(0, 95, 10)]


def test_deferred_events_beyond_the_pipe_buffer_do_not_block(session: WorkerSession) -> None:
    # ~2 MB of deferred events: many times a pipe's buffer, so the child waits for the parent's periodic reads.
    reply = session.request({"op": "deferred", "n": 2000, "pad": 1000}, timeout=SLACK)
    assert reply.result == {"done": True}
    assert [e["n"] for e in reply.events if e["type"] == "call"] == list(range(2000))


@pytest.mark.parametrize("how", ["hang", "abort"])
def test_deferred_events_survive_a_kill_or_a_crash(session: WorkerSession, how: str) -> None:
    # The crash comes within DEFERRED_INTERVAL of the parent's last read: the events are still in the dead child's
    # pipe, and the parent reads them there.
    reply = session.request({"op": "deferred", "n": 30, "pause": 0.01, how: True}, timeout=1.0)
    assert reply.result is None and (reply.killed if how == "hang" else reply.crashed)
    assert [e["n"] for e in reply.events if e["type"] == "call"] == list(range(-1, 30))


def test_kill_on_timeout_then_fresh_child(session: WorkerSession) -> None:
    before = session.request({}, timeout=SLACK)
    killed_pid = session.pid
    assert killed_pid is not None
    killed = session.request({"op": "emit_then_hang"}, timeout=0.5)
    assert killed.killed and not killed.fresh
    assert session.pid is None and _reaped(killed_pid)
    after = session.request({}, timeout=SLACK)
    assert after.fresh and after.result is not None and before.result is not None
    assert after.result["pid"] != before.result["pid"]
    assert after.result["count"] == 1  # earlier state was lost with the old child


@pytest.mark.parametrize(("op", "status"), [("abort", 134), ("segfault", 139), ("exit", 3)])
def test_crash_detected(session: WorkerSession, op: str, status: int) -> None:
    session.request({}, timeout=SLACK)
    pid = session.pid
    assert pid is not None
    reply = session.request({"op": op}, timeout=SLACK)
    assert reply.crashed and not reply.killed and reply.result is None
    assert reply.exit_status == status
    assert _reaped(pid)
    if op == "abort":
        assert reply.events == [{"type": "output", "line": "about to abort"}]
    assert session.request({}, timeout=SLACK).fresh


def test_handler_exception_becomes_internal_error(session: WorkerSession) -> None:
    reply = session.request({"op": "raise"}, timeout=SLACK)
    assert reply.result == {"internal_error": "ValueError: bad value"}
    assert not reply.crashed and not reply.killed
    assert session.request({}, timeout=SLACK).fresh is False  # the child keeps serving


def test_unserialisable_and_wrong_results(session: WorkerSession) -> None:
    bad = session.request({"op": "not_plain"}, timeout=SLACK).result
    assert bad == {"internal_error": "ValueError: unmarshallable object"}
    wrong = session.request({"op": "not_dict"}, timeout=SLACK).result
    assert wrong == {"internal_error": "TypeError: the handler returned list, expected dict"}


def test_traceback_only_with_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    with WorkerSession(handler) as plain:
        result = plain.request({"op": "raise"}, timeout=SLACK).result
        assert result is not None and "traceback" not in result and "Traceback" not in str(result)
    monkeypatch.setenv("KOSMO_DEBUG", "1")
    with WorkerSession(handler) as debug:
        result = debug.request({"op": "raise"}, timeout=SLACK).result
        assert result is not None and "Traceback" in result["traceback"]


def test_large_result_passes(session: WorkerSession) -> None:
    reply = session.request({"op": "big", "size": 3_000_000}, timeout=SLACK)
    assert reply.result is not None and len(reply.result["data"]) == 3_000_000


def test_no_zombies_after_close() -> None:
    s = WorkerSession(handler)
    s.request({}, timeout=SLACK)
    pid = s.pid
    assert pid is not None
    s.close()
    assert _reaped(pid)
    s.close()  # twice is fine
    with pytest.raises(UsageError, match="closed"):
        s.request({}, timeout=SLACK)


def test_child_closes_inherited_descriptors(tmp_path: Path) -> None:
    with open(tmp_path / "parent-file", "w") as f, WorkerSession(handler) as s:
        reply = s.request({"op": "fd_open", "fd": f.fileno()}, timeout=SLACK)
        assert reply.result == {"open": False}
        assert os.fstat(f.fileno())  # still open in the parent


def test_other_sessions_children_get_eof() -> None:
    # A child forked later must not keep the first session's request pipe open.
    first, second = WorkerSession(handler), WorkerSession(handler)
    try:
        first.request({}, timeout=SLACK)
        second.request({}, timeout=SLACK)
        pid = first.pid
        assert pid is not None
        started = time.monotonic()
        first.close()  # waits for a clean exit on EOF, then kills after a grace period
        assert _reaped(pid) and time.monotonic() - started < 0.9
    finally:
        first.close()
        second.close()


def test_on_event_failure_kills_child_and_propagates(session: WorkerSession) -> None:
    session.request({}, timeout=SLACK)
    pid = session.pid
    assert pid is not None

    def explode(event: dict) -> None:
        raise RuntimeError("consumer failed")

    with pytest.raises(RuntimeError, match="consumer failed"):
        session.request({"op": "events", "n": 3}, timeout=SLACK, on_event=explode)
    assert _reaped(pid)
    assert session.request({}, timeout=SLACK).fresh


def test_corrupt_stream_is_a_crash(session: WorkerSession) -> None:
    # The child's reply pipe is the highest descriptor it keeps; find it from inside by elimination.
    session.request({}, timeout=SLACK)
    fds = [int(n) for n in os.listdir(f"/proc/{session.pid}/fd")]
    reply = session.request({"op": "scribble", "fd": max(fds)}, timeout=SLACK)
    assert reply.crashed and reply.result is None and reply.exit_status == 137
    assert session.request({}, timeout=SLACK).fresh


def test_bad_arguments(session: WorkerSession) -> None:
    with pytest.raises(UsageError, match="timeout: expected a positive number"):
        session.request({}, timeout=0)
    with pytest.raises(UsageError, match="payload: expected a dict"):
        session.request([], timeout=1)  # type: ignore[arg-type]
    session.request({}, timeout=SLACK)
    pid = session.pid
    with pytest.raises(UsageError, match="payload: not plain data"):
        session.request({"x": object()}, timeout=1)
    assert session.pid == pid  # a caller's mistake does not cost the worker its state


def test_other_thread_refused(session: WorkerSession) -> None:
    errors: list[BaseException] = []

    def call() -> None:
        try:
            session.request({}, timeout=SLACK)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    thread.join()
    assert len(errors) == 1 and isinstance(errors[0], UsageError)


def test_reply_shape() -> None:
    reply = WorkerReply(result=None)
    assert (reply.events, reply.killed, reply.crashed, reply.exit_status, reply.fresh) == ([], False, False, None,
                                                                                          False)


_SCRIPT = textwrap.dedent("""
    import atexit, os, sys, time
    sys.path.insert(0, {repo!r})
    from kosmo_lua.run.supervisor import WorkerSession

    def record():
        with open({marker!r}, "a") as f:
            f.write(f"atexit {{os.getpid()}}\\n")

    atexit.register(record)

    def handler(payload, emit):
        if payload.get("hang"):
            emit({{"pid": os.getpid()}})
            time.sleep(600)
        if payload.get("lua"):
            import lupa.lua54
            emit({{"pid": os.getpid()}})
            # A Lua pattern that backtracks for minutes inside one C call: no hook, no Python code runs.
            lupa.lua54.LuaRuntime().execute('return string.find(("a"):rep(800), ".-.-.-b")')
        return {{"pid": os.getpid()}}

    def die_soon(event):
        import threading
        print(os.getpid(), event["pid"], flush=True)
        threading.Timer(0.2, lambda: os.kill(os.getpid(), 9)).start()

    session = WorkerSession(handler)
    if sys.argv[1] == "die_busy":  # the parent dies while the child is inside the handler
        session.request({{"hang": True}}, timeout=60, on_event=die_soon)
    if sys.argv[1] == "die_in_lua":  # ... while the child is inside a long C call of the Lua engine
        session.request({{"lua": True}}, timeout=60, on_event=die_soon)
    print(os.getpid(), session.request({{}}, timeout=5).result["pid"], flush=True)
    if sys.argv[1] == "die":
        os.kill(os.getpid(), 9)  # the parent dies without closing anything
    session.close()
""")


def _script(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "atexit.log"
    script = tmp_path / "parent.py"
    script.write_text(_SCRIPT.format(repo=str(REPO), marker=str(marker)))
    return script, marker


def test_child_never_runs_parent_atexit_handlers(tmp_path: Path) -> None:
    script, marker = _script(tmp_path)
    proc = subprocess.run([sys.executable, str(script), "close"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    parent, child = proc.stdout.split()
    assert parent != child
    assert marker.read_text().splitlines() == [f"atexit {parent}"]  # only the parent's own exit ran it


@pytest.mark.parametrize("mode", ["die", "die_busy", "die_in_lua"])
def test_child_does_not_outlive_parent(tmp_path: Path, mode: str) -> None:
    # "die": the idle child sees end-of-file; "die_busy"/"die_in_lua": the child is inside the handler, sleeping or
    # deep in a Lua pattern, and its watchdog thread sees the request pipe hang up.
    script, _ = _script(tmp_path)
    with _subreaper():  # orphans come to us, so we can reap them instead of leaving zombies behind
        proc = subprocess.run([sys.executable, str(script), mode], capture_output=True, text=True, timeout=30)
        assert proc.returncode == -9
        child = int(proc.stdout.split()[1])
        until = time.monotonic() + SLACK
        while time.monotonic() < until and _alive(child):
            time.sleep(0.05)
        alive = _alive(child)
        if alive:
            os.kill(child, signal.SIGKILL)
        try:
            os.waitpid(child, 0)
        except ChildProcessError:
            pass  # not reparented to us (no subreaper support): init reaps it
    assert not alive


@contextlib.contextmanager
def _subreaper() -> Iterator[None]:
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_child_subreaper = 36
    prctl(pr_set_child_subreaper, 1, 0, 0, 0)
    try:
        yield
    finally:
        prctl(pr_set_child_subreaper, 0, 0, 0, 0)


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper that is not us counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
