"""How a parameter's value is written into a URL, a header or a cookie: OpenAPI's ``style`` and ``explode``.

Pure functions shared by the generator (which styles exist where, and their defaults), validation (which values a
style can carry) and the request builder (the text sent). A ``Param`` stores ``style`` / ``explode`` only when they
differ from the defaults below, so tables of APIs that never set them do not change.

Defaults: query and cookie ``form`` (explode), path and header ``simple`` (no explode). Supported:

=============== ======== ============================================== ==========================================
style           where    array ``[a, b]``                               object ``{k = v, l = w}``
=============== ======== ============================================== ==========================================
form, explode   query    ``tag=a&tag=b``                                ``k=v&l=w``
form            query    ``tag=a,b``                                    ``tag=k,v,l,w``
spaceDelimited  query    ``tag=a%20b``                                  ``tag=k%20v%20l%20w``
pipeDelimited   query    ``tag=a%7Cb``                                  ``tag=k%7Cv%7Cl%7Cw``
deepObject      query    (objects only)                                 ``tag[k]=v&tag[l]=w`` (brackets encoded)
simple          path,    ``a,b``                                        ``k,v,l,w``; explode: ``k=v,l=w``
                header
label           path     ``.a,b``; explode: ``.a.b``                    ``.k,v,l,w``; explode: ``.k=v.l=w``
matrix          path     ``;tag=a,b``; explode: ``;tag=a;tag=b``        ``;tag=k,v,l,w``; explode: ``;k=v;l=w``
form, explode   cookie   ``tag=a; tag=b``                               ``k=v; l=w``
form            cookie   ``tag=a,b``                                    ``tag=k,v,l,w``
json            any      compact JSON text (a parameter declared with ``content: application/json``)
=============== ======== ============================================== ==========================================

``spaceDelimited`` / ``pipeDelimited`` with explode are the exploded form (the key repeats). A scalar is the same in
every style except ``label`` (``.v``) and ``matrix`` (``;name=v``). An empty array or object sends nothing. An
object's keys go in sorted order (a Lua table has none), so the same value always gives the same request.

Query pairs are raw text (the HTTP layer percent-encodes them, leaving ``,`` literal), so an item of a delimited
query or header value may not contain its delimiter: validation refuses it (``delimiter_problem``). Path and cookie
values are percent-encoded here, item by item, so their delimiters stay unambiguous.
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any
from urllib.parse import quote

from ..sandbox.values import JsonNull

__all__ = [
    "DEFAULT_STYLES",
    "STYLES",
    "default_explode",
    "style_of",
    "explode_of",
    "jsonable",
    "scalar_text",
    "query_pairs",
    "path_text",
    "header_text",
    "cookie_pairs",
    "delimiter_problem",
]

#: The style a location uses when the document names none.
DEFAULT_STYLES = {"query": "form", "path": "simple", "header": "simple", "cookie": "form"}
#: The styles each location accepts (``json``: ours, for parameters declared with ``content``).
STYLES = {
    "query": ("form", "spaceDelimited", "pipeDelimited", "deepObject", "json"),
    "path": ("simple", "label", "matrix", "json"),
    "header": ("simple", "json"),
    "cookie": ("form", "json"),
}
_QUERY_DELIMITERS = {"form": ",", "spaceDelimited": " ", "pipeDelimited": "|"}


def default_explode(style: str) -> bool:
    return style == "form"


def style_of(p: Any) -> str:
    """The parameter's style, its location's default when the table stores none."""
    return p.style or DEFAULT_STYLES.get(p.location, "form")


def explode_of(p: Any) -> bool:
    return p.explode if p.explode is not None else default_explode(style_of(p))


def scalar_text(value: Any) -> str:
    """A value as it appears in a URL, header or form field: booleans are words, tables are compact JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return json.dumps(value)
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(jsonable(value), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return str(value)


def jsonable(value: Any) -> Any:
    """Plain data -> values json can write: json.null -> None, int keys -> str, a file -> base64 text."""
    if isinstance(value, JsonNull):
        return None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("a non-finite number reached the request builder (validation should refuse it)")
    if value is None or isinstance(value, (str, int, float)):
        return value
    if isinstance(value, (bytes, bytearray)):
        raise ValueError("raw bytes reached a JSON value (validation should refuse them)")
    from .files import FileInput  # imported here: files imports validate, which imports this module

    if isinstance(value, FileInput):
        return base64.b64encode(value.content).decode("ascii")
    return value


def _entries(value: dict[Any, Any]) -> list[tuple[str, Any]]:
    """An object's entries in key order: a Lua table has no order of its own, and the same value must always
    give the same request."""
    return sorted(((str(k), v) for k, v in value.items()), key=lambda kv: kv[0])


def _flat_pairs(value: dict[Any, Any]) -> list[str]:
    out: list[str] = []
    for k, v in _entries(value):
        out += [k, scalar_text(v)]
    return out


def query_pairs(p: Any, value: Any) -> list[tuple[str, str]]:
    """The (name, raw value) pairs a query parameter adds, in order."""
    style = style_of(p)
    if style == "json" or not isinstance(value, (list, tuple, dict)):
        return [(p.name, scalar_text(value))]
    if not value:
        return []
    explode = explode_of(p)
    if isinstance(value, dict):
        if style == "deepObject":
            return [(f"{p.name}[{k}]", scalar_text(v)) for k, v in _entries(value)]
        if explode:
            return [(k, scalar_text(v)) for k, v in _entries(value)]
        return [(p.name, _QUERY_DELIMITERS[style].join(_flat_pairs(value)))]
    if explode or style == "deepObject":
        return [(p.name, scalar_text(v)) for v in value]
    return [(p.name, _QUERY_DELIMITERS[style].join(scalar_text(v) for v in value))]


def _enc(text: str) -> str:
    return quote(text, safe="")


def path_text(p: Any, value: Any) -> str:
    """The percent-encoded text that replaces ``{name}`` in the path."""
    style, explode = style_of(p), explode_of(p)
    if style == "json":
        return _enc(scalar_text(value))
    if isinstance(value, dict):
        items = [f"{_enc(k)}={_enc(scalar_text(v))}" for k, v in _entries(value)] if explode else \
            [_enc(t) for t in _flat_pairs(value)]
        if style == "matrix":
            return "".join(f";{i}" for i in items) if explode else f";{p.name}=" + ",".join(items)
        sep = "." if style == "label" and explode else ","
        return ("." if style == "label" else "") + sep.join(items)
    if isinstance(value, (list, tuple)):
        items = [_enc(scalar_text(v)) for v in value]
        if style == "matrix":
            return "".join(f";{p.name}={i}" for i in items) if explode else f";{p.name}=" + ",".join(items)
        sep = "." if style == "label" and explode else ","
        return ("." if style == "label" else "") + sep.join(items)
    text = _enc(scalar_text(value))
    if style == "matrix":
        return f";{p.name}={text}"
    return f".{text}" if style == "label" else text


def header_text(p: Any, value: Any) -> str | None:
    """The header's value (``simple``: items joined by commas), or None when there is nothing to send."""
    if style_of(p) == "json" or not isinstance(value, (list, tuple, dict)):
        return scalar_text(value)
    if not value:
        return None
    if isinstance(value, dict):
        if explode_of(p):
            return ",".join(f"{k}={scalar_text(v)}" for k, v in _entries(value))
        return ",".join(_flat_pairs(value))
    return ",".join(scalar_text(v) for v in value)


def cookie_pairs(p: Any, value: Any) -> list[tuple[str, str]]:
    """The (name, percent-encoded value) cookies a cookie parameter adds."""
    if style_of(p) == "json" or not isinstance(value, (list, tuple, dict)):
        return [(p.name, _enc(scalar_text(value)))]
    explode = explode_of(p)
    if isinstance(value, dict):
        if explode:
            return [(k, _enc(scalar_text(v))) for k, v in _entries(value)]
        return [(p.name, ",".join(_enc(t) for t in _flat_pairs(value)))] if value else []
    if explode:
        return [(p.name, _enc(scalar_text(v))) for v in value]
    return [(p.name, ",".join(_enc(scalar_text(v)) for v in value))] if value else []


def _delimiters(p: Any) -> tuple[str, ...]:
    """Characters an item of this parameter's array / object may not contain (they would split it)."""
    style, explode = style_of(p), explode_of(p)
    if style == "json":
        return ()
    if p.location == "header":
        return (",", "=") if explode else (",",)
    if p.location == "query" and style in _QUERY_DELIMITERS and not explode:
        return (_QUERY_DELIMITERS[style],)
    return ()


def delimiter_problem(p: Any, value: Any) -> str | None:
    """Why an array or object value cannot be sent in this parameter's style unambiguously, or None."""
    seps = _delimiters(p)
    if not seps or not isinstance(value, (list, tuple, dict)):
        return None
    if isinstance(value, dict):
        texts = _flat_pairs(value)
    else:
        texts = [scalar_text(v) for v in value]
        seps = tuple(s for s in seps if s != "=")  # "=" only separates an exploded object's keys and values
    for text in texts:
        for sep in seps:
            if sep in text:
                shown = "a space" if sep == " " else f"'{sep}'"
                joined = "spaces" if sep == " " else f"'{sep}'"
                return (f"parameter '{p.lua_name}' cannot send {json.dumps(text, ensure_ascii=False)}: its values "
                        f"are joined by {joined}, so a value may not contain {shown}")
    return None
