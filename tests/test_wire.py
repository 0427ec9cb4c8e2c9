"""The wire under HttpClient (kosmo_lua/net/wire.py), over real sockets on loopback.

CoreWire talks to httpcore directly; these tests hold it to what httpx did for us before: the same request headers
on the wire, compressed bodies decoded (and bounded), failures raised as httpx's exception classes, and the choice
of wire per account (httpx stays in charge of proxies, injected transports and non-ASCII hosts).
"""

from __future__ import annotations

import gzip
import socket
import threading
import tracemalloc
import zlib
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from kosmo_lua.config import Account, Secret
from kosmo_lua.errors import TransportError
from kosmo_lua.integration import RetryPolicy, load_integration
from kosmo_lua.net import HttpClient, user_agent
from kosmo_lua.net.wire import CoreWire, HttpxWire, decoded, open_wire
from kosmo_lua.ops.spec import RequestSpec

REPO = Path(__file__).resolve().parents[1]
TOKEN = "r8_wire_token_never_shown_5c2e"
_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


class _Recorder(BaseHTTPRequestHandler):
    """Answers every request with the next queued (status, headers, body) and records what arrived."""

    protocol_version = "HTTP/1.1"
    answers: list[tuple[int, dict[str, str], bytes]]
    seen: list[tuple[str, str, list[tuple[str, str]], bytes]]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.seen.append((self.command, self.path, [(k.lower(), v) for k, v in self.headers.items()], body))
        status, headers, payload = self.answers.pop(0) if self.answers else (200, {}, b"{}")
        self.send_response(status)
        for key, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _serve


class _Server:
    def __init__(self, family: int = socket.AF_INET, host: str = "127.0.0.1") -> None:
        handler = type("Recorder", (_Recorder,), {"answers": [], "seen": []})
        server_class = type("Server", (ThreadingHTTPServer,), {"address_family": family})
        self.httpd = server_class((host, 0), handler)
        self.httpd.daemon_threads = True
        self.handler = handler
        shown = f"[{host}]" if ":" in host else host
        self.base_url = f"http://{shown}:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.handler.answers.append((status, headers, body))

    @property
    def seen(self) -> list[tuple[str, str, list[tuple[str, str]], bytes]]:
        return self.handler.seen

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[_Server]:
    served = _Server()
    try:
        yield served
    finally:
        served.close()


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in _PROXY_VARIABLES:
        monkeypatch.delenv(var, raising=False)


def _client(base_url: str, **kw: Any) -> HttpClient:
    base = load_integration(REPO / "integrations" / "replicate")
    integration = replace(base, timeouts=replace(base.timeouts, connect=2.0, read=2.0),
                          retry=RetryPolicy(max_attempts=1), rate_limits=())
    return HttpClient(Account("replicate", "default", base_url, Secret(TOKEN), {}), integration, **kw)


def _spec(method: str = "GET", **kw: Any) -> RequestSpec:
    return RequestSpec(operation="replicate.wire_test", method=method, path="/predictions/p1", **kw)


def _send_both(server: _Server, method: str, body: bytes | None,
               extra: tuple[tuple[str, str], ...] = ()) -> tuple[dict[str, str], dict[str, str]]:
    """The headers that arrived from CoreWire and from httpx itself for the same request."""
    headers = [("Authorization", f"Bearer {TOKEN}"), ("Accept", "application/json"), ("X-Trace", "t1"), *extra]
    timeout = httpx.Timeout(5.0)
    for wire in (CoreWire(scheme="http", user_agent=user_agent()), HttpxWire(transport=None, user_agent=user_agent())):
        response = wire.open(method, f"{server.base_url}/predictions/p1?x=1", headers, body, timeout)
        try:
            assert b"".join(response.chunks) == b"{}"
        finally:
            response.close()
            wire.close()
    core, via_httpx = server.seen[-2], server.seen[-1]
    assert core[:2] == via_httpx[:2] == (method, "/v1/predictions/p1?x=1")
    assert core[3] == via_httpx[3] == (body or b"")
    core_headers, httpx_headers = dict(core[2]), dict(via_httpx[2])
    # httpx also offers br / zstd when their optional packages are installed; CoreWire decodes gzip and deflate.
    assert core_headers["accept-encoding"] == "gzip, deflate"
    assert httpx_headers["accept-encoding"].startswith("gzip, deflate")
    httpx_headers["accept-encoding"] = core_headers["accept-encoding"]
    return core_headers, httpx_headers


@pytest.mark.parametrize(("method", "body"), [("GET", None), ("POST", b'{"a":1}'), ("POST", None),
                                              ("PUT", b""), ("DELETE", None)])
def test_core_wire_sends_what_httpx_sends(server: _Server, method: str, body: bytes | None) -> None:
    core, via_httpx = _send_both(server, method, body)
    assert core == via_httpx
    assert core["accept"] == "application/json"  # the request's own header replaced the default */*
    assert core["user-agent"] == user_agent()
    assert core["host"] == server.base_url.split("/")[2]


def test_a_host_header_of_the_request_is_kept_as_httpx_keeps_it(server: _Server) -> None:
    core, via_httpx = _send_both(server, "GET", None, (("Host", "api.example"),))
    assert core == via_httpx
    assert core["host"] == "api.example"


def test_gzip_and_deflate_bodies_arrive_decoded(server: _Server) -> None:
    payload = b'{"text": "' + b"kosmo " * 5000 + b'"}'
    raw_deflate = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    answers = {
        "gzip": gzip.compress(payload),
        "deflate": zlib.compress(payload),  # zlib-wrapped, as RFC 9110 says
        "Deflate ": raw_deflate.compress(payload) + raw_deflate.flush(),  # raw, as some servers send it
        "gzip, gzip": gzip.compress(gzip.compress(payload)),
        "identity": payload,
        "utf-8": payload,  # not a coding at all (servers do write this): passed through, as httpx does
    }
    with _client(server.base_url) as client:
        for coding, body in answers.items():
            server.answer(200, {"Content-Encoding": coding}, body)
            raw = client.send(_spec(), deadline=None)
            assert raw.status == 200
            assert raw.body == payload, coding


def test_a_compressed_bomb_stops_at_the_size_limit(server: _Server) -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)  # 64 MiB of zeros in ~64 KiB
    server.answer(200, {"Content-Encoding": "gzip"}, bomb)
    with _client(server.base_url, max_response_bytes=1024 * 1024) as client:
        tracemalloc.start()
        try:
            with pytest.raises(TransportError, match="response too large") as info:
                client.send(_spec(), deadline=None)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, f"decompressing held {peak} bytes at once"
    assert TOKEN not in str(info.value)


def test_a_damaged_compressed_body_is_a_clear_error(server: _Server) -> None:
    server.answer(200, {"Content-Encoding": "gzip"}, gzip.compress(b'{"ok": true}')[:12] + b"not gzip at all")
    with _client(server.base_url) as client, pytest.raises(TransportError) as info:
        client.send(_spec(), deadline=None)
    assert "could not decode the response body from 127.0.0.1" in str(info.value)
    assert "damaged" in str(info.value)


def test_decoded_passes_pieces_of_bounded_size() -> None:
    pieces = list(decoded([gzip.compress(b"x" * 3_000_000)], "gzip"))
    assert b"".join(pieces) == b"x" * 3_000_000
    assert max(len(p) for p in pieces) <= 256 * 1024


def test_header_that_is_not_ascii_is_a_clear_error(server: _Server) -> None:
    with _client(server.base_url) as client, pytest.raises(TransportError) as info:
        client.send(_spec(headers=(("X-Name", "Zoë"),)), deadline=None)
    assert "is not ASCII text" in str(info.value)
    assert server.seen == []


def test_ipv6_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        served = _Server(socket.AF_INET6, "::1")
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    try:
        served.answer(200, {}, b'{"id": "p1"}')
        with _client(served.base_url) as client:
            assert isinstance(client._wire, CoreWire)
            raw = client.send(_spec(), deadline=None)
        assert raw.body == b'{"id": "p1"}'
        assert dict(served.seen[-1][2])["host"] == served.base_url.split("/")[2]
    finally:
        served.close()


def test_the_wire_per_account() -> None:
    agent = user_agent()
    assert isinstance(open_wire("http://127.0.0.1:9/v1", transport=None, user_agent=agent, environ={}), CoreWire)
    assert isinstance(open_wire("https://api.replicate.com/v1", transport=None, user_agent=agent, environ={}),
                      CoreWire)
    # httpx stays in charge of what it already does: injected transports, proxies, international host names.
    mock = httpx.MockTransport(lambda request: httpx.Response(200))
    assert isinstance(open_wire("https://api.replicate.com/v1", transport=mock, user_agent=agent, environ={}),
                      HttpxWire)
    for variable in _PROXY_VARIABLES:
        wire = open_wire("https://api.replicate.com/v1", transport=None, user_agent=agent,
                         environ={variable: "http://proxy.example:3128"})
        assert isinstance(wire, HttpxWire), variable
    assert isinstance(open_wire("https://api.replicate.com/v1", transport=None, user_agent=agent,
                                environ={"HTTPS_PROXY": ""}), CoreWire)
    assert isinstance(open_wire("https://bücher.example/v1", transport=None, user_agent=agent, environ={}),
                      HttpxWire)


def test_connection_failures_keep_httpx_classes() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    wire = CoreWire(scheme="http", user_agent=user_agent())
    with pytest.raises(httpx.ConnectError):
        wire.open("GET", f"http://127.0.0.1:{port}/v1/x", [], None, httpx.Timeout(2.0))
    with pytest.raises(httpx.InvalidURL):
        wire.open("GET", "http://127.0.0.1:1/v1/a b", [], None, httpx.Timeout(2.0))
    wire.close()
