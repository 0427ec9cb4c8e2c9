"""The engine inside the worker: one sandbox with the globals a surface offers, run chunk by chunk.

Everything here runs in the forked child. ``emit`` streams events to the parent as they happen (printed lines,
integration-call records), so output printed before a hard kill is not lost.
"""

from __future__ import annotations

import time

from ..errors import CallError, LimitExceeded, LuaRuntimeError, ScriptError
from ..sandbox.values import JsonNull

TYPE_CHECKING = False  # typing costs milliseconds of start-up; type checkers read the names below anyway
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from .io_pool import IoPool

    Emit = Callable[..., None]  # emit(event, deferred=False): see run/supervisor.py

__all__ = ["Engine", "json_safe"]


def json_safe(value: Any) -> Any:
    """Plain data -> something json.dumps accepts: bytes that are not UTF-8 become {"base64": ...}."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, JsonNull) or value is None:
        return None
    if isinstance(value, bytes):
        import base64

        return {"base64": base64.b64encode(value).decode("ascii"), "bytes": len(value)}
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return str(value)
    return value


def _repl_source(code: str) -> tuple[str, bool]:
    """What the REPL runs for a line: ``return <line>`` when that compiles (so expressions print their value), else
    the line itself; ``incomplete`` when the line is an unfinished statement. Compiling happens in a scratch runtime
    that never runs anything, so a syntax check cannot touch the sandbox's state."""
    import lupa.lua54 as lua54

    scratch = lua54.LuaRuntime(register_eval=False, register_builtins=False)

    def source(text: str) -> bytes:
        # Lua source is bytes: a line read with surrogateescape (not UTF-8) compiles as the bytes it came as.
        return text.encode("utf-8", "surrogateescape")

    try:
        scratch.compile(source("return " + code))
        return "return " + code, False
    except lua54.LuaSyntaxError:
        pass
    try:
        scratch.compile(source(code))
    except lua54.LuaSyntaxError as exc:
        return code, "<eof>" in str(exc)
    return code, False


class Engine:
    def __init__(self, options: Any, emit: Emit) -> None:
        from ..sandbox.runtime import Sandbox

        self.options = options
        self.emit = emit
        self.permission_bypassed = False
        self.sandbox = Sandbox(memory_limit=options.memory_limit, cpu_limit=options.cpu_limit,
                               output=self._output)
        self._io: IoPool | None = None
        self._install()

    @property
    def io(self) -> IoPool:
        """Where `parallel` tasks wait: HTTP exchanges on threads, timers; bounded by the running chunk's deadline.
        Made on first use (it needs threading, which a script that never waits does not)."""
        if self._io is None:
            from .io_pool import IoPool

            self._io = IoPool(lambda: self.sandbox.deadline, lambda: self.sandbox.cpu_limit)
        return self._io

    # -- set-up ------------------------------------------------------------------------------------------------

    def _output(self, line: str) -> None:
        self.emit({"type": "output", "line": line})

    def _install(self) -> None:
        from ..doc_index import LazyDocsIndex, build_index
        from ..stdlib import core

        core.install_json(self.sandbox)
        core.install_regex(self.sandbox)
        core.install_dump(self.sandbox)
        self._install_parallel_io()
        with_integrations = self.options.surface == "integrations"
        if with_integrations:
            from ..bind import IntegrationBinder

            self.binder = IntegrationBinder(self)
            self.binder.install()
        self.docs = LazyDocsIndex(lambda: build_index(integrations=with_integrations))
        core.install_docs(self.sandbox, self.docs)
        from ..mcp.bind import install as install_mcp

        install_mcp(self)  # app.mcp + mcp.* on both surfaces; adds each configured server's docs pages
        self._install_parallel()

    def _install_parallel_io(self) -> None:
        """Host functions `parallel` tasks wait with; before the integrations, whose calls and helpers use them."""
        from ..sandbox.runtime import sleep_seconds
        from ..sandbox.values import LuaArray

        sb = self.sandbox
        sb.register("kosmo.io.sleep", lambda *args: self.io.timer(sleep_seconds(*args)), visible=False)
        sb.register("kosmo.io.wait", lambda tickets: LuaArray(self.io.wait(tickets or ())), visible=False)

    def _install_parallel(self) -> None:
        import os

        sb = self.sandbox
        # sleep inside a parallel task becomes a timer of the I/O pool instead of blocking every task.
        sb.install_lua("sleep", 'return kosmo.overlap(host["sleep"], host["kosmo.io.sleep"])', "=kosmo/sleep.lua")
        package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        with open(os.path.join(package, "lua", "parallel.lua"), encoding="utf-8") as handle:
            source = handle.read()
        sb.install_lua("parallel", source, "=kosmo/parallel.lua")

    def record_call(self, record: dict[str, Any]) -> None:
        if record.get("permission_bypassed"):
            self.permission_bypassed = True
        # Deferred: the parent collects call records in batches (always before the result, and after a kill too)
        # instead of being woken for each call of a tight loop.
        self.emit({"type": "call", **record}, deferred=True)

    # -- running -----------------------------------------------------------------------------------------------

    def run_chunk(self, code: str, chunkname: str, *, memory_limit: int, cpu_limit: float,
                  mode: str = "chunk") -> dict[str, Any]:
        sandbox = self.sandbox
        sandbox.set_limits(memory_limit=memory_limit, cpu_limit=cpu_limit)
        self.permission_bypassed = False
        started = time.perf_counter()
        error: str | None = None
        error_value: Any = None
        result: list[Any] = []
        incomplete = False
        try:
            if mode == "repl":
                code, incomplete = _repl_source(code)
            if not incomplete:
                try:
                    result = sandbox.execute(code, chunkname)
                finally:
                    if self._io is not None:
                        self._io.abandon_all()  # requests a killed `parallel` left in flight: recorded unfinished
        except LimitExceeded as exc:
            error = str(exc)
        except LuaRuntimeError as exc:
            error = exc.message
            error_value = exc.value if isinstance(exc.value, dict) else None
        except (CallError, ScriptError) as exc:
            error = str(exc)
        elapsed_ms = (time.perf_counter() - started) * 1000
        out: dict[str, Any] = {
            "success": error is None,
            "error": error,
            "result": json_safe(result),
            "execution_time_ms": elapsed_ms,
            "memory_usage": sandbox.peak_memory,
            "permission_bypassed": self.permission_bypassed,
        }
        if error_value is not None:
            out["error_value"] = json_safe(error_value)
        if incomplete:
            out["incomplete"] = True
        return out
