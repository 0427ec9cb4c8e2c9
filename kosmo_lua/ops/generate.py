"""The OpenAPI -> operation table generator.

``generate_table(spec, names, integration)`` turns an OpenAPI 3.0/3.1 document (already parsed) plus an
integration's hand decisions (``names.yaml``) into an ``OperationTable``; ``generate_integration`` does the file
work around it and writes ``operations.yaml`` through ``render_table``.

The generator is the only place that reads JSON Schema in its many spellings (``$ref`` chains, ``allOf``,
``nullable: true`` vs ``type: [x, "null"]``, ``format: binary`` vs ``contentMediaType``...). Everything after it reads
the small vocabulary of ``kosmo_lua.ops.table``. Problems in the document or in ``names.yaml`` are ``ConfigError``
naming the operation and what is wrong.

``names.yaml`` layout (every key optional)::

    integration: replicate          # defaults to the folder name
    title: ...                      # defaults to the spec's info.title
    spec_text: false                # copy the spec's prose (descriptions, examples) into the table? default true
    title_aliases: false            # derive aliases from operation summaries? default true
    drop_params: [name, ...]        # parameters no operation exposes (the engine supplies them)
    descriptions: {name: text}      # our words for parameters / body fields, shared by all operations
    x-anything: ...                 # ignored: room for YAML anchors that operations share
    operations:
      <operationId>:
        name, aliases, title_alias (false: no title-derived alias), family, summary, description, example,
        access, auth, headers, extra, drop_params, body_required, body_content_type, body_description,
        params: {name: text}, fields: {name: text},          # per-operation descriptions
        response: {header_fields, json_fields, description}
        rules: [{when: {arg: condition}, require: [arg, ...], forbid: [arg, ...]}, ...]   # kosmo_lua.ops.rules
        skip: true                                             # leave the operation out of the table
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .naming import is_lua_identifier, lua_param_name, snake_case, title_alias
from .rules import Rule, normalise_rule, rule_from_data
from .styles import DEFAULT_STYLES, STYLES, default_explode
from .table import Body, BodyField, Operation, OperationTable, Param, Response, table_to_data
from .validate import engine_argument_names

__all__ = [
    "HTTP_METHODS",
    "READ_METHODS",
    "ENGINE_HEADER_PARAMS",
    "generate_table",
    "generate_integration",
    "render_table",
    "load_spec",
    "spec_sha256",
]

#: Method keys of a path item, in the order they are read. ``query`` is not in OpenAPI 3.1 but Replicate uses it
#: for the HTTP QUERY method (a GET with a body), so it is read like the others.
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace", "query")
#: Methods that only read: permissions treat everything else as a write.
READ_METHODS = frozenset({"GET", "HEAD", "QUERY"})
#: OpenAPI says header parameters with these names SHALL be ignored: the client sets them (credentials, body
#: encoding, content negotiation). An ``accept`` parameter's enum still becomes the operation's Accept choices.
ENGINE_HEADER_PARAMS = frozenset({"accept", "content-type", "authorization"})
#: Response headers that describe the transfer, not the result: never turned into result fields.
TRANSFER_HEADERS = frozenset({"content-type", "content-length", "transfer-encoding", "date", "connection"})

_NAMES_TOP_KEYS = frozenset({"integration", "title", "spec_text", "title_aliases", "drop_params", "descriptions",
                             "operations"})
_NAMES_OP_KEYS = frozenset({
    "name", "aliases", "title_alias", "family", "summary", "description", "example", "access", "auth", "headers",
    "extra", "drop_params", "body_required", "body_content_type", "body_description", "params", "fields",
    "response", "rules", "skip",
})
_NAMES_RESPONSE_KEYS = frozenset({"header_fields", "json_fields", "description"})
#: Schema keys that are prose or samples, left out of stored schemas when the spec's text must not be copied.
_PROSE_KEYS = frozenset({"description", "title", "example", "examples", "summary", "externalDocs", "$comment"})
_MAX_INLINE_DEPTH = 32
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


# -- $ref resolution ---------------------------------------------------------------------------------------------------

class _Refs:
    """Resolves local ``$ref``s of one document, refusing cycles and external references."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec

    def target(self, ref: str) -> Any:
        if not ref.startswith("#/"):
            raise ConfigError(f"unsupported $ref {ref!r}: only references inside the document (#/...) are read")
        node: Any = self.spec
        for raw in ref[2:].split("/"):
            key = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and key in node:
                node = node[key]
            elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
                node = node[int(key)]
            else:
                raise ConfigError(f"$ref {ref!r} points to nothing")
        return node

    def deref(self, node: Any) -> Any:
        """Follow a chain of ``$ref``s; sibling keys of a ``$ref`` (allowed in 3.1) override the target's."""
        seen: list[str] = []
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if ref in seen:
                raise ConfigError(f"circular $ref: {' -> '.join([*seen, ref])}")
            seen.append(ref)
            target = self.target(ref)
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            node = {**target, **siblings} if isinstance(target, dict) and siblings else target
        return node

    def inline(self, schema: Any, *, keep_prose: bool, stack: tuple[str, ...] = ()) -> Any:
        """A copy of ``schema`` with every ``$ref`` replaced by its target; a recursive shape is cut with a marker."""
        if isinstance(schema, list):
            return [self.inline(s, keep_prose=keep_prose, stack=stack) for s in schema]
        if not isinstance(schema, dict):
            return schema
        ref = schema.get("$ref")
        if isinstance(ref, str):
            if ref in stack or len(stack) >= _MAX_INLINE_DEPTH:
                # A schema that contains itself (a tree node) cannot be inlined; name it instead.
                return {"x-recursive": ref.rsplit("/", 1)[-1]}
            target = self.target(ref)
            siblings = {k: v for k, v in schema.items() if k != "$ref"}
            merged = {**target, **siblings} if isinstance(target, dict) else target
            return self.inline(merged, keep_prose=keep_prose, stack=(*stack, ref))
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key.startswith("x-") or (not keep_prose and key in _PROSE_KEYS):
                continue
            if key in ("properties", "patternProperties", "$defs", "definitions") and isinstance(value, dict):
                # Keys here are property names, not schema keywords: never filter them.
                out[key] = {k: self.inline(v, keep_prose=keep_prose, stack=stack) for k, v in value.items()}
            else:
                out[key] = self.inline(value, keep_prose=keep_prose, stack=stack)
        return out


# -- JSON Schema -> the table's vocabulary -----------------------------------------------------------------------------

_SCALARS = ("string", "integer", "number", "boolean", "object", "array")


def _flat(refs: _Refs, schema: Any, depth: int = 0) -> dict[str, Any]:
    """One level of a schema in a single spelling: allOf merged, oneOf/anyOf/type lists/enum nulls -> nullable.

    Returns a dict with at most: type (one of _SCALARS or 'any'), nullable, enum, format, items (raw),
    properties (raw), required, additionalProperties, minimum, maximum, minLength, maxLength, pattern, default,
    contentMediaType, contentEncoding, readOnly, description, example.
    """
    schema = refs.deref(schema)
    if not isinstance(schema, dict) or depth > _MAX_INLINE_DEPTH:
        return {"type": "any"}
    out: dict[str, Any] = {}
    for part in schema.get("allOf") or ():
        _merge_into(out, _flat(refs, part, depth + 1))
    own = {k: v for k, v in schema.items() if k not in ("allOf", "oneOf", "anyOf")}
    nullable = bool(own.pop("nullable", False))
    t = own.pop("type", None)
    if isinstance(t, list):
        if "null" in t:
            nullable = True
        t = [x for x in t if x != "null"]
        t = t[0] if len(t) == 1 else ("any" if t else None)
    if t is not None:
        own["type"] = t
    if "const" in own:
        own["enum"] = [own.pop("const")]
    if isinstance(own.get("enum"), list) and None in own["enum"]:
        nullable = True
        own["enum"] = [v for v in own["enum"] if v is not None]
    variants = schema.get("oneOf") or schema.get("anyOf")
    if variants:
        real = [_flat(refs, v, depth + 1) for v in variants if not _is_null_schema(refs.deref(v))]
        nullable = nullable or len(real) < len(variants) or any(f.get("nullable") for f in real)
        if len(real) == 1:
            _merge_into(out, real[0])
        else:
            kinds = {f.get("type", "any") for f in real}
            if len(kinds) == 1 and "object" not in kinds and "array" not in kinds:
                out.setdefault("type", kinds.pop())
            else:
                out.setdefault("type", "any")
    _merge_into(out, own, override=True)  # the schema's own keywords are more specific than what it extends
    if "type" not in out:
        if "properties" in out or "additionalProperties" in out:
            out["type"] = "object"
        elif "items" in out:
            out["type"] = "array"
        else:
            out["type"] = _type_of_values(out.get("enum") or ())
    if out["type"] == "null":
        out["type"] = "any"
        nullable = True
    if out["type"] not in _SCALARS:
        out["type"] = "any"
    if nullable or out.get("nullable"):
        out["nullable"] = True
    return out


def _is_null_schema(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return False
    t = schema.get("type")
    return t == "null" or t == ["null"] or schema.get("enum") == [None] or ("const" in schema and
                                                                            schema["const"] is None)


def _type_of_values(values: Any) -> str:
    """The JSON type shared by every value of an enum/const without a declared type, else 'any'."""
    kinds = set()
    for v in values:
        if isinstance(v, bool):
            kinds.add("boolean")
        elif isinstance(v, int):
            kinds.add("integer")
        elif isinstance(v, float):
            kinds.add("number")
        elif isinstance(v, str):
            kinds.add("string")
        else:
            kinds.add("any")
    if kinds == {"integer", "number"}:
        return "number"
    return kinds.pop() if len(kinds) == 1 else "any"


def _merge_into(target: dict[str, Any], extra: dict[str, Any], *, override: bool = False) -> None:
    """Properties and required lists are united (in order); other keywords are kept or, with override, replaced."""
    for key, value in extra.items():
        if key == "properties" and isinstance(value, dict):
            merged = dict(target.get("properties", {}))
            for name, prop in value.items():
                if override or name not in merged:
                    merged[name] = prop
            target["properties"] = merged
        elif key == "required" and isinstance(value, list):
            have = target.get("required", [])
            target["required"] = [*have, *(r for r in value if r not in have)]
        elif override or key not in target:
            target[key] = value


def _bounds(flat: dict[str, Any]) -> tuple[float | None, float | None]:
    """Inclusive bounds; exclusive ones are tightened for integers and kept as the bound for numbers."""
    lo, hi = flat.get("minimum"), flat.get("maximum")
    step = 1 if flat.get("type") == "integer" else 0
    ex_lo, ex_hi = flat.get("exclusiveMinimum"), flat.get("exclusiveMaximum")
    if isinstance(ex_lo, (int, float)) and not isinstance(ex_lo, bool):  # 3.1 spelling
        lo = ex_lo + step
    elif ex_lo is True and lo is not None:  # 3.0 spelling
        lo = lo + step
    if isinstance(ex_hi, (int, float)) and not isinstance(ex_hi, bool):
        hi = ex_hi - step
    elif ex_hi is True and hi is not None:
        hi = hi - step
    return lo, hi


def _is_binary(flat: dict[str, Any]) -> bool:
    if flat.get("type") != "string":
        return False
    # 3.0 says format: binary; 3.1 says contentMediaType without a text encoding (base64 text stays a string).
    return flat.get("format") == "binary" or ("contentMediaType" in flat and "contentEncoding" not in flat)


def _field_type(refs: _Refs, flat: dict[str, Any]) -> tuple[str, str | None, tuple[Any, ...]]:
    """(type, items type, items enum) in the table's vocabulary."""
    if _is_binary(flat):
        return "binary", None, ()
    kind = flat["type"]
    if kind != "array":
        return kind, None, ()
    items = _flat(refs, flat.get("items", {}))
    item_kind = "binary" if _is_binary(items) else items["type"]
    return "array", item_kind, tuple(items.get("enum") or ())


def _empty(value: Any) -> bool:
    return value is None or value == {} or value == [] or value == ""


def _clean_default(value: Any) -> Any:
    # Empty containers are dropped by the table's serialiser; dropping them here keeps the YAML round trip exact.
    return None if _empty(value) else value


def _stored_schema(schema: Any) -> Any:
    """A schema as the table stores it: empty keywords left out, as the YAML serialiser would leave them out."""
    if isinstance(schema, dict):
        out = {}
        for key, value in schema.items():
            value = _stored_schema(value)
            if _empty(value) and key != "required":
                continue
            out[key] = value
        return out or None
    if isinstance(schema, list):
        # Inside lists the serialiser keeps every element, an emptied mapping as {}.
        return [(_stored_schema(v) or {}) if isinstance(v, dict) else _stored_schema(v) for v in schema]
    return schema


# -- names.yaml --------------------------------------------------------------------------------------------------------

class _Names:
    """The hand decisions, checked for unknown keys so a typo in names.yaml is an error, not a silent no-op."""

    def __init__(self, data: dict[str, Any] | None) -> None:
        data = dict(data or {})
        # "x-..." keys are free for YAML anchors shared by several operations.
        unknown = {k for k in data if k not in _NAMES_TOP_KEYS and not str(k).startswith("x-")}
        if unknown:
            raise ConfigError(f"names.yaml: unknown keys {sorted(unknown)} (known: {sorted(_NAMES_TOP_KEYS)})")
        self.data = data
        self.spec_text = bool(data.get("spec_text", True))
        self.title_aliases = bool(data.get("title_aliases", True))
        self.drop_params = {str(p).lower() for p in data.get("drop_params") or ()}
        self.descriptions: dict[str, str] = {str(k): str(v) for k, v in (data.get("descriptions") or {}).items()}
        self.operations: dict[str, dict[str, Any]] = {}
        for op_id, entry in (data.get("operations") or {}).items():
            entry = dict(entry or {})
            bad = set(entry) - _NAMES_OP_KEYS
            if bad:
                raise ConfigError(f"names.yaml: operation {op_id!r}: unknown keys {sorted(bad)} "
                                  f"(known: {sorted(_NAMES_OP_KEYS)})")
            bad = set(entry.get("response") or {}) - _NAMES_RESPONSE_KEYS
            if bad:
                raise ConfigError(f"names.yaml: operation {op_id!r}: unknown response keys {sorted(bad)}")
            self.operations[str(op_id)] = entry

    def entry(self, op_id: str) -> dict[str, Any]:
        return self.operations.get(op_id, {})

    def describe(self, entry: dict[str, Any], section: str, name: str, spec_text: str) -> str:
        own = (entry.get(section) or {}).get(name)
        if own is not None:
            return str(own).strip()
        if name in self.descriptions:
            return self.descriptions[name].strip()
        return spec_text.strip() if self.spec_text else ""


# -- one operation -----------------------------------------------------------------------------------------------------

def _params(refs: _Refs, names: _Names, entry: dict[str, Any], where: str, path_item: dict[str, Any],
            raw_op: dict[str, Any]) -> tuple[list[Param], tuple[str, ...], str | None]:
    """The operation's parameters, plus its Accept choices and default taken from an ignored ``accept`` header."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for raw in [*(path_item.get("parameters") or ()), *(raw_op.get("parameters") or ())]:
        p = refs.deref(raw)
        if not isinstance(p, dict) or "name" not in p or "in" not in p:
            raise ConfigError(f"{where}: a parameter without 'name' and 'in'")
        merged[(str(p["name"]), str(p["in"]))] = p  # operation-level entries override path-level ones
    dropped = names.drop_params | {str(x).lower() for x in entry.get("drop_params") or ()}
    accept: tuple[str, ...] = ()
    accept_default: str | None = None
    out: list[Param] = []
    for (name, location), p in merged.items():
        schema = p.get("schema")
        by_content = schema is None and isinstance(p.get("content"), dict) and bool(p["content"])
        if by_content:
            schema = (next(iter(p["content"].values())) or {}).get("schema")
        flat = _flat(refs, schema or {})
        if location == "header" and name.lower() in ENGINE_HEADER_PARAMS:
            if name.lower() == "accept" and flat.get("enum"):
                accept = tuple(str(v) for v in flat["enum"])
                accept_default = str(flat.get("default") or accept[0])
            continue
        if name.lower() in dropped:
            continue
        if location not in ("path", "query", "header", "cookie"):
            raise ConfigError(f"{where}: parameter {name!r} has unknown location {location!r}")
        kind, items, _ = _field_type(refs, flat)
        style, explode = _style(p, location, kind, by_content, f"{where}: parameter {name!r}")
        lo, hi = _bounds(flat)
        # Examples are sample content, copied only with the rest of the spec's text.
        example = p.get("example", flat.get("example")) if names.spec_text else None
        out.append(Param(
            name=name,
            location=location,  # type: ignore[arg-type]
            lua_name=lua_param_name(name, location),
            required=bool(p.get("required")) or location == "path",
            type=kind,
            description=names.describe(entry, "params", name, str(p.get("description") or "")),
            enum=tuple(flat.get("enum") or ()),
            default=_clean_default(flat.get("default")),
            pattern=flat.get("pattern"),
            example=example if not isinstance(example, (dict, list)) else None,
            minimum=lo,
            maximum=hi,
            items=items,
            min_length=flat.get("minLength"),
            max_length=flat.get("maxLength"),
            style=style,
            explode=explode,
        ))
    return out, accept, accept_default


def _style(p: dict[str, Any], location: str, kind: str, by_content: bool, where: str
           ) -> tuple[str | None, bool | None]:
    """(style, explode) as the table stores them: None where they are the defaults (``kosmo_lua.ops.styles``)."""
    if by_content:
        # A parameter declared with `content` is that media type's text: JSON for a table value.
        return ("json", None) if kind in ("object", "array", "any") else (None, None)
    single = kind not in ("object", "array", "any")
    if single and location != "path":
        return None, None  # one value reads the same in every query, header and cookie style
    style = p.get("style", DEFAULT_STYLES[location])
    explode = p.get("explode")
    if style not in STYLES[location] or style == "json":
        known = ", ".join(s for s in STYLES[location] if s != "json")
        raise ConfigError(f"{where}: style {style!r} is not supported in {location} (supported: {known})")
    if explode is not None and not isinstance(explode, bool):
        raise ConfigError(f"{where}: explode must be true or false, not {explode!r}")
    if style == "deepObject" and kind == "array":
        raise ConfigError(f"{where}: style deepObject needs an object schema, not an array")
    if style in ("spaceDelimited", "pipeDelimited") and explode:
        style, explode = "form", None  # exploded, the delimiter never appears: the key repeats as in form
    if style == "deepObject" or single or (style == "simple" and kind == "array"):
        explode = None  # deepObject is one key per property; a single value or a simple array never explodes
    elif explode is not None and explode == default_explode(style):
        explode = None
    if style == DEFAULT_STYLES[location]:
        style = None
    return style, explode


_BODY_PREFERENCE = ("json", "multipart", "form", "text", "binary")
#: Request media types that are always a file's bytes, whatever their schema says.
_BINARY_MEDIA = ("application/octet-stream", "*/*")
_BINARY_FAMILIES = ("image/", "audio/", "video/", "font/")


def _encoding(media_type: str) -> str | None:
    mt = media_type.split(";")[0].strip().lower()
    if mt == "application/json" or mt.endswith("+json"):
        return "json"
    if mt == "multipart/form-data":
        return "multipart"
    if mt == "application/x-www-form-urlencoded":
        return "form"
    if mt.startswith("text/"):
        return "text"
    return None


def _body_encoding(refs: _Refs, media_type: str, media: Any) -> str | None:
    """How a request body of this media type is sent; ``binary`` (a file input sent as it is) for file types and
    for any other type whose schema is a binary string or absent; None when it cannot be sent."""
    known = _encoding(media_type)
    if known is not None:
        return known
    mt = media_type.split(";")[0].strip().lower()
    if mt in _BINARY_MEDIA or mt.startswith(_BINARY_FAMILIES) or mt.endswith("/*"):
        return "binary"
    schema = (media or {}).get("schema") if isinstance(media, dict) else None
    if not schema or _is_binary(_flat(refs, schema)):
        return "binary"
    return None


def _body(refs: _Refs, names: _Names, entry: dict[str, Any], where: str, raw_op: dict[str, Any]) -> Body | None:
    raw = raw_op.get("requestBody")
    if raw is None:
        return None
    rb = refs.deref(raw)
    content: dict[str, Any] = rb.get("content") or {}
    if not content:
        return None
    chosen = entry.get("body_content_type")
    if chosen is not None:
        if chosen not in content:
            raise ConfigError(f"{where}: body_content_type {chosen!r} is not one of {sorted(content)}")
    else:
        by_encoding = {}
        for media_type in content:
            by_encoding.setdefault(_body_encoding(refs, media_type, content[media_type]), media_type)
        chosen = next((by_encoding[e] for e in _BODY_PREFERENCE if e in by_encoding), None)
        if chosen is None:
            raise ConfigError(f"{where}: request body types {sorted(content)} are not supported "
                              "(json, multipart/form-data, x-www-form-urlencoded, text/*, or a binary file); "
                              "skip it in names.yaml")
    encoding = _body_encoding(refs, chosen, content[chosen]) or "text"
    raw_schema = (content[chosen] or {}).get("schema") or {}
    flat = _flat(refs, raw_schema)
    keep = names.spec_text
    fields: list[BodyField] = []
    body_schema: dict[str, Any] | None = None
    required_names = [str(r) for r in flat.get("required") or ()]
    if encoding in ("text", "binary"):
        pass
    elif flat["type"] == "object" and (flat.get("properties") or encoding in ("multipart", "form")):
        for name, prop in (flat.get("properties") or {}).items():
            pf = _flat(refs, prop)
            if pf.get("readOnly"):
                continue  # readOnly properties only appear in responses
            kind, items, items_enum = _field_type(refs, pf)
            lo, hi = _bounds(pf)
            stored = None
            if kind in ("object", "array", "any"):
                stored = _stored_schema(refs.inline(prop, keep_prose=keep))
            fields.append(BodyField(
                name=name,
                type=kind,
                required=name in required_names,
                description=names.describe(entry, "fields", name, str(pf.get("description") or "")),
                enum=tuple(pf.get("enum") or ()),
                default=_clean_default(pf.get("default")),
                minimum=lo,
                maximum=hi,
                items=items,
                items_enum=items_enum,
                nullable=bool(pf.get("nullable")),
                schema=stored,
                pattern=pf.get("pattern"),
                min_length=pf.get("minLength"),
                max_length=pf.get("maxLength"),
            ))
    else:
        body_schema = _stored_schema(refs.inline(raw_schema, keep_prose=keep))
    required = entry.get("body_required")
    if required is None:
        # A body whose schema requires fields cannot be left out, whatever requestBody.required says.
        required = bool(rb.get("required")) or any(f.required for f in fields)
    description = entry.get("body_description")
    if description is None:
        description = str(flat.get("description") or rb.get("description") or "") if keep else ""
    return Body(
        required=bool(required),
        encoding=encoding,  # type: ignore[arg-type]
        content_type=chosen.split(";")[0].strip(),
        fields=tuple(fields),
        additional_properties=flat.get("additionalProperties", True) is not False,
        description=str(description).strip(),
        schema=body_schema,
    )


def _response_kind(media_type: str) -> str:
    mt = media_type.split(";")[0].strip().lower()
    if mt.startswith(("image/", "video/", "audio/")):
        return "media"
    if mt == "application/json" or mt.endswith("+json"):
        return "json"
    if mt.startswith("text/") or "markdown" in mt:
        return "text"
    return "binary"  # application/octet-stream, file downloads, anything else opaque


def _schema_ref(raw: dict[str, Any] | None) -> str | None:
    ref = (raw or {}).get("schema", {}).get("$ref") if isinstance((raw or {}).get("schema"), dict) else None
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        return ref.rsplit("/", 1)[-1]
    return None


def _response(refs: _Refs, entry: dict[str, Any], raw_op: dict[str, Any], accept: tuple[str, ...]) -> Response:
    responses = raw_op.get("responses") or {}
    success: dict[int, dict[str, Any]] = {}
    for code, raw in responses.items():
        code = str(code)
        if code[:1] != "2":
            continue
        status = int(code) if code.isdigit() else 200  # "2XX": any success; 200 stands for it
        success.setdefault(status, refs.deref(raw) or {})
    statuses = tuple(sorted(success)) or (200,)
    with_content = [s for s in statuses if (success.get(s) or {}).get("content")]
    override = entry.get("response") or {}
    if not with_content:
        return Response(kind="empty", statuses=statuses, description=str(override.get("description") or ""))
    main = success[with_content[0]]
    content: dict[str, Any] = main["content"]
    kinds = {mt: _response_kind(mt) for mt in content}
    # One success body may come in several forms (an image, or the same image as JSON): media wins, since the
    # JSON form is then only chosen on request (Accept).
    order = ("media", "json", "text", "binary")
    kind = next(k for k in order if k in kinds.values())
    media_type = next(mt for mt, k in kinds.items() if k == kind)
    ref = _schema_ref(content[media_type])
    if kind == "media":
        ref = next((_schema_ref(content[mt]) for mt, k in kinds.items() if k == "json"), None) or ref
    header_fields: dict[str, str] = {}
    if kind == "media":
        for header in main.get("headers") or {}:
            if header.lower() not in TRANSFER_HEADERS:
                header_fields[snake_case(header)] = header.lower()
    if "header_fields" in override:
        header_fields = {str(k): str(v) for k, v in (override["header_fields"] or {}).items()}
    return Response(
        kind=kind,  # type: ignore[arg-type]
        content_type=media_type.split(";")[0].strip(),
        statuses=statuses,
        header_fields=header_fields,
        json_fields={str(k): str(v) for k, v in (override.get("json_fields") or {}).items()},
        schema_ref=ref,
        description=str(override.get("description") or ""),
        accept=accept,
    )


def _auth(spec: dict[str, Any], raw_op: dict[str, Any]) -> bool:
    security = raw_op["security"] if "security" in raw_op else spec.get("security")
    # An empty list, or only empty requirements ({}), means the API answers without credentials.
    return any(bool(req) for req in security or ())


def _operation(spec: dict[str, Any], refs: _Refs, names: _Names, integration: str, path: str, method: str,
               path_item: dict[str, Any], raw_op: dict[str, Any]) -> tuple[Operation, str]:
    """The operation and its title-derived alias (decided later, once every name is known)."""
    op_id = str(raw_op.get("operationId") or f"{method}_{snake_case(path)}")
    where = f"operation {op_id} ({method.upper()} {path})"
    entry = names.entry(op_id)
    params, accept, accept_default = _params(refs, names, entry, where, path_item, raw_op)
    declared = {p.name for p in params if p.location == "path"}
    missing = [m for m in _PLACEHOLDER.findall(path) if m not in declared]
    if missing:
        raise ConfigError(f"{where}: path placeholders {missing} have no path parameter")
    body = _body(refs, names, entry, where, raw_op)
    response = _response(refs, entry, raw_op, accept)
    spec_summary = str(raw_op.get("summary") or "").strip()
    derived = title_alias(spec_summary) if spec_summary else ""
    name = str(entry.get("name") or derived or snake_case(op_id))
    if not is_lua_identifier(name):
        raise ConfigError(f"{where}: {name!r} is not a usable Lua name; set one in names.yaml")
    headers = {"Accept": accept_default} if accept_default else {}
    headers.update({str(k): str(v) for k, v in (entry.get("headers") or {}).items()})
    if names.spec_text:
        summary = str(entry.get("summary") or spec_summary or f"{method.upper()} {path}")
        description = str(entry.get("description") or raw_op.get("description") or "")
    else:
        summary = str(entry.get("summary") or f"{method.upper()} {path}")
        description = str(entry.get("description") or "")
    tags = raw_op.get("tags") or ()
    access = str(entry.get("access") or ("read" if method.upper() in READ_METHODS else "write"))
    if access not in ("read", "write"):
        raise ConfigError(f"{where}: access must be read or write, not {access!r}")
    op = Operation(
        name=name,
        aliases=tuple(str(a) for a in entry.get("aliases") or ()),
        full_name=f"{integration}.{integration}_{name}",
        operation_id=op_id,
        method=method.upper(),
        path=path,
        access=access,  # type: ignore[arg-type]
        summary=summary.strip(),
        description=description.strip(),
        family=str(entry.get("family") or (snake_case(str(tags[0])) if tags else "")),
        params=tuple(params),
        body=body,
        response=response,
        headers=headers,
        auth=bool(entry["auth"]) if "auth" in entry else _auth(spec, raw_op),
        example=str(entry.get("example") or "").strip(),
        extra=dict(entry.get("extra") or {}),
    )
    _check_argument_names(op, where)
    if entry.get("rules"):
        op = replace(op, rules=_rules(op, entry["rules"], f"names.yaml: operation {op_id!r}"))
    if entry.get("title_alias") is False or not names.title_aliases or derived == name:
        derived = ""
    return op, derived


def _rules(op: Operation, data: Any, where: str) -> tuple[Rule, ...]:
    """names.yaml's rules for ``op``, checked against its arguments and stored with Lua names."""
    if not isinstance(data, list):
        raise ConfigError(f"{where}: rules must be a list of rules")
    out = []
    for i, raw in enumerate(data, start=1):
        at = f"{where}: rule {i}"
        out.append(normalise_rule(op, rule_from_data(raw, at), at))
    return tuple(out)


def _check_argument_names(op: Operation, where: str) -> None:
    seen: dict[str, str] = {}
    for p in op.params:
        for n in {p.name, p.lua_name}:
            if n in seen and seen[n] != p.name:
                raise ConfigError(f"{where}: parameters {seen[n]!r} and {p.name!r} share the name {n!r}")
            seen[n] = p.name
    taken = set(seen) | ({f.name for f in op.body.fields} if op.body else set())
    # Engine-level arguments (save_to, accept...) are consumed before sending: a real argument may not share a name.
    clash = taken & set(engine_argument_names(op.response))
    if clash:
        raise ConfigError(f"{where}: {sorted(clash)} would collide with engine-level arguments")
    if op.body is not None and "body" in seen:
        raise ConfigError(f"{where}: a parameter named 'body' hides the body argument; drop or rename it")


# -- the whole table ---------------------------------------------------------------------------------------------------

def generate_table(spec: dict[str, Any], names: dict[str, Any] | None, integration: str, *,
                   source: dict[str, Any] | None = None) -> OperationTable:
    """Build the operation table of ``integration`` from a parsed OpenAPI document and its names.yaml data."""
    version = str(spec.get("openapi") or "")
    if not re.match(r"^3\.[01]\.", version):
        raise ConfigError(f"{integration}: only OpenAPI 3.0 and 3.1 documents are supported (openapi: {version!r})")
    hand = _Names(names)
    refs = _Refs(spec)
    found: list[tuple[Operation, str]] = []
    seen_ids: set[str] = set()
    for path, raw_item in (spec.get("paths") or {}).items():
        item = refs.deref(raw_item) or {}
        for method in HTTP_METHODS:
            raw_op = item.get(method)
            if not isinstance(raw_op, dict):
                continue
            op_id = str(raw_op.get("operationId") or f"{method}_{snake_case(path)}")
            if op_id in seen_ids:
                raise ConfigError(f"{integration}: operationId {op_id!r} is used twice")
            seen_ids.add(op_id)
            if hand.entry(op_id).get("skip"):
                continue
            found.append(_operation(spec, refs, hand, integration, str(path), method, item, raw_op))
    stale = set(hand.operations) - seen_ids
    if stale:
        raise ConfigError(f"{integration}: names.yaml names operations the spec does not have: {sorted(stale)}")
    operations = _settle_aliases(integration, found)
    info = spec.get("info") or {}
    src = {"openapi": version, "version": str(info.get("version", ""))}
    src.update(source or {})
    return OperationTable(
        integration=integration,
        title=str(hand.data.get("title") or info.get("title") or integration),
        source=src,
        operations=tuple(operations),
    )


def _settle_aliases(integration: str, found: list[tuple[Operation, str]]) -> list[Operation]:
    """Explicit names must be unique; a derived alias that would clash with any other name is left out."""
    owner: dict[str, str] = {}
    for op, _ in found:
        for n in op.names:
            if n in owner and owner[n] != op.operation_id:
                raise ConfigError(f"{integration}: the name {n!r} is given to both {owner[n]} and {op.operation_id}")
            if not is_lua_identifier(n):
                raise ConfigError(f"{integration}: {op.operation_id}: {n!r} is not a usable Lua name")
            owner[n] = op.operation_id
    counts: dict[str, int] = {}
    for _, derived in found:
        if derived:
            counts[derived] = counts.get(derived, 0) + 1
    out = []
    for op, derived in found:
        usable = derived and counts[derived] == 1 and derived not in owner
        if usable and derived not in op.aliases:
            op = replace(op, aliases=(derived, *op.aliases))
        out.append(op)
    return out


# -- files -------------------------------------------------------------------------------------------------------------

def _yaml() -> Any:
    import yaml

    return yaml


def _plain_loader() -> Any:
    """A safe YAML loader that leaves dates as the strings they were written as."""
    yaml = _yaml()
    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[misc, valid-type]
        pass

    Loader.yaml_implicit_resolvers = {
        k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
        for k, v in base.yaml_implicit_resolvers.items()
    }
    return Loader


def load_spec(path: Path) -> tuple[dict[str, Any], bytes]:
    """Parse an OpenAPI document (JSON or YAML, chosen by content) and return it with its exact bytes."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read spec {path}: {exc.strerror or exc}") from None
    text = raw.decode("utf-8-sig", errors="replace")
    try:
        if text.lstrip().startswith("{"):
            data = json.loads(text)
        else:
            data = _yaml().load(text, Loader=_plain_loader())
    except (ValueError, _yaml().YAMLError) as exc:
        raise ConfigError(f"spec {path} is neither valid JSON nor valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"spec {path}: expected a mapping at the top level")
    return data, raw


def spec_sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _load_names(folder: Path) -> dict[str, Any]:
    path = folder / "names.yaml"
    if not path.exists():
        return {}
    try:
        data = _yaml().load(path.read_text(encoding="utf-8"), Loader=_plain_loader())
    except (OSError, _yaml().YAMLError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping")
    return data or {}


def generate_integration(folder: Path, spec_path: Path, *, write: bool = True) -> OperationTable:
    """Regenerate ``folder/operations.yaml`` from ``spec_path`` and ``folder/names.yaml``; returns the table."""
    names = _load_names(folder)
    integration = str(names.get("integration") or folder.name)
    spec, raw = load_spec(spec_path)
    table = generate_table(spec, names, integration,
                           source={"file": spec_path.name, "sha256": spec_sha256(raw)})
    if write:
        target = folder / "operations.yaml"
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_text(render_table(table), encoding="utf-8")
        os.replace(tmp, target)
    return table


def render_table(table: OperationTable) -> str:
    """The table as ``operations.yaml`` text: same table, same bytes."""
    yaml = _yaml()

    class Dumper(yaml.SafeDumper):  # type: ignore[misc, name-defined]
        pass

    def text(dumper: Any, value: str) -> Any:
        # Multi-line text (examples, descriptions) stays readable as a literal block.
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    src = table.source
    header = (f"# GENERATED by `kosmo integrations:generate {table.integration}` from {src.get('file', '?')} "
              f"(sha256 {src.get('sha256', '?')}). DO NOT EDIT: change names.yaml and regenerate.\n")
    body = yaml.dump(table_to_data(table), Dumper=Dumper, sort_keys=False, allow_unicode=True, width=120,
                     default_flow_style=False)
    return header + body
