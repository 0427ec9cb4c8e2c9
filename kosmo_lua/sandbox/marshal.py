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
* Both directions expand shared sub-tables (plain data is a tree, as in JSON) and both are bounded: Lua -> Python
  by a cost budget (``max_cost`` bytes of expanded data; a Lua table that doubles itself 60 times is refused
  instead of exploding), Python -> Lua by the free Lua memory, checked while measuring.
"""

from __future__ import annotations

import math

import lupa.lua54 as lua54

from kosmo_lua.errors import ArgumentError
from kosmo_lua.sandbox.values import JSON_NULL, JsonNull, LuaArray, PlainData

TYPE_CHECKING = False  # typing costs milliseconds of start-up; type checkers read the names below anyway
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["MAX_DEPTH", "Marshal", "ValueTooLarge", "estimate_size"]

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

# Lua -> Python costs, never above what the same data takes in Lua (so any tree that fits in Lua memory fits in
# a budget of that size): a string header (plus its length), a table header, one key/value pair.
_VALUE_COST = 16
_TABLE_HEADER_COST = 64
_ENTRY_COST = 32


class ValueTooLarge(Exception):
    """A Python value would take more Lua memory than the budget allows (raised while measuring)."""

    def __init__(self, size: int) -> None:
        super().__init__(f"value needs more than {size} bytes of Lua memory")
        self.size = size


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
    return _Measure(None).prepare(value, 0)[1]


class _Measure:
    """One Python -> Lua preparation: validates, encodes strings and adds up the estimated Lua size, stopping
    as soon as the size passes ``budget`` (so a value that expands hugely costs no more than the budget)."""

    def __init__(self, budget: int | None) -> None:
        self.budget = budget
        self.total = 0
        self.active: set[int] = set()

    def spend(self, cost: int) -> None:
        self.total += cost
        if self.budget is not None and self.total > self.budget:
            raise ValueTooLarge(self.total)

    def prepare(self, value: Any, depth: int) -> tuple[Any, int]:
        before = self.total
        prepared = self.convert(value, depth)
        return prepared, self.total - before

    def convert(self, value: Any, depth: int) -> Any:
        if value is None or value is True or value is False:
            return value
        kind = type(value)
        if isinstance(value, str):
            data = value.encode("utf-8", "surrogateescape")
            self.spend(_STRING_COST + len(data))
            return data
        if isinstance(value, (bytes, bytearray, memoryview)):
            data = bytes(value)
            self.spend(_STRING_COST + len(data))
            return data
        if isinstance(value, int):
            value = int(value)
            if _INT_MIN <= value <= _INT_MAX:
                return value
            try:
                return float(value)
            except OverflowError:
                raise ValueError(f"an integer of {value.bit_length()} bits is too large for Lua") from None
        if isinstance(value, float):
            return float(value)
        if isinstance(value, JsonNull):
            return _NULL
        if isinstance(value, (list, tuple)):
            return self.array(value, depth)
        if isinstance(value, dict):
            return self.object(value, depth)
        raise TypeError(f"cannot pass a {kind.__name__} to Lua (plain data only)")

    def enter(self, value: Any, depth: int) -> int:
        if depth >= MAX_DEPTH:
            raise ValueError(f"value nested more than {MAX_DEPTH} levels deep")
        marker = id(value)
        if marker in self.active:
            raise ValueError("value contains itself (a cycle)")
        self.active.add(marker)
        return marker

    def array(self, value: list[Any] | tuple[Any, ...], depth: int) -> _Array:
        marker = self.enter(value, depth)
        self.spend(_TABLE_COST + _ARRAY_SLOT * len(value))
        items = _Array()
        for element in value:
            # None keeps its position: a null inside an array reads as json.null.
            items.append(_NULL if element is None else self.convert(element, depth + 1))
        self.active.discard(marker)
        return items

    def object(self, value: dict[Any, Any], depth: int) -> _Object:
        marker = self.enter(value, depth)
        fields = _Object()
        for key, element in value.items():
            if element is None:
                continue  # a null field reads as absent (nil)
            if isinstance(key, str):
                lua_key: bytes | int = key.encode("utf-8", "surrogateescape")
                self.spend(_STRING_COST + len(lua_key))
            elif isinstance(key, bytes):
                lua_key = key
                self.spend(_STRING_COST + len(key))
            elif isinstance(key, int) and not isinstance(key, bool) and _INT_MIN <= key <= _INT_MAX:
                lua_key = key
            else:
                raise TypeError(f"unsupported dict key {key!r}: keys must be str, bytes or int")
            fields[lua_key] = self.convert(element, depth + 1)
        self.spend(_TABLE_COST + _HASH_NODE * _pow2(len(fields)))
        self.active.discard(marker)
        return fields


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
                 mark_arrays: Callable[[Any], None], null: Any, *, max_cost: int) -> None:
        self._lua = lua
        self._describe = describe
        self._mark_arrays = mark_arrays
        self._null = null
        #: Lua -> Python budget per conversion, in bytes of expanded data (see the module docstring).
        self.max_cost = max_cost

    # -- Python -> Lua -------------------------------------------------------------------------------------------

    def prepare(self, value: PlainData, budget: int | None = None) -> tuple[Any, int]:
        """Validate ``value`` and estimate its Lua size, without touching Lua.

        Raises TypeError/ValueError for what is not plain data, ValueTooLarge once the size passes ``budget``.
        """
        return _Measure(budget).prepare(value, 0)

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

        ``strict`` (host function arguments) refuses functions, coroutines, cycles, odd keys and values over the
        cost budget with an ArgumentError naming ``function`` and ``where``; otherwise (a chunk's results, error
        values) they become descriptive strings such as ``"<function>"``.
        """
        walk = _LuaWalk(self._describe, function, where, strict, self.max_cost)
        return walk.convert(value, 0)


class _LuaWalk:
    """One Lua -> Python conversion: remembers tables already converted and the path for error messages."""

    def __init__(self, describe: Callable[[Any], tuple[int, Any]], function: str, where: str, strict: bool,
                 max_cost: int):
        self.describe = describe
        self.function = function
        self.where = where
        self.strict = strict
        self.max_cost = max_cost
        self.remaining = max_cost
        self.active: set[int] = set()
        self.trail: list[str] = []

    def spend(self, cost: int) -> bool:
        self.remaining -= cost
        return self.remaining >= 0

    def too_large(self) -> Any:
        return self.refuse(f"value too large to pass (more than {self.max_cost} bytes once expanded; a table or "
                           "string used in several places counts each time)", "<too large>")

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
            if not self.spend(_VALUE_COST + len(value)):
                return self.too_large()
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
        if ident in self.active:
            return self.refuse("cannot pass a table that contains itself (a cycle)", "<cycle>")
        if depth >= MAX_DEPTH:
            return self.refuse(f"tables nested more than {MAX_DEPTH} levels deep", "<too deep>")
        if self.remaining < 0:
            return self.too_large()
        self.active.add(ident)
        items = list(table.items())
        if not self.spend(_TABLE_HEADER_COST + _ENTRY_COST * len(items)):
            self.active.discard(ident)
            return self.too_large()
        if kind == _TABLE_KIND_ARRAY:
            result = self.marked_array(items, depth)
        elif items and all(type(k) is int and 0 < k <= len(items) for k, _ in items):
            result = self.sequence(items, depth)
        else:
            result = self.mapping(items, depth)
        self.active.discard(ident)
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
