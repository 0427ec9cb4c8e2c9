"""Response parsing: every success kind, the JSON/array conventions, and error messages from real error bodies."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from kosmo_lua.errors import HTTPStatusError, TransportError
from kosmo_lua.integration import ErrorFormat, Integration, load_integration
from kosmo_lua.ops.response import parse_response
from kosmo_lua.ops.spec import RawResponse
from kosmo_lua.ops.table import Operation, Response

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO.parent / "shared" / "specs" / "replicate-response-samples.json"
FN = "replicate.get_prediction"


@pytest.fixture(scope="module")
def replicate() -> Integration:
    return load_integration(REPO / "integrations" / "replicate")


@pytest.fixture(scope="module")
def stability_like(replicate: Integration) -> Integration:
    # Stability's v2beta error body is {id, name, errors: [...]}; v1 is {id, name, message}.
    return replace(replicate, name="stability",
                   errors=ErrorFormat(message_fields=("message",), name_field="name", list_field="errors"))


def op(kind: str = "json", **response: Any) -> Operation:
    return Operation(name="get_prediction", aliases=(), full_name=FN, operation_id="predictions.get", method="GET",
                     path="/predictions/{prediction_id}", access="read", summary="Get a prediction",
                     response=Response(kind=kind, **response))  # type: ignore[arg-type]


def raw(status: int = 200, body: bytes = b"", content_type: str | None = "application/json",
        **headers: str) -> RawResponse:
    pairs = [("content-type", content_type)] if content_type is not None else []
    pairs += [(k.replace("_", "-").lower(), v) for k, v in headers.items()]
    return RawResponse(status=status, headers=tuple(pairs), body=body, url="https://api.example.test/v1/x",
                       elapsed_ms=1.0)


def parse(operation: Operation, response: RawResponse, integration: Integration, **kw: Any) -> Any:
    return parse_response(operation, response, integration=integration, function=FN, **kw)


# -- success -------------------------------------------------------------------------------------------------------

def test_json_arrays_reach_lua_as_arrays_at_every_depth(replicate: Integration) -> None:
    body = b'{"results": [], "nested": {"list": [[1], []]}, "output": null}'
    result = parse(op(), raw(body=body), replicate)
    assert result == {"results": [], "nested": {"list": [[1], []]}, "output": None}
    top = parse(op(), raw(body=b"[]"), replicate)
    assert top == []
    # Every list, empty ones included, becomes a Lua array: json.encode tells arrays from objects.
    from kosmo_lua.sandbox.runtime import Sandbox
    from kosmo_lua.stdlib import core

    sandbox = Sandbox()
    core.install_json(sandbox)
    sandbox.register("answer", lambda which: result if which == "object" else top)
    encoded = sandbox.execute('local r = answer("object")\n'
                              'return json.encode(r.results), json.encode(r.nested), json.encode(answer("top"))')
    assert encoded == ["[]", '{"list":[[1],[]]}', "[]"]


def test_problem_json_content_type_is_json(replicate: Integration) -> None:
    assert parse(op(), raw(body=b'{"a": 1}', content_type="application/problem+json"), replicate) == {"a": 1}


def test_no_content_and_empty_body_give_empty_table(replicate: Integration) -> None:
    assert parse(op(), raw(status=204, body=b"", content_type=None), replicate) == {}
    assert parse(op(), raw(status=200, body=b""), replicate) == {}
    assert parse(op("empty"), raw(status=200, body=b"ignored", content_type="text/plain"), replicate) == {}


def test_malformed_json_is_a_transport_error_with_size(replicate: Integration) -> None:
    with pytest.raises(TransportError) as info:
        parse(op(), raw(body=b'{"a": '), replicate)
    assert str(info.value) == f"{FN}: malformed JSON in response (HTTP 200, 6 bytes)"


def test_json_operation_answering_non_json_gives_body_and_type(replicate: Integration) -> None:
    result = parse(op(), raw(body=b"# README\nhello", content_type="text/markdown; charset=utf-8"), replicate)
    assert result == {"body": "# README\nhello", "content_type": "text/markdown"}
    # Without a content type, a body that looks like JSON is decoded.
    assert parse(op(), raw(body=b' {"x": [1]}', content_type=None), replicate) == {"x": [1]}


def test_text_and_binary_kinds(replicate: Integration) -> None:
    text = parse(op("text"), raw(body="café".encode("latin-1"), content_type="text/plain; charset=latin-1"),
                 replicate)
    assert text == {"body": "café", "content_type": "text/plain"}
    data = bytes(range(256))
    binary = parse(op("binary"), raw(body=data, content_type="application/octet-stream"), replicate)
    assert binary == {"body": data, "content_type": "application/octet-stream"}


def test_media_body_with_header_fields(replicate: Integration) -> None:
    media_op = op("media", header_fields={"finish_reason": "finish-reason", "seed": "seed"})
    png = b"\x89PNG\r\n\x1a\nrest"
    result = parse(media_op, raw(body=png, content_type="image/png", finish_reason="SUCCESS", seed="343940597"),
                   replicate)
    assert result == {"content_type": "image/png", "body_base64": base64.b64encode(png).decode(),
                      "finish_reason": "SUCCESS", "seed": 343940597}


def test_media_json_form_renames_fields(replicate: Integration) -> None:
    media_op = op("media", content_type="image/*", json_fields={"image": "body_base64"},
                  header_fields={"seed": "seed"})
    body = json.dumps({"image": "aGVsbG8=", "finish_reason": "SUCCESS", "seed": 7}).encode()
    result = parse(media_op, raw(body=body, content_type="application/json; type=image/webp"), replicate)
    assert result == {"body_base64": "aGVsbG8=", "finish_reason": "SUCCESS", "seed": 7, "content_type": "image/webp"}
    # An in-progress answer of a media operation (202 {id, status}) comes back as it is.
    pending = parse(media_op, raw(status=202, body=b'{"id": "abc", "status": "in-progress"}'), replicate)
    assert pending == {"id": "abc", "status": "in-progress"}


# -- errors --------------------------------------------------------------------------------------------------------

def error_of(response: RawResponse, integration: Integration) -> HTTPStatusError:
    with pytest.raises(HTTPStatusError) as info:
        parse(op(), response, integration, now=1_000_000.0)
    return info.value


def test_problem_details_message_and_str(replicate: Integration) -> None:
    err = error_of(raw(404, b'{"detail": "Not found", "status": 404}', "application/problem+json"), replicate)
    assert str(err) == "replicate.get_prediction: HTTP 404: Not found"
    assert err.status == 404
    assert err.data["message"] == "Not found"
    assert err.data["name"] == "not_found"
    assert err.data["body"] == {"detail": "Not found", "status": 404}
    assert err.data["operation"] == FN and err.data["kind"] == "http"


def test_html_error_page_is_not_dumped(replicate: Integration) -> None:
    page = b"<html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>"
    err = error_of(raw(502, page, "text/html"), replicate)
    assert str(err) == f"{FN}: HTTP 502: Bad Gateway"
    assert err.data["body"] is None and "<" not in str(err.data)


def test_empty_and_unreadable_error_bodies(replicate: Integration) -> None:
    assert str(error_of(raw(503, b"", None), replicate)) == f"{FN}: HTTP 503: Service Unavailable"
    broken = error_of(raw(500, b'{"detail": ', "application/json"), replicate)
    assert str(broken) == f"{FN}: HTTP 500: Internal Server Error"
    assert broken.data["body"] == '{"detail": '


def test_plain_text_error_uses_first_line(replicate: Integration) -> None:
    err = error_of(raw(400, b"\n  bad cursor value\nmore detail\n", "text/plain"), replicate)
    assert str(err) == f"{FN}: HTTP 400: bad cursor value"
    assert err.data["body"] == "bad cursor value\nmore detail"


def test_list_field_and_name_field(stability_like: Integration) -> None:
    body = {"id": "e1", "name": "bad_request", "errors": ["prompt: is required", "width: too large"]}
    err = error_of(raw(400, json.dumps(body).encode()), stability_like)
    assert str(err) == f"{FN}: HTTP 400: prompt: is required; width: too large"
    assert err.data["name"] == "bad_request"
    assert err.data["body"]["errors"] == ["prompt: is required", "width: too large"]
    v1 = error_of(raw(401, b'{"id": "x", "name": "unauthorized", "message": "missing authorization header"}'),
                  stability_like)
    assert str(v1) == f"{FN}: HTTP 401: missing authorization header" and v1.data["name"] == "unauthorized"


def test_validation_list_in_message_field(replicate: Integration) -> None:
    body = {"detail": [{"loc": ["body", "input"], "msg": "field required"}, {"msg": "bad version"}]}
    err = error_of(raw(422, json.dumps(body).encode()), replicate)
    assert str(err) == f"{FN}: HTTP 422: field required; bad version"


def test_retry_after_seconds_and_date(replicate: Integration) -> None:
    assert error_of(raw(429, b"{}", retry_after="7"), replicate).data["retry_after"] == 7.0
    # 1_000_000 is 1970-01-12 13:46:40 UTC; the header says 30 s later.
    dated = error_of(raw(429, b"{}", retry_after="Mon, 12 Jan 1970 13:47:10 GMT"), replicate)
    assert dated.data["retry_after"] == pytest.approx(30.0)
    assert "retry_after" not in error_of(raw(429, b"{}"), replicate).data


def test_redirect_is_an_error_that_keeps_location(replicate: Integration) -> None:
    err = error_of(raw(302, b"", None, location="https://files.example.test/a.png"), replicate)
    assert str(err) == f"{FN}: HTTP 302: Found (redirect not followed)"
    assert err.data["location"] == "https://files.example.test/a.png"


def test_every_recorded_replicate_error_sample(replicate: Integration) -> None:
    if not SAMPLES.is_file():
        pytest.skip(f"shared samples not found at {SAMPLES} (they live outside the repo)")
    samples = json.loads(SAMPLES.read_text(encoding="utf-8"))
    errors = {k: v for k, v in samples.items() if k.startswith("error_")}
    assert len(errors) >= 5
    for key, sample in errors.items():
        body = sample["body"]
        status = sample.get("status") or body.get("status")
        headers = {k.lower(): v for k, v in (sample.get("headers") or {}).items()}
        response = RawResponse(status=status, headers=(("content-type", "application/json"),
                                                       *((k, v) for k, v in headers.items()
                                                         if k != "content-type")),
                               body=json.dumps(body).encode(), url="https://api.replicate.com/v1/x", elapsed_ms=1)
        err = error_of(response, replicate)
        expected = body.get("detail") or body.get("title")
        assert str(err) == f"{FN}: HTTP {status}: {expected}", key
        assert err.status == status, key
        assert err.data["body"] == body, key
        if "retry-after" in headers:
            assert err.data["retry_after"] == float(headers["retry-after"]), key
