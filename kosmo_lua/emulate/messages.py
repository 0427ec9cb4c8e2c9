"""The values that travel between a transport (in-process or socket), the emulator core and route handlers.

``Incoming`` is a request as received, whatever carried it. A handler sees it as a ``Call`` (path parameters
resolved, credential extracted) and answers with a ``Reply`` or by raising ``ApiError``. The core wraps the reply
in an ``Answer``, which also says how to deliver it (normally, or damaged by a fault); each transport knows how to
carry out those instructions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlencode

import httpx

__all__ = ["Incoming", "Call", "Reply", "Answer", "ApiError", "Delivery"]


@dataclass(frozen=True)
class Incoming:
    method: str  # upper case, any token ("QUERY" included)
    path: str  # the full, still percent-encoded path: "/v1/models/a%2Fb"
    query: tuple[tuple[str, str], ...]
    headers: httpx.Headers
    body: bytes


class ApiError(Exception):
    """Raised by a handler to answer with an error in the emulated API's own error format."""

    def __init__(self, status: int, detail: str, *, title: str | None = None,
                 headers: tuple[tuple[str, str], ...] = (), content_type: str | None = None,
                 **extra: Any) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail
        self.title = title
        self.headers = headers
        self.content_type = content_type  # None: the emulator's default error media type
        self.extra = extra  # more body fields (e.g. the list of invalid fields of a 422)


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    #: Seconds to wait before sending (a server that holds the request, like ``Prefer: wait``). Done outside any
    #: lock, by the transport, so other requests keep flowing meanwhile.
    hold_seconds: float = 0.0

    @classmethod
    def json(cls, data: Any, status: int = 200, *, content_type: str = "application/json") -> "Reply":
        return cls(status, json.dumps(data, ensure_ascii=False).encode(), content_type)

    @classmethod
    def text(cls, text: str, status: int = 200, *, content_type: str = "text/plain; charset=utf-8") -> "Reply":
        return cls(status, text.encode(), content_type)

    @classmethod
    def empty(cls, status: int = 204) -> "Reply":
        return cls(status)

    def header(self, name: str) -> str | None:
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None


#: ``normal``: send the reply. ``drop_before``: close without answering. ``drop_mid``: send the headers and part
#: of the body, then close. ``hold``: wait ``hold_seconds`` first. ``pad``: append ``pad_bytes`` of whitespace,
#: streamed (JSON stays valid JSON).
Delivery = Literal["normal", "drop_before", "drop_mid", "hold", "pad"]


@dataclass
class Answer:
    reply: Reply
    delivery: Delivery = "normal"
    hold_seconds: float = 0.0
    pad_bytes: int = 0

    def wire_headers(self) -> list[tuple[str, str]]:
        """The headers to send, Content-Type and Content-Length included (the latter covering any padding)."""
        out = [(k, v) for k, v in self.reply.headers if k.lower() not in ("content-length", "content-type")]
        if self.reply.content_type:
            out.append(("Content-Type", self.reply.content_type))
        if self.reply.status >= 200 and self.reply.status not in (204, 304):  # these never have a body (RFC 9110)
            out.append(("Content-Length", str(len(self.reply.body) + self.pad_bytes)))
        return out


@dataclass
class Call:
    """What a route handler gets: the request, its path parameters and the caller's credential."""

    method: str
    path: str  # relative to the API prefix when the route is prefixed ("/predictions/abc")
    params: dict[str, str]  # path template values, percent-decoded
    query: tuple[tuple[str, str], ...]
    headers: httpx.Headers
    body: bytes
    token: str | None  # the credential from Authorization, never logged
    base_url: str  # the public base URL for links in this answer: "http://127.0.0.1:43123/v1"
    origin: str  # base_url without the API prefix: "http://127.0.0.1:43123"

    def query_value(self, name: str) -> str | None:
        """The first value of a query parameter, or None."""
        for k, v in self.query:
            if k == name:
                return v
        return None

    @property
    def media_type(self) -> str:
        return (self.headers.get("content-type") or "").split(";")[0].strip().lower()

    def json_body(self) -> Any:
        """The body decoded as JSON (``None`` when empty). 415 for another media type, 400 when malformed."""
        if not self.body.strip():
            return None
        media = self.media_type
        if media != "application/json" and not media.endswith("+json"):
            raise ApiError(415, f"Expected a body of type application/json, not {media or 'an unlabelled body'}",
                           title="Unsupported Media Type")
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"The request body is not valid JSON: {exc}", title="Malformed JSON") from None

    def url(self, path: str, query: list[tuple[str, str]] | None = None) -> str:
        """An absolute link under the API base: ``call.url("/predictions/abc")``."""
        return self.base_url + path + (f"?{urlencode(query)}" if query else "")
