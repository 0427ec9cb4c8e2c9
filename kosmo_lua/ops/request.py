"""The pure request builder: an operation plus validated arguments -> ``RequestSpec``. No I/O at all.

Rules, the same for every integration:

* path parameters are percent-encoded whole (a "/" inside an id becomes %2F, so it cannot reach another endpoint);
* query parameters follow the operation's order; booleans are "true"/"false";
* arrays and objects in parameters follow the parameter's OpenAPI ``style`` / ``explode`` (``kosmo_lua.ops.styles``):
  by default query arrays repeat the key (``tag=a&tag=b``), query objects send one pair per key (``k=v&l=w``), path
  and header arrays are joined by commas (``a,b``);
* headers: the operation's fixed headers (``Operation.headers``, e.g. Accept), then header parameters by their exact
  API names, then cookie parameters as one ``Cookie: a=1; b=2`` header; an engine-level ``accept`` argument replaces
  Accept;
* bodies: compact JSON with sorted keys (empty objects stay objects, empty arrays stay arrays), the bare text for
  text bodies, url-encoded forms, multipart/form-data (``kosmo_lua.ops.multipart``) where file fields become file
  parts, numbers and booleans become text and objects/arrays become JSON text, or a file's bytes as they are for
  ``binary`` bodies (with the declared content type; for a range such as ``image/*``, the file's own type).

Per-operation multipart rules are data in ``Operation.extra``:
``file_content_type_from: <field>`` (that body field, when given, is the file part's Content-Type; when absent it is
filled in with the type that was used) and ``file_filename_from: <field>`` (the same for the file part's filename).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from ..sandbox.values import JsonNull
from .files import FileInput, guess_content_type
from .multipart import Part, encode_multipart
from .spec import RequestSpec
from .styles import cookie_pairs, header_text, jsonable, path_text, query_pairs, scalar_text
from .table import Body, Operation
from .validate import NormalisedArgs

__all__ = ["build_request", "json_bytes", "DEFAULT_FILE_CONTENT_TYPE", "DEFAULT_FILENAME"]

DEFAULT_FILE_CONTENT_TYPE = "application/octet-stream"
#: The filename of a file part made from content that came without one.
DEFAULT_FILENAME = "file"


def json_bytes(value: Any) -> bytes:
    """Compact JSON with sorted keys: the same value always gives the same bytes."""
    return json.dumps(jsonable(value), separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8")


def _path(op: Operation, args: NormalisedArgs) -> str:
    path = op.path
    for p in op.params:
        if p.location == "path":
            if p.name not in args.path:
                raise ValueError(f"{op.name}: path parameter {p.name!r} has no value (validate first)")
            path = path.replace("{" + p.name + "}", path_text(p, args.path[p.name]))
    return path


def _query(op: Operation, args: NormalisedArgs) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    for p in op.params:
        if p.location != "query" or p.name not in args.query:
            continue
        pairs += query_pairs(p, args.query[p.name])
    return tuple(pairs)


def _headers(op: Operation, args: NormalisedArgs) -> tuple[tuple[str, str], ...]:
    headers = dict(op.headers)
    for p in op.params:
        if p.location == "header" and p.name in args.headers:
            text = header_text(p, args.headers[p.name])
            if text is not None:
                headers[p.name] = text
    cookies = [f"{name}={value}" for p in op.params if p.location == "cookie" and p.name in args.cookies
               for name, value in cookie_pairs(p, args.cookies[p.name])]
    if cookies:
        key = next((k for k in headers if k.lower() == "cookie"), "Cookie")
        headers[key] = "; ".join([headers[key], *cookies] if headers.get(key) else cookies)
    accept = args.engine.get("accept")
    if accept is not None:
        # Replace the default in place, so the header order does not depend on whether a choice was made.
        key = next((k for k in headers if k.lower() == "accept"), "Accept")
        headers[key] = str(accept)
    return tuple(headers.items())


def _file_part(name: str, file: Any, op: Operation, fields: dict[str, Any]) -> Part:
    if isinstance(file, (bytes, bytearray)):
        file = FileInput(bytes(file))
    if not isinstance(file, FileInput):
        raise ValueError(f"{op.name}: body field {name!r} is not a resolved file (run resolve_file_inputs first)")
    filename_field = op.extra.get("file_filename_from")
    type_field = op.extra.get("file_content_type_from")
    filename = fields.get(filename_field) if filename_field else None
    content_type = fields.get(type_field) if type_field else None
    filename = filename if isinstance(filename, str) and filename else (file.filename or DEFAULT_FILENAME)
    if not (isinstance(content_type, str) and content_type):
        content_type = file.content_type or guess_content_type(filename) or DEFAULT_FILE_CONTENT_TYPE
    return Part(name, file.content, filename, content_type)


def _multipart(op: Operation, body: dict[str, Any]) -> tuple[bytes, str]:
    fields = dict(body)
    parts: list[Part] = []
    # File parts are made first: the fields named by file_*_from are filled from them.
    declared = {f.name: f for f in op.body.fields} if op.body else {}
    file_parts: dict[str, list[Part]] = {}
    for name, value in body.items():
        f = declared.get(name)
        if f is not None and f.type == "binary" or isinstance(value, FileInput):
            file_parts[name] = [_file_part(name, value, op, fields)]
        elif f is not None and f.type == "array" and f.items == "binary" and isinstance(value, list):
            file_parts[name] = [_file_part(name, v, op, fields) for v in value]
    first = next(iter(file_parts.values()), [None])[0]
    if first is not None:
        for key, derived in (("file_filename_from", first.filename), ("file_content_type_from", first.content_type)):
            target = op.extra.get(key)
            if target and fields.get(target) in (None, "") and _declares(op, target):
                fields[target] = derived
    order = [f.name for f in op.body.fields] if op.body else []
    order += [k for k in fields if k not in order]
    for name in order:
        if name in file_parts:
            parts += file_parts[name]
            continue
        if name not in fields or isinstance(fields[name], JsonNull):
            continue  # a null form field is simply not sent
        parts.append(Part(name, scalar_text(fields[name]).encode("utf-8")))
    return encode_multipart(parts)


def _binary(op: Operation, body: Body, file: Any) -> tuple[bytes, str]:
    """A file as the whole body: its bytes, with the declared type (or, for a range, the file's type within it)."""
    if isinstance(file, (bytes, bytearray)):
        file = FileInput(bytes(file))
    if not isinstance(file, FileInput):
        raise ValueError(f"{op.name}: the body is not a resolved file (run resolve_file_inputs first)")
    declared = body.content_type
    if "*" not in declared:
        return file.content, declared
    own = file.content_type or guess_content_type(file.filename)
    family = declared.split("/", 1)[0]
    fits = own is not None and (family == "*" or own.split("/", 1)[0] == family)
    return file.content, own if fits else DEFAULT_FILE_CONTENT_TYPE  # type: ignore[return-value]


def _declares(op: Operation, field_name: str) -> bool:
    return op.body is not None and any(f.name == field_name for f in op.body.fields)


def _form(body: dict[str, Any]) -> bytes:
    pairs: list[tuple[str, str]] = []
    for name, value in body.items():
        if isinstance(value, JsonNull):
            continue
        if isinstance(value, list):
            pairs += [(name, scalar_text(v)) for v in value]
        elif isinstance(value, FileInput):
            pairs.append((name, value.content))  # type: ignore[arg-type]  # urlencode quotes bytes as they are
        else:
            pairs.append((name, scalar_text(value)))
    return urlencode(pairs).encode("ascii")


def _body(op: Operation, args: NormalisedArgs) -> tuple[bytes | None, str | None]:
    body = op.body
    if body is None or args.body is None:
        return None, None
    if body.encoding == "text":
        return str(args.body).encode("utf-8"), body.content_type
    if body.encoding == "json":
        return json_bytes(args.body), body.content_type
    if body.encoding == "binary":
        return _binary(op, body, args.body)
    if not isinstance(args.body, dict):
        raise ValueError(f"{op.name}: a {body.encoding} body needs named fields")
    if body.encoding == "form":
        return _form(args.body), body.content_type
    return _multipart(op, args.body)


def build_request(op: Operation, args: NormalisedArgs, *, integration: str) -> RequestSpec:
    """The HTTP request for one call of ``op`` with validated (and file-resolved) arguments."""
    content, content_type = _body(op, args)
    return RequestSpec(
        operation=f"{integration}.{op.name}",
        method=op.method,
        path=_path(op, args),
        query=_query(op, args),
        headers=_headers(op, args),
        body=content,
        content_type=content_type,
    )
