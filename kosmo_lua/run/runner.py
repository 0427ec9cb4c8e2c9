"""Running scripts from Python: the API the CLI, agent tools and the MCP server share.

``ScriptRunner`` owns one worker process (see ``supervisor``): the Lua runtime lives in a forked child, so a
runaway script (a C function that ignores hooks, a deadlock, an abort) is stopped by killing the child, and the
caller's process is never at risk. With ``keep_state=True`` the child survives between chunks (REPL, agent
sessions); otherwise every chunk gets a fresh sandbox.
"""

from __future__ import annotations

import os
import time

from ..errors import CpuLimitExceeded, UsageError
from .envelope import Envelope

TYPE_CHECKING = False  # typing costs milliseconds of start-up; type checkers read the names below anyway
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["RunOptions", "ScriptRunner", "run_script", "DEFAULT_MEMORY_LIMIT", "DEFAULT_CPU_LIMIT", "KILL_GRACE"]

DEFAULT_MEMORY_LIMIT = 32 * 1024 * 1024
DEFAULT_CPU_LIMIT = 30.0
#: How long after the in-process limit should have fired the supervisor kills the worker. The hook fires within
#: milliseconds; only code that never returns to Lua (a C function, a regex) needs the kill.
KILL_GRACE = 1.5


def parse_offline(value: str | bool | None) -> bool | str:
    """``True`` (always use the emulators), ``False`` (never), or ``"auto"`` (the emulator stands in for any
    account that has no credentials, so a first run works with no token and a configured one calls the real API)."""
    if isinstance(value, bool):
        return value
    text = (value or "").strip().lower()
    if text == "auto":
        return "auto"
    if text in ("", "0", "false", "no", "off", "never"):
        return False
    if text in ("1", "true", "yes", "on", "always"):
        return True
    raise UsageError(f"offline must be 'always', 'auto' or 'never', got {value!r}")


def _env_offline() -> bool | str:
    try:
        return parse_offline(os.environ.get("KOSMO_OFFLINE"))
    except UsageError:
        return False


class RunOptions:
    """How chunks run: limits, permissions, offline mode, surface. Immutable; ``with_limits`` makes a changed copy.

    A plain class rather than a dataclass: importing dataclasses (and the inspect/ast it pulls in) was the largest
    single cost of `kosmo integrations:lua` start-up."""

    __slots__ = ("memory_limit", "cpu_limit", "force", "offline", "surface", "cwd", "progress", "agent")

    memory_limit: int
    cpu_limit: float
    force: bool  # bypass ask/deny permission policies (and nothing else)
    offline: bool | str  # True / False / "auto": see parse_offline (default: KOSMO_OFFLINE)
    surface: str  # "integrations": app.integrations + app.mcp; "mcp": app.mcp only
    cwd: str  # where relative paths (save_to, file inputs) resolve; default: the current directory
    progress: bool  # progress lines on stderr for long waits (interactive terminals only)
    agent: bool  # called by an agent tool: refusals say what the user must allow

    def __init__(self, memory_limit: int = DEFAULT_MEMORY_LIMIT, cpu_limit: float = DEFAULT_CPU_LIMIT,
                 force: bool = False, offline: bool | str | None = None, surface: str = "integrations",
                 cwd: str | None = None, progress: bool = False, agent: bool = False) -> None:
        values = {"memory_limit": memory_limit, "cpu_limit": cpu_limit, "force": force,
                  "offline": _env_offline() if offline is None else offline, "surface": surface,
                  "cwd": os.getcwd() if cwd is None else cwd, "progress": progress, "agent": agent}
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"RunOptions is immutable: use with_limits() for a changed copy, not .{name} = ...")

    def _values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunOptions) and self._values() == other._values()

    def __hash__(self) -> int:
        return hash(tuple(self._values().values()))

    def __repr__(self) -> str:
        return "RunOptions(" + ", ".join(f"{k}={v!r}" for k, v in self._values().items()) + ")"

    def with_limits(self, *, memory_limit: int | None = None, cpu_limit: float | None = None) -> "RunOptions":
        """A copy with other limits (None keeps the current one)."""
        values = self._values()
        if memory_limit is not None:
            values["memory_limit"] = memory_limit
        if cpu_limit is not None:
            values["cpu_limit"] = cpu_limit
        return RunOptions(**values)

    def validated(self) -> "RunOptions":
        if not isinstance(self.memory_limit, int) or self.memory_limit < 1024 * 1024:
            raise UsageError(f"memory limit must be a whole number of bytes >= 1048576, got {self.memory_limit!r}")
        if not isinstance(self.cpu_limit, (int, float)) or not 0 < self.cpu_limit <= 24 * 3600:
            raise UsageError(f"cpu limit must be a number of seconds in (0, 86400], got {self.cpu_limit!r}")
        if self.surface not in ("integrations", "mcp"):
            raise UsageError(f"surface must be 'integrations' or 'mcp', got {self.surface!r}")
        return self


def _child_handler_factory(options: RunOptions) -> Callable[[dict, Callable[[dict], None]], dict]:
    """The function the forked worker runs per chunk. The engine is built once per worker, on first use."""
    state: dict[str, Any] = {}

    def handle(payload: dict, emit: Callable[[dict], None]) -> dict:
        engine = state.get("engine")
        if engine is None:
            from .engine import Engine

            engine = state["engine"] = Engine(options, emit)
        engine.emit = emit
        return engine.run_chunk(
            payload["code"], payload.get("chunkname", "=(eval)"),
            memory_limit=int(payload.get("memory_limit", options.memory_limit)),
            cpu_limit=float(payload.get("cpu_limit", options.cpu_limit)),
            mode=str(payload.get("mode", "chunk")),
        )

    return handle


class ScriptRunner:
    def __init__(self, options: RunOptions | None = None, *, keep_state: bool = False) -> None:
        from .supervisor import WorkerSession

        self.options = (options or RunOptions()).validated()
        self.keep_state = keep_state
        self._session_factory = lambda: WorkerSession(_child_handler_factory(self.options))
        self._session = self._session_factory()
        self._used = False

    def run(self, code: str, chunkname: str = "=(eval)", *, memory_limit: int | None = None,
            cpu_limit: float | None = None, on_output: Callable[[str], None] | None = None,
            mode: str = "chunk", meanwhile: Callable[[], None] | None = None) -> Envelope:
        """Run one chunk. ``mode="repl"`` runs ``return <code>`` when that compiles, and reports an unfinished
        statement as ``meta.incomplete`` instead of an error. ``meanwhile`` runs in this process while the worker
        runs the chunk (see ``WorkerSession.request``)."""
        opts = self.options.with_limits(memory_limit=memory_limit or None, cpu_limit=cpu_limit or None).validated()
        if self._used and not self.keep_state:
            self._session.close()
            self._session = self._session_factory()
        self._used = True
        envelope = Envelope(success=False)

        def on_event(event: dict) -> None:
            kind = event.get("type")
            if kind == "output":
                line = str(event.get("line", ""))
                envelope.output_lines.append(line)
                if on_output is not None:
                    on_output(line)
            elif kind == "call":
                record = {k: v for k, v in event.items() if k != "type"}
                envelope.integration_calls.append(record)
                if record.get("permission_bypassed"):
                    envelope.permission_bypassed = True

        started = time.perf_counter()
        reply = self._session.request(
            {"code": code, "chunkname": chunkname, "memory_limit": opts.memory_limit, "cpu_limit": opts.cpu_limit,
             "mode": mode},
            timeout=opts.cpu_limit + KILL_GRACE, on_event=on_event, meanwhile=meanwhile)
        elapsed_ms = (time.perf_counter() - started) * 1000
        result = reply.result
        if reply.killed:
            envelope.error = str(CpuLimitExceeded(opts.cpu_limit))
            envelope.execution_time_ms = elapsed_ms
            envelope.meta["killed"] = True
        elif reply.crashed or result is None:
            status = reply.exit_status
            envelope.error = f"internal error: the Lua worker stopped unexpectedly (exit status {status})"
            envelope.execution_time_ms = elapsed_ms
        elif "internal_error" in result:
            envelope.error = f"internal error: {result['internal_error']}"
            envelope.execution_time_ms = elapsed_ms
        else:
            envelope.success = bool(result.get("success"))
            envelope.error = result.get("error")
            envelope.result = list(result.get("result") or [])
            envelope.execution_time_ms = float(result.get("execution_time_ms", elapsed_ms))
            envelope.memory_usage = int(result.get("memory_usage", 0))
            envelope.permission_bypassed = envelope.permission_bypassed or bool(result.get("permission_bypassed"))
            if result.get("incomplete"):
                envelope.meta["incomplete"] = True
            if result.get("error_value") is not None:
                envelope.meta["error_value"] = result["error_value"]
        if self.keep_state and (reply.killed or reply.crashed):
            # The worker is gone, and with it every global the session had: the next chunk starts afresh.
            envelope.meta["state_reset"] = True
        return envelope

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> "ScriptRunner":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_script(code: str, chunkname: str = "=(eval)", *, options: RunOptions | None = None,
               on_output: Callable[[str], None] | None = None) -> Envelope:
    """Run one chunk in a fresh worker and return its envelope."""
    with ScriptRunner(options) as runner:
        return runner.run(code, chunkname, on_output=on_output)
