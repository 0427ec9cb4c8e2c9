"""OpenAPI parameter styles, cookie parameters, binary bodies and the basic / cookie auth schemes, piece by piece.

The end-to-end path (import, Lua, a loopback server) is in test_import.py (bazaar-3.1.yaml) and the exact requests in
tests/golden/bazaar.yaml; these tests pin the rules in between: what the generator stores, what each style writes,
what validation refuses, and how the HTTP layer puts basic / cookie credentials on a request without ever showing
them.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from kosmo_lua.config import Account, Secret
from kosmo_lua.config.accounts import is_secret_field
from kosmo_lua.errors import ArgumentError, ConfigError, CredentialsMissing
from kosmo_lua.integration import AuthScheme, load_integration
from kosmo_lua.net.auth import with_auth_headers
from kosmo_lua.ops.generate import generate_table
from kosmo_lua.ops.spec import RequestSpec
from kosmo_lua.ops.styles import cookie_pairs, header_text, path_text, query_pairs
from kosmo_lua.ops.table import Param, table_from_data, table_to_data
from kosmo_lua.ops.validate import validate_args
from kosmo_lua.sandbox.values import LuaArray

ROOT = Path(__file__).resolve().parents[1]


def _op(params: list[dict[str, Any]], body: dict[str, Any] | None = None) -> Any:
    raw: dict[str, Any] = {"operationId": "op", "parameters": params, "responses": {"204": {"description": "ok"}}}
    if body is not None:
        raw["requestBody"] = body
    spec = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {"/x/{p}": {"post": raw}}}
    if not any(p.get("in") == "path" for p in params):
        spec["paths"] = {"/x": {"post": raw}}
    return generate_table(spec, {}, "t").operations[0]


ARRAY = {"type": "array", "items": {"type": "string"}}
OBJECT = {"type": "object", "properties": {"a": {"type": "string"}}}


# -- what the generator stores ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("param", "stored"), [
    ({"in": "query", "schema": ARRAY}, (None, None)),
    ({"in": "query", "style": "form", "explode": True, "schema": ARRAY}, (None, None)),  # the defaults, spelt out
    ({"in": "query", "explode": False, "schema": ARRAY}, (None, False)),
    ({"in": "query", "style": "pipeDelimited", "schema": ARRAY}, ("pipeDelimited", None)),
    ({"in": "query", "style": "spaceDelimited", "explode": True, "schema": ARRAY}, (None, None)),  # = form
    ({"in": "query", "style": "deepObject", "explode": True, "schema": OBJECT}, ("deepObject", None)),
    ({"in": "query", "style": "pipeDelimited", "schema": {"type": "string"}}, (None, None)),  # one value: no style
    ({"in": "header", "style": "simple", "explode": False, "schema": ARRAY}, (None, None)),
    ({"in": "header", "explode": True, "schema": OBJECT}, (None, True)),
    ({"in": "header", "explode": True, "schema": ARRAY}, (None, None)),  # a simple array is the same either way
    ({"in": "query", "style": "matrix", "schema": {"type": "integer"}}, (None, None)),  # moot for one value
    ({"in": "path", "required": True, "style": "label", "schema": {"type": "string"}}, ("label", None)),
    ({"in": "path", "required": True, "style": "matrix", "explode": True, "schema": ARRAY}, ("matrix", True)),
    ({"in": "cookie", "explode": False, "schema": ARRAY}, (None, False)),
    ({"in": "query", "content": {"application/json": {"schema": OBJECT}}}, ("json", None)),
    ({"in": "query", "content": {"application/json": {"schema": {"type": "integer"}}}}, (None, None)),
])
def test_style_and_explode_are_stored_only_when_they_differ_from_the_default(param: dict[str, Any],
                                                                            stored: tuple[Any, Any]) -> None:
    p = _op([{"name": "p", **param}]).params[0]
    assert (p.style, p.explode) == stored
    data = table_to_data(generate_table({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {
        "/x/{p}" if param["in"] == "path" else "/x": {"get": {"operationId": "op", "parameters": [
            {"name": "p", **param}], "responses": {}}}}}, {}, "t"))
    written = data["operations"][0]["params"][0]
    assert ("style" in written, "explode" in written) == (stored[0] is not None, stored[1] is not None)
    assert table_from_data(data).operations[0].params[0] == p  # the YAML round trip keeps them


@pytest.mark.parametrize(("param", "message"), [
    ({"in": "header", "style": "form", "schema": ARRAY}, "style 'form' is not supported in header"),
    ({"in": "cookie", "style": "deepObject", "schema": OBJECT}, "style 'deepObject' is not supported in cookie"),
    ({"in": "query", "explode": "yes", "schema": ARRAY}, "explode must be true or false"),
])
def test_styles_a_location_cannot_have_are_config_errors(param: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _op([{"name": "p", **param}])


def test_binary_request_bodies_become_file_inputs() -> None:
    octet = _op([], {"required": True, "content": {"application/octet-stream": {}}}).body
    assert (octet.encoding, octet.content_type, octet.fields, octet.schema) == (
        "binary", "application/octet-stream", (), None)
    # JSON is still preferred when a document offers both.
    both = _op([], {"content": {"application/octet-stream": {}, "application/json": {"schema": OBJECT}}}).body
    assert both.encoding == "json"
    video = _op([], {"content": {"video/mp4": {"schema": {"type": "string", "format": "binary"}}}}).body
    assert (video.encoding, video.content_type) == ("binary", "video/mp4")


# -- what each style writes ---------------------------------------------------------------------------------------

def _p(location: str, style: str | None = None, explode: bool | None = None) -> Param:
    return Param(name="c", location=location, lua_name="c", style=style, explode=explode)  # type: ignore[arg-type]


OBJ = {"R": 100, "G": 200}  # keys go out sorted: G before R


@pytest.mark.parametrize(("param", "value", "pairs"), [
    (_p("query"), "x", [("c", "x")]),
    (_p("query"), LuaArray(["a", "b"]), [("c", "a"), ("c", "b")]),
    (_p("query"), OBJ, [("G", "200"), ("R", "100")]),
    (_p("query", explode=False), OBJ, [("c", "G,200,R,100")]),
    (_p("query", "spaceDelimited"), OBJ, [("c", "G 200 R 100")]),
    (_p("query", "pipeDelimited"), LuaArray([1, True]), [("c", "1|true")]),
    (_p("query", "deepObject"), OBJ, [("c[G]", "200"), ("c[R]", "100")]),
    (_p("query", explode=False), LuaArray(), []),
    (_p("query", "json"), OBJ, [("c", '{"G":200,"R":100}')]),
])
def test_query_styles(param: Param, value: Any, pairs: list[tuple[str, str]]) -> None:
    assert query_pairs(param, value) == pairs


@pytest.mark.parametrize(("param", "value", "text"), [
    (_p("path"), "a b/c", "a%20b%2Fc"),
    (_p("path"), LuaArray(["a", "b,c"]), "a,b%2Cc"),  # the items are encoded, so the delimiter stays unambiguous
    (_p("path"), OBJ, "G,200,R,100"),
    (_p("path", explode=True), OBJ, "G=200,R=100"),
    (_p("path", "label"), "x", ".x"),
    (_p("path", "label"), LuaArray(["a", "b"]), ".a,b"),
    (_p("path", "label", True), OBJ, ".G=200.R=100"),
    (_p("path", "matrix"), 5, ";c=5"),
    (_p("path", "matrix", True), LuaArray(["a", "b"]), ";c=a;c=b"),
    (_p("path", "matrix", True), OBJ, ";G=200;R=100"),
])
def test_path_styles(param: Param, value: Any, text: str) -> None:
    assert path_text(param, value) == text


def test_header_and_cookie_styles() -> None:
    assert header_text(_p("header"), LuaArray([3, 4.5])) == "3,4.5"
    assert header_text(_p("header"), OBJ) == "G,200,R,100"
    assert header_text(_p("header", explode=True), OBJ) == "G=200,R=100"
    assert header_text(_p("header"), LuaArray()) is None  # an empty list sends no header
    assert cookie_pairs(_p("cookie"), "a;b c") == [("c", "a%3Bb%20c")]
    assert cookie_pairs(_p("cookie"), LuaArray(["a", "b"])) == [("c", "a"), ("c", "b")]  # form: exploded
    assert cookie_pairs(_p("cookie", explode=False), LuaArray(["a,", "b"])) == [("c", "a%2C,b")]
    assert cookie_pairs(_p("cookie"), OBJ) == [("G", "200"), ("R", "100")]


# -- validation ---------------------------------------------------------------------------------------------------

def test_validation_names_the_function_the_parameter_and_the_expectation() -> None:
    op = _op([{"name": "X-Ids", "in": "header", "schema": {"type": "array", "items": {"type": "string"}}},
              {"name": "f", "in": "query", "style": "deepObject", "schema": OBJECT},
              {"name": "tags", "in": "query", "style": "pipeDelimited", "schema": ARRAY},
              {"name": "lang", "in": "cookie", "required": True, "schema": {"type": "string"}}])
    with pytest.raises(ArgumentError) as info:
        validate_args(op, {"x_ids": LuaArray(["ok", "caf\u00e9"]), "f": {"a": LuaArray(["x"])},
                           "tags": LuaArray(["a|b"])}, function="t.op")
    assert info.value.problems == [
        "parameter 'x_ids' must be printable ASCII text (it is sent as a header)",
        "parameter 'f.a' expects a string, number or boolean (it is sent as text in the query), got an array",
        "parameter 'tags' cannot send \"a|b\": its values are joined by '|', so a value may not contain '|'",
        "missing required parameter 'lang' (cookie, string)",
    ]
    args = validate_args(op, {"x_ids": LuaArray(["a", "b"]), "lang": "en"}, function="t.op")
    assert (args.headers, args.cookies) == ({"X-Ids": ["a", "b"]}, {"lang": "en"})


def test_binary_body_is_given_whole() -> None:
    op = _op([], {"required": True, "content": {"application/octet-stream": {}}})
    with pytest.raises(ArgumentError, match="missing required parameter 'body' \\(body, file sent as "
                                            "application/octet-stream\\)"):
        validate_args(op, {}, function="t.op")
    with pytest.raises(ArgumentError, match="unknown argument 'content'"):
        validate_args(op, {"content": "x"}, function="t.op")
    with pytest.raises(ArgumentError, match="pass the file as \\{body = ...\\}"):
        validate_args(op, "photo.jpg", function="t.op")
    assert validate_args(op, {"body": b"\x00raw"}, function="t.op").body == b"\x00raw"


# -- basic and cookie auth in the HTTP layer ----------------------------------------------------------------------

USER, PASSWORD = "ann_USER_canary", "pw_SECRET:canary/42"
TOKEN = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


def test_auth_scheme_parsing_and_secret_fields() -> None:
    basic = AuthScheme.parse({"scheme": "basic"})
    assert (basic.kind, basic.credential, basic.username) == ("basic", "password", "username")
    assert AuthScheme.parse({"scheme": "cookie:sid"}) == AuthScheme("cookie", "sid", "api_key")
    with pytest.raises(ConfigError, match="bearer, basic, header:<Name>, query:<name> or cookie:<name>"):
        AuthScheme.parse({"scheme": "digest"})
    info = replace(load_integration(ROOT / "integrations" / "replicate"), auth=basic)
    assert is_secret_field("username", info) and is_secret_field("password", info)
    assert not is_secret_field("username", load_integration(ROOT / "integrations" / "replicate"))


def test_cookie_credential_joins_the_request_cookies_and_replaces_a_smuggled_one() -> None:
    info = replace(load_integration(ROOT / "integrations" / "replicate"), auth=AuthScheme("cookie", "sid", "api_key"))
    headers = [("Accept", "*/*"), ("Cookie", "lang=en; sid=forged; seen=a,b")]
    assert with_auth_headers(headers, [("Cookie", "sid=real")], info) == [
        ("Accept", "*/*"), ("Cookie", "lang=en; seen=a,b; sid=real")]
    assert with_auth_headers([("Cookie", "sid=forged")], [], info) == []  # auth=False: still never forwarded


def _client(auth: AuthScheme, fields: dict[str, Any], secret: str | None, seen: list[Any],
            reply: tuple[int, bytes] = (200, b"{}")) -> Any:
    import httpx

    from kosmo_lua.net import HttpClient

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(reply[0], content=reply[1], headers={"Content-Type": "application/json"})

    info = replace(load_integration(ROOT / "integrations" / "replicate"), auth=auth)
    account = Account(integration="replicate", name="shop", base_url="https://api.invalid/v1",
                      secret=Secret(secret) if secret else None, fields=fields)
    return HttpClient(account, info, transport=httpx.MockTransport(handler))


def test_basic_auth_is_sent_and_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[Any] = []
    echo = f'{{"detail": "no {USER} / {PASSWORD} / Basic {TOKEN}"}}'.encode()
    with _client(AuthScheme.parse({"scheme": "basic"}), {"username": Secret(USER)}, PASSWORD, seen,
                 (401, echo)) as client:
        raw = client.send(RequestSpec(operation="t.op", method="GET", path="/me",
                                      headers=(("Authorization", "Basic forged"),)), deadline=None)
    assert [r.headers.get_list("authorization") for r in seen] == [[f"Basic {TOKEN}"]]
    assert raw.body == b'{"detail": "no *** / *** / Basic ***"}'
    assert caplog.records
    for text in (caplog.text, repr(raw), raw.url):
        assert USER not in text and PASSWORD not in text and TOKEN not in text


def test_basic_auth_without_a_user_name_says_what_to_set() -> None:
    seen: list[Any] = []
    with _client(AuthScheme.parse({"scheme": "basic"}), {}, PASSWORD, seen) as client, \
            pytest.raises(CredentialsMissing) as info:
        client.send(RequestSpec(operation="t.op", method="GET", path="/me"), deadline=None)
    assert "t.op: no username for replicate account 'shop'" in str(info.value)
    assert "kosmo integrations:configure replicate --account shop --set username=..." in str(info.value)
    with _client(AuthScheme.parse({"scheme": "basic"}), {"username": Secret("a:b")}, PASSWORD, seen) as client, \
            pytest.raises(CredentialsMissing, match="contains ':'"):
        client.send(RequestSpec(operation="t.op", method="GET", path="/me"), deadline=None)
    assert seen == []  # nothing went out
