"""The Stability AI emulator on its own: every endpoint in-process, real media files, form checks, markers, credits,
rate limits, the job lifecycle, accounts, faults in Stability's error formats, and `kosmo emulator:serve stability`.

Time is injected (a settable clock) wherever a test depends on it; no test asserts on wall time.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kosmo_lua.emulate import Emulator, Fault, load_emulator
from kosmo_lua.errors import UsageError
from kosmo_lua.ops.table import load_table

REPO = Path(__file__).resolve().parents[1]
FOLDER = REPO / "integrations" / "stability"
KEY = "sk-TEST-key-never-shown-41c9"
OTHER = "sk-TEST-other-account-7d2e"
CORE = "/v2beta/stable-image/generate/core"


class Clock:
    """A settable clock: tests move time instead of waiting for it."""

    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make(**options: Any) -> Any:
    return load_emulator(FOLDER, **options)


def module() -> Any:
    return sys.modules[type(make()).__module__]


def client_for(emulator: Emulator, key: str | None = KEY) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(transport=emulator.transport(), base_url=emulator.base_url, headers=headers)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def em(clock: Clock) -> Any:
    return make(clock=clock)


@pytest.fixture
def c(em: Emulator) -> Iterator[httpx.Client]:
    with client_for(em) as client:
        yield client


def post(c: httpx.Client, path: str, data: dict[str, Any] | None = None, files: dict[str, Any] | None = None,
         accept: str | None = "image/*") -> httpx.Response:
    # httpx sends multipart only when there are files: an empty dummy part keeps text-only forms multipart, as the
    # official samples do.
    headers = {"Accept": accept} if accept else {}
    return c.post(path, data={k: str(v) for k, v in (data or {}).items()}, files=files or {"none": ("", b"")},
                  headers=headers)


def error(r: httpx.Response, status: int, name: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"id", "name", "errors"} and body["errors"] and all(isinstance(e, str) for e in body["errors"])
    if name is not None:
        assert body["name"] == name
    return body


# -- media validity --------------------------------------------------------------------------------------------------

def png_dims(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    # Every chunk's CRC is right and the stream ends with IEND.
    i, kinds = 8, []
    while i < len(data):
        length = struct.unpack(">I", data[i:i + 4])[0]
        kind, body = data[i + 4:i + 8], data[i + 8:i + 8 + length]
        assert struct.unpack(">I", data[i + 8 + length:i + 12 + length])[0] == zlib.crc32(kind + body)
        kinds.append(kind)
        i += 12 + length
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds
    return struct.unpack(">II", data[16:24])


def png_pixels(data: bytes) -> bytes:
    """The raw filtered scanlines (enough to check the size they decompress to)."""
    i, idat = 8, b""
    while i < len(data):
        length = struct.unpack(">I", data[i:i + 4])[0]
        if data[i + 4:i + 8] == b"IDAT":
            idat += data[i + 8:i + 8 + length]
        i += 12 + length
    return zlib.decompress(idat)


def jpeg_dims(data: bytes) -> tuple[int, int]:
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    size = module().image_size(data)
    assert size is not None and size[0] == "jpeg"
    return size[1], size[2]


def webp_dims(data: bytes) -> tuple[int, int]:
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8  # the RIFF size covers the rest of the file
    size = module().image_size(data)
    assert size is not None and size[0] == "webp"
    return size[1], size[2]


def mp4_boxes(data: bytes) -> dict[str, Any]:
    """Walk the ISO BMFF box tree: every size must add up exactly; returns the top-level boxes."""
    containers = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"dinf"}

    def walk(start: int, end: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        i = start
        while i < end:
            size, kind = struct.unpack(">I4s", data[i:i + 8])
            assert size >= 8 and i + size <= end, (kind, size)
            out[kind.decode()] = walk(i + 8, i + size) if kind in containers else (i + 8, i + size)
            i += size
        assert i == end
        return out

    return walk(0, len(data))


def test_png_is_valid_and_sized(em: Emulator) -> None:
    mod = module()
    for (w, h) in [(64, 64), (114, 64), (13, 7), (1, 1), (1024, 576)]:
        for cutout in (False, True):
            data = mod.png_image(w, h, b"\x10\x20\x30", cutout=cutout)
            assert png_dims(data) == (w, h)
            assert data[25] == (6 if cutout else 2)  # RGBA for a cutout, RGB otherwise
            assert len(png_pixels(data)) == h * (1 + w * (4 if cutout else 3))


def test_jpeg_and_webp_are_valid_and_sized() -> None:
    mod = module()
    for (w, h) in [(64, 64), (114, 64), (13, 7), (1, 1), (1024, 576)]:
        jpeg = mod.jpeg_image(w, h, b"\xff\xff\xff")  # white: coded data full of 0xFF bytes, which must be stuffed
        assert jpeg_dims(jpeg) == (w, h)
        scan = jpeg[jpeg.index(b"\xff\xda"):-2]
        body = scan[2 + struct.unpack(">H", scan[2:4])[0]:]
        assert all(body[i + 1] == 0 for i in range(len(body) - 1) if body[i] == 0xFF)
        for cutout in (False, True):
            assert webp_dims(mod.webp_image(w, h, b"\x01\x02\x03", cutout=cutout)) == (w, h)


def test_image_size_reads_the_three_formats_and_refuses_others() -> None:
    mod = module()
    assert mod.image_size(mod.png_image(70, 80, b"abc")) == ("png", 70, 80)
    assert mod.image_size(mod.jpeg_image(70, 80, b"abc")) == ("jpeg", 70, 80)
    assert mod.image_size(mod.webp_image(70, 80, b"abc")) == ("webp", 70, 80)
    vp8x = b"RIFF\x00\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x00\x00\x00\x00" + (99).to_bytes(3, "little") + \
        (49).to_bytes(3, "little")
    assert mod.image_size(vp8x) == ("webp", 100, 50)
    for junk in (b"", b"png bytes", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xd9", b"RIFF0000WEBPVP8 "):
        assert mod.image_size(junk) is None


def test_mp4_is_a_consistent_container() -> None:
    data = module().mp4_video(1024, 576, bytes(range(32)), frames=5)
    top = mp4_boxes(data)
    assert list(top) == ["ftyp", "moov", "mdat"]
    assert data[8:12] == b"isom"
    stbl = top["moov"]["trak"]["mdia"]["minf"]["stbl"]
    tkhd_start, _ = top["moov"]["trak"]["tkhd"]
    assert struct.unpack(">II", data[tkhd_start + 76:tkhd_start + 84]) == (1024 << 16, 576 << 16)
    stsz_start, _ = stbl["stsz"]
    sizes = struct.unpack(">5I", data[stsz_start + 12:stsz_start + 32])
    stco_start, _ = stbl["stco"]
    offset = struct.unpack(">I", data[stco_start + 8:stco_start + 12])[0]
    mdat_start, mdat_end = top["mdat"]
    assert offset == mdat_start and offset + sum(sizes) == mdat_end


# -- auth, account, balance --------------------------------------------------------------------------------------

def test_401_in_both_error_formats(em: Emulator) -> None:
    with client_for(em, None) as anon:
        r = anon.get("/v1/user/balance")
        assert r.status_code == 401 and set(r.json()) == {"id", "name", "message"}
        assert r.json()["name"] == "unauthorized"
        error(post(anon, CORE, {"prompt": "x"}), 401, "unauthorized")
    assert KEY not in json.dumps([r.to_data() for r in em.requests])


def test_account_and_balances_per_key(em: Emulator, c: httpx.Client) -> None:
    me = c.get("/v1/user/account").json()
    assert me["id"].startswith("user-") and me["email"].endswith("@example.com")
    orgs = me["organizations"]
    assert [o["is_default"] for o in orgs] == [True, False]
    assert all(set(o) == {"id", "name", "role", "is_default"} for o in orgs)
    assert c.get("/v1/user/balance").json() == {"credits": 1000.0}
    assert c.get("/v1/user/balance", headers={"Organization": orgs[1]["id"]}).json() == {"credits": 250.0}
    r = c.get("/v1/user/balance", headers={"Organization": "org-nobody"})
    assert r.status_code == 403 and set(r.json()) == {"id", "name", "message"}
    with client_for(em, OTHER) as other:
        assert other.get("/v1/user/account").json()["id"] != me["id"]


def test_credits_are_charged_by_price_and_run_out_with_402(clock: Clock) -> None:
    em = make(clock=clock, credits=10)
    with client_for(em) as c:
        assert post(c, CORE, {"prompt": "a"}).status_code == 200  # 3
        assert post(c, "/v2beta/stable-image/generate/sd3", {"prompt": "a", "model": "sd3.5-medium"}).status_code \
            == 200  # 3.5
        assert c.get("/v1/user/balance").json()["credits"] == pytest.approx(3.5)
        body = error(post(c, "/v2beta/stable-image/generate/ultra", {"prompt": "a"}), 402, "payment_required")
        assert "credits" in body["errors"][0]
        assert c.get("/v1/user/balance").json()["credits"] == pytest.approx(3.5)  # refusals cost nothing
        error(post(c, CORE, {"prompt": "a emulator:403"}), 403, "content_moderation")
        assert c.get("/v1/user/balance").json()["credits"] == pytest.approx(3.5)


# -- generation: answers in both forms ---------------------------------------------------------------------------

@pytest.mark.parametrize(("fmt", "dims"), [("png", png_dims), ("jpeg", jpeg_dims), ("webp", webp_dims)])
def test_generate_core_raw_answer(c: httpx.Client, fmt: str, dims: Any) -> None:
    r = post(c, CORE, {"prompt": "a lamp", "aspect_ratio": "16:9", "output_format": fmt})
    assert r.status_code == 200 and r.headers["content-type"] == f"image/{fmt}"
    assert r.headers["finish-reason"] == "SUCCESS" and 1 <= int(r.headers["seed"]) <= 4294967294
    assert len(r.headers["x-request-id"]) == 32
    assert dims(r.content) == (114, 64)


def test_json_answer_carries_the_same_image(c: httpx.Client) -> None:
    raw = post(c, CORE, {"prompt": "a lamp", "seed": 42})
    js = post(c, CORE, {"prompt": "a lamp", "seed": 42}, accept="application/json")
    assert js.headers["content-type"] == "application/json; type=image/png" and "finish-reason" not in js.headers
    body = js.json()
    assert set(body) == {"image", "finish_reason", "seed"} and body["seed"] == 42 == int(raw.headers["seed"])
    assert base64.b64decode(body["image"]) == raw.content  # same request, same picture


@pytest.mark.parametrize("ratio", ["21:9", "16:9", "3:2", "5:4", "1:1", "4:5", "2:3", "9:16", "9:21"])
def test_aspect_ratios_shape_the_picture(c: httpx.Client, ratio: str) -> None:
    w, h = png_dims(post(c, CORE, {"prompt": "x", "aspect_ratio": ratio}).content)
    a, b = (int(x) for x in ratio.split(":"))
    assert min(w, h) == 64 and abs(w / h - a / b) < 0.02


def test_every_image_endpoint_answers(c: httpx.Client) -> None:
    mod = module()
    photo = mod.png_image(96, 64, b"\x40\x50\x60")
    mask = mod.png_image(96, 64, b"\xff\xff\xff")
    cases = [
        ("/v2beta/stable-image/generate/ultra", {"prompt": "p", "strength": 0.4}, {"image": photo}, (96, 64)),
        ("/v2beta/stable-image/generate/sd3", {"prompt": "p", "mode": "image-to-image", "strength": 0.5},
         {"image": photo}, (96, 64)),
        ("/v2beta/stable-image/edit/inpaint", {"prompt": "p", "grow_mask": 8}, {"image": photo, "mask": mask},
         (96, 64)),
        ("/v2beta/stable-image/edit/erase", {"grow_mask": 20}, {"image": photo, "mask": mask}, (96, 64)),
        ("/v2beta/stable-image/control/structure", {"prompt": "p", "control_strength": 0.6}, {"image": photo},
         (96, 64)),
        ("/v2beta/stable-image/upscale/fast", {}, {"image": photo}, (384, 256)),
    ]
    for path, data, files, size in cases:
        r = post(c, path, data, {k: ("in.png", v, "image/png") for k, v in files.items()})
        assert r.status_code == 200, (path, r.text)
        assert png_dims(r.content) == size, path


def test_remove_background_is_a_transparent_cutout(c: httpx.Client) -> None:
    photo = module().png_image(80, 64, b"\x40\x50\x60")
    png = post(c, "/v2beta/stable-image/edit/remove-background", {}, {"image": ("p.png", photo)}).content
    assert png_dims(png) == (80, 64) and png[25] == 6
    pixels = png_pixels(png)
    row = 1 + 80 * 4
    assert pixels[1 + 3] == 0  # corner: transparent
    centre = 32 * row + 1 + 40 * 4
    assert pixels[centre + 3] == 255  # subject: opaque
    webp = post(c, "/v2beta/stable-image/edit/remove-background", {"output_format": "webp"},
                {"image": ("p.png", photo)}).content
    assert webp_dims(webp) == (80, 64)
    error(post(c, "/v2beta/stable-image/edit/remove-background", {"output_format": "jpeg"},
               {"image": ("p.png", photo)}), 400, "bad_request")


def test_outputs_never_exceed_the_longest_side(clock: Clock) -> None:
    em = make(clock=clock, max_output_side=200)
    with client_for(em) as c:
        photo = module().png_image(150, 100, b"abc")
        assert png_dims(post(c, "/v2beta/stable-image/upscale/fast", {}, {"image": ("a.png", photo)}).content) \
            == (200, 133)


# -- what the emulator refuses -----------------------------------------------------------------------------------

def test_a_body_that_is_not_multipart_is_refused(c: httpx.Client) -> None:
    for kwargs in ({"json": {"prompt": "x"}}, {"data": {"prompt": "x"}}, {"content": b"prompt=x"}):
        body = error(c.post(CORE, headers={"Accept": "image/*"}, **kwargs), 400, "bad_request")
        assert "multipart/form-data" in body["errors"][0]


def test_every_form_problem_is_listed(c: httpx.Client) -> None:
    body = error(post(c, CORE, {"prompt": "", "aspect_ratio": "17:9", "seed": "x", "style_preset": "anime2",
                                "output_format": "gif"}), 400, "bad_request")
    joined = "\n".join(body["errors"])
    for field in ("prompt", "aspect_ratio", "seed", "style_preset", "output_format"):
        assert f"{field}: " in joined
    body = error(post(c, "/v2beta/stable-image/generate/sd3", {"prompt": "x", "cfg_scale": 11, "model": "sd4",
                                                                 "seed": 4294967295}), 400)
    assert len(body["errors"]) == 3
    error(post(c, "/v2beta/image-to-video", {"motion_bucket_id": 0}), 400)
    assert "prompt: is required" in error(post(c, CORE, {}), 400)["errors"]


def test_conditional_rules(c: httpx.Client) -> None:
    photo = ("a.png", module().png_image(64, 64, b"abc"))
    assert "strength: is required when an image is sent" in error(
        post(c, "/v2beta/stable-image/generate/ultra", {"prompt": "p"}, {"image": photo}), 400)["errors"]
    assert len(error(post(c, "/v2beta/stable-image/generate/sd3", {"prompt": "p", "mode": "image-to-image"}),
                     400)["errors"]) == 2
    error(post(c, "/v2beta/stable-image/generate/sd3", {"prompt": "p"}, {"image": photo}), 400)


def test_images_must_be_real_and_within_limits(c: httpx.Client) -> None:
    mod = module()
    fast = "/v2beta/stable-image/upscale/fast"
    assert "not a PNG, JPEG or WEBP" in error(post(c, fast, {}, {"image": ("a.png", b"png bytes")}), 400)["errors"][0]
    error(post(c, fast, {}, {"image": ("a.png", mod.png_image(16, 16, b"abc"))}), 400)  # under 32 px a side
    error(post(c, fast, {}, {"image": ("a.png", mod.png_image(1537, 40, b"abc"))}), 400)
    error(post(c, "/v2beta/stable-image/edit/erase", {}, {"image": ("a.png", mod.png_image(63, 100, b"abc"))}), 400)
    error(post(c, "/v2beta/stable-image/control/structure", {"prompt": "p"},
               {"image": ("a.png", mod.png_image(300, 64, b"abc"))}), 400)  # wider than 2.5:1
    video = "/v2beta/image-to-video"
    small = {"image": ("a.png", mod.png_image(64, 64, b"abc"))}
    assert "1024x576" in error(post(c, video, {}, small), 400)["errors"][0]
    error(post(c, video, {}, {"image": ("a.webp", mod.webp_image(768, 768, b"abc"))}), 400)  # PNG or JPEG only
    assert post(c, video, {}, {"image": ("a.jpg", mod.jpeg_image(576, 1024, b"abc"))}).status_code == 200


def test_a_file_field_sent_as_text_and_an_unknown_accept(c: httpx.Client) -> None:
    assert "must be sent as a file" in error(post(c, "/v2beta/stable-image/upscale/fast", {"image": "a.png"}),
                                             400)["errors"][0]
    error(post(c, CORE, {"prompt": "p"}, accept="text/html"), 400, "bad_request")


def test_413_for_a_large_body(clock: Clock) -> None:
    em = make(clock=clock, max_request_bytes=2000)
    with client_for(em) as c:
        error(post(c, "/v2beta/stable-image/upscale/fast", {}, {"image": ("a.png", b"x" * 3000)}), 413,
              "payload_too_large")


# -- markers -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "name"), [(400, "bad_request"), (402, "payment_required"),
                                              (403, "content_moderation"), (404, "not_found"),
                                              (413, "payload_too_large"), (422, "invalid_language"),
                                              (429, "rate_limit_exceeded"), (500, "internal_error"),
                                              (502, "bad_gateway"), (503, "service_unavailable")])
def test_status_markers(c: httpx.Client, status: int, name: str) -> None:
    r = post(c, CORE, {"prompt": f"a cat emulator:{status}"})
    error(r, status, name)
    assert (r.headers.get("retry-after") == "0") == (status == 429)


def test_markers_in_file_names_and_negative_prompts(c: httpx.Client) -> None:
    photo = module().png_image(64, 64, b"abc")
    error(post(c, "/v2beta/stable-image/upscale/fast", {}, {"image": ("emulator-413.png", photo)}), 413)
    error(post(c, CORE, {"prompt": "p", "negative_prompt": "emulator:500"}), 500, "internal_error")


def test_once_markers_fail_the_first_time_only(em: Emulator, c: httpx.Client) -> None:
    error(post(c, CORE, {"prompt": "p emulator:429-once"}), 429)
    assert post(c, CORE, {"prompt": "p emulator:429-once"}).status_code == 200
    with client_for(em, OTHER) as other:  # per key
        error(post(other, CORE, {"prompt": "p emulator:429-once"}), 429)


def test_content_filtered_marker(c: httpx.Client) -> None:
    r = post(c, CORE, {"prompt": "p emulator:content_filtered"})
    assert r.status_code == 200 and r.headers["finish-reason"] == "CONTENT_FILTERED"
    assert post(c, CORE, {"prompt": "p emulator:content_filtered"}, accept="application/json").json()[
        "finish_reason"] == "CONTENT_FILTERED"


# -- async jobs --------------------------------------------------------------------------------------------------

def start_upscale(c: httpx.Client, prompt: str = "sharper") -> str:
    photo = module().png_image(64, 64, b"abc")
    r = post(c, "/v2beta/stable-image/upscale/creative", {"prompt": prompt, "output_format": "webp"},
             {"image": ("a.png", photo)}, accept=None)
    assert r.status_code == 200 and set(r.json()) == {"id"}, r.text
    job = r.json()["id"]
    assert len(job) == 64 and all(ch in "0123456789abcdef" for ch in job)
    return job


def test_creative_upscale_lifecycle(clock: Clock) -> None:
    em = make(clock=clock, job_polls=2)
    with client_for(em) as c:
        job = start_upscale(c)
        url = f"/v2beta/stable-image/upscale/creative/result/{job}"
        for _ in range(2):
            r = c.get(url, headers={"Accept": "image/*"})
            assert r.status_code == 202 and r.json() == {"id": job, "status": "in-progress"}
        done = c.get(url, headers={"Accept": "image/*"})
        assert done.status_code == 200 and done.headers["content-type"] == "image/webp"
        assert webp_dims(done.content) == (256, 256) and done.headers["finish-reason"] == "SUCCESS"
        again = c.get(f"/v2beta/results/{job}", headers={"Accept": "application/json"})
        assert base64.b64decode(again.json()["image"]) == done.content  # fetched again, through the other endpoint
        error(c.get(f"/v2beta/image-to-video/result/{job}"), 404, "generation_not_found")  # not a video job


def test_video_lifecycle_and_json_form(clock: Clock) -> None:
    em = make(clock=clock, job_polls=1)
    with client_for(em) as c:
        hero = module().png_image(1024, 576, b"abc")
        r = post(c, "/v2beta/image-to-video", {"seed": 7, "cfg_scale": 1.8, "motion_bucket_id": 127},
                 {"image": ("hero.png", hero)}, accept=None)
        job = r.json()["id"]
        url = f"/v2beta/image-to-video/result/{job}"
        assert c.get(url, headers={"Accept": "video/*"}).status_code == 202
        body = c.get(url, headers={"Accept": "application/json"})
        assert body.headers["content-type"] == "application/json; type=video/mp4"
        data = body.json()
        assert set(data) == {"video", "finish_reason", "seed"} and data["seed"] == 7
        top = mp4_boxes(base64.b64decode(data["video"]))
        assert list(top) == ["ftyp", "moov", "mdat"]
        raw = c.get(url, headers={"Accept": "video/*"})
        assert raw.headers["content-type"] == "video/mp4" and raw.content[4:8] == b"ftyp"


def test_jobs_belong_to_their_key_and_expire(em: Any, clock: Clock, c: httpx.Client) -> None:
    job = start_upscale(c)
    with client_for(em, OTHER) as other:
        body = error(other.get(f"/v2beta/results/{job}"), 404, "generation_not_found")
        assert "does not exist" in body["errors"][0]
    error(c.get(f"/v2beta/results/{'0' * 64}"), 404)
    clock.now += 86400 + 1
    error(c.get(f"/v2beta/results/{job}"), 404, "generation_not_found")


def test_job_polls_zero_finishes_at_once(clock: Clock) -> None:
    em = make(clock=clock, job_polls=0)
    with client_for(em) as c:
        assert c.get(f"/v2beta/results/{start_upscale(c)}").status_code == 200


def test_content_filtered_job(c: httpx.Client) -> None:
    job = start_upscale(c, "sharper emulator:content_filtered")
    c.get(f"/v2beta/results/{job}")
    assert c.get(f"/v2beta/results/{job}").headers["finish-reason"] == "CONTENT_FILTERED"


# -- rate limit, faults ------------------------------------------------------------------------------------------

def test_rate_limit_then_block(clock: Clock) -> None:
    em = make(clock=clock, rate_limit=3, rate_window=10, rate_block=60)
    with client_for(em) as c:
        for _ in range(3):
            assert c.get("/v1/user/balance").status_code == 200
        r = c.get("/v1/user/balance")
        assert r.status_code == 429 and r.json()["name"] == "rate_limit_exceeded" and "retry-after" not in r.headers
        clock.now += 30
        assert c.get("/v1/user/balance").status_code == 429  # blocked for 60 s
        clock.now += 31
        assert c.get("/v1/user/balance").status_code == 200
    assert make(clock=clock, rate_limit=0).rate_limit == 0


def test_faults_use_stabilitys_error_formats(em: Emulator, c: httpx.Client) -> None:
    em.faults.add(Fault("status", status=503, path="generate", times=1))
    em.faults.add(Fault("rate_limit", path="balance", limit=1, per_seconds=60))
    body = error(post(c, CORE, {"prompt": "p"}), 503, "service_unavailable")
    assert body["errors"]
    assert c.get("/v1/user/balance").status_code == 200
    r = c.get("/v1/user/balance")
    assert r.status_code == 429 and set(r.json()) == {"id", "name", "message"} and r.headers["retry-after"]
    assert c.get("/v2beta/nothing").status_code == 404
    error(c.get(CORE), 405)


# -- options, environment, the table ------------------------------------------------------------------------------

def test_options_are_checked() -> None:
    with pytest.raises(UsageError, match="unknown option"):
        make(page_size=3)
    for bad in ({"job_polls": -1}, {"credits": "lots"}, {"rate_window": 0}, {"max_output_side": 2}):
        with pytest.raises(UsageError):
            make(**bad)


def test_environment_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STABILITY_EMULATOR_JOB_POLLS", "0")
    monkeypatch.setenv("STABILITY_EMULATOR_CREDITS", "2.5")
    em = make()
    assert em.job_polls == 0 and em.starting_credits == 2.5
    assert make(job_polls=3).job_polls == 3  # an explicit option wins
    monkeypatch.setenv("STABILITY_EMULATOR_JOB_POLLS", "soon")
    with pytest.raises(UsageError, match="STABILITY_EMULATOR_JOB_POLLS"):
        make()


def test_the_emulator_accepts_what_the_operation_table_declares() -> None:
    """Field names, required flags, enums and ranges of every POST agree with operations.yaml."""
    table = load_table(FOLDER / "operations.yaml")
    endpoints = module().ENDPOINTS
    posts = [op for op in table.operations if op.method == "POST"]
    assert {op.path for op in posts} == set(endpoints)
    for op in posts:
        declared = endpoints[op.path].fields
        assert op.body is not None and [f.name for f in op.body.fields] == list(declared), op.name
        for f in op.body.fields:
            spec = declared[f.name]
            assert (f.type == "binary") == (spec.kind == "file"), (op.name, f.name)
            assert f.required == spec.required and set(f.enum) == set(spec.enum), (op.name, f.name)
            assert (f.min_length, f.max_length) == (spec.min_length, spec.max_length), (op.name, f.name)
            assert (f.minimum, f.maximum) == (spec.minimum, spec.maximum), (op.name, f.name)


# -- over a socket, and `kosmo emulator:serve stability` ------------------------------------------------------------

def test_loopback_server(clock: Clock) -> None:
    em = make(clock=clock)
    with em.serve() as server:
        with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=10) as net:
            r = post(net, CORE, {"prompt": "a lamp", "output_format": "jpeg"})
            assert r.status_code == 200 and jpeg_dims(r.content) == (64, 64)
            assert net.get("/v1/user/balance").json() == {"credits": 997.0}


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM])
def test_emulator_serve_command(stop_signal: signal.Signals) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "kosmo_lua", "emulator:serve", "stability"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("Stability AI emulator listening on http://127.0.0.1:"), line
        base = line.split()[-1]
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=10) as net:
            assert net.get("/v1/user/account").status_code == 200
            assert post(net, CORE, {"prompt": "x"}).headers["content-type"] == "image/png"
        assert httpx.get(base + "/_emulator/health").json()["status"] == "ok"
    finally:
        proc.send_signal(stop_signal)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert KEY not in out + err
