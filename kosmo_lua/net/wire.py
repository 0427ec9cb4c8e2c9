"""The wire under ``HttpClient``: one HTTP exchange, status + headers + the body as decoded chunks.

``HttpClient`` owns everything around an exchange (pacing, the credential, timeouts capped by the run's deadline,
retries, size limits, streaming to disk); from an HTTP library it needs only this. Two wires:

* ``CoreWire`` sends through httpcore's connection pool, the connection layer httpx itself is built on. httpx's
  ``Client`` adds request/response models, header normalisation, a second URL parse, cookie and auth machinery:
  on loopback that was ~40 % of a request's client CPU (bench/call_overhead.py, docs/performance.md), and
  ``HttpClient`` uses none of what it adds (it keeps no cookies, follows no redirects, adds its own credential).
* ``HttpxWire`` sends through an ``httpx.Client``: for an injected httpx transport (the built-in emulators offline,
  tests), and for an account whose requests need what httpx already does well: a proxy from the environment, a
  host name that is not ASCII (IDNA).

``open_wire`` picks one per account. Both raise httpx's exception classes (``CoreWire`` raises the httpx class of
the same name as httpcore's), so ``HttpClient`` describes a failure the same way whichever wire carried it.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from urllib.parse import urlsplit

import httpx

__all__ = ["WireResponse", "CoreWire", "HttpxWire", "open_wire", "decoded"]

#: Connection limits: httpx's defaults, so behaviour under ``parallel`` is what it was with httpx.Client.
_MAX_CONNECTIONS = 100
_MAX_KEEPALIVE = 20
_KEEPALIVE_SECONDS = 5.0
#: Largest piece a decompressor hands out at once: a small compressed chunk cannot expand into memory unchecked
#: (``HttpClient`` counts the pieces against its response limit).
_PIECE = 256 * 1024
_PROXY_VARIABLES = frozenset({"http_proxy", "https_proxy", "all_proxy"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_WITH_EMPTY_BODY = frozenset({"POST", "PUT", "PATCH"})  # methods that say Content-Length: 0 without a body


class WireResponse:
    """A response whose body has not been read yet: ``chunks`` yields it decoded; ``close`` must always be called."""

    __slots__ = ("status", "headers", "chunks", "close")

    def __init__(self, status: int, headers: tuple[tuple[str, str], ...], chunks: Iterator[bytes],
                 close: Callable[[], None]) -> None:
        self.status = status
        self.headers = headers  # names lower-cased, in arrival order
        self.chunks = chunks
        self.close = close


class HttpxWire:
    def __init__(self, *, transport: httpx.BaseTransport | None, user_agent: str) -> None:
        self._client = httpx.Client(transport=transport, follow_redirects=False, headers={"User-Agent": user_agent})
        # No cookie jar (see HttpClient): httpx has no switch for that, so this client's Cookies object gets an
        # extraction step that keeps nothing.
        self._client.cookies.extract_cookies = _keep_no_cookies  # type: ignore[method-assign]

    def open(self, method: str, url: str, headers: list[tuple[str, str]], body: bytes | None,
             timeout: httpx.Timeout) -> WireResponse:
        request = self._client.build_request(method, url, headers=headers, content=body, timeout=timeout)
        response = self._client.send(request, stream=True)
        # Decoded once (lower-case names): httpx works out the headers' encoding again on every .get().
        return WireResponse(response.status_code, tuple(response.headers.multi_items()), response.iter_bytes(),
                            response.close)

    def close(self) -> None:
        self._client.close()


class CoreWire:
    """HTTP/1.1 through an ``httpcore.ConnectionPool``, with the request headers httpx would send."""

    def __init__(self, *, scheme: str, user_agent: str) -> None:
        import httpcore

        self._httpcore = httpcore
        # httpcore's exceptions have no common base class of their own: these roots cover them all.
        self._errors = (httpcore.ConnectionNotAvailable, httpcore.ProxyError, httpcore.UnsupportedProtocol,
                        httpcore.ProtocolError, httpcore.TimeoutException, httpcore.NetworkError)
        # The same certificate store httpx uses (certifi, or SSL_CERT_FILE / SSL_CERT_DIR when set).
        ssl_context = httpx.create_ssl_context() if scheme == "https" else None
        self._pool = httpcore.ConnectionPool(ssl_context=ssl_context, max_connections=_MAX_CONNECTIONS,
                                             max_keepalive_connections=_MAX_KEEPALIVE,
                                             keepalive_expiry=_KEEPALIVE_SECONDS)
        self._defaults = {"accept": ("Accept", "*/*"), "accept-encoding": ("Accept-Encoding", "gzip, deflate"),
                          "connection": ("Connection", "keep-alive"), "user-agent": ("User-Agent", user_agent)}

    def open(self, method: str, url: str, headers: list[tuple[str, str]], body: bytes | None,
             timeout: httpx.Timeout) -> WireResponse:
        httpcore = self._httpcore
        scheme, host, port, target = _split(url)
        netloc = f"[{host}]" if ":" in host else host
        if port != _DEFAULT_PORTS[scheme]:
            netloc = f"{netloc}:{port}"
        merged = dict(self._defaults)
        for name, value in headers:  # the request's own headers replace the defaults of the same name
            merged[name.lower()] = (name, value)
        # Host and Content-Length as httpx adds them, unless the request names them itself.
        lines = [] if "host" in merged else [(b"Host", netloc.encode("ascii"))]
        try:
            lines += [(name.encode("ascii"), value.encode("ascii")) for name, value in merged.values()]
        except UnicodeEncodeError:
            raise httpx.LocalProtocolError("a request header is not ASCII text") from None
        framed = "content-length" in merged or "transfer-encoding" in merged
        if not framed and body is not None:
            lines.append((b"Content-Length", str(len(body)).encode("ascii")))
        elif not framed and method in _WITH_EMPTY_BODY:
            lines.append((b"Content-Length", b"0"))
        request = httpcore.Request(method.encode("ascii"),
                                   httpcore.URL(scheme=scheme, host=host, port=port, target=target),
                                   headers=lines, content=body, extensions={"timeout": timeout.as_dict()})
        try:
            response = self._pool.handle_request(request)
        except self._errors as exc:
            raise _as_httpx(exc) from None
        received = tuple((name.decode("latin-1").lower(), value.decode("latin-1"))
                         for name, value in response.headers)
        encoding = ",".join(value for name, value in received if name == "content-encoding")

        def close() -> None:
            try:
                response.close()
            except self._errors:
                pass  # the connection is dropped either way; the exchange's own outcome is what counts

        return WireResponse(response.status, received, decoded(self._read(response), encoding), close)

    def _read(self, response: object) -> Iterator[bytes]:
        try:
            yield from response.stream  # type: ignore[attr-defined]
        except self._errors as exc:
            raise _as_httpx(exc) from None

    def close(self) -> None:
        self._pool.close()


def open_wire(base_url: str, *, transport: httpx.BaseTransport | None, user_agent: str,
              environ: Mapping[str, str] | None = None) -> CoreWire | HttpxWire:
    """The wire for an account whose requests go to ``base_url`` (pagination links stay on its origin)."""
    env = os.environ if environ is None else environ
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    proxied = any(name.lower() in _PROXY_VARIABLES and value for name, value in env.items())
    if transport is not None or proxied or not host.isascii() or parts.scheme not in _DEFAULT_PORTS:
        return HttpxWire(transport=transport, user_agent=user_agent)
    return CoreWire(scheme=parts.scheme, user_agent=user_agent)


def decoded(chunks: Iterable[bytes], content_encoding: str) -> Iterator[bytes]:
    """The body with its Content-Encoding undone (gzip, deflate; applied in order, so undone in reverse). Unknown
    codings pass the bytes through, as httpx does: some servers name a charset there."""
    codings = [c.strip().lower() for c in content_encoding.split(",")]
    stream = iter(chunks)
    for coding in reversed(codings):
        if coding in ("gzip", "x-gzip"):
            stream = _inflate(stream, zlib.MAX_WBITS | 16)
        elif coding == "deflate":
            stream = _inflate(stream, zlib.MAX_WBITS)
    return stream


def _inflate(chunks: Iterator[bytes], wbits: int) -> Iterator[bytes]:
    decompressor = zlib.decompressobj(wbits)
    first = True
    try:
        for chunk in chunks:
            data = chunk
            while data:
                try:
                    piece = decompressor.decompress(data, _PIECE)
                except zlib.error:
                    if not (first and wbits == zlib.MAX_WBITS):
                        raise
                    # "deflate" sent as a raw stream, without the zlib header (servers do both)
                    decompressor, wbits = zlib.decompressobj(-zlib.MAX_WBITS), -zlib.MAX_WBITS
                    continue
                first = False
                if piece:
                    yield piece
                data = decompressor.unconsumed_tail
        rest = decompressor.flush()
        if rest:
            yield rest
    except zlib.error as exc:
        raise httpx.DecodingError(f"the compressed body is damaged ({exc})") from None


def _split(url: str) -> tuple[str, str, int, str]:
    """scheme, host, port and request target of a URL ``build_url`` made."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise httpx.InvalidURL("invalid port") from None
    scheme = parts.scheme
    if scheme not in _DEFAULT_PORTS:
        raise httpx.UnsupportedProtocol(f"unsupported URL scheme {scheme!r}")
    host = parts.hostname or ""
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not host or not host.isascii() or not target.isascii() or not target.isprintable() or " " in target:
        raise httpx.InvalidURL("the URL is not plain ASCII text")
    return scheme, host, port if port is not None else _DEFAULT_PORTS[scheme], target


def _as_httpx(exc: Exception) -> httpx.HTTPError:
    """The httpx exception of the same name as an httpcore one (httpx maps them the same way)."""
    for cls in type(exc).__mro__:
        mapped = getattr(httpx, cls.__name__, None)
        if isinstance(mapped, type) and issubclass(mapped, httpx.TransportError):
            return mapped(str(exc))
    return httpx.TransportError(str(exc))


def _keep_no_cookies(response: httpx.Response) -> None:
    """Cookies.extract_cookies for HttpxWire: Set-Cookie headers are ignored."""
