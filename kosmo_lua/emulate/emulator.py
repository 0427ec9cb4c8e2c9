"""The base class of every API emulator: routing, credentials, faults, the request log and the two ways in.

A subclass declares ``title``, ``api_prefix`` and handlers marked with ``@route``; it builds its data in
``reset_state`` (called from ``__init__``, so set the subclass's own options before ``super().__init__``) and renders
errors in the API's own format by overriding ``error_reply``. Everything else (fault injection, logging with
redaction, the in-process transport, the loopback server, control endpoints) is here and names no API.

Handlers run one at a time under the emulator's state lock, so a subclass is thread-safe without locking of its
own; waits (latency, held answers) happen outside the lock.
"""

from __future__ import annotations

import http
import logging
import threading
import time
from typing import Any, Callable, ClassVar
from urllib.parse import urlsplit

import httpx

from ..errors import UsageError
from .clock import Clock
from .control import control_reply
from .faults import Fault, FaultPlan, Selection, retry_after_header
from .ids import IdFactory
from .inprocess import incoming_from_httpx, response_for
from .log import LoggedRequest, RequestLog, redact_headers, redact_query
from .messages import Answer, ApiError, Call, Incoming, Reply
from .routing import RouteMiss, Router
from .server import LoopbackServer

__all__ = ["Emulator", "DEFAULT_ORIGIN", "CONTROL_PREFIX"]

logger = logging.getLogger("kosmo_lua.emulate")

#: Where in-process links point unless the caller names a base URL (".invalid" can never resolve, by RFC 2606).
DEFAULT_ORIGIN = "http://emulator.invalid"
#: Paths under this prefix are the emulator's own control endpoints, outside any API prefix.
CONTROL_PREFIX = "/_emulator/"
_MIB = 1024 * 1024

_FAULT_DETAILS = {
    429: "Request was throttled. Retry after the time given in the Retry-After header.",
    500: "An unexpected error occurred on the server.",
    502: "The server received an invalid response from an upstream server.",
    503: "The service is temporarily unavailable. Try again shortly.",
    504: "The upstream server did not answer in time.",
}

_HTML_PAGE = """<html>
<head><title>{status} {phrase}</title></head>
<body>
<center><h1>{status} {phrase}</h1></center>
<hr><center>nginx</center>
</body>
</html>
"""


class Emulator:
    title: ClassVar[str] = "API"  # names the emulator in messages: "<title> emulator listening on ..."
    api_prefix: ClassVar[str] = ""  # path every API route lives under: "/v1"
    auth_schemes: ClassVar[tuple[str, ...]] = ("Bearer",)  # accepted Authorization schemes (case-insensitive)

    def __init__(self, *, base_url: str | None = None, seed: int | str = 0, latency_ms: float = 0.0,
                 clock: Clock = time.time) -> None:
        self.base_url = _checked_base_url(base_url or DEFAULT_ORIGIN + self.api_prefix, self.api_prefix)
        self.seed = seed
        if not isinstance(latency_ms, (int, float)) or isinstance(latency_ms, bool) or latency_ms < 0:
            raise UsageError(f"{self.title} emulator: latency_ms must be a number >= 0, not {latency_ms!r}")
        #: Milliseconds added to every API request (not to control endpoints); survives ``reset``.
        self.latency_ms = float(latency_ms)
        self.clock = clock
        self.ids = IdFactory(seed)
        self.faults = FaultPlan()
        self._log = RequestLog()
        self._state_lock = threading.RLock()
        self._router = Router.collect(self, self.api_prefix)
        self.reset_state()

    # -- state -----------------------------------------------------------------------------------------------------

    def reset_state(self) -> None:
        """Build the emulated API's data afresh (seed catalog included). Called at start and by ``reset``."""

    def reset(self) -> None:
        """Forget every request, fault and object created since start; ids start over."""
        with self._state_lock:
            self.faults.clear()
            self._log.clear()
            self.ids.reset()
            self.reset_state()

    @property
    def requests(self) -> list[LoggedRequest]:
        """A copy of the request log (API requests only, credentials redacted)."""
        return self._log.snapshot()

    # -- hooks for subclasses --------------------------------------------------------------------------------------

    def credential(self, headers: httpx.Headers) -> str | None:
        """The non-empty credential of ``Authorization: <scheme> <credential>``, or None."""
        scheme, _, value = (headers.get("authorization") or "").strip().partition(" ")
        if scheme.lower() not in {s.lower() for s in self.auth_schemes}:
            return None
        return value.strip() or None

    def error_reply(self, status: int, detail: str, *, title: str | None = None,
                    headers: tuple[tuple[str, str], ...] = (), content_type: str | None = None,
                    **extra: Any) -> Reply:
        """An error in the API's format. Default: RFC 9457 problem details (title, detail, status)."""
        body = {"title": title or _phrase(status), "detail": detail, "status": status, **extra}
        reply = Reply.json(body, status, content_type=content_type or "application/problem+json")
        reply.headers.extend(headers)
        return reply

    def unauthenticated_reply(self) -> Reply:
        return self.error_reply(401, "You did not pass a valid authentication token", title="Unauthenticated")

    # -- the pipeline ----------------------------------------------------------------------------------------------

    def process(self, incoming: Incoming, *, base_url: str | None = None,
                sleep: Callable[[float], Any] = time.sleep) -> Answer:
        """Answer one request: control endpoints, then faults, latency, auth, the route handler, the log.

        ``base_url`` is the public base for links in the answer (the loopback server passes its own); ``sleep``
        lets a server cut waits short when it stops.
        """
        base = base_url or self.base_url
        if incoming.path.startswith(CONTROL_PREFIX):
            return Answer(control_reply(self, incoming, base))
        arrived = time.time()
        token = self.credential(incoming.headers)
        selection = self.faults.select(incoming.method, incoming.path, token)
        delay = (self.latency_ms + selection.delay_ms) / 1000
        if delay > 0:
            sleep(delay)
        fault = selection.fault
        if fault is not None and fault.replaces_answer:
            answer = Answer(self._fault_reply(fault, selection))
            if fault.kind == "drop_before_response":
                answer.delivery = "drop_before"
        else:
            answer = self._deliver_with(self._route(incoming, token, base), fault)
        self._log.append(LoggedRequest(
            method=incoming.method,
            path=incoming.path,
            query=redact_query(incoming.query),  # a query-parameter credential is redacted like a header
            headers=redact_headers(list(incoming.headers.multi_items())),
            body=incoming.body,
            status=None if answer.delivery == "drop_before" else answer.reply.status,
            fault=fault.kind if fault is not None else None,
            timestamp=arrived,
            answered=time.time(),
        ))
        return answer

    def _route(self, incoming: Incoming, token: str | None, base: str) -> Reply:
        try:
            route, params, path = self._router.match(incoming.method, incoming.path)
        except RouteMiss as miss:
            if miss.allowed:
                return self.error_reply(405, f"{incoming.method} is not allowed on {incoming.path}",
                                        headers=(("Allow", ", ".join(miss.allowed)),))
            return self.error_reply(404, f"No such endpoint: {incoming.method} {incoming.path}", title="Not found")
        if route.auth and token is None:
            return self.unauthenticated_reply()
        call = Call(method=incoming.method, path=path, params=params, query=incoming.query,
                    headers=incoming.headers, body=incoming.body, token=token, base_url=base,
                    origin=_origin(base))
        try:
            with self._state_lock:
                reply = route.handler(call)
        except ApiError as exc:
            return self.error_reply(exc.status, exc.detail, title=exc.title, headers=exc.headers,
                                    content_type=exc.content_type, **exc.extra)
        except Exception as exc:  # a bug in the emulator: say so plainly instead of dropping the connection
            logger.exception("%s emulator: handler for %s %s failed", self.title, incoming.method, incoming.path)
            return self.error_reply(500, f"internal emulator error ({type(exc).__name__})",
                                    title="Internal Server Error")
        if not isinstance(reply, Reply):
            raise TypeError(f"{route.handler!r} returned {type(reply).__name__}, not Reply")
        return reply

    def _deliver_with(self, reply: Reply, fault: Fault | None) -> Answer:
        answer = Answer(reply, hold_seconds=reply.hold_seconds)
        if reply.hold_seconds > 0:
            answer.delivery = "hold"
        if fault is None:
            return answer
        if fault.kind == "drop_mid_body":
            answer.delivery = "drop_mid"
        elif fault.kind == "read_timeout":
            answer.delivery = "hold"
            answer.hold_seconds += fault.seconds
        elif fault.kind == "large_body":
            answer.delivery = "pad"
            answer.pad_bytes = max(int(fault.size_mb * _MIB) - len(reply.body), 0)
        return answer

    def _fault_reply(self, fault: Fault, selection: Selection) -> Reply:
        if fault.kind == "html_error":
            status = fault.status or 502
            page = _HTML_PAGE.format(status=status, phrase=_phrase(status))
            return Reply.text(page, status, content_type="text/html; charset=utf-8")
        if fault.kind == "malformed_json":
            # Cut off inside a string value: no JSON parser can accept it, and it looks like a truncated answer.
            return Reply(200, b'{"id": "emulated", "status": "succeeded", "output": ["https://', "application/json")
        if fault.kind == "drop_before_response":
            return Reply(0)  # never sent
        status = 429 if fault.kind == "rate_limit" else (fault.status or 500)
        retry_after = selection.retry_after
        if retry_after is None and status == 429:
            retry_after = 1.0
        headers: tuple[tuple[str, str], ...] = ()
        if retry_after is not None:
            headers = (("Retry-After", retry_after_header(retry_after, fault.retry_after_date)),)
        detail = fault.detail or _FAULT_DETAILS.get(status, _phrase(status))
        return self.error_reply(status, detail, title=_phrase(status), headers=headers)

    # -- ways in ---------------------------------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer an ``httpx.Request`` in this thread, faults included (a dropped connection raises)."""
        return response_for(self.process(incoming_from_httpx(request)), request)

    def transport(self) -> httpx.BaseTransport:
        """An httpx transport that sends every request to this emulator: ``httpx.Client(transport=...)``."""
        return httpx.MockTransport(self.handle)

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> LoopbackServer:
        """Start answering on a real socket in a background thread; stop with ``.stop()`` or a ``with`` block."""
        return LoopbackServer(self, host, port)


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _origin(base_url: str) -> str:
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}"


def _checked_base_url(base_url: str, prefix: str) -> str:
    base = base_url.rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise UsageError(f"emulator base_url must be an absolute http(s) URL, not {base_url!r}")
    if parts.path != prefix:
        raise UsageError(f"emulator base_url must end with the API prefix {prefix or '(none)'!r}: {base_url!r}")
    return base
