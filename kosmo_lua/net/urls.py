"""Building request URLs and keeping them safe to show.

A credential may only travel to the account's own origin (scheme, host, port of its base URL): an absolute URL
from a response (a pagination ``next`` link) pointing anywhere else is refused before anything is sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

from ..errors import TransportError

__all__ = ["origin", "target", "build_url", "redact_query"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port if port is not None else _DEFAULT_PORTS.get(scheme)


def target(url: str) -> str:
    """``host:port`` of a URL: what error messages show instead of the URL (which may carry a token)."""
    _, host, port = origin(url)
    return f"{host}:{port}" if port is not None else host


def build_url(base_url: str, path: str, query: Sequence[tuple[str, str]], *, absolute_url: str | None,
              operation: str, drop_params: Iterable[str] = ()) -> str:
    """The URL to request: base URL + path (or absolute_url, same origin only) with query pairs appended.

    ``drop_params`` are removed from an absolute URL's own query first (the auth parameter is added afresh).
    """
    if absolute_url is not None:
        # A relative link ("/v1/models?cursor=...") is read against the base URL; "//host/..." names another host
        # and is caught by the origin check like any absolute URL.
        absolute_url = urljoin(base_url.rstrip("/") + "/", absolute_url)
        if origin(absolute_url) != origin(base_url):
            raise TransportError(operation, f"refused to send a request to {target(absolute_url)}: only "
                                            f"{target(base_url)} (the account's base URL) may receive it")
        parts = urlsplit(absolute_url)
        dropped = set(drop_params)
        pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in dropped]
        pairs += list(query)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(pairs, quote_via=quote, safe=","), ""))
    url = base_url.rstrip("/") + (path if path.startswith("/") else "/" + path)
    if query:
        # Every reserved character is percent-encoded except ",", which RFC 3986 allows in a query as it is: it is
        # the delimiter of OpenAPI's non-exploded arrays (tag=a,b; kosmo_lua.ops.styles).
        url += "?" + urlencode(list(query), quote_via=quote, safe=",")
    return url


def redact_query(url: str, params: Iterable[str]) -> str:
    """url with the values of the named query parameters replaced by ``***`` (for logs and RawResponse.url)."""
    hidden = set(params)
    if not hidden:
        return url
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = [(k, "***" if k in hidden else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(pairs, quote_via=quote, safe="*"),
                       parts.fragment))
