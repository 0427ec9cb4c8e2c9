"""Talking to configured MCP servers from synchronous code (the Lua worker, the docs index).

The SDK is async; the Lua runtime is single-threaded and blocking. So one asyncio event loop runs in a daemon thread,
created on first use (after the worker was forked: a loop thread does not survive fork), and every request is
submitted to it and waited for with a timeout taken from the caller's deadline. A server is started on first use,
kept for later calls, restarted on the next use after it died, and shut down by ``McpHub.close()``.

Errors come back as ``CallError``s whose message names the server and says what went wrong; a wait that outlives the
deadline raises ``DeadlineReached`` (the engine reports it as the time limit). Nothing a server writes to stderr is
shown, except a few redacted lines when it fails to start or dies.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..config.secret import redact
from ..errors import CallError, ConfigError
from ..net.errors import DeadlineReached
from .config import ServerConfig

if TYPE_CHECKING:
    from mcp import ClientSession

__all__ = ["LoopThread", "ServerConnection", "McpHub", "DEFAULT_WAIT", "remaining_time"]

T = TypeVar("T")

#: How long a wait may last when the caller has no deadline (docs pages built in the host process).
DEFAULT_WAIT = 60.0
#: How long closing may take in total before the loop is abandoned (servers get EOF on stdin when we exit anyway).
CLOSE_WAIT = 6.0
_STDERR_LINES = 5
_STDERR_CHARS = 600
_CONNECTION_CLOSED = -32000


def remaining_time(deadline: float | None) -> float:
    """Seconds left until deadline (a ``time.monotonic()`` value); DEFAULT_WAIT without one."""
    if deadline is None:
        return DEFAULT_WAIT
    return deadline - time.monotonic()


class _Timeout(Exception):
    """The wait for the loop ran out (as opposed to a TimeoutError raised by the request itself)."""


class LoopThread:
    """One asyncio loop in a daemon thread, started on first use."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                started = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(started.set)
                    loop.run_forever()

                thread = threading.Thread(target=run, name="kosmo-mcp-loop", daemon=True)
                thread.start()
                started.wait()
                self._loop, self._thread = loop, thread
            return self._loop

    @property
    def running(self) -> bool:
        return self._loop is not None

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run coro on the loop and wait at most timeout seconds (then cancel it and raise ``_Timeout``)."""
        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(max(timeout, 0.0))
        except concurrent.futures.TimeoutError:
            if future.done() and not future.cancelled() and future.exception() is not None:
                raise future.exception() from None  # type: ignore[misc]  # checked just above
            future.cancel()
            raise _Timeout() from None

    def call_soon(self, fn: Callable[[], Any]) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(fn)

    def stop(self) -> None:
        """Cancel what is still running (bounded), then end the loop and its thread."""
        loop, thread = self._loop, self._thread
        if loop is None:
            return

        async def cancel_rest() -> None:
            rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in rest:
                task.cancel()
            if rest:
                await asyncio.wait(rest, timeout=CLOSE_WAIT)

        try:
            self.run(cancel_rest(), CLOSE_WAIT + 1)
        except BaseException:  # noqa: BLE001 - stopping must not fail; the thread is a daemon anyway
            pass
        self._loop = self._thread = None
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=2.0)
        if thread is None or not thread.is_alive():
            loop.close()


try:  # a builtin from Python 3.11; on 3.10 anyio brings the backport
    _ExceptionGroup: type[BaseException] = BaseExceptionGroup  # type: ignore[name-defined]
except NameError:  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup as _ExceptionGroup  # type: ignore[no-redef]


def _leaf(exc: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups, which anyio task groups wrap errors in."""
    while isinstance(exc, _ExceptionGroup) and exc.exceptions:  # type: ignore[attr-defined]
        exc = exc.exceptions[0]  # type: ignore[attr-defined]
    return exc


class ServerConnection:
    """One server process and its client session, owned by the loop thread."""

    def __init__(self, config: ServerConfig, loop: LoopThread, *, cwd: Path) -> None:
        self.config = config
        self.name = config.name
        self._loop = loop
        self._cwd = cwd
        self._session: ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._established: asyncio.Task[Any] | None = None  # the serve task that finished its handshake
        self._stop: asyncio.Event | None = None
        self._errlog: Any = None
        self._alive = False
        self._tools: list[Any] | None = None
        self.restarts = 0

    # -- life cycle --------------------------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        return self._alive and self._session is not None

    def _stderr_size(self) -> int:
        try:
            return int(self._errlog.seek(0, 2)) if self._errlog is not None else 0
        except (OSError, ValueError):
            return 0

    def _stderr_tail(self, since: int = 0) -> str:
        """The last lines the server wrote to stderr (after offset since), with every configured secret masked."""
        log = self._errlog
        if log is None:
            return ""
        try:
            size = log.seek(0, 2)
            log.seek(max(since, size - 4096))
            text = log.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""
        lines = [line.rstrip() for line in text.splitlines() if line.strip()][-_STDERR_LINES:]
        tail = redact("\n".join(lines), self.config.secret_values())
        return tail[-_STDERR_CHARS:]

    def _with_stderr(self, message: str, since: int = 0) -> str:
        tail = self._stderr_tail(since)
        return f"{message}. Its last error output:\n{tail}" if tail else message

    def start(self, deadline: float | None) -> "ClientSession":
        """The live session, starting (or restarting) the server when needed."""
        if self.alive:
            assert self._session is not None
            return self._session
        if self._task is not None:
            self._shutdown_async()
            self.restarts += 1
        from mcp import StdioServerParameters

        try:
            env = self.config.resolved_env()
        except ConfigError as exc:
            raise CallError(str(exc), kind="mcp", server=self.name) from None
        cwd = self._cwd_path()
        params = StdioServerParameters(command=self.config.command, args=list(self.config.args), env=env, cwd=cwd)
        if self._errlog is not None:
            self._errlog.close()  # the previous process keeps its own descriptor until it exits
        self._errlog = tempfile.TemporaryFile(mode="w+b")
        timeout = remaining_time(deadline)
        if timeout <= 0:
            raise DeadlineReached(f"mcp.{self.name}", f"the MCP server '{self.name}' to start")
        try:
            self._session = self._loop.run(self._open(params), timeout)
        except _Timeout:
            self._shutdown_async()
            raise DeadlineReached(f"mcp.{self.name}", f"the MCP server '{self.name}' to start") from None
        except BaseException as exc:  # noqa: BLE001 - every start failure becomes one clear error
            self._shutdown_async()
            raise CallError(self._start_failure(_leaf(exc)), kind="mcp", server=self.name) from None
        self._alive = True
        self._tools = None
        return self._session

    def _cwd_path(self) -> str | None:
        if not self.config.cwd:
            return None
        path = Path(self.config.cwd).expanduser()
        if not path.is_absolute():
            path = self._cwd / path
        if not path.is_dir():
            raise CallError(f"MCP server '{self.name}' could not start: its cwd {path} is not a folder",
                            kind="mcp", server=self.name)
        return str(path)

    def _start_failure(self, exc: BaseException) -> str:
        prefix = f"MCP server '{self.name}' could not start"
        if isinstance(exc, FileNotFoundError):
            return f"{prefix}: command not found: {self.config.command}"
        if isinstance(exc, PermissionError):
            return f"{prefix}: command is not executable: {self.config.command}"
        code = getattr(exc, "code", None)
        if code == _CONNECTION_CLOSED:
            return self._with_stderr(f"{prefix}: it exited before completing the MCP handshake")
        return self._with_stderr(f"{prefix}: {type(exc).__name__}: {exc}")

    async def _open(self, params: Any) -> "ClientSession":
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[ClientSession] = loop.create_future()
        self._stop = asyncio.Event()
        self._task = loop.create_task(self._serve(params, ready, self._stop))
        return await asyncio.shield(ready)

    async def _serve(self, params: Any, ready: "asyncio.Future[ClientSession]", stop: asyncio.Event) -> None:
        """Holds the transport and session open (both must be entered and left in one task) until stop is set."""
        from mcp import ClientSession, Implementation, stdio_client

        from .. import __version__

        try:
            async with stdio_client(params, errlog=self._errlog) as (read, write):
                async with ClientSession(read, write,
                                         client_info=Implementation(name="kosmo-lua", version=__version__)) as session:
                    await session.initialize()
                    self._established = asyncio.current_task()
                    if not ready.done():
                        ready.set_result(session)
                    await stop.wait()
        except BaseException as exc:  # noqa: BLE001 - reported through ready, or by the next request
            if not ready.done():
                ready.set_exception(exc if isinstance(exc, Exception) else RuntimeError("cancelled"))
            if not isinstance(exc, Exception):
                raise
        finally:
            if self._task is asyncio.current_task():  # an older, replaced task must not mark its successor dead
                self._alive = False
            if not ready.done():
                ready.set_exception(RuntimeError("the connection ended"))

    def _shutdown_async(self) -> None:
        """Ask the serve task to close the session and stop the process, without waiting for it."""
        self._alive = False
        self._session = None
        stop, task = self._stop, self._task
        if task is None:
            return

        def shut() -> None:
            if stop is not None:
                stop.set()
            # A task still in the handshake never reaches stop.wait(): cancelling it runs the transport's bounded
            # shutdown (close stdin, then SIGTERM, then SIGKILL).
            if not task.done() and self._established is not task:
                task.cancel()

        self._loop.call_soon(shut)

    async def _close(self) -> None:
        task = self._task
        if self._stop is not None:
            self._stop.set()
        if task is not None and not task.done():
            try:
                await asyncio.wait_for(asyncio.shield(task), CLOSE_WAIT)
            except BaseException:  # noqa: BLE001 - closing must never fail the caller
                task.cancel()

    def close(self, timeout: float = CLOSE_WAIT) -> None:
        if self._task is None or not self._loop.running:
            return
        try:
            self._loop.run(self._close(), timeout)
        except BaseException:  # noqa: BLE001
            pass
        self._task = None
        self._session = None
        self._alive = False
        if self._errlog is not None:
            self._errlog.close()
            self._errlog = None

    # -- requests ----------------------------------------------------------------------------------------------

    def request(self, what: str, make: Callable[["ClientSession"], Coroutine[Any, Any, T]],
                deadline: float | None) -> T:
        """Run one request; ``what`` names it in errors (``mcp.time.get_current_time``)."""
        session = self.start(deadline)
        timeout = remaining_time(deadline)
        if timeout <= 0:
            raise DeadlineReached(what, f"the MCP server '{self.name}' to answer")
        since = self._stderr_size()
        try:
            return self._loop.run(make(session), timeout)
        except _Timeout:
            raise DeadlineReached(what, f"the MCP server '{self.name}' to answer") from None
        except CallError:
            raise
        except BaseException as exc:  # noqa: BLE001 - converted to one clear error below
            raise self._request_failure(what, _leaf(exc), since) from None

    def _request_failure(self, what: str, exc: BaseException, since: int) -> CallError:
        from mcp import MCPError

        if isinstance(exc, MCPError):
            if exc.code == _CONNECTION_CLOSED:
                message = self._with_stderr(f"{what}: the MCP server '{self.name}' closed the connection (it exited "
                                            f"or crashed; it will be restarted on the next call)", since)
                self._shutdown_async()
                return CallError(message, kind="mcp", server=self.name, code=exc.code)
            return CallError(f"{what}: the MCP server '{self.name}' answered with an error: {exc.message}",
                             kind="mcp", server=self.name, code=exc.code)
        if not self._alive:
            message = self._with_stderr(f"{what}: the MCP server '{self.name}' is no longer running", since)
            self._shutdown_async()
            return CallError(message, kind="mcp", server=self.name)
        return CallError(f"{what}: the MCP request failed: {type(exc).__name__}: {exc}", kind="mcp",
                         server=self.name)

    def list_tools(self, deadline: float | None) -> list[Any]:
        """Every tool the server offers (all pages), cached until the server restarts."""
        if self._tools is None or not self.alive:
            async def fetch(session: "ClientSession") -> list[Any]:
                from mcp.types import PaginatedRequestParams

                tools: list[Any] = []
                cursor: str | None = None
                while True:
                    page = await session.list_tools(
                        params=PaginatedRequestParams(cursor=cursor) if cursor else None)
                    tools.extend(page.tools)
                    cursor = page.next_cursor
                    if not cursor:
                        return tools

            self._tools = self.request(f"mcp.{self.name}", fetch, deadline)
        return list(self._tools)


class McpHub:
    """The connections of one process, by server name; servers start on first use."""

    def __init__(self, servers: Mapping[str, ServerConfig], *, cwd: Path | None = None) -> None:
        self.servers = dict(servers)
        self._cwd = cwd or Path.cwd()
        self._loop = LoopThread()
        self._connections: dict[str, ServerConnection] = {}

    def names(self) -> list[str]:
        return sorted(self.servers)

    def connection(self, name: str) -> ServerConnection:
        conn = self._connections.get(name)
        if conn is None:
            conn = self._connections[name] = ServerConnection(self.servers[name], self._loop, cwd=self._cwd)
        return conn

    def started(self, name: str) -> bool:
        conn = self._connections.get(name)
        return conn is not None and conn.alive

    def close(self) -> None:
        """Stop every server (each gets EOF on stdin, then SIGTERM/SIGKILL if it lingers) and the loop."""
        for conn in self._connections.values():
            conn.close()
        self._connections.clear()
        self._loop.stop()
