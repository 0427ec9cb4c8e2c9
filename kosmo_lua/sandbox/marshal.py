"""Conversion of values between Lua and Python, in the shapes ``values.py`` describes.

Python -> Lua happens in two steps so that the size of a host result is known before Lua allocates anything:
``prepare`` validates and measures the value in pure Python (no Lua call), ``build`` then creates the Lua tables.
The runtime compares the estimate with the free Lua memory in between (an allocation failure while lupa converts
a value deadlocks or aborts the process; see runtime.py).

Decisions:

* The runtime uses ``encoding=None``: Lua strings arrive as ``bytes`` and are decoded here (``str`` when valid
  UTF-8, else ``bytes``); every ``str`` is encoded here before it reaches Lua (lupa would otherwise wrap it as a
  Python object).
* Python ints outside Lua's 64-bit range become floats, as Lua itself does with such literals; ints too large even
  for a float are refused.
* Lua -> Python keeps shared sub-tables shared (each Lua table is converted once), so conversion work is bounded
  by the size of the Lua data even for a table that references another many times.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from lupa import lua54

from kosmo_lua.errors import ArgumentError
from kosmo_lua.sandbox.values import JSON_NULL, JsonNull, LuaArray, PlainData

__all__ = ["MAX_DEPTH", "Marshal", "estimate_size"]

#: Deepest nesting accepted either way; deeper data is almost certainly a mistake (or an attack on the stack).
MAX_DEPTH = 200

_INT_MIN, _INT_MAX = lua54.LUA_MININTEGER, lua54.LUA_MAXINTEGER
_lua_type = lua54.lua_type

# Rough Lua 5.4 sizes (64-bit), rounded up: a string header, a table header, one array slot, one hash node, and a
# registry slot for each table Python holds while building.
_STRING_COST = 40
_TABLE_COST = 64 + 16
_ARRAY_SLOT = 16
_HASH_NODE = 40

_TABLE_KIND_NULL, _TABLE_KIND_ARRAY = 1, 2


class _Array(list):  # type: ignore[type-arg]
    """A prepared list: becomes a Lua table marked as an array."""


class _Object(dict):  # type: ignore[type-arg]
    """A prepared dict: bytes or int keys, prepared values, no None values."""


class _Null:
    """Stands for json.null in a prepared value."""


_NULL = _Null()


def _pow2(n: int) -> int:
    return 1 << (n - 1).bit_length() if n > 1 else n


def estimate_size(value: PlainData) -> int:
    """Estimated Lua bytes for ``value`` (what the free-memory check compares)."""
    return _prepare(value, 0, set())[1]


def _prepare(value: Any, depth: int, active: set[int]) -> tuple[Any, int]:
    if value is None or value is True or value is False:
        return value, 0
    kind = type(value)
    if kind is str:
        data = value.encode("utf-8", "surrogateescape")
        return data, _STRING_COST + len(data)
    if kind is bytes or kind is bytearray or kind is memoryview:
        data = bytes(value)
        return data, _STRING_COST + len(data)
    if kind is int or isinstance(value, int) and not isinstance(value, bool):
        value = int(value)
        if _INT_MIN <= value <= _INT_MAX:
            return value, 0
        try:
            return float(value), 0
        except OverflowError:
            raise ValueError(f"integer {str(value)[:20]}... is too large for Lua") from None
    if kind is float or isinstance(value, float):
        return float(value), 0
    if isinstance(value, JsonNull):
        return _NULL, 0
    if depth >= MAX_DEPTH:
        raise ValueError(f"value nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, (list, tuple)):
        marker = id(value)
        if marker in active:
            raise ValueError("value contains itself (a cycle)")
        active.add(marker)
        items = _Array()
        size = _TABLE_COST + _ARRAY_SLOT * len(value)
        for element in value:
            if element is None:
                items.append(_NULL)  # keeps positions: a null inside an array reads as json.null
                continue
            prepared, cost = _prepare(element, depth + 1, active)
            items.append(prepared)
            size += cost
        active.discard(marker)
        return items, size
    if isinstance(value, dict):
        marker = id(value)
        if marker in active:
            raise ValueError("value contains itself (a cycle)")
        active.add(marker)
        fields = _Object()
        size = 0
        for key, element in value.items():
            if element is None:
                continue  # a null field reads as absent (nil)
            if isinstance(key, str):
                lua_key: bytes | int = key.encode("utf-8", "surrogateescape")
                size += _STRING_COST + len(lua_key)
            elif isinstance(key, bytes):
                lua_key = key
                size += _STRING_COST + len(key)
            elif isinstance(key, int) and not isinstance(key, bool) and _INT_MIN <= key <= _INT_MAX:
                lua_key = key
            else:
                raise TypeError(f"unsupported dict key {key!r}: keys must be str, bytes or int")
            prepared, cost = _prepare(element, depth + 1, active)
            fields[lua_key] = prepared
            size += cost
        active.discard(marker)
        return fields, size + _TABLE_COST + _HASH_NODE * _pow2(len(fields))
    raise TypeError(f"cannot pass a {kind.__name__} to Lua (plain data only)")


def _decode(data: bytes) -> str | bytes:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


_KIND_NAMES = {"function": "a function", "thread": "a coroutine", "userdata": "a userdata value"}


class Marshal:
    """Converts values for one Lua runtime.

    ``describe(value) -> (kind, id or Lua type name)`` and ``mark_arrays(lua_list)`` are privileged Lua helpers from the prelude;
    ``null`` is the json.null table.
    """

    def __init__(self, lua: Any, describe: Callable[[Any], tuple[int, Any]],
                 mark_arrays: Callable[[Any], None], null: Any) -> None:
        self._lua = lua
        self._describe = describe
        self._mark_arrays = mark_arrays
        self._null = null

    # -- Python -> Lua -------------------------------------------------------------------------------------------

    def prepare(self, value: PlainData) -> tuple[Any, int]:
        """Validate ``value`` and estimate its Lua size, without touching Lua. Raises TypeError/ValueError."""
        return _prepare(value, 0, set())

    def build(self, prepared: Any) -> Any:
        """Create the Lua value for a prepared value (the caller makes sure memory allows it)."""
        arrays: list[Any] = []
        result = self._build(prepared, arrays)
        if arrays:
            self._mark_arrays(self._lua.table_from(arrays))
        return result

    def to_lua(self, value: PlainData) -> Any:
        """prepare + build, for set-up code where the memory limit is not armed."""
        return self.build(self.prepare(value)[0])

    def _build(self, value: Any, arrays: list[Any]) -> Any:
        kind = type(value)
        if kind is _Object:
            return self._lua.table_from({k: self._build(v, arrays) for k, v in value.items()})
        if kind is _Array:
            table = self._lua.table_from([self._build(v, arrays) for v in value])
            arrays.append(table)
            return table
        if value is _NULL:
            return self._null
        return value

    # -- Lua -> Python -------------------------------------------------------------------------------------------

    def from_lua(self, value: Any, *, function: str, where: str = "argument 1", strict: bool = True) -> PlainData:
        """Convert a value lupa handed over into plain data.

        ``strict`` (host function arguments) refuses functions, coroutines, cycles and odd keys with an
        ArgumentError naming ``function`` and ``where``; otherwise (a chunk's results, error values) they become
        descriptive strings such as ``"<function>"``.
        """
        walk = _LuaWalk(self._describe, function, where, strict)
        return walk.convert(value, 0)


class _LuaWalk:
    """One Lua -> Python conversion: remembers tables already converted and the path for error messages."""

    def __init__(self, describe: Callable[[Any], tuple[int, Any]], function: str, where: str, strict: bool):
        self.describe = describe
        self.function = function
        self.where = where
        self.strict = strict
        self.done: dict[int, Any] = {}
        self.active: set[int] = set()
        self.trail: list[str] = []

    def refuse(self, problem: str, placeholder: str) -> Any:
        if not self.strict:
            return placeholder
        at = "".join(self.trail)
        location = f"{self.where} (at {at})" if at else self.where
        raise ArgumentError(self.function, [f"{location}: {problem}"])

    def convert(self, value: Any, depth: int) -> PlainData:
        if value is None or value is True or value is False:
            return value
        kind = type(value)
        if kind is bytes:
            return _decode(value)
        if kind is int or kind is float:
            return value
        lua_kind = _lua_type(value)
        if lua_kind == "table":
            return self.table(value, depth)
        if lua_kind is not None:
            real = _decode(self.describe(value)[1])
            # lupa hands a coroutine over as a "_LuaCoroutineFunction" whose lua_type is "function".
            if real == "thread" or "Coroutine" in kind.__name__ or "Thread" in kind.__name__:
                real = "thread"
            name = "coroutine" if real == "thread" else str(real)
            return self.refuse(f"cannot pass {_KIND_NAMES.get(real, 'a ' + name)} (expected plain data: nil, "
                               "boolean, number, string or table)", f"<{name}>")
        # Nothing else should ever come out of the sandbox; refuse rather than leak a Python object through.
        return self.refuse(f"cannot pass a {kind.__name__}", "<unknown>")

    def table(self, table: Any, depth: int) -> PlainData:
        kind, ident = self.describe(table)
        if kind == _TABLE_KIND_NULL:
            return JSON_NULL
        if ident in self.done:
            return self.done[ident]
        if ident in self.active:
            return self.refuse("cannot pass a table that contains itself (a cycle)", "<cycle>")
        if depth >= MAX_DEPTH:
            return self.refuse(f"tables nested more than {MAX_DEPTH} levels deep", "<too deep>")
        self.active.add(ident)
        items = list(table.items())
        if kind == _TABLE_KIND_ARRAY:
            result = self.marked_array(items, depth)
        elif items and all(type(k) is int and 0 < k <= len(items) for k, _ in items):
            result = self.sequence(items, depth)
        else:
            result = self.mapping(items, depth)
        self.active.discard(ident)
        self.done[ident] = result
        return result

    def sequence(self, items: list[tuple[Any, Any]], depth: int) -> LuaArray:
        out = LuaArray([None] * len(items))
        for key, element in items:
            self.trail.append(f"[{key}]")
            out[key - 1] = self.convert(element, depth + 1)
            self.trail.pop()
        return out

    def marked_array(self, items: list[tuple[Any, Any]], depth: int) -> PlainData:
        if not items:
            return LuaArray()
        size = 0
        for key, _ in items:
            if type(key) is not int or key < 1:
                shown = _decode(key) if type(key) is bytes else key
                return self.refuse(f"an array has a key that is not a positive integer: {shown!r}", "<array>")
            size = max(size, key)
        # Holes read as json.null; a huge index on a tiny array would make a huge list, so refuse that.
        if size > 4 * len(items) + 64:
            return self.refuse(f"an array is too sparse (index {size} with {len(items)} elements)", "<array>")
        out = LuaArray([JSON_NULL] * size)
        for key, element in items:
            self.trail.append(f"[{key}]")
            out[key - 1] = self.convert(element, depth + 1)
            self.trail.pop()
        return out

    def mapping(self, items: list[tuple[Any, Any]], depth: int) -> PlainData:
        out: dict[Any, Any] = {}
        for key, element in items:
            if type(key) is bytes:
                name: Any = _decode(key)
                self.trail.append(f".{name}" if isinstance(name, str) and name.isidentifier() else f"[{name!r}]")
            elif type(key) is int:
                name = key
                self.trail.append(f"[{key}]")
            else:
                described = self.describe_key(key)
                name = self.refuse(f"unsupported table key {described} (keys must be strings or integers)",
                                   described)
                self.trail.append(f"[{described}]")
            out[name] = self.convert(element, depth + 1)
            self.trail.pop()
        return out

    @staticmethod
    def describe_key(key: Any) -> str:
        if type(key) is float:
            return "nan" if math.isnan(key) else repr(key)
        if key is True or key is False:
            return "true" if key else "false"
        lua_kind = _lua_type(key)
        return f"<{'coroutine' if lua_kind == 'thread' else lua_kind or type(key).__name__}>"
