"""Conversion of values between Lua and Python, in the shapes ``values.py`` describes.

Python -> Lua is one pass (``to_lua``) that validates, encodes strings, creates the Lua tables bottom-up and adds up
their estimated Lua size, stopping as soon as the size passes the budget the runtime gives (the free Lua memory).
It runs while the runtime has lifted its memory limit (an allocation failure while lupa converts a value deadlocks
or aborts the process; see runtime.py), so building cannot fail half-way; what a refused value built is garbage of
at most the budget's size. (It was two passes, measure then build: one pass halves the cost of returning a typical
API answer to Lua, the larger part of a host call's own overhead; bench/call_overhead.py.)

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


def _pow2(n: int) -> int:
    return 1 << (n - 1).bit_length() if n > 1 else n


def _same(value: Any) -> Any:
    return value


def estimate_size(value: PlainData) -> int:
    """Estimated Lua bytes for ``value`` (what the free-memory check compares); builds nothing."""
    return _ToLua(_same, JSON_NULL, None).run(value)[1]


class _ToLua:
    """One Python -> Lua conversion. ``make_table`` turns a dict of converted entries or a list of converted
    elements into a Lua table, converting nested dicts in the same call (lupa's recursive ``table_from``, in C), so
    only the root and each array need a call of their own: an array's table must be kept, to be marked as one.
    ``_same`` only measures. Converted arrays are collected for one marking call at the end."""

    __slots__ = ("make_table", "null", "budget", "total", "active", "arrays")

    def __init__(self, make_table: Callable[[Any], Any], null: Any, budget: int | None) -> None:
        self.make_table = make_table
        self.null = null
        self.budget = budget
        self.total = 0
        self.active: set[int] = set()
        self.arrays: list[Any] = []

    def run(self, value: Any) -> tuple[Any, int]:
        converted = self.convert(value, 0)
        if type(converted) is dict:  # an object at the root; nested ones are built with it
            converted = self.make_table(converted)
        return converted, self.total

    def spend(self, cost: int) -> None:
        self.total += cost
        if self.budget is not None and self.total > self.budget:
            raise ValueTooLarge(self.total)

    def convert(self, value: Any, depth: int) -> Any:
        kind = type(value)
        # The common JSON shapes first, by exact type (isinstance chains were a third of the cost).
        if kind is str:
            data = value.encode("utf-8", "surrogateescape")
            self.spend(_STRING_COST + len(data))
            return data
        if kind is dict:
            return self.object(value, depth)
        if kind is int:
            return value if _INT_MIN <= value <= _INT_MAX else self.big_int(value)
        if value is None or value is True or value is False or kind is float:
            return value
        if kind is list or kind is LuaArray or kind is tuple:
            return self.array(value, depth)
        if isinstance(value, str):
            return self.convert(str(value), depth)
        if isinstance(value, (bytes, bytearray, memoryview)):
            data = bytes(value)
            self.spend(_STRING_COST + len(data))
            return data
        if isinstance(value, int):
            return self.convert(int(value), depth)
        if isinstance(value, float):
            return float(value)
        if isinstance(value, JsonNull):
            return self.null
        if isinstance(value, (list, tuple)):
            return self.array(value, depth)
        if isinstance(value, dict):
            return self.object(value, depth)
        raise TypeError(f"cannot pass a {kind.__name__} to Lua (plain data only)")

    @staticmethod
    def big_int(value: int) -> float:
        try:
            return float(value)
        except OverflowError:
            raise ValueError(f"an integer of {value.bit_length()} bits is too large for Lua") from None

    def enter(self, value: Any, depth: int) -> int:
        if depth >= MAX_DEPTH:
            raise ValueError(f"value nested more than {MAX_DEPTH} levels deep")
        marker = id(value)
        if marker in self.active:
            raise ValueError("value contains itself (a cycle)")
        self.active.add(marker)
        return marker

    def array(self, value: list[Any] | tuple[Any, ...], depth: int) -> Any:
        marker = self.enter(value, depth)
        cost = _TABLE_COST + _ARRAY_SLOT * len(value)
        convert, null, inner = self.convert, self.null, depth + 1
        elements = []
        append = elements.append
        for element in value:
            # Strings and numbers inline (a call per element was most of the cost); None keeps its position as
            # json.null; the rest through convert.
            kind = type(element)
            if kind is str:
                data = element.encode("utf-8", "surrogateescape")
                cost += _STRING_COST + len(data)
                append(data)
            elif element is None:
                append(null)
            elif (kind is int and _INT_MIN <= element <= _INT_MAX) or kind is float or kind is bool:
                append(element)
            else:
                append(convert(element, inner))
        self.spend(cost)
        table = self.make_table(elements)
        self.arrays.append(table)
        self.active.discard(marker)
        return table

    def object(self, value: dict[Any, Any], depth: int) -> Any:
        marker = self.enter(value, depth)
        fields: dict[Any, Any] = {}
        convert, inner = self.convert, depth + 1
        cost = 0
        for key, element in value.items():
            if element is None:
                continue  # a null field reads as absent (nil)
            if type(key) is str:
                lua_key: bytes | int = key.encode("utf-8", "surrogateescape")
                cost += _STRING_COST + len(lua_key)
            else:
                lua_key = self.key(key)
            kind = type(element)
            if kind is str:  # the usual field, inline (see array)
                data = element.encode("utf-8", "surrogateescape")
                cost += _STRING_COST + len(data)
                fields[lua_key] = data
            elif (kind is int and _INT_MIN <= element <= _INT_MAX) or kind is float or kind is bool:
                fields[lua_key] = element
            else:
                if cost:  # what this table holds so far counts before a nested value is built
                    self.spend(cost)
                    cost = 0
                fields[lua_key] = convert(element, inner)
        self.spend(cost + _TABLE_COST + _HASH_NODE * _pow2(len(fields)))
        self.active.discard(marker)
        return fields  # built by the table_from of the array or root holding it

    def key(self, key: Any) -> bytes | int:
        """A dict key that is not a str: bytes and Lua-range ints as they are, str subclasses encoded."""
        if isinstance(key, bytes):
            self.spend(_STRING_COST + len(key))
            return key
        if isinstance(key, int) and not isinstance(key, bool) and _INT_MIN <= key <= _INT_MAX:
            return key
        if isinstance(key, str):
            data = str(key).encode("utf-8", "surrogateescape")
            self.spend(_STRING_COST + len(data))
            return data
        raise TypeError(f"unsupported dict key {key!r}: keys must be str, bytes or int")


def _decode(data: bytes) -> str | bytes:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


class _Described(str):
    """A table key shown as described (``<function>``), not quoted, in a refusal's location."""


def _trail_step(key: Any) -> str:
    if type(key) is _Described:
        return f"[{key}]"
    if isinstance(key, str) and key.isidentifier():
        return f".{key}"
    return f"[{key!r}]" if isinstance(key, (str, bytes)) else f"[{key}]"


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

    def to_lua(self, value: PlainData, budget: int | None = None) -> tuple[Any, int]:
        """The Lua value for ``value`` and its estimated size in bytes of Lua memory.

        Raises TypeError/ValueError for what is not plain data, ValueTooLarge once the size passes ``budget``
        (call with the runtime's memory limit lifted: see the module docstring).
        """
        kind = type(value)
        if value is None or kind is bool or kind is float or (kind is int and _INT_MIN <= value <= _INT_MAX):
            return value, 0  # the usual scalar results need no conversion object
        table_from = self._lua.table_from
        convert = _ToLua(lambda items: table_from(items, recursive=True), self._null, budget)
        result = convert.run(value)
        if convert.arrays:
            self._mark_arrays(table_from(convert.arrays))
        return result

    # -- Lua -> Python -------------------------------------------------------------------------------------------

    def arguments(self, args: tuple[Any, ...], function: str) -> list[PlainData]:
        """A host function's arguments as plain data (``from_lua`` of each, strict). Names, accounts and numbers
        are converted here directly; only tables need a walk."""
        plain: list[PlainData] = []
        for i, value in enumerate(args, 1):
            kind = type(value)
            if kind is bytes and len(value) + _VALUE_COST <= self.max_cost:
                plain.append(_decode(value))
            elif value is None or kind is int or kind is float or kind is bool:
                plain.append(value)
            else:
                plain.append(self.from_lua(value, function=function, where=f"argument {i}"))
        return plain

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

    __slots__ = ("describe", "function", "where", "strict", "max_cost", "remaining", "active", "trail")

    def __init__(self, describe: Callable[[Any], tuple[int, Any]], function: str, where: str, strict: bool,
                 max_cost: int):
        self.describe = describe
        self.function = function
        self.where = where
        self.strict = strict
        self.max_cost = max_cost
        self.remaining = max_cost
        self.active: set[int] = set()
        self.trail: list[Any] = []  # the keys on the way to the value being converted (shown when it is refused)

    def spend(self, cost: int) -> bool:
        self.remaining -= cost
        return self.remaining >= 0

    def too_large(self) -> Any:
        return self.refuse(f"value too large to pass (more than {self.max_cost} bytes once expanded; a table or "
                           "string used in several places counts each time)", "<too large>")

    def refuse(self, problem: str, placeholder: str) -> Any:
        if not self.strict:
            return placeholder
        at = "".join(_trail_step(key) for key in self.trail)
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
        elif items and type(items[0][0]) is int and all(type(k) is int and 0 < k <= len(items) for k, _ in items):
            result = self.sequence(items, depth)
        else:
            result = self.mapping(items, depth)
        self.active.discard(ident)
        return result

    def sequence(self, items: list[tuple[Any, Any]], depth: int) -> LuaArray:
        out = LuaArray([None] * len(items))
        trail = self.trail
        for key, element in items:
            trail.append(key)
            out[key - 1] = self.convert(element, depth + 1)
            trail.pop()
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
        trail = self.trail
        for key, element in items:
            trail.append(key)
            out[key - 1] = self.convert(element, depth + 1)
            trail.pop()
        return out

    def mapping(self, items: list[tuple[Any, Any]], depth: int) -> PlainData:
        out: dict[Any, Any] = {}
        trail = self.trail
        for key, element in items:
            kind = type(key)
            if kind is bytes:
                name: Any = _decode(key)
            elif kind is int:
                name = key
            else:
                described = self.describe_key(key)
                name = self.refuse(f"unsupported table key {described} (keys must be strings or integers)",
                                   described)
            trail.append(name if kind is bytes or kind is int else _Described(name))
            if type(element) is bytes:  # the usual field, inline
                out[name] = _decode(element) if self.spend(_VALUE_COST + len(element)) else self.too_large()
            else:
                out[name] = self.convert(element, depth + 1)
            trail.pop()
        return out

    @staticmethod
    def describe_key(key: Any) -> str:
        if type(key) is float:
            return "nan" if math.isnan(key) else repr(key)
        if key is True or key is False:
            return "true" if key else "false"
        lua_kind = _lua_type(key)
        return f"<{'coroutine' if lua_kind == 'thread' else lua_kind or type(key).__name__}>"
