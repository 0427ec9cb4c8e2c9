"""Stability AI REST API emulator, in-process or on a loopback port, built on ``kosmo_lua.emulate``.

The 15 operations of our Stability integration (v1 account and balance, v2beta Stable Image generate / edit /
control / upscale, the async result endpoints and image-to-video), as strict about requests as the real API, with
real image and video files in the answers.

What a test writer needs to know
================================
Options (``create_emulator(**options)``): ``base_url`` (in-process links; default ``http://emulator.invalid``),
``seed`` (ids and pictures), ``latency_ms`` (0), ``clock`` (``time.time``), ``credits`` (1000: each account's
starting balance), ``job_polls`` (1: result calls answered 202 before a job is done; 0 = done at once),
``max_request_bytes`` (10 MiB), ``rate_limit`` (150 requests per ``rate_window`` 10 s per key, then every request
is refused for ``rate_block`` 60 s; ``rate_limit=0`` turns it off), ``result_ttl_seconds`` (86400),
``max_output_side`` (1024). ``job_polls`` and ``credits`` not given as options are read from the environment
variables ``STABILITY_EMULATOR_JOB_POLLS`` and ``STABILITY_EMULATOR_CREDITS`` when set, so an ``--offline`` run
(which makes its emulator without options) can skip the wait for jobs or start with little credit.

Auth: ``Authorization: Bearer <key>`` with any non-empty key, else 401. Each key is an account (``user-<8 hex>``)
with its own credits, organizations and jobs: a job id from another key answers 404, as an expired one does.

Requests: every POST must be multipart/form-data (anything else: 400), at most ``max_request_bytes`` (else 413).
Form fields are checked like the API does (required fields, numbers, enums, ranges, the conditional rules: Ultra's
``strength`` with ``image``; SD3's ``image``+``strength`` only and always in image-to-image mode, ``aspect_ratio``
only in text-to-image mode, the default) and every problem is listed in one 400. Images must be real PNG, JPEG or
WEBP files within the endpoint's documented size limits (image-to-video takes exactly 1024x576, 576x1024 or
768x768, PNG or JPEG). Unknown fields are ignored, as are empty file parts
(the official samples add a dummy ``none`` file to force multipart).

Answers: ``Accept: image/*`` (or ``*/*``, or none) gives the raw file with ``finish-reason`` and ``seed`` headers;
``Accept: application/json`` gives ``{image | video, finish_reason, seed}`` with content type
``application/json; type=<media type>``. Pictures are real files in the requested format, small and deterministic
(a hash of the request picks colours): text-to-image uses the aspect ratio with a 64-pixel short side (``16:9`` ->
114x64), edits keep the input's size, upscales are 4x; nothing exceeds ``max_output_side`` on its long side
(keeping the shape). ``remove-background`` answers RGBA with a transparent background. Video answers are complete
MP4 containers (ftyp, moov with one track, mdat) whose samples are placeholders, not coded pictures. A seed of 0
or none gets a random-looking one; the same request gives the same file.

Async jobs (``upscale/creative``, ``image-to-video``): the start answers ``{id}`` (64 hex characters); each result
call answers 202 ``{id, status: "in-progress"}`` while ``job_polls`` polls remain, then 200 with the file (again
on every later call, until ``result_ttl_seconds`` pass). ``/v2beta/results/{id}`` serves every job;
``/upscale/creative/result/{id}`` only upscales, ``/image-to-video/result/{id}`` only videos.

Credits: every successful call is charged as Stability prices it (core 3, ultra 8, sd3 3.5-6.5 by model, edits
and control 5, fast upscale 2, creative upscale 60, video 20); a call the balance cannot pay answers 402.
``GET /v1/user/balance`` shows the default organization's credits; the ``Organization`` header picks the other
organization every account belongs to (250 credits, never charged); an unknown one answers 403.

Triggers, for errors and moderation on demand: a marker in ``prompt`` or ``negative_prompt``, or in the filename
of any file part (for operations without a prompt), e.g. ``prompt = "a cat emulator:403"`` or
``{content = png, filename = "emulator-413.png"}``:

* ``emulator:content_filtered``: success, with ``finish_reason`` CONTENT_FILTERED and a flat grey ("blurred")
  picture; on an async start it marks the job's result;
* ``emulator:<status>`` for 400, 402, 403 (content_moderation), 404, 413 (payload_too_large), 422
  (invalid_language), 429 (rate_limit_exceeded, with ``Retry-After: 0`` so a client retries at once), 500, 502,
  503: that error, with nothing charged;
* ``emulator:<status>-once``: the error for the first such request of the key only, success afterwards (to see a
  client's retry succeed).

Errors use Stability's formats: v2beta ``{id, name, errors: [...]}``, v1 ``{id, name, message}``. Faults injected
with the base's fault plan (``/_emulator/faults``) are rendered the same way.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from kosmo_lua.emulate import ApiError, Call, Emulator, Reply, route
from kosmo_lua.emulate.media import image_size, jpeg_image, mp4_video, png_image, webp_image
from kosmo_lua.emulate.messages import Answer, Incoming
from kosmo_lua.errors import UsageError
from kosmo_lua.ops.multipart import MultipartError, Part, parse_multipart

__all__ = ["StabilityEmulator", "create_emulator", "png_image", "jpeg_image", "webp_image", "mp4_video",
           "image_size", "ENDPOINTS"]

_MIB = 1024 * 1024
_DAY = 86400.0
_MAX_SEED = 4294967294

# -- media: small, valid files made from a colour ------------------------------------------------------------------
# Minimal encoders written for the emulator: each produces a file any decoder accepts, fast even at 1024 pixels a
# side, because the pictures are simple (gradients, flat blocks, one or two colours).



_MEDIA_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp", "mp4": "video/mp4"}


@dataclass(frozen=True)
class Media:
    content: bytes
    content_type: str
    finish_reason: str
    seed: int


# -- what each endpoint accepts (data) -------------------------------------------------------------------------------

ASPECT_RATIOS = ("21:9", "16:9", "3:2", "5:4", "1:1", "4:5", "2:3", "9:16", "9:21")
STYLE_PRESETS = ("enhance", "anime", "photographic", "digital-art", "comic-book", "fantasy-art", "line-art",
                 "analog-film", "neon-punk", "isometric", "low-poly", "origami", "modeling-compound", "cinematic",
                 "3d-model", "pixel-art", "tile-texture")
SD3_MODELS = ("sd3.5-large", "sd3.5-large-turbo", "sd3.5-medium")
_SD3_COST = {"sd3.5-large": 6.5, "sd3.5-large-turbo": 4.0, "sd3.5-medium": 3.5}


@dataclass(frozen=True)
class FormField:
    kind: str  # "text" | "number" | "file"
    required: bool = False
    enum: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None


@dataclass(frozen=True)
class ImageRule:
    """Size limits of an input image, as the API documents them per endpoint."""

    min_side: int = 64
    max_side: int | None = None
    min_pixels: int = 4096
    max_pixels: int | None = None
    formats: tuple[str, ...] = ("png", "jpeg", "webp")
    exact: tuple[tuple[int, int], ...] = ()
    max_aspect: float | None = None


@dataclass(frozen=True)
class Endpoint:
    path: str
    fields: dict[str, FormField]
    cost: float
    image: ImageRule | None = None  # limits of the `image` field
    output: str = "generate"  # generate | same | upscale | cutout | video: how the answer's size is chosen
    job: str | None = None  # "upscale" | "video": an async start answering {id}


_PROMPT = FormField("text", True, min_length=1, max_length=10000)
_NEGATIVE = FormField("text", max_length=10000)
_ASPECT = FormField("text", enum=ASPECT_RATIOS)
_SEED = FormField("number", minimum=0, maximum=_MAX_SEED)
_STYLE = FormField("text", enum=STYLE_PRESETS)
_FORMAT = FormField("text", enum=("jpeg", "png", "webp"))
_IMAGE = FormField("file", True)
_OPTIONAL_IMAGE = FormField("file")
_UNIT = FormField("number", minimum=0, maximum=1)
_EDIT_RULE = ImageRule(max_pixels=9_437_184)

ENDPOINTS: dict[str, Endpoint] = {e.path: e for e in (
    Endpoint("/v2beta/stable-image/generate/core", {
        "prompt": _PROMPT, "aspect_ratio": _ASPECT, "negative_prompt": _NEGATIVE, "seed": _SEED,
        "style_preset": _STYLE, "output_format": _FORMAT}, cost=3),
    Endpoint("/v2beta/stable-image/generate/ultra", {
        "prompt": _PROMPT, "negative_prompt": _NEGATIVE, "aspect_ratio": _ASPECT, "seed": _SEED,
        "output_format": _FORMAT, "image": _OPTIONAL_IMAGE, "style_preset": _STYLE, "strength": _UNIT},
        cost=8, image=ImageRule(max_side=16384)),
    Endpoint("/v2beta/stable-image/generate/sd3", {
        "prompt": _PROMPT, "mode": FormField("text", enum=("text-to-image", "image-to-image")),
        "image": _OPTIONAL_IMAGE, "strength": _UNIT, "aspect_ratio": _ASPECT,
        "model": FormField("text", enum=SD3_MODELS), "seed": _SEED, "output_format": _FORMAT,
        "style_preset": _STYLE, "negative_prompt": _NEGATIVE, "cfg_scale": FormField("number", minimum=1, maximum=10)},
        cost=6.5, image=ImageRule(min_pixels=0)),
    Endpoint("/v2beta/stable-image/edit/inpaint", {
        "image": _IMAGE, "prompt": _PROMPT, "negative_prompt": _NEGATIVE, "mask": _OPTIONAL_IMAGE,
        "grow_mask": FormField("number", minimum=0, maximum=100), "seed": _SEED, "output_format": _FORMAT,
        "style_preset": _STYLE}, cost=5, image=_EDIT_RULE, output="same"),
    Endpoint("/v2beta/stable-image/edit/erase", {
        "image": _IMAGE, "mask": _OPTIONAL_IMAGE, "grow_mask": FormField("number", minimum=0, maximum=20),
        "seed": _SEED, "output_format": _FORMAT}, cost=5, image=_EDIT_RULE, output="same"),
    Endpoint("/v2beta/stable-image/edit/remove-background", {
        "image": _IMAGE, "output_format": FormField("text", enum=("png", "webp"))},
        cost=5, image=ImageRule(max_pixels=4_194_304), output="cutout"),
    Endpoint("/v2beta/stable-image/control/structure", {
        "prompt": _PROMPT, "image": _IMAGE, "control_strength": _UNIT, "negative_prompt": _NEGATIVE,
        "seed": _SEED, "output_format": _FORMAT, "style_preset": _STYLE},
        cost=5, image=ImageRule(max_pixels=9_437_184, max_aspect=2.5), output="same"),
    Endpoint("/v2beta/stable-image/upscale/fast", {"image": _IMAGE, "output_format": _FORMAT},
             cost=2, image=ImageRule(min_side=32, max_side=1536, min_pixels=1024, max_pixels=1_048_576),
             output="upscale"),
    Endpoint("/v2beta/stable-image/upscale/creative", {
        "image": _IMAGE, "prompt": _PROMPT, "negative_prompt": _NEGATIVE, "output_format": _FORMAT,
        "seed": _SEED, "creativity": FormField("number", minimum=0.1, maximum=0.5), "style_preset": _STYLE},
        cost=60, image=ImageRule(max_pixels=1_048_576), output="upscale", job="upscale"),
    Endpoint("/v2beta/image-to-video", {
        "image": _IMAGE, "seed": _SEED, "cfg_scale": FormField("number", minimum=0, maximum=10),
        "motion_bucket_id": FormField("number", minimum=1, maximum=255)},
        cost=20, image=ImageRule(formats=("png", "jpeg"), exact=((1024, 576), (576, 1024), (768, 768))),
        output="video", job="video"),
)}

#: Error names by status, as Stability spells them (402 is the emulator's choice: the API documents none).
ERROR_NAMES = {400: "bad_request", 401: "unauthorized", 402: "payment_required", 403: "content_moderation",
               404: "not_found", 405: "method_not_allowed", 413: "payload_too_large", 415: "bad_request",
               422: "invalid_language", 429: "rate_limit_exceeded", 500: "internal_error", 502: "bad_gateway",
               503: "service_unavailable", 504: "gateway_timeout"}
_TRIGGER_MESSAGES = {
    400: "emulator: a bad request, as asked for by the marker",
    402: "your organization does not have enough credits for this request",
    403: "your request was flagged by the content moderation system; you have not been charged",
    404: "the requested resource was not found",
    413: "body: the request is larger than the 10 MiB limit",
    422: "prompt: only English prompts are supported",
    429: "you have sent too many requests; wait before trying again",
    500: "an unexpected error occurred on the server; try again later",
    502: "the server received a bad answer from an upstream service",
    503: "the service is temporarily unavailable; try again shortly",
}
_MARKER = re.compile(r"emulator[:_-](content[_-]filtered|([1-5][0-9][0-9])([_-]once)?)", re.IGNORECASE)


# -- records ---------------------------------------------------------------------------------------------------------

@dataclass
class Account:
    user_id: str
    credits: float
    organizations: list[dict[str, Any]]
    team_credits: float = 250.0
    hits: deque[float] = field(default_factory=deque)  # request times in the rate window
    blocked_until: float = 0.0
    fired_once: set[str] = field(default_factory=set)  # "-once" markers already answered with their error


@dataclass
class Job:
    id: str
    kind: str  # "upscale" | "video"
    token: str
    created: float
    polls_left: int
    media: Media


@dataclass(frozen=True)
class Form:
    """A parsed multipart request: text fields and file parts by name (the first of each name wins)."""

    text: dict[str, str]
    files: dict[str, Part]
    names: tuple[str, ...]  # every file part's filename, for markers


# -- the emulator ----------------------------------------------------------------------------------------------------

class StabilityEmulator(Emulator):
    title = "Stability AI"
    api_prefix = ""

    def __init__(self, *, credits: float = 1000.0, job_polls: int = 1, max_request_bytes: int = 10 * _MIB,
                 rate_limit: int = 150, rate_window: float = 10.0, rate_block: float = 60.0,
                 result_ttl_seconds: float = _DAY, max_output_side: int = 1024, **base: Any) -> None:
        _require_number("credits", credits, 0)
        _require_int("job_polls", job_polls, 0)
        _require_int("max_request_bytes", max_request_bytes, 1)
        _require_int("rate_limit", rate_limit, 0)
        _require_number("rate_window", rate_window, 0, strict=True)
        _require_number("rate_block", rate_block, 0)
        _require_number("result_ttl_seconds", result_ttl_seconds, 0, strict=True)
        _require_int("max_output_side", max_output_side, 16)
        self.starting_credits = float(credits)
        self.job_polls = job_polls
        self.max_request_bytes = max_request_bytes
        self.rate_limit, self.rate_window, self.rate_block = rate_limit, float(rate_window), float(rate_block)
        self.result_ttl_seconds = float(result_ttl_seconds)
        self.max_output_side = max_output_side
        self._current = threading.local()  # the path being answered, so errors take the right format
        super().__init__(**base)

    def reset_state(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.jobs: dict[str, Job] = {}

    # -- errors in Stability's formats -------------------------------------------------------------------------

    def process(self, incoming: Incoming, **kw: Any) -> Answer:
        self._current.path = incoming.path
        return super().process(incoming, **kw)

    def error_reply(self, status: int, detail: str, *, title: str | None = None,
                    headers: tuple[tuple[str, str], ...] = (), content_type: str | None = None,
                    **extra: Any) -> Reply:
        name = extra.pop("name", None) or ERROR_NAMES.get(status) or _snake(title or "error")
        errors = extra.pop("errors", None) or [detail]
        error_id = self.ids.hex("error", 32)
        if str(getattr(self._current, "path", "")).startswith("/v1/"):
            body: dict[str, Any] = {"id": error_id, "name": name, "message": "; ".join(errors)}
        else:
            body = {"id": error_id, "name": name, "errors": list(errors)}
        reply = Reply.json(body, status, content_type=content_type or "application/json")
        reply.headers.extend(headers)
        return reply

    def unauthenticated_reply(self) -> Reply:
        return self.error_reply(401, "authorization: missing or invalid API key; send 'Authorization: Bearer "
                                     "<key>'", name="unauthorized")

    # -- accounts, rate limits -------------------------------------------------------------------------------------

    def account(self, call: Call) -> Account:
        token = call.token or ""
        acct = self.accounts.get(token)
        if acct is None:
            tag = self.ids.sign("account", token).hex()
            user = f"user-{tag[:8]}"
            acct = self.accounts[token] = Account(user, self.starting_credits, [
                {"id": f"org-{tag[8:16]}", "name": "Personal", "role": "OWNER", "is_default": True},
                {"id": f"org-{tag[16:24]}", "name": "Team", "role": "MEMBER", "is_default": False},
            ])
        self._count_request(acct)
        return acct

    def _count_request(self, acct: Account) -> None:
        if not self.rate_limit:
            return
        now = self.clock()
        if now < acct.blocked_until:
            raise _rate_limited(self.rate_limit, self.rate_window, self.rate_block)
        while acct.hits and acct.hits[0] <= now - self.rate_window:
            acct.hits.popleft()
        if len(acct.hits) >= self.rate_limit:
            acct.blocked_until = now + self.rate_block
            acct.hits.clear()
            raise _rate_limited(self.rate_limit, self.rate_window, self.rate_block)
        acct.hits.append(now)

    # -- v1: account and balance -------------------------------------------------------------------------------

    @route("GET", "/v1/user/account")
    def get_account(self, call: Call) -> Reply:
        acct = self.account(call)
        return Reply.json({"id": acct.user_id, "email": f"{acct.user_id}@example.com",
                           "profile_picture": f"https://example.com/avatars/{acct.user_id}.png",
                           "organizations": acct.organizations})

    @route("GET", "/v1/user/balance")
    def get_balance(self, call: Call) -> Reply:
        acct = self.account(call)
        org = (call.headers.get("organization") or "").strip()
        if not org or org == acct.organizations[0]["id"]:
            return Reply.json({"credits": round(acct.credits, 6)})
        if org == acct.organizations[1]["id"]:
            return Reply.json({"credits": acct.team_credits})
        raise ApiError(403, f"you are not a member of organization {org!r}", name="permission_denied")

    # -- v2beta: one handler for every POST, by endpoint data ----------------------------------------------------

    @route("POST", "/v2beta/stable-image/generate/core")
    def generate_core(self, call: Call) -> Reply:
        return self._post(call)

    @route("POST", "/v2beta/stable-image/generate/ultra")
    def generate_ultra(self, call: Call) -> Reply:
        return self._post(call)

    @route("POST", "/v2beta/stable-image/generate/sd3")
    def generate_sd3(self, call: Call) -> Reply:
        return self._post(call)

    @route("POST", "/v2beta/stable-image/edit/inpaint")
    def inpaint(self, call: Call) -> Reply:
        return self._post(call)

    @route("POST", "/v2beta/stable-image/edit/erase")
    def erase(self, call: Call) -> Reply:
        return self._post(call)

    @route("POST", "/v2beta/stable-image/edit/remove-background")
    def remove_background(self, call: Call) -> Reply:
        return self._post(call)

    @route("POST", "/v2beta/stable-image/control/structure")
    def control_structure(self, call: Call) -> Reply:
        return self._post(call)

    @route("POST", "/v2beta/stable-image/upscale/fast")
    def upscale_fast(self, call: Call) -> Reply:
        return self._post(call)

    @route("POST", "/v2beta/stable-image/upscale/creative")
    def upscale_creative(self, call: Call) -> Reply:
        return self._post(call)

    @route("POST", "/v2beta/image-to-video")
    def image_to_video(self, call: Call) -> Reply:
        return self._post(call)

    def _post(self, call: Call) -> Reply:
        endpoint = ENDPOINTS[call.path]
        acct = self.account(call)
        if len(call.body) > self.max_request_bytes:
            raise ApiError(413, f"body: the request is larger than the {self.max_request_bytes} bytes allowed",
                           name="payload_too_large")
        if call.media_type != "multipart/form-data":
            raise ApiError(400, "content-type: must be multipart/form-data", name="bad_request")
        wants_json = None if endpoint.job else _wants_json(call, ("image/*",))
        form = _read_form(call)
        problems, sizes = _check_form(endpoint, form)
        if problems:
            raise ApiError(400, problems[0], name="bad_request", errors=problems)
        filtered = self._triggers(acct, endpoint, form)
        cost = _SD3_COST.get(form.text.get("model", "sd3.5-large"), 6.5) if endpoint.path.endswith("/sd3") \
            else endpoint.cost
        if acct.credits < cost:
            raise ApiError(402, f"your organization does not have enough credits for this request (it costs {cost:g},"
                                f" {acct.credits:g} left)", name="payment_required")
        media = self._render(endpoint, form, sizes, filtered)
        acct.credits -= cost
        if endpoint.job is not None:
            job = Job(self.ids.hex("job", 64), endpoint.job, call.token or "", self.clock(), self.job_polls, media)
            self.jobs[job.id] = job
            return Reply.json({"id": job.id})
        return self._media_reply(media, bool(wants_json), "image")

    def _triggers(self, acct: Account, endpoint: Endpoint, form: Form) -> bool:
        """Raise the error a marker asks for; True when a marker asks for a filtered (blurred) result."""
        places = [form.text.get("prompt", ""), form.text.get("negative_prompt", ""), *form.names]
        filtered = False
        for text in places:
            for m in _MARKER.finditer(text or ""):
                if m.group(2) is None:
                    filtered = True
                    continue
                status = int(m.group(2))
                if status not in _TRIGGER_MESSAGES:
                    continue
                if m.group(3):
                    key = f"{endpoint.path}\0{m.group(0).lower()}\0{text}"
                    if key in acct.fired_once:
                        continue
                    acct.fired_once.add(key)
                headers = (("Retry-After", "0"),) if status == 429 else ()
                raise ApiError(status, _TRIGGER_MESSAGES[status], name=ERROR_NAMES[status], headers=headers)
        return filtered

    # -- making the answer ---------------------------------------------------------------------------------------

    def _render(self, endpoint: Endpoint, form: Form, sizes: dict[str, tuple[str, int, int]],
                filtered: bool) -> Media:
        digest = self._digest(endpoint, form)
        seed = int(float(form.text.get("seed") or 0)) or 1 + int.from_bytes(digest[:4], "big") % _MAX_SEED
        colour = b"\x80\x80\x80" if filtered else digest[4:7]
        finish = "CONTENT_FILTERED" if filtered else "SUCCESS"
        source = sizes.get("image")
        if endpoint.output == "video":
            assert source is not None
            return Media(mp4_video(source[1], source[2], digest), "video/mp4", finish, seed)
        if source is None or endpoint.output == "generate" and form.text.get("mode") != "image-to-image" \
                and "image" not in form.files:
            width, height = _aspect_size(form.text.get("aspect_ratio") or "1:1")
        else:
            width, height = source[1], source[2]
            if endpoint.output == "upscale":
                width, height = width * 4, height * 4
        width, height = _fit(width, height, self.max_output_side)
        fmt = form.text.get("output_format") or "png"
        cutout = endpoint.output == "cutout" and not filtered
        if fmt == "jpeg":
            content = jpeg_image(width, height, colour)
        elif fmt == "webp":
            content = webp_image(width, height, colour, cutout=cutout)
        else:
            content = png_image(width, height, colour, cutout=cutout)
        return Media(content, _MEDIA_TYPES[fmt], finish, seed)

    def _digest(self, endpoint: Endpoint, form: Form) -> bytes:
        h = hashlib.sha256(f"{self.seed}\0{endpoint.path}".encode())
        for name in sorted(form.text):
            h.update(f"\0{name}={form.text[name]}".encode())
        for name in sorted(form.files):
            h.update(f"\0{name}:".encode() + hashlib.sha256(form.files[name].content).digest())
        return h.digest()

    def _media_reply(self, media: Media, wants_json: bool, json_key: str) -> Reply:
        request_id = ("x-request-id", self.ids.hex("request", 32))
        if wants_json:
            body = {json_key: base64.b64encode(media.content).decode("ascii"),
                    "finish_reason": media.finish_reason, "seed": media.seed}
            reply = Reply.json(body, content_type=f"application/json; type={media.content_type}")
            reply.headers.append(request_id)
            return reply
        return Reply(200, media.content, media.content_type, headers=[
            request_id, ("finish-reason", media.finish_reason), ("seed", str(media.seed))])

    # -- async results -------------------------------------------------------------------------------------------

    @route("GET", "/v2beta/stable-image/upscale/creative/result/{id}")
    def creative_result(self, call: Call) -> Reply:
        return self._result(call, ("upscale",), ("image/*",))

    @route("GET", "/v2beta/results/{id}")
    def any_result(self, call: Call) -> Reply:
        return self._result(call, ("upscale", "video"), ("image/*", "video/*", "video/mp4"))

    @route("GET", "/v2beta/image-to-video/result/{id}")
    def video_result(self, call: Call) -> Reply:
        return self._result(call, ("video",), ("video/*", "video/mp4"))

    def _result(self, call: Call, kinds: tuple[str, ...], raw_types: tuple[str, ...]) -> Reply:
        self.account(call)
        wants_json = _wants_json(call, raw_types)
        job = self.jobs.get(call.params["id"])
        if job is None or job.token != (call.token or "") or job.kind not in kinds \
                or self.clock() - job.created > self.result_ttl_seconds:
            raise ApiError(404, "id: the generation does not exist or has expired (results are kept 24 hours, "
                                "for the key that started them)", name="generation_not_found")
        if job.polls_left > 0:
            job.polls_left -= 1
            return Reply.json({"id": job.id, "status": "in-progress"}, 202)
        return self._media_reply(job.media, wants_json, "video" if job.kind == "video" else "image")


# -- reading and checking a form -------------------------------------------------------------------------------------

def _wants_json(call: Call, raw_types: tuple[str, ...]) -> bool:
    """Whether the answer should be the JSON form; 400 for an Accept the endpoint does not offer."""
    accept = (call.headers.get("accept") or "").strip().lower()
    if accept in ("", "*/*") or accept in raw_types:
        return False
    if accept.split(";")[0].strip() == "application/json":
        return True
    offered = ", ".join((*raw_types, "application/json"))
    raise ApiError(400, f"accept: must be one of {offered}, not {accept!r}", name="bad_request")


def _read_form(call: Call) -> Form:
    try:
        parts = parse_multipart(call.body, call.headers.get("content-type") or "")
    except MultipartError as exc:
        raise ApiError(400, f"body: the multipart form could not be read ({exc})", name="bad_request") from None
    text: dict[str, str] = {}
    files: dict[str, Part] = {}
    names: list[str] = []
    for part in parts:
        if part.filename is not None:
            names.append(part.filename)
            if part.content:  # an empty file part (the samples' dummy "none") carries nothing
                files.setdefault(part.name, part)
            continue
        try:
            text.setdefault(part.name, part.content.decode("utf-8"))
        except UnicodeDecodeError:
            raise ApiError(400, f"{part.name}: must be UTF-8 text", name="bad_request") from None
    return Form(text, files, tuple(names))


def _check_form(endpoint: Endpoint, form: Form) -> tuple[list[str], dict[str, tuple[str, int, int]]]:
    """Every problem with the form (in field order), and the decoded sizes of its images."""
    problems: list[str] = []
    sizes: dict[str, tuple[str, int, int]] = {}
    for name, spec in endpoint.fields.items():
        if spec.kind == "file":
            part = form.files.get(name)
            if part is None:
                if name in form.text:
                    problems.append(f"{name}: must be sent as a file, not as a text field")
                elif spec.required:
                    problems.append(f"{name}: is required")
                continue
            size = image_size(part.content)
            if size is None:
                problems.append(f"{name}: is not a PNG, JPEG or WEBP image")
                continue
            sizes[name] = size
            if name == "image" and endpoint.image is not None:
                problems += _image_problems(name, size, endpoint.image)
            continue
        value = form.text.get(name)
        if value is None:
            if name in form.files:
                problems.append(f"{name}: must be a text field, not a file")
            elif spec.required:
                problems.append(f"{name}: is required")
            continue
        problems += _value_problems(name, value, spec)
    problems += _conditional_problems(endpoint, form)
    return problems, sizes


def _value_problems(name: str, value: str, spec: FormField) -> list[str]:
    if spec.kind == "number":
        try:
            number = float(value)
        except ValueError:
            return [f"{name}: must be a number, got {value[:40]!r}"]
        if number != number or number in (float("inf"), float("-inf")):
            return [f"{name}: must be a finite number"]
        if spec.minimum is not None and number < spec.minimum:
            return [f"{name}: must be at least {spec.minimum:g}, got {number:g}"]
        if spec.maximum is not None and number > spec.maximum:
            return [f"{name}: must be at most {spec.maximum:g}, got {number:g}"]
        return []
    if spec.enum and value not in spec.enum:
        return [f"{name}: must be one of {', '.join(spec.enum)}; got {value[:40]!r}"]
    if spec.min_length is not None and len(value) < spec.min_length:
        return [f"{name}: must be at least {spec.min_length} character{'s' if spec.min_length > 1 else ''} long"]
    if spec.max_length is not None and len(value) > spec.max_length:
        return [f"{name}: must be at most {spec.max_length} characters long"]
    return []


def _image_problems(name: str, size: tuple[str, int, int], rule: ImageRule) -> list[str]:
    fmt, width, height = size
    if fmt not in rule.formats:
        return [f"{name}: must be {' or '.join(f.upper() for f in rule.formats)}, got {fmt.upper()}"]
    if rule.exact:
        if (width, height) not in rule.exact:
            allowed = ", ".join(f"{w}x{h}" for w, h in rule.exact)
            return [f"{name}: must be exactly one of {allowed} pixels, got {width}x{height}"]
        return []
    if min(width, height) < rule.min_side:
        return [f"{name}: every side must be at least {rule.min_side} pixels, got {width}x{height}"]
    if rule.max_side is not None and max(width, height) > rule.max_side:
        return [f"{name}: no side may exceed {rule.max_side} pixels, got {width}x{height}"]
    pixels = width * height
    if pixels < rule.min_pixels:
        return [f"{name}: must have at least {rule.min_pixels} pixels, got {pixels} ({width}x{height})"]
    if rule.max_pixels is not None and pixels > rule.max_pixels:
        return [f"{name}: must have at most {rule.max_pixels} pixels, got {pixels} ({width}x{height})"]
    if rule.max_aspect is not None and max(width, height) / min(width, height) > rule.max_aspect:
        return [f"{name}: the aspect ratio must be between 1:{rule.max_aspect:g} and {rule.max_aspect:g}:1"]
    return []


def _conditional_problems(endpoint: Endpoint, form: Form) -> list[str]:
    """Rules between fields that the field list alone cannot say."""
    problems = []
    if endpoint.path.endswith("/ultra") and "image" in form.files and "strength" not in form.text:
        problems.append("strength: is required when an image is sent")
    if endpoint.path.endswith("/sd3"):
        sent = set(form.files) | set(form.text)
        mode = form.text.get("mode") or "text-to-image"
        if mode == "image-to-image":
            problems += [f"{n}: is required in image-to-image mode" for n in ("image", "strength") if n not in sent]
            if "aspect_ratio" in sent:
                problems.append("aspect_ratio: is only accepted with mode text-to-image")
        elif mode == "text-to-image":
            problems += [f"{n}: is only accepted with mode image-to-image" for n in ("image", "strength")
                         if n in sent]
    return problems


def _aspect_size(ratio: str, short: int = 64) -> tuple[int, int]:
    a, b = (int(x) for x in ratio.split(":"))
    return (round(short * a / b), short) if a >= b else (short, round(short * b / a))


def _fit(width: int, height: int, limit: int) -> tuple[int, int]:
    """The size scaled down (keeping its shape) so the long side is at most ``limit``."""
    longest = max(width, height)
    if longest <= limit:
        return width, height
    return max(1, round(width * limit / longest)), max(1, round(height * limit / longest))


def _rate_limited(limit: int, window: float, block: float) -> ApiError:
    return ApiError(429, f"you have sent more than {limit} requests in {window:g} seconds; every request is refused "
                         f"for {block:g} seconds", name="rate_limit_exceeded")


def _snake(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "error"


def _require_int(name: str, value: Any, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise UsageError(f"Stability emulator: {name} must be an integer >= {minimum}, not {value!r}")


def _require_number(name: str, value: Any, minimum: float, *, strict: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and \
        (value > minimum if strict else value >= minimum)
    if not ok:
        raise UsageError(f"Stability emulator: {name} must be a number {'>' if strict else '>='} {minimum:g}, "
                         f"not {value!r}")


_OPTIONS = ("base_url", "seed", "latency_ms", "clock", "credits", "job_polls", "max_request_bytes", "rate_limit",
            "rate_window", "rate_block", "result_ttl_seconds", "max_output_side")


#: Options that may also come from the environment, for the emulator ``--offline`` runs create without options.
_ENV_OPTIONS = {"job_polls": ("STABILITY_EMULATOR_JOB_POLLS", int), "credits": ("STABILITY_EMULATOR_CREDITS", float)}


def create_emulator(**options: Any) -> StabilityEmulator:
    """A fresh Stability AI emulator; see the module docstring for the options."""
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise UsageError(f"Stability emulator: unknown option(s) {', '.join(unknown)}; "
                         f"expected some of: {', '.join(_OPTIONS)}")
    for name, (variable, kind) in _ENV_OPTIONS.items():
        text = os.environ.get(variable, "").strip()
        if name not in options and text:
            try:
                options[name] = kind(text)
            except ValueError:
                raise UsageError(f"Stability emulator: {variable} must be a number, not {text!r}") from None
    return StabilityEmulator(**options)

