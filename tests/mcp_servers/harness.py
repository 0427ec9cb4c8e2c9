"""Shared helpers of the MCP and agent-tool tests: the `kosmo` command as a subprocess, and config files that name
the test servers (the demo server in this folder, the published mcp-server-time)."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

HERE = Path(__file__).resolve().parent
DEMO_SERVER = HERE / "demo_server.py"
KOSMO = [sys.executable, "-m", "kosmo_lua"]
#: A value that must never show up in any output (it is configured as a secret environment variable).
SECRET = "sk-test-5f1e9c0d2b7a4e11"


def server_entry(script_args: list[str], **extra: Any) -> dict[str, Any]:
    return {"command": sys.executable, "args": script_args, **extra}


def write_config(home: Path, servers: dict[str, dict[str, Any]], *, integrations: dict[str, Any] | None = None,
                 credentials: dict[str, Any] | None = None) -> None:
    home.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {"mcp": {"servers": servers}}
    if integrations:
        data["integrations"] = integrations
    (home / "config.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    if credentials:
        path = home / "credentials.yaml"
        path.write_text(yaml.safe_dump(credentials), encoding="utf-8")
        path.chmod(0o600)


def standard_servers(call_log: Path | None = None) -> dict[str, dict[str, Any]]:
    """demo (our server), time (mcp-server-time from PyPI), broken (exits at once), missing (no such command)."""
    demo_env = {"DEMO_CALL_LOG": str(call_log)} if call_log else {}
    return {
        "demo": server_entry([str(DEMO_SERVER)], env=demo_env) if demo_env else server_entry([str(DEMO_SERVER)]),
        "time": server_entry(["-m", "mcp_server_time", "--local-timezone", "UTC"]),
        "broken": server_entry(["-c", "import os, sys; sys.stderr.write('cannot start: token ' + "
                                      "os.environ.get('BROKEN_API_KEY', '') + '\\n'); sys.exit(3)"]),
        "missing": {"command": "kosmo-test-no-such-command-9d1"},
    }


def kosmo(*args: str, home: Path, cwd: Path | None = None, stdin: str = "", timeout: float = 90,
          env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "KOSMO_HOME": str(home), **(env or {})}
    for name in ("REPLICATE_API_TOKEN", "KOSMO_OFFLINE", "STABILITY_API_KEY"):
        full_env.pop(name, None)
    return subprocess.run([*KOSMO, *args], input=stdin, capture_output=True, text=True, cwd=cwd, env=full_env,
                          timeout=timeout)


def envelope(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"--json must print one line; stdout={proc.stdout!r} stderr={proc.stderr!r}"
    return json.loads(lines[0])


@functools.cache
def _engine_installs_mcp(surface: str) -> bool:
    proc = kosmo("mcp:lua" if surface == "mcp" else "integrations:lua", "--eval",
                 "return type(mcp), type(app.mcp)", "--json",
                 home=Path(tempfile.gettempdir()) / "kosmo-test-no-such-home")
    return envelope(proc).get("result") == ["table", "table"]


def require_mcp_wiring(surface: str = "mcp") -> None:
    """Fail with a clear message (instead of many confusing ones) while the engine does not install MCP."""
    if not _engine_installs_mcp(surface):
        pytest.fail("the engine does not install the MCP bindings on this surface: Engine._install must call "
                    "kosmo_lua.mcp.bind.install(self) (see the issue 5 report)", pytrace=False)


def lua(code: str, *, home: Path, surface: str = "mcp", extra: tuple[str, ...] = (), cwd: Path | None = None,
        timeout: float = 90) -> dict[str, Any]:
    """Run code with `kosmo mcp:lua` (or integrations:lua) --json and return the envelope."""
    require_mcp_wiring(surface)
    command = "mcp:lua" if surface == "mcp" else "integrations:lua"
    proc = kosmo(command, "--eval", code, "--json", *extra, home=home, cwd=cwd, timeout=timeout)
    data = envelope(proc)
    assert proc.returncode == (0 if data["success"] else 1), proc.stderr
    assert SECRET not in proc.stdout + proc.stderr
    return data
