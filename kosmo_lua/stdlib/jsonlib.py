"""The script-facing ``json`` library: ``json.encode(value [, {pretty = true}])`` and ``json.decode(text)``.

Encoding is stable (object keys sorted) so scripts and tests can compare output as text. Decoding follows the
project's null convention (``kosmo_lua.sandbox.values``): a null inside an object is left out (reads as nil), a
null inside an array becomes ``JSON_NULL`` so positions survive. ``json.null`` and ``json.array`` come from the
sandbox itself; this module only registers the two functions.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from kosmo_lua.errors import ArgumentError
from kosmo_lua.sandbox.marshal import MAX_DEPTH as MARSHAL_MAX_DEPTH
from kosmo_lua.sandbox.values import JSON_NULL, JsonNull, LuaArray, PlainData
from kosmo_lua.sandbox.values import lua_type_name  # re-exported: the stdlib modules name types alike

__all__ = ["encode", "decode", "lua_encode", "lua_decode", "lua_type_name", "MAX_DEPTH"]

#: Nesting this deep is refused both ways: the same cap as the Lua <-> Python conversion, so a decoded document
#: that could not cross into Lua fails here with a clear message instead. Real API documents stay far below.
MAX_DEPTH = MARSHAL_MAX_DEPTH

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


class _EncodeProblem(Exception):
    """Internal: carries the path of the offending value up to ``encode``."""

    def __init__(self, path: str, text: str) -> None:
        super().__init__(f"{path}: {text}")


def _child_path(path: str, key: Any) -> str:
    if isinstance(key, bytes):
        # A key that is not UTF-8 is shown readably here; _object_key then refuses it, naming the bad byte.
        key = key.decode("utf-8", "replace")
    if isinstance(key, int):
        return f"{path}[{key}]"
    if isinstance(key, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def _utf8_text(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _EncodeProblem(
            path,
            f"string is not valid UTF-8 (byte 0x{data[exc.start]:02x} at byte {exc.start + 1}); "
            "JSON can only carry text, encode binary data first (for example as base64)",
        ) from None


def _object_key(key: Any, path: str) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bytes):
        return _utf8_text(key, path)
    if isinstance(key, int) and not isinstance(key, bool):
        return str(key)
    raise _EncodeProblem(path, f"cannot use a {lua_type_name(key)} key ({key!r}) in a JSON object; "
                               "keys must be strings or integers")


def _jsonable(value: Any, path: str, depth: int) -> Any:
    """Check ``value`` and turn it into what ``json.dumps`` accepts, refusing what JSON cannot say."""
    if depth >= MAX_DEPTH:
        raise _EncodeProblem(path, f"nested {MAX_DEPTH} or more levels deep")
    if value is None or isinstance(value, JsonNull):
        return None
    if isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise _EncodeProblem(path, f"{value!r} cannot be represented in JSON (JSON has no NaN or infinity)")
        return value
    if isinstance(value, bytes):
        return _utf8_text(value, path)
    if isinstance(value, (list, tuple)):
        return [_jsonable(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value, start=1)]
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            child = _child_path(path, key)
            text_key = _object_key(key, child)
            if text_key in out:
                # A Lua table may hold both t[1] and t["1"]; JSON cannot keep both.
                raise _EncodeProblem(path, f"the keys {text_key} and \"{text_key}\" would both be \"{text_key}\" in JSON")
            out[text_key] = _jsonable(item, child, depth + 1)
        return out
    raise _EncodeProblem(path, f"cannot encode a value of type {lua_type_name(value)}")


def encode(value: PlainData, *, pretty: bool = False) -> str:
    """Plain data -> JSON text. Keys sorted; compact, or indented by 2 spaces when ``pretty``.

    Raises ``ArgumentError("json.encode", ...)`` naming the path of the first value JSON cannot represent.
    """
    try:
        ready = _jsonable(value, "value", 0)
    except _EncodeProblem as exc:
        raise ArgumentError("json.encode", [str(exc)]) from None
    if pretty:
        return json.dumps(ready, ensure_ascii=False, sort_keys=True, indent=2, allow_nan=False)
    return json.dumps(ready, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)


# -- decode ----------------------------------------------------------------------------------------------------

# Python's json messages, reworded for script authors. "',' delimiter" is made precise per container below.
_MESSAGES = {
    "Expecting value": "expected a value",
    "Expecting ':' delimiter": "expected ':'",
    "Expecting property name enclosed in double quotes": "expected a key in double quotes",
    "Unterminated string starting at": "unterminated string starting",
    "Invalid control character at": "control character not allowed in a string",
    "Invalid \\escape": "invalid escape in a string",
    "Invalid \\uXXXX escape": "invalid \\u escape in a string",
    "Extra data": "unexpected text after the JSON value",
}


class _NotJson(ValueError):
    """Internal: a token Python's json accepts but JSON does not (NaN, Infinity)."""


def _refuse_constant(name: str) -> Any:
    raise _NotJson(name)


def _outside_strings(text: str) -> Any:
    """Yield (index, char) of every character outside JSON strings. Used only to explain an error."""
    in_string = escaped = False
    for i, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        else:
            yield i, ch


def _open_container(text: str, pos: int) -> str | None:
    """The innermost '{' or '[' still open at ``pos`` (None at top level)."""
    stack: list[str] = []
    for _, ch in _outside_strings(text[:pos]):
        if ch in "{[":
            stack.append(ch)
        elif ch in "}]" and stack:
            stack.pop()
    return stack[-1] if stack else None


def _position(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    column = pos - text.rfind("\n", 0, pos)
    return f"line {line} column {column} (char {pos})"


def _constant_position(text: str, name: str) -> int:
    for i, ch in _outside_strings(text):
        if ch == name[0] and text.startswith(name, i):
            return i
    return 0


def _describe(exc: json.JSONDecodeError) -> str:
    if exc.msg == "Expecting ',' delimiter":
        closer = "}" if _open_container(exc.doc, exc.pos) == "{" else "]"
        what = f"expected ',' or '{closer}'"
    else:
        what = _MESSAGES.get(exc.msg, exc.msg[:1].lower() + exc.msg[1:])
    if exc.pos >= len(exc.doc.rstrip()) and not exc.msg.startswith("Unterminated"):
        what = f"unexpected end of input, {what}"
    return f"{what} at {_position(exc.doc, exc.pos)}"


def _parse_int(digits: str) -> int | float:
    # Lua integers are 64-bit; a bigger JSON integer would not fit, so it becomes the nearest float. Long digit
    # strings skip int() altogether (Python refuses to convert more than 4300 digits).
    if len(digits) <= 20:
        number = int(digits)
        if _INT64_MIN <= number <= _INT64_MAX:
            return number
    return float(digits)


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _text(value: str) -> str:
    # JSON may spell a lone surrogate (\ud800) that no UTF-8 string can hold; show it as U+FFFD instead.
    return _LONE_SURROGATE.sub("\ufffd", value) if not value.isascii() else value


def _plain(value: Any, depth: int) -> Any:
    """Decoded JSON -> plain data following the null convention."""
    if depth >= MAX_DEPTH:
        raise ArgumentError("json.decode", [f"text: nested {MAX_DEPTH} or more levels deep"])
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, dict):
        return {_text(k): _plain(v, depth + 1) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return LuaArray(JSON_NULL if v is None else _plain(v, depth + 1) for v in value)
    return value


def decode(text: str | bytes) -> PlainData:
    """JSON text -> plain data. A top-level ``null`` gives None (nil in Lua).

    Raises ``ArgumentError("json.decode", ...)`` with the line, column and character offset of the problem.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ArgumentError("json.decode", [
                f"text: not valid UTF-8 (byte 0x{text[exc.start]:02x} at byte {exc.start + 1})"]) from None
    if not isinstance(text, str):
        raise ArgumentError("json.decode", [f"text: expected a string, got {lua_type_name(text)}"])
    try:
        raw = json.loads(text, parse_int=_parse_int, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise ArgumentError("json.decode", [_describe(exc)]) from None
    except _NotJson as exc:
        name = str(exc)
        where = _position(text, _constant_position(text, name))
        raise ArgumentError("json.decode", [f"{name} is not valid JSON at {where}"]) from None
    except RecursionError:
        raise ArgumentError("json.decode", ["text: nested too deeply"]) from None
    return _plain(raw, 0)


# -- Lua bindings ----------------------------------------------------------------------------------------------


def lua_encode(value: PlainData = None, options: PlainData = None, *extra: PlainData) -> str:
    pretty = False
    if options is not None:
        if not isinstance(options, dict):
            raise ArgumentError("json.encode", [
                f"options: expected a table like {{pretty = true}}, got {lua_type_name(options)}"])
        unknown = sorted(str(k) for k in options if k != "pretty")
        if unknown:
            raise ArgumentError("json.encode", [f"options: unknown option {', '.join(unknown)} (known: pretty)"])
        pretty_opt = options.get("pretty", False)
        if not isinstance(pretty_opt, bool):
            raise ArgumentError("json.encode", [
                f"options.pretty: expected a boolean, got {lua_type_name(pretty_opt)}"])
        pretty = pretty_opt
    if extra:
        raise ArgumentError("json.encode", [f"expected at most 2 arguments (value, options), got {2 + len(extra)}"])
    return encode(value, pretty=pretty)


def lua_decode(text: PlainData = None, *extra: PlainData) -> PlainData:
    if extra:
        raise ArgumentError("json.decode", [f"expected 1 argument (text), got {1 + len(extra)}"])
    if not isinstance(text, (str, bytes)):
        raise ArgumentError("json.decode", [f"text: expected a string, got {lua_type_name(text)}"])
    return decode(text)
