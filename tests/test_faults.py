"""Network faults against the emulators on a real loopback port, through `kosmo integrations:lua` subprocesses.

Every fault ends in a retry that succeeds or in a clear error value (message, operation, and the status when there
was one; no traceback, no HTML page), and the emulator's request log proves the retry rule: a POST is sent again
only after a 429, and a batch of N creations makes exactly as many predictions as creations reached the API.

The account is configured the way a user does it (`kosmo integrations:configure replicate --set url=... --set
api_key=... --set read_timeout=1`); Stability uses the environment (STABILITY_BASE_URL / STABILITY_API_KEY).
"""

from __future__ import annotations

import json
import socket
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _kosmo_run import assert_no_crash, clean_env, envelope, kosmo, served
from kosmo_lua.emulate import Fault

TOKEN = "r8_fault_suite_token"
STABILITY_KEY = "sk-fault-suite-key"
READ_TIMEOUT = 1  # seconds: the account's read_timeout, so a held answer times out quickly

GET_CALL = "return app.integrations.replicate.get_account({})"
GET_PATH = "^/v1/account$"
CREATE_PATH = "^/v1/models/black-forest-labs/flux-schnell/predictions$"


def create_call(prompt: str = "a quiet forest trail") -> str:
    return ("return app.integrations.replicate.create_model_prediction({model_owner = 'black-forest-labs', "
            f"model_name = 'flux-schnell', input = {{prompt = {json.dumps(prompt)}}}}})")


# -- the world: two emulators on loopback ports and a kosmo home whose accounts point at them --------------------


@pytest.fixture(scope="module")
def replicate() -> Iterator[Any]:
    with served("replicate") as emulator:
        yield emulator


@pytest.fixture(scope="module")
def stability() -> Iterator[Any]:
    with served("stability", job_polls=0) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, replicate: Any, stability: Any) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("faults")
    home, work = root / "home", root / "work"
    work.mkdir()
    env = clean_env({"KOSMO_HOME": str(home)})
    proc = kosmo("integrations:configure", "replicate", "--set", f"url={replicate.server.base_url}",
                 "--set", f"api_key={TOKEN}", "--set", f"read_timeout={READ_TIMEOUT}", env=env, cwd=work)
    assert proc.returncode == 0, proc.stderr
    assert TOKEN not in proc.stdout + proc.stderr
    env_stability = {**env, "STABILITY_BASE_URL": stability.server.base_url, "STABILITY_API_KEY": STABILITY_KEY}
    return {"env": env_stability, "work": work}


@pytest.fixture(autouse=True)
def fresh(replicate: Any, stability: Any) -> None:
    replicate.reset()
    stability.reset()


def run(world: dict[str, Any], code: str, *extra: str) -> dict[str, Any]:
    proc = kosmo("integrations:lua", "--json", "--force", *extra, "-e", code, env=world["env"], cwd=world["work"])
    assert proc.returncode in (0, 1), proc.stderr
    assert_no_crash(proc.stdout, proc.stderr)
    data = envelope(proc)
    assert data["success"] is (proc.returncode == 0)
    return data


def on(fault: Fault, method: str, path: str) -> Fault:
    """The same fault, limited to one method and path (the path pattern is compiled on construction)."""
    data = {k: v for k, v in fault.to_data().items() if k != "used"}
    return Fault(**{**data, "method": method, "path": path})


def api_requests(emulator: Any, method: str | None = None) -> list[Any]:
    return [r for r in emulator.requests if method is None or r.method == method]


def predictions(emulator: Any) -> list[Any]:
    """Predictions scripts created (the seed catalog's examples belong to no account)."""
    return [j for j in emulator.jobs.values() if j.kind == "prediction" and j.account is not None]


def assert_clear_error(data: dict[str, Any], operation: str, *, status: int | None) -> dict[str, Any]:
    """The run failed with an error value a script can act on, and nothing of an HTML page leaked into it."""
    assert data["success"] is False
    value = data["meta"].get("error_value")
    assert isinstance(value, dict), data
    assert value["operation"] == operation
    assert isinstance(value["message"], str) and value["message"].strip()
    assert value["kind"] in ("http", "transport")
    if status is not None:
        assert value["status"] == status
    assert data["error"].startswith(operation + ": ")
    shown = json.dumps(data)
    assert "<html" not in shown.lower() and "<body" not in shown.lower()
    assert "\n" not in value["message"]
    return value


def assert_post_never_repeated(emulator: Any) -> None:
    """A POST with the same body was sent again only when every earlier one was answered 429 (not acted on)."""
    by_body: dict[bytes, list[Any]] = {}
    for r in api_requests(emulator, "POST"):
        by_body.setdefault(r.body, []).append(r)
    for body, sent in by_body.items():
        for earlier in sent[:-1]:
            assert earlier.status == 429, f"POST {body[:80]!r} repeated after {earlier.status} ({earlier.fault})"


# -- 429: retried on every method, after the wait the server asked for -------------------------------------------


@pytest.mark.parametrize("as_date", [False, True], ids=["seconds", "http-date"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_429_with_retry_after_is_waited_for_and_retried(world: dict[str, Any], replicate: Any, method: str,
                                                        as_date: bool) -> None:
    path = GET_PATH if method == "GET" else CREATE_PATH
    replicate.faults.add(Fault("status", status=429, retry_after=1, retry_after_date=as_date, method=method,
                               path=path, times=1))
    data = run(world, GET_CALL if method == "GET" else create_call())
    assert data["success"] is True, data["error"]
    (call,) = data["integration_calls"]
    assert call["status"] == "ok" and call["attempts"] == 2
    first, second = api_requests(replicate, method)
    assert (first.status, first.fault) == (429, "status")
    assert second.status in (200, 201)
    # Retry-After is a lower bound the client must respect (server-side arrival times; no upper bound asserted).
    assert second.timestamp - first.timestamp >= 0.9
    if method == "POST":
        assert len(predictions(replicate)) == 1
        assert_post_never_repeated(replicate)


def test_429_asking_to_wait_past_the_time_limit_is_a_clear_error(world: dict[str, Any], replicate: Any) -> None:
    replicate.faults.add(Fault("status", status=429, retry_after=600, method="POST", path=CREATE_PATH))
    data = run(world, create_call(), "--cpu-limit", "20")
    value = assert_clear_error(data, "replicate.create_model_prediction", status=429)
    assert "past the time limit" in value["message"]
    assert len(api_requests(replicate, "POST")) == 1
    assert predictions(replicate) == []


# -- server errors: 502/503/504 retried for GET only; 500 never ---------------------------------------------------


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_on_get_are_retried(world: dict[str, Any], replicate: Any, status: int) -> None:
    replicate.faults.add(Fault("status", status=status, method="GET", path=GET_PATH, times=2))
    data = run(world, GET_CALL)
    assert data["success"] is True, data["error"]
    assert data["integration_calls"][0]["attempts"] == 3
    assert [r.status for r in api_requests(replicate)] == [status, status, 200]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_on_post_are_never_repeated(world: dict[str, Any], replicate: Any, status: int) -> None:
    replicate.faults.add(Fault("status", status=status, method="POST", path=CREATE_PATH, times=1))
    data = run(world, create_call())
    value = assert_clear_error(data, "replicate.create_model_prediction", status=status)
    assert value["kind"] == "http"
    assert [r.status for r in api_requests(replicate, "POST")] == [status]
    assert predictions(replicate) == []


def test_500_on_get_is_not_retried(world: dict[str, Any], replicate: Any) -> None:
    replicate.faults.add(Fault("status", status=500, method="GET", path=GET_PATH, times=1))
    value = assert_clear_error(run(world, GET_CALL), "replicate.get_account", status=500)
    assert value["message"] == "An unexpected error occurred on the server."
    assert len(api_requests(replicate)) == 1


def test_persistent_gateway_error_on_get_gives_up_with_the_status(world: dict[str, Any], replicate: Any) -> None:
    replicate.faults.add(Fault("status", status=503, method="GET", path=GET_PATH))
    value = assert_clear_error(run(world, GET_CALL), "replicate.get_account", status=503)
    assert value["name"] == "service_unavailable"
    assert len(api_requests(replicate)) == 5  # integration.yaml: retry.max_attempts


# -- an HTML error page (a proxy's) is never dumped into the error ------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_html_error_page_becomes_the_status_phrase(world: dict[str, Any], replicate: Any, method: str) -> None:
    path = GET_PATH if method == "GET" else CREATE_PATH
    replicate.faults.add(Fault("html_error", status=502, method=method, path=path))
    data = run(world, GET_CALL if method == "GET" else create_call())
    operation = "replicate.get_account" if method == "GET" else "replicate.create_model_prediction"
    value = assert_clear_error(data, operation, status=502)
    assert value["message"] == "Bad Gateway"
    assert "nginx" not in json.dumps(data)
    assert len(api_requests(replicate, method)) == (5 if method == "GET" else 1)
    assert_post_never_repeated(replicate)


# -- delivery faults: dropped connections, a held answer, a cut-off body ------------------------------------------


@pytest.mark.parametrize("kind", ["drop_before_response", "drop_mid_body", "read_timeout"])
def test_delivery_fault_on_get_is_retried(world: dict[str, Any], replicate: Any, kind: str) -> None:
    replicate.faults.add(Fault(kind, method="GET", path=GET_PATH, times=1, seconds=READ_TIMEOUT + 2))
    data = run(world, GET_CALL)
    assert data["success"] is True, data["error"]
    assert data["integration_calls"][0]["attempts"] == 2
    assert [r.fault for r in api_requests(replicate)] == [kind, None]


@pytest.mark.parametrize("kind, message, acted", [
    ("drop_before_response", "closed before a complete response", False),
    ("drop_mid_body", "closed before a complete response", True),
    ("read_timeout", f"within {READ_TIMEOUT:g} s", True),
])
def test_delivery_fault_on_post_is_never_repeated(world: dict[str, Any], replicate: Any, kind: str, message: str,
                                                  acted: bool) -> None:
    # The answer is held 3 s: far below integration.yaml's 30 s read timeout, so only the account's
    # read_timeout (1 s) can cut it off.
    replicate.faults.add(Fault(kind, method="POST", path=CREATE_PATH, times=1, seconds=READ_TIMEOUT + 2))
    value = assert_clear_error(run(world, create_call()), "replicate.create_model_prediction", status=None)
    assert value["kind"] == "transport"
    assert message in value["message"]
    assert f"127.0.0.1:{replicate.server.port}" in value["message"]  # where, but never the URL or the token
    assert len(api_requests(replicate, "POST")) == 1
    # The server may have acted on it (the answer was lost, not the request): exactly one prediction, never two.
    assert len(predictions(replicate)) == (1 if acted else 0)


# -- bodies that are not what they claim, and bodies too large for the sandbox ------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_malformed_json_is_a_clear_error_and_not_retried(world: dict[str, Any], replicate: Any, method: str) -> None:
    path = GET_PATH if method == "GET" else CREATE_PATH
    replicate.faults.add(Fault("malformed_json", method=method, path=path))
    operation = "replicate.get_account" if method == "GET" else "replicate.create_model_prediction"
    value = assert_clear_error(run(world, GET_CALL if method == "GET" else create_call()), operation, status=200)
    assert value["kind"] == "transport"
    assert value["message"].startswith("malformed JSON in response (HTTP 200, ")
    assert len(api_requests(replicate, method)) == 1


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_50_mb_json_answer_is_handled_within_the_memory_limit(world: dict[str, Any], replicate: Any,
                                                               method: str) -> None:
    """50 MB of JSON (the object plus whitespace) under a 32 MiB Lua memory limit: the decoded value is small."""
    path = GET_PATH if method == "GET" else CREATE_PATH
    replicate.faults.add(Fault("large_body", size_mb=50, method=method, path=path, times=1))
    data = run(world, (GET_CALL if method == "GET" else create_call()).replace("return ", "local r = ")
               + "\nreturn r.id or r.username")
    assert data["success"] is True, data["error"]
    assert data["memory_usage"] < 32 * 1024 * 1024
    assert len(api_requests(replicate, method)) == 1


def test_50_mb_text_answer_that_cannot_fit_ends_with_the_memory_limit(world: dict[str, Any], replicate: Any) -> None:
    replicate.faults.add(Fault("large_body", size_mb=50, method="GET", path="/readme$"))
    proc = kosmo("integrations:lua", "--json", "-e",
                 "local ok, e = pcall(app.integrations.replicate.get_model_readme, "
                 "{model_owner = 'stability-ai', model_name = 'sdxl'}); return ok",
                 env=world["env"], cwd=world["work"])
    assert_no_crash(proc.stdout, proc.stderr)
    data = envelope(proc)
    assert proc.returncode == 1
    assert data["error"] == "memory limit exceeded (32 MiB)"
    assert len(data["output"]) < 1000 and len(proc.stdout) < 100_000


# -- batches: N creations make exactly N predictions; a POST is repeated only after 429 --------------------------

BATCH = """
local replicate = app.integrations.replicate
local out = {}
for i = 1, %d do
  local ok, r = pcall(replicate.create_model_prediction, {model_owner = "black-forest-labs",
    model_name = "flux-schnell", input = {prompt = "batch item " .. i}})
  if ok then out[i] = {ok = true, id = r.id}
  else out[i] = {ok = false, message = r.message, operation = r.operation, status = r.status, kind = r.kind} end
end
return out
"""


def test_batch_under_rate_limit_creates_exactly_n_predictions(world: dict[str, Any], replicate: Any) -> None:
    n = 6
    replicate.faults.add(Fault("rate_limit", method="POST", path=CREATE_PATH, limit=3, per_seconds=1))
    data = run(world, BATCH % n)
    assert data["success"] is True, data["error"]
    (results,) = data["result"]
    assert all(r["ok"] for r in results), results
    created = predictions(replicate)
    assert len(created) == n
    assert sorted(j.input["prompt"] for j in created) == sorted(f"batch item {i}" for i in range(1, n + 1))
    posts = api_requests(replicate, "POST")
    refused = [r for r in posts if r.status == 429]
    assert refused, "the rate limit never refused a request: the test proves nothing"
    assert len(posts) == n + len(refused)
    assert_post_never_repeated(replicate)


def test_batch_with_every_post_fault_never_duplicates_a_prediction(world: dict[str, Any], replicate: Any) -> None:
    n = 8
    for fault in (Fault("status", status=429, retry_after=0, times=2),  # creation 1: refused twice, then ...
                  Fault("status", status=503, times=1),  # ... a 503: creation 1 fails, nothing created
                  Fault("drop_before_response", times=1),  # creation 2: nothing reached the API
                  Fault("drop_mid_body", times=1),  # creation 3: created, answer lost
                  Fault("read_timeout", seconds=READ_TIMEOUT + 2, times=1),  # creation 4: created, answer late
                  Fault("malformed_json", times=1)):  # creation 5: the answer is garbage (nothing created)
        replicate.faults.add(on(fault, "POST", CREATE_PATH))
    data = run(world, BATCH % n)
    assert data["success"] is True, data["error"]
    (results,) = data["result"]
    assert [r["ok"] for r in results] == [False] * 5 + [True] * (n - 5)
    for r in results[:5]:
        assert r["operation"] == "replicate.create_model_prediction" and r["message"] and r["kind"]
    assert [r.get("status") for r in results[:5]] == [503, None, None, None, 200]
    posts = api_requests(replicate, "POST")
    assert len(posts) == n + 2  # the two 429s are the only repeats
    assert_post_never_repeated(replicate)
    prompts = Counter(j.input["prompt"] for j in predictions(replicate))
    assert max(prompts.values()) == 1
    assert set(prompts) == {"batch item 3", "batch item 4"} | {f"batch item {i}" for i in range(6, n + 1)}


def test_batch_of_gets_rides_out_every_retryable_fault(world: dict[str, Any], replicate: Any) -> None:
    # Faults are used in order by the next matching request: four on one path, three on another, so each call
    # meets several in a row and still ends within the five attempts integration.yaml allows.
    for fault in (Fault("status", status=502, times=1), Fault("status", status=503, times=1),
                  Fault("status", status=504, times=1), Fault("status", status=429, retry_after=0, times=1)):
        replicate.faults.add(on(fault, "GET", GET_PATH))
    for fault in (Fault("drop_before_response", times=1), Fault("drop_mid_body", times=1),
                  Fault("read_timeout", seconds=READ_TIMEOUT + 2, times=1)):
        replicate.faults.add(on(fault, "GET", "^/v1/hardware$"))
    code = ("local replicate, n = app.integrations.replicate, 0\n"
            "for i = 1, 2 do n = n + #replicate.get_account({}).username + #replicate.list_hardware({}) end\n"
            "return n")
    data = run(world, code)
    assert data["success"] is True, data["error"]
    assert [c["attempts"] for c in data["integration_calls"]] == [5, 4, 1, 1]
    assert len(api_requests(replicate)) == 11
    assert [r.fault for r in api_requests(replicate)].count(None) == 4


# -- nothing listening, and the other emulator ----------------------------------------------------------------------


def test_connection_refused_is_a_clear_transport_error(world: dict[str, Any]) -> None:
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**world["env"], "STABILITY_BASE_URL": f"http://127.0.0.1:{port}"}
    proc = kosmo("integrations:lua", "--json", "-e", "return app.integrations.stability.get_balance({})",
                 env=env, cwd=world["work"])
    assert_no_crash(proc.stdout, proc.stderr)
    value = assert_clear_error(envelope(proc), "stability.get_balance", status=None)
    assert value["message"] == (f"could not connect to 127.0.0.1:{port} (connection refused) (after 5 attempts)")


STABILITY_CORE = ("return app.integrations.stability.generate_core({prompt = 'a lighthouse', output_format = 'png'})"
                  ".content_type")


def test_stability_post_429_is_retried_and_503_is_not(world: dict[str, Any], stability: Any) -> None:
    stability.faults.add(Fault("status", status=429, retry_after=0, method="POST", path="generate/core", times=1))
    data = run(world, STABILITY_CORE)
    assert data["success"] is True, data["error"]
    assert data["result"] == ["image/png"]
    assert [r.status for r in api_requests(stability, "POST")] == [429, 200]

    stability.reset()
    stability.faults.add(Fault("status", status=503, method="POST", path="generate/core", times=1))
    value = assert_clear_error(run(world, STABILITY_CORE), "stability.generate_core", status=503)
    assert value["message"]
    assert len(api_requests(stability, "POST")) == 1


def test_stability_get_retries_a_dropped_connection(world: dict[str, Any], stability: Any) -> None:
    stability.faults.add(Fault("drop_before_response", method="GET", path="balance", times=2))
    data = run(world, "return app.integrations.stability.get_balance({}).credits")
    assert data["success"] is True, data["error"]
    assert data["integration_calls"][0]["attempts"] == 3


# -- the account's timeout fields are checked where they are set and where they are used ----------------------------


def test_timeout_fields_are_validated(world: dict[str, Any], replicate: Any) -> None:
    import yaml

    proc = kosmo("integrations:configure", "replicate", "--account", "slow", "--set", "read_timeout=soon",
                 env=world["env"], cwd=world["work"])
    assert proc.returncode == 2
    assert "read_timeout: expected a number of seconds" in proc.stderr and "soon" not in proc.stderr
    # A hand-edited config.yaml is checked when the account is used: a clear error value, nothing sent.
    config_path = Path(world["env"]["KOSMO_HOME"]) / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["integrations"]["replicate"]["accounts"]["broken"] = {"url": replicate.server.base_url,
                                                                 "connect_timeout": -1}
    config_path.write_text(yaml.safe_dump(config))
    data = run(world, "return app.integrations.replicate.broken.get_account({})")
    assert data["success"] is False
    assert "connect_timeout must be a number of seconds" in data["error"]
    assert data["meta"]["error_value"]["account"] == "broken"
    assert api_requests(replicate) == []
