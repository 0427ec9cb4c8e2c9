"""Small helpers shared by the fault, property and secret-hygiene tests: run `kosmo` as a user does (a real
subprocess), read its one-line JSON envelope, and serve an integration's emulator on a real loopback port.

Emulators run in the test process (a thread per connection), so tests read their request logs and inject faults
directly; `kosmo` always runs in a subprocess, never forked from a process that has server threads running.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kosmo_lua.run.envelope import ENVELOPE_KEYS

KOSMO = [sys.executable, "-m", "kosmo_lua"]

#: Variables that would change which account or emulator a run uses; every run starts without them.
_AMBIENT = ("REPLICATE_API_TOKEN", "REPLICATE_BASE_URL", "STABILITY_API_KEY", "STABILITY_BASE_URL", "KOSMO_OFFLINE",
            "KOSMO_HOME", "KOSMO_DEBUG", "STABILITY_EMULATOR_JOB_POLLS", "STABILITY_EMULATOR_CREDITS")


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _AMBIENT}
    env.update(extra or {})
    return env


def kosmo(*args: str, env: Mapping[str, str], cwd: Path, stdin: str | bytes | None = None,
          timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `kosmo ARGS` to completion; stdout and stderr as text (undecodable bytes replaced)."""
    data = stdin.encode() if isinstance(stdin, str) else (stdin if stdin is not None else b"")
    proc = subprocess.run([*KOSMO, *args], input=data, capture_output=True, cwd=cwd, env=dict(env),
                          timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode("utf-8", "replace"),
                                       proc.stderr.decode("utf-8", "replace"))


def envelope(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The single JSON object a `--json` run prints, checked for shape."""
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"--json must print exactly one line; got {proc.stdout[:2000]!r} / {proc.stderr[:2000]!r}"
    data = json.loads(lines[0])
    assert tuple(data) == ENVELOPE_KEYS, data
    return data


def assert_no_crash(*texts: str) -> None:
    """No Python traceback and no engine bug report in anything a user sees."""
    for text in texts:
        assert "Traceback (most recent call last)" not in text, text[:4000]
        assert "internal error" not in text, text[:4000]


def integration_folder(name: str) -> Path:
    from kosmo_lua.registry import integration_folder as folder

    return folder(name)


@contextmanager
def served(name: str, **options: Any) -> Iterator[Any]:
    """The emulator of the integration ``name`` on a loopback port (``emulator.server``), stopped on exit."""
    from kosmo_lua.emulate import load_emulator

    emulator = load_emulator(integration_folder(name), **options)
    emulator.server = emulator.serve()
    try:
        yield emulator
    finally:
        emulator.server.stop()
