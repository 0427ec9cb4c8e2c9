"""Replicate HTTP API emulator, in-process or on a loopback port, built on ``kosmo_lua.emulate``.

All 37 operations of Replicate's OpenAPI document under ``/v1``, as strict about requests as the real API and with
response shapes that follow recorded real responses.

What a test writer needs to know
================================
Options (``create_emulator(**options)``): ``base_url`` (in-process links; default ``http://emulator.invalid/v1``),
``seed`` (ids and secrets), ``page_size`` (3), ``steps_per_get`` (1), ``accounts`` ({token: username}),
``max_file_bytes`` (100 MiB), ``download_ttl_seconds`` (3600), ``latency_ms`` (0), ``clock`` (``time.time``).

Auth: ``Authorization: Bearer <t>`` or ``Token <t>`` with any non-empty ``t``, else 401 problem details. Each
token is an account, username ``user-<8 hex>`` unless ``accounts`` names it (``GET /v1/account`` tells). What a
token creates (predictions, trainings, files, deployments, private models) only that token sees: others get 404.
``GET /v1/search`` needs no token.

Lifecycle of predictions and trainings: created ``starting`` (201). Each GET of the object advances it
``steps_per_get`` steps: ``processing``, then ``succeeded`` (or ``failed``); ``steps_per_get=0`` never finishes
by polling. ``Prefer: wait`` or ``wait=N`` (N in 1..60) finishes it at once: 201 with the final output.
Cancel -> ``canceled``. ``Cancel-After: 30s | 5m | 1h2m3s | 45`` (>= 5 s) sets ``deadline``; a GET past it shows
``aborted`` (never started) or ``canceled``. Input triggers (they stay in ``input``):
``emulator_fail: "message"`` ends ``failed`` with that ``error`` and a traceback in ``logs``;
``emulator_slow: true`` with ``Prefer: wait=N`` holds the answer N seconds, then 202 ``processing``.

Outputs depend only on a hash of model, version and input: image models give ``num_outputs`` PNG URLs on the
emulator's own host (``/delivery/...``, served without a token); language models give a list of text tokens
(part of them while ``processing``); hello-world gives ``"hello <text>"``. Every prediction has a ``urls.stream``:
server-sent events (``output`` per item, then ``done``, or ``error``) at ``/streams/<id>``, which runs it to the
end. A training that succeeds outputs ``{version, weights}`` and adds that version to its destination model.

Seed catalog: black-forest-labs/flux-schnell (official, image), stability-ai/sdxl (image, 2 versions),
meta/meta-llama-3-8b-instruct (official, language), replicate/hello-world (2 versions); collections
``text-to-image``, ``language-models``, ``official``; hardware ``cpu``, ``gpu-t4``, ``gpu-l40s``, ``gpu-a40-large``,
``gpu-a100-large``, ``gpu-h100``. Version ids are ``sha256("<owner>/<name>:<n>")`` (n from 1), the same in every
emulator. Official models run through ``/models/{owner}/{name}/predictions`` or ``version: "owner/name"``; other
models need a version id.

Lists return ``page_size`` items, newest first, with ``next`` / ``previous`` as full URLs carrying ``?cursor=``
(``QUERY /models`` search answers in one page). Errors are problem details (``title``, ``detail``, ``status``;
``application/problem+json``); a 422 lists every problem in ``detail`` and ``invalid_fields``. Files are created
from multipart/form-data only (else 400); their ``urls.download`` is a signed URL (owner, expiry, signature: an
HMAC under the emulator's own key); a bad signature or an expired link -> 403.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from kosmo_lua.emulate import (
    ApiError,
    Call,
    Emulator,
    Problem,
    Reply,
    check,
    paginate,
    parse_rfc3339,
    rfc3339,
    route,
    tiny_png,
)
from kosmo_lua.errors import UsageError
from kosmo_lua.ops.multipart import MultipartError, Part, parse_multipart

__all__ = ["ReplicateEmulator", "create_emulator"]

WEB = "https://replicate.com"  # web pages (model pages, prediction pages) are not part of the API: left as is
_MIB = 1024 * 1024
_DAY = 86400.0
_WEBHOOK_EVENTS = ["start", "output", "logs", "completed"]

# -- the seed catalog (data) ---------------------------------------------------------------------------------------

_PROMPT = {"type": "string", "description": "What to generate", "x-order": 0}
_SEED_INT = {"type": "integer", "description": "Random seed; leave blank for a random one", "x-order": 9}


@dataclass(frozen=True)
class SeedModel:
    owner: str
    name: str
    kind: str  # image | text | echo: decides what an output looks like
    description: str
    official: bool
    versions: int
    inputs: dict[str, Any]
    required: tuple[str, ...]
    github_url: str | None = None
    paper_url: str | None = None
    license_url: str | None = None
    run_count: int = 0
    tags: tuple[str, ...] = ()
    readme: str | None = None


SEED_MODELS = (
    SeedModel(
        "black-forest-labs", "flux-schnell", "image",
        "A fast text-to-image model, tuned for few inference steps.",
        official=True, versions=1, run_count=1200000,
        inputs={"prompt": _PROMPT,
                "num_outputs": {"type": "integer", "minimum": 1, "maximum": 4, "default": 1, "x-order": 1},
                "aspect_ratio": {"type": "string", "enum": ["1:1", "16:9", "9:16", "4:3", "3:4"],
                                 "default": "1:1", "x-order": 2},
                "seed": _SEED_INT},
        required=("prompt",), github_url="https://github.com/black-forest-labs/flux",
        tags=("text-to-image", "image", "fast"),
        readme="# flux-schnell\n\nA fast text-to-image model. Give it a `prompt`.\n"),
    SeedModel(
        "stability-ai", "sdxl", "image",
        "A diffusion model that turns text prompts into detailed images.",
        official=False, versions=2, run_count=75000000,
        inputs={"prompt": _PROMPT,
                "negative_prompt": {"type": "string", "default": "", "x-order": 1},
                "width": {"type": "integer", "minimum": 256, "maximum": 1536, "default": 1024, "x-order": 2},
                "height": {"type": "integer", "minimum": 256, "maximum": 1536, "default": 1024, "x-order": 3},
                "num_outputs": {"type": "integer", "minimum": 1, "maximum": 4, "default": 1, "x-order": 4},
                "seed": _SEED_INT},
        required=("prompt",), github_url="https://github.com/Stability-AI/generative-models",
        paper_url="https://arxiv.org/abs/2307.01952", tags=("text-to-image", "image", "diffusion"),
        readme="# SDXL\n\nText-to-image diffusion. Inputs: `prompt`, `width`, `height`, `num_outputs`.\n"),
    SeedModel(
        "meta", "meta-llama-3-8b-instruct", "text",
        "An 8 billion parameter language model tuned to follow chat instructions.",
        official=True, versions=1, run_count=350000000,
        inputs={"prompt": _PROMPT,
                "system_prompt": {"type": "string", "default": "You are a helpful assistant", "x-order": 1},
                "max_tokens": {"type": "integer", "minimum": 1, "maximum": 8192, "default": 512, "x-order": 2},
                "temperature": {"type": "number", "minimum": 0, "maximum": 5, "default": 0.7, "x-order": 3}},
        required=("prompt",), github_url="https://github.com/meta-llama/llama3",
        tags=("language", "chat", "llm", "text"),
        readme="# Llama 3 8B Instruct\n\nA chat model. Give it a `prompt`; output streams as tokens.\n"),
    SeedModel(
        "replicate", "hello-world", "echo",
        "A tiny model that greets whoever you name: handy to check a setup.",
        official=False, versions=2, run_count=5000000,
        inputs={"text": {"type": "string", "description": "Who to greet", "x-order": 0}},
        required=("text",), github_url="https://github.com/replicate/cog-examples",
        tags=("example", "text"), readme=None),
)

SEED_COLLECTIONS = (
    ("text-to-image", "Text to image", "Models that make images from a text prompt",
     ("black-forest-labs/flux-schnell", "stability-ai/sdxl")),
    ("language-models", "Language models", "Models that read and write text",
     ("meta/meta-llama-3-8b-instruct",)),
    ("official", "Official models", "Models kept running with stable interfaces and predictable pricing",
     ("black-forest-labs/flux-schnell", "meta/meta-llama-3-8b-instruct")),
)

HARDWARE = (
    ("cpu", "CPU"),
    ("gpu-t4", "Nvidia T4 GPU"),
    ("gpu-l40s", "Nvidia L40S GPU"),
    ("gpu-a40-large", "Nvidia A40 (Large) GPU"),
    ("gpu-a100-large", "Nvidia A100 (80GB) GPU"),
    ("gpu-h100", "Nvidia H100 GPU"),
)

DOC_PAGES = (
    ("Create a prediction", "/docs/topics/predictions/create-a-prediction"),
    ("Streaming output", "/docs/topics/predictions/streaming"),
    ("Webhooks", "/docs/topics/webhooks"),
    ("Deployments", "/docs/topics/deployments"),
    ("Fine-tune an image model", "/docs/guides/fine-tune-an-image-model"),
    ("Official models", "/docs/topics/models/official-models"),
)

_SEED_EPOCH = 1_700_000_000.0  # seed objects carry fixed dates so that responses repeat exactly

_VOCABULARY = ("llamas", "quietly", "river", "bright", "ideas", "gather", "morning", "code", "gentle", "stone",
               "learns", "paths", "across", "wide", "skies", "small", "steps", "carry", "far", "light")

# -- request schemas (what the API accepts; checked with kosmo_lua.emulate.check) -----------------------------------

_WEBHOOK_FIELDS = {
    "webhook": {"type": "string", "pattern": r"^https?://"},
    "webhook_events_filter": {"type": "array", "items": {"type": "string", "enum": _WEBHOOK_EVENTS}},
}
PREDICTION_REQUEST = {
    "type": "object", "additionalProperties": False, "required": ["input"],
    "properties": {"input": {"type": "object"}, "stream": {"type": "boolean"}, **_WEBHOOK_FIELDS},
}
VERSION_PREDICTION_REQUEST = {
    **PREDICTION_REQUEST, "required": ["version", "input"],
    "properties": {**PREDICTION_REQUEST["properties"], "version": {"type": "string"}},
}
TRAINING_REQUEST = {
    "type": "object", "required": ["destination", "input"],
    "properties": {"destination": {"type": "string"}, "input": {"type": "object"}, **_WEBHOOK_FIELDS},
}
_NAME = {"type": "string", "pattern": r"^[a-z0-9][a-z0-9._-]*$", "maxLength": 100}
MODEL_CREATE = {
    "type": "object", "required": ["owner", "name", "visibility", "hardware"],
    "properties": {"owner": {"type": "string"}, "name": _NAME, "visibility": {"enum": ["public", "private"]},
                   "hardware": {"type": "string"}, "description": {"type": "string"},
                   **{k: {"type": "string"} for k in ("cover_image_url", "github_url", "license_url", "paper_url")}},
}
MODEL_UPDATE = {
    "type": "object",
    "properties": {k: {"type": "string"} for k in
                   ("description", "github_url", "license_url", "paper_url", "readme", "weights_url")},
}
_INSTANCES = {"min_instances": {"type": "integer", "minimum": 0, "maximum": 5},
              "max_instances": {"type": "integer", "minimum": 0, "maximum": 20}}
DEPLOYMENT_CREATE = {
    "type": "object", "required": ["name", "model", "version", "hardware", "min_instances", "max_instances"],
    "properties": {"name": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9-]*$", "maxLength": 100},
                   "model": {"type": "string"}, "version": {"type": "string"}, "hardware": {"type": "string"},
                   **_INSTANCES},
}
DEPLOYMENT_UPDATE = {
    "type": "object",
    "properties": {"version": {"type": "string"}, "hardware": {"type": "string"}, **_INSTANCES},
}

_PREFER = re.compile(r"wait(?:=([1-9]|[1-9][0-9]))?")
_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_HEX64 = re.compile(r"[0-9a-f]{64}")


# -- records -------------------------------------------------------------------------------------------------------

@dataclass
class Version:
    id: str
    model: str  # "owner/name"
    kind: str
    schema: dict[str, Any]  # the Cog-style openapi_schema; components.schemas.Input is what inputs are checked with
    created_at: float
    cog_version: str = "0.9.4"


@dataclass
class Model:
    owner: str
    name: str
    description: str | None
    visibility: str
    hardware: str
    created_at: float
    account: str | None  # the username that may change it; None for the seed catalog
    official: bool = False
    github_url: str | None = None
    paper_url: str | None = None
    license_url: str | None = None
    cover_image_url: str | None = None  # may hold the "{origin}" marker (see _with_origin)
    weights_url: str | None = None
    readme: str | None = None
    run_count: int = 0
    tags: tuple[str, ...] = ()
    versions: list[Version] = field(default_factory=list)
    examples: list["Job"] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def latest(self) -> Version | None:
        return self.versions[-1] if self.versions else None


@dataclass
class Job:
    """A prediction or a training: the same lifecycle, rendered differently."""

    kind: str  # prediction | training
    id: str
    account: str | None
    model: str
    version: str
    input: dict[str, Any]
    created_at: float
    output: Any  # the final output, shown once succeeded; URL strings may hold the "{origin}" marker
    output_kind: str
    fail_message: str | None = None
    deployment: str | None = None
    deadline: float | None = None
    destination: str | None = None  # trainings: "owner/name" receiving the new version
    source_version: Version | None = None
    stage: int = 0  # 0 starting, 1 processing, 2 finished
    end_status: str = "succeeded"
    started_at: float | None = None
    completed_at: float | None = None

    @property
    def status(self) -> str:
        return ("starting", "processing")[self.stage] if self.stage < 2 else self.end_status


@dataclass
class Release:
    number: int
    model: str
    version: str
    hardware: str
    min_instances: int
    max_instances: int
    created_at: float
    created_by: str


@dataclass
class Deployment:
    owner: str
    name: str
    releases: list[Release]

    @property
    def current(self) -> Release:
        return self.releases[-1]


@dataclass
class StoredFile:
    id: str
    account: str
    name: str
    content_type: str
    data: bytes
    metadata: dict[str, Any]
    created_at: float
    expires_at: float


# -- helpers -------------------------------------------------------------------------------------------------------

_ORIGIN = "{origin}"  # stored in place of the host so links follow whichever host a request came in through


def _with_origin(value: Any, origin: str) -> Any:
    if isinstance(value, str):
        return value.replace(_ORIGIN, origin, 1) if value.startswith(_ORIGIN) else value
    if isinstance(value, list):
        return [_with_origin(v, origin) for v in value]
    if isinstance(value, dict):
        return {k: _with_origin(v, origin) for k, v in value.items()}
    return value


def _digest(*parts: Any) -> bytes:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).digest()


def _invalid(problems: list[Problem], title: str = "Invalid request") -> ApiError:
    """One 422 listing every problem, in text (``detail``) and as data (``invalid_fields``)."""
    return ApiError(422, "".join(f"- {p.message}\n" for p in problems), title=title,
                    invalid_fields=[{"type": p.kind, "field": p.field, "description": p.message}
                                    for p in problems])


def _not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} was not found.", title="Not found")


def _cog_schema(seed: SeedModel) -> dict[str, Any]:
    output: dict[str, Any] = {
        "image": {"type": "array", "items": {"type": "string", "format": "uri"}},
        "text": {"type": "array", "items": {"type": "string"}, "x-cog-array-type": "iterator"},
        "echo": {"type": "string"},
    }[seed.kind]
    return {
        "openapi": "3.0.2",
        "info": {"title": "Cog", "version": "0.1.0"},
        "paths": {},
        "components": {"schemas": {
            "Input": {"type": "object", "title": "Input", "required": list(seed.required),
                      "properties": seed.inputs},
            "Output": {"title": "Output", **output},
        }},
    }


def _seed_version_id(ref: str, n: int) -> str:
    return hashlib.sha256(f"{ref}:{n}".encode()).hexdigest()


def _parse_duration(text: str) -> float | None:
    text = text.strip()
    if text.isdigit():
        return float(text)
    m = _DURATION.fullmatch(text)
    if not text or m is None:
        return None
    h, mi, s = (int(g) if g else 0 for g in m.groups())
    return float(h * 3600 + mi * 60 + s)


# -- the emulator --------------------------------------------------------------------------------------------------

class ReplicateEmulator(Emulator):
    title = "Replicate"
    api_prefix = "/v1"
    auth_schemes = ("Bearer", "Token")

    def __init__(self, *, page_size: int = 3, steps_per_get: int = 1, accounts: dict[str, str] | None = None,
                 max_file_bytes: int = 100 * _MIB, download_ttl_seconds: float = 3600.0, **base: Any) -> None:
        _require_int("page_size", page_size, 1)
        _require_int("steps_per_get", steps_per_get, 0)
        _require_int("max_file_bytes", max_file_bytes, 1)
        if not isinstance(download_ttl_seconds, (int, float)) or download_ttl_seconds <= 0:
            raise UsageError(f"Replicate emulator: download_ttl_seconds must be a number > 0, "
                             f"not {download_ttl_seconds!r}")
        self.page_size = page_size
        self.steps_per_get = steps_per_get
        self.accounts = dict(accounts or {})
        self.max_file_bytes = max_file_bytes
        self.download_ttl_seconds = float(download_ttl_seconds)
        super().__init__(**base)

    # -- state ---------------------------------------------------------------------------------------------------

    def reset_state(self) -> None:
        self.models: dict[str, Model] = {}
        self.jobs: dict[str, Job] = {}  # predictions and trainings by id
        self.deployments: dict[str, Deployment] = {}
        self.files: dict[str, StoredFile] = {}
        for i, seed in enumerate(SEED_MODELS):
            self._add_seed_model(seed, _SEED_EPOCH + i * 7 * _DAY)
        self.collections = SEED_COLLECTIONS

    def _add_seed_model(self, seed: SeedModel, created: float) -> None:
        ref = f"{seed.owner}/{seed.name}"
        model = Model(seed.owner, seed.name, seed.description, "public", "gpu-t4", created, None,
                      official=seed.official, github_url=seed.github_url, paper_url=seed.paper_url,
                      license_url=seed.license_url, readme=seed.readme, run_count=seed.run_count, tags=seed.tags,
                      cover_image_url=f"{_ORIGIN}/delivery/{_digest('cover', ref).hex()[:32]}/cover.png")
        schema = _cog_schema(seed)
        for n in range(1, seed.versions + 1):
            model.versions.append(Version(_seed_version_id(ref, n), ref, seed.kind, schema, created + n * _DAY))
        latest = model.versions[-1]
        example_input = {"prompt": "a lighthouse at dawn, watercolour"} if "prompt" in seed.inputs \
            else {"text": "Alice"}
        example = self._new_job("prediction", None, model, latest.id, latest, example_input,
                                created + 2 * _DAY, job_id=_digest("example", ref).hex()[:26])
        self._finish(example, created + 2 * _DAY + 3)
        model.examples.append(example)
        self.models[ref] = model

    # -- accounts and visibility ---------------------------------------------------------------------------------

    def username(self, call: Call) -> str:
        token = call.token or ""
        if token in self.accounts:
            return self.accounts[token]
        return "user-" + self.ids.sign("account", token).hex()[:8]

    def _visible_model(self, call: Call, ref: str) -> Model:
        model = self.models.get(ref)
        if model is None or (model.visibility == "private" and model.account != self.username(call)):
            raise _not_found(f"Model {ref}")
        return model

    def _own_model(self, call: Call, ref: str) -> Model:
        model = self._visible_model(call, ref)
        if model.account != self.username(call):
            raise ApiError(403, f"You do not have permission to change {ref}.", title="Forbidden")
        return model

    def _own_job(self, call: Call, kind: str, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None or job.kind != kind or job.account != self.username(call):
            raise _not_found(f"{kind.capitalize()} {job_id}")
        return job

    # -- jobs: creation, lifecycle, rendering --------------------------------------------------------------------

    def _new_job(self, kind: str, account: str | None, model: Model, version_id: str, version: Version,
                 job_input: dict[str, Any], now: float, *, job_id: str | None = None) -> Job:
        digest = _digest(model.ref, version_id, job_input)
        fail = job_input.get("emulator_fail")
        job = Job(kind=kind, id=job_id or self.ids.base32(kind), account=account, model=model.ref,
                  version=version_id, input=job_input, created_at=now,
                  output=_output_for(version.kind, digest, job_input), output_kind=version.kind,
                  fail_message=str(fail) if fail is not None else None, source_version=version)
        if kind == "training":
            job.output = {"version": None,  # decided when the training succeeds
                          "weights": f"{_ORIGIN}/delivery/{digest.hex()[:32]}/trained_model.tar"}
        return job

    def _advance(self, job: Job, steps: int, now: float) -> None:
        for _ in range(steps):
            if job.stage == 0:
                job.stage, job.started_at = 1, now
            elif job.stage == 1:
                self._finish(job, now)

    def _finish(self, job: Job, now: float) -> None:
        if job.stage >= 2:
            return
        job.started_at = job.started_at or now
        job.stage, job.completed_at = 2, now
        job.end_status = "failed" if job.fail_message is not None else "succeeded"
        if job.kind == "training" and job.end_status == "succeeded" and job.destination:
            destination = self.models.get(job.destination)
            source = job.source_version
            if destination is not None and source is not None:
                version = Version(self.ids.hex("version"), destination.ref, source.kind, source.schema, now)
                destination.versions.append(version)
                job.output = {**job.output, "version": version.id}

    def _expire(self, job: Job, now: float) -> None:
        """Past its Cancel-After deadline an unfinished job ends: aborted if it never started, else canceled."""
        if job.deadline is not None and job.stage < 2 and now >= job.deadline:
            job.end_status = "aborted" if job.stage == 0 else "canceled"
            job.stage, job.completed_at = 2, now

    def _cancel(self, job: Job, now: float) -> None:
        if job.stage < 2:
            job.end_status = "canceled"
            job.stage, job.completed_at = 2, now

    def _logs(self, job: Job) -> str:
        if job.stage == 0:
            return ""
        lines = [f"Emulated {job.kind} of {job.model}", f"Input digest: {_digest(job.input).hex()[:12]}"]
        if job.stage >= 2:
            if job.end_status == "failed":
                lines += ["Traceback (most recent call last):", '  File "predict.py", line 42, in predict',
                          f"RuntimeError: {job.fail_message}"]
            elif job.end_status == "succeeded":
                lines.append("Done.")
            else:
                lines.append(f"Stopped: {job.end_status}.")
        return "\n".join(lines) + "\n"

    def _visible_output(self, job: Job) -> Any:
        if job.stage >= 2:
            return job.output if job.end_status == "succeeded" else None
        if job.stage == 1 and job.output_kind == "text" and job.kind == "prediction":
            return job.output[:len(job.output) // 2]  # a language model streams: part of the text so far
        return None

    def _render_job(self, job: Job, call: Call) -> dict[str, Any]:
        api = f"/{job.kind}s/{job.id}"
        data: dict[str, Any] = {
            "id": job.id,
            "model": job.model,
            "version": job.version,
            "input": job.input,
            "logs": self._logs(job),
            "output": _with_origin(self._visible_output(job), call.origin),
            "data_removed": False,
            "error": job.fail_message if job.status == "failed" else None,
            "status": job.status,
            "created_at": rfc3339(job.created_at),
        }
        if job.kind == "training":
            # Trainings have no data_removed, and their schema has no null output: absent until it succeeds.
            del data["data_removed"]
            if data["output"] is None:
                del data["output"]
        if job.started_at is not None:
            data["started_at"] = rfc3339(job.started_at)
        if job.completed_at is not None:
            data["completed_at"] = rfc3339(job.completed_at)
        urls = {"cancel": call.url(api + "/cancel"), "get": call.url(api)}
        if job.kind == "prediction":
            urls["web"] = f"{WEB}/p/{job.id}"
            urls["stream"] = f"{call.origin}/streams/{job.id}"
        data["urls"] = urls
        if job.stage >= 2 and job.started_at is not None and job.completed_at is not None:
            predict = round(0.5 + _digest(job.id)[0] / 100, 3)
            data["metrics"] = {"predict_time": predict, "total_time": round(predict + 0.25, 3)}
        elif job.kind == "training":
            data["metrics"] = {}  # trainings show an empty metrics object until they end
        data["source"] = "api"
        if job.deployment:
            data["deployment"] = job.deployment
        if job.deadline is not None:
            data["deadline"] = rfc3339(job.deadline)
        return data

    # -- models: rendering ---------------------------------------------------------------------------------------

    def _render_version(self, version: Version) -> dict[str, Any]:
        return {"id": version.id, "created_at": rfc3339(version.created_at), "cog_version": version.cog_version,
                "openapi_schema": version.schema}

    def _render_model(self, model: Model, call: Call) -> dict[str, Any]:
        example = model.examples[0] if model.examples else None
        return {
            "url": f"{WEB}/{model.ref}",
            "owner": model.owner,
            "name": model.name,
            "description": model.description,
            "visibility": model.visibility,
            "github_url": model.github_url,
            "paper_url": model.paper_url,
            "license_url": model.license_url,
            "run_count": model.run_count,
            "cover_image_url": _with_origin(model.cover_image_url, call.origin),
            "default_example": self._render_job(example, call) if example else None,
            "latest_version": self._render_version(model.latest) if model.latest else None,
            "is_official": model.official,
            "created_at": rfc3339(model.created_at),
        }

    def _listed_models(self, call: Call) -> list[Model]:
        me = self.username(call) if call.token else None
        return [m for m in self.models.values() if m.visibility == "public" or m.account == me]

    # -- account, hardware, webhooks -----------------------------------------------------------------------------

    @route("GET", "/account")
    def get_account(self, call: Call) -> Reply:
        name = self.username(call)
        return Reply.json({"type": "user", "username": name, "name": f"Emulated user {name}",
                           "github_url": f"https://github.com/{name}"})

    @route("GET", "/hardware")
    def list_hardware(self, call: Call) -> Reply:
        return Reply.json([{"sku": sku, "name": name} for sku, name in HARDWARE])

    @route("GET", "/webhooks/default/secret")
    def get_webhook_secret(self, call: Call) -> Reply:
        key = self.ids.sign("webhook", self.username(call))[:24]
        return Reply.json({"key": "whsec_" + base64.b64encode(key).decode()})

    # -- predictions ---------------------------------------------------------------------------------------------

    @route("POST", "/predictions")
    def create_prediction(self, call: Call) -> Reply:
        body = _object_body(call)
        problems = check(body, VERSION_PREDICTION_REQUEST, "body") + _header_problems(call)
        if problems:
            raise _invalid(problems)
        model, version_id, version = self._resolve_version(call, body["version"])
        return self._start_prediction(call, model, version_id, version, body)

    @route("POST", "/models/{model_owner}/{model_name}/predictions")
    def create_model_prediction(self, call: Call) -> Reply:
        body = _object_body(call)
        problems = check(body, PREDICTION_REQUEST, "body") + _header_problems(call)
        model = self._visible_model(call, f"{call.params['model_owner']}/{call.params['model_name']}")
        if problems:
            raise _invalid(problems)
        version_id, version = self._official_version(model)
        return self._start_prediction(call, model, version_id, version, body)

    @route("POST", "/deployments/{deployment_owner}/{deployment_name}/predictions")
    def create_deployment_prediction(self, call: Call) -> Reply:
        deployment = self._own_deployment(call)
        body = _object_body(call)
        problems = check(body, PREDICTION_REQUEST, "body") + _header_problems(call)
        if problems:
            raise _invalid(problems)
        release = deployment.current
        model = self.models.get(release.model)
        version = next((v for v in model.versions if v.id == release.version), None) if model else None
        if model is None or version is None:
            raise ApiError(422, f"The deployment's model version {release.model}:{release.version} no longer "
                                f"exists.", title="Invalid version")
        return self._start_prediction(call, model, version.id, version, body,
                                      deployment=f"{deployment.owner}/{deployment.name}")

    def _official_version(self, model: Model) -> tuple[str, Version]:
        if not model.official or model.latest is None:
            raise ApiError(422, f"{model.ref} is not an official model: create the prediction with a version "
                                f"(POST /v1/predictions with version \"{model.ref}:<version id>\").",
                           title="Invalid version")
        # Official models hide their versions; predictions name a deployment-style id instead (as the real API).
        return "dp-" + _digest("official", model.ref).hex()[:32], model.latest

    def _resolve_version(self, call: Call, text: str) -> tuple[Model, str, Version]:
        """``owner/name`` (official only), ``owner/name:<id>`` or ``<id>`` -> the model and version to run."""
        invalid = ApiError(422, "The specified version does not exist (or perhaps you don't have permission to "
                                "use it?)", title="Invalid version")
        ref, _, version_id = text.partition(":")
        if "/" in ref:
            try:
                model = self._visible_model(call, ref)
            except ApiError:
                raise invalid from None
            if not version_id:
                official_id, version = self._official_version(model)
                return model, official_id, version
            for v in model.versions:
                if v.id == version_id:
                    return model, v.id, v
            raise invalid
        if _HEX64.fullmatch(text):
            for model in self._listed_models(call):
                for v in model.versions:
                    if v.id == text:
                        return model, v.id, v
        raise invalid

    def _start_prediction(self, call: Call, model: Model, version_id: str, version: Version,
                          body: dict[str, Any], deployment: str | None = None) -> Reply:
        job_input = body["input"]
        input_schema = version.schema.get("components", {}).get("schemas", {}).get("Input", {})
        problems = check(job_input, input_schema, "input")
        problems += check(job_input, {"properties": {"emulator_fail": {"type": "string"},
                                                     "emulator_slow": {"type": "boolean"}}}, "input")
        if problems:
            raise _invalid(problems, "Input validation failed")
        now = self.clock()
        job = self._new_job("prediction", self.username(call), model, version_id, version, job_input, now)
        job.deployment = deployment
        cancel_after = call.headers.get("cancel-after")
        if cancel_after:
            job.deadline = now + (_parse_duration(cancel_after) or 0)
        model.run_count += 1
        self.jobs[job.id] = job
        return self._created(job, call)

    def _created(self, job: Job, call: Call) -> Reply:
        """201 once the output is final; ``Prefer: wait`` finishes at once unless ``emulator_slow`` holds it."""
        wait = _prefer_seconds(call.headers.get("prefer"))
        if wait is None:
            return Reply.json(self._render_job(job, call), 201)
        if job.input.get("emulator_slow") is True:
            self._advance(job, 1, self.clock())
            reply = Reply.json(self._render_job(job, call), 202)
            reply.hold_seconds = float(wait)
            return reply
        self._finish(job, self.clock())
        return Reply.json(self._render_job(job, call), 201)

    @route("GET", "/predictions")
    def list_predictions(self, call: Call) -> Reply:
        after = _date_query(call, "created_after")
        before = _date_query(call, "created_before")
        source = call.query_value("source")
        if source is not None and source != "web":
            raise ApiError(400, f"Query parameter source must be 'web', not {source!r}", title="Bad Request")
        me = self.username(call)
        jobs = [j for j in reversed(self.jobs.values())
                if j.kind == "prediction" and j.account == me and source is None
                and (after is None or j.created_at > after) and (before is None or j.created_at < before)]
        return Reply.json(paginate(jobs, call, self.page_size, lambda j: self._render_job(j, call)))

    @route("GET", "/predictions/{prediction_id}")
    def get_prediction(self, call: Call) -> Reply:
        return self._poll(call, "prediction", call.params["prediction_id"])

    @route("POST", "/predictions/{prediction_id}/cancel")
    def cancel_prediction(self, call: Call) -> Reply:
        return self._cancel_reply(call, "prediction", call.params["prediction_id"])

    def _poll(self, call: Call, kind: str, job_id: str) -> Reply:
        job = self._own_job(call, kind, job_id)
        now = self.clock()
        self._expire(job, now)
        self._advance(job, self.steps_per_get, now)
        return Reply.json(self._render_job(job, call))

    def _cancel_reply(self, call: Call, kind: str, job_id: str) -> Reply:
        job = self._own_job(call, kind, job_id)
        now = self.clock()
        self._expire(job, now)
        self._cancel(job, now)
        return Reply.json(self._render_job(job, call))

    @route("GET", "/streams/{prediction_id}", auth=False, prefixed=False)
    def stream_prediction(self, call: Call) -> Reply:
        """Server-sent events for ``urls.stream``: the whole run, as the real stream sends it (not an API op)."""
        job = self.jobs.get(call.params["prediction_id"])
        if job is None or job.kind != "prediction":
            raise _not_found(f"Stream {call.params['prediction_id']}")
        self._expire(job, self.clock())
        if job.stage < 2:
            self._finish(job, self.clock())
        events: list[tuple[str, str]] = []
        if job.end_status == "succeeded":
            output = _with_origin(job.output, call.origin)
            for item in output if isinstance(output, list) else [output]:
                events.append(("output", item if isinstance(item, str) else json.dumps(item)))
            events.append(("done", "{}"))
        elif job.end_status == "failed":
            events.append(("error", job.fail_message or "prediction failed"))
        else:
            events.append(("done", json.dumps({"reason": job.end_status})))
        text = "".join(
            f"event: {name}\nid: {n}\n" + "".join(f"data: {line}\n" for line in data.split("\n")) + "\n"
            for n, (name, data) in enumerate(events, 1))
        return Reply.text(text, content_type="text/event-stream; charset=utf-8")

    @route("GET", "/delivery/{digest}/{filename}", auth=False, prefixed=False)
    def deliver_file(self, call: Call) -> Reply:
        """Output files (like replicate.delivery): deterministic bytes for the digest in the URL."""
        digest, filename = call.params["digest"], call.params["filename"]
        if not re.fullmatch(r"[0-9a-f]{32}", digest):
            raise _not_found(f"File {digest}/{filename}")
        raw = bytes.fromhex(digest)
        if filename.endswith(".png"):
            return Reply(200, tiny_png(hashlib.sha256(raw + filename.encode()).digest()), "image/png")
        if filename == "trained_model.tar":
            return Reply(200, b"emulated weights " + raw, "application/x-tar")
        raise _not_found(f"File {digest}/{filename}")

    # -- models --------------------------------------------------------------------------------------------------

    @route("GET", "/models")
    def list_models(self, call: Call) -> Reply:
        sort_by = _enum_query(call, "sort_by", ("model_created_at", "latest_version_created_at"),
                              "latest_version_created_at")
        direction = _enum_query(call, "sort_direction", ("asc", "desc"), "desc")

        def key(m: Model) -> float:
            if sort_by == "model_created_at":
                return m.created_at
            return m.latest.created_at if m.latest else 0.0  # models without versions sort as oldest

        models = sorted(self._listed_models(call), key=key, reverse=direction == "desc")
        return Reply.json(paginate(models, call, self.page_size, lambda m: self._render_model(m, call)))

    @route("QUERY", "/models")
    def search_models(self, call: Call) -> Reply:
        if call.media_type != "text/plain":
            raise ApiError(415, f"QUERY /models takes a text/plain body (the search text), not "
                                f"{call.media_type or 'an unlabelled body'}", title="Unsupported Media Type")
        try:
            text = call.body.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise ApiError(400, "The search text is not UTF-8", title="Bad Request") from None
        if not text:
            raise ApiError(400, "The search text is empty", title="Bad Request")
        hits = [m for score, m in self._ranked(call, text) if score > 0]
        return Reply.json({"next": None, "previous": None, "results": [self._render_model(m, call) for m in hits]})

    def _ranked(self, call: Call, text: str, public_only: bool = False) -> list[tuple[float, Model]]:
        terms = [t for t in re.split(r"\W+", text.lower()) if t]
        models = [m for m in self.models.values() if m.visibility == "public"] if public_only \
            else self._listed_models(call)
        scored = []
        for m in models:
            haystack = " ".join([m.owner, m.name, m.description or "", *m.tags]).lower()
            score = sum(1.0 for t in terms if t in haystack) / max(len(terms), 1)
            scored.append((round(score, 3), m))
        scored.sort(key=lambda sm: (-sm[0], sm[1].ref))
        return scored

    @route("POST", "/models")
    def create_model(self, call: Call) -> Reply:
        body = _object_body(call)
        problems = check(body, MODEL_CREATE, "body")
        if not problems and body["hardware"] not in dict(HARDWARE):
            problems.append(_hardware_problem(body["hardware"]))
        if problems:
            raise _invalid(problems)
        me = self.username(call)
        if body["owner"] != me:
            raise ApiError(403, f"You can only create models under your own account ({me}), not "
                                f"{body['owner']!r}.", title="Forbidden")
        ref = f"{body['owner']}/{body['name']}"
        if ref in self.models:
            raise ApiError(409, f"A model named {ref} already exists.", title="Conflict")
        model = Model(body["owner"], body["name"], body.get("description"), body["visibility"], body["hardware"],
                      self.clock(), me, github_url=body.get("github_url"), paper_url=body.get("paper_url"),
                      license_url=body.get("license_url"), cover_image_url=body.get("cover_image_url"))
        self.models[ref] = model
        return Reply.json(self._render_model(model, call), 201)

    def _model_ref(self, call: Call) -> str:
        return f"{call.params['model_owner']}/{call.params['model_name']}"

    @route("GET", "/models/{model_owner}/{model_name}")
    def get_model(self, call: Call) -> Reply:
        return Reply.json(self._render_model(self._visible_model(call, self._model_ref(call)), call))

    @route("PATCH", "/models/{model_owner}/{model_name}")
    def update_model(self, call: Call) -> Reply:
        model = self._own_model(call, self._model_ref(call))
        body = _object_body(call)
        problems = check(body, MODEL_UPDATE, "body")
        if problems:
            raise _invalid(problems)
        for name in MODEL_UPDATE["properties"]:
            if name in body:
                setattr(model, name, body[name])
        return Reply.json(self._render_model(model, call))

    @route("DELETE", "/models/{model_owner}/{model_name}")
    def delete_model(self, call: Call) -> Reply:
        model = self._own_model(call, self._model_ref(call))
        if model.visibility != "private":
            raise ApiError(409, f"{model.ref} is public: only private models can be deleted.", title="Conflict")
        if model.versions:
            raise ApiError(409, f"{model.ref} still has {len(model.versions)} version(s): delete them first.",
                           title="Conflict")
        del self.models[model.ref]
        return Reply.empty(204)

    @route("GET", "/models/{model_owner}/{model_name}/examples")
    def list_model_examples(self, call: Call) -> Reply:
        model = self._visible_model(call, self._model_ref(call))
        return Reply.json(paginate(model.examples, call, self.page_size, lambda j: self._render_job(j, call)))

    @route("GET", "/models/{model_owner}/{model_name}/readme")
    def get_model_readme(self, call: Call) -> Reply:
        model = self._visible_model(call, self._model_ref(call))
        if not model.readme:
            raise ApiError(404, f"{model.ref} has no README.", title="Not found")
        return Reply.text(model.readme, content_type="text/markdown; charset=utf-8")

    @route("GET", "/models/{model_owner}/{model_name}/versions")
    def list_model_versions(self, call: Call) -> Reply:
        model = self._visible_model(call, self._model_ref(call))
        return Reply.json(paginate(model.versions[::-1], call, self.page_size, self._render_version))

    def _version(self, call: Call, model: Model) -> Version:
        version_id = call.params["version_id"]
        for v in model.versions:
            if v.id == version_id:
                return v
        raise _not_found(f"Version {version_id} of {model.ref}")

    @route("GET", "/models/{model_owner}/{model_name}/versions/{version_id}")
    def get_model_version(self, call: Call) -> Reply:
        model = self._visible_model(call, self._model_ref(call))
        return Reply.json(self._render_version(self._version(call, model)))

    @route("DELETE", "/models/{model_owner}/{model_name}/versions/{version_id}")
    def delete_model_version(self, call: Call) -> Reply:
        model = self._own_model(call, self._model_ref(call))
        version = self._version(call, model)
        if model.visibility != "private":
            raise ApiError(409, f"{model.ref} is public: versions can only be deleted from private models.",
                           title="Conflict")
        model.versions.remove(version)
        return Reply.empty(202)

    # -- search, collections -------------------------------------------------------------------------------------

    @route("GET", "/search", auth=False)
    def search(self, call: Call) -> Reply:
        def bad(detail: str) -> ApiError:
            # This operation documents plain JSON errors (not problem details).
            return ApiError(400, detail, title="Bad Request", content_type="application/json")

        query = (call.query_value("query") or "").strip()
        if not query:
            raise bad("Missing required query parameter: query")
        raw_limit = call.query_value("limit") or "20"
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 50:
            raise bad(f"Query parameter limit must be an integer from 1 to 50, not {raw_limit!r}")
        limit = int(raw_limit)
        terms = [t for t in re.split(r"\W+", query.lower()) if t]
        models = [{"model": self._render_model(m, call),
                   "metadata": {"generated_description": f"{m.description} Try it with the emulator.",
                                "score": score, "tags": list(m.tags)}}
                  for score, m in self._ranked(call, query, public_only=True) if score > 0][:limit]
        collections = [{"name": name, "slug": slug, "description": text, "models": list(refs)}
                       for slug, name, text, refs in self.collections
                       if any(t in f"{slug} {name} {text}".lower() for t in terms)][:limit]
        pages = [{"name": name, "href": WEB + href} for name, href in DOC_PAGES
                 if any(t in f"{name} {href}".lower() for t in terms)][:limit]
        return Reply.json({"query": query, "models": models, "collections": collections, "pages": pages})

    @route("GET", "/collections")
    def list_collections(self, call: Call) -> Reply:
        return Reply.json(paginate(self.collections, call, self.page_size,
                                   lambda c: {"name": c[1], "slug": c[0], "description": c[2]}))

    @route("GET", "/collections/{collection_slug}")
    def get_collection(self, call: Call) -> Reply:
        slug = call.params["collection_slug"]
        for c_slug, name, text, refs in self.collections:
            if c_slug == slug:
                models = [self._render_model(self.models[r], call) for r in refs if r in self.models]
                return Reply.json({"name": name, "slug": slug, "description": text,
                                   "full_description": f"## {name}\n\n{text}.\n", "models": models})
        raise _not_found(f"Collection {slug}")

    # -- deployments ---------------------------------------------------------------------------------------------

    def _render_deployment(self, d: Deployment) -> dict[str, Any]:
        r = d.current
        return {"owner": d.owner, "name": d.name, "current_release": {
            "number": r.number, "model": r.model, "version": r.version, "created_at": rfc3339(r.created_at),
            "created_by": {"type": "user", "username": r.created_by, "name": f"Emulated user {r.created_by}",
                           "github_url": f"https://github.com/{r.created_by}"},
            "configuration": {"hardware": r.hardware, "min_instances": r.min_instances,
                              "max_instances": r.max_instances}}}

    def _own_deployment(self, call: Call) -> Deployment:
        ref = f"{call.params['deployment_owner']}/{call.params['deployment_name']}"
        deployment = self.deployments.get(ref)
        if deployment is None or deployment.owner != self.username(call):
            raise _not_found(f"Deployment {ref}")
        return deployment

    def _release_problems(self, call: Call, config: dict[str, Any]) -> list[Problem]:
        """Checks that need the catalog: hardware exists, the version belongs to a model the caller can see."""
        problems = []
        if config["hardware"] not in dict(HARDWARE):
            problems.append(_hardware_problem(config["hardware"]))
        model = self.models.get(config["model"])
        if model is None or (model.visibility == "private" and model.account != self.username(call)):
            problems.append(Problem("body.model", "invalid", f"body.model: no model {config['model']!r}"))
        elif all(v.id != config["version"] for v in model.versions):
            problems.append(Problem("body.version", "invalid",
                                    f"body.version: {config['version']!r} is not a version of {model.ref}"))
        if config["min_instances"] > config["max_instances"]:
            problems.append(Problem("body.min_instances", "invalid",
                                    "body.min_instances: must not be greater than max_instances"))
        return problems

    @route("GET", "/deployments")
    def list_deployments(self, call: Call) -> Reply:
        me = self.username(call)
        mine = [d for d in reversed(self.deployments.values()) if d.owner == me]
        return Reply.json(paginate(mine, call, self.page_size, self._render_deployment))

    @route("POST", "/deployments")
    def create_deployment(self, call: Call) -> Reply:
        body = _object_body(call)
        problems = check(body, DEPLOYMENT_CREATE, "body")
        if problems:
            raise _invalid(problems)
        problems = self._release_problems(call, body)
        if problems:
            raise _invalid(problems)
        me = self.username(call)
        ref = f"{me}/{body['name']}"
        if ref in self.deployments:
            raise ApiError(409, f"A deployment named {ref} already exists.", title="Conflict")
        release = Release(1, body["model"], body["version"], body["hardware"], body["min_instances"],
                          body["max_instances"], self.clock(), me)
        self.deployments[ref] = Deployment(me, body["name"], [release])
        return Reply.json(self._render_deployment(self.deployments[ref]))

    @route("GET", "/deployments/{deployment_owner}/{deployment_name}")
    def get_deployment(self, call: Call) -> Reply:
        return Reply.json(self._render_deployment(self._own_deployment(call)))

    @route("PATCH", "/deployments/{deployment_owner}/{deployment_name}")
    def update_deployment(self, call: Call) -> Reply:
        deployment = self._own_deployment(call)
        body = _object_body(call)
        problems = check(body, DEPLOYMENT_UPDATE, "body")
        if not problems and not any(k in body for k in DEPLOYMENT_UPDATE["properties"]):
            problems.append(Problem("body", "required", "body: give at least one of hardware, min_instances, "
                                                        "max_instances, version"))
        if problems:
            raise _invalid(problems)
        current = deployment.current
        config = {"model": current.model, "version": current.version, "hardware": current.hardware,
                  "min_instances": current.min_instances, "max_instances": current.max_instances, **body}
        problems = self._release_problems(call, config)
        if problems:
            raise _invalid(problems)
        deployment.releases.append(Release(current.number + 1, current.model, config["version"],
                                           config["hardware"], config["min_instances"], config["max_instances"],
                                           self.clock(), self.username(call)))
        return Reply.json(self._render_deployment(deployment))

    @route("DELETE", "/deployments/{deployment_owner}/{deployment_name}")
    def delete_deployment(self, call: Call) -> Reply:
        deployment = self._own_deployment(call)
        del self.deployments[f"{deployment.owner}/{deployment.name}"]
        return Reply.empty(204)

    # -- files ---------------------------------------------------------------------------------------------------

    def _download_url(self, f: StoredFile, call: Call) -> str:
        expiry = int(self.clock() + self.download_ttl_seconds)
        query = [("owner", f.account), ("expiry", str(expiry)), ("signature", self._signature(f, expiry))]
        return call.url(f"/files/{f.id}/download") + "?" + urlencode(query)

    def _signature(self, f: StoredFile, expiry: int) -> str:
        return base64.b64encode(self.ids.sign("files", f"{f.id}\n{f.account}\n{expiry}")).decode()

    def _render_file(self, f: StoredFile, call: Call) -> dict[str, Any]:
        md5 = hashlib.md5(f.data).hexdigest()
        return {
            "id": f.id,
            "name": f.name,
            "content_type": f.content_type,
            "size": len(f.data),
            "etag": md5,
            "checksums": {"sha256": hashlib.sha256(f.data).hexdigest(), "md5": md5},
            "metadata": f.metadata,
            "created_at": rfc3339(f.created_at),
            "expires_at": rfc3339(f.expires_at),
            "urls": {"get": call.url(f"/files/{f.id}"), "download": self._download_url(f, call)},
        }

    def _own_file(self, call: Call) -> StoredFile:
        file_id = call.params["file_id"]
        f = self.files.get(file_id)
        if f is None or f.account != self.username(call) or self.clock() >= f.expires_at:
            raise ApiError(404, f"File {file_id} was not found.", title="Not found")
        return f

    @route("POST", "/files")
    def create_file(self, call: Call) -> Reply:
        content_type = call.headers.get("content-type") or ""
        if call.media_type != "multipart/form-data":
            raise ApiError(400, f"POST /v1/files takes multipart/form-data (fields content, filename, type, "
                                f"metadata), not {call.media_type or 'an unlabelled body'}", title="Bad Request")
        if len(call.body) > self.max_file_bytes:
            raise ApiError(413, f"The upload is larger than {self.max_file_bytes} bytes.",
                           title="Content Too Large")
        try:
            parts = {p.name: p for p in parse_multipart(call.body, content_type)}
        except MultipartError as exc:
            raise ApiError(400, f"Malformed multipart body: {exc}", title="Bad Request") from None
        content = parts.get("content")
        if content is None:
            raise _invalid([Problem("body.content", "required", "body.content: is required (the file's bytes)")])
        name = _field_text(parts, "filename") or content.filename or "file"
        media = _field_text(parts, "type")
        metadata_text = _field_text(parts, "metadata") or "{}"
        problems = []
        if len(name) > 255:
            problems.append(Problem("body.filename", "length", "body.filename: must be at most 255 characters"))
        try:
            metadata = json.loads(metadata_text)
        except ValueError:
            metadata = None
        if not isinstance(metadata, dict):
            problems.append(Problem("body.metadata", "type", "body.metadata: expected a JSON object"))
        if problems:
            raise _invalid(problems)
        if media is None:
            part_type = (content.content_type or "").strip()
            media = part_type or "application/octet-stream"
        now = self.clock()
        raw_id = self.ids.digest("file")[:16].hex()
        file_id = base64.b64encode(  # shaped like the real ids: base64 of a UUID's text
            f"{raw_id[:8]}-{raw_id[8:12]}-{raw_id[12:16]}-{raw_id[16:20]}-{raw_id[20:32]}".encode()).decode()
        f = StoredFile(file_id, self.username(call), name, media, content.content, metadata, now, now + _DAY)
        self.files[file_id] = f
        return Reply.json(self._render_file(f, call), 201)

    @route("GET", "/files")
    def list_files(self, call: Call) -> Reply:
        me, now = self.username(call), self.clock()
        mine = [f for f in reversed(self.files.values()) if f.account == me and now < f.expires_at]
        return Reply.json(paginate(mine, call, self.page_size, lambda f: self._render_file(f, call)))

    @route("GET", "/files/{file_id}")
    def get_file(self, call: Call) -> Reply:
        return Reply.json(self._render_file(self._own_file(call), call))

    @route("DELETE", "/files/{file_id}")
    def delete_file(self, call: Call) -> Reply:
        del self.files[self._own_file(call).id]
        return Reply.empty(204)

    # The signed URL is the credential here (the documented example sends no Authorization header).
    @route("GET", "/files/{file_id}/download", auth=False)
    def download_file(self, call: Call) -> Reply:
        file_id = call.params["file_id"]
        f = self.files.get(file_id)
        if f is None or self.clock() >= f.expires_at:
            raise ApiError(404, f"File {file_id} was not found.", title="Not found")
        values = {name: call.query_value(name) for name in ("owner", "expiry", "signature")}
        missing = [name for name, value in values.items() if not value]
        if missing:
            raise ApiError(400, f"Missing required query parameter(s): {', '.join(missing)}", title="Bad Request")
        if not values["expiry"].isdigit():
            raise ApiError(400, f"Query parameter expiry must be an integer (Unix time), not {values['expiry']!r}",
                           title="Bad Request")
        expiry = int(values["expiry"])
        expected = self._signature(f, expiry)
        if values["owner"] != f.account or not hmac.compare_digest(expected, values["signature"]):
            raise ApiError(403, "The download signature is not valid for this file, owner and expiry.",
                           title="Forbidden")
        if self.clock() > expiry:
            raise ApiError(403, "The download link has expired.", title="Forbidden")
        reply = Reply(200, f.data, "application/octet-stream")
        reply.headers.append(("Content-Disposition", f'attachment; filename="{_quoted(f.name)}"'))
        return reply

    # -- trainings -----------------------------------------------------------------------------------------------

    @route("POST", "/models/{model_owner}/{model_name}/versions/{version_id}/trainings")
    def create_training(self, call: Call) -> Reply:
        model = self._visible_model(call, self._model_ref(call))
        version = self._version(call, model)
        body = _object_body(call)
        problems = check(body, TRAINING_REQUEST, "body")
        if problems:
            raise _invalid(problems)
        destination = self.models.get(body["destination"])
        if destination is None or destination.account != self.username(call):
            raise ApiError(404, "The specified training destination does not exist", title="Not found")
        job = self._new_job("training", self.username(call), model, version.id, version, body["input"],
                            self.clock())
        job.destination = destination.ref
        self.jobs[job.id] = job
        return Reply.json(self._render_job(job, call), 201)

    @route("GET", "/trainings")
    def list_trainings(self, call: Call) -> Reply:
        me = self.username(call)
        jobs = [j for j in reversed(self.jobs.values()) if j.kind == "training" and j.account == me]
        return Reply.json(paginate(jobs, call, self.page_size, lambda j: self._render_job(j, call)))

    @route("GET", "/trainings/{training_id}")
    def get_training(self, call: Call) -> Reply:
        return self._poll(call, "training", call.params["training_id"])

    @route("POST", "/trainings/{training_id}/cancel")
    def cancel_training(self, call: Call) -> Reply:
        return self._cancel_reply(call, "training", call.params["training_id"])


# -- request helpers -----------------------------------------------------------------------------------------------

def _require_int(name: str, value: Any, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise UsageError(f"Replicate emulator: {name} must be an integer >= {minimum}, not {value!r}")


def _object_body(call: Call) -> dict[str, Any]:
    body = call.json_body()
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise _invalid([Problem("body", "type", f"body: expected a JSON object, got {type(body).__name__}")])
    return body


def _header_problems(call: Call) -> list[Problem]:
    problems = []
    prefer = call.headers.get("prefer")
    if prefer is not None and _prefer_seconds(prefer) is None:
        problems.append(Problem("header.Prefer", "pattern",
                                f"header.Prefer: expected 'wait' or 'wait=N' with N from 1 to 60, got {prefer!r}"))
    cancel_after = call.headers.get("cancel-after")
    if cancel_after is not None:
        seconds = _parse_duration(cancel_after)
        if seconds is None or seconds < 5:
            problems.append(Problem("header.Cancel-After", "pattern",
                                    f"header.Cancel-After: expected a duration of at least 5 seconds such as "
                                    f"'30s', '5m' or '1h30m', got {cancel_after!r}"))
    return problems


def _prefer_seconds(value: str | None) -> int | None:
    """Seconds asked for by ``Prefer: wait[=N]`` (60 for a bare ``wait``), or None (absent or invalid)."""
    if value is None:
        return None
    m = _PREFER.fullmatch(value.strip())
    if m is None:
        return None
    seconds = int(m.group(1)) if m.group(1) else 60
    return seconds if seconds <= 60 else None


def _date_query(call: Call, name: str) -> float | None:
    raw = call.query_value(name)
    if raw is None:
        return None
    ts = parse_rfc3339(raw)
    if ts is None:
        raise ApiError(400, f"Query parameter {name} must be an RFC 3339 date-time such as "
                            f"2025-01-01T00:00:00Z, not {raw!r}", title="Bad Request")
    return ts


def _enum_query(call: Call, name: str, allowed: tuple[str, ...], default: str) -> str:
    raw = call.query_value(name)
    if raw is None:
        return default
    if raw not in allowed:
        raise ApiError(400, f"Query parameter {name} must be one of {', '.join(allowed)}, not {raw!r}",
                       title="Bad Request")
    return raw


def _hardware_problem(sku: str) -> Problem:
    return Problem("body.hardware", "enum",
                   f"body.hardware: unknown hardware {sku!r} (see GET /v1/hardware: "
                   f"{', '.join(s for s, _ in HARDWARE)})")


def _field_text(parts: dict[str, Part], name: str) -> str | None:
    part = parts.get(name)
    if part is None:
        return None
    try:
        return part.text
    except UnicodeDecodeError:
        raise _invalid([Problem(f"body.{name}", "type", f"body.{name}: expected UTF-8 text")]) from None


def _quoted(name: str) -> str:
    return name.replace("\\", "_").replace('"', "_")


def _output_for(kind: str, digest: bytes, job_input: dict[str, Any]) -> Any:
    """The final output of a run: a function of the digest of model, version and input only."""
    if kind == "image":
        count = job_input.get("num_outputs", 1)
        count = count if isinstance(count, int) and 1 <= count <= 4 else 1
        return [f"{_ORIGIN}/delivery/{_digest(digest.hex(), i).hex()[:32]}/out-{i}.png" for i in range(count)]
    if kind == "echo":
        return f"hello {job_input.get('text', '')}"
    words = [_VOCABULARY[b % len(_VOCABULARY)] for b in digest[:10]]
    limit = job_input.get("max_tokens", 512)
    text = "Emulated reply: " + " ".join(words).capitalize() + "."
    tokens = re.findall(r"\s*\S+", text)
    return tokens[:limit] if isinstance(limit, int) and limit > 0 else tokens


def create_emulator(**options: Any) -> ReplicateEmulator:
    """A fresh Replicate emulator; see the module docstring for the options."""
    allowed = ("base_url", "seed", "latency_ms", "clock", "page_size", "steps_per_get", "accounts",
               "max_file_bytes", "download_ttl_seconds")
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise UsageError(f"Replicate emulator: unknown option(s) {', '.join(unknown)}; "
                         f"expected some of: {', '.join(allowed)}")
    return ReplicateEmulator(**options)
