"""The HTTP layer against a real loopback server: auth, retries, timeouts, deadlines, size limits and pacing.

The server below is scripted per test (reply / drop the connection / stall) and counts what reached it, so
"a POST is never repeated" is checked on the server side. Waits use an injected clock and sleep: no test asserts
on wall time.
"""

from __future__ import annotations

import email.utils
import logging
import socket
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from kosmo_lua.config import Account, Secret
from kosmo_lua.errors import CredentialsMissing, TransportError
from kosmo_lua.integration import AuthScheme, Integration, RateLimit, RetryPolicy, load_integration
from kosmo_lua.net import DeadlineReached, HttpClient, Pacer, shared_pacer, user_agent
from kosmo_lua.net.retry import backoff_delay, parse_retry_after
from kosmo_lua.net.timeouts import read_timeout_for
from kosmo_lua.ops.spec import RequestSpec

REPO = Path(__file__).resolve().parents[1]
TOKEN = "r8_TEST_token_never_shown_91ab"


# -- a scripted loopback server ------------------------------------------------------------------------------------

@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Script:
    actions: deque[tuple[Any, ...]] = field(default_factory=deque)
    seen: list[Seen] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def then(self, *action: Any) -> "Script":
        self.actions.append(action)
        return self


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    script: Script

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.script.seen.append(Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        action = self.script.actions.popleft() if self.script.actions else ("reply", 200, {}, b"{}")
        kind = action[0]
        if kind == "drop":  # close without answering: the request may have been acted on
            self.close_connection = True
            return
        if kind == "stall":  # hold the answer until the test ends (or the given seconds pass)
            self.script.release.wait(action[1])
            action = ("reply", 200, {}, b"{}")
        if kind == "chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in action[1]:
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
            return
        _, status, headers, payload = action
        self.send_response(status)
        headers = {"Content-Type": "application/json", **headers}
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_QUERY = do_HEAD = _serve


@pytest.fixture(scope="module")
def httpd() -> Iterator[ThreadingHTTPServer]:
    handler = type("ScriptedHandler", (Handler,), {"script": Script()})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    httpd.block_on_close = False  # a stalled handler must not hold up the teardown
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def server(httpd: ThreadingHTTPServer) -> Iterator[tuple[Script, str]]:
    """A fresh script on the shared server, and the base URL to reach it."""
    script = Script()
    httpd.RequestHandlerClass.script = script  # type: ignore[attr-defined]
    try:
        yield script, f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        script.release.set()  # let any stalled handler finish


class FakeTime:
    """A clock that only moves when someone sleeps; thread-safe."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


@pytest.fixture
def integration() -> Integration:
    base = load_integration(REPO / "integrations" / "replicate")
    return replace(base, timeouts=replace(base.timeouts, connect=2.0, read=2.0),
                   retry=RetryPolicy(max_attempts=4, backoff_base=0.25, backoff_cap=8.0), rate_limits=())


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)


def make_client(base_url: str, integration: Integration, fake: FakeTime | None = None, *,
                secret: str | None = TOKEN, **kw: Any) -> HttpClient:
    account = Account("replicate", "default", base_url, Secret(secret) if secret else None, {})
    if fake is not None:
        kw.setdefault("clock", fake.clock)
        kw.setdefault("sleep", fake.sleep)
    kw.setdefault("rng", lambda: 0.5)
    return HttpClient(account, integration, **kw)


def spec(method: str = "GET", path: str = "/predictions/abc", **kw: Any) -> RequestSpec:
    return RequestSpec(operation="replicate.test_op", method=method, path=path, **kw)


# -- requests and auth ---------------------------------------------------------------------------------------------

def test_sends_bearer_user_agent_body_and_returns_raw(server: tuple[Script, str], integration: Integration) -> None:
    script, base = server
    script.then("reply", 201, {"X-Request-Id": "r1"}, b'{"id": "p1"}')
    with make_client(base, integration, FakeTime()) as client:
        raw = client.send(spec("POST", "/predictions", query=(("a", "1 2"),), body=b'{"input": {}}',
                               content_type="application/json", headers=(("Prefer", "wait=5"),)),
                          deadline=None, rate_key="create_prediction")
    seen = script.seen[0]
    assert (seen.method, seen.path, seen.body) == ("POST", "/v1/predictions?a=1%202", b'{"input": {}}')
    assert seen.headers["authorization"] == f"Bearer {TOKEN}"
    assert seen.headers["content-type"] == "application/json" and seen.headers["prefer"] == "wait=5"
    assert seen.headers["user-agent"] == user_agent() and user_agent().startswith("kosmo-lua/0.")
    assert "(+python-httpx/" in user_agent()
    assert (raw.status, raw.body, raw.attempts) == (201, b'{"id": "p1"}', 1)
    assert raw.header("X-Request-Id") == "r1" and ("x-request-id", "r1") in raw.headers
    assert raw.url == f"{base}/predictions?a=1%202"


def test_cookies_a_server_sets_are_never_sent_back(server: tuple[Script, str], integration: Integration) -> None:
    script, base = server
    script.then("reply", 200, {"Set-Cookie": "session=abc; Path=/"}, b'{"id": "p1"}')
    script.then("reply", 200, {}, b'{"id": "p1"}')
    with make_client(base, integration, FakeTime()) as client:
        first = client.send(spec(), deadline=None)
        client.send(spec(), deadline=None)
    assert first.header("set-cookie") == "session=abc; Path=/"  # the answer still shows it
    assert "cookie" not in script.seen[1].headers  # ... but no jar carries it into the next request


def test_operation_without_auth_sends_no_credential(server: tuple[Script, str], integration: Integration) -> None:
    script, base = server
    with make_client(base, integration, FakeTime(), secret=None) as client:
        client.send(spec(path="/search", headers=(("Authorization", "Bearer smuggled"),)), deadline=None,
                    auth=False)
        assert "authorization" not in script.seen[0].headers
        with pytest.raises(CredentialsMissing) as info:
            client.send(spec(), deadline=None)
    assert len(script.seen) == 1  # nothing was sent without the credential
    assert "kosmo integrations:configure replicate --account default --set api_key=" in str(info.value)
    assert "REPLICATE_API_TOKEN" in str(info.value)


def test_query_auth_is_sent_but_never_shown(server: tuple[Script, str], integration: Integration) -> None:
    script, base = server
    by_query = replace(integration, auth=AuthScheme("query", "key", "api_key"))
    script.then("reply", 500, {}, b"{}")
    with make_client(base, by_query, FakeTime()) as client:
        raw = client.send(spec(query=(("page", "2"),)), deadline=None)
    assert script.seen[0].path == f"/v1/predictions/abc?page=2&key={TOKEN}"
    assert "authorization" not in script.seen[0].headers
    assert TOKEN not in raw.url and "key=***" in raw.url


def test_token_never_in_errors_or_logs(server: tuple[Script, str], integration: Integration,
                                       caplog: pytest.LogCaptureFixture) -> None:
    script, base = server
    caplog.set_level(logging.DEBUG)
    script.then("reply", 503, {}, b"{}").then("drop").then("drop").then("drop")
    with make_client(base, integration, FakeTime()) as client, pytest.raises(TransportError) as info:
        client.send(spec(), deadline=None)
    assert len(script.seen) == 4 and "after 4 attempts" in str(info.value)
    assert "retrying" in caplog.text and "-> 503" in caplog.text  # the log did record the attempts
    assert TOKEN not in str(info.value) and TOKEN not in repr(info.value.data)
    assert TOKEN not in caplog.text


# -- retries -------------------------------------------------------------------------------------------------------

def test_429_retry_after_seconds_on_post(server: tuple[Script, str], integration: Integration) -> None:
    script, base = server
    fake = FakeTime()
    script.then("reply", 429, {"Retry-After": "3"}, b'{"detail": "slow down"}').then("reply", 201, {}, b"{}")
    with make_client(base, integration, fake) as client:
        raw = client.send(spec("POST", "/predictions", body=b"{}"), deadline=None)
    assert raw.status == 201 and raw.attempts == 2
    assert [s.method for s in script.seen] == ["POST", "POST"]
    assert fake.sleeps == [3.0]


def test_429_retry_after_http_date(server: tuple[Script, str], integration: Integration) -> None:
    script, base = server
    fake = FakeTime()
    when = email.utils.formatdate(1_000_005, usegmt=True)
    script.then("reply", 429, {"Retry-After": when}, b"{}").then("reply", 200, {}, b"{}")
    with make_client(base, integration, fake, wall_clock=lambda: 1_000_000.0) as client:
        raw = client.send(spec(), deadline=None)
    assert raw.attempts == 2 and fake.sleeps == [5.0]


def test_429_asking_past_the_deadline_fails_clearly(server: tuple[Script, str], integration: Integration) -> None:
    script, base = server
    fake = FakeTime()
    script.then("reply", 429, {"Retry-After": "60"}, b"{}")
    with make_client(base, integration, fake) as client, pytest.raises(TransportError) as info:
        client.send(spec("POST"), deadline=fake.now + 10)
    assert "asks to wait 60 s, which is past the time limit" in str(info.value)
    assert info.value.data["status"] == 429 and info.value.data["retry_after"] == 60.0
    assert fake.sleeps == [] and len(script.seen) == 1


def test_gateway_errors_retried_for_get_with_backoff(server: tuple[Script, str], integration: Integration) -> None:
    script, base = server
    fake = FakeTime()
    script.then("reply", 503, {}, b"{}").then("reply", 502, {}, b"{}").then("reply", 504, {}, b"{}")
    script.then("reply", 200, {}, b'{"ok": true}')
    with make_client(base, integration, fake) as client:
        raw = client.send(spec(), deadline=None)
    assert raw.status == 200 and raw.attempts == 4 and len(script.seen) == 4
    # full jitter with rng() = 0.5: 0.5 * min(8, 0.25 * 2^n)
    assert fake.sleeps == [0.125, 0.25, 0.5]


def test_query_and_delete_count_as_idempotent(server: tuple[Script, str], integration: Integration) -> None:
    script, base = server
    script.then("reply", 503, {}, b"{}").then("reply", 200, {}, b"[]")
    script.then("reply", 502, {}, b"{}").then("reply", 204, {}, b"")
    with make_client(base, integration, FakeTime()) as client:
        search = spec("QUERY", "/models", body=b"flux", content_type="text/plain")
        assert client.send(search, deadline=None).attempts == 2
        assert client.send(spec("DELETE", "/models/a/b"), deadline=None).attempts == 2
    assert [s.method for s in script.seen] == ["QUERY", "QUERY", "DELETE", "DELETE"]


def test_retries_stop_at_max_attempts(server: tuple[Script, str], integration: Integration) -> None:
    script, base = server
    for _ in range(6):
        script.then("reply", 503, {}, b'{"detail": "busy"}')
    with make_client(base, integration, FakeTime()) as client:
        raw = client.send(spec(), deadline=None)
    assert raw.status == 503 and raw.attempts == 4 and len(script.seen) == 4


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_post_is_never_repeated_on_server_errors(server: tuple[Script, str], integration: Integration,
                                                 status: int) -> None:
    script, base = server
    script.then("reply", status, {}, b"{}").then("reply", 201, {}, b"{}")
    fake = FakeTime()
    with make_client(base, integration, fake) as client:
        raw = client.send(spec("POST", "/predictions", body=b"{}"), deadline=None)
    assert raw.status == status and raw.attempts == 1
    assert len(script.seen) == 1 and fake.sleeps == []


def test_post_is_never_repeated_after_a_dropped_connection(server: tuple[Script, str],
                                                           integration: Integration) -> None:
    script, base = server
    script.then("drop").then("reply", 201, {}, b"{}")
    with make_client(base, integration, FakeTime()) as client, pytest.raises(TransportError) as info:
        client.send(spec("PATCH", "/models/a/b", body=b"{}"), deadline=None)
    assert len(script.seen) == 1
    port = base.split(":")[2].split("/")[0]
    assert str(info.value) == f"replicate.test_op: the connection to 127.0.0.1:{port} closed before a complete response"


def test_get_is_retried_after_a_dropped_connection(server: tuple[Script, str], integration: Integration) -> None:
    script, base = server
    script.then("drop").then("reply", 200, {}, b"{}")
    with make_client(base, integration, FakeTime()) as client:
        raw = client.send(spec(), deadline=None)
    assert raw.attempts == 2 and len(script.seen) == 2


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_connection_refused_is_retried_even_for_post(integration: Integration) -> None:
    port = _closed_port()
    fake = FakeTime()
    with make_client(f"http://127.0.0.1:{port}/v1", integration, fake) as client, \
            pytest.raises(TransportError) as info:
        client.send(spec("POST", "/predictions", body=b"{}"), deadline=None)
    # Nothing reached a server, so repeating the POST was safe: all four attempts were made.
    assert str(info.value) == (f"replicate.test_op: could not connect to 127.0.0.1:{port} (connection refused) "
                               "(after 4 attempts)")
    assert len(fake.sleeps) == 3 and info.value.data["kind"] == "transport"


def test_read_timeout_post_not_repeated_get_repeated(server: tuple[Script, str], integration: Integration) -> None:
    script, base = server
    quick = replace(integration, timeouts=replace(integration.timeouts, read=0.2),
                    retry=RetryPolicy(max_attempts=2, backoff_base=0.01, backoff_cap=0.01))
    script.then("stall", 30)
    with make_client(base, quick, FakeTime()) as client, pytest.raises(TransportError) as info:
        client.send(spec("POST", "/predictions", body=b"{}"), deadline=None)
    assert "no response from 127.0.0.1:" in str(info.value) and "within 0.2 s" in str(info.value)
    assert len(script.seen) == 1
    script.then("stall", 30).then("reply", 200, {}, b"{}")
    with make_client(base, quick, FakeTime()) as client:
        assert client.send(spec(), deadline=None).attempts == 2
    assert len(script.seen) == 3


def test_wait_header_extends_the_read_timeout(server: tuple[Script, str], integration: Integration) -> None:
    t = integration.timeouts
    assert read_timeout_for((("Prefer", "wait=50"),), t) == 60.0
    assert read_timeout_for((("prefer", "wait"),), t) == t.wait_default_seconds + 10
    assert read_timeout_for((("Prefer", "wait=1"),), replace(t, read=30.0)) == 30.0  # never shortened
    assert read_timeout_for((("Cancel-After", "5m"),), t) == t.read
    script, base = server
    quick = replace(integration, timeouts=replace(t, read=0.1))
    script.then("stall", 0.4)
    with make_client(base, quick, FakeTime()) as client:
        # Without the extension a 0.1 s read timeout would fire; Prefer: wait=1 gives 11 s.
        assert client.send(spec("POST", headers=(("Prefer", "wait=1"),)), deadline=None).status == 200


# -- deadlines -----------------------------------------------------------------------------------------------------

def test_deadline_caps_the_wait_for_a_response(server: tuple[Script, str], integration: Integration) -> None:
    import time

    script, base = server
    script.then("stall", 30)
    slow = replace(integration, timeouts=replace(integration.timeouts, read=30.0))
    with make_client(base, slow) as client, pytest.raises(DeadlineReached) as info:
        client.send(spec(), deadline=time.monotonic() + 0.3)
    assert isinstance(info.value, TransportError) and info.value.data["deadline"] is True
    assert len(script.seen) == 1


def test_passed_deadline_sends_nothing(server: tuple[Script, str], integration: Integration) -> None:
    script, base = server
    fake = FakeTime()
    with make_client(base, integration, fake) as client, pytest.raises(DeadlineReached):
        client.send(spec(), deadline=fake.now - 1)
    assert script.seen == []


def test_backoff_that_would_cross_the_deadline_returns_the_error(server: tuple[Script, str],
                                                                 integration: Integration) -> None:
    script, base = server
    fake = FakeTime()
    script.then("reply", 503, {}, b"{}").then("reply", 200, {}, b"{}")
    with make_client(base, integration, fake, rng=lambda: 1.0) as client:
        raw = client.send(spec(), deadline=fake.now + 0.2)  # back-off would be 0.25 s
    assert raw.status == 503 and raw.attempts == 1 and fake.sleeps == []


# -- origins and sizes ---------------------------------------------------------------------------------------------

def test_absolute_url_must_share_the_base_origin(server: tuple[Script, str], integration: Integration) -> None:
    script, base = server
    port = int(base.split(":")[2].split("/")[0])
    with make_client(base, integration, FakeTime()) as client:
        for other in (f"http://127.0.0.2:{port}/v1/models", f"http://127.0.0.1:{port + 1}/v1/models",
                      f"https://127.0.0.1:{port}/v1/models", "//evil.example/v1/models",
                      f"http://user@evil.example/v1?x=http://127.0.0.1:{port}"):
            with pytest.raises(TransportError, match="refused to send a request to"):
                client.send(spec(absolute_url=other), deadline=None)
        assert script.seen == []
        client.send(spec(absolute_url=f"http://127.0.0.1:{port}/v1/models?cursor=abc"), deadline=None)
        client.send(spec(absolute_url="/v1/models?cursor=def"), deadline=None)
    assert [s.path for s in script.seen] == ["/v1/models?cursor=abc", "/v1/models?cursor=def"]
    assert script.seen[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_oversized_responses_are_refused(server: tuple[Script, str], integration: Integration) -> None:
    script, base = server
    script.then("reply", 200, {}, b"x" * 200).then("chunked", [b"y" * 60, b"y" * 60])
    script.then("chunked", [b"z" * 40, b"z" * 40])
    with make_client(base, integration, FakeTime(), max_response_bytes=100) as client:
        for _ in range(2):
            with pytest.raises(TransportError, match="response too large"):
                client.send(spec(), deadline=None)
        assert client.send(spec(), deadline=None).body == b"z" * 80


# -- pure helpers --------------------------------------------------------------------------------------------------

def test_retry_after_parsing_and_backoff() -> None:
    assert parse_retry_after("2.5", now=0) == 2.5
    assert parse_retry_after("-3", now=0) == 0.0
    assert parse_retry_after("Thu, 01 Jan 1970 00:01:00 GMT", now=30.0) == 30.0
    assert parse_retry_after("soon", now=0) is None and parse_retry_after(None, now=0) is None
    policy = RetryPolicy(max_attempts=5, backoff_base=0.25, backoff_cap=1.0)
    assert [backoff_delay(n, policy, lambda: 1.0) for n in range(5)] == [0.25, 0.5, 1.0, 1.0, 1.0]
    assert backoff_delay(3, policy, lambda: 0.0) == 0.0


# -- pacing --------------------------------------------------------------------------------------------------------

LIMITS = (RateLimit("create", 2, 10.0, ("create_prediction",)), RateLimit("default", 3, 1.0))


def test_pacer_spaces_requests_by_entry() -> None:
    fake = FakeTime()
    pacer = Pacer(LIMITS, clock=fake.clock, sleep=fake.sleep)
    grants = []
    for _ in range(5):
        pacer.acquire("create_prediction", None)
        grants.append(fake.now - 1000.0)
    assert grants == [0.0, 0.0, 10.0, 10.0, 20.0]
    # Other operations use the default entry, which has its own window.
    before = list(fake.sleeps)
    for _ in range(3):
        pacer.acquire("get_prediction", None)
    assert fake.sleeps == before
    pacer.acquire(None, None)
    assert fake.sleeps[-1] == pytest.approx(1.0)


def test_pacer_refuses_to_wait_past_the_deadline() -> None:
    fake = FakeTime()
    pacer = Pacer(LIMITS, clock=fake.clock, sleep=fake.sleep)
    pacer.acquire("create_prediction", None)
    pacer.acquire("create_prediction", None)
    with pytest.raises(DeadlineReached, match="'create' rate limit"):
        pacer.acquire("create_prediction", fake.now + 5, operation="replicate.create_prediction")
    assert fake.sleeps == []
    assert Pacer((), clock=fake.clock, sleep=fake.sleep).acquire("anything", fake.now) == 0.0


def test_pacer_is_thread_safe() -> None:
    fake = FakeTime()
    pacer = Pacer((RateLimit("default", 3, 10.0),), clock=fake.clock, sleep=fake.sleep)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(3):
                pacer.acquire("x", None)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    # 12 grants at 3 per 10 s need at least 30 s to pass; a race that over-granted would need less.
    assert errors == [] and fake.now - 1000.0 >= 30.0


def test_client_paces_through_the_pacer(server: tuple[Script, str], integration: Integration) -> None:
    script, base = server
    fake = FakeTime()
    limited = replace(integration, rate_limits=(RateLimit("default", 1, 5.0),))
    with make_client(base, limited, fake) as client:
        for _ in range(3):
            client.send(spec(), deadline=None, rate_key="get_prediction")
    assert len(script.seen) == 3 and fake.sleeps == [5.0, 5.0]


def test_shared_pacer_is_per_account(integration: Integration) -> None:
    a = Account("replicate", "default", "https://api.replicate.com/v1", None, {})
    b = Account("replicate", "work", "https://api.replicate.com/v1", None, {})
    assert shared_pacer(a, integration) is shared_pacer(a, integration)
    assert shared_pacer(a, integration) is not shared_pacer(b, integration)
    client_one = HttpClient(a, integration)
    client_two = HttpClient(a, integration)
    assert client_one.pacer is client_two.pacer
    client_one.close()
    client_two.close()
