"""The Replicate emulator: every operation in-process, several over a loopback port, lifecycles, pagination, files
and signed downloads, accounts, errors, and `kosmo emulator:serve` as a subprocess.

Time is injected (a settable clock) wherever a test depends on it; no test asserts on wall time.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from kosmo_lua.emulate import Emulator, Fault, LoopbackServer, load_emulator
from kosmo_lua.errors import UsageError

REPO = Path(__file__).resolve().parents[1]
FOLDER = REPO / "integrations" / "replicate"
TOKEN = "r8_TEST_token_never_shown_5c1e"
OTHER = "r8_TEST_other_account_77aa"
BASE = "http://emulator.invalid/v1"


def version_id(ref: str, n: int) -> str:
    return hashlib.sha256(f"{ref}:{n}".encode()).hexdigest()


SDXL = version_id("stability-ai/sdxl", 2)
HELLO = version_id("replicate/hello-world", 2)


class Clock:
    """A settable clock: tests move time instead of waiting for it."""

    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make(**options: Any) -> Emulator:
    return load_emulator(FOLDER, **options)


def client_for(emulator: Emulator, token: str | None = TOKEN, **kw: Any) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(transport=emulator.transport(), base_url=emulator.base_url, headers=headers, **kw)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def em(clock: Clock) -> Emulator:
    return make(clock=clock)


@pytest.fixture
def c(em: Emulator) -> Iterator[httpx.Client]:
    with client_for(em) as client:
        yield client


@pytest.fixture
def other(em: Emulator) -> Iterator[httpx.Client]:
    with client_for(em, OTHER) as client:
        yield client


def problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status and isinstance(body["title"], str) and isinstance(body["detail"], str)
    return body


def fields_of(r: httpx.Response) -> set[str]:
    return {f["field"] for f in problem(r, 422)["invalid_fields"]}


def follow(client: httpx.Client, url: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every item of a paged list, and the pages, following ``next`` to the end."""
    items: list[dict[str, Any]] = []
    pages = []
    next_url: str | None = url
    while next_url:
        r = client.get(next_url)
        assert r.status_code == 200, r.text
        page = r.json()
        assert set(page) == {"next", "previous", "results"}
        pages.append(page)
        items += page["results"]
        next_url = page["next"]
        assert len(pages) < 50
    return items, pages


def predict(c: httpx.Client, inp: dict[str, Any] | None = None, version: str = SDXL,
            **headers: str) -> httpx.Response:
    return c.post("/predictions", json={"version": version, "input": inp or {"prompt": "a red fox"}},
                  headers=headers)


def own_model(c: httpx.Client, name: str = "my-model", visibility: str = "private") -> dict[str, Any]:
    me = c.get("/account").json()["username"]
    r = c.post("/models", json={"owner": me, "name": name, "visibility": visibility, "hardware": "cpu",
                                "description": "mine"})
    assert r.status_code == 201, r.text
    return r.json()


# -- auth, account, hardware, webhook secret -----------------------------------------------------------------------

def test_401_without_a_usable_token(em: Emulator) -> None:
    with client_for(em, None) as anon:
        body = problem(anon.get("/account"), 401)
        assert body == {"title": "Unauthenticated", "detail": "You did not pass a valid authentication token",
                        "status": 401}
        for header in ("Bearer ", "Bearer    ", "Basic abc", TOKEN):
            problem(anon.get("/predictions", headers={"Authorization": header}), 401)
        assert anon.get("/account", headers={"Authorization": f"Token {TOKEN}"}).status_code == 200
        assert anon.get("/search", params={"query": "flux"}).status_code == 200  # security: [] in the spec
    assert TOKEN not in json.dumps([r.to_data() for r in em.requests])


def test_each_token_is_an_account(em: Emulator, c: httpx.Client, other: httpx.Client) -> None:
    me = c.get("/account").json()
    assert me["type"] == "user" and me["username"].startswith("user-") and len(me["username"]) == 13
    assert c.get("/account").json() == me
    assert other.get("/account").json()["username"] != me["username"]
    named = make(accounts={TOKEN: "alice"})
    with client_for(named) as alice:
        assert alice.get("/account").json()["username"] == "alice"


def test_hardware_list(c: httpx.Client) -> None:
    skus = [h["sku"] for h in c.get("/hardware").json()]
    assert {"cpu", "gpu-t4", "gpu-a40-large"} <= set(skus)
    assert all(set(h) == {"sku", "name"} for h in c.get("/hardware").json())


def test_webhook_secret_is_deterministic_per_account(c: httpx.Client, other: httpx.Client) -> None:
    key = c.get("/webhooks/default/secret").json()["key"]
    assert key.startswith("whsec_") and len(base64.b64decode(key[6:])) == 24
    assert c.get("/webhooks/default/secret").json()["key"] == key
    assert other.get("/webhooks/default/secret").json()["key"] != key
    with client_for(make()) as again:
        assert again.get("/webhooks/default/secret").json()["key"] == key
    with client_for(make(seed=9)) as reseeded:
        assert reseeded.get("/webhooks/default/secret").json()["key"] != key


# -- predictions ---------------------------------------------------------------------------------------------------

def test_prediction_lifecycle_advances_one_step_per_get(c: httpx.Client) -> None:
    created = predict(c)
    assert created.status_code == 201
    p = created.json()
    assert p["status"] == "starting" and p["output"] is None and p["error"] is None and p["logs"] == ""
    assert p["model"] == "stability-ai/sdxl" and p["version"] == SDXL and p["source"] == "api"
    assert p["urls"] == {"cancel": f"{BASE}/predictions/{p['id']}/cancel", "get": f"{BASE}/predictions/{p['id']}",
                         "web": f"https://replicate.com/p/{p['id']}",
                         "stream": f"http://emulator.invalid/streams/{p['id']}"}
    assert "started_at" not in p and "completed_at" not in p
    second = c.get(p["urls"]["get"]).json()
    assert second["status"] == "processing" and second["output"] is None and "started_at" in second
    done = c.get(f"/predictions/{p['id']}").json()
    assert done["status"] == "succeeded" and done["completed_at"] >= done["started_at"]
    assert done["output"][0].startswith("http://emulator.invalid/delivery/") and done["output"][0].endswith(".png")
    assert set(done["metrics"]) == {"predict_time", "total_time"}
    assert "Done." in done["logs"]
    assert c.get(f"/predictions/{p['id']}").json()["status"] == "succeeded"  # terminal stays terminal


@pytest.mark.parametrize(("steps", "after_one_get"), [(0, "starting"), (2, "succeeded")])
def test_steps_per_get_is_configurable(steps: int, after_one_get: str) -> None:
    with client_for(make(steps_per_get=steps)) as client:
        pid = predict(client).json()["id"]
        assert client.get(f"/predictions/{pid}").json()["status"] == after_one_get


def test_outputs_depend_only_on_the_input(c: httpx.Client) -> None:
    def run(inp: dict[str, Any]) -> Any:
        return predict(c, inp, Prefer="wait").json()["output"]

    assert run({"prompt": "a fox"}) == run({"prompt": "a fox"}) != run({"prompt": "a hen"})
    assert len(run({"prompt": "a fox", "num_outputs": 3})) == 3
    image = c.get(run({"prompt": "a fox"})[0])  # served by the emulator, no token needed for delivery
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG")
    hello = predict(c, {"text": "Alice"}, version=f"replicate/hello-world:{HELLO}", Prefer="wait").json()
    assert hello["output"] == "hello Alice"


def test_prefer_wait_answers_201_with_the_final_output(c: httpx.Client) -> None:
    for prefer in ("wait", "wait=5", "wait=60"):
        r = predict(c, Prefer=prefer)
        assert r.status_code == 201 and r.json()["status"] == "succeeded" and r.json()["output"]
    for prefer in ("wait=0", "wait=61", "wait=99", "sync", "wait=5s"):
        body = problem(predict(c, Prefer=prefer), 422)
        assert [f["field"] for f in body["invalid_fields"]] == ["header.Prefer"]
        assert "1 to 60" in body["detail"]


def test_emulator_slow_holds_prefer_wait_then_answers_202(c: httpx.Client) -> None:
    c.timeout = httpx.Timeout(5, read=0.05)
    with pytest.raises(httpx.ReadTimeout):  # the emulator holds the answer for the wait (1 s)
        predict(c, {"prompt": "x", "emulator_slow": True}, Prefer="wait=1")
    c.timeout = httpx.Timeout(5)
    r = predict(c, {"prompt": "x", "emulator_slow": True}, Prefer="wait=1")
    assert r.status_code == 202 and r.json()["status"] == "processing"


def test_emulator_fail_ends_failed_with_error_and_logs(c: httpx.Client) -> None:
    pid = predict(c, {"prompt": "x", "emulator_fail": "CUDA out of memory"}).json()["id"]
    c.get(f"/predictions/{pid}")
    failed = c.get(f"/predictions/{pid}").json()
    assert failed["status"] == "failed" and failed["error"] == "CUDA out of memory" and failed["output"] is None
    assert "RuntimeError: CUDA out of memory" in failed["logs"] and "Traceback" in failed["logs"]
    waited = predict(c, {"prompt": "x", "emulator_fail": "boom"}, Prefer="wait")
    assert waited.status_code == 201 and waited.json()["status"] == "failed" and waited.json()["error"] == "boom"
    assert "emulator_fail" in fields_of(predict(c, {"prompt": "x", "emulator_fail": 3})).pop()


def test_cancel_prediction(c: httpx.Client, other: httpx.Client) -> None:
    pid = predict(c).json()["id"]
    problem(other.post(f"/predictions/{pid}/cancel"), 404)
    canceled = c.post(f"/predictions/{pid}/cancel")
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    assert c.post(f"/predictions/{pid}/cancel").json()["status"] == "canceled"
    assert c.get(f"/predictions/{pid}").json()["status"] == "canceled"
    done = predict(c, Prefer="wait").json()
    assert c.post(f"/predictions/{done['id']}/cancel").json()["status"] == "succeeded"
    problem(c.post("/predictions/nope/cancel"), 404)


def test_cancel_after_sets_a_deadline(c: httpx.Client, clock: Clock) -> None:
    p = predict(c, **{"Cancel-After": "1m30s"}).json()
    assert p["deadline"] > p["created_at"]
    clock.now += 91
    assert c.get(f"/predictions/{p['id']}").json()["status"] == "aborted"  # never started
    q = predict(c, **{"Cancel-After": "10"}).json()
    assert c.get(f"/predictions/{q['id']}").json()["status"] == "processing"
    clock.now += 11
    assert c.get(f"/predictions/{q['id']}").json()["status"] == "canceled"
    for bad in ("4s", "abc", "5x", ""):
        assert "header.Cancel-After" in fields_of(predict(c, **{"Cancel-After": bad}))


def test_prediction_requests_are_validated_with_every_problem_listed(c: httpx.Client) -> None:
    r = c.post("/predictions", json={"input": "nope", "colour": 1, "stream": "yes"}, headers={"Prefer": "now"})
    assert fields_of(r) == {"body.version", "body.input", "body.colour", "body.stream", "header.Prefer"}
    assert problem(r, 422)["detail"].count("\n") == 5
    assert fields_of(c.post("/predictions", json={"version": SDXL})) == {"body.input"}
    assert fields_of(c.post("/predictions")) == {"body.version", "body.input"}
    assert predict(c, {"prompt": "x", "webhook_events_filter": 1}).status_code == 201  # input keys are free
    r = c.post("/predictions", json={"version": SDXL, "input": {}, "webhook_events_filter": ["start", "often"]})
    assert fields_of(r) == {"body.webhook_events_filter[1]"}
    problem(c.post("/predictions", content=b'{"version": ', headers={"Content-Type": "application/json"}), 400)
    problem(c.post("/predictions", content=b"version=x", headers={"Content-Type": "text/plain"}), 415)
    problem(c.post("/predictions", json=[1, 2]), 422)


def test_inputs_are_checked_against_the_versions_schema(c: httpx.Client) -> None:
    body = problem(predict(c, {"width": "wide", "num_outputs": 9}), 422)
    assert body["title"] == "Input validation failed"
    assert {f["field"] for f in body["invalid_fields"]} == {"input.prompt", "input.width", "input.num_outputs"}
    flux = c.post("/models/black-forest-labs/flux-schnell/predictions",
                  json={"input": {"prompt": "x", "aspect_ratio": "2:1"}})
    assert fields_of(flux) == {"input.aspect_ratio"}


def test_version_formats(c: httpx.Client) -> None:
    assert predict(c, version=SDXL).status_code == 201
    assert predict(c, version=f"stability-ai/sdxl:{version_id('stability-ai/sdxl', 1)}").json()["version"] == \
        version_id("stability-ai/sdxl", 1)
    official = predict(c, version="black-forest-labs/flux-schnell").json()
    assert official["model"] == "black-forest-labs/flux-schnell" and official["version"].startswith("dp-")
    assert "not an official model" in problem(predict(c, version="stability-ai/sdxl"), 422)["detail"]
    for bad in ("0" * 64, "nobody/nothing", f"stability-ai/sdxl:{HELLO}", "latest"):
        assert problem(predict(c, version=bad), 422)["title"] == "Invalid version"


def test_official_model_predictions(c: httpx.Client) -> None:
    r = c.post("/models/meta/meta-llama-3-8b-instruct/predictions", json={"input": {"prompt": "haiku"}},
               headers={"Prefer": "wait"})
    p = r.json()
    assert r.status_code == 201 and p["status"] == "succeeded" and p["model"] == "meta/meta-llama-3-8b-instruct"
    assert isinstance(p["output"], list) and all(isinstance(t, str) for t in p["output"])
    assert p["urls"]["stream"] == f"http://emulator.invalid/streams/{p['id']}"
    assert "not an official model" in problem(
        c.post("/models/stability-ai/sdxl/predictions", json={"input": {"prompt": "x"}}), 422)["detail"]
    problem(c.post("/models/nobody/nothing/predictions", json={"input": {}}), 404)
    assert fields_of(c.post("/models/meta/meta-llama-3-8b-instruct/predictions",
                            json={"input": {"prompt": "x"}, "version": "x"})) == {"body.version"}


def test_language_model_streams_its_output_as_server_sent_events(c: httpx.Client) -> None:
    p = c.post("/models/meta/meta-llama-3-8b-instruct/predictions", json={"input": {"prompt": "hi"}}).json()
    c.get(p["urls"]["get"])
    partial = c.get(p["urls"]["get"]).json()
    stream = httpx.Client(transport=c._transport).get(p["urls"]["stream"], headers={"Accept": "text/event-stream"})
    assert stream.headers["content-type"].startswith("text/event-stream")
    events = [block.split("\n") for block in stream.text.strip("\n").split("\n\n")]
    assert [e[0] for e in events][-1] == "event: done"
    tokens = [e[2][len("data: "):] for e in events if e[0] == "event: output"]
    final = c.get(p["urls"]["get"]).json()
    assert final["status"] == "succeeded" and tokens == final["output"]
    assert partial["status"] == "succeeded" or partial["output"] == final["output"][:len(partial["output"])]


def test_image_and_failed_predictions_stream_too(c: httpx.Client) -> None:
    p = predict(c, {"prompt": "x", "num_outputs": 2}).json()
    events = c.get(p["urls"]["stream"]).text
    done = c.get(p["urls"]["get"]).json()
    assert done["status"] == "succeeded"
    assert events == "".join(f"event: output\nid: {i}\ndata: {url}\n\n" for i, url in enumerate(done["output"], 1)) \
        + "event: done\nid: 3\ndata: {}\n\n"
    bad = predict(c, {"prompt": "x", "emulator_fail": "line one\nline two"}).json()
    assert c.get(bad["urls"]["stream"]).text == "event: error\nid: 1\ndata: line one\ndata: line two\n\n"
    problem(c.get("http://emulator.invalid/streams/nope"), 404)


def test_partial_text_output_while_processing(c: httpx.Client) -> None:
    pid = c.post("/models/meta/meta-llama-3-8b-instruct/predictions", json={"input": {"prompt": "hi"}}).json()["id"]
    processing = c.get(f"/predictions/{pid}").json()
    done = c.get(f"/predictions/{pid}").json()
    assert processing["status"] == "processing" and 0 < len(processing["output"]) < len(done["output"])
    assert done["output"][:len(processing["output"])] == processing["output"]


def test_list_predictions_pages_to_the_end(c: httpx.Client, other: httpx.Client, clock: Clock) -> None:
    ids = []
    for i in range(7):
        ids.append(predict(c, {"prompt": f"p{i}"}).json()["id"])
        clock.now += 10
    items, pages = follow(c, "/predictions")
    assert [p["id"] for p in items] == ids[::-1]  # newest first, each once
    assert [len(p["results"]) for p in pages] == [3, 3, 1]
    assert pages[0]["previous"] is None and pages[1]["previous"] == f"{BASE}/predictions"
    assert all(p["next"] is None or p["next"].startswith(f"{BASE}/predictions?cursor=") for p in pages)
    assert follow(other, "/predictions")[0] == []
    after = items[2]["created_at"]
    newer, _ = follow(c, f"/predictions?created_after={after}")
    assert [p["id"] for p in newer] == ids[::-1][:2]
    older, _ = follow(c, f"/predictions?created_before={after}")
    assert [p["id"] for p in older] == ids[::-1][3:]
    assert follow(c, "/predictions?source=web")[0] == []
    problem(c.get("/predictions", params={"created_after": "yesterday"}), 400)
    problem(c.get("/predictions", params={"source": "api"}), 400)
    problem(c.get("/predictions", params={"cursor": "garbage"}), 400)


def test_page_size_option() -> None:
    with client_for(make(page_size=1)) as client:
        for _ in range(2):
            predict(client)
        items, pages = follow(client, "/predictions")
        assert len(items) == 2 and len(pages) == 2
    with pytest.raises(UsageError, match="page_size must be an integer >= 1"):
        make(page_size=0)
    with pytest.raises(UsageError, match="unknown option.*colour"):
        make(colour="red")


def test_get_prediction_of_another_account_is_404(c: httpx.Client, other: httpx.Client) -> None:
    pid = predict(c).json()["id"]
    body = problem(other.get(f"/predictions/{pid}"), 404)
    assert pid in body["detail"]
    problem(c.get("/predictions/doesnotexist"), 404)


# -- models, versions, examples, readme, search --------------------------------------------------------------------

def test_get_model_shape(c: httpx.Client) -> None:
    m = c.get("/models/stability-ai/sdxl").json()
    assert m["url"] == "https://replicate.com/stability-ai/sdxl" and m["visibility"] == "public"
    assert m["is_official"] is False and isinstance(m["run_count"], int)
    assert m["latest_version"]["id"] == SDXL and m["latest_version"]["openapi_schema"]["components"]["schemas"][
        "Input"]["required"] == ["prompt"]
    assert m["default_example"]["status"] == "succeeded" and m["default_example"]["model"] == "stability-ai/sdxl"
    assert m["cover_image_url"].startswith("http://emulator.invalid/delivery/")
    assert c.get(m["cover_image_url"]).content.startswith(b"\x89PNG")
    assert c.get("/models/black-forest-labs/flux-schnell").json()["is_official"] is True
    problem(c.get("/models/nobody/nothing"), 404)


def test_run_count_grows_with_predictions(c: httpx.Client) -> None:
    before = c.get("/models/stability-ai/sdxl").json()["run_count"]
    predict(c)
    assert c.get("/models/stability-ai/sdxl").json()["run_count"] == before + 1


def test_list_models_pages_and_sorts(c: httpx.Client, other: httpx.Client) -> None:
    own_model(c, "secret-one")
    items, pages = follow(c, "/models")
    refs = [f"{m['owner']}/{m['name']}" for m in items]
    assert len(refs) == 5 and len(pages) == 2 and refs[-1].endswith("/secret-one")  # no versions: sorts last
    assert len(follow(other, "/models")[0]) == 4  # another account's private model is not listed
    asc, _ = follow(c, "/models?sort_by=model_created_at&sort_direction=asc")
    assert [m["name"] for m in asc][:1] == ["flux-schnell"] and asc[-1]["name"] == "secret-one"
    problem(c.get("/models", params={"sort_by": "name"}), 400)
    problem(c.get("/models", params={"sort_direction": "up"}), 400)


def test_create_model(c: httpx.Client, other: httpx.Client) -> None:
    m = own_model(c)
    me = c.get("/account").json()["username"]
    assert m["owner"] == me and m["visibility"] == "private" and m["latest_version"] is None
    assert m["default_example"] is None and m["description"] == "mine"
    assert c.get(f"/models/{me}/my-model").json() == m
    problem(other.get(f"/models/{me}/my-model"), 404)
    problem(c.post("/models", json={"owner": me, "name": "my-model", "visibility": "private",
                                    "hardware": "cpu"}), 409)
    assert "own account" in problem(c.post("/models", json={"owner": "stability-ai", "name": "x",
                                                            "visibility": "public", "hardware": "cpu"}), 403)["detail"]
    assert fields_of(c.post("/models", json={})) == {"body.owner", "body.name", "body.visibility", "body.hardware"}
    assert fields_of(c.post("/models", json={"owner": me, "name": "Bad Name", "visibility": "secret",
                                             "hardware": "cpu"})) == {"body.name", "body.visibility"}
    assert fields_of(c.post("/models", json={"owner": me, "name": "x", "visibility": "public",
                                             "hardware": "tpu"})) == {"body.hardware"}


def test_update_model_and_readme(c: httpx.Client, other: httpx.Client) -> None:
    me = own_model(c)["owner"]
    problem(c.get(f"/models/{me}/my-model/readme"), 404)
    r = c.patch(f"/models/{me}/my-model", json={"description": "new", "readme": "# Mine\n",
                                                "github_url": "https://github.com/x/y"})
    assert r.status_code == 200 and r.json()["description"] == "new"
    assert r.json()["github_url"] == "https://github.com/x/y"
    readme = c.get(f"/models/{me}/my-model/readme")
    assert readme.text == "# Mine\n" and readme.headers["content-type"].startswith("text/markdown")
    assert fields_of(c.patch(f"/models/{me}/my-model", json={"description": 5})) == {"body.description"}
    problem(other.patch(f"/models/{me}/my-model", json={"description": "x"}), 404)
    problem(c.patch("/models/stability-ai/sdxl", json={"description": "x"}), 403)
    assert c.get("/models/stability-ai/sdxl/readme").text.startswith("# SDXL")
    problem(c.get("/models/replicate/hello-world/readme"), 404)


def test_delete_model(c: httpx.Client) -> None:
    me = own_model(c, "gone")["owner"]
    own_model(c, "shown", visibility="public")
    assert "only private" in problem(c.delete(f"/models/{me}/shown"), 409)["detail"]
    problem(c.delete("/models/stability-ai/sdxl"), 403)
    r = c.delete(f"/models/{me}/gone")
    assert r.status_code == 204 and r.content == b""
    problem(c.get(f"/models/{me}/gone"), 404)


def test_model_examples(c: httpx.Client) -> None:
    items, _ = follow(c, "/models/black-forest-labs/flux-schnell/examples")
    assert len(items) == 1 and items[0]["status"] == "succeeded" and items[0]["output"]
    assert items[0]["id"] == c.get("/models/black-forest-labs/flux-schnell").json()["default_example"]["id"]
    problem(c.get("/models/nobody/x/examples"), 404)


def test_model_versions(c: httpx.Client) -> None:
    items, pages = follow(c, "/models/stability-ai/sdxl/versions")
    assert [v["id"] for v in items] == [SDXL, version_id("stability-ai/sdxl", 1)] and len(pages) == 1
    assert c.get(f"/models/stability-ai/sdxl/versions/{SDXL}").json() == items[0]
    assert set(items[0]) == {"id", "created_at", "cog_version", "openapi_schema"}
    problem(c.get(f"/models/stability-ai/sdxl/versions/{HELLO}"), 404)
    problem(c.delete(f"/models/stability-ai/sdxl/versions/{SDXL}"), 403)


def test_query_models_search(c: httpx.Client) -> None:
    r = c.request("QUERY", "/models", content=b"llama chat", headers={"Content-Type": "text/plain"})
    body = r.json()
    assert r.status_code == 200 and body["next"] is None and body["previous"] is None
    assert [m["name"] for m in body["results"]] == ["meta-llama-3-8b-instruct"]
    assert problem(c.request("QUERY", "/models", json="llama"), 415)["title"] == "Unsupported Media Type"
    problem(c.request("QUERY", "/models", content=b"llama"), 415)
    problem(c.request("QUERY", "/models", content=b"  ", headers={"Content-Type": "text/plain"}), 400)
    hits = c.request("QUERY", "/models", content=b"nothing-matches-this", headers={"Content-Type": "text/plain"})
    assert hits.json()["results"] == []


def test_search_needs_no_token_and_checks_its_parameters(em: Emulator) -> None:
    with client_for(em, None) as anon:
        body = anon.get("/search", params={"query": "text to image", "limit": 1}).json()
        assert body["query"] == "text to image" and len(body["models"]) == 1
        assert set(body["models"][0]) == {"model", "metadata"}
        assert set(body["models"][0]["metadata"]) == {"generated_description", "score", "tags"}
        assert body["collections"][0]["slug"] == "text-to-image"
        assert "black-forest-labs/flux-schnell" in body["collections"][0]["models"]
        pages = anon.get("/search", params={"query": "webhooks"}).json()["pages"]
        assert pages == [{"name": "Webhooks", "href": "https://replicate.com/docs/topics/webhooks"}]
        for params in ({}, {"query": " "}, {"query": "x", "limit": 0}, {"query": "x", "limit": 51},
                       {"query": "x", "limit": "many"}):
            r = anon.get("/search", params=params)
            assert r.status_code == 400 and r.headers["content-type"] == "application/json" and r.json()["detail"]


def test_collections(c: httpx.Client) -> None:
    items, pages = follow(c, "/collections")
    assert [x["slug"] for x in items] == ["text-to-image", "language-models", "official"] and len(pages) == 1
    assert all(set(x) == {"name", "slug", "description"} for x in items)
    col = c.get("/collections/text-to-image").json()
    assert [m["name"] for m in col["models"]] == ["flux-schnell", "sdxl"] and col["full_description"]
    problem(c.get("/collections/nope"), 404)


# -- deployments ---------------------------------------------------------------------------------------------------

def deployment_body(**over: Any) -> dict[str, Any]:
    return {"name": "my-app", "model": "stability-ai/sdxl", "version": SDXL, "hardware": "gpu-t4",
            "min_instances": 0, "max_instances": 2, **over}


def test_deployment_crud(c: httpx.Client, other: httpx.Client) -> None:
    me = c.get("/account").json()["username"]
    r = c.post("/deployments", json=deployment_body())
    d = r.json()
    assert r.status_code == 200 and d["owner"] == me and d["name"] == "my-app"
    release = d["current_release"]
    assert release["number"] == 1 and release["version"] == SDXL and release["created_by"]["username"] == me
    assert release["configuration"] == {"hardware": "gpu-t4", "min_instances": 0, "max_instances": 2}
    assert c.get(f"/deployments/{me}/my-app").json() == d
    problem(other.get(f"/deployments/{me}/my-app"), 404)
    problem(c.post("/deployments", json=deployment_body()), 409)

    updated = c.patch(f"/deployments/{me}/my-app", json={"max_instances": 5, "hardware": "gpu-a40-large"}).json()
    assert updated["current_release"]["number"] == 2
    assert updated["current_release"]["configuration"] == {"hardware": "gpu-a40-large", "min_instances": 0,
                                                           "max_instances": 5}
    assert fields_of(c.patch(f"/deployments/{me}/my-app", json={})) == {"body"}
    assert fields_of(c.patch(f"/deployments/{me}/my-app", json={"min_instances": 9})) == {"body.min_instances"}

    for name in ("b", "c", "d"):
        c.post("/deployments", json=deployment_body(name=name))
    items, pages = follow(c, "/deployments")
    assert [x["name"] for x in items] == ["d", "c", "b", "my-app"] and len(pages) == 2
    assert follow(other, "/deployments")[0] == []

    assert c.delete(f"/deployments/{me}/my-app").status_code == 204
    problem(c.get(f"/deployments/{me}/my-app"), 404)
    problem(c.delete(f"/deployments/{me}/my-app"), 404)


def test_deployment_validation(c: httpx.Client) -> None:
    assert fields_of(c.post("/deployments", json={})) == {
        "body.name", "body.model", "body.version", "body.hardware", "body.min_instances", "body.max_instances"}
    assert fields_of(c.post("/deployments", json=deployment_body(min_instances=6, max_instances=21))) == {
        "body.min_instances", "body.max_instances"}
    assert fields_of(c.post("/deployments", json=deployment_body(
        hardware="tpu", version=HELLO, min_instances=3, max_instances=1))) == {
        "body.hardware", "body.version", "body.min_instances"}
    assert fields_of(c.post("/deployments", json=deployment_body(model="nobody/x"))) == {"body.model"}
    assert fields_of(c.post("/deployments", json=deployment_body(name="Has Spaces"))) == {"body.name"}


def test_deployment_predictions(c: httpx.Client, other: httpx.Client) -> None:
    me = c.post("/deployments", json=deployment_body()).json()["owner"]
    r = c.post(f"/deployments/{me}/my-app/predictions", json={"input": {"prompt": "x"}})
    p = r.json()
    assert r.status_code == 201 and p["deployment"] == f"{me}/my-app" and p["version"] == SDXL
    assert p["model"] == "stability-ai/sdxl"
    assert c.get(f"/predictions/{p['id']}").json()["deployment"] == f"{me}/my-app"
    problem(other.post(f"/deployments/{me}/my-app/predictions", json={"input": {"prompt": "x"}}), 404)
    assert fields_of(c.post(f"/deployments/{me}/my-app/predictions", json={"input": {}})) == {"input.prompt"}
    waited = c.post(f"/deployments/{me}/my-app/predictions", json={"input": {"prompt": "x"}},
                    headers={"Prefer": "wait=10"})
    assert waited.status_code == 201 and waited.json()["status"] == "succeeded"


# -- files ---------------------------------------------------------------------------------------------------------

def upload(c: httpx.Client, data: bytes = b"hello\r\n\x00world", **fields: str) -> httpx.Response:
    return c.post("/files", files={"content": ("notes.bin", data, "application/x-thing")}, data=fields)


def test_file_create_get_list_delete(c: httpx.Client, other: httpx.Client) -> None:
    data = b"hello\r\n\x00world"
    r = upload(c, data, filename="renamed.txt", type="text/plain", metadata='{"ref": 7}')
    f = r.json()
    assert r.status_code == 201 and f["name"] == "renamed.txt" and f["content_type"] == "text/plain"
    assert f["size"] == len(data) and f["metadata"] == {"ref": 7}
    assert f["checksums"] == {"sha256": hashlib.sha256(data).hexdigest(), "md5": hashlib.md5(data).hexdigest()}
    assert f["urls"]["get"] == f"{BASE}/files/{f['id']}"
    assert base64.b64decode(f["id"]).decode().count("-") == 4  # shaped like the real ids
    defaults = upload(c).json()
    assert defaults["name"] == "notes.bin" and defaults["content_type"] == "application/x-thing"
    assert defaults["metadata"] == {}
    assert c.get(f["urls"]["get"]).json()["checksums"] == f["checksums"]
    problem(other.get(f"/files/{f['id']}"), 404)
    for _ in range(2):
        upload(c)
    items, pages = follow(c, "/files")
    assert len(items) == 4 and len(pages) == 2 and items[-1]["id"] == f["id"]
    assert follow(other, "/files")[0] == []
    assert c.delete(f"/files/{f['id']}").status_code == 204
    problem(c.get(f"/files/{f['id']}"), 404)
    problem(c.delete(f"/files/{f['id']}"), 404)
    assert c.get(f["urls"]["download"]).status_code == 404


def test_file_create_rejects_bad_uploads(c: httpx.Client) -> None:
    assert "multipart/form-data" in problem(c.post("/files", json={"content": "x"}), 400)["detail"]
    problem(c.post("/files", content=b"--x\r\n", headers={"Content-Type": "multipart/form-data; boundary=x"}), 400)
    assert fields_of(c.post("/files", files={"other": ("a", b"x")})) == {"body.content"}
    assert fields_of(upload(c, metadata="[1]")) == {"body.metadata"}
    assert fields_of(upload(c, metadata="{", filename="n" * 256)) == {"body.metadata", "body.filename"}
    with client_for(make(max_file_bytes=100)) as small:
        assert problem(upload(small, b"x" * 200), 413)["title"] == "Content Too Large"


def test_signed_downloads(c: httpx.Client, other: httpx.Client, em: Emulator, clock: Clock) -> None:
    data = bytes(range(256))
    f = upload(c, data).json()
    url = f["urls"]["download"]
    query = parse_qs(urlsplit(url).query)
    assert set(query) == {"owner", "expiry", "signature"}
    assert query["owner"] == [c.get("/account").json()["username"]]
    with client_for(em, None) as anon:  # the signature is the credential
        r = anon.get(url)
        assert r.status_code == 200 and r.content == data
        assert r.headers["content-type"] == "application/octet-stream"
        assert 'filename="notes.bin"' in r.headers["content-disposition"]
        path = url.split("?")[0]

        def fetch(**over: str) -> httpx.Response:
            params = {k: v[0] for k, v in query.items()} | over
            return anon.get(path, params={k: v for k, v in params.items() if v is not None})

        sig = query["signature"][0]
        tampered = ("A" if sig[0] != "A" else "B") + sig[1:]
        assert "signature" in problem(fetch(signature=tampered), 403)["detail"]
        problem(fetch(owner="someone-else"), 403)
        problem(fetch(expiry=str(int(query["expiry"][0]) + 1)), 403)
        assert "expiry" in problem(fetch(expiry="soon"), 400)["detail"]
        r = anon.get(path, params={"owner": query["owner"][0]})
        assert "expiry, signature" in problem(r, 400)["detail"]
        problem(anon.get(f"{BASE}/files/nope/download", params={k: v[0] for k, v in query.items()}), 404)
        clock.now += 3601
        assert "expired" in problem(anon.get(url), 403)["detail"]
    fresh = c.get(f"/files/{f['id']}").json()["urls"]["download"]  # a new link is signed for a new hour
    assert c.get(fresh).content == data
    clock.now += 86400
    problem(c.get(f"/files/{f['id']}"), 404)  # the file itself expired after a day


# -- trainings -----------------------------------------------------------------------------------------------------

def test_training_lifecycle_adds_a_version_to_the_destination(c: httpx.Client, other: httpx.Client) -> None:
    me = own_model(c, "tuned")["owner"]
    r = c.post(f"/models/stability-ai/sdxl/versions/{SDXL}/trainings",
               json={"destination": f"{me}/tuned", "input": {"images": "https://example.com/x.zip"}})
    t = r.json()
    assert r.status_code == 201 and t["status"] == "starting" and "output" not in t and "data_removed" not in t
    assert t["urls"] == {"get": f"{BASE}/trainings/{t['id']}", "cancel": f"{BASE}/trainings/{t['id']}/cancel"}
    assert t["model"] == "stability-ai/sdxl" and t["version"] == SDXL
    assert c.get(t["urls"]["get"]).json()["status"] == "processing"
    done = c.get(t["urls"]["get"]).json()
    assert done["status"] == "succeeded" and set(done["output"]) == {"version", "weights"}
    assert c.get(done["output"]["weights"]).status_code == 200
    model = c.get(f"/models/{me}/tuned").json()
    assert model["latest_version"]["id"] == done["output"]["version"]
    trained = c.post("/predictions", json={"version": f"{me}/tuned:{done['output']['version']}",
                                           "input": {"prompt": "x"}}, headers={"Prefer": "wait"})
    assert trained.json()["status"] == "succeeded"
    problem(other.get(f"/trainings/{t['id']}"), 404)

    assert "delete them first" in problem(c.delete(f"/models/{me}/tuned"), 409)["detail"]
    assert c.delete(f"/models/{me}/tuned/versions/{done['output']['version']}").status_code == 202
    assert c.get(f"/models/{me}/tuned").json()["latest_version"] is None
    assert c.delete(f"/models/{me}/tuned").status_code == 204


def test_training_errors_cancel_and_list(c: httpx.Client) -> None:
    me = own_model(c, "dest")["owner"]
    url = f"/models/stability-ai/sdxl/versions/{SDXL}/trainings"
    missing = c.post(url, json={"destination": f"{me}/nope", "input": {}})
    assert problem(missing, 404)["detail"] == "The specified training destination does not exist"
    problem(c.post(url, json={"destination": "stability-ai/sdxl", "input": {}}), 404)  # not ours
    problem(c.post(f"/models/stability-ai/sdxl/versions/{HELLO}/trainings",
                   json={"destination": f"{me}/dest", "input": {}}), 404)
    assert fields_of(c.post(url, json={"input": []})) == {"body.destination", "body.input"}
    ids = [c.post(url, json={"destination": f"{me}/dest", "input": {"n": i}}).json()["id"] for i in range(4)]
    canceled = c.post(f"/trainings/{ids[0]}/cancel")
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    failing = c.post(url, json={"destination": f"{me}/dest", "input": {"emulator_fail": "bad zip"}}).json()["id"]
    c.get(f"/trainings/{failing}")
    failed = c.get(f"/trainings/{failing}").json()
    assert failed["status"] == "failed" and failed["error"] == "bad zip" and "output" not in failed
    items, pages = follow(c, "/trainings")
    assert [t["id"] for t in items] == [failing, *ids[::-1]] and len(pages) == 2
    problem(c.post("/trainings/nope/cancel"), 404)
    assert follow(c, "/predictions")[0] == []  # trainings are not predictions


# -- determinism, reset, faults ------------------------------------------------------------------------------------

def test_same_seed_same_answers() -> None:
    def session(seed: int) -> list[Any]:
        with client_for(make(seed=seed, clock=Clock())) as client:
            pid = predict(client).json()["id"]
            return [pid, client.get(f"/predictions/{pid}").json(), client.get(f"/predictions/{pid}").json(),
                    upload(client).json(), client.get("/webhooks/default/secret").json()]

    assert session(1) == session(1)
    assert session(1)[0] != session(2)[0]


def test_reset_forgets_everything_and_ids_start_over(em: Emulator, c: httpx.Client) -> None:
    first = predict(c).json()["id"]
    own_model(c)
    em.faults.add(Fault("status", status=500, path="nothing"))
    em.reset()
    problem(c.get(f"/predictions/{first}"), 404)
    assert em.faults.active() == [] and len(em.requests) == 1
    assert predict(c).json()["id"] == first
    assert len(follow(c, "/models")[0]) == 4


def test_faults_apply_to_replicate_requests(em: Emulator, c: httpx.Client) -> None:
    em.faults.add(Fault("status", status=429, method="POST", path="/predictions$", times=1))
    r = predict(c)
    body = problem(r, 429)
    assert r.headers["retry-after"] == "1" and body["title"] == "Too Many Requests"
    assert follow(c, "/predictions")[0] == []  # the throttled request created nothing
    assert predict(c).status_code == 201


# -- over a loopback port ------------------------------------------------------------------------------------------

@pytest.fixture
def served(em: Emulator) -> Iterator[LoopbackServer]:
    with em.serve() as server:
        yield server


@pytest.fixture
def net(served: LoopbackServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.base_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as cl:
        yield cl


def test_loopback_prediction_links_point_at_the_server(served: LoopbackServer, net: httpx.Client) -> None:
    p = predict(net).json()
    assert p["urls"]["get"] == f"{served.base_url}/predictions/{p['id']}"
    while p["status"] not in ("succeeded", "failed", "canceled"):
        p = net.get(p["urls"]["get"]).json()
    image = httpx.get(p["output"][0])
    assert p["output"][0].startswith(f"{served.url}/delivery/") and image.content.startswith(b"\x89PNG")
    llama = net.post("/models/meta/meta-llama-3-8b-instruct/predictions", json={"input": {"prompt": "x"}}).json()
    events = httpx.get(llama["urls"]["stream"]).text
    assert events.startswith("event: output") and "event: done" in events


def test_loopback_pagination_and_search(served: LoopbackServer, net: httpx.Client) -> None:
    for i in range(4):
        predict(net, {"prompt": str(i)})
    items, pages = follow(net, "/predictions")
    assert len(items) == 4 and pages[0]["next"].startswith(f"{served.base_url}/predictions?cursor=")
    r = net.request("QUERY", "/models", content=b"flux", headers={"Content-Type": "text/plain"})
    assert [m["name"] for m in r.json()["results"]] == ["flux-schnell"]
    assert httpx.get(f"{served.base_url}/search", params={"query": "sdxl"}).json()["models"][0]["model"][
        "name"] == "sdxl"
    problem(httpx.get(f"{served.base_url}/account"), 401)


def test_loopback_files_round_trip(net: httpx.Client) -> None:
    data = os.urandom(300_000)
    f = upload(net, data).json()
    assert f["size"] == len(data)
    assert httpx.get(f["urls"]["download"]).content == data
    deleted = net.delete(f"/files/{f['id']}")
    assert deleted.status_code == 204 and "content-length" not in deleted.headers  # 204 never has a body
    problem(net.get(f"/files/{f['id']}"), 404)  # and the kept-alive connection goes on


def test_loopback_control_endpoints(served: LoopbackServer, net: httpx.Client) -> None:
    predict(net)
    log = httpx.get(f"{served.url}/_emulator/requests").json()
    assert [(e["method"], e["path"], e["status"]) for e in log] == [("POST", "/v1/predictions", 201)]
    assert TOKEN not in json.dumps(log)
    httpx.post(f"{served.url}/_emulator/faults", json={"kind": "html_error", "times": 1})
    assert net.get("/account").status_code == 502
    assert httpx.post(f"{served.url}/_emulator/reset").status_code == 200
    assert follow(net, "/predictions")[0] == []


# -- kosmo emulator:serve ------------------------------------------------------------------------------------------

def kosmo(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "kosmo_lua", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_emulator_serve_command(stop_signal: signal.Signals) -> None:
    proc = kosmo("emulator:serve", "replicate", "--page-size", "2", "--latency-ms", "1")
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("Replicate emulator listening on http://127.0.0.1:"), line
        base = line.split()[-1]
        assert base.endswith("/v1")
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as cl:
            assert cl.get("/account").status_code == 200
            for _ in range(3):
                predict(cl)
            assert len(cl.get("/predictions").json()["results"]) == 2  # --page-size reached the emulator
        health = httpx.get(base[:-len("/v1")] + "/_emulator/health").json()
        assert health["status"] == "ok" and health["base_url"] == base
    finally:
        proc.send_signal(stop_signal)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert TOKEN not in out + err


def test_emulator_serve_refuses_unknown_integrations() -> None:
    proc = kosmo("emulator:serve", "nosuchthing")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "unknown integration 'nosuchthing'" in err and "Traceback" not in err
    proc = kosmo("emulator:serve", "replicate", "--page-size", "0")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "--page-size must be >= 1" in err
