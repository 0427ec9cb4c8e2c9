"""The sandboxed Lua 5.4 runtime: whitelist environment, limits, host functions and lazy namespaces.

How the limits hold (the measured hazards are in the team's lupa findings):

* Time: a count hook (every ``HOOK_COUNT`` instructions, in the main thread and in every coroutine) asks Python
  whether the monotonic deadline has passed. The pcall/xpcall/resume/wrap/close/load wrappers re-check it
  themselves, because the hook cannot run once a script has exhausted the C stack. Once a limit is hit, every
  wrapper re-raises the kill, so ``pcall`` cannot swallow it. Long C calls (Lua patterns) are not interruptible
  in-process: the supervisor's hard deadline covers those.
* Memory: lupa's ``max_memory``. "not enough memory" is turned into the kill by the same wrappers. The limit is
  armed only while script code runs: whenever Python takes control (a host call, a hook tick, set-up) it is
  lifted, because an allocation failure while lupa itself pushes or converts values deadlocks or aborts the
  process. Host calls refuse to start within a small reserve of the limit (lupa allocates before our code runs),
  and results are measured while they are built (``marshal.to_lua``) and refused as soon as they would not fit.
* Python objects never reach Lua: host functions are Lua closures over one private dispatcher, results are real
  Lua tables, exceptions become plain Lua values, and strings are always passed as bytes (``encoding=None``).

Hook overhead, measured on the 2-core dev box (Lua 5.4, 2e7-iteration numeric loop; 5e6 Lua calls): no hook
83 ms; count 1000: 200 ms; 5000: 183-190 ms; 10000: 181-190 ms. Any count hook makes Lua 5.4 check every
instruction, so most of the cost is there whatever the count; 1000 costs ~10% more than 10000 and keeps a
limit responsive when each instruction is an expensive C call, so 1000 it is. Library-heavy code barely changes.
"""

from __future__ import annotations

import math
import os
import sys
import time

import lupa.lua54 as lua54  # not `from lupa import lua54`: that goes through lupa.__getattr__, which imports re

from kosmo_lua.errors import (
    ArgumentError,
    CallError,
    CpuLimitExceeded,
    LimitExceeded,
    LuaRuntimeError,
    MemoryLimitExceeded,
    UsageError,
)
from kosmo_lua.sandbox.marshal import Marshal, ValueTooLarge
from kosmo_lua.sandbox.values import lua_type_name

TYPE_CHECKING = False  # typing costs milliseconds of start-up; type checkers read the names below anyway
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from kosmo_lua.sandbox.values import PlainData

__all__ = ["HOOK_COUNT", "Function", "Namespace", "Sandbox", "sleep_seconds"]



def _debug(message: str, *args: Any, exc: BaseException | None = None) -> None:
    """Internal failures go to a debug log only; logging is imported on first use to keep start-up lean."""
    import logging

    logging.getLogger("kosmo_lua.sandbox").debug(message, *args, exc_info=exc)

#: Instructions between two deadline checks of the count hook (see the module docstring for the measurement).
HOOK_COUNT = 1000

# Kill codes shared with prelude.lua.
_KILL_CPU, _KILL_MEMORY, _KILL_OTHER = 1, 2, 3

_MEMORY_ERROR = b"not enough memory"

# Memory kept free for lupa's own allocations during a host call: 1/8 of the limit, at most 256 KiB.
_RESERVE_MAX = 256 * 1024

# Below this a script cannot even start reliably (the set-up data alone takes some tens of KiB).
_MIN_MEMORY_LIMIT = 256 * 1024

_PATH_PART_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


# Plain classes, not dataclasses: importing dataclasses costs more start-up than the whole sandbox set-up.

class Namespace:
    """A lazy sub-table: ``resolver(key)`` builds entries on first read; ``listing()`` names them for hints."""

    __slots__ = ("resolver", "listing")

    def __init__(self, resolver: Callable[[str], Namespace | Function | None],
                 listing: Callable[[], list[str]]) -> None:
        self.resolver = resolver
        self.listing = listing


class Function:
    """A lazily built function; ``handler`` is a host function (plain data in, plain data out)."""

    __slots__ = ("handler",)

    def __init__(self, handler: Callable[..., Any]) -> None:
        self.handler = handler


class _HostEntry:
    __slots__ = ("path", "fn")

    def __init__(self, path: str, fn: Callable[..., Any]) -> None:
        self.path = path
        self.fn = fn


class _NamespaceEntry:
    __slots__ = ("path", "resolver", "listing", "built")

    def __init__(self, path: str, resolver: Callable[[str], Namespace | Function | None],
                 listing: Callable[[], list[str]], built: dict[str, tuple[str, int]]) -> None:
        self.path = path
        self.resolver = resolver
        self.listing = listing
        self.built = built  # name -> ("function" | "namespace", entry index): one entry per name


def _deny_attribute(obj: Any, name: Any, value: Any = None) -> Any:
    raise AttributeError("attribute access is not available in the sandbox")


def _split_path(path: str, what: str) -> list[str]:
    parts = path.split(".") if isinstance(path, str) else []
    if not parts or any(not p or p[0].isdigit() or not set(p) <= _PATH_PART_OK for p in parts):
        raise UsageError(f"{what}: path: expected dotted Lua names like 'json.encode', got {path!r}")
    return parts


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _load_prelude() -> bytes:
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "prelude.lua"), "rb") as handle:
        return handle.read()


class Sandbox:
    """One Lua 5.4 state running untrusted scripts within memory and time limits.

    Not thread-safe: use a Sandbox from one thread. State (globals) persists between ``execute`` calls.
    """

    def __init__(self, *, memory_limit: int = 32 * 1024 * 1024, cpu_limit: float = 30.0,
                 output: Callable[[str], None] | None = None) -> None:
        self.memory_limit = _check_memory_limit("Sandbox", memory_limit)
        self.cpu_limit = _check_cpu_limit("Sandbox", cpu_limit)
        self._output = output if output is not None else self._write_stdout

        self._lua = lua54.LuaRuntime(
            encoding=None,  # strings cross as bytes; marshal decides str vs bytes (see marshal.py)
            register_eval=False,
            register_builtins=False,
            attribute_handlers=(_deny_attribute, _deny_attribute),
            unpack_returned_tuples=False,  # our callbacks only ever return a number or one table
            max_memory=memory_limit,
        )
        self._lua.set_max_memory(0)  # lifted whenever Python is in control; armed only while a script runs
        self._armed = False
        self._executing = False
        self._deadline = math.inf
        self._kill: BaseException | None = None
        self._peak = 0
        self._entries: list[_HostEntry] = []
        self._namespaces: list[_NamespaceEntry] = []

        prelude = self._lua.compile(_load_prelude(), name=b"=kosmo.prelude", mode="t")
        api = prelude(self._tick, self._host_call, self._namespace_index, HOOK_COUNT)
        self._api_compile = api[b"compile"]
        self._api_run = api[b"run"]
        self._api_outcome = api[b"outcome"]
        self._api_begin = api[b"begin"]
        self._api_finish = api[b"finish"]
        self._api_host_function = api[b"host_function"]
        self._api_namespace = api[b"namespace"]
        self._api_set_path = api[b"set_path"]
        self._api_install = api[b"install"]
        self._api_configure = api[b"configure"]
        self._marshal = Marshal(self._lua, api[b"describe"], api[b"mark_arrays"], api[b"null"],
                                max_cost=_cost_budget(self.memory_limit))
        # The answers of host calls that return nothing or nil: read-only to the prelude, so one table each serves
        # every call (most host calls of a script return one of these).
        self._ok_none = self._lua.table_from({b"ok": True, b"n": 0})
        self._ok_nil = self._lua.table_from({b"ok": True, b"n": 1})
        self._configure_messages()
        api[b"set_print"](self._host_closure("print", self._print, public=False))
        self.register("sleep", self._lua_sleep)

    # -- public set-up API -----------------------------------------------------------------------------------------

    def register(self, path: str, fn: Callable[..., Any], *, visible: bool = True) -> None:
        """Expose host function ``fn`` at the dotted global ``path`` (parents are created).

        With ``visible=False`` the function is only in the ``host`` table of library chunks (``install_lua``):
        the building blocks of Lua-written library code, which scripts must not call directly."""
        names = _split_path(path, "Sandbox.register")
        if not callable(fn):
            raise UsageError(f"Sandbox.register: fn: expected a callable, got {type(fn).__name__}")
        closure = self._host_closure(path, fn, public=True)
        if visible:
            self._place(names, closure, "Sandbox.register")

    def install_lua(self, path: str, source: str, chunkname: str) -> None:
        """Run a privileged library chunk and place the value it returns at ``path``.

        The chunk's environment has the safe globals plus ``host`` (every registered host function by path) and
        ``kosmo`` (null, array, is_array, is_null, error, check, safe_globals); scripts can reach neither.
        """
        names = _split_path(path, "Sandbox.install_lua")
        result = self._api_install(_encode(source), _encode(chunkname))
        ok, value = result if isinstance(result, tuple) else (result, None)
        if not ok:
            raise LuaRuntimeError(_text(value), value=_text(value))
        if value is None:
            raise UsageError(f"Sandbox.install_lua: {chunkname} returned nothing to place at {path}")
        self._place(names, value, "Sandbox.install_lua")

    def set_value(self, path: str, value: PlainData) -> None:
        """Place plain data at ``path``."""
        names = _split_path(path, "Sandbox.set_value")
        try:
            lua_value = self._marshal.to_lua(value)[0]
        except (TypeError, ValueError) as exc:
            raise UsageError(f"Sandbox.set_value: value: {exc}") from None
        self._place(names, lua_value, "Sandbox.set_value")

    def lazy_namespace(self, path: str, resolver: Callable[[str], Namespace | Function | None],
                       listing: Callable[[], list[str]]) -> None:
        """Place a lazy namespace at ``path`` (see "Lazy namespaces" in docs/architecture.md)."""
        names = _split_path(path, "Sandbox.lazy_namespace")
        self._place(names, self._new_namespace(path, resolver, listing), "Sandbox.lazy_namespace")

    def set_limits(self, *, memory_limit: int | None = None, cpu_limit: float | None = None) -> None:
        """Change the limits for the following ``execute`` calls (not while a script runs)."""
        if self._executing:
            raise UsageError("Sandbox.set_limits: not while a script runs")
        if memory_limit is not None:
            self.memory_limit = _check_memory_limit("Sandbox.set_limits", memory_limit)
            self._marshal.max_cost = _cost_budget(self.memory_limit)
        if cpu_limit is not None:
            self.cpu_limit = _check_cpu_limit("Sandbox.set_limits", cpu_limit)
        self._configure_messages()

    # -- running ---------------------------------------------------------------------------------------------------

    def execute(self, code: str, chunkname: str = "=(eval)") -> list[PlainData]:
        """Run a chunk and return its values as plain data.

        ``chunkname`` follows Lua: ``"@workflow.lua"`` gives ``workflow.lua:3: ...`` messages, ``"=(eval)"`` gives
        ``(eval):1: ...``. Raises LuaRuntimeError, MemoryLimitExceeded or CpuLimitExceeded.
        """
        if self._executing:
            raise UsageError("Sandbox.execute: a script is already running in this sandbox")
        compiled = self._api_compile(_encode(code), _encode(chunkname))
        if isinstance(compiled, tuple):  # nil, message
            message = _text(compiled[1])
            raise LuaRuntimeError(message, value=message)

        used = self._lua.get_memory_used()
        base = self._lua.get_memory_used(total=True) - used
        reserve = min(_RESERVE_MAX, self.memory_limit // 8)
        self._kill = None
        self._peak = used
        self._api_begin((base + self.memory_limit - reserve) / 1024)
        self._executing = True
        self._deadline = time.monotonic() + self.cpu_limit
        escaped = False
        self._arm()
        try:
            self._api_run(compiled)
        except lua54.LuaError:
            # Only the outcome bookkeeping can fail out of run(): an allocation, so memory is exhausted.
            escaped = True
        finally:
            self._disarm()
            self._executing = False
            self._deadline = math.inf
            lua_kill = self._api_finish()
            kill, self._kill = self._kill, None
            self._peak = max(self._peak, self._lua.get_memory_used())

        if kill is not None:
            self._note_kill_peak(kill)
            raise kill
        if lua_kill == _KILL_CPU:
            raise CpuLimitExceeded(self.cpu_limit)
        if lua_kill is not None or escaped:
            self._peak = max(self._peak, self.memory_limit)
            raise MemoryLimitExceeded(self.memory_limit)
        return self._read_outcome()

    def sleep(self, seconds: float) -> None:
        """Sleep, counting against the running script's time limit; at the deadline the script is ended."""
        if not self._executing:
            time.sleep(seconds)
            return
        remaining = self._deadline - time.monotonic()
        if seconds >= remaining:
            if remaining > 0:
                time.sleep(remaining)
            raise CpuLimitExceeded(self.cpu_limit)
        time.sleep(seconds)

    @property
    def deadline(self) -> float:
        """The running script's deadline as a ``time.monotonic()`` value; ``math.inf`` when no script runs."""
        return self._deadline

    @property
    def memory_used(self) -> int:
        """Lua memory in use now, in bytes (what the memory limit counts)."""
        return int(self._lua.get_memory_used())

    @property
    def peak_memory(self) -> int:
        """Highest Lua memory seen during the last execute (sampled at every hook tick and host call)."""
        return self._peak

    # -- internals: placing values -----------------------------------------------------------------------------

    def _place(self, names: list[str], value: Any, what: str) -> None:
        try:
            self._api_set_path(self._lua.table_from([n.encode() for n in names]), value)
        except lua54.LuaError as exc:
            raise UsageError(f"{what}: {_text(exc.args[0] if exc.args else exc)}") from None

    def _host_closure(self, path: str, fn: Callable[..., Any], *, public: bool) -> Any:
        self._entries.append(_HostEntry(path, fn))
        return self._api_host_function(len(self._entries) - 1, path.encode() if public else None)

    def _new_namespace(self, path: str, resolver: Callable[[str], Namespace | Function | None],
                       listing: Callable[[], list[str]]) -> Any:
        self._namespaces.append(_NamespaceEntry(path, resolver, listing, {}))
        return self._api_namespace(len(self._namespaces) - 1)

    # -- internals: limits -------------------------------------------------------------------------------------

    def _configure_messages(self) -> None:
        self._api_configure(str(CpuLimitExceeded(self.cpu_limit)).encode(),
                            str(MemoryLimitExceeded(self.memory_limit)).encode())

    def _arm(self) -> None:
        self._lua.set_max_memory(self.memory_limit)
        self._armed = True

    def _disarm(self) -> None:
        self._lua.set_max_memory(0)
        self._armed = False

    def _lift(self) -> bool:
        """Python is taking control inside a script: lift the memory limit (see the module docstring)."""
        if self._armed:
            self._disarm()
            return True
        return False

    def _rearm(self, result: Any) -> Any:
        """Back to the script: re-arm the limit, and end the script if what Python built does not fit."""
        used = self._lua.get_memory_used()
        if used > self.memory_limit:
            self._lua.gccollect()
            used = self._lua.get_memory_used()
            if used > self.memory_limit:
                result = self._kill_with(MemoryLimitExceeded(self.memory_limit))
        self._peak = max(self._peak, used)
        self._arm()
        return result

    def _kill_with(self, exc: BaseException) -> int:
        """Record why the script ends (the first reason wins) and return the kill code for Lua."""
        if self._kill is None:
            self._kill = exc
        kill = self._kill
        if isinstance(kill, CpuLimitExceeded):
            return _KILL_CPU
        if isinstance(kill, MemoryLimitExceeded):
            return _KILL_MEMORY
        return _KILL_OTHER

    def _note_kill_peak(self, kill: BaseException) -> None:
        if isinstance(kill, MemoryLimitExceeded):
            self._peak = max(self._peak, self.memory_limit)

    def _tick(self) -> int:
        """The count hook (and every wrapper) asks this: 0 to go on, else a kill code."""
        try:
            if self._kill is not None:
                return self._kill_with(self._kill)
            used = self._lua.get_memory_used()
            if used > self._peak:
                self._peak = used
            if time.monotonic() > self._deadline:
                return self._kill_with(CpuLimitExceeded(self.cpu_limit))
            return 0
        except BaseException as exc:  # e.g. KeyboardInterrupt: end the script, never hand Lua the exception
            return self._kill_with(exc)

    # -- internals: host calls -----------------------------------------------------------------------------------

    def _host_call(self, index: int, *args: Any) -> Any:
        lifted = self._lift()
        try:
            result = self._call_entry(self._entries[index], args)
        except BaseException as exc:
            result = self._kill_with(exc)
        return self._rearm(result) if lifted else result

    def _call_entry(self, entry: _HostEntry, args: tuple[Any, ...]) -> Any:
        if self._kill is not None:
            return self._kill_with(self._kill)
        if time.monotonic() > self._deadline:
            return self._kill_with(CpuLimitExceeded(self.cpu_limit))
        try:
            value = entry.fn(*self._marshal.arguments(args, entry.path))
        except CallError as exc:
            return self._error_result(exc)
        except LimitExceeded as exc:
            return self._kill_with(exc)
        except Exception as exc:
            return self._internal_error(entry.path, exc)
        if time.monotonic() > self._deadline:
            return self._kill_with(CpuLimitExceeded(self.cpu_limit))
        return self._pack(entry.path, value)

    def _to_lua(self, values: tuple[Any, ...]) -> list[Any]:
        """Lua values for host results, refusing (ValueTooLarge) as soon as they would not fit in free Lua memory.
        Runs with the memory limit lifted (see the module docstring)."""
        if not self._executing:
            return [self._marshal.to_lua(v)[0] for v in values]
        try:
            return self._to_lua_within(values)
        except ValueTooLarge:
            self._lua.gccollect()  # garbage counts as used until collected; only live data should refuse
            return self._to_lua_within(values)

    def _to_lua_within(self, values: tuple[Any, ...]) -> list[Any]:
        budget = self.memory_limit - self._lua.get_memory_used()
        converted = []
        for value in values:
            item, size = self._marshal.to_lua(value, budget)
            converted.append(item)
            budget -= size
        return converted

    def _pack(self, path: str, value: Any) -> Any:
        # A tuple is several Lua values (() is none); anything else, None included, is exactly one.
        if value is None:
            return self._ok_nil
        values = value if type(value) is tuple else (value,)
        if not values:
            return self._ok_none
        try:
            converted = self._to_lua(values)
        except ValueTooLarge:
            return self._kill_with(MemoryLimitExceeded(self.memory_limit))
        except (TypeError, ValueError) as exc:
            return self._internal_error(path, exc)
        packed: dict[Any, Any] = {b"ok": True, b"n": len(converted)}
        for i, item in enumerate(converted, 1):
            if item is not None:
                packed[i] = item
        return self._lua.table_from(packed)

    def _error_result(self, exc: CallError) -> Any:
        text = str(exc)
        try:
            try:
                (converted,) = self._to_lua((exc.data,))
            except (TypeError, ValueError):
                (converted,) = self._to_lua(({"message": text},))
        except ValueTooLarge:
            return self._kill_with(MemoryLimitExceeded(self.memory_limit))
        # _encode: a message may quote script text read with surrogateescape (bytes that are not UTF-8).
        return self._lua.table_from({b"err": converted, b"text": _encode(text)})

    def _internal_error(self, path: str, exc: BaseException) -> Any:
        # The traceback goes to the debug log only; Lua gets the path and the class name, nothing else.
        _debug("host function %s failed", path, exc=exc)
        return self._lua.table_from({b"err": f"{path}: internal error ({type(exc).__name__})".encode()})

    # -- internals: lazy namespaces --------------------------------------------------------------------------------

    def _namespace_index(self, index: int, key: Any) -> Any:
        lifted = self._lift()
        try:
            result = self._resolve(self._namespaces[index], key)
        except BaseException as exc:
            result = self._kill_with(exc)
        return self._rearm(result) if lifted else result

    def _resolve(self, ns: _NamespaceEntry, key: Any) -> Any:
        if self._kill is not None:
            return self._kill_with(self._kill)
        name = _text(key) if isinstance(key, (bytes, int, float)) and not isinstance(key, bool) else None
        if name is None:
            return self._unknown(ns, f"[{lua54.lua_type(key) or type(key).__name__}]")
        if name in ns.built:
            kind, entry = ns.built[name]
        else:
            try:
                target = ns.resolver(name) if isinstance(key, bytes) else None
            except CallError as exc:
                return self._error_result(exc)
            except LimitExceeded as exc:
                return self._kill_with(exc)
            except Exception as exc:
                return self._internal_error(ns.path, exc)
            full = f"{ns.path}.{name}"
            if target is None:
                return self._unknown(ns, name)
            if isinstance(target, Function):
                self._entries.append(_HostEntry(full, target.handler))
                kind, entry = "function", len(self._entries) - 1
            elif isinstance(target, Namespace):
                self._namespaces.append(_NamespaceEntry(full, target.resolver, target.listing, {}))
                kind, entry = "namespace", len(self._namespaces) - 1
            else:
                return self._internal_error(ns.path, TypeError(f"resolver returned {type(target).__name__}"))
            ns.built[name] = (kind, entry)
        value = self._api_host_function(entry, None) if kind == "function" else self._api_namespace(entry)
        return self._lua.table_from({b"ok": True, 1: value})

    def _unknown(self, ns: _NamespaceEntry, name: str) -> Any:
        try:
            candidates = [str(n) for n in ns.listing()]
        except Exception as exc:
            _debug("listing of %s failed", ns.path, exc=exc)
            candidates = []
        import difflib

        close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        message = f"Unknown function: {ns.path}.{name}.{hint}"
        return self._lua.table_from({b"unknown": True, b"err": message.encode()})

    # -- internals: built-in host functions ------------------------------------------------------------------------

    def _print(self, line: Any) -> None:
        self._output(_text(line))

    @staticmethod
    def _write_stdout(line: str) -> None:
        sys.stdout.write(line + "\n")

    def _lua_sleep(self, *args: Any) -> None:
        self.sleep(sleep_seconds(*args))

    # -- internals: results ------------------------------------------------------------------------------------

    def _read_outcome(self) -> list[PlainData]:
        outcome = self._api_outcome()
        n = outcome[b"n"]
        if outcome[1]:
            return [self._marshal.from_lua(outcome[i], function="(result)", strict=False) for i in range(2, n + 1)]
        value = outcome[2]
        if value == _MEMORY_ERROR:
            self._peak = max(self._peak, self.memory_limit)
            raise MemoryLimitExceeded(self.memory_limit)
        message = _text(outcome[b"text"])
        plain = self._marshal.from_lua(value, function="(error)", strict=False)
        raise LuaRuntimeError(message, value=plain)


def sleep_seconds(*args: Any) -> float:
    """The seconds of a script's ``sleep(seconds)`` call, or the ArgumentError it gets (shared with the timer of
    ``sleep`` inside ``parallel`` tasks, so both refuse the same arguments with the same words)."""
    seconds = args[0] if args else None
    if (len(args) != 1 or isinstance(seconds, bool) or not isinstance(seconds, (int, float))
            or not math.isfinite(seconds) or seconds < 0):
        if not args:
            shown = "nothing"
        elif len(args) > 1:
            shown = f"{len(args)} arguments"
        elif isinstance(seconds, (int, float)) and not isinstance(seconds, bool):
            shown = repr(seconds)
        else:
            shown = lua_type_name(seconds)
        raise ArgumentError("sleep", [f"argument 1 (seconds): expected a non-negative number, got {shown}"])
    return float(seconds)


def _cost_budget(memory_limit: int) -> int:
    """What one Lua -> Python conversion may expand to: twice any tree that fits in Lua memory (marshal.py)."""
    return 2 * memory_limit


def _check_memory_limit(what: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < _MIN_MEMORY_LIMIT:
        raise UsageError(f"{what}: memory_limit: expected an int of at least {_MIN_MEMORY_LIMIT} bytes, got {value!r}")
    return value


def _check_cpu_limit(what: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise UsageError(f"{what}: cpu_limit: expected a positive number of seconds, got {value!r}")
    return float(value)


def _encode(text: str | bytes) -> bytes:
    return text.encode("utf-8", "surrogateescape") if isinstance(text, str) else bytes(text)
