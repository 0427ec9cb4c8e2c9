"""`app.integrations.stability` as a user runs it: `kosmo integrations:lua` as a subprocess, against the built-in
emulator (--offline) or a loopback one (real HTTP, accounts from the environment and the config).

Covers the user's flow as written, every form of file input, save_to and its safety rules, the JSON form, the job
lifecycle and `wait`, both names of every aliased operation, each error status end to end, argument validation,
permissions, accounts, and every example of names.yaml, helpers.yaml and overview.md.
"""

from __future__ import annotations

import base64
import json
import os
import re
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kosmo_lua.emulate import load_emulator
from kosmo_lua.ops.table import load_table

REPO = Path(__file__).resolve().parents[1]
FOLDER = REPO / "integrations" / "stability"
KOSMO = [sys.executable, "-m", "kosmo_lua"]
KEY = "sk-TEST-stability-key-never-shown-93b1"
OTHER = "sk-TEST-stability-other-key-5a07"
_ENV_DROP = ("STABILITY_API_KEY", "STABILITY_BASE_URL", "KOSMO_OFFLINE", "STABILITY_EMULATOR_JOB_POLLS",
             "STABILITY_EMULATOR_CREDITS")


def media() -> Any:
    """The emulator module: its encoders make the input images the scripts read."""
    return sys.modules[type(load_emulator(FOLDER)).__module__]


def kosmo(*args: str, cwd: Path, home: Path, env: dict[str, str] | None = None, stdin: str = "",
          timeout: float = 60) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in _ENV_DROP}
    full.update({"KOSMO_HOME": str(home), **(env or {})})
    return subprocess.run([*KOSMO, *args], capture_output=True, text=True, cwd=cwd, env=full, timeout=timeout,
                          input=stdin)


def lua(code: str, cwd: Path, home: Path, *flags: str, env: dict[str, str] | None = None,
        offline: bool = True, force: bool = True) -> dict[str, Any]:
    args = ["integrations:lua", "--eval", code, "--json", *flags]
    if offline:
        args.append("--offline")
    if force:
        args.append("--force")
    proc = kosmo(*args, cwd=cwd, home=home, env=env)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, (proc.stdout, proc.stderr)
    envelope = json.loads(lines[0])
    envelope["_stderr"] = proc.stderr
    return envelope


def ok(envelope: dict[str, Any]) -> dict[str, Any]:
    assert envelope["success"], (envelope["error"], envelope["output"], envelope["_stderr"][-2000:])
    return envelope


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """The scripts' working directory, with the input files the examples name."""
    cwd = tmp_path / "work"
    cwd.mkdir()
    write_inputs(cwd)
    return cwd


def write_inputs(cwd: Path) -> None:
    mod = media()
    (cwd / "product.png").write_bytes(mod.png_image(256, 256, b"\x30\x60\x90"))
    (cwd / "hero.png").write_bytes(mod.png_image(1024, 576, b"\x90\x60\x30"))
    (cwd / "sketch.jpg").write_bytes(mod.jpeg_image(128, 96, b"\x20\x20\x20"))


def lua_string(data: bytes) -> str:
    """A Lua string literal holding ``data`` exactly (raw bytes, as a script would have them)."""
    return '"' + "".join(f"\\x{b:02x}" for b in data) + '"'


# -- the user's flow -------------------------------------------------------------------------------------------------

def test_the_users_flow_runs_as_written(work: Path, home: Path) -> None:
    product, hero = work / "product.png", work / "hero.png"
    code = f"""
local stability = app.integrations.stability
local img = stability.generate_core({{ prompt = "product photo of a matte black desk lamp",
                                      aspect_ratio = "1:1", output_format = "png" }})
-- img = {{ content_type = "image/png", body_base64 = "...", finish_reason = "SUCCESS", seed = "123" }}
local big = stability.upscale_fast({{ image = img, output_format = "png", save_to = "out/lamp.png" }})
local cut = stability.remove_background({{ image = "{product}", output_format = "png" }})
local job = stability.image_to_video({{ image = "{hero}", motion_bucket_id = 127 }})
local video = stability.wait({{ id = job.id, kind = "video", save_to = "out/hero.mp4" }})
dump(stability.get_balance({{}}))
return img.content_type, img.finish_reason, type(img.seed), big, cut.content_type, #job.id, video
"""
    env = ok(lua(code, work, home, env={"STABILITY_EMULATOR_JOB_POLLS": "0"}))
    content_type, finish, seed_type, big, cut_type, id_len, video = env["result"]
    assert (content_type, finish, seed_type, cut_type, id_len) == ("image/png", "SUCCESS", "number", "image/png", 64)
    assert big["path"] == "out/lamp.png" and big["content_type"] == "image/png" and "body_base64" not in big
    assert big["bytes"] == (work / "out" / "lamp.png").stat().st_size
    assert png_size((work / "out" / "lamp.png").read_bytes()) == (256, 256)  # 4x the 64x64 original
    assert video["path"] == "out/hero.mp4" and video["content_type"] == "video/mp4"
    assert (work / "out" / "hero.mp4").read_bytes()[4:8] == b"ftyp"
    assert "credits = 970.0" in env["output"]  # 1000 - 3 (core) - 2 (fast) - 5 (cutout) - 20 (video)
    assert [c["path"] for c in env["integration_calls"]] == [
        "stability.generate_core", "stability.upscale_fast", "stability.remove_background",
        "stability.image_to_video", "stability.get_video_result", "stability.get_balance"]


# -- file inputs -----------------------------------------------------------------------------------------------------

def test_every_form_of_file_input(work: Path, home: Path) -> None:
    raw = media().png_image(80, 64, b"\x11\x22\x33")
    code = f"""
local s = app.integrations.stability
local img = s.generate_core({{ prompt = "a kettle", aspect_ratio = "5:4" }})
local json_img = s.generate_core({{ prompt = "a kettle", accept = "application/json" }})
local saved = s.generate_core({{ prompt = "a kettle", save_to = "in/kettle.png" }})
local forms = {{
  path = "product.png",
  absolute = "{work / 'sketch.jpg'}",
  bytes = {lua_string(raw)},
  content = {{ content = {lua_string(raw)}, filename = "kettle.png" }},
  path_table = {{ path = "product.png" }},
  media_table = img,
  json_media_table = json_img,
  saved_table = saved,
}}
local out = {{}}
for name, value in pairs(forms) do
  local r = s.upscale_fast({{ image = value }})
  out[name] = r.body_base64
end
return out
"""
    results = ok(lua(code, work, home))["result"][0]
    sizes = {name: png_size(base64.b64decode(b64)) for name, b64 in results.items()}
    assert sizes == {"path": (1024, 1024), "absolute": (512, 384), "bytes": (320, 256), "content": (320, 256),
                     "path_table": (1024, 1024), "media_table": (320, 256), "json_media_table": (256, 256),
                     "saved_table": (256, 256)}


def test_a_missing_file_is_an_argument_error(work: Path, home: Path) -> None:
    env = lua('return app.integrations.stability.upscale_fast({ image = "nope.png" })', work, home)
    assert not env["success"] and "no such file 'nope.png'" in env["error"]
    assert "http_status" not in env["integration_calls"][0]


# -- save_to ---------------------------------------------------------------------------------------------------------

def test_save_to_safety(work: Path, home: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (work / "escape").symlink_to(outside, target_is_directory=True)
    (work / "inside").mkdir()
    (work / "alias").symlink_to(work / "inside", target_is_directory=True)
    (work / "taken.png").write_bytes(b"keep me")
    code = f"""
local s = app.integrations.stability
local function try(path, overwrite)
  local ok, err = pcall(s.generate_core, {{ prompt = "a vase", save_to = path, overwrite = overwrite }})
  if ok then return err.path end
  return err.message
end
return {{
  parent = try("../x.png"),
  absolute = try("{outside / 'x.png'}"),
  symlinked = try("escape/x.png"),
  existing = try("taken.png"),
  folder = try("inside"),
  replaced = try("taken.png", true),
  absolute_inside = try("{work / 'inside' / 'a.png'}"),
  through_inner_link = try("alias/b.png"),
}}
"""
    env = ok(lua(code, work, home))
    r = env["result"][0]
    assert "outside the working directory" in r["parent"]
    assert "outside the working directory" in r["absolute"]
    assert "outside the working directory" in r["symlinked"]
    assert "already exists; pass overwrite = true" in r["existing"]
    assert "is a folder" in r["folder"]
    assert r["replaced"] == "taken.png" and (work / "taken.png").read_bytes()[:4] == b"\x89PNG"
    assert r["absolute_inside"] == "inside/a.png" and (work / "inside" / "a.png").exists()
    assert r["through_inner_link"] == "inside/b.png" and (work / "inside" / "b.png").exists()
    assert list(outside.iterdir()) == []
    # A refused path costs no request: only the three accepted calls reached the API.
    sent = [c for c in env["integration_calls"] if "http_status" in c]
    assert len(sent) == 3 and len(env["integration_calls"]) == 8
    assert oct((work / "inside" / "a.png").stat().st_mode & 0o777) != "0o600"


def test_save_to_with_the_json_form_writes_the_same_bytes(work: Path, home: Path) -> None:
    code = """
local s = app.integrations.stability
local a = s.generate_core({ prompt = "a pear", seed = 42, output_format = "webp", save_to = "a.webp" })
local b = s.generate_core({ prompt = "a pear", seed = 42, output_format = "webp", save_to = "b.webp",
                            accept = "application/json" })
local c = s.generate_core({ prompt = "a pear", seed = 42, output_format = "webp", accept = "application/json" })
return a, b, c
"""
    a, b, c = ok(lua(code, work, home))["result"]
    assert (work / "a.webp").read_bytes() == (work / "b.webp").read_bytes() == base64.b64decode(c["body_base64"])
    for saved in (a, b):
        assert saved["content_type"] == "image/webp" and saved["seed"] == 42 and saved["finish_reason"] == "SUCCESS"
    assert c["content_type"] == "image/webp" and c["seed"] == 42 and set(c) == {"content_type", "body_base64",
                                                                                  "finish_reason", "seed"}


def test_content_filtered_is_reported(work: Path, home: Path) -> None:
    env = ok(lua('return app.integrations.stability.generate_core({ prompt = "x emulator:content_filtered" })',
                 work, home))
    assert env["result"][0]["finish_reason"] == "CONTENT_FILTERED"


# -- jobs ----------------------------------------------------------------------------------------------------------

def test_job_lifecycle_offline(work: Path, home: Path) -> None:
    code = """
local s = app.integrations.stability
local job = s.image_to_video({ image = "hero.png" })
local first = s.get_video_result({ id = job.id })
local second = s.get_video_result({ id = job.id, save_to = "v.mp4" })
local up = s.upscale_creative({ image = "product.png", prompt = "crisp" })
local pending = s.get_result({ id = up.id, save_to = "up.png" })
local done = s.get_result({ id = up.id, save_to = "up.png" })
return first, second, pending, done
"""
    first, second, pending, done = ok(lua(code, work, home))["result"]
    assert set(first) == {"id", "status"} and first["status"] == "in-progress"
    assert second["path"] == "v.mp4" and second["content_type"] == "video/mp4"
    assert pending == {"id": pending["id"], "status": "in-progress"}
    assert done["path"] == "up.png" and png_size((work / "up.png").read_bytes()) == (1024, 1024)


def test_wait_polls_until_done(work: Path, home: Path) -> None:
    code = """
local s = app.integrations.stability
local job = s.upscale_creative({ image = "product.png", prompt = "crisp", output_format = "jpeg" })
local r = s.wait({ id = job.id, kind = "upscale", interval = 0.01, save_to = "out/up.jpg" })
local again = s.wait({ job = job, interval = 0.01 })
local as_json = s.wait({ id = job, kind = "result", accept = "application/json" })
return r, again.content_type, as_json.content_type
"""
    env = ok(lua(code, work, home, env={"STABILITY_EMULATOR_JOB_POLLS": "3"}))
    saved, again_type, json_type = env["result"]
    assert saved["path"] == "out/up.jpg" and saved["content_type"] == "image/jpeg"
    assert (work / "out" / "up.jpg").read_bytes()[:2] == b"\xff\xd8"
    assert again_type == json_type == "image/jpeg"
    polls = [c["http_status"] for c in env["integration_calls"][1:]]
    assert polls == [202, 202, 202, 200, 200, 200]


def test_wait_sleeps_the_configured_poll_interval(work: Path, home: Path) -> None:
    """No interval: 10 s between polls (integration.yaml). A 1 s limit ends the script after exactly one poll."""
    code = """
local s = app.integrations.stability
local job = s.upscale_creative({ image = "product.png", prompt = "crisp" })
return s.wait({ id = job.id, kind = "upscale" })
"""
    env = lua(code, work, home, "--cpu-limit", "1")
    assert not env["success"] and "cpu limit exceeded" in env["error"]
    assert [c["path"] for c in env["integration_calls"]] == ["stability.upscale_creative",
                                                             "stability.get_creative_upscale_result"]


def test_wait_timeout_and_bad_arguments(work: Path, home: Path) -> None:
    code = """
local s = app.integrations.stability
local job = s.upscale_creative({ image = "product.png", prompt = "crisp" })
local out = {}
local ok, err = pcall(s.wait, { id = job.id, kind = "upscale", interval = 0.02, timeout = 0.05 })
out.timeout = { ok = ok, kind = err.kind, polls = err.polls, message = err.message }
for name, args in pairs({ kind = { id = job.id, kind = "audio" }, id = { kind = "video" },
                          interval = { id = job.id, interval = -1 }, args = "x" }) do
  local ok2, e = pcall(s.wait, args)
  out[name] = tostring(e)
end
local ok3, missing = pcall(s.wait, { id = string.rep("0", 64), kind = "video", interval = 0.01 })
out.missing = { status = missing.status, name = missing.name }
local ok4, taken = pcall(s.wait, { id = job.id, kind = "upscale", save_to = "taken.png", interval = 0.01 })
out.taken = taken.message
return out
"""
    (work / "taken.png").write_bytes(b"mine")
    envelope = ok(lua(code, work, home, env={"STABILITY_EMULATOR_JOB_POLLS": "50"}))
    r = envelope["result"][0]
    assert "already exists" in r["taken"] and (work / "taken.png").read_bytes() == b"mine"
    assert "http_status" not in envelope["integration_calls"][-1]  # refused before the first poll was sent
    assert r["timeout"]["ok"] is False and r["timeout"]["kind"] == "timeout" and r["timeout"]["polls"] >= 1
    assert "still in progress" in r["timeout"]["message"]
    assert "parameter 'kind' must be" in r["kind"] and "parameter 'id' expects" in r["id"]
    assert "parameter 'interval'" in r["interval"] and "expected a table" in r["args"]
    assert r["missing"] == {"status": 404, "name": "generation_not_found"}


# -- names -----------------------------------------------------------------------------------------------------------

def test_both_names_of_every_aliased_operation(work: Path, home: Path) -> None:
    table = load_table(FOLDER / "operations.yaml")
    args = {
        "generate_core": '{ prompt = "a" }', "generate_ultra": '{ prompt = "a" }', "generate_sd3": '{ prompt = "a" }',
        "inpaint": '{ image = "product.png", prompt = "a" }', "erase": '{ image = "product.png" }',
        "upscale_fast": '{ image = "product.png" }', "upscale_creative": '{ image = "product.png", prompt = "a" }',
        "image_to_video": '{ image = "hero.png" }',
    }
    aliased = [op for op in table.operations if op.aliases]
    assert {op.name for op in aliased} == set(args)
    lines = ["local s = app.integrations.stability", "local out = {}"]
    for op in aliased:
        for name in op.names:
            lines.append(f'out[#out + 1] = "{name}" .. ":" .. tostring(next(s.{name}({args[op.name]})) ~= nil)')
    lines.append("return out")
    env = ok(lua("\n".join(lines), work, home))
    assert all(item.endswith(":true") for item in env["result"][0])
    called = [c["path"] for c in env["integration_calls"]]
    assert called == [f"stability.{op.name}" for op in aliased for _ in op.names]


# -- errors ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "name", "attempts"), [
    (402, "payment_required", 1), (403, "content_moderation", 1), (413, "payload_too_large", 1),
    (422, "invalid_language", 1), (429, "rate_limit_exceeded", 5), (500, "internal_error", 1),
])
def test_error_statuses_end_to_end(work: Path, home: Path, status: int, name: str, attempts: int) -> None:
    code = f"""
local ok, err = pcall(app.integrations.stability.generate_core, {{ prompt = "a cat emulator:{status}" }})
return ok, err, tostring(err)
"""
    env = ok(lua(code, work, home))
    success, err, text = env["result"]
    assert success is False
    assert err["kind"] == "http" and err["status"] == status and err["name"] == name
    assert err["operation"] == "stability.generate_core" and err["message"] and err["body"]["errors"]
    assert text == f"stability.generate_core: HTTP {status}: {err['message']}"
    # POSTs are retried only after a 429 (the API did nothing); never after a 5xx.
    assert env["integration_calls"][0]["attempts"] == attempts


def test_429_is_retried_until_it_succeeds(work: Path, home: Path) -> None:
    env = ok(lua('return app.integrations.stability.generate_core({ prompt = "a cat emulator:429-once" })',
                 work, home))
    assert env["result"][0]["content_type"] == "image/png" and env["integration_calls"][0]["attempts"] == 2


def test_402_when_the_credits_run_out(work: Path, home: Path) -> None:
    code = """
local s = app.integrations.stability
local first = s.generate_core({ prompt = "a" })
local ok, err = pcall(s.generate_core, { prompt = "b" })
return s.get_balance({}).credits, err.status, err.name
"""
    assert ok(lua(code, work, home, env={"STABILITY_EMULATOR_CREDITS": "4"}))["result"] == [1, 402,
                                                                                              "payment_required"]


def test_arguments_are_checked_before_sending(work: Path, home: Path) -> None:
    code = """
local s = app.integrations.stability
local out = {}
local function try(fn, args)
  local ok, err = pcall(s[fn], args)
  out[#out + 1] = err.problems
end
try("generate_core", { aspect_ratio = "17:9", seed = -1, style_preset = "anime2", output_format = "gif" })
try("generate_ultra", { prompt = "a", strength = 1.5 })
try("control_structure", { prompt = "a", image = "product.png", control_strength = 2 })
try("image_to_video", { image = "hero.png", motion_bucket_id = 300, cfg_scale = 11 })
try("generate_sd3", { prompt = "a", model = "sd4", cfg_scale = 0.5 })
try("remove_background", { image = "product.png", output_format = "jpeg" })
return out
"""
    env = ok(lua(code, work, home))
    core, ultra, control, video, sd3, cutout = env["result"][0]
    joined = " | ".join(core)
    for needle in ("missing required parameter 'prompt'", "'aspect_ratio' must be one of", "'seed' must be at least 0",
                   "'style_preset' must be one of", "'output_format' must be one of"):
        assert needle in joined
    assert ultra == ["parameter 'strength' must be at most 1, got 1.5"]
    assert control == ["parameter 'control_strength' must be at most 1, got 2"]
    assert sorted(video) == ["parameter 'cfg_scale' must be at most 10, got 11",
                             "parameter 'motion_bucket_id' must be at most 255, got 300"]
    assert len(sd3) == 2 and len(cutout) == 1
    assert all("http_status" not in c for c in env["integration_calls"])


def test_write_operations_need_permission(work: Path, home: Path) -> None:
    code = """
local s = app.integrations.stability
local balance = s.get_balance({})
local ok, err = pcall(s.generate_core, { prompt = "a" })
return balance.credits, ok, err.kind, err.message
"""
    credits, success, kind, message = ok(lua(code, work, home, force=False))["result"]
    assert credits == 1000 and success is False and kind == "permission" and "--force" in message


# -- accounts over a real loopback connection ------------------------------------------------------------------------

@pytest.fixture
def server() -> Iterator[Any]:
    emulator = load_emulator(FOLDER, job_polls=2)
    with emulator.serve() as running:
        yield running


def test_accounts_from_the_environment_and_the_config(work: Path, home: Path, server: Any) -> None:
    # The secret goes in on stdin, never on the command line.
    conf = kosmo("integrations:configure", "stability", "--stdin-json", cwd=work, home=home,
                 stdin=json.dumps({"account": "work", "set": {"api_key": OTHER, "url": server.base_url}}))
    assert conf.returncode == 0, conf.stderr
    code = """
local s = app.integrations.stability
local me, them = s.get_account({}), s.work.get_account({})
local job = s.upscale_creative({ image = "product.png", prompt = "crisp" })
local ok, err = pcall(s.work.get_result, { id = job.id })
local done = s.wait({ id = job.id, kind = "upscale", interval = 0.01 })
return me.id ~= them.id, err.status, err.name, done.content_type
"""
    account = {"STABILITY_API_KEY": KEY, "STABILITY_BASE_URL": server.base_url}
    env = ok(lua(code, work, home, offline=False, env=account))
    assert env["result"] == [True, 404, "generation_not_found", "image/png"]
    assert [c["http_status"] for c in env["integration_calls"]][-3:] == [202, 202, 200]
    assert all(not c.get("emulated") for c in env["integration_calls"])
    everything = json.dumps(env) + conf.stdout + conf.stderr
    assert KEY not in everything and OTHER not in everything
    logged = server.emulator.requests
    assert logged and all(r.header("authorization") == "Bearer [redacted]" for r in logged)
    assert all((r.header("content-type") or "").startswith("multipart/form-data; boundary=")
               for r in logged if r.method == "POST")


# -- docs and examples -----------------------------------------------------------------------------------------------

def test_docs_page_shows_fields_enums_ranges_and_returns(work: Path, home: Path) -> None:
    proc = kosmo("integrations:docs", "stability.generate_core", cwd=work, home=home)
    assert proc.returncode == 0, proc.stderr
    page = proc.stdout
    for needle in ("| `prompt` | string | yes |", "`16:9`", "`photographic`", "| `seed` | number | no |",
                   "multipart/form-data", "CONTENT_FILTERED", "save_to", "overwrite = true", "application/json",
                   "## Returns", "## Example"):
        assert needle in page, needle
    video = kosmo("integrations:docs", "stability.image_to_video", cwd=work, home=home).stdout
    assert "1 to 255" in video and "`motion_bucket_id`" in video and "wait(" in video


def _examples() -> list[Any]:
    table = load_table(FOLDER / "operations.yaml")
    found = [pytest.param(op.example, id=f"names:{op.name}") for op in table.operations]
    helpers = yaml.safe_load((FOLDER / "helpers.yaml").read_text(encoding="utf-8"))["helpers"]
    found += [pytest.param(h["example"], id=f"helpers:{h['name']}") for h in helpers]
    overview = (FOLDER / "overview.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```lua[^\n]*\n(.*?)```", overview, re.S)
    found += [pytest.param(code, id=f"overview:{i}") for i, code in enumerate(blocks, start=1)]
    return found


def test_every_operation_has_an_example_and_overview_has_blocks() -> None:
    ids = [p.id for p in _examples()]
    assert sum(i.startswith("names:") for i in ids) == 15
    assert sum(i.startswith("overview:") for i in ids) >= 3 and "helpers:wait" in ids


@pytest.mark.parametrize("code", _examples())
def test_example_runs_offline(code: str, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    write_inputs(work)
    # A wait straight after a start would sleep the 10 s poll interval once; the emulator finishes such jobs at once.
    env = {"STABILITY_EMULATOR_JOB_POLLS": "0"} if "wait(" in code and "_result(" not in code else {}
    envelope = ok(lua(code, work, tmp_path / "home", env=env))
    calls = envelope["integration_calls"]
    assert calls and (all(c["status"] == "ok" for c in calls) or "pcall(" in code)  # pcall: a failure on purpose
