"""Memory and time limits, and every known way around them.

Cases that would hang or kill the test process if a defence regressed run in a forked worker (WorkerSession) with
a hard timeout, so a regression shows up as a failed assertion instead of a stuck test run.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from kosmo_lua.errors import (
    ArgumentError,
    CpuLimitExceeded,
    LuaRuntimeError,
    MemoryLimitExceeded,
    ScriptError,
    UsageError,
)
from kosmo_lua.run.supervisor import WorkerSession
from kosmo_lua.sandbox.runtime import Sandbox

MIB = 1024 * 1024
CPU = 0.2  # seconds: short, so the suite stays fast
SLACK = 5.0  # generous bound for "ended promptly"; never a tight wall-time assertion


def _limit_handler(payload: dict, emit: Any) -> dict:
    box = Sandbox(memory_limit=payload.get("memory", 2 * MIB), cpu_limit=payload.get("cpu", CPU))
    box.register("small", lambda: "ok")
    box.register("big", lambda n: "y" * n)
    box.register("mem", lambda: (box.memory_used, box.memory_limit))
    try:
        return {"values": box.execute(payload["code"])}
    except ScriptError as exc:
        return {"error": type(exc).__name__, "message": str(exc)}


@pytest.fixture(scope="module")
def worker() -> Iterator[WorkerSession]:
    with WorkerSession(_limit_handler) as session:
        yield session


def in_worker(worker: WorkerSession, code: str, **limits: Any) -> dict:
    """Run code in a fresh sandbox inside the worker; the reply must be a normal one (no kill, no crash)."""
    cpu = limits.get("cpu", CPU)
    reply = worker.request({"code": code, **limits}, timeout=cpu + SLACK)
    assert not reply.killed, "the in-process limit did not fire: the supervisor had to kill the worker"
    assert not reply.crashed, f"the worker crashed (exit status {reply.exit_status})"
    assert reply.result is not None
    return reply.result


CPU_MESSAGE = {"error": "CpuLimitExceeded", "message": "cpu limit exceeded (0.2 s)"}
MEMORY_MESSAGE = {"error": "MemoryLimitExceeded", "message": "memory limit exceeded (2 MiB)"}


# -- time ----------------------------------------------------------------------------------------------------------

def test_while_true_stops_with_exact_message() -> None:
    box = Sandbox(cpu_limit=CPU)
    with pytest.raises(CpuLimitExceeded) as info:
        box.execute("while true do end")
    assert str(info.value) == "cpu limit exceeded (0.2 s)"


def test_default_message_names_thirty_seconds() -> None:
    assert str(CpuLimitExceeded(Sandbox().cpu_limit)) == "cpu limit exceeded (30 s)"
    assert str(MemoryLimitExceeded(Sandbox().memory_limit)) == "memory limit exceeded (32 MiB)"


@pytest.mark.parametrize("code", [
    "local co = coroutine.create(function() while true do end end) coroutine.resume(co)",
    "coroutine.wrap(function() while true do end end)()",
    "local co = coroutine.wrap(function() while true do coroutine.yield() end end) while true do co() end",
    "coroutine.wrap(function() coroutine.wrap(function() while true do end end)() end)()",
])
def test_coroutine_loops(worker: WorkerSession, code: str) -> None:
    assert in_worker(worker, code) == CPU_MESSAGE


@pytest.mark.parametrize("code", [
    "while true do pcall(function() while true do end end) end",
    "for i = 1, 1e9 do local ok, e = pcall(error, 'x') end",
    "while true do xpcall(function() while true do end end, function(e) return e end) end",
    "while true do xpcall(function() while true do end end, function(e) while true do end end) end",
    "while true do local co = coroutine.create(function() while true do end end) coroutine.resume(co) end",
    "while true do coroutine.close(coroutine.create(function() end)) pcall(function() while true do end end) end",
    "while true do pcall(load, 'while true do end') pcall(load('while true do end')) end",
])
def test_pcall_cannot_swallow_cpu_kill(worker: WorkerSession, code: str) -> None:
    assert in_worker(worker, code) == CPU_MESSAGE


@pytest.mark.parametrize("code", [
    "local function f() while true do pcall(f) end end f()",
    "local function f() while true do xpcall(f, function(e) return e end) end end f()",
    "local function f() while true do coroutine.resume(coroutine.create(f)) end end f()",
    "local function f() while true do pcall(coroutine.wrap(f)) end end f()",
    "local function f() while true do pcall(string.gsub, 'aaa', 'a', f) end end f()",
])
def test_c_stack_exhaustion(worker: WorkerSession, code: str) -> None:
    assert in_worker(worker, code) == CPU_MESSAGE


def test_fresh_time_budget_per_execute_and_state_persists() -> None:
    box = Sandbox(cpu_limit=0.5)
    box.execute("count = 0")
    for _ in range(3):  # three runs of 0.2 s each: together past the limit, each well within it
        box.execute("sleep(0.2) count = count + 1")
    assert box.execute("return count") == [3]
    with pytest.raises(CpuLimitExceeded):
        box.execute("while true do end")
    assert box.execute("count = count + 1 return count") == [4]


def test_sleep_past_deadline_ends_at_deadline() -> None:
    box = Sandbox(cpu_limit=CPU)
    started = time.monotonic()
    with pytest.raises(CpuLimitExceeded):
        box.execute("pcall(sleep, 30) return 'escaped'")
    assert time.monotonic() - started < SLACK


def test_sleep_counts_against_the_limit() -> None:
    box = Sandbox(cpu_limit=0.5)
    assert box.execute("sleep(0.1) sleep(0) return 'ok'") == ["ok"]
    with pytest.raises(CpuLimitExceeded):
        box.execute("for i = 1, 10 do sleep(0.1) end")


def test_sleep_rejects_bad_arguments() -> None:
    box = Sandbox()
    for code, shown in [("sleep('1')", "got string"), ("sleep(-1)", "got -1"), ("sleep()", "got nothing"),
                        ("sleep(0/0)", "got nan"), ("sleep(true)", "got boolean"), ("sleep({})", "got table")]:
        with pytest.raises(LuaRuntimeError) as info:
            box.execute(code)
        assert str(info.value).startswith("sleep: argument 1 (seconds): expected a non-negative number, got ")
        assert shown in str(info.value)
        assert info.value.value["kind"] == "argument"


def test_time_spent_in_host_call_counts() -> None:
    box = Sandbox(cpu_limit=CPU)
    box.register("slow", lambda: time.sleep(CPU + 0.2) or "done")
    with pytest.raises(CpuLimitExceeded):
        box.execute("local ok = pcall(slow) return 'escaped'")


def test_host_function_may_end_script_with_a_limit() -> None:
    box = Sandbox(cpu_limit=10)

    def over() -> None:
        raise CpuLimitExceeded(10)

    box.register("over", over)
    with pytest.raises(CpuLimitExceeded):
        box.execute("pcall(over) return 'escaped'")


def test_keyboard_interrupt_in_host_function_ends_script() -> None:
    box = Sandbox()

    def interrupt() -> None:
        raise KeyboardInterrupt

    box.register("interrupt", interrupt)
    with pytest.raises(KeyboardInterrupt):
        box.execute("for i = 1, 3 do pcall(interrupt) end return 'escaped'")
    assert box.execute("return 'usable'") == ["usable"]


def test_long_lua_pattern_needs_the_supervisor() -> None:
    # string.find runs in C without ever returning to the hook: only the hard deadline stops it.
    code = 'return string.find(("a"):rep(800), ".-.-.-b")'
    timeout = 1.0
    with WorkerSession(_limit_handler) as session:
        started = time.monotonic()
        reply = session.request({"code": code, "cpu": 0.5}, timeout=timeout)
        elapsed = time.monotonic() - started
        assert reply.killed and reply.result is None
        assert reply.exit_status == 137
        assert elapsed < timeout + SLACK
        again = session.request({"code": "return 1"}, timeout=SLACK)
        assert again.fresh and again.result == {"values": [1]}


# -- memory --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("code", [
    "return #string.rep('x', 1e9)",
    "local t = {} for i = 1, 1e9 do t[i] = i end",
    "local s = 'x' while true do s = s .. s end",
    "local t = {} while true do t[#t + 1] = ('x'):rep(100) .. #t end",
    "local t = {} for i = 1, 1e9 do t['k' .. i] = {} end",
    "local ok = pcall(string.rep, 'x', 1e9) return 'escaped'",
    "local t = {} local ok = pcall(function() while true do t[#t + 1] = {} end end) return 'escaped'",
    "local ok = xpcall(string.rep, function(e) return e end, 'x', 1e9) return 'escaped'",
    "local co = coroutine.create(function() return ('x'):rep(1e9) end) coroutine.resume(co) return 'escaped'",
    "pcall(coroutine.wrap(function() local s = 'x' while true do s = s .. s end end)) return 'escaped'",
    "local ok = pcall(load, 'return ' .. ('{'):rep(1e5)) local ok2, f = pcall(load, ('x = 1 '):rep(5e5)) "
    "return 'maybe'",
])
def test_memory_limit_is_uncatchable(worker: WorkerSession, code: str) -> None:
    result = in_worker(worker, code)
    if result.get("values") == ["maybe"]:  # the parser fitted: then memory was never short
        return
    assert result == MEMORY_MESSAGE


def test_memory_filled_under_pcall_then_host_call(worker: WorkerSession) -> None:
    code = """
    local t = {}
    pcall(function() while true do t[#t + 1] = ('x'):rep(100) .. #t end end)
    return small(), #big(1000)
    """
    assert in_worker(worker, code) == MEMORY_MESSAGE


def test_host_call_close_to_the_limit(worker: WorkerSession) -> None:
    # Grow while asking the host how much is used; the call that finds Lua within the reserve ends the script
    # cleanly (no deadlock inside lupa, no abort).
    code = """
    local t = {}
    while true do
      local used, limit = mem()
      t[#t + 1] = ('x'):rep(8000) .. #t
      small()
      local s = big(64)
    end
    """
    assert in_worker(worker, code) == MEMORY_MESSAGE


def test_host_call_below_the_reserve_works(worker: WorkerSession) -> None:
    code = """
    local t = {}
    for i = 1, 100 do t[i] = ('x'):rep(1000) .. i end  -- ~100 KB of 2 MiB
    return small(), #big(100000)
    """
    assert in_worker(worker, code) == {"values": ["ok", 100000]}


def test_host_result_too_large() -> None:
    box = Sandbox(memory_limit=2 * MIB)
    box.register("big", lambda n: "y" * n)
    box.register("many", lambda n: [{"id": i, "name": "item"} for i in range(n)])
    with pytest.raises(MemoryLimitExceeded) as info:
        box.execute("local ok = pcall(big, 10 * 1024 * 1024) return 'escaped'")
    assert str(info.value) == "memory limit exceeded (2 MiB)"
    with pytest.raises(MemoryLimitExceeded):
        box.execute("local ok = pcall(many, 50000) return 'escaped'")
    assert box.execute("return #big(1000), #many(10)") == [1000, 10]


def test_memory_kill_inside_coroutine_propagates() -> None:
    box = Sandbox(memory_limit=MIB)
    with pytest.raises(MemoryLimitExceeded):
        box.execute("""
        local gen = coroutine.wrap(function() local t = {} while true do t[#t + 1] = {} coroutine.yield() end end)
        while true do pcall(gen) end
        """)


def test_script_error_text_not_enough_memory_counts_as_memory() -> None:
    # Lua gives exactly this string when an allocation fails; a script raising it itself ends the same way.
    with pytest.raises(MemoryLimitExceeded):
        Sandbox().execute("pcall(error, 'not enough memory') return 'escaped'")


def test_deep_recursion_ends_cleanly(worker: WorkerSession) -> None:
    result = in_worker(worker, "local function f(n) return f(n + 1) + 1 end return f(1)")
    assert result["error"] in ("LuaRuntimeError", "MemoryLimitExceeded")
    if result["error"] == "LuaRuntimeError":
        assert "stack overflow" in result["message"]


def test_memory_accounting() -> None:
    box = Sandbox(memory_limit=8 * MIB)
    before = box.memory_used
    box.execute("keep = ('x'):rep(2 * 1024 * 1024)")
    assert box.memory_used >= 2 * MIB > before
    assert box.peak_memory >= 2 * MIB
    box.execute("keep = nil")
    with pytest.raises(MemoryLimitExceeded):
        box.execute("local s = ('x'):rep(100 * 1024 * 1024)")
    assert box.peak_memory >= 8 * MIB
    assert box.execute("return 'usable'") == ["usable"]


def test_set_limits_changes_limits_and_messages() -> None:
    box = Sandbox()
    box.set_limits(memory_limit=MIB, cpu_limit=0.2)
    with pytest.raises(CpuLimitExceeded, match=r"^cpu limit exceeded \(0\.2 s\)$"):
        box.execute("while true do end")
    with pytest.raises(MemoryLimitExceeded, match=r"^memory limit exceeded \(1 MiB\)$"):
        box.execute("return ('x'):rep(2 * 1024 * 1024)")
    with pytest.raises(UsageError, match="cpu_limit: expected a positive number"):
        box.set_limits(cpu_limit=0)
    with pytest.raises(UsageError, match="memory_limit: expected an int"):
        Sandbox(memory_limit=10)


def test_deadline_property() -> None:
    box = Sandbox(cpu_limit=5)
    seen: list[float] = []
    box.register("probe", lambda: seen.append(box.deadline - time.monotonic()))
    assert box.deadline == float("inf")
    box.execute("probe()")
    assert 0 < seen[0] <= 5
    assert box.deadline == float("inf")


def test_argument_error_is_a_call_error_value() -> None:
    box = Sandbox()
    with pytest.raises(LuaRuntimeError) as info:
        box.execute("sleep('x')")
    assert isinstance(info.value.value, dict)
    assert ArgumentError("sleep", ["x"]).data["kind"] == info.value.value["kind"]


def test_host_call_with_tables_a_few_bytes_below_the_limit(worker: WorkerSession) -> None:
    # Creep up to the limit using the host's own numbers, then call with table arguments (lupa must allocate
    # references for them before any of our code runs): the call ends the script cleanly.
    template = """
    local t = {}
    for i = 1, 20000 do t[i] = false end
    local i = 0
    while true do
      local used, limit = mem()
      local free = limit - used
      if free < %d then break end
      i = i + 1
      t[i] = ('x'):rep(math.max(1, free // 2 - 64)) .. i
    end
    return small({1, 2, 3}, {a = {b = 'c'}}, 'some string here')
    """
    for threshold in (2000, 300, 80):
        assert in_worker(worker, template % threshold) == MEMORY_MESSAGE
