"""Every response the Replicate emulator gives, for every one of the 37 operations, checked against Replicate's own
OpenAPI document: the status must be one the operation documents (for successes), the media type must match, and
JSON bodies must validate against the response schema (JSON Schema 2020-12, refs resolved in the whole document).
The top-level shapes are also compared with recorded real responses.

The document and the samples are read from ../shared/specs (never copied into the repository); without them this
file is skipped. Two readings of the document are made explicit below: ``nullable: true`` (an OpenAPI 3.0 keyword
the document still uses) is read as "null is allowed", and formats ``date-time`` and ``uri`` are asserted.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

SPECS = Path(__file__).resolve().parents[1].parent / "shared" / "specs"
SPEC = SPECS / "replicate-openapi.json"
SAMPLES = SPECS / "replicate-response-samples.json"
REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(not SPEC.is_file() or not SAMPLES.is_file(),
                                reason=f"needs Replicate's OpenAPI document and samples in {SPECS} (absent here)")

jsonschema = pytest.importorskip(
    "jsonschema", reason="jsonschema is not installed: it is in the test extra (pip install -e '.[test]')")
from referencing import Registry, Resource  # noqa: E402  (installed with jsonschema)
from referencing.jsonschema import DRAFT202012  # noqa: E402

from kosmo_lua.emulate import Emulator, load_emulator  # noqa: E402

SPEC_URI = "urn:replicate-openapi"
TOKEN = "r8_TEST_schema_token_3d9e"
METHODS = ("get", "put", "post", "delete", "patch", "query")
#: The brief for the emulator asks for READMEs as text/markdown, where the document says text/plain.
MEDIA_EXCEPTIONS = {("models.readme.get", "text/markdown"): "text/plain"}


class Clock:
    def __init__(self) -> None:
        self.now = 1_750_000_000.0

    def __call__(self) -> float:
        return self.now


def _openapi_to_2020_12(node: Any) -> Any:
    """Read ``nullable: true`` as allowing null, and point local refs at the document's registry URI."""
    if isinstance(node, list):
        return [_openapi_to_2020_12(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _openapi_to_2020_12(v) for k, v in node.items() if k != "nullable"}
    if isinstance(out.get("$ref"), str) and out["$ref"].startswith("#/"):
        out["$ref"] = SPEC_URI + out["$ref"]
    if node.get("nullable") is True:
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return _openapi_to_2020_12(json.loads(SPEC.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def operations(document: dict[str, Any]) -> list[tuple[str, re.Pattern[str], dict[str, Any]]]:
    ops = []
    for template, item in document["paths"].items():
        regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        for method in METHODS:
            if method in item:
                ops.append((method.upper(), re.compile(regex + r"\Z"), item[method]))
    assert len(ops) == 37
    return ops


def _format_checker() -> Any:
    checker = jsonschema.FormatChecker(formats=())

    @checker.checks("date-time")
    def date_time(value: object) -> bool:
        return not isinstance(value, str) or re.fullmatch(
            r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", value) is not None

    @checker.checks("uri")
    def uri(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parts = urlsplit(value)
        return bool(parts.scheme and parts.netloc) and " " not in value

    return checker


class Recorder:
    """An httpx transport handler that answers from the emulator and keeps every exchange."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.exchanges: list[tuple[httpx.Request, httpx.Response]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        response = self.emulator.handle(request)
        response.read()
        self.exchanges.append((request, response))
        return response


def _version(ref: str, n: int) -> str:
    return hashlib.sha256(f"{ref}:{n}".encode()).hexdigest()


def exercise(emulator: Emulator, clock: Clock) -> tuple[Recorder, dict[str, Any]]:
    """Every operation, in success and documented error states; returns the exchanges and named bodies."""
    rec = Recorder(emulator)
    transport = httpx.MockTransport(rec)
    c = httpx.Client(transport=transport, base_url=emulator.base_url, headers={"Authorization": f"Bearer {TOKEN}"})
    anon = httpx.Client(transport=transport, base_url=emulator.base_url)
    named: dict[str, Any] = {}
    sdxl = _version("stability-ai/sdxl", 2)

    def keep(name: str, r: httpx.Response) -> Any:
        named[name] = r.json()
        return named[name]

    me = keep("account_get", c.get("/account"))["username"]
    keep("hardware_list", c.get("/hardware"))
    keep("webhook_secret", c.get("/webhooks/default/secret"))

    # predictions in every state
    p = keep("prediction_create_starting", c.post("/predictions", json={
        "version": sdxl, "input": {"prompt": "a corgi", "num_outputs": 2}}))
    keep("prediction_processing_with_logs", c.get(f"/predictions/{p['id']}"))
    keep("prediction_get_succeeded", c.get(f"/predictions/{p['id']}"))
    keep("prediction_create_blocking_prefer_wait", c.post("/predictions", headers={"Prefer": "wait"}, json={
        "version": f"stability-ai/sdxl:{sdxl}", "input": {"prompt": "x"}}))
    failed = c.post("/predictions", json={"version": "black-forest-labs/flux-schnell",
                                          "input": {"prompt": "x", "emulator_fail": "out of memory"}}).json()
    c.get(f"/predictions/{failed['id']}")
    c.get(f"/predictions/{failed['id']}")
    c.post("/predictions", headers={"Prefer": "wait=1"}, json={"version": sdxl,
                                                                "input": {"prompt": "x", "emulator_slow": True}})
    to_cancel = c.post("/predictions", json={"version": sdxl, "input": {"prompt": "x"}}).json()
    c.get(f"/predictions/{to_cancel['id']}")  # started, as in the recording
    keep("prediction_cancel", c.post(f"/predictions/{to_cancel['id']}/cancel"))
    deadline = c.post("/predictions", headers={"Cancel-After": "5s"}, json={"version": sdxl,
                                                                             "input": {"prompt": "x"}}).json()
    clock.now += 6
    c.get(f"/predictions/{deadline['id']}")
    keep("models_predictions_create", c.post("/models/meta/meta-llama-3-8b-instruct/predictions",
                                             json={"input": {"prompt": "haiku"}}))
    keep("models_predictions_create_blocking", c.post(
        "/models/meta/meta-llama-3-8b-instruct/predictions", headers={"Prefer": "wait=10"},
        json={"input": {"prompt": "haiku", "max_tokens": 5}}))
    c.post("/models/black-forest-labs/flux-schnell/predictions", json={"input": {"prompt": 1}})  # 422
    page = keep("predictions_list_cursor_page", c.get("/predictions"))
    while page["next"]:
        page = c.get(page["next"]).json()
    c.get("/predictions", params={"created_after": "2020-01-01T00:00:00Z", "source": "web"})

    # models
    keep("models_list_paginated", c.get("/models", params={"sort_by": "model_created_at"}))
    keep("model_get", c.get("/models/stability-ai/sdxl"))
    c.get("/models/nobody/nothing")
    keep("models_search_query", c.request("QUERY", "/models", content=b"image",
                                          headers={"Content-Type": "text/plain"}))
    keep("model_create", c.post("/models", json={"owner": me, "name": "dest", "visibility": "private",
                                                 "hardware": "gpu-t4", "description": "mine"}))
    c.post("/models", json={"owner": me, "name": "gone", "visibility": "private", "hardware": "cpu"})
    c.patch(f"/models/{me}/dest", json={"readme": "# dest\n", "description": "updated"})
    c.get(f"/models/{me}/dest/readme")
    c.get("/models/replicate/hello-world/readme")  # 404
    c.get("/models/stability-ai/sdxl/readme")
    c.get("/models/stability-ai/sdxl/examples")
    versions = c.get("/models/stability-ai/sdxl/versions").json()
    keep("model_version_get", c.get(f"/models/stability-ai/sdxl/versions/{versions['results'][0]['id']}"))
    c.delete(f"/models/{me}/gone")
    c.get("/search", params={"query": "text image llama", "limit": 5})
    anon.get("/search", params={"query": "webhooks"})
    anon.get("/search")  # 400
    keep("collections_list", c.get("/collections"))
    keep("collection_get", c.get("/collections/text-to-image"))

    # trainings, then a version delete on the trained model
    t = keep("training_create", c.post(f"/models/stability-ai/sdxl/versions/{sdxl}/trainings",
                                       json={"destination": f"{me}/dest", "input": {"images": "x.zip"}}))
    keep("training_get", c.get(f"/trainings/{t['id']}"))
    done = c.get(f"/trainings/{t['id']}").json()
    keep("error_404_training_destination", c.post(f"/models/stability-ai/sdxl/versions/{sdxl}/trainings",
                                                  json={"destination": f"{me}/nothing", "input": {}}))
    t2 = c.post(f"/models/stability-ai/sdxl/versions/{sdxl}/trainings",
                json={"destination": f"{me}/dest", "input": {"emulator_fail": "bad data"}}).json()
    c.get(f"/trainings/{t2['id']}")
    c.get(f"/trainings/{t2['id']}")
    t3 = c.post(f"/models/stability-ai/sdxl/versions/{sdxl}/trainings",
                json={"destination": f"{me}/dest", "input": {}}).json()
    c.get(f"/trainings/{t3['id']}")
    keep("training_cancel", c.post(f"/trainings/{t3['id']}/cancel"))
    c.get("/trainings")
    c.delete(f"/models/{me}/dest/versions/{done['output']['version']}")

    # deployments
    dep = {"name": "app", "model": "stability-ai/sdxl", "version": sdxl, "hardware": "gpu-t4",
           "min_instances": 0, "max_instances": 1}
    c.post("/deployments", json=dep)
    c.post("/deployments", json={**dep, "name": "app2"})
    keep("deployment_get", c.get(f"/deployments/{me}/app"))
    c.patch(f"/deployments/{me}/app", json={"max_instances": 3})
    keep("deployments_list", c.get("/deployments"))
    keep("deployment_prediction_create", c.post(f"/deployments/{me}/app/predictions",
                                                json={"input": {"prompt": "x"}}))
    c.delete(f"/deployments/{me}/app2")

    # files, with the documented 404 and 413 answers
    f = keep("file_create", c.post("/files", files={"content": ("a.txt", b"hello", "text/plain")},
                                   data={"metadata": '{"k": 1}'}))
    for _ in range(3):
        c.post("/files", files={"content": ("b.bin", b"\x00\x01")})
    keep("file_get", c.get(f"/files/{f['id']}"))
    keep("files_list", c.get("/files"))
    anon.get(f["urls"]["download"])
    c.delete(f"/files/{f['id']}")
    c.get(f"/files/{f['id']}")
    c.delete(f"/files/{f['id']}")
    anon.get(f["urls"]["download"])
    limit = emulator.max_file_bytes  # type: ignore[attr-defined]
    emulator.max_file_bytes = 10  # type: ignore[attr-defined]
    c.post("/files", files={"content": ("big.bin", b"x" * 100)})
    emulator.max_file_bytes = limit  # type: ignore[attr-defined]

    keep("error_401_unauthenticated", anon.post("/predictions", json={"version": sdxl, "input": {}}))
    return rec, named


@pytest.fixture(scope="module")
def exercised() -> tuple[Recorder, dict[str, Any]]:
    clock = Clock()
    return exercise(load_emulator(REPO / "integrations" / "replicate", clock=clock), clock)


def _operation(operations: list[tuple[str, re.Pattern[str], dict[str, Any]]],
               request: httpx.Request) -> dict[str, Any] | None:
    path = request.url.path
    if not path.startswith("/v1/"):
        return None  # output delivery and event streams live outside the API
    for method, pattern, op in operations:
        if method == request.method and pattern.match(path[len("/v1"):]):
            return op
    return None


def test_every_response_matches_the_documented_schema(
        exercised: tuple[Recorder, dict[str, Any]], document: dict[str, Any],
        operations: list[tuple[str, re.Pattern[str], dict[str, Any]]]) -> None:
    rec, _ = exercised
    registry = Registry().with_resource(SPEC_URI, Resource.from_contents(document,
                                                                         default_specification=DRAFT202012))
    checker = _format_checker()
    failures: list[str] = []
    succeeded: set[str] = set()
    validated: set[tuple[str, int]] = set()
    for request, response in rec.exchanges:
        op = _operation(operations, request)
        where = f"{request.method} {request.url.path} -> {response.status_code}"
        if op is None:
            failures.append(f"{where}: no operation in the document")
            continue
        op_id = op["operationId"]
        documented = op["responses"].get(str(response.status_code))
        if documented is None:
            if response.is_success:
                failures.append(f"{where}: {op_id} does not document this success status")
            continue  # an undocumented error (401, 422...): its problem-details shape is tested elsewhere
        if response.is_success:
            succeeded.add(op_id)
        content = documented.get("content")
        if content is None:
            if response.is_success and response.content:
                failures.append(f"{where}: {op_id} documents no body, got {len(response.content)} bytes")
            continue
        media = response.headers.get("content-type", "").split(";")[0].strip()
        media = MEDIA_EXCEPTIONS.get((op_id, media), media)
        if media not in content:
            failures.append(f"{where}: media type {media!r}, documented: {sorted(content)}")
            continue
        schema = content[media].get("schema")
        if schema is None or "json" not in media:
            continue
        validator = jsonschema.Draft202012Validator(schema, registry=registry, format_checker=checker)
        errors = sorted(validator.iter_errors(response.json()), key=lambda e: list(e.absolute_path))
        for error in errors[:5]:
            failures.append(f"{where}: {op_id} at {'/'.join(map(str, error.absolute_path)) or '(root)'}: "
                            f"{error.message[:200]}")
        validated.add((op_id, response.status_code))
    assert failures == []
    all_ops = {op["operationId"] for _, _, op in operations}
    assert succeeded == all_ops, f"never answered with success: {sorted(all_ops - succeeded)}"
    json_success = {op_id for op_id, status in validated if status < 300}
    without_json = {"deployments.delete", "models.delete", "models.versions.delete", "files.delete",
                    "files.download", "models.readme.get"}
    assert json_success == all_ops - without_json
    assert {("files.get", 404), ("files.delete", 404), ("files.download", 404), ("files.create", 413),
            ("search", 400)} <= validated
    statuses = {(op_id, s) for op_id, s in validated}
    assert {("predictions.create", 201), ("predictions.create", 202)} <= statuses


def test_prediction_states_all_validate(exercised: tuple[Recorder, dict[str, Any]]) -> None:
    rec, _ = exercised
    states = {r.json().get("status") for q, r in rec.exchanges
              if q.url.path.startswith("/v1/predictions") and r.is_success and q.method in ("GET", "POST")
              and isinstance(r.json(), dict)}
    assert {"starting", "processing", "succeeded", "failed", "canceled", "aborted"} <= states


def _shape_problems(sample: Any, ours: Any, where: str) -> list[str]:
    """Keys a recorded response has that ours lacks. A key the sample holds as null may be absent from ours:
    the document does not allow null there, and the emulator follows the document."""
    if not isinstance(sample, dict) or not isinstance(ours, dict):
        return []
    out = []
    for key, value in sample.items():
        if key not in ours:
            if value is not None:
                out.append(f"{where}.{key}")
            continue
        if key in ("input", "output", "openapi_schema", "metadata", "default_example", "latest_version"):
            continue  # free-form, or another state of an object compared on its own
        if isinstance(value, dict):
            out += _shape_problems(value, ours[key], f"{where}.{key}")
        elif isinstance(value, list) and value and isinstance(ours[key], list) and ours[key]:
            out += _shape_problems(value[0], ours[key][0], f"{where}.{key}[0]")
    return out


def test_shapes_match_recorded_responses(exercised: tuple[Recorder, dict[str, Any]]) -> None:
    _, named = exercised
    samples = json.loads(SAMPLES.read_text(encoding="utf-8"))
    pairs = {name: name for name in named if name in samples}
    pairs["webhook_secret"] = "webhook_secret_and_signature_test_vector"
    problems: list[str] = []
    for ours_name, sample_name in pairs.items():
        sample = samples[sample_name]
        body = sample.get("secret_response_body", sample.get("body"))
        problems += _shape_problems(body, named[ours_name], sample_name)
    assert len(pairs) >= 25
    assert problems == []
