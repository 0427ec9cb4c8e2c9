"""`parallel(tasks [, options])` as a user runs it: `kosmo integrations:lua` subprocesses, against the built-in
emulators (--offline) or the Replicate emulator on a real loopback port with latency.

Results in order, the error rule (raise after every task, or collect), argument errors, overlap of calls and sleeps
(seen in the emulator's request log, never by timing micro-asserts), coroutines of the script's own inside tasks,
nested parallel, the limits (time, memory, a kill nobody can swallow), and the call records.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _kosmo_run import assert_no_crash, clean_env, envelope, kosmo, served

TOKEN = "r8_parallel_suite_token"
PAGE = Path(__file__).resolve().parents[1] / "kosmo_lua" / "stdlib" / "pages" / "parallel.md"
CREATE_PATH = "/v1/models/black-forest-labs/flux-schnell/predictions"


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "work").mkdir()
    return tmp_path / "work"


def run(work: Path, code: str, *flags: str, env: dict[str, str] | None = None, offline: bool = True
        ) -> dict[str, Any]:
    args = ["integrations:lua", "--json", "--force", *flags, "-e", code]
    if offline:
        args.append("--offline")
    full = clean_env({"KOSMO_HOME": str(work.parent / "home"), **(env or {})})
    proc = kosmo(*args, env=full, cwd=work)
    assert proc.returncode in (0, 1), proc.stderr
    assert_no_crash(proc.stdout, proc.stderr)
    return envelope(proc)


def ok(data: dict[str, Any]) -> dict[str, Any]:
    assert data["success"], (data["error"], data["output"])
    return data


@pytest.fixture(scope="module")
def slow_replicate() -> Iterator[Any]:
    """The Replicate emulator on a loopback port, 100 ms of latency on every API request."""
    with served("replicate", latency_ms=100) as emulator:
        yield emulator


@pytest.fixture
def loopback(slow_replicate: Any) -> dict[str, str]:
    slow_replicate.reset()
    return {"REPLICATE_API_TOKEN": TOKEN, "REPLICATE_BASE_URL": slow_replicate.server.base_url}


def max_in_flight(requests: list[Any]) -> int:
    """The most requests the emulator was answering at the same moment (arrival to answer)."""
    events = sorted([(r.timestamp, 1) for r in requests] + [(r.answered, -1) for r in requests])
    most = current = 0
    for _, step in events:
        current += step
        most = max(most, current)
    return most


# -- results and errors ----------------------------------------------------------------------------------------


def test_results_come_back_in_task_order(work: Path) -> None:
    data = ok(run(work, """
        local order = {}
        local tasks = {}
        for i = 1, 6 do
          tasks[i] = function() sleep((7 - i) * 0.02); order[#order + 1] = i; return i * 10 end
        end
        local results = parallel(tasks)
        local one = parallel({ function() return "a" end, function() return "b" end }, { max = 1 })
        return results, order, one, parallel({})
    """))
    results, order, one, empty = data["result"]
    assert results == [10, 20, 30, 40, 50, 60]
    assert order == [6, 5, 4, 3, 2, 1]  # the tasks really did finish in the other order
    assert one == ["a", "b"] and empty == []


def test_a_failing_task_does_not_stop_the_others_and_the_error_carries_every_task(work: Path) -> None:
    data = run(work, """
        local ran = 0
        local tasks = {}
        for i = 1, 5 do
          tasks[i] = function()
            sleep(0.01 * i)
            ran = ran + 1
            if i == 4 then error("four went wrong") end
            if i == 2 then error({ code = 2 }) end
            return i
          end
        end
        local ok, err = pcall(parallel, tasks)
        print(ok, ran, err.kind, err.task, err.failed, tostring(err))
        print(err.errors[2].code, err.errors[4], err.results[1], err.results[3], err.results[5])
        return parallel(tasks)
    """)
    assert data["success"] is False
    first, second = data["output"].splitlines()
    assert first.startswith("false\t5\tparallel\t2\t2\tparallel: task 2 of 5 failed: ")
    assert first.endswith("(1 more failed; see errors)")
    assert second == "2\t(eval):8: four went wrong\t1\t3\t5"
    # Uncaught, the script ends with the same message; the error value is the table.
    assert data["error"].startswith("parallel: task 2 of 5 failed")
    value = data["meta"]["error_value"]
    assert value["kind"] == "parallel" and value["failed"] == 2 and value["task"] == 2


def test_errors_collect_returns_one_outcome_per_task(work: Path) -> None:
    data = ok(run(work, """
        local out = parallel({
          function() return "fine" end,
          function() error("no luck", 0) end,
          function() return app.integrations.replicate.get_prediction({ prediction_id = "nope" }) end,
        }, { errors = "collect" })
        return out[1], out[2], out[3].ok, out[3].error.status
    """))
    assert data["result"] == [{"ok": True, "value": "fine"}, {"ok": False, "error": "no luck"}, False, 404]


@pytest.mark.parametrize(("call", "message"), [
    ("parallel()", "parallel: argument 1 (tasks): expected an array of functions, got nil"),
    ("parallel('x')", "parallel: argument 1 (tasks): expected an array of functions, got string"),
    ("parallel({function() end, 5})", "parallel: argument 1 (tasks): tasks[2] is a number, expected a function"),
    ("parallel({function() end, name = function() end})",
     'parallel: argument 1 (tasks): expected an array of functions, found the key "name"'),
    ("parallel({}, 8)", "parallel: argument 2 (options): expected a table like {max = 8}, got number"),
    ("parallel({}, {max = 0})", "parallel: option 'max' expects a whole number from 1 to 64, got 0"),
    ("parallel({}, {max = 65})", "parallel: option 'max' expects a whole number from 1 to 64, got 65"),
    ("parallel({}, {max = 2.5})", "parallel: option 'max' expects a whole number from 1 to 64, got 2.5"),
    ("parallel({}, {max = '4'})", 'parallel: option \'max\' expects a whole number from 1 to 64, got "4"'),
    ("parallel({}, {errors = 'ignore'})",
     'parallel: option \'errors\' expects "raise" or "collect", got "ignore"'),
    ("parallel({}, {limit = 3})", 'parallel: unknown option "limit" (the options are max and errors)'),
])
def test_bad_arguments_name_parallel_and_the_parameter(work: Path, call: str, message: str) -> None:
    data = run(work, f"local started = false\n{call}")
    assert data["success"] is False
    assert data["error"] == f"(eval):2: {message}"


def test_a_plain_yield_in_a_task_is_that_tasks_error(work: Path) -> None:
    data = ok(run(work, """
        local out = parallel({ function() coroutine.yield(1) end, function() return 2 end }, { errors = "collect" })
        return out[1].error, out[2].value
    """))
    message, value = data["result"]
    assert "task 1 called coroutine.yield outside a coroutine of its own" in message and value == 2


# -- overlap ---------------------------------------------------------------------------------------------------


def test_sleeps_in_tasks_overlap(work: Path) -> None:
    data = ok(run(work, """
        local tasks = {}
        for i = 1, 10 do tasks[i] = function() sleep(0.3); return i end end
        return #parallel(tasks, { max = 10 })
    """))
    assert data["result"] == [10]
    # Ten 0.3 s sleeps one after the other would take 3 s: a generous bound that only overlap can meet.
    assert data["execution_time_ms"] < 2000


def test_max_bounds_how_many_tasks_run_at_once(work: Path) -> None:
    data = ok(run(work, """
        local running, most = 0, 0
        local tasks = {}
        for i = 1, 7 do
          tasks[i] = function()
            running = running + 1
            most = math.max(most, running)
            sleep(0.02)
            running = running - 1
          end
        end
        parallel(tasks, { max = 3 })
        local default_most = most
        most = 0
        for i = 8, 20 do tasks[i] = tasks[1] end
        parallel(tasks)
        return default_most, most
    """))
    assert data["result"] == [3, 8]


def test_sleep_in_a_task_checks_its_argument_like_sleep(work: Path) -> None:
    data = run(work, "parallel({ function() sleep(-1) end })")
    assert "sleep: argument 1 (seconds): expected a non-negative number, got -1" in data["error"]


def test_twenty_predictions_overlap_on_a_loopback_emulator(work: Path, slow_replicate: Any,
                                                           loopback: dict[str, str]) -> None:
    data = ok(run(work, """
        local replicate = app.integrations.replicate
        local tasks = {}
        for i = 1, 20 do
          tasks[i] = function()
            local p = replicate.create_model_prediction({ model_owner = "black-forest-labs",
              model_name = "flux-schnell", input = { prompt = "item " .. i } })
            return replicate.wait({ prediction = p, interval = 0.05 }).status
          end
        end
        return parallel(tasks, { max = 20 })
    """, env=loopback, offline=False))
    assert data["result"] == [["succeeded"] * 20]
    requests = slow_replicate.requests
    creations = [r for r in requests if r.method == "POST" and r.path == CREATE_PATH]
    assert len(creations) == 20
    assert sorted(json.loads(r.body)["input"]["prompt"] for r in creations) == sorted(f"item {i}" for i in range(1, 21))
    # Requests were being answered at the same time: each takes 100 ms at the emulator.
    assert max_in_flight(creations) >= 10
    assert max_in_flight(requests) >= 10
    # Every request the emulator saw is one record of the run, and every record is a finished call.
    calls = data["integration_calls"]
    assert len(calls) == len(requests)
    assert all(c["status"] == "ok" and c["http_status"] in (200, 201) for c in calls)


def test_outside_parallel_calls_stay_one_at_a_time(work: Path, slow_replicate: Any,
                                                   loopback: dict[str, str]) -> None:
    data = ok(run(work, """
        local replicate = app.integrations.replicate
        local names = {}
        for i = 1, 3 do names[i] = replicate.get_account({}).username end
        -- A coroutine of the script's own outside parallel: the call inside it just blocks.
        local co = coroutine.wrap(function() coroutine.yield(replicate.get_account({}).username) end)
        names[4] = co()
        return #names
    """, env=loopback, offline=False))
    assert data["result"] == [4]
    assert max_in_flight(slow_replicate.requests) == 1


def test_own_coroutines_inside_tasks_make_calls_that_overlap(work: Path, slow_replicate: Any,
                                                             loopback: dict[str, str]) -> None:
    data = ok(run(work, """
        local replicate = app.integrations.replicate
        -- A generator that calls the API between its yields.
        local function accounts(n)
          return coroutine.wrap(function()
            for i = 1, n do coroutine.yield(i, replicate.get_account({}).username) end
          end)
        end
        local tasks = {}
        for t = 1, 4 do
          tasks[t] = function()
            local seen = {}
            for i, name in accounts(2) do seen[#seen + 1] = i .. ":" .. name end
            -- coroutine.resume, two levels deep, with a sleep and a pcall on the way.
            local outer = coroutine.create(function()
              local inner = coroutine.create(function()
                local ok, account = pcall(replicate.get_account, {})
                sleep(0.05)
                coroutine.yield(ok and account.username)
                return "inner done"
              end)
              local _, first = coroutine.resume(inner)
              local _, second = coroutine.resume(inner)
              coroutine.yield(first)
              return second
            end)
            local _, a = coroutine.resume(outer)
            local _, b = coroutine.resume(outer)
            seen[#seen + 1] = tostring(a ~= nil) .. "/" .. b .. "/" .. coroutine.status(outer)
            return table.concat(seen, " ")
          end
        end
        -- parallel inside a task joins the running batch.
        tasks[5] = function()
          return table.concat(parallel({ function() return replicate.get_account({}).type end,
                                         function() sleep(0.05); return "slept" end }), "+")
        end
        return parallel(tasks)
    """, env=loopback, offline=False))
    (results,) = data["result"]
    for line in results[:4]:
        assert re.fullmatch(r"1:\S+ 2:\S+ true/inner done/dead", line), line
    assert results[4].endswith("+slept")
    requests = slow_replicate.requests
    assert len(requests) == 4 * 3 + 1 == len(data["integration_calls"])
    assert max_in_flight(requests) >= 4


def test_a_coroutine_waiting_for_a_call_cannot_be_resumed_by_another_task(work: Path, slow_replicate: Any,
                                                                          loopback: dict[str, str]) -> None:
    data = ok(run(work, """
        local waiting
        local out = parallel({
          function()
            waiting = coroutine.running()
            return app.integrations.replicate.get_account({}).type
          end,
          function()
            sleep(0.02)
            return { coroutine.resume(waiting, "forged answer") }
          end,
        })
        return out[1], out[2][1], out[2][2]
    """, env=loopback, offline=False))
    kind, resumed, message = data["result"]
    assert isinstance(kind, str) and resumed is False
    assert message == "cannot resume a coroutine that is waiting for I/O in parallel"


# -- limits ----------------------------------------------------------------------------------------------------


def test_time_limit_while_tasks_wait_ends_the_script_at_the_deadline(work: Path) -> None:
    data = run(work, """
        print("start")
        local ok = pcall(parallel, { function() sleep(20) end, function() sleep(30) end }, { errors = "collect" })
        print("never", ok)
    """, "--cpu-limit", "1")
    assert data["success"] is False and data["error"] == "cpu limit exceeded (1 s)"
    assert data["output"] == "start"
    assert data["execution_time_ms"] < 10_000  # ended at the limit, not after the sleeps


def test_cpu_limit_in_a_busy_task_cannot_be_swallowed(work: Path) -> None:
    data = run(work, """
        local ok = pcall(parallel, {
          function() return pcall(function() while true do end end) end,
          function() sleep(0.01); return xpcall(function() while true do end end, function(e) return "caught" end) end,
        }, { errors = "collect" })
        print("never", ok)
    """, "--cpu-limit", "1")
    assert data["success"] is False and data["error"] == "cpu limit exceeded (1 s)"
    assert data["output"] == ""


def test_memory_limit_inside_a_task_ends_the_script(work: Path) -> None:
    data = run(work, """
        local ok = pcall(parallel, {
          function() sleep(0.05); return "fine" end,
          function()
            return pcall(function()
              local t = {}
              for i = 1, 1e8 do t[i] = string.rep("x", 64) .. i end
            end)
          end,
        }, { errors = "collect" })
        print("never", ok)
    """, "--memory-limit", "8MiB")
    assert data["success"] is False and data["error"] == "memory limit exceeded (8 MiB)"
    assert data["output"] == ""


def test_calls_in_flight_at_a_kill_are_recorded_as_unfinished(work: Path, slow_replicate: Any,
                                                              loopback: dict[str, str]) -> None:
    slow_replicate.latency_ms = 3000
    try:
        data = run(work, """
            local tasks = {}
            for i = 1, 3 do tasks[i] = function() return app.integrations.replicate.get_account({}) end end
            parallel(tasks)
        """, "--cpu-limit", "1", env=loopback, offline=False)
    finally:
        slow_replicate.latency_ms = 100
    assert data["success"] is False and data["error"] == "cpu limit exceeded (1 s)"
    calls = data["integration_calls"]
    assert len(calls) == 3 and all(c["status"] == "error" for c in calls)
    assert {c["error"] for c in calls} == {"unfinished: the script ended while the request was in flight"}


def test_a_session_goes_on_after_a_kill_during_parallel(work: Path) -> None:
    lines = ["parallel({ function() sleep(5) end, function() while true do end end })",
             "return #parallel({ function() return 1 end, function() sleep(0.01); return 2 end })",
             "return parallel({ function() return 'again' end })[1]"]
    proc = kosmo("integrations:lua", "--repl", "--cpu-limit", "1", "--offline", stdin="\n".join(lines) + "\n",
                 env=clean_env({"KOSMO_HOME": str(work.parent / "home")}), cwd=work)
    assert_no_crash(proc.stdout, proc.stderr)
    assert "cpu limit exceeded (1 s)" in proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-2:] == ["2", "again"]


# -- the docs page -----------------------------------------------------------------------------------------------


def _page_blocks() -> list[str]:
    return [m.group(2) for m in re.finditer(r"```lua([^\n]*)\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S)]


def test_page_blocks_need_parallel_so_they_are_norun() -> None:
    # The core docs test runs unfenced blocks in a bare sandbox, which has no `parallel`.
    text = PAGE.read_text(encoding="utf-8")
    assert re.findall(r"```lua([^\n]*)\n", text) == [" norun"] * len(_page_blocks())


@pytest.mark.parametrize("number", range(len(_page_blocks())))
def test_page_examples_run_offline(work: Path, number: int) -> None:
    ok(run(work, _page_blocks()[number]))
