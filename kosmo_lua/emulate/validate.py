"""Checks a decoded request value against a small JSON Schema subset and reports every problem found.

Emulators validate request bodies themselves (strictly, like the real API) so that clients are tested against
something that refuses what the API would refuse. Supported keywords: type (one or a list), enum, minimum, maximum,
minLength, maxLength, pattern, properties, required, additionalProperties (bool), items.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["Problem", "check"]


@dataclass(frozen=True)
class Problem:
    field: str  # dotted path: "input.prompt"
    kind: str  # required | unknown | type | enum | minimum | maximum | length | pattern
    message: str  # "input.prompt: is required"


_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


def _is(value: Any, type_name: str) -> bool:
    if type_name == "null":
        return value is None
    if isinstance(value, bool) and type_name != "boolean":
        return False  # JSON true is not the number 1
    if type_name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES.get(type_name, (object,)))


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {value!r}" if len(value) <= 40 else "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def check(value: Any, schema: dict[str, Any], where: str) -> list[Problem]:
    """Every way ``value`` breaks ``schema``; ``where`` names it in messages ("body", "input")."""
    problems: list[Problem] = []
    _check(value, schema, where, problems)
    return problems


def _check(value: Any, schema: dict[str, Any], where: str, out: list[Problem]) -> None:
    def add(kind: str, text: str) -> None:
        out.append(Problem(where, kind, f"{where}: {text}"))

    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        if not any(_is(value, t) for t in names):
            add("type", f"expected {' or '.join(names)}, got {_describe(value)}")
            return
    if "enum" in schema and value not in schema["enum"]:
        add("enum", f"must be one of {', '.join(repr(v) for v in schema['enum'])}, got {_describe(value)}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            add("minimum", f"must be >= {schema['minimum']}, got {value!r}")
        if "maximum" in schema and value > schema["maximum"]:
            add("maximum", f"must be <= {schema['maximum']}, got {value!r}")
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            add("length", f"must be at least {schema['minLength']} characters long")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            add("length", f"must be at most {schema['maxLength']} characters long")
        if "pattern" in schema and re.search(schema["pattern"], value) is None:
            add("pattern", f"{_describe(value)} does not match {schema['pattern']}")
    if isinstance(value, dict):
        props: dict[str, Any] = schema.get("properties", {})
        for name in schema.get("required", ()):
            if name not in value:
                out.append(Problem(f"{where}.{name}", "required", f"{where}.{name}: is required"))
        if schema.get("additionalProperties") is False:
            for name in value:
                if name not in props:
                    allowed = ", ".join(sorted(props)) or "none"
                    out.append(Problem(f"{where}.{name}", "unknown",
                                       f"{where}.{name}: is not a known field (expected: {allowed})"))
        for name, sub in props.items():
            if name in value:
                _check(value[name], sub, f"{where}.{name}", out)
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            _check(item, schema["items"], f"{where}[{i}]", out)
