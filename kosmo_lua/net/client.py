"""``HttpClient``: sends a ``RequestSpec`` for one account and returns a ``RawResponse``.

One client per account, holding one connection pool (``kosmo_lua.net.wire``: httpcore, or an httpx.Client for an
injected transport or a proxy). Per attempt it paces (``Pacer``), adds the
credential, caps every timeout by the run's deadline, streams the body with a size limit, and decides from
``retry`` whether and when to try again (see ``kosmo_lua.net.retry`` for which failures may be repeated). Errors
leave as ``kosmo_lua.errors`` classes with short messages naming host:port, never a URL query or a secret.

httpx is imported when the first client is made: a script that calls no API does not pay for it.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..config.accounts import Account
from ..config.secret import redact, redact_bytes
from ..errors import TransportError, format_mib
from ..integration import Integration
from ..ops.spec import RawResponse, RequestSpec
from .auth import auth_header_name, auth_headers_and_query, derived_secrets, with_auth_headers
from .errors import DeadlineReached
from .logguard import guard_library_logs
from .pacing import Pacer, shared_pacer
from .retry import backoff_delay, parse_retry_after, retryable_status
from .timeouts import account_timeouts, read_timeout_for
from .urls import build_url, redact_query, target

if TYPE_CHECKING:
    import httpx

    from .sink import FileSink

__all__ = ["HttpClient", "DEFAULT_MAX_RESPONSE_BYTES", "MAX_RETRY_AFTER_SECONDS", "user_agent"]

DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024 * 1024
#: Without a deadline, a Retry-After longer than this is not waited for: the 429 goes back to the caller.
MAX_RETRY_AFTER_SECONDS = 120.0

log = logging.getLogger("kosmo_lua.net")


def user_agent() -> str:
    import httpx

    from .. import __version__

    return f"kosmo-lua/{__version__} (+python-httpx/{httpx.__version__})"


class _Failed(Exception):
    """One attempt's network failure, already described; internal to the retry loop."""

    def __init__(self, error: TransportError, retry_safe: bool) -> None:
        super().__init__(error.message)
        self.error = error
        self.retry_safe = retry_safe


def _first(items: tuple[tuple[str, str], ...], name: str) -> str:
    for key, value in items:
        if key == name:
            return value
    return ""


class HttpClient:
    """Sends requests for one account. Thread-safe: several threads may call ``send`` at once."""

    def __init__(self, account: Account, integration: Integration, *,
                 transport: "httpx.BaseTransport | None" = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic,
                 rng: Callable[[], float] = random.random,
                 pacer: Pacer | None = None,
                 max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
                 wall_clock: Callable[[], float] = time.time) -> None:
        import httpx

        self.account = account
        self.integration = integration
        self.max_response_bytes = max_response_bytes
        # integration.yaml's timeouts, with the account's connect_timeout / read_timeout fields on top.
        self.timeouts = account_timeouts(integration.timeouts, account.fields)
        guard_library_logs([account.secret, *self._secret_fields()])  # httpx logs URLs (a query token too)
        self._sleep = sleep
        self._clock = clock
        self._rng = rng
        self._wall_clock = wall_clock  # Unix time, for Retry-After given as an HTTP date
        if pacer is None:
            # The shared pacer runs on the real clock; a client with an injected clock gets its own.
            real_time = clock is time.monotonic and sleep is time.sleep
            pacer = shared_pacer(account, integration) if real_time else \
                Pacer(integration.rate_limits, clock=clock, sleep=sleep)
        self.pacer = pacer
        # The connection(s) to the API (kosmo_lua.net.wire). No cookie jar on either wire: an API's state travels in
        # the account's credentials, never in cookies a server set on an earlier call. No redirects followed.
        from .wire import open_wire

        self._wire = open_wire(account.base_url, transport=transport, user_agent=user_agent())
        self._uncapped: dict[float, httpx.Timeout] = {}
        # Per account, so worked out once: the query parameter that carries a key (never shown), the header names
        # a request may not set itself, and the credential's headers and query pairs (made on the first request).
        scheme = integration.auth
        self._hidden_params = frozenset({scheme.name} if scheme.kind == "query" else ())
        blocked = {"authorization"}
        name = auth_header_name(integration)
        if name:
            blocked.add(name.lower())
        self._blocked_headers = frozenset(blocked)
        self._credential: tuple[list[tuple[str, str]], list[tuple[str, str]]] | None = None

    def close(self) -> None:
        self._wire.close()

    def __enter__(self) -> "HttpClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"HttpClient({self.account.integration}/{self.account.name} -> {target(self.account.base_url)})"

    # -- the request loop ------------------------------------------------------------------------------------------

    def send(self, spec: RequestSpec, *, deadline: float | None, rate_key: str | None = None,
             auth: bool = True, sink: "FileSink | None" = None) -> RawResponse:
        """Send spec, retrying what may be retried, within deadline (a ``clock()`` value; None = no limit).

        ``rate_key`` is the canonical operation name that picks the rate-limit entry; ``auth=False`` sends no
        credential (operations the API serves without one). With ``sink``, an answer the sink wants (``save_to``
        of a file) is streamed into it instead of memory: the RawResponse's body is then empty and ``sink.used``.
        """
        if deadline is not None and math.isinf(deadline):
            deadline = None  # the sandbox's "no chunk running" value: no limit, and long Retry-After rules apply
        op = spec.operation
        hidden_params = self._hidden_params
        auth_headers, auth_query = self._credentials(op) if auth else ([], [])
        url = build_url(self.account.base_url, spec.path, [*spec.query, *auth_query],
                        absolute_url=spec.absolute_url, operation=op, drop_params=hidden_params)
        shown_url = redact_query(url, hidden_params)
        headers = self._headers(spec, auth_headers)
        read_timeout = read_timeout_for(spec.headers, self.timeouts)
        policy = self.integration.retry
        max_attempts = max(1, policy.max_attempts)
        started = self._clock()
        attempts = 0
        while True:
            attempts += 1
            try:
                # The slot is held while the attempt is in flight (Pacer.slot): no server-side window can see
                # more than the declared limit, however requests of concurrent tasks overtake each other.
                with self.pacer.slot(rate_key, deadline, operation=op):
                    status, resp_headers, body = self._exchange(spec, url, headers, read_timeout, deadline, sink)
            except _Failed as failed:
                error = failed.error
                if attempts > 1:
                    error = TransportError(op, f"{error.data['message']} (after {attempts} attempts)",
                                           attempts=attempts)
                may_retry = failed.retry_safe and attempts < max_attempts
                delay = backoff_delay(attempts - 1, policy, self._rng) if may_retry else 0.0
                if not may_retry or not self._fits(delay, deadline):
                    raise error from None
                log.debug("%s %s: %s; retrying in %.2f s", spec.method, shown_url, failed.error.message, delay)
                self._sleep(delay)
                continue
            if status >= 300:
                # Some APIs echo the credential in an error ("invalid token r8_..."): error values, envelopes and
                # logs are all built from this answer, so the token is masked here, where it is known.
                body, resp_headers = self._scrubbed(body, resp_headers)
            raw = RawResponse(status=status, headers=resp_headers, body=body, url=shown_url,
                              elapsed_ms=(self._clock() - started) * 1000, attempts=attempts)
            log.debug("%s %s -> %d (attempt %d)", spec.method, shown_url, status, attempts)
            if attempts >= max_attempts or not retryable_status(status, idempotent=spec.idempotent):
                return raw
            retry_after = parse_retry_after(raw.header("retry-after"), now=self._wall_clock())
            if retry_after is None:
                delay = backoff_delay(attempts - 1, policy, self._rng)
                if not self._fits(delay, deadline):
                    return raw
            elif not self._fits(retry_after, deadline):
                if status == 429:
                    raise TransportError(op, f"rate limited (HTTP 429): the API asks to wait {retry_after:g} s, "
                                             f"which is past the time limit; not retried",
                                         status=429, retry_after=retry_after, attempts=attempts)
                return raw
            elif deadline is None and retry_after > MAX_RETRY_AFTER_SECONDS:
                return raw
            else:
                delay = retry_after
            self._sleep(delay)

    def _credentials(self, op: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """The account's credential as headers and query pairs; CredentialsMissing (not kept) when it has none."""
        if self._credential is None:
            self._credential = auth_headers_and_query(self.account, self.integration, function=op)
        return self._credential

    def _fits(self, delay: float, deadline: float | None) -> bool:
        """Whether waiting delay still leaves time for another attempt before deadline."""
        return deadline is None or self._clock() + delay < deadline

    def _headers(self, spec: RequestSpec, auth_headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        # A credential comes only from the account: any auth header in the spec is dropped, never forwarded.
        blocked = self._blocked_headers
        headers = [(k, v) for k, v in spec.headers if k.lower() not in blocked]
        if spec.content_type and not any(k.lower() == "content-type" for k, _ in headers):
            headers.append(("Content-Type", spec.content_type))
        return with_auth_headers(headers, auth_headers, self.integration)

    def _timeouts(self, read_timeout: float, deadline: float | None, op: str) -> tuple["httpx.Timeout", bool]:
        """This attempt's timeouts, each capped by the time left; also whether the cap bit."""
        import httpx

        connect, read = self.timeouts.connect, read_timeout
        capped = False
        if deadline is not None:
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise DeadlineReached(op)
            if remaining < max(connect, read):
                capped = True
                connect, read = min(connect, remaining), min(read, remaining)
        if capped:
            return httpx.Timeout(connect=connect, read=read, write=read, pool=connect), True
        timeout = self._uncapped.get(read)  # the usual case: one object per read timeout, not one per attempt
        if timeout is None:
            timeout = self._uncapped[read] = httpx.Timeout(connect=connect, read=read, write=read, pool=connect)
        return timeout, False

    def _exchange(self, spec: RequestSpec, url: str, headers: list[tuple[str, str]], read_timeout: float,
                  deadline: float | None, sink: "FileSink | None" = None
                  ) -> tuple[int, tuple[tuple[str, str], ...], bytes]:
        """One attempt: status, headers (lower-case names) and the whole body (empty when it went to sink)."""
        import httpx

        op = spec.operation
        timeout, capped = self._timeouts(read_timeout, deadline, op)
        try:
            response = self._wire.open(spec.method, url, headers, spec.body, timeout)
        except httpx.InvalidURL:
            raise TransportError(op, f"invalid request URL for {target(url)}") from None
        except httpx.HTTPError as exc:
            if capped and isinstance(exc, httpx.TimeoutException):
                raise DeadlineReached(op) from None
            raise self._describe(exc, url, spec, timeout) from None
        try:
            resp_headers = response.headers
            declared = _first(resp_headers, "content-length")
            if declared.isdigit() and int(declared) > self.max_response_bytes:
                raise self._too_large(op)
            content_type = _first(resp_headers, "content-type").split(";")[0].strip().lower()
            to_disk = sink is not None and sink.wants(response.status, content_type)
            if sink is not None:
                sink.start() if to_disk else sink.skip()  # per attempt: a retry may answer differently
            chunks: list[bytes] = []
            size = 0
            for chunk in response.chunks:
                size += len(chunk)
                if size > self.max_response_bytes:
                    raise self._too_large(op)
                if to_disk:
                    sink.write(chunk)  # type: ignore[union-attr]
                else:
                    chunks.append(chunk)
                if deadline is not None and self._clock() > deadline:
                    raise DeadlineReached(op)
            return response.status, resp_headers, b"".join(chunks)
        except httpx.HTTPError as exc:
            if capped and isinstance(exc, httpx.TimeoutException):
                raise DeadlineReached(op) from None
            raise self._describe(exc, url, spec, timeout) from None
        finally:
            response.close()

    def _too_large(self, op: str) -> TransportError:
        return TransportError(op, f"response too large (over {format_mib(self.max_response_bytes)}); refused")

    def _describe(self, exc: Exception, url: str, spec: RequestSpec, timeout: "httpx.Timeout") -> _Failed:
        """A short message for a network failure, and whether the attempt may be repeated."""
        import httpx

        where = target(url)
        reason = self._reason(exc)
        # Nothing of the request left the machine: safe to repeat whatever the method.
        not_sent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
        if isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout)):
            message = f"timed out connecting to {where} after {timeout.connect:g} s"
        elif isinstance(exc, httpx.ConnectError):
            message = f"could not connect to {where} ({reason})"
        elif isinstance(exc, httpx.ReadTimeout):
            message = f"no response from {where} within {timeout.read:g} s"
        elif isinstance(exc, httpx.WriteTimeout):
            message = f"timed out sending the request to {where}"
        elif isinstance(exc, httpx.LocalProtocolError):
            message = f"could not send the request to {where} ({reason})"
        elif isinstance(exc, httpx.RemoteProtocolError):
            message = f"the connection to {where} closed before a complete response"
        elif isinstance(exc, httpx.ReadError):
            message = f"the connection to {where} failed while reading the response ({reason})"
        elif isinstance(exc, httpx.WriteError):
            message = f"the connection to {where} failed while sending the request ({reason})"
        elif isinstance(exc, httpx.DecodingError):
            message = f"could not decode the response body from {where} ({reason})"
        elif isinstance(exc, httpx.ProxyError):
            message = f"the proxy refused the request to {where} ({reason})"
        elif isinstance(exc, httpx.UnsupportedProtocol):
            message = f"unsupported URL scheme for {where}"
        else:
            message = f"request to {where} failed ({type(exc).__name__})"
        network = isinstance(exc, (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError))
        retry_safe = not_sent or (spec.idempotent and network)
        return _Failed(TransportError(spec.operation, message), retry_safe)

    def _reason(self, exc: Exception) -> str:
        """The library's explanation, one short line, with any secret removed."""
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        text = redact(text, [self.account.secret, *self._secret_fields()])
        lowered = text.lower()
        if "refused" in lowered:
            return "connection refused"
        if "name or service not known" in lowered or "nodename nor servname" in lowered \
                or "temporary failure in name resolution" in lowered:
            return "host not found"
        return text[:160]

    def _scrubbed(self, body: bytes, headers: tuple[tuple[str, str], ...]
                  ) -> tuple[bytes, tuple[tuple[str, str], ...]]:
        secrets = [self.account.secret, *self._secret_fields()]
        return redact_bytes(body, secrets), tuple((name, redact(value, secrets)) for name, value in headers)

    def _secret_fields(self) -> list[Any]:
        from ..config.secret import Secret

        # Basic auth's user name is a secret field; the encoded user:password pair is derived from both.
        return [*(v for v in self.account.fields.values() if isinstance(v, Secret)),
                *derived_secrets(self.account, self.integration)]
