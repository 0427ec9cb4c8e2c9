"""The emulator machinery on a small API made up for these tests: routing, auth, every fault kind (in-process and
on a real loopback port), control endpoints, request-log redaction, concurrency, pagination and loading by path.

No test asserts on wall time: delays are checked through an injected sleep, held answers through client timeouts.
"""

from __future__ import annotations

import http.client
import json
import struct
import threading
import zlib
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from kosmo_lua.emulate import (
    ApiError,
    Call,
    Emulator,
    Fault,
    IdFactory,
    LoopbackServer,
    Reply,
    check,
    fault_from_data,
    load_emulator,
    paginate,
    route,
    tiny_png,
)
from kosmo_lua.emulate.messages import Incoming
from kosmo_lua.errors import ConfigError, UsageError

TOKEN = "sk_TEST_secret_never_logged_7f3a"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class ThingsEmulator(Emulator):
    """A made-up API under /api: things with ids, a paged list, a body echo and a handler with a bug."""

    title = "Things"
    api_prefix = "/api"

    def reset_state(self) -> None:
        self.things: dict[str, dict[str, Any]] = {}

    @route("POST", "/things")
    def create(self, call: Call) -> Reply:
        body = call.json_body() or {}
        problems = check(body, {"type": "object", "required": ["name"], "additionalProperties": False,
                                "properties": {"name": {"type": "string"}}}, "body")
        if problems:
            raise ApiError(422, "; ".join(p.message for p in problems))
        thing = {"id": self.ids.base32("thing"), "name": body["name"], "link": ""}
        thing["link"] = call.url(f"/things/{thing['id']}")
        self.things[thing["id"]] = thing
        return Reply.json(thing, 201)

    @route("GET", "/things/{thing_id}")
    def get(self, call: Call) -> Reply:
        thing = self.things.get(call.params["thing_id"])
        if thing is None:
            raise ApiError(404, f"no thing {call.params['thing_id']}")
        return Reply.json(thing)

    @route("GET", "/items")
    def items(self, call: Call) -> Reply:
        return Reply.json(paginate(list(range(7)), call, 3, lambda n: {"n": n}))

    @route("QUERY", "/things")
    def search(self, call: Call) -> Reply:
        return Reply.json({"query": call.body.decode(), "method": call.method})

    @route("POST", "/echo", auth=False)
    def echo(self, call: Call) -> Reply:
        return Reply(200, call.body, "application/octet-stream")

    @route("GET", "/big")
    def big(self, call: Call) -> Reply:
        return Reply.json({"data": "x" * 10_000})

    @route("GET", "/open/{a}/{b}", auth=False)
    def open(self, call: Call) -> Reply:
        return Reply.json({"a": call.params["a"], "b": call.params["b"], "q": call.query_value("q")})

    @route("GET", "/outside/{name}", auth=False, prefixed=False)
    def outside(self, call: Call) -> Reply:
        return Reply.text(f"file {call.params['name']} at {call.origin}")

    @route("GET", "/bug")
    def bug(self, call: Call) -> Reply:
        raise KeyError("a bug in the emulator")

    @route("GET", "/held")
    def held(self, call: Call) -> Reply:
        reply = Reply.json({"held": True})
        reply.hold_seconds = float(call.query_value("s") or 0)
        return reply


@pytest.fixture
def emulator() -> ThingsEmulator:
    return ThingsEmulator()


@pytest.fixture
def client(emulator: ThingsEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(transport=emulator.transport(), base_url=emulator.base_url, headers=AUTH) as c:
        yield c


@pytest.fixture
def served(emulator: ThingsEmulator) -> Iterator[LoopbackServer]:
    with emulator.serve() as server:
        yield server


@pytest.fixture
def net(served: LoopbackServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.base_url, headers=AUTH, timeout=10) as c:
        yield c


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


# -- routing and auth ----------------------------------------------------------------------------------------------

def test_route_params_are_percent_decoded_and_links_use_the_base_url(client: httpx.Client) -> None:
    created = client.post("/things", json={"name": "a b"})
    assert created.status_code == 201
    thing = created.json()
    assert thing["link"] == f"http://emulator.invalid/api/things/{thing['id']}"
    assert client.get(f"/things/{thing['id']}").json() == thing
    assert client.get("/open/a%2Fb/c d", params={"q": "x"}).json() == {"a": "a/b", "b": "c d", "q": "x"}


def test_unknown_path_is_404_and_wrong_method_405_with_allow(client: httpx.Client) -> None:
    assert "GET /api/nothing" in _problem(client.get("/nothing"), 404)["detail"]
    assert _problem(client.get("http://emulator.invalid/elsewhere"), 404)
    r = client.delete("/things/x")
    _problem(r, 405)
    assert r.headers["allow"] == "GET"
    assert client.put("/things").headers["allow"] == "POST, QUERY"


def test_missing_empty_or_foreign_credentials_get_401(emulator: ThingsEmulator) -> None:
    with httpx.Client(transport=emulator.transport(), base_url=emulator.base_url) as c:
        for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Basic abc"},
                        {"Authorization": "Token abc"}):
            body = _problem(c.get("/things/x", headers=headers), 401)
            assert body["title"] == "Unauthenticated"
        assert c.get("/open/a/b").status_code == 200  # auth=False routes serve anonymous callers
        assert c.get("/things/x", headers={"Authorization": "bearer abc"}).status_code == 404  # scheme is caseless


def test_non_prefixed_routes_and_nonstandard_methods(client: httpx.Client) -> None:
    assert client.get("http://emulator.invalid/outside/f.png").text == "file f.png at http://emulator.invalid"
    r = client.request("QUERY", "/things", content=b"hello", headers={"Content-Type": "text/plain"})
    assert r.json() == {"query": "hello", "method": "QUERY"}


def test_handler_bugs_become_a_500_naming_the_exception(client: httpx.Client) -> None:
    assert _problem(client.get("/bug"), 500)["detail"] == "internal emulator error (KeyError)"


def test_json_bodies_are_checked_for_media_type_and_syntax(client: httpx.Client) -> None:
    assert _problem(client.post("/things", content=b'{"name": "a"}', headers={"Content-Type": "text/plain"}),
                    415)
    assert "not valid JSON" in _problem(client.post("/things", content=b"{", headers={
        "Content-Type": "application/json"}), 400)["detail"]
    assert "body.extra" in _problem(client.post("/things", json={"name": "a", "extra": 1}), 422)["detail"]


def test_base_url_must_be_absolute_and_end_with_the_prefix() -> None:
    assert ThingsEmulator(base_url="https://api.example.com/api/").base_url == "https://api.example.com/api"
    with pytest.raises(UsageError, match="must end with the API prefix '/api'"):
        ThingsEmulator(base_url="https://api.example.com/v1")
    with pytest.raises(UsageError, match="absolute http"):
        ThingsEmulator(base_url="api.example.com/api")
    with pytest.raises(UsageError, match="latency_ms"):
        ThingsEmulator(latency_ms=-1)


# -- faults, in-process --------------------------------------------------------------------------------------------

def test_status_fault_uses_the_api_error_body_and_runs_out_after_times(emulator: ThingsEmulator,
                                                                        client: httpx.Client) -> None:
    emulator.faults.add(Fault("status", status=503, method="POST", path=r"^/api/things$", times=2))
    for _ in range(2):
        body = _problem(client.post("/things", json={"name": "a"}), 503)
        assert body["title"] == "Service Unavailable"
        assert "retry-after" not in client.get("/things/zz").headers  # GET does not match the fault
    assert emulator.things == {}  # a replacing fault never reaches the API
    assert client.post("/things", json={"name": "a"}).status_code == 201
    assert [r.fault for r in emulator.requests] == ["status", None, "status", None, None]
    assert emulator.faults.active() == []


def test_429_carries_retry_after_in_seconds_or_as_an_http_date(emulator: ThingsEmulator,
                                                               client: httpx.Client) -> None:
    emulator.faults.add(Fault("status", status=429, times=1))
    r = client.get("/things/x")
    _problem(r, 429)
    assert r.headers["retry-after"] == "1"  # 429 always says when to come back
    emulator.faults.add(Fault("status", status=429, retry_after=2.5, times=1))
    assert client.get("/things/x").headers["retry-after"] == "3"
    emulator.faults.add(Fault("status", status=503, retry_after=30, retry_after_date=True, times=1))
    r = client.get("/things/x")
    when = parsedate_to_datetime(r.headers["retry-after"])
    assert when.tzinfo is not None and r.headers["retry-after"].endswith("GMT")


def test_html_error_and_malformed_json(emulator: ThingsEmulator, client: httpx.Client) -> None:
    emulator.faults.add(Fault("html_error", times=1))
    r = client.get("/things/x")
    assert r.status_code == 502 and r.headers["content-type"].startswith("text/html")
    assert "<h1>502 Bad Gateway</h1>" in r.text
    emulator.faults.add(Fault("malformed_json", times=1))
    r = client.post("/things", json={"name": "a"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        r.json()
    assert emulator.things == {}


def test_drop_before_response_raises_like_a_closed_socket(emulator: ThingsEmulator, client: httpx.Client) -> None:
    emulator.faults.add(Fault("drop_before_response", times=1))
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        client.post("/things", json={"name": "a"})
    assert emulator.things == {}
    assert emulator.requests[-1].status is None and emulator.requests[-1].fault == "drop_before_response"


def test_drop_mid_body_reaches_the_api_then_breaks_the_body(emulator: ThingsEmulator,
                                                            client: httpx.Client) -> None:
    emulator.faults.add(Fault("drop_mid_body", times=1))
    with pytest.raises(httpx.RemoteProtocolError, match="complete message body"):
        client.post("/things", json={"name": "a"})
    assert len(emulator.things) == 1  # the API acted: a client must not blindly repeat this POST


def test_read_timeout_holds_past_the_client_timeout(emulator: ThingsEmulator, client: httpx.Client) -> None:
    emulator.faults.add(Fault("read_timeout", seconds=30, times=1))
    with pytest.raises(httpx.ReadTimeout):
        client.get("/big", timeout=httpx.Timeout(5, read=0.05))
    emulator.faults.add(Fault("read_timeout", seconds=0.01, times=1))
    assert client.get("/big", timeout=5).status_code == 200  # held less than the timeout: answered


def test_large_body_is_streamed_padding_and_stays_valid_json(emulator: ThingsEmulator,
                                                             client: httpx.Client) -> None:
    emulator.faults.add(Fault("large_body", size_mb=2, times=1))
    with client.stream("GET", "/big") as r:
        assert int(r.headers["content-length"]) == 2 * 1024 * 1024
        chunks = list(r.iter_raw())
    assert max(len(c) for c in chunks) <= 64 * 1024 < sum(len(c) for c in chunks)
    assert json.loads(b"".join(chunks)) == {"data": "x" * 10_000}


def test_delay_faults_add_up_with_latency_and_combine_with_other_faults(emulator: ThingsEmulator) -> None:
    slept: list[float] = []
    emulator.latency_ms = 5
    emulator.faults.add(Fault("delay", ms=200))
    emulator.faults.add(Fault("delay", ms=100, path="things"))
    emulator.faults.add(Fault("status", status=500, times=1))
    incoming = Incoming("GET", "/api/things/x", (), httpx.Headers(AUTH), b"")
    assert emulator.process(incoming, sleep=slept.append).reply.status == 500
    assert emulator.process(incoming, sleep=slept.append).reply.status == 404
    other = Incoming("GET", "/api/items", (), httpx.Headers(AUTH), b"")
    emulator.process(other, sleep=slept.append)
    assert slept == [pytest.approx(0.305), pytest.approx(0.305), pytest.approx(0.205)]
    control = Incoming("GET", "/_emulator/health", (), httpx.Headers(), b"")
    emulator.process(control, sleep=slept.append)
    assert len(slept) == 3  # control endpoints are never slowed down


def test_rate_limit_counts_per_credential(emulator: ThingsEmulator) -> None:
    emulator.faults.add(Fault("rate_limit", limit=2, per_seconds=60))
    with httpx.Client(transport=emulator.transport(), base_url=emulator.base_url) as c:
        statuses = [c.get("/things/x", headers=AUTH).status_code for _ in range(3)]
        assert statuses == [404, 404, 429]
        r = c.get("/things/x", headers=AUTH)
        _problem(r, 429)
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert c.get("/things/x", headers={"Authorization": "Bearer other"}).status_code == 404


def test_faults_validate_their_fields() -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        Fault("explode")
    with pytest.raises(ValueError, match="ms must be a number > 0"):
        Fault("delay")
    with pytest.raises(ValueError, match="status must be an HTTP error code"):
        Fault("status", status=200)
    with pytest.raises(ValueError, match="times must be a positive integer"):
        Fault("status", times=0)
    with pytest.raises(ValueError, match="path must be a regular expression"):
        Fault("status", path="(")
    with pytest.raises(ValueError, match="unknown fault field.*colour"):
        fault_from_data({"kind": "status", "colour": "red"})
    assert fault_from_data({"kind": "delay", "ms": 5, "method": "get"}).method == "GET"


# -- the loopback server -------------------------------------------------------------------------------------------

def test_loopback_serves_the_api_with_links_to_itself(served: LoopbackServer, net: httpx.Client) -> None:
    assert served.base_url == f"http://127.0.0.1:{served.port}/api"
    thing = net.post("/things", json={"name": "n"}).json()
    assert thing["link"] == f"{served.base_url}/things/{thing['id']}"
    assert net.get(thing["link"]).json() == thing
    assert net.request("QUERY", "/things", content=b"q").json() == {"query": "q", "method": "QUERY"}
    assert net.get(f"{served.url}/outside/a").text == f"file a at {served.url}"
    _problem(net.get("/things/x", headers={"Authorization": ""}), 401)


def test_loopback_reads_chunked_bodies(net: httpx.Client) -> None:
    def body() -> Iterator[bytes]:
        yield b"part one, "
        yield b"part two"

    r = net.post("/echo", content=body())
    assert r.content == b"part one, part two"


def test_loopback_keeps_connections_alive(served: LoopbackServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=5)
    try:
        conn.request("GET", "/api/open/a/b")
        assert conn.getresponse().read()
        sock = conn.sock
        for _ in range(3):
            conn.request("GET", "/api/open/a/b")
            response = conn.getresponse()
            assert response.status == 200 and response.read()
        assert sock is not None and conn.sock is sock  # the same socket served every request
    finally:
        conn.close()


@pytest.mark.parametrize("kind", ["drop_before_response", "drop_mid_body"])
def test_loopback_drops_connections(emulator: ThingsEmulator, served: LoopbackServer, net: httpx.Client,
                                    kind: str) -> None:
    emulator.faults.add(Fault(kind, path="/big", times=1))
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        net.get("/big")
    assert net.get("/big").json() == {"data": "x" * 10_000}  # the next request works (a fresh connection)
    assert [r.fault for r in emulator.requests] == [kind, None]


def test_loopback_read_timeout_and_stop_does_not_wait_for_held_answers(emulator: ThingsEmulator) -> None:
    server = emulator.serve()
    emulator.faults.add(Fault("read_timeout", seconds=60))
    with httpx.Client(base_url=server.base_url, headers=AUTH) as c:
        with pytest.raises(httpx.ReadTimeout):
            c.get("/big", timeout=httpx.Timeout(5, read=0.1))
    held = threading.Thread(target=lambda: _swallow(lambda: httpx.get(f"{server.base_url}/big", headers=AUTH,
                                                                        timeout=30)))
    held.start()
    while len(emulator.requests) < 2:
        threading.Event().wait(0.01)
    server.stop()  # ends the held answer instead of waiting out its 60 seconds
    held.join(timeout=10)
    assert not held.is_alive()
    server.stop()  # twice is harmless


def _swallow(fn: Any) -> None:
    try:
        fn()
    except httpx.HTTPError:
        pass


def test_loopback_hold_from_a_handler_and_large_bodies(emulator: ThingsEmulator, net: httpx.Client) -> None:
    with pytest.raises(httpx.ReadTimeout):
        net.get("/held", params={"s": "30"}, timeout=httpx.Timeout(5, read=0.1))
    assert net.get("/held", params={"s": "0.01"}).json() == {"held": True}
    emulator.faults.add(Fault("large_body", size_mb=3, times=1))
    with net.stream("GET", "/big") as r:
        total = sum(len(c) for c in r.iter_raw())
    assert total == 3 * 1024 * 1024


def test_loopback_status_rate_limit_and_malformed_faults(emulator: ThingsEmulator, net: httpx.Client) -> None:
    emulator.faults.add(Fault("status", status=504, times=1))
    _problem(net.get("/things/x"), 504)
    emulator.faults.add(Fault("malformed_json", times=1))
    with pytest.raises(json.JSONDecodeError):
        net.get("/things/x").json()
    emulator.faults.add(Fault("rate_limit", limit=1, per_seconds=60))
    assert net.get("/things/x").status_code == 404
    assert net.get("/things/x").status_code == 429


def test_concurrent_clients_on_many_connections(emulator: ThingsEmulator, served: LoopbackServer) -> None:
    errors: list[BaseException] = []
    ids: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            with httpx.Client(base_url=served.base_url, headers=AUTH, timeout=10) as c:
                for i in range(10):
                    thing = c.post("/things", json={"name": str(i)}).json()
                    assert c.get(f"/things/{thing['id']}").status_code == 200
                    with lock:
                        ids.append(thing["id"])
        except BaseException as exc:  # collected: an assertion in a thread would otherwise be lost
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len(ids) == len(set(ids)) == 160 == len(emulator.things)
    assert len(emulator.requests) == 320


# -- control endpoints and the request log -------------------------------------------------------------------------

def test_control_endpoints(emulator: ThingsEmulator, served: LoopbackServer, net: httpx.Client) -> None:
    control = httpx.Client(base_url=f"{served.url}/_emulator", timeout=10)
    health = control.get("/health").json()
    assert health == {"status": "ok", "emulator": "Things", "base_url": served.base_url, "requests": 0,
                      "faults": 0}
    net.post("/things", json={"name": "a"}, headers={"X-Api-Key": "also-secret"})
    log = control.get("/requests").json()
    assert len(log) == 1 and log[0]["method"] == "POST" and log[0]["status"] == 201
    assert log[0]["headers"]["authorization"] == "Bearer [redacted]"
    assert log[0]["headers"]["x-api-key"] == "[redacted]"
    assert json.loads(log[0]["body"]) == {"name": "a"}
    assert TOKEN not in control.get("/requests").text

    added = control.post("/faults", json=[{"kind": "status", "status": 500, "times": 1},
                                          {"kind": "delay", "ms": 1, "path": "nothing"}])
    assert added.status_code == 201 and added.json()["added"] == 2
    assert [f["kind"] for f in control.get("/faults").json()] == ["status", "delay"]
    assert net.get("/things/x").status_code == 500
    assert [f["kind"] for f in control.get("/faults").json()] == ["delay"]  # the 500 was used up
    assert control.delete("/faults").status_code == 204 and control.get("/faults").json() == []

    bad = control.post("/faults", json=[{"kind": "delay", "ms": 1}, {"kind": "status", "status": 99}])
    assert bad.status_code == 400 and "fault 1" in bad.json()["detail"] and "status" in bad.json()["detail"]
    assert control.get("/faults").json() == []  # all or nothing
    assert control.post("/faults", content=b"{").status_code == 400
    assert control.get("/nope").status_code == 404
    assert control.post("/health").status_code == 405

    assert control.post("/reset").json() == {"status": "reset"}
    assert emulator.things == {} and control.get("/requests").json() == []
    control.close()


def test_request_log_redacts_and_is_a_copy(emulator: ThingsEmulator, client: httpx.Client) -> None:
    client.get("/things/x", headers={"Cookie": "session=abc"}, params={"a": "1"})
    first = emulator.requests[0]
    assert first.header("authorization") == "Bearer [redacted]" and first.header("cookie") == "[redacted]"
    assert first.query == (("a", "1"),) and first.path == "/api/things/x" and first.status == 404
    assert TOKEN not in repr(emulator.requests) and TOKEN not in json.dumps(first.to_data())
    snapshot = emulator.requests
    client.get("/things/y")
    assert len(snapshot) == 1 and len(emulator.requests) == 2
    emulator.reset()
    assert emulator.requests == []


def test_binary_bodies_are_logged_as_base64(emulator: ThingsEmulator, client: httpx.Client) -> None:
    client.post("/echo", content=b"\xff\x00")
    data = emulator.requests[0].to_data()
    assert data["body"] is None and data["body_base64"] == "/wA="


# -- helpers: pagination, validation, ids, media, loading ----------------------------------------------------------

def test_pagination_follows_next_to_the_end_and_back(client: httpx.Client) -> None:
    seen: list[int] = []
    url: str | None = "/items?keep=1"
    pages = []
    while url:
        page = client.get(url).json()
        pages.append(page)
        seen += [item["n"] for item in page["results"]]
        url = page["next"]
        assert url is None or ("keep=1" in url and "cursor=" in url and url.startswith("http://emulator.invalid"))
    assert seen == list(range(7)) and len(pages) == 3
    assert pages[0]["previous"] is None
    back = client.get(pages[2]["previous"]).json()
    assert back == pages[1]
    assert client.get(pages[1]["previous"]).json() == pages[0]
    assert "Invalid cursor" in _problem(client.get("/items", params={"cursor": "bogus!"}), 400)["detail"]


def test_check_reports_every_problem() -> None:
    schema = {"type": "object", "required": ["a", "b"], "additionalProperties": False,
              "properties": {"a": {"type": "integer", "minimum": 1},
                             "b": {"type": "string", "enum": ["x", "y"]},
                             "c": {"type": "array", "items": {"type": "string", "maxLength": 2}}}}
    problems = check({"a": True, "c": ["ok", "long", 3], "d": 1}, schema, "body")
    assert {(p.field, p.kind) for p in problems} == {
        ("body.b", "required"), ("body.d", "unknown"), ("body.a", "type"), ("body.c[1]", "length"),
        ("body.c[2]", "type")}
    assert check({"a": 0, "b": "z"}, schema, "body")[0].message == "body.a: must be >= 1, got 0"
    assert check({"a": 2.0, "b": "x"}, schema, "body") == []  # 2.0 is an integer in JSON
    assert "expected object" in check([], schema, "body")[0].message


def test_ids_repeat_for_the_same_seed_and_after_reset() -> None:
    a, b, c = IdFactory(1), IdFactory(1), IdFactory(2)
    first = [a.base32("p") for _ in range(3)]
    assert first == [b.base32("p") for _ in range(3)]
    assert first != [c.base32("p") for _ in range(3)]
    assert len(set(first)) == 3 and all(len(x) == 26 and x.isalnum() and x.islower() for x in first)
    a.reset()
    assert a.base32("p") == first[0]
    assert a.key("files") == b.key("files") != c.key("files")


def test_tiny_png_is_a_valid_png() -> None:
    png = tiny_png(b"\x01\x02\x03", 4, 3)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, kinds = 8, []
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos:pos + 4])
        kind, data = png[pos + 4:pos + 8], png[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", png[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + data) & 0xFFFFFFFF
        kinds.append(kind)
        if kind == b"IDAT":
            assert len(zlib.decompress(data)) == 3 * (1 + 4 * 3)
        pos += 12 + length
    assert kinds == [b"IHDR", b"IDAT", b"IEND"]
    assert tiny_png(b"\x01\x02\x03") == tiny_png(b"\x01\x02\x03") != tiny_png(b"\x01\x02\x04")


def test_load_emulator_by_path(tmp_path: Path) -> None:
    good = tmp_path / "good"
    good.mkdir()
    (good / "emulator.py").write_text(
        "from dataclasses import dataclass\n"
        "from kosmo_lua.emulate import Emulator, Reply, route\n"
        "@dataclass\nclass Thing:\n    name: str\n"
        "class E(Emulator):\n"
        "    title = 'Good'\n"
        "    @route('GET', '/ping', auth=False)\n"
        "    def ping(self, call):\n        return Reply.json({'pong': self.flavour})\n"
        "def create_emulator(flavour='plain', **base):\n"
        "    e = E(**base)\n    e.flavour = flavour\n    return e\n")
    emulator = load_emulator(good, flavour="salty", seed=3)
    assert emulator.title == "Good" and emulator.seed == 3
    assert httpx.Client(transport=emulator.transport()).get("http://x.invalid/ping").json() == {"pong": "salty"}

    with pytest.raises(ConfigError, match="has no emulator.py"):
        load_emulator(tmp_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "emulator.py").write_text("x = 1\n")
    with pytest.raises(ConfigError, match="does not define create_emulator"):
        load_emulator(bad)
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    (wrong / "emulator.py").write_text("def create_emulator(**o):\n    return 42\n")
    with pytest.raises(ConfigError, match="returned int, not an Emulator"):
        load_emulator(wrong)
