"""Checking call arguments against a tool's JSON Schema, with messages that name the parameter.

Used for the agent tools' own arguments and for MCP tool calls from Lua (the server's ``inputSchema``). The
checking itself is the ``jsonschema`` package (a dependency of the MCP SDK, so always present where MCP is); this
module only prepares the value (Lua plain data -> JSON) and words the problems in our style::

    timezone: expected string, got integer 5
    limit: must be at most 50, got 80
    colour: unknown argument (expected one of: size, weight)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..errors import ArgumentError
from ..ops.validate import describe_value
from ..sandbox.values import JsonNull

__all__ = ["check_arguments", "to_json_value", "schema_problems"]

def _describe(value: Any) -> str:
    """A JSON value as a tool-call error names it; scalars read exactly as in operation argument errors."""
    if value is None:
        return "null"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return describe_value(value)


def _where(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class _NotJson(ValueError):
    pass


def to_json_value(value: Any, path: str = "") -> Any:
    """Plain data (from Lua or a host) as JSON data: json.null -> None, integer keys -> strings; bytes that are not
    UTF-8 cannot be sent and raise ValueError naming where they are."""
    if isinstance(value, JsonNull):
        return None
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise _NotJson(f"{path or 'value'}: binary data (not UTF-8 text) cannot be sent as JSON") from None
    if isinstance(value, Mapping):
        return {str(k): to_json_value(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_value(v, f"{path}[{i}]") for i, v in enumerate(value, 1)]
    return value


def _coerce_empty(value: Any, schema: Any) -> Any:
    """An empty Lua table arrives as {} whatever was meant; where the schema wants an array, make it []."""
    if not isinstance(schema, Mapping):
        return value
    kinds = schema.get("type")
    wants_array = kinds == "array" or (isinstance(kinds, list) and "array" in kinds and "object" not in kinds)
    if value == {} and wants_array:
        return []
    if isinstance(value, dict):
        props = schema.get("properties")
        if isinstance(props, Mapping):
            return {k: _coerce_empty(v, props.get(k)) for k, v in value.items()}
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [_coerce_empty(v, schema["items"]) for v in value]
    return value


def _problem(error: Any) -> str:
    where = _where(error.absolute_path)
    kind = error.validator
    value = error.instance
    if kind == "required":
        missing = [p for p in error.validator_value if isinstance(value, dict) and p not in value]
        names = ", ".join(f"{where}.{m}" if where else m for m in missing) or where
        return f"{names}: required but missing"
    if kind == "additionalProperties" and isinstance(value, dict):
        allowed = sorted((error.schema.get("properties") or {}).keys())
        extra = sorted(k for k in value if k not in allowed)
        shown = ", ".join(f"{where}.{k}" if where else k for k in extra)
        hint = f" (expected one of: {', '.join(allowed)})" if allowed else " (this tool takes no arguments)"
        return f"{shown}: unknown argument{hint}"
    label = where or "arguments"
    if kind == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return f"{label}: expected {expected}, got {_describe(value)}"
    if kind == "enum":
        return f"{label}: expected one of {', '.join(json.dumps(v) for v in error.validator_value)}, got " \
               f"{_describe(value)}"
    if kind == "const":
        return f"{label}: expected {json.dumps(error.validator_value)}, got {_describe(value)}"
    if kind in ("minimum", "exclusiveMinimum"):
        word = "at least" if kind == "minimum" else "more than"
        return f"{label}: must be {word} {error.validator_value}, got {_describe(value)}"
    if kind in ("maximum", "exclusiveMaximum"):
        word = "at most" if kind == "maximum" else "less than"
        return f"{label}: must be {word} {error.validator_value}, got {_describe(value)}"
    if kind == "minLength":
        return f"{label}: must be at least {error.validator_value} characters long"
    if kind == "maxLength":
        return f"{label}: must be at most {error.validator_value} characters long"
    if kind == "pattern":
        return f"{label}: must match the pattern {error.validator_value}, got {_describe(value)}"
    if kind == "minItems":
        return f"{label}: must have at least {error.validator_value} items"
    if kind == "maxItems":
        return f"{label}: must have at most {error.validator_value} items"
    return f"{label}: {error.message}"


def schema_problems(value: Any, schema: Mapping[str, Any]) -> list[str]:
    """Every way value breaks schema, worded for a person; [] when it fits (or the schema itself is unusable)."""
    import jsonschema

    try:
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        validator = cls(schema)
    except Exception:  # a server's broken schema must not stop the call: the server validates too
        return []
    try:
        errors = sorted(validator.iter_errors(value), key=lambda e: (list(map(str, e.absolute_path)), e.validator))
    except Exception:  # e.g. an unresolvable $ref
        return []
    problems: list[str] = []
    for error in errors:
        text = _problem(error)
        if text not in problems:
            problems.append(text)
    return problems


def check_arguments(function: str, args: Any, schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """args (plain data, None meaning {}) as a JSON object that fits schema, or an ArgumentError listing every
    problem, each naming the parameter."""
    if args is None:
        args = {}
    if isinstance(args, list) and not args:
        args = {}
    if not isinstance(args, Mapping):
        raise ArgumentError(function, [f"expected one table of named arguments, got {_describe(args)}"])
    try:
        data = to_json_value(args)
    except _NotJson as exc:
        raise ArgumentError(function, [str(exc)]) from None
    if schema:
        data = _coerce_empty(data, schema)
        problems = schema_problems(data, schema)
        if problems:
            raise ArgumentError(function, problems)
    return data
