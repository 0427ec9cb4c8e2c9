"""Running one workflow the way a user does (``kosmo integrations:lua FILE --json``) and what a test gets back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from .env import KosmoTestEnv

if TYPE_CHECKING:
    from ..emulate import LoggedRequest

__all__ = ["WorkflowRun", "run_workflow"]


@dataclass(frozen=True)
class WorkflowRun:
    """The ``--json`` envelope of one run, plus every request the emulators received during it."""

    envelope: dict[str, Any]
    returncode: int
    stderr: str
    #: integration name -> requests its emulator answered during this run, in arrival order.
    requests_by: dict[str, tuple["LoggedRequest", ...]] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return bool(self.envelope.get("success"))

    @property
    def error(self) -> str | None:
        return self.envelope.get("error")

    @property
    def output(self) -> str:
        """Everything the workflow printed, one line per print/dump call."""
        return str(self.envelope.get("output") or "")

    @property
    def lines(self) -> list[str]:
        return self.output.splitlines()

    @property
    def result(self) -> list[Any]:
        """The workflow's return values, as a list."""
        return list(self.envelope.get("result") or [])

    @property
    def calls(self) -> list[dict[str, Any]]:
        """The envelope's integration_calls: path, account, status, http_status, duration_ms..."""
        return list(self.envelope.get("integration_calls") or [])

    @property
    def requests(self) -> list["LoggedRequest"]:
        """Every emulator request of this run, all integrations together, in arrival order."""
        merged = [r for reqs in self.requests_by.values() for r in reqs]
        return sorted(merged, key=lambda r: r.timestamp)

    def requests_to(self, integration: str) -> list["LoggedRequest"]:
        return list(self.requests_by.get(integration, ()))

    def raise_for_error(self) -> "WorkflowRun":
        """Fail with the error and the output when the run did not succeed; returns the run otherwise."""
        if not self.success:
            raise AssertionError(f"workflow failed: {self.error}\n--- output ---\n{self.output}\n"
                                 f"--- stderr ---\n{self.stderr}")
        return self


def _source(path_or_code: str | os.PathLike[str]) -> tuple[list[str], Path | None]:
    """(the CLI arguments naming the code, the file when there is one)."""
    if isinstance(path_or_code, os.PathLike) or (
            isinstance(path_or_code, str) and path_or_code.endswith(".lua") and "\n" not in path_or_code):
        path = Path(path_or_code).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"no workflow file {path}")
        return [str(path)], path
    if not isinstance(path_or_code, str):
        raise TypeError(f"expected a workflow path or Lua code, got {type(path_or_code).__name__}")
    return ["--eval", path_or_code], None


def run_workflow(env: KosmoTestEnv, path_or_code: str | os.PathLike[str], *, force: bool = True,
                 environ: Mapping[str, str] | None = None, accounts: Mapping[str, Any] | None = None,
                 cwd: str | os.PathLike[str] | None = None, timeout: float = 120,
                 args: tuple[str, ...] = ()) -> WorkflowRun:
    """Run a workflow file (a ``Path``, or a string ending in ``.lua``) or a string of Lua code in a ``kosmo``
    subprocess, with every started emulator behind its integration's default account."""
    source, _ = _source(path_or_code)
    env.configure(accounts or {})
    before = {name: len(h.requests) for name, h in env.emulators.items()}
    command = [sys.executable, "-m", "kosmo_lua", "integrations:lua", *source, "--json", *args]
    if force:
        command.append("--force")
    proc = subprocess.run(command, capture_output=True, text=True, env=env.environ(environ),
                          cwd=Path(cwd) if cwd is not None else env.workdir, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    try:
        envelope = json.loads(lines[-1]) if lines else {}
    except ValueError:
        envelope = {}
    if not isinstance(envelope, dict) or "success" not in envelope:
        raise AssertionError(f"kosmo did not print a result envelope (exit {proc.returncode})\n"
                             f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
    requests = {name: tuple(h.requests[before.get(name, 0):]) for name, h in env.emulators.items()}
    return WorkflowRun(envelope=envelope, returncode=proc.returncode, stderr=proc.stderr, requests_by=requests)
