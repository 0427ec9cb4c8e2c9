"""Turning a ``RawResponse`` into what a script gets back: plain data on success, an ``HTTPStatusError`` otherwise.

Success (2xx), by ``op.response.kind``:

* ``json``   the decoded body (every list becomes a Lua array, so ``[]`` stays an array in Lua); 204 or an
  empty body gives ``{}``; a body the server labels as something other than JSON gives ``{body, content_type}``.
* ``empty``  ``{}`` (or the decoded body, should the server send JSON anyway).
* ``text``   ``{body = <str>, content_type}``; ``binary`` ``{body = <bytes>, content_type}``.
* ``media``  ``{content_type, body_base64, <header fields>}``; when the API answers media as JSON
  (``Accept: application/json``) the JSON fields are renamed by ``op.response.json_fields`` (Stability's
  ``image`` -> ``body_base64``) and ``content_type`` comes from the ``type=`` parameter of the media type, else
  from the content's first bytes, else from the operation's documented type. A JSON answer without the media
  field (a job still running: ``{id, status = "in-progress"}`` with 202) is returned as it came.
  ``media_payload`` gives the same result with the content as raw bytes, for ``save_to``.

Errors (any other status): the message is the first of ``errors.message_fields`` found in a JSON body, else the
``errors.list_field`` items joined with "; ", else a short text body's first line, else the status phrase ("Bad
Gateway": an HTML page is never dumped into a message). The error's ``name`` is ``errors.name_field`` from the body,
else the status phrase in snake case (``not_found``, ``too_many_requests``).

Pure: no I/O (the clock is only read to turn a Retry-After date into seconds, and can be given as ``now``).
"""

from __future__ import annotations

import base64
import json
import re
import time
from http import HTTPStatus
from typing import Any

from ..errors import HTTPStatusError, TransportError
from ..integration import ErrorFormat, Integration
from ..sandbox.values import PlainData
from .spec import RawResponse
from .table import Operation

__all__ = ["parse_response", "media_payload", "error_from_response", "decode_json", "is_json_type", "MAX_ERROR_TEXT"]

#: Longest text body kept on an error value, and longest message taken from a body.
MAX_ERROR_TEXT = 1000
_MAX_MESSAGE = 500
_INTEGER = re.compile(r"^-?(0|[1-9][0-9]{0,17})$")


def is_json_type(content_type: str) -> bool:
    """application/json, application/problem+json, text/json..."""
    ct = content_type.lower()
    return ct in ("application/json", "text/json") or ct.endswith("+json")


def decode_json(body: bytes) -> PlainData:
    """Decode a JSON body. Raises ValueError when it is not JSON. (Lists need no marking: every Python list
    becomes a Lua array, even an empty one; see sandbox/marshal.py.)"""
    try:
        return json.loads(body)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _decode_or_fail(raw: RawResponse, function: str) -> PlainData:
    try:
        return decode_json(raw.body)
    except (ValueError, UnicodeDecodeError):
        raise TransportError(function, f"malformed JSON in response (HTTP {raw.status}, {len(raw.body)} bytes)",
                             status=raw.status) from None


def _charset(raw: RawResponse) -> str:
    for part in (raw.header("content-type") or "").split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip('"')
    return "utf-8"


def _text(raw: RawResponse) -> str:
    try:
        return raw.body.decode(_charset(raw), errors="replace")
    except LookupError:  # an unknown charset name
        return raw.body.decode("utf-8", errors="replace")


def _text_or_bytes(body: bytes) -> str | bytes:
    """A body of unknown kind: a str when it is valid UTF-8, else the bytes (Lua strings hold either)."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body


def _looks_like_json(body: bytes) -> bool:
    return body.lstrip()[:1] in (b"{", b"[")


def _media_type_param(raw: RawResponse) -> str | None:
    """``application/json; type=image/png`` -> ``image/png``."""
    for part in (raw.header("content-type") or "").split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "type" and value:
            return value.strip('"')
    return None


def _header_value(value: str) -> str | int:
    # Headers like Stability's `seed` carry numbers; a script should get 42, not "42".
    return int(value) if _INTEGER.match(value.strip()) else value


def _sniffed_type(content_prefix: bytes) -> str | None:
    from .files import sniff_content_type

    return sniff_content_type(content_prefix)


def _declared_media_type(op: Operation) -> str | None:
    """The operation's documented media type when it names one concrete type (not ``image/*``, not JSON)."""
    declared = op.response.content_type
    if declared and "*" not in declared and not is_json_type(declared):
        return declared
    return None


def _json_media(op: Operation, raw: RawResponse, function: str) -> tuple[str | None, dict[str, Any] | PlainData]:
    """The JSON form of a media answer: (base64 text of the media or None, the other fields renamed).

    No base64 field means the body is not the media itself: a job that is still running answers
    ``{id, status = "in-progress"}`` under the same operation, and that is returned as it came.
    """
    decoded = _decode_or_fail(raw, function)
    if not isinstance(decoded, dict):
        return None, decoded
    out: dict[str, Any] = {op.response.json_fields.get(k, k): v for k, v in decoded.items()}
    encoded = out.pop("body_base64", None)
    if not isinstance(encoded, str):
        if encoded is not None:
            out["body_base64"] = encoded  # not text: leave it for the script to look at, do not guess
        return None, out
    if "content_type" not in out:
        # The media type rides in a parameter ("application/json; type=image/png"); failing that the first bytes
        # tell (a few base64 characters suffice), then the type the operation documents.
        try:
            prefix = base64.b64decode(encoded[:24] + "=" * (-len(encoded[:24]) % 4))
        except ValueError:
            prefix = b""
        out["content_type"] = (_media_type_param(raw) or _sniffed_type(prefix) or _declared_media_type(op)
                               or "application/octet-stream")
    return encoded, out


def _add_header_fields(op: Operation, raw: RawResponse, out: dict[str, Any]) -> None:
    for field, header in op.response.header_fields.items():
        value = raw.header(header)
        if value is not None and field not in out:
            out[field] = _header_value(value)


def media_payload(op: Operation, raw: RawResponse, *, function: str) -> tuple[bytes | None, PlainData]:
    """The file content of a 2xx ``media``/``binary`` answer as raw bytes, and the result's other fields.

    This is what ``save_to`` writes: the bytes go to disk as they are, with no base64 copy made for a body that
    arrived raw. The content is None when the answer carries no file (204, or a still-running job's
    ``{id, status}``); the fields are then the whole result.
    """
    if raw.status == 204:
        return None, {}
    if op.response.kind == "media" and is_json_type(raw.content_type):
        encoded, fields = _json_media(op, raw, function)
        if encoded is None:
            if isinstance(fields, dict):
                _add_header_fields(op, raw, fields)
            return None, fields
        try:
            content = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise TransportError(function, f"the media in the JSON response is not valid base64 (HTTP {raw.status})",
                                 status=raw.status) from None
        assert isinstance(fields, dict)
        _add_header_fields(op, raw, fields)
        return content, fields
    fields = {"content_type": raw.content_type or _sniffed_type(raw.body[:16]) or "application/octet-stream"}
    if op.response.kind == "media":
        _add_header_fields(op, raw, fields)
    return raw.body, fields


def _media(op: Operation, raw: RawResponse, function: str) -> PlainData:
    if is_json_type(raw.content_type):
        encoded, out = _json_media(op, raw, function)
        if not isinstance(out, dict):
            return out
        if encoded is not None:
            # The API's own base64 text is passed on as it is: no decode/encode round trip for a large file.
            out = {"content_type": out.pop("content_type"), "body_base64": encoded, **out}
    else:
        out = {"content_type": raw.content_type or _sniffed_type(raw.body[:16]) or "application/octet-stream",
               "body_base64": base64.b64encode(raw.body).decode("ascii")}
    _add_header_fields(op, raw, out)
    return out


def _success(op: Operation, raw: RawResponse, function: str) -> PlainData:
    kind = op.response.kind
    ctype = raw.content_type
    if raw.status == 204:
        return {}
    if kind in ("json", "empty"):
        if not raw.body or raw.body.isspace():  # isspace: no copy of a large body, unlike strip()
            return {}
        if is_json_type(ctype) or (not ctype and _looks_like_json(raw.body)):
            return _decode_or_fail(raw, function)
        if kind == "empty":
            return {}
        return {"body": _text_or_bytes(raw.body), "content_type": ctype}
    if kind == "text":
        return {"body": _text(raw), "content_type": ctype}
    if kind == "binary":
        return {"body": raw.body, "content_type": ctype}
    if kind == "media":
        return _media(op, raw, function)
    raise TransportError(function, f"unknown response kind {kind!r} in the operation table")


def _as_message(value: Any) -> str | None:
    """A readable message from a message field, which APIs fill with a string, a list or an object."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, list):
        parts = [m for m in (_as_message(v) for v in value) if m]
        return "; ".join(parts) or None
    if isinstance(value, dict):
        for key in ("msg", "message", "detail", "error"):
            if isinstance(value.get(key), str) and value[key].strip():
                return value[key].strip()
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _message_from(body: dict[str, Any], fmt: ErrorFormat) -> str | None:
    for field in fmt.message_fields:
        message = _as_message(body.get(field))
        if message:
            return message
    if fmt.list_field:
        return _as_message(body.get(fmt.list_field))
    return None


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_from_response(raw: RawResponse, *, integration: Integration, function: str,
                        now: float | None = None) -> HTTPStatusError:
    """The error for a non-2xx response; the caller raises it."""
    fmt = integration.errors
    ctype = raw.content_type
    phrase = _phrase(raw.status)
    message: str | None = None
    name: str | None = None
    body: Any = None
    html = ctype in ("text/html", "application/xhtml+xml") or raw.body.lstrip()[:1] == b"<"
    if raw.body.strip() and not html:
        if is_json_type(ctype) or _looks_like_json(raw.body):
            try:
                body = decode_json(raw.body)
            except (ValueError, UnicodeDecodeError):
                body = _clip(_text(raw), MAX_ERROR_TEXT)
            else:
                if isinstance(body, dict):
                    message = _message_from(body, fmt)
                    if fmt.name_field and isinstance(body.get(fmt.name_field), str):
                        name = body[fmt.name_field]
                elif isinstance(body, str):
                    message = body.strip() or None
        else:
            text = _text(raw).strip()
            body = _clip(text, MAX_ERROR_TEXT)
            message = next((line.strip() for line in text.splitlines() if line.strip()), None)
    # One line: a message is shown after "HTTP 404: " and in logs.
    message = _clip(" ".join(message.split()), _MAX_MESSAGE) if message else phrase
    data: dict[str, Any] = {"name": name or re.sub(r"[^a-z0-9]+", "_", phrase.lower()).strip("_"), "body": body}
    from ..net.retry import parse_retry_after

    retry_after = parse_retry_after(raw.header("retry-after"), now=time.time() if now is None else now)
    if retry_after is not None:
        data["retry_after"] = retry_after
    if 300 <= raw.status < 400 and raw.header("location"):
        data["location"] = raw.header("location")
        message = f"{message} (redirect not followed)"
    return HTTPStatusError(function, raw.status, message, **data)


def parse_response(op: Operation, raw: RawResponse, *, integration: Integration, function: str,
                   now: float | None = None) -> PlainData:
    """Plain data for a 2xx response; raises HTTPStatusError for any other status, TransportError for a body
    that says it is JSON and is not."""
    if 200 <= raw.status < 300:
        return _success(op, raw, function)
    raise error_from_response(raw, integration=integration, function=function, now=now)
