"""`kosmo integrations:lua` as a user runs it: a real subprocess for every input source, flag and exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kosmo_lua.run.envelope import ENVELOPE_KEYS

KOSMO = [sys.executable, "-m", "kosmo_lua"]


def kosmo(*args: str, stdin: str | None = None, cwd: Path | None = None, env: dict[str, str] | None = None,
          timeout: float = 60) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("REPLICATE_API_TOKEN", None)
    full_env.pop("KOSMO_OFFLINE", None)
    return subprocess.run([*KOSMO, *args], input=stdin if stdin is not None else "", capture_output=True,
                          text=True, cwd=cwd, env=full_env, timeout=timeout)


def envelope(proc: subprocess.CompletedProcess[str]) -> dict:
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"--json must print exactly one line, got: {proc.stdout!r}"
    data = json.loads(lines[0])
    assert tuple(data) == ENVELOPE_KEYS
    return data


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    return {"KOSMO_HOME": str(tmp_path / "home")}


def test_eval_prints_and_returns(home: dict[str, str]) -> None:
    proc = kosmo("integrations:lua", "--eval", 'print(json.encode({a = 1})); return 1 + 1, "x"', env=home)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == '{"a":1}\n2\nx\n'
    assert proc.stderr == ""


def test_short_eval_flag_and_json_envelope_shape(home: dict[str, str]) -> None:
    proc = kosmo("integrations:lua", "-e", 'print("a", 1, true, nil); return 42, {x = {1, 2}}', "--json", env=home)
    assert proc.returncode == 0, proc.stderr
    data = envelope(proc)
    assert data["success"] is True
    assert data["output"] == "a\t1\ttrue\tnil"
    assert data["error"] is None
    assert data["result"] == [42, {"x": [1, 2]}]
    assert isinstance(data["execution_time_ms"], (int, float)) and data["execution_time_ms"] >= 0
    assert isinstance(data["memory_usage"], int) and data["memory_usage"] > 0
    assert data["integration_calls"] == []
    assert data["meta"]["permission_bypassed"] is False


def test_file_argument_error_carries_chunk_name_and_line(tmp_path: Path, home: dict[str, str]) -> None:
    script = tmp_path / "workflow.lua"
    script.write_text('print("before")\nlocal x = 1\nerror("boom")\n')
    proc = kosmo("integrations:lua", str(script), "--json", cwd=tmp_path, env=home)
    assert proc.returncode == 1
    data = envelope(proc)
    assert data["success"] is False
    assert data["output"] == "before"
    assert data["error"].endswith("workflow.lua:3: boom")


def test_human_mode_error_goes_to_stderr_after_output(tmp_path: Path, home: dict[str, str]) -> None:
    script = tmp_path / "w.lua"
    script.write_text('print("one")\nerror("bad thing")\n')
    proc = kosmo("integrations:lua", "w.lua", cwd=tmp_path, env=home)
    assert proc.returncode == 1
    assert proc.stdout == "one\n"
    assert "w.lua:2: bad thing" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_stdin_when_piped(home: dict[str, str]) -> None:
    proc = kosmo("integrations:lua", "--json", stdin="return 1 + 1", env=home)
    assert proc.returncode == 0
    assert envelope(proc)["result"] == [2]


def test_no_code_is_a_usage_error(home: dict[str, str]) -> None:
    proc = kosmo("integrations:lua", stdin="", env=home)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "no code given" in proc.stderr
    both = kosmo("integrations:lua", "x.lua", "--eval", "return 1", env=home)
    assert both.returncode == 2
    assert "not both" in both.stderr


def test_missing_file_exit_2_with_json_envelope(tmp_path: Path, home: dict[str, str]) -> None:
    proc = kosmo("integrations:lua", "nope.lua", "--json", cwd=tmp_path, env=home)
    assert proc.returncode == 2
    data = envelope(proc)
    assert data["success"] is False
    assert "no such file: nope.lua" in data["error"]
    assert "Traceback" not in proc.stderr


def test_bad_flag_values_are_usage_errors(home: dict[str, str]) -> None:
    for args in (["--memory-limit", "lots"], ["--cpu-limit", "-1"], ["--cpu-limit", "soon"]):
        proc = kosmo("integrations:lua", "--eval", "return 1", *args, env=home)
        assert proc.returncode == 2, args
        assert "Traceback" not in proc.stderr


def test_syntax_error_is_exit_1(home: dict[str, str]) -> None:
    proc = kosmo("integrations:lua", "--eval", "return +", "--json", env=home)
    assert proc.returncode == 1
    assert envelope(proc)["error"].startswith("(eval):1:")


def test_cpu_limit_flag(home: dict[str, str]) -> None:
    proc = kosmo("integrations:lua", "--eval", 'print("start") while true do end', "--cpu-limit", "0.5", "--json",
                 env=home)
    assert proc.returncode == 1
    data = envelope(proc)
    assert data["error"] == "cpu limit exceeded (0.5 s)"
    assert data["output"] == "start"


def test_cpu_limit_stops_c_level_pattern_work(home: dict[str, str]) -> None:
    # A Lua pattern that backtracks for minutes inside one C call: no hook can stop it, the supervisor does.
    code = 'print("go") return string.find(("a"):rep(800), ".-.-.-b")'
    proc = kosmo("integrations:lua", "--eval", code, "--cpu-limit", "1", "--json", env=home, timeout=30)
    assert proc.returncode == 1
    data = envelope(proc)
    assert data["error"] == "cpu limit exceeded (1 s)"
    assert data["output"] == "go"


def test_memory_limit_flag(home: dict[str, str]) -> None:
    proc = kosmo("integrations:lua", "--eval", 'local t = {} for i = 1, 1e8 do t[i] = ("x"):rep(64) .. i end',
                 "--memory-limit", "4194304", "--json", env=home)
    assert proc.returncode == 1
    assert envelope(proc)["error"] == "memory limit exceeded (4 MiB)"


def test_memory_limit_accepts_units(home: dict[str, str]) -> None:
    proc = kosmo("integrations:lua", "--eval", "local s = ('x'):rep(20 * 1024 * 1024) return #s",
                 "--memory-limit", "8MiB", "--json", env=home)
    assert envelope(proc)["error"] == "memory limit exceeded (8 MiB)"


def test_unknown_integration_function_suggests(home: dict[str, str]) -> None:
    proc = kosmo("integrations:lua", "--eval", "return app.integrations.replicate.get_acount({})", "--json",
                 env=home)
    assert proc.returncode == 1
    error = envelope(proc)["error"]
    assert "Unknown function: app.integrations.replicate.get_acount" in error
    assert "get_account" in error


def test_help_texts() -> None:
    top = kosmo("--help")
    assert top.returncode == 0
    for command in ("integrations:lua", "integrations:call", "integrations:configure", "emulator:serve"):
        assert command in top.stdout
    sub = kosmo("integrations:lua", "--help")
    assert sub.returncode == 0
    for flag in ("--eval", "--json", "--force", "--memory-limit", "--cpu-limit", "--repl", "--offline"):
        assert flag in sub.stdout


def test_unknown_command_suggests() -> None:
    proc = kosmo("integrations:lau")
    assert proc.returncode == 2
    assert "integrations:lua" in proc.stderr


def test_repl_keeps_state_and_survives_errors(home: dict[str, str]) -> None:
    session = "\n".join([
        "x = 41",
        "x + 1",
        'error("oops")',
        "local function double(n)",
        "  return n * 2",
        "end",
        "function triple(n) return n * 3 end",
        "triple(x)",
        "print('printed', x)",
        ":quit",
        "this line is never read",
    ]) + "\n"
    proc = kosmo("integrations:lua", "--repl", stdin=session, env=home)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["42", "123", "printed\t41"]
    assert "oops" in proc.stderr


def test_repl_recovers_after_hard_limit(home: dict[str, str]) -> None:
    session = "y = 5\ny\nstring.find(('a'):rep(800), '.-.-.-b')\ny\n"
    proc = kosmo("integrations:lua", "--repl", "--cpu-limit", "1", stdin=session, env=home, timeout=30)
    assert "cpu limit exceeded (1 s)" in proc.stderr
    assert "state was lost" in proc.stderr
    # y is gone with the killed worker; the session goes on in a fresh one.
    assert proc.stdout.splitlines() == ["5", "nil"]


def test_shebang_line_is_ignored(tmp_path: Path, home: dict[str, str]) -> None:
    script = tmp_path / "s.lua"
    script.write_text("#!/usr/bin/env kosmo integrations:lua\nerror('line two')\n")
    proc = kosmo("integrations:lua", str(script), "--json", env=home)
    assert envelope(proc)["error"].endswith("s.lua:2: line two")
