"""Start-up stays lean: what `kosmo integrations:lua --eval 'print(1)'` imports, and the argparse-free option scanner.

No wall times are asserted (bench/startup.py measures them); these tests pin down the causes instead: the modules a
plain run imports, in the command-line process and in its worker, as ``python -v`` reports them (``-X importtime``
misses modules loaded with importlib.import_module, which the dispatcher and the lazy libraries use).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kosmo_lua.cli import lua_cmd

REPO = Path(__file__).resolve().parents[1]

#: Standard modules and dependencies a run that touches no integration must not import, each a measured cost
#: (bench/startup.py, python -X importtime): the console-script wrapper's `re`, argparse, json, typing,
#: dataclasses, pathlib, enum (via signal or re), threading, ctypes; and everything an integration call needs.
NOT_ON_THE_START_UP_PATH = {
    "re", "argparse", "json", "typing", "dataclasses", "inspect", "pathlib", "enum", "signal", "threading",
    "ctypes", "logging", "concurrent.futures", "hashlib", "base64", "struct",
    "httpx", "yaml", "mcp", "jsonschema", "anyio",
    "kosmo_lua.registry", "kosmo_lua.stdlib.jsonlib", "kosmo_lua.stdlib.regexlib", "kosmo_lua.stdlib.docs",
    "kosmo_lua.run.io_pool",
}


def _imported(args: list[str], cwd: Path) -> set[str]:
    """Every module ``args`` imports, in the process and its worker (both write to the same stderr)."""
    proc = subprocess.run([sys.executable, "-v", *args], capture_output=True, text=True, cwd=cwd, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {line.split("'")[1] for line in proc.stderr.splitlines() if line.startswith("import '")}


def test_a_plain_run_imports_only_what_it_needs(tmp_path: Path) -> None:
    baseline = _imported(["-c", "pass"], tmp_path)  # whatever this interpreter's site set-up imports anyway
    run = _imported(["-c", "from kosmo_lua.cli.main import entry; entry()", "integrations:lua", "--eval",
                     "print(1)"], tmp_path)
    assert "lupa.lua54" in run and "kosmo_lua.sandbox.runtime" in run  # the worker's imports are seen too
    assert (run - baseline) & NOT_ON_THE_START_UP_PATH == set()


def test_json_regex_and_docs_are_imported_when_used(tmp_path: Path) -> None:
    run = _imported(["-c", "from kosmo_lua.cli.main import entry; entry()", "integrations:lua", "--eval",
                     "print(json.encode({regex.match('ab', 'a(b)')[1]}), #docs.list() > 0)"], tmp_path)
    assert {"kosmo_lua.stdlib.jsonlib", "kosmo_lua.stdlib.regexlib", "kosmo_lua.stdlib.docs"} <= run


def test_the_installed_command_has_no_import_wrapper(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "kosmo"
    if not script.is_file():
        pytest.skip("kosmo is not installed next to this interpreter")
    baseline = _imported(["-c", "pass"], tmp_path)
    run = _imported([str(script), "integrations:lua", "--eval", "print(1)"], tmp_path)
    assert "kosmo_lua.cli.main" in run
    assert (run - baseline) & {"re", "importlib.metadata"} == set()


# -- the argparse-free scanner -------------------------------------------------------------------------------------

_TOKENS = st.sampled_from([
    "-e", "--eval", "--eval=print(1)", "--json", "--force", "--repl", "--offline", "--offline=auto", "--offline=x",
    "auto", "never", "always", "--memory-limit", "--memory-limit=64MiB", "64MiB", "12", "abc", "--cpu-limit",
    "--cpu-limit=2.5", "0", "-1", "90000", "print(1)", "workflow.lua", "-", "--", "-h", "--help", "--js", "--jsonx",
    "--force=1", "-eprint(2)", "", "return 1 + 1", "-x", "--eval=", "--memory-limit=", "x=y",
])


def _argparse(argv: list[str]) -> dict[str, object] | None:
    parser = lua_cmd.build_parser("kosmo integrations:lua")
    parser.exit = lambda status=0, message=None: (_ for _ in ()).throw(SystemExit(status))  # type: ignore[assignment]
    parser.error = lambda message: (_ for _ in ()).throw(SystemExit(2))  # type: ignore[assignment]
    try:
        return vars(parser.parse_args(argv))
    except SystemExit:
        return None


@settings(max_examples=600, deadline=None)
@given(st.lists(_TOKENS, max_size=6))
def test_scanner_agrees_with_argparse(argv: list[str]) -> None:
    fast = lua_cmd.parse_fast(argv)
    if fast is not None:  # whenever the scanner answers, argparse gives exactly the same namespace
        assert vars(fast) == _argparse(argv), argv


@pytest.mark.parametrize("argv", [
    ["--eval", "print(1)"], ["-e", "print(1)", "--json"], ["workflow.lua", "--force", "--json"],
    ["--offline", "--eval", "x"], ["--offline=auto", "wf.lua"], ["--memory-limit", "64MiB", "--cpu-limit", "2", "f"],
    ["--repl"], [],
])
def test_scanner_handles_the_common_lines(argv: list[str]) -> None:
    fast = lua_cmd.parse_fast(argv)
    assert fast is not None and vars(fast) == _argparse(argv)


@pytest.mark.parametrize("argv", [["--help"], ["--eval"], ["--bogus"], ["--js"], ["a", "b"], ["--memory-limit", "x"],
                                  ["--offline", "wf.lua"], ["--", "x"]])
def test_scanner_leaves_help_and_errors_to_argparse(argv: list[str]) -> None:
    assert lua_cmd.parse_fast(argv) is None


def test_mcp_lua_scans_with_its_own_surface() -> None:
    from kosmo_lua.cli import mcp_lua_cmd

    fast = mcp_lua_cmd.parse_fast(["--eval", "print(1)"])
    assert fast is not None and fast.surface == "mcp"
    assert isinstance(mcp_lua_cmd.build_parser("x").parse_args([]), argparse.Namespace)
