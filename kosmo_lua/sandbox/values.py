"""Plain data that crosses the Lua <-> Python boundary, and the two markers that keep JSON's distinctions.

Host functions never see Lua objects and never hand Python objects to Lua. The marshal layer
(``kosmo_lua.sandbox.marshal``) converts both ways using only these shapes:

============================  ====================================================================================
Lua                           Python
============================  ====================================================================================
nil                           None
boolean, integer, float       bool, int, float (integers stay integers)
string                        str when valid UTF-8, else bytes (Lua strings are byte strings)
json.null                     JSON_NULL
table marked as array         LuaArray (also: a table whose keys are exactly 1..n, n >= 1)
other table                   dict (keys: str, or int for non-sequence integer keys); ``{}`` unmarked -> {}
function, coroutine, userdata  refused with a clear error ("cannot pass a function to json.encode")
============================  ====================================================================================

Python -> Lua: dict -> table (``None`` values are left out: a JSON null in an object reads as nil, so
``if prediction.error then`` is false when the API sent null), list/tuple -> table marked as array (``None``
elements become ``json.null`` so positions survive), JSON_NULL -> json.null, bytes -> Lua string.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs milliseconds of start-up; type checkers read the names below anyway
if TYPE_CHECKING:
    from typing import Any


__all__ = ["JSON_NULL", "JsonNull", "LuaArray", "PlainData", "lua_type_name"]


class JsonNull:
    """The single value ``json.null`` maps to. Falsy, so ``if value`` reads naturally in Python."""

    _instance: "JsonNull | None" = None

    def __new__(cls) -> "JsonNull":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "JSON_NULL"


JSON_NULL = JsonNull()


class LuaArray(list):  # type: ignore[type-arg]
    """A list that must stay an array on the way back to Lua and into JSON, even when empty."""


if TYPE_CHECKING:
    PlainData = Any  # None | bool | int | float | str | bytes | JsonNull | list | dict, nested
else:
    PlainData = object  # a name to import at run time; annotations are never evaluated


def lua_type_name(value: Any) -> str:
    """The Lua type a plain value came from, as error messages a script reads should name it."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, (str, bytes, bytearray)):
        return "string"
    if isinstance(value, JsonNull):
        return "json.null"
    if isinstance(value, (dict, list, tuple)):
        return "table"
    return type(value).__name__
