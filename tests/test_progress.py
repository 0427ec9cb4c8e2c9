"""Long waits show progress on stderr when it is a terminal, and stay silent under --json or when piped."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
local replicate = app.integrations.replicate
local p = replicate.create_model_prediction({ model_owner = "black-forest-labs", model_name = "flux-schnell",
                                              input = { prompt = "progress" } })
p = replicate.wait({ prediction_id = p.id, interval = 0.05 })
print(p.status)
"""


def run_with_stderr_tty(args: list[str], tmp_path: Path) -> tuple[str, str]:
    """Run kosmo with stderr on a pseudo-terminal (stdout stays a pipe) and collect both."""
    master, slave = pty.openpty()
    env = {**os.environ, "KOSMO_HOME": str(tmp_path / "home")}
    env.pop("REPLICATE_API_TOKEN", None)
    proc = subprocess.Popen([sys.executable, "-m", "kosmo_lua", *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=slave, env=env, cwd=tmp_path)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the child closed its end
            break
        if not data:
            break
        chunks.append(data)
    stdout = proc.communicate(timeout=60)[0].decode()
    os.close(master)
    return stdout, b"".join(chunks).decode(errors="replace")


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "wait.lua"
    path.write_text(SCRIPT)
    return path


def test_progress_on_a_terminal(script: Path, tmp_path: Path) -> None:
    stdout, stderr = run_with_stderr_tty(["integrations:lua", str(script), "--offline", "--force"], tmp_path)
    assert stdout.strip() == "succeeded"
    assert "prediction" in stderr and ("starting" in stderr or "processing" in stderr)


def test_no_progress_with_json_even_on_a_terminal(script: Path, tmp_path: Path) -> None:
    stdout, stderr = run_with_stderr_tty(["integrations:lua", str(script), "--offline", "--force", "--json"],
                                         tmp_path)
    assert '"success": true' in stdout
    assert stderr.strip() == ""


def test_no_progress_when_piped(script: Path, tmp_path: Path) -> None:
    env = {**os.environ, "KOSMO_HOME": str(tmp_path / "home")}
    env.pop("REPLICATE_API_TOKEN", None)
    proc = subprocess.run([sys.executable, "-m", "kosmo_lua", "integrations:lua", str(script), "--offline",
                           "--force"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert proc.stdout.strip() == "succeeded"
    assert proc.stderr == ""
