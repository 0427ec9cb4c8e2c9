"""The operation table: the single source every integration function is built from.

An integration's ``operations.yaml`` (generated from an OpenAPI document by ``kosmo_lua.ops.generate``) is a list of
operations. From each ``Operation`` come the Lua function, argument validation, the pure request builder, the docs
page, the agent tool schema and the editor annotations. Nothing in here does I/O except ``load_table``.

Field types use a small vocabulary (``FieldType``) rather than raw JSON Schema, so that validation, docs and
annotations all read one shape. ``schema`` keeps the original (dereferenced) JSON Schema of a body field for the
cases the vocabulary cannot say (nested objects), and for agent tool schemas.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from .rules import Rule, check_rules, rule_from_data

__all__ = [
    "FieldType",
    "Param",
    "BodyField",
    "Body",
    "Response",
    "Operation",
    "OperationTable",
    "load_table",
    "table_from_data",
    "table_to_data",
]

#: ``string | integer | number | boolean | object | array | binary | any``. ``binary`` is a file part (multipart)
#: that accepts a local path, raw bytes, ``{content=, filename=}`` or a media table returned by another call.
FieldType = str

ParamLocation = Literal["path", "query", "header", "cookie"]
Access = Literal["read", "write"]
#: How the body is sent: ``json`` (application/json), ``text`` (text/plain, a bare string), ``multipart``
#: (multipart/form-data), ``form`` (application/x-www-form-urlencoded), ``binary`` (a file input sent as the raw
#: body, with ``Body.content_type``: application/octet-stream, image/png...).
BodyEncoding = Literal["json", "text", "multipart", "form", "binary"]
#: What the caller gets back. ``json`` -> the decoded value; ``empty`` -> {} (204); ``text``/``binary`` ->
#: ``{body, content_type}`` (``body`` is the raw bytes as a Lua string); ``media`` -> ``{content_type, body_base64, ...}`` plus the
#: header fields named in ``Response.header_fields`` (or ``{path, bytes, ...}`` with ``save_to``).
ResponseKind = Literal["json", "empty", "text", "binary", "media"]


@dataclass(frozen=True)
class Param:
    """A path, query, header or cookie parameter (cookies travel together in one ``Cookie`` header)."""

    name: str  # as the API spells it: "prediction_id", "Cancel-After"
    location: ParamLocation
    lua_name: str  # the name a script uses: "prediction_id", "cancel_after" (snake_case for headers)
    required: bool = False
    type: FieldType = "string"
    description: str = ""
    enum: tuple[Any, ...] = ()
    default: Any = None
    pattern: str | None = None
    example: Any = None
    minimum: float | None = None
    maximum: float | None = None
    items: FieldType | None = None  # element type when type == "array" (query arrays repeat the key)
    min_length: int | None = None  # for strings
    max_length: int | None = None
    #: OpenAPI's serialisation of arrays and objects (``kosmo_lua.ops.styles``), stored only when it differs from
    #: the location's default (query/cookie ``form``, path/header ``simple``) and from that style's explode default.
    style: str | None = None
    explode: bool | None = None


@dataclass(frozen=True)
class BodyField:
    """A top-level property of a request body (JSON object, multipart form or url-encoded form)."""

    name: str
    type: FieldType = "any"
    required: bool = False
    description: str = ""
    enum: tuple[Any, ...] = ()
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    items: FieldType | None = None
    items_enum: tuple[Any, ...] = ()
    nullable: bool = False
    schema: dict[str, Any] | None = None  # the dereferenced JSON Schema, for nested shapes and agent schemas
    pattern: str | None = None
    min_length: int | None = None  # for strings
    max_length: int | None = None


@dataclass(frozen=True)
class Body:
    required: bool
    encoding: BodyEncoding
    content_type: str  # the exact media type sent ("application/json", "text/plain", "multipart/form-data")
    fields: tuple[BodyField, ...] = ()
    #: False when the schema says additionalProperties: false (unknown fields are then an argument error).
    additional_properties: bool = True
    #: For ``text`` bodies: what the string is ("The search query").
    description: str = ""
    #: The dereferenced JSON Schema of a body that is not an object with properties (a bare array, a string...);
    #: such a body can only be given as ``body = ...``.
    schema: dict[str, Any] | None = None


@dataclass(frozen=True)
class Response:
    kind: ResponseKind = "json"
    content_type: str | None = None  # the main success media type, when the spec names one
    statuses: tuple[int, ...] = (200,)  # documented success codes
    #: For ``media`` responses: Lua field -> response header ("finish_reason" -> "finish-reason").
    header_fields: dict[str, str] = field(default_factory=dict)
    #: JSON body field -> Lua field, for APIs whose JSON form of media differs (Stability's "image" -> base64).
    json_fields: dict[str, str] = field(default_factory=dict)
    #: Component schema name (or None) the success body follows; the emulators' responses are checked against it.
    schema_ref: str | None = None
    description: str = ""
    #: Media types a caller may ask for with the engine-level ``accept`` argument (from the spec's Accept header
    #: enum); the default is in ``Operation.headers["Accept"]``. Empty when the operation offers no choice.
    accept: tuple[str, ...] = ()


@dataclass(frozen=True)
class Operation:
    name: str  # canonical short Lua name: "create_model_prediction"
    aliases: tuple[str, ...]  # other names that answer: ("create_prediction_using_official_model",)
    full_name: str  # "replicate.replicate_create_model_prediction"
    operation_id: str  # as in the spec: "models.predictions.create"
    method: str  # upper case; may be non-standard ("QUERY")
    path: str  # template relative to the base URL: "/models/{model_owner}/{model_name}/predictions"
    access: Access  # read for GET/HEAD/QUERY, else write
    summary: str  # one line, our words where names.yaml gives them
    description: str = ""
    family: str = ""  # docs grouping: "predictions", "models", ...
    params: tuple[Param, ...] = ()
    body: Body | None = None
    response: Response = field(default_factory=Response)
    #: Extra request headers the integration always sends for this operation ({"Accept": "image/*"}).
    headers: dict[str, str] = field(default_factory=dict)
    #: False for operations the API serves without authentication (Replicate's /search).
    auth: bool = True
    #: A Lua example call for the docs; every example is run by the docs tests.
    example: str = ""
    #: Integration-specific flags the engine passes through untouched (e.g. {"async": True}).
    extra: dict[str, Any] = field(default_factory=dict)
    #: Rules between arguments (``kosmo_lua.ops.rules``): "strength is required when image is given".
    rules: tuple[Rule, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    def param(self, lua_or_api_name: str) -> Param | None:
        for p in self.params:
            if lua_or_api_name in (p.name, p.lua_name):
                return p
        return None


@dataclass(frozen=True)
class OperationTable:
    integration: str  # "replicate"
    title: str  # "Replicate HTTP API"
    source: dict[str, Any]  # {"file": ..., "sha256": ..., "openapi": "3.1.0", "version": ...}
    operations: tuple[Operation, ...]

    def by_name(self) -> dict[str, Operation]:
        """Every name (canonical and alias) -> operation."""
        index: dict[str, Operation] = {}
        for op in self.operations:
            for n in op.names:
                index[n] = op
        return index


# -- (de)serialisation ---------------------------------------------------------------------------------------------

def _tuple(v: Any) -> tuple[Any, ...]:
    return tuple(v) if v else ()


def _param(d: dict[str, Any]) -> Param:
    d = dict(d)
    d["location"] = d.pop("in")
    d["enum"] = _tuple(d.get("enum"))
    return Param(**d)


def _field(d: dict[str, Any]) -> BodyField:
    d = dict(d)
    d["enum"] = _tuple(d.get("enum"))
    d["items_enum"] = _tuple(d.get("items_enum"))
    return BodyField(**d)


def _operation(d: dict[str, Any], integration: str = "") -> Operation:
    d = dict(d)
    d["aliases"] = _tuple(d.get("aliases"))
    d["params"] = tuple(_param(p) for p in d.get("params") or ())
    body = d.get("body")
    if body is not None:
        body = dict(body)
        body["fields"] = tuple(_field(f) for f in body.get("fields") or ())
        d["body"] = Body(**body)
    resp = dict(d.get("response") or {})
    resp["statuses"] = _tuple(resp.get("statuses")) or (200,)
    resp["accept"] = _tuple(resp.get("accept"))
    d["response"] = Response(**resp)
    where = f"operations table of '{integration}': operation '{d.get('name')}'"
    d["rules"] = tuple(rule_from_data(r, f"{where}: rule {i}") for i, r in enumerate(d.get("rules") or (), start=1))
    op = Operation(**d)
    return replace(op, rules=check_rules(op, where)) if op.rules else op


def table_from_data(data: dict[str, Any]) -> OperationTable:
    return OperationTable(
        integration=data["integration"],
        title=data.get("title", ""),
        source=dict(data.get("source") or {}),
        operations=tuple(_operation(o, data["integration"]) for o in data["operations"]),
    )


def _clean(value: Any) -> Any:
    """Drop empty/default noise so the YAML stays readable and diffs stay small."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            v = _clean(v)
            if v in (None, (), [], {}, "") and k not in ("required",):
                continue
            out[k] = v
        return out
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def table_to_data(table: OperationTable) -> dict[str, Any]:
    ops = []
    for op in table.operations:
        d = asdict(op)
        for p in d["params"]:
            p["in"] = p.pop("location")
        ops.append(_clean(d))
    return {
        "integration": table.integration,
        "title": table.title,
        "source": table.source,
        "operations": ops,
    }


# -- loading, with a cache of parsed YAML ------------------------------------------------------------------------------
#
# PyYAML, even with its C loader, parses a large operations.yaml slowly (~0.9 s for 5,000 operations, 2 MB: 90 % of
# a first use of such an integration), while the same data loads ~25x faster as JSON. So a caller may name a cache
# folder (the registry uses $KOSMO_HOME/cache/tables; never the folder of the YAML, which may be a read-only
# site-packages) where the parsed data is kept as JSON. JSON, not pickle or marshal: an entry can only ever decode to
# plain data, never to code, and a damaged one fails to decode instead of crashing the interpreter. An entry is valid
# for one SHA-256 of the YAML text rather than for a size + mtime: reproducible wheels give every version of a file
# the same mtime, and hashing 2 MB takes ~2 ms. Any trouble with the cache (unreadable, corrupt, unwritable folder)
# only means parsing the YAML as before; nothing is reported.

_CACHE_FORMAT = 1  # bump when the entry's layout changes, so that older entries read as misses


def load_table(path: Path, cache_dir: Path | None = None) -> OperationTable:
    """Read an ``operations.yaml`` (or ``.json``). PyYAML is imported here, only when a table is needed.

    With ``cache_dir``, a YAML table's parsed data is kept there as JSON and reused while the YAML text is unchanged.
    """
    with _gc_paused():
        return _load_table(path, cache_dir)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a table is decoded and built: the many new containers (none in a
    cycle) set off collections that walk them again and again, ~40 % of loading a 5,000-operation table."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _load_table(path: Path, cache_dir: Path | None) -> OperationTable:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        import json

        return table_from_data(json.loads(text))
    if cache_dir is None:
        return table_from_data(_parse_yaml(text))
    entry, digest = _cache_file(cache_dir, path), _digest(text)
    cached = _read_cache(entry, digest)
    if cached is not None:
        try:
            return table_from_data(cached)
        except Exception:  # noqa: BLE001 - a damaged entry; if the YAML itself is bad, building it raises below
            pass
    data = _parse_yaml(text)
    table = table_from_data(data)  # built before the entry is written, so data that does not build is never cached
    _write_cache(entry, digest, data)
    return table


def _parse_yaml(text: str) -> Any:
    """The one place a table's YAML is parsed (the cache tests count the calls)."""
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _digest(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _cache_file(cache_dir: Path, path: Path) -> Path:
    """One entry per source file (a changed file overwrites its entry instead of adding one), named for people by
    the integration's folder."""
    import hashlib

    where = hashlib.sha256(str(path.absolute()).encode("utf-8", "surrogatepass")).hexdigest()[:24]
    return cache_dir / f"{path.parent.name}-{where}.json"


def _read_cache(entry: Path, digest: str) -> dict[str, Any] | None:
    """The cached data when ``entry`` holds it for the text with this digest, else None (missing, stale, damaged)."""
    import json

    try:
        stored = json.loads(entry.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # ValueError covers bad UTF-8 and bad JSON
        return None
    if not isinstance(stored, dict) or stored.get("format") != _CACHE_FORMAT or stored.get("sha256") != digest:
        return None
    data = stored.get("data")
    return data if isinstance(data, dict) else None


def _write_cache(entry: Path, digest: str, data: Any) -> None:
    """Store ``data`` atomically (a temporary file moved into place, so a reader never sees half an entry), unless
    JSON cannot hold it exactly or the folder is not writable."""
    import json
    import os
    import tempfile

    try:
        text = json.dumps({"format": _CACHE_FORMAT, "sha256": digest, "data": data},
                          ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        # YAML can say what JSON cannot (dates, bytes, non-string keys; json.dumps turns 1: into "1": silently):
        # such data is not cached, so a cached table is always exactly the parsed one.
        if json.loads(text)["data"] != data:
            return
    except (TypeError, ValueError, RecursionError):
        return
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=entry.parent, prefix=f".{entry.name}.", suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, entry)  # no fsync: an entry lost or torn by a crash is only a miss
    except (OSError, ValueError):  # ValueError: a lone surrogate that UTF-8 cannot encode
        try:
            os.unlink(tmp)
        except OSError:
            pass
