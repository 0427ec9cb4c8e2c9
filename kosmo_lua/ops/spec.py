"""What a built request and a received response are, as plain values with no HTTP library in them.

``RequestSpec`` is the output of the pure request builder (``kosmo_lua.ops.request``) and the input of the injected
HTTP layer (``kosmo_lua.net``). ``RawResponse`` is what the HTTP layer hands to the response parser. Neither ever
holds a credential: authentication is added by the HTTP layer from the account, at send time.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RequestSpec", "RawResponse", "IDEMPOTENT_METHODS"]

#: Methods that may be repeated after a 5xx or a connection failure: the server either did nothing or doing it
#: twice has the same effect. POST/PATCH are never repeated unless the server answered 429 (it did not act).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "QUERY", "DELETE", "OPTIONS"})


@dataclass(frozen=True)
class RequestSpec:
    operation: str  # full dotted name for logs and errors: "replicate.get_prediction"
    method: str  # upper case, may be non-standard ("QUERY")
    path: str  # expanded and percent-encoded, relative to the base URL, starting with "/"
    query: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()  # never Authorization: the HTTP layer adds it
    body: bytes | None = None
    content_type: str | None = None
    #: An absolute URL to use instead of base URL + path (following a pagination ``next`` link). Must share the
    #: account's base URL origin; the HTTP layer refuses anything else so a token never leaves for another host.
    absolute_url: str | None = None

    @property
    def idempotent(self) -> bool:
        return self.method in IDEMPOTENT_METHODS


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: tuple[tuple[str, str], ...]  # names lower-cased, in arrival order
    body: bytes
    url: str  # the URL actually requested, with any token-bearing query redacted
    elapsed_ms: float
    attempts: int = 1

    def header(self, name: str, default: str | None = None) -> str | None:
        name = name.lower()
        for k, v in self.headers:
            if k == name:
                return v
        return default

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()
