"""One agent tool per integration operation, with an input schema derived from the operation table.

The tool ``replicate_create_prediction`` takes exactly the arguments ``app.integrations.replicate.create_prediction``
takes (Lua names, required flags, types, enums, ranges, descriptions; file fields as local paths) and runs that call
through the same ScriptRunner as ``execute_lua``. Arguments travel as a JSON string literal decoded inside Lua, so
nothing in them is ever evaluated as code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .specs import ToolSpec
from ..run.source import lua_long_string, operation_call_source  # re-exported for agent hosts

if TYPE_CHECKING:
    from ..ops.table import Body, BodyField, Operation, Param

__all__ = ["operation_specs", "operation_input_schema", "operation_call_source", "lua_long_string", "tool_name"]

_JSON_TYPES = {"string": "string", "integer": "integer", "number": "number", "boolean": "boolean",
               "object": "object", "array": "array"}
_RETURNS = {
    "json": "Returns the API's JSON answer.",
    "empty": "Returns an empty object on success.",
    "text": "Returns {body, content_type}.",
    "binary": "Returns {content_type, body_base64}, or {path, bytes} with save_to.",
    "media": "Returns {content_type, body_base64, ...}, or {path, bytes, ...} with save_to.",
}
_FILE_NOTE = "A local file path (read by kosmo and uploaded)."


def tool_name(integration: str, op: "Operation") -> str:
    return f"{integration}_{op.name}"


def _base_schema(type_: str, items: str | None) -> dict[str, Any]:
    if type_ == "binary":
        return {"type": "string"}
    schema: dict[str, Any] = {}
    if type_ in _JSON_TYPES:
        schema["type"] = _JSON_TYPES[type_]
    if type_ == "array" and items:
        schema["items"] = {"type": "string"} if items == "binary" else (
            {"type": _JSON_TYPES[items]} if items in _JSON_TYPES else {})
    return schema


def _with_common(schema: dict[str, Any], *, description: str, enum: tuple[Any, ...], default: Any,
                 minimum: float | None, maximum: float | None, pattern: str | None = None,
                 min_length: int | None = None, max_length: int | None = None) -> dict[str, Any]:
    if description:
        schema["description"] = description
    if enum:
        schema["enum"] = list(enum)
    if default is not None:
        schema["default"] = default
    if minimum is not None:
        schema["minimum"] = minimum
    if maximum is not None:
        schema["maximum"] = maximum
    if pattern:
        schema["pattern"] = pattern
    if min_length is not None:
        schema["minLength"] = min_length
    if max_length is not None:
        schema["maxLength"] = max_length
    return schema


def _param_schema(p: "Param") -> dict[str, Any]:
    where = {"path": "URL path", "query": "query", "header": "header", "cookie": "cookie"}[p.location]
    description = f"{p.description} ({where} parameter)" if p.description else f"({where} parameter)"
    return _with_common(_base_schema(p.type, p.items), description=description, enum=p.enum, default=p.default,
                        minimum=p.minimum, maximum=p.maximum, pattern=p.pattern, min_length=p.min_length,
                        max_length=p.max_length)


def _field_schema(f: "BodyField") -> dict[str, Any]:
    if f.type == "binary":
        description = f"{f.description} {_FILE_NOTE}".strip()
        return _with_common({"type": "string"}, description=description, enum=(), default=None, minimum=None,
                            maximum=None)
    if f.schema and f.type in ("object", "array", "any"):
        # Nested shapes only the original JSON Schema can say; our description and enums still apply on top.
        schema = dict(f.schema)
        schema.pop("title", None)
    else:
        schema = _base_schema(f.type, f.items)
        if f.items_enum and isinstance(schema.get("items"), dict):
            schema["items"]["enum"] = list(f.items_enum)
    schema = _with_common(schema, description=f.description or str(schema.get("description", "")), enum=f.enum,
                          default=f.default, minimum=f.minimum, maximum=f.maximum, pattern=f.pattern,
                          min_length=f.min_length, max_length=f.max_length)
    if f.nullable and isinstance(schema.get("type"), str):
        schema["type"] = [schema["type"], "null"]
    return schema


def _body_properties(body: "Body", taken: set[str]) -> tuple[dict[str, Any], list[str]]:
    props: dict[str, Any] = {}
    required: list[str] = []
    if body.encoding == "binary":
        what = body.description or f"The file to send as the request body ({body.content_type})."
        props["body"] = {"type": "string", "description": f"{what} {_FILE_NOTE}"}
        if body.required:
            required.append("body")
        return props, required
    if body.encoding == "text":
        props["body"] = {"type": "string", "description": body.description or "The request body (text)."}
        if body.required:
            required.append("body")
        return props, required
    if not body.fields and body.schema is not None:
        schema = dict(body.schema)
        schema.setdefault("description", body.description or "The whole request body.")
        props["body"] = schema
        if body.required:
            required.append("body")
        return props, required
    for f in body.fields:
        if f.name in taken:
            continue
        props[f.name] = _field_schema(f)
        if f.required and body.required:
            required.append(f.name)
    return props, required


def operation_input_schema(op: "Operation") -> dict[str, Any]:
    """The JSON Schema of the arguments table the Lua function takes."""
    from ..ops.validate import ENGINE_ARGUMENTS, engine_argument_names

    props: dict[str, Any] = {}
    required: list[str] = []
    for p in op.params:
        props[p.lua_name] = _param_schema(p)
        if p.required:
            required.append(p.lua_name)
    open_body = False
    if op.body is not None:
        body_props, body_required = _body_properties(op.body, set(props))
        props.update(body_props)
        required += body_required
        open_body = op.body.additional_properties and op.body.encoding not in ("text", "binary") \
            and bool(op.body.fields)
    for name in engine_argument_names(op.response):
        type_, what = ENGINE_ARGUMENTS[name]
        schema: dict[str, Any] = {"type": type_, "description": what[0].upper() + what[1:] + "."}
        if name == "accept" and op.response.accept:
            schema["enum"] = list(op.response.accept)
        props[name] = schema
    schema = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    if not open_body:
        schema["additionalProperties"] = False
    return schema


def _description(integration: str, op: "Operation") -> str:
    text = op.summary.strip()
    if op.description and op.description.strip() != text:
        first = op.description.strip().split("\n\n", 1)[0]
        text = f"{text} {first}" if text else first
    access = "Reads only." if op.access == "read" else \
        "Changes data: refused unless the user allows writes to this integration."
    returns = _RETURNS.get(op.response.kind, "")
    rules = ""
    if op.rules:
        from ..ops.rules import describe_rule

        rules = " " + " ".join(describe_rule(op, rule, code=False) for rule in op.rules)
    return (f"{text} ({op.method} {op.path}; the Lua function app.integrations.{integration}.{op.name}.){rules} "
            f"{access} {returns}").strip()


def operation_specs(integrations: list[str] | None = None) -> list[ToolSpec]:
    """A ToolSpec for every operation of every bundled integration (or of the ones named)."""
    from ..registry import discover, get_loaded

    specs: list[ToolSpec] = []
    for name in integrations if integrations is not None else sorted(discover()):
        loaded = get_loaded(name)
        for op in loaded.table.operations:
            specs.append(ToolSpec(
                name=tool_name(name, op), title=f"{name}.{op.name}", description=_description(name, op),
                input_schema=operation_input_schema(op), read_only=op.access == "read",
                operation=f"{name}.{op.name}"))
    return specs
