"""The generic engine features Stability needed, tested on their own: media answers as raw bytes for save_to (no
base64 copy), the JSON form of media normalised to the same shape, a job's pending answer left alone, save_media,
and helpers reading their integration's settings (``lib.settings``) on an integration that is not Stability.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kosmo_lua.errors import ArgumentError, TransportError
from kosmo_lua.integration import load_integration
from kosmo_lua.ops import save as save_module
from kosmo_lua.ops.response import media_payload, parse_response
from kosmo_lua.ops.spec import RawResponse
from kosmo_lua.ops.table import Operation, Response
from kosmo_lua.sandbox.values import LuaArray

REPO = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 17
FN = "gadget.render"


def op(kind: str = "media", **response: Any) -> Operation:
    defaults: dict[str, Any] = {"header_fields": {"finish_reason": "finish-reason", "seed": "seed"},
                                "json_fields": {"image": "body_base64", "video": "body_base64"}}
    defaults.update(response)
    return Operation(name="render", aliases=(), full_name=FN, operation_id="render", method="GET", path="/render",
                     access="read", summary="Render",
                     response=Response(kind=kind, **defaults))  # type: ignore[arg-type]


def raw(body: bytes, content_type: str | None, status: int = 200, **headers: str) -> RawResponse:
    pairs = [(k.replace("_", "-"), v) for k, v in headers.items()]
    if content_type:
        pairs.append(("content-type", content_type))
    return RawResponse(status=status, headers=tuple(pairs), body=body, url="http://x.invalid/render", elapsed_ms=1)


def parse(operation: Operation, response: RawResponse) -> Any:
    return parse_response(operation, response, integration=load_integration(REPO / "integrations" / "stability"),
                          function=FN)


# -- media_payload / parse_response ----------------------------------------------------------------------------------

def test_raw_media_comes_back_as_the_bytes_that_arrived() -> None:
    response = raw(PNG, "image/png", finish_reason="SUCCESS", seed="42")
    content, fields = media_payload(op(), response, function=FN)
    assert content is response.body  # no copy, no base64 text: save_to writes these bytes as they are
    assert fields == {"content_type": "image/png", "finish_reason": "SUCCESS", "seed": 42}


def test_json_media_is_decoded_and_typed_from_its_parameter_then_its_bytes() -> None:
    body = json.dumps({"image": base64.b64encode(PNG).decode(), "finish_reason": "CONTENT_FILTERED",
                       "seed": 7}).encode()
    content, fields = media_payload(op(), raw(body, "application/json; type=image/webp"), function=FN)
    assert content == PNG and fields == {"finish_reason": "CONTENT_FILTERED", "seed": 7, "content_type": "image/webp"}
    # No type= parameter: the first bytes say PNG, whatever the operation documents.
    _, fields = media_payload(op(content_type="image/jpeg"), raw(body, "application/json"), function=FN)
    assert fields["content_type"] == "image/png"
    # Unknown bytes: the documented concrete type, else octet-stream.
    odd = json.dumps({"video": base64.b64encode(b"\x00\x01\x02").decode()}).encode()
    assert media_payload(op(content_type="video/mp4"), raw(odd, "application/json"), function=FN)[1][
        "content_type"] == "video/mp4"
    assert media_payload(op(content_type="image/*"), raw(odd, "application/json"), function=FN)[1][
        "content_type"] == "application/octet-stream"


def test_parse_response_gives_the_same_shape_for_both_forms() -> None:
    encoded = base64.b64encode(PNG).decode()
    from_raw = parse(op(), raw(PNG, "image/png", finish_reason="SUCCESS", seed="42"))
    from_json = parse(op(), raw(json.dumps({"image": encoded, "finish_reason": "SUCCESS", "seed": 42}).encode(),
                                "application/json"))
    assert from_raw == from_json == {"content_type": "image/png", "body_base64": encoded, "finish_reason": "SUCCESS",
                                     "seed": 42}


def test_a_running_jobs_answer_is_left_alone() -> None:
    pending = raw(b'{"id": "abc", "status": "in-progress"}', "application/json", status=202)
    assert media_payload(op(), pending, function=FN) == (None, {"id": "abc", "status": "in-progress"})
    assert parse(op(), pending) == {"id": "abc", "status": "in-progress"}
    assert media_payload(op(), raw(b"", None, status=204), function=FN) == (None, {})
    listed = raw(b"[1, 2]", "application/json")
    assert media_payload(op(), listed, function=FN) == (None, LuaArray([1, 2]))


def test_broken_base64_in_a_json_media_answer_is_a_transport_error() -> None:
    with pytest.raises(TransportError, match="not valid base64"):
        media_payload(op(), raw(b'{"image": "***"}', "application/json"), function=FN)


def test_binary_answers_are_raw_bytes_with_their_type() -> None:
    content, fields = media_payload(op("binary"), raw(b"\x00zip", "application/zip"), function=FN)
    assert content == b"\x00zip" and fields == {"content_type": "application/zip"}
    assert media_payload(op("binary"), raw(PNG, None), function=FN)[1] == {"content_type": "image/png"}


# -- save_media ------------------------------------------------------------------------------------------------------

def test_save_media_writes_and_describes_the_file(tmp_path: Path) -> None:
    result = save_module.save_media(PNG, {"content_type": "image/png", "seed": 3, "body_base64": "x"}, "out/a.png",
                                    cwd=tmp_path, overwrite=False, function=FN)
    assert result == {"path": "out/a.png", "content_type": "image/png", "bytes": len(PNG), "seed": 3}
    assert (tmp_path / "out" / "a.png").read_bytes() == PNG
    mask = os.umask(0o022)
    os.umask(mask)
    assert (tmp_path / "out" / "a.png").stat().st_mode & 0o777 == 0o666 & ~mask
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["a.png"]  # no temporary file left behind


def test_save_media_keeps_a_file_that_appeared_meanwhile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "late.png"
    target.write_bytes(b"first")
    # The path was fine when checked; the file appeared before the write: link() refuses, the old file stays.
    monkeypatch.setattr(save_module, "safe_target", lambda *a, **k: target)
    with pytest.raises(ArgumentError, match="already exists"):
        save_module.save_media(PNG, {"content_type": "image/png"}, "late.png", cwd=tmp_path, overwrite=False,
                               function=FN)
    assert target.read_bytes() == b"first" and sorted(p.name for p in tmp_path.iterdir()) == ["late.png"]


# -- lib.settings: helpers read their integration.yaml ---------------------------------------------------------------

def test_binder_settings_are_the_integration_yaml_as_plain_data() -> None:
    from kosmo_lua.bind import IntegrationBinder

    binder = IntegrationBinder(SimpleNamespace(options=SimpleNamespace(cwd=".")))  # type: ignore[arg-type]
    settings = binder._settings("stability")
    assert settings["async"] == {"poll_interval": 10} and settings["name"] == "stability"
    assert isinstance(settings["rate_limits"], LuaArray)
    assert binder._settings("no-such-integration") is None and binder._settings(42) is None


GADGET_YAML = """
name: gadget
title: Gadget
base_url: https://gadget.invalid
async: {poll_interval: 3}
helpers: helpers.lua
"""
GADGET_OPS = """
integration: gadget
title: Gadget
source: {}
operations:
- {name: ping, aliases: [], full_name: gadget.ping, operation_id: ping, method: GET, path: /ping, access: read,
   summary: Ping}
"""
GADGET_HELPERS = """
return function(ns, lib, path)
  return { poll_interval = function() return lib.settings("gadget").async.poll_interval end }
end
"""


def test_helpers_read_settings_through_lib(tmp_path: Path) -> None:
    folder = tmp_path / "home" / "integrations" / "gadget"
    folder.mkdir(parents=True)
    (folder / "integration.yaml").write_text(GADGET_YAML)
    (folder / "operations.yaml").write_text(GADGET_OPS)
    (folder / "helpers.lua").write_text(GADGET_HELPERS)
    env = {**os.environ, "KOSMO_HOME": str(tmp_path / "home")}
    proc = subprocess.run([sys.executable, "-m", "kosmo_lua", "integrations:lua", "--json", "--eval",
                           "return app.integrations.gadget.poll_interval()"], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=60)
    envelope = json.loads(proc.stdout)
    assert envelope["success"], envelope["error"]
    assert envelope["result"] == [3]
