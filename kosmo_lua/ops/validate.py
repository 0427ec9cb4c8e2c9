"""Argument validation: a script's arguments checked against one operation, every problem collected.

``validate_args(op, args, function=...)`` takes the plain data a Lua call produced (``kosmo_lua.sandbox.values``)
and returns ``NormalisedArgs``: values sorted into path / query / header / body / engine slots, keyed by the API's
own names, with schema-guided coercions applied (an empty table becomes ``{}`` or ``[]`` as the schema says; an
integral float becomes an int where an integer is expected). When anything is wrong it raises one
``ArgumentError`` listing every problem, each naming the parameter and what was expected.

How arguments map (the same rule docs describe to scripts):

* a path/query/header parameter by its API name or its Lua name (``Prefer`` or ``prefer``);
* the body either whole as ``body = {...}`` (a string for text bodies) or as the remaining arguments, one per
  top-level body field; never both;
* a few engine-level names (``ENGINE_ARGUMENTS``) that are consumed by the engine and never sent as they are.

Rules between arguments that no single schema can say (``Operation.rules``: "strength is required when image is
given") are checked with everything else, see ``kosmo_lua.ops.rules``.

Fields a schema does not declare can only be given inside ``body = {...}`` (and only when the schema allows extra
fields), so a misspelt loose argument is always reported instead of being sent.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import ArgumentError
from ..sandbox.values import JSON_NULL, JsonNull, LuaArray, lua_type_name
from .naming import close_matches
from .rules import rule_problems
from .styles import delimiter_problem, explode_of, scalar_text, style_of
from .table import Body, BodyField, Operation, Param, Response

__all__ = [
    "ENGINE_ARGUMENTS",
    "SAVE_TO_KINDS",
    "NormalisedArgs",
    "engine_argument_names",
    "accepted_arguments",
    "validate_args",
    "describe_value",
]

#: Argument names the engine consumes itself: name -> (type, what it does). They are never sent as parameters.
#: ``save_to``/``overwrite`` apply to operations returning media or binary content (``SAVE_TO_KINDS``); ``accept``
#: to operations that offer a choice of response format (``Response.accept``): the request builder makes it Accept.
ENGINE_ARGUMENTS: dict[str, tuple[str, str]] = {
    "save_to": ("string", "write the returned file to this path and return {path, bytes, ...} instead of its data"),
    "overwrite": ("boolean", "with save_to: replace an existing file (default false)"),
    "accept": ("string", "the response format to ask for: one of the operation's Accept choices"),
}
#: Response kinds whose result (file content) can be written to disk with ``save_to``.
SAVE_TO_KINDS = frozenset({"media", "binary"})

_MAX_SHOWN = 40  # characters of a bad string value quoted back in a message


@dataclass(frozen=True)
class NormalisedArgs:
    """Validated arguments by destination, keyed by the API's names, in the operation's order."""

    path: dict[str, Any] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    #: Header values as text; an array or object (sent in the parameter's style) stays a table.
    headers: dict[str, Any] = field(default_factory=dict)
    #: Cookie parameters (``in: cookie``), sent together in one Cookie header.
    cookies: dict[str, Any] = field(default_factory=dict)
    #: None: send no body. A dict of field -> value for object bodies, a str for text bodies, any JSON value for a
    #: body given whole against a non-object schema. Binary fields (and a ``binary`` body) hold what the script gave
    #: until ``kosmo_lua.ops.files.resolve_file_inputs`` replaces them with ``FileInput``s.
    body: Any = None
    #: Engine-level arguments that were given (``save_to``, ``overwrite``, ``accept``).
    engine: dict[str, Any] = field(default_factory=dict)


def engine_argument_names(response: Response) -> tuple[str, ...]:
    """The engine-level argument names an operation with this response accepts."""
    names: list[str] = []
    if response.kind in SAVE_TO_KINDS:
        names += ["save_to", "overwrite"]
    if response.accept:
        names.append("accept")
    return tuple(names)


def accepted_arguments(op: Operation) -> list[str]:
    """Every argument name a script may pass, in the order docs list them."""
    names = [p.lua_name for p in op.params]
    if op.body is not None:
        names += [f.name for f in op.body.fields if f.name not in names]
        names.append("body")
    names += list(engine_argument_names(op.response))
    return names


# -- describing values -------------------------------------------------------------------------------------------------

_EXPECTS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "object": "an object (a table with named keys)",
    "array": "an array (a list table)",
    "binary": "a file (a path, raw bytes, {content = ..., filename = ...} or a media table)",
    "any": "a value",
}


def describe_value(value: Any) -> str:
    """A short description of a value as a script would see it: 'string "3"', 'integer 5', 'a table'."""
    if value is None:
        return "nil"
    if isinstance(value, JsonNull):
        return "json.null"
    if isinstance(value, bool):
        return f"boolean {'true' if value else 'false'}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= _MAX_SHOWN else value[:_MAX_SHOWN] + "..."
        return f"string {json.dumps(shown, ensure_ascii=False)}"
    if isinstance(value, (bytes, bytearray)):
        return f"binary data ({len(value)} bytes, not UTF-8 text)"
    if isinstance(value, list):
        return "an array" if value else "an empty table"
    if isinstance(value, dict):
        return "a table" if value else "an empty table"
    return type(value).__name__


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (str, int, float, bool)) else repr(value)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


# -- one value against one declared shape ------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Shape:
    """What one parameter or body field accepts, whatever it came from."""

    label: str  # how messages name it: "parameter 'max_instances'"
    type: str
    enum: tuple[Any, ...] = ()
    items: str | None = None
    items_enum: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    nullable: bool = False
    schema: dict[str, Any] | None = None


def _shape_of_param(p: Param) -> _Shape:
    return _Shape(f"parameter '{p.lua_name}'", p.type, p.enum, p.items, (), p.minimum, p.maximum, p.pattern,
                  p.min_length, p.max_length)


def _shape_of_field(f: BodyField) -> _Shape:
    return _Shape(f"parameter '{f.name}'", f.type, f.enum, f.items, f.items_enum, f.minimum, f.maximum, f.pattern,
                  f.min_length, f.max_length, f.nullable, f.schema)


_MISSING = object()


def _check(value: Any, shape: _Shape, problems: list[str]) -> Any:
    """The value, coerced to the shape, or _MISSING after appending the problems found."""
    if isinstance(value, JsonNull):
        if shape.nullable or shape.type == "any":
            return JSON_NULL
        problems.append(f"{shape.label} expects {_EXPECTS[shape.type]}, got json.null")
        return _MISSING
    kind = shape.type
    original = value

    def bad() -> str:  # built only for a value that is refused: most calls have none
        return f"{shape.label} expects {_EXPECTS.get(kind, kind)}, got {describe_value(original)}"

    if kind == "string":
        if not isinstance(value, str):
            problems.append(bad())
            return _MISSING
    elif kind == "integer":
        if isinstance(value, float) and value.is_integer() and math.isfinite(value):
            value = int(value)  # Lua 5.4 keeps 3.0 a float; the API wants 3
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(bad())
            return _MISSING
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(bad())
            return _MISSING
        if not math.isfinite(value):
            problems.append(f"{shape.label} expects a finite number, got {describe_value(original)}")
            return _MISSING
    elif kind == "boolean":
        if not isinstance(value, bool):
            problems.append(bad())
            return _MISSING
    elif kind == "object":
        if isinstance(value, list) and not value:
            value = {}  # an empty table is an empty object where the schema says object
        if not isinstance(value, dict):
            problems.append(bad())
            return _MISSING
        value = _coerce_nested(value, shape.schema)
        if not _json_ready(value, shape.label, problems):
            return _MISSING
    elif kind == "array":
        if isinstance(value, dict) and not value:
            value = LuaArray()
        if not isinstance(value, list):
            problems.append(bad() if not isinstance(value, dict) else
                            f"{shape.label} expects an array (a list table), got a table with named keys")
            return _MISSING
        return _check_items(LuaArray(value), shape, problems)
    elif kind == "binary":
        if not _file_like(value):
            problems.append(bad())
            return _MISSING
        return value
    elif kind == "any":
        value = _coerce_nested(value, shape.schema)
        if not _json_ready(value, shape.label, problems):
            return _MISSING
        return value
    return value if _constraints(value, shape, problems) else _MISSING


def _check_items(values: LuaArray, shape: _Shape, problems: list[str]) -> Any:
    item_shape = _Shape(shape.label, shape.items or "any", shape.items_enum,
                        schema=(shape.schema or {}).get("items") if isinstance(shape.schema, dict) else None)
    out = LuaArray()
    ok = True
    for i, item in enumerate(values, start=1):
        local: list[str] = []
        checked = _check(item, item_shape, local)
        # Name the position so a script can find the bad element: "parameter 'x'[2] expects ...".
        problems.extend(p.replace(shape.label, f"{shape.label}[{i}]", 1) for p in local)
        ok = ok and checked is not _MISSING
        out.append(checked)
    return out if ok else _MISSING


def _constraints(value: Any, shape: _Shape, problems: list[str]) -> bool:
    before = len(problems)
    if shape.enum and value not in shape.enum:
        choices = ", ".join(_show(v) for v in shape.enum)
        hint = ""
        if isinstance(value, str):
            near = close_matches(value, [str(v) for v in shape.enum], limit=1)
            hint = f". Did you mean {_show(near[0])}?" if near else ""
        problems.append(f"{shape.label} must be one of {choices}; got {_show(value)}{hint}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if shape.minimum is not None and value < shape.minimum:
            problems.append(f"{shape.label} must be at least {_num(shape.minimum)}, got {_num(value)}")
        if shape.maximum is not None and value > shape.maximum:
            problems.append(f"{shape.label} must be at most {_num(shape.maximum)}, got {_num(value)}")
    if isinstance(value, str):
        if shape.min_length is not None and len(value) < shape.min_length:
            problems.append(f"{shape.label} must be at least {shape.min_length} characters, got {len(value)}")
        if shape.max_length is not None and len(value) > shape.max_length:
            problems.append(f"{shape.label} must be at most {shape.max_length} characters, got {len(value)}")
        if shape.pattern and not _matches(shape.pattern, value):
            problems.append(f"{shape.label} must match the pattern {shape.pattern}, got {describe_value(value)}")
    return len(problems) == before


def _matches(pattern: str, value: str) -> bool:
    try:
        return re.search(pattern, value) is not None
    except re.error:
        return True  # a pattern Python cannot read is the server's to enforce


def _file_like(value: Any) -> bool:
    if isinstance(value, (str, bytes, bytearray)):
        return True
    if isinstance(value, dict):
        return any(k in value for k in ("content", "path", "body_base64", "body"))
    return type(value).__name__ == "FileInput"  # already resolved by kosmo_lua.ops.files


def _schema_type(schema: Any) -> str | None:
    if not isinstance(schema, dict):
        return None
    t = schema.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), None)
    if t is None and "properties" in schema:
        return "object"
    if t is None and "items" in schema:
        return "array"
    return t if isinstance(t, str) else None


def _coerce_nested(value: Any, schema: Any) -> Any:
    """Empty tables inside a value become {} or [] where the schema says which; everything else is kept."""
    kind = _schema_type(schema)
    if kind == "array" and isinstance(value, dict) and not value:
        return LuaArray()
    if kind == "object" and isinstance(value, list) and not value:
        return {}
    if isinstance(value, dict) and isinstance(schema, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        return {k: _coerce_nested(v, props.get(k, extra if isinstance(extra, dict) else None))
                for k, v in value.items()}
    if isinstance(value, list) and isinstance(schema, dict):
        return LuaArray(_coerce_nested(v, schema.get("items")) for v in value)
    return value


def _json_ready(value: Any, label: str, problems: list[str], where: str = "") -> bool:
    """JSON can carry the value: no raw bytes, no NaN/infinity (checked all the way down)."""
    # Labels end in a quoted name ("parameter 'input'"): the position goes inside it ("parameter 'input.image'").
    named = f"{label[:-1]}{where}'" if where and label.endswith("'") else label
    if isinstance(value, (bytes, bytearray)):
        problems.append(f"{named} is binary data ({len(value)} bytes, not UTF-8 text), which cannot be sent "
                        "as JSON text")
        return False
    if isinstance(value, float) and not math.isfinite(value):
        problems.append(f"{named} is {value!r}, which JSON cannot carry")
        return False
    if isinstance(value, dict):
        return all([_json_ready(v, label, problems, f"{where}.{k}") for k, v in value.items()])
    if isinstance(value, list):
        return all([_json_ready(v, label, problems, f"{where}[{i}]") for i, v in enumerate(value, start=1)])
    return True


# -- the whole call ----------------------------------------------------------------------------------------------------

class _Plan:
    """What validation needs from one operation, worked out on its first call instead of on every call: the
    parameters by each name they answer to, the shapes they are checked against, the names of loose body fields
    and of engine arguments."""

    __slots__ = ("op", "by_key", "params", "engine_names", "loose_names", "field_shapes")

    def __init__(self, op: Operation) -> None:
        self.op = op
        self.by_key: dict[str, Param] = {}
        for p in reversed(op.params):  # the first parameter answering to a name wins, as Operation.param says
            self.by_key[p.lua_name] = p
            self.by_key[p.name] = p
        self.params = tuple((p, _shape_of_param(p)) for p in op.params)
        self.engine_names = frozenset(engine_argument_names(op.response))
        body = op.body
        self.loose_names = frozenset(f.name for f in body.fields) \
            if body is not None and body.encoding not in ("text", "binary") else frozenset()
        self.field_shapes = {f.name: _shape_of_field(f) for f in body.fields} if body is not None else {}


_PLANS: dict[int, _Plan] = {}


def _plan(op: Operation) -> _Plan:
    # Keyed by identity (an Operation holds dicts, so it is not hashable); a plan keeps its operation alive, so the
    # id cannot pass to another one while the plan is here.
    plan = _PLANS.get(id(op))
    if plan is None:
        plan = _PLANS[id(op)] = _Plan(op)
    return plan


def validate_args(op: Operation, args: Any, *, function: str) -> NormalisedArgs:
    """Check a call's arguments against ``op``; raise ``ArgumentError(function, problems)`` listing every problem."""
    problems: list[str] = []
    if args is None or (isinstance(args, list) and not args):
        args = {}
    elif isinstance(args, list):
        raise ArgumentError(function, ["expected a table of named arguments ({name = value, ...}), got an array"])
    elif not isinstance(args, dict):
        hint = ""
        if op.body is not None and op.body.encoding == "text" and isinstance(args, str):
            hint = " (pass the text as {body = \"...\"})"
        elif op.body is not None and op.body.encoding == "binary" and isinstance(args, (str, bytes)):
            hint = " (pass the file as {body = ...})"
        raise ArgumentError(function, [f"expected a table of arguments, got {lua_type_name(args)}{hint}"])

    plan = _plan(op)
    engine_names, loose_names, by_key = plan.engine_names, plan.loose_names, plan.by_key
    body = op.body
    given_params: dict[str, tuple[str, Any]] = {}
    engine_given: dict[str, Any] = {}
    loose: dict[str, Any] = {}
    wrapper: Any = _MISSING
    unknown: list[str] = []
    for key, value in args.items():
        if value is None:
            continue
        if not isinstance(key, str):
            problems.append(f"unexpected positional value at [{key}] (arguments are named: {{name = value}})")
            continue
        p = by_key.get(key)
        if p is not None:
            if p.name in given_params:
                problems.append(f"parameter '{p.lua_name}' is given twice (as '{given_params[p.name][0]}' and "
                                f"'{key}')")
            given_params[p.name] = (key, value)
        elif key in engine_names:
            engine_given[key] = value
        elif key == "body" and body is not None:
            wrapper = value
        elif key in loose_names:
            loose[key] = value
        else:
            unknown.append(key)
    accepted = accepted_arguments(op) if unknown else []
    for key in sorted(unknown):
        near = close_matches(key, accepted, limit=1)
        hint = f" Did you mean '{near[0]}'?" if near else ""
        listing = ", ".join(accepted) if accepted else "none (call it with no arguments)"
        problems.append(f"unknown argument '{key}'.{hint} Accepted: {listing}")

    out = NormalisedArgs()
    slots = {"path": out.path, "query": out.query, "header": out.headers, "cookie": out.cookies}
    for p, shape in plan.params:
        if p.name not in given_params:
            if p.required:
                problems.append(f"missing required parameter '{p.lua_name}' ({p.location}, {p.type})")
            continue
        value = _check(given_params[p.name][1], shape, problems)
        if value is _MISSING or not _fits_style(value, p, problems):
            continue
        if p.location == "path" and not _path_value_ok(value, p, problems):
            continue
        if p.location == "header":
            value = _header_value(value, p, problems)
            if value is _MISSING:
                continue
        slots[p.location][p.name] = value

    body_value = _validate_body(body, wrapper, loose, problems, plan.field_shapes) if body is not None else None
    if op.rules:
        problems += rule_problems(op, _given_by_name(op, given_params, wrapper, loose))
    for key, value in engine_given.items():
        checked = _check_engine(op.response, key, value, problems)
        if checked is not _MISSING:
            out.engine[key] = checked
    if "overwrite" in engine_given and "save_to" not in engine_given:
        problems.append("parameter 'overwrite' only applies together with save_to")
    if problems:
        raise ArgumentError(function, problems)
    return NormalisedArgs(path=out.path, query=out.query, headers=out.headers, cookies=out.cookies, body=body_value,
                          engine=out.engine)


def _given_by_name(op: Operation, given_params: dict[str, tuple[str, Any]], wrapper: Any,
                   loose: dict[str, Any]) -> dict[str, Any]:
    """What the caller gave, by Lua name (parameters) and field name (body fields), for the operation's rules."""
    given = {p.lua_name: given_params[p.name][1] for p in op.params if p.name in given_params}
    fields = wrapper if isinstance(wrapper, dict) else loose
    if op.body is not None and op.body.encoding != "text":
        for f in op.body.fields:
            if fields.get(f.name) is not None and f.name not in given:
                given[f.name] = fields[f.name]
    return given


def _fits_style(value: Any, p: Param, problems: list[str]) -> bool:
    """An array or object parameter can be written in its style: plain values inside (tables only where the style
    sends each item as its own query value, as JSON text), and no value holding the delimiter that joins them."""
    if not isinstance(value, (list, dict)) or style_of(p) == "json":
        return True
    each_alone = p.location == "query" and isinstance(value, list) and style_of(p) == "form" and explode_of(p)
    if not each_alone:
        where = p.location if p.location != "path" else "URL path"
        entries = value.items() if isinstance(value, dict) else enumerate(value, start=1)
        for key, item in entries:
            if isinstance(item, (list, dict, bytes, bytearray, JsonNull)):
                at = f"parameter '{p.lua_name}.{key}'" if isinstance(value, dict) else \
                    f"parameter '{p.lua_name}'[{key}]"
                problems.append(f"{at} expects a string, number or boolean (it is sent as text in the {where}), "
                                f"got {describe_value(item)}")
                return False
    problem = delimiter_problem(p, value)
    if problem:
        problems.append(problem)
        return False
    return True


def _path_value_ok(value: Any, p: Param, problems: list[str]) -> bool:
    if isinstance(value, (list, dict)):
        if not value:
            problems.append(f"parameter '{p.lua_name}' must not be empty (it is part of the URL path)")
            return False
        return True
    text = _scalar_text(value)
    if text == "":
        problems.append(f"parameter '{p.lua_name}' must not be empty (it is part of the URL path)")
        return False
    if text in (".", ".."):
        # A dot segment would be collapsed by URL normalisation and reach a different endpoint.
        problems.append(f"parameter '{p.lua_name}' cannot be {text!r} (it is part of the URL path)")
        return False
    return True


def _header_value(value: Any, p: Param, problems: list[str]) -> Any:
    """Scalars become their text; an array or object stays a table (the request builder joins it), after its
    pieces are checked the same way."""
    if isinstance(value, (list, dict)) and style_of(p) != "json":
        pieces = [str(k) for k in value] if isinstance(value, dict) else []
        pieces += [_scalar_text(v) for v in (value.values() if isinstance(value, dict) else value)]
    else:
        pieces = [scalar_text(value) if isinstance(value, (list, dict)) else _scalar_text(value)]
    for text in pieces:
        if "\r" in text or "\n" in text:
            problems.append(f"parameter '{p.lua_name}' must not contain line breaks (it is sent as a header)")
            return _MISSING
        if any(not (" " <= ch <= "~" or ch == "\t") for ch in text):
            # HTTP sends header values as ASCII; anything else (é, control characters) could not go on the wire.
            problems.append(f"parameter '{p.lua_name}' must be printable ASCII text (it is sent as a header)")
            return _MISSING
    return value if isinstance(value, (list, dict)) and style_of(p) != "json" else pieces[0]


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _validate_body(body: Body, wrapper: Any, loose: dict[str, Any], problems: list[str],
                   field_shapes: dict[str, _Shape]) -> Any:
    if body.encoding == "binary":
        # The whole body is one file (read later by kosmo_lua.ops.files.resolve_file_inputs).
        if wrapper is _MISSING:
            if body.required:
                problems.append(f"missing required parameter 'body' (body, file sent as {body.content_type})")
            return None
        value = _check(wrapper, _Shape("parameter 'body'", "binary"), problems)
        return None if value is _MISSING else value
    if body.encoding == "text":
        if wrapper is _MISSING:
            if body.required:
                problems.append("missing required parameter 'body' (body, string: the request text)")
            return None
        if not isinstance(wrapper, str):
            problems.append(f"parameter 'body' expects a string (the request text), got {describe_value(wrapper)}")
            return None
        return wrapper

    if not body.fields and body.schema is not None:
        # A body that is not an object with named fields (a bare array, a number...): only `body = ...` fits.
        if wrapper is _MISSING:
            if body.required:
                problems.append(f"missing required parameter 'body' (body, {_schema_type(body.schema) or 'any'})")
            return None
        shape = _Shape("parameter 'body'", _schema_type(body.schema) or "any", schema=body.schema)
        value = _check(wrapper, shape, problems)
        return None if value is _MISSING else value

    if wrapper is not _MISSING and loose:
        problems.append("give the body either as body = {...} or as separate arguments, not both (got body and "
                        + ", ".join(f"'{k}'" for k in sorted(loose)) + ")")
        return None
    given: dict[str, Any]
    if wrapper is not _MISSING:
        if isinstance(wrapper, list) and not wrapper:
            wrapper = {}
        if not isinstance(wrapper, dict):
            problems.append(f"parameter 'body' expects a table of body fields, got {describe_value(wrapper)}")
            return None
        given = {k: v for k, v in wrapper.items() if v is not None}
    else:
        given = loose
    declared = {f.name: f for f in body.fields}
    out: dict[str, Any] = {}
    for key in sorted((k for k in given if k not in declared), key=str):
        if body.additional_properties and isinstance(key, str):
            extra = _check(given[key], _Shape(f"body field '{key}'", "any"), problems)
            if extra is not _MISSING:
                out[key] = extra
            continue
        near = close_matches(str(key), list(declared), limit=1)
        hint = f" Did you mean '{near[0]}'?" if near else ""
        problems.append(f"unknown body field '{key}'.{hint} Accepted: {', '.join(declared)}")
    anything = wrapper is not _MISSING or bool(given)
    for f in body.fields:
        if f.name not in given:
            if f.required and (body.required or anything):
                problems.append(f"missing required parameter '{f.name}' (body, {f.type})")
            continue
        value = _check(given[f.name], field_shapes[f.name], problems)
        if value is not _MISSING:
            out[f.name] = value
    if not anything and not body.required:
        return None
    # Declared fields first in the spec's order, then any extra ones: a stable order for every encoding.
    ordered = {f.name: out[f.name] for f in body.fields if f.name in out}
    ordered.update({k: v for k, v in out.items() if k not in ordered})
    return ordered


def _check_engine(response: Response, key: str, value: Any, problems: list[str]) -> Any:
    if key == "save_to":
        if not isinstance(value, str) or not value:
            got = describe_value(value)
            problems.append(f"parameter 'save_to' expects a file path (a non-empty string), got {got}")
            return _MISSING
        return value
    if key == "overwrite":
        if not isinstance(value, bool):
            problems.append(f"parameter 'overwrite' expects a boolean, got {describe_value(value)}")
            return _MISSING
        return value
    shape = _Shape("parameter 'accept'", "string", enum=response.accept)
    return _check(value, shape, problems)
