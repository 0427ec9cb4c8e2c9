"""Golden tests: Lua-style arguments -> the exact request, for every operation of every generated table.

Cases live in tests/golden/<integration>.yaml (format described at the top of each file). The tables are the
committed operations.yaml files, so these tests need no spec; tables of hand-written documents (``FIXTURE_SPECS``)
are generated here with the Lua names the importer gives them.
"""

from __future__ import annotations

import base64
import email.parser
import functools
import email.policy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from kosmo_lua.ops.files import resolve_file_inputs
from kosmo_lua.ops.multipart import parse_multipart
from kosmo_lua.ops.request import build_request
from kosmo_lua.ops.spec import RequestSpec
from kosmo_lua.ops.table import OperationTable, load_table
from kosmo_lua.ops.validate import validate_args
from kosmo_lua.sandbox.values import JSON_NULL, LuaArray

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).resolve().parent / "golden"
#: Golden files whose table comes from a hand-written document rather than a bundled integration.
FIXTURE_SPECS = {"bazaar": Path(__file__).resolve().parent / "fixtures" / "import" / "bazaar-3.1.yaml"}
INTEGRATIONS = sorted(p.stem for p in GOLDEN.glob("*.yaml")
                      if (ROOT / "integrations" / p.stem / "operations.yaml").exists() or p.stem in FIXTURE_SPECS)


class _CaseLoader(yaml.SafeLoader):
    """YAML -> the plain data a Lua call produces: lists are arrays, !null is json.null."""


def _array(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> LuaArray:
    return LuaArray(loader.construct_sequence(node, deep=True))


_CaseLoader.add_constructor("tag:yaml.org,2002:seq", _array)
_CaseLoader.add_constructor("!null", lambda loader, node: JSON_NULL)
_CaseLoader.add_constructor("!empty_array", lambda loader, node: LuaArray())


def load_cases(integration: str) -> list[dict[str, Any]]:
    return yaml.load((GOLDEN / f"{integration}.yaml").read_text(encoding="utf-8"), Loader=_CaseLoader)


@functools.lru_cache(maxsize=None)
def _table(integration: str) -> OperationTable:
    if integration in FIXTURE_SPECS:
        from kosmo_lua.importer import derive_names
        from kosmo_lua.ops.generate import generate_table, load_spec

        spec, _ = load_spec(FIXTURE_SPECS[integration])
        names = {"operations": {key: {"name": name} for key, name in derive_names(spec).items()}}
        return generate_table(spec, names, integration)
    return load_table(ROOT / "integrations" / integration / "operations.yaml")


def run_case(table: OperationTable, case: dict[str, Any], cwd: Path) -> RequestSpec:
    for name, content in (case.get("files") or {}).items():
        target = cwd / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content if isinstance(content, bytes) else str(content).encode("utf-8"))
    op = table.by_name()[case["call"]]
    function = f"{table.integration}.{case['call']}"
    args = validate_args(op, case.get("args"), function=function)
    args = resolve_file_inputs(op, args, function=function, cwd=cwd)
    return build_request(op, args, integration=table.integration)


def _plain(value: Any) -> Any:
    """Golden expectations compare as ordinary JSON-like data."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return None if value is JSON_NULL else value


def check_request(spec: RequestSpec, expect: dict[str, Any]) -> None:
    assert spec.method == expect["method"]
    assert spec.path == expect["path"]
    assert [list(pair) for pair in spec.query] == _plain(expect.get("query") or [])
    if "url_query" in expect:  # the query string as the HTTP layer writes it (percent-encoding included)
        from kosmo_lua.net.urls import build_url

        url = build_url("https://api.invalid", spec.path, spec.query, absolute_url=None, operation=spec.operation)
        assert url.partition("?")[2] == expect["url_query"]
    assert list(spec.headers) == list((expect.get("headers") or {}).items())
    body_keys = [k for k in ("json", "text", "multipart", "raw", "body_base64") if k in expect]
    if not body_keys:
        assert spec.body is None and spec.content_type is None
        return
    assert spec.body is not None
    if "content_type" in expect:
        assert spec.content_type == expect["content_type"]
    if "raw" in expect:
        assert spec.body.decode("utf-8") == expect["raw"]
    if "body_base64" in expect:  # a binary body: the exact bytes
        assert spec.body == base64.b64decode(expect["body_base64"])
    if "json" in expect:
        assert spec.content_type == "application/json"
        assert json.loads(spec.body) == _plain(expect["json"])
    if "text" in expect:
        assert spec.body.decode("utf-8") == expect["text"]
    if "multipart" in expect:
        assert spec.content_type is not None and spec.content_type.startswith("multipart/form-data; boundary=")
        got = [
            {"name": p.name, "filename": p.filename, "content_type": p.content_type, "content": p.content}
            for p in parse_multipart(spec.body, spec.content_type)
        ]
        want = []
        for part in expect["multipart"]:
            content = (base64.b64decode(part["content_base64"]) if "content_base64" in part
                       else str(part["content"]).encode("utf-8"))
            want.append({"name": part["name"], "filename": part.get("filename"),
                         "content_type": part.get("content_type"), "content": content})
        assert got == want


def _case_params() -> list[Any]:
    params = []
    for integration in INTEGRATIONS:
        for case in load_cases(integration):
            params.append(pytest.param(integration, case, id=f"{integration}:{case['id']}"))
    return params


@pytest.mark.parametrize(("integration", "case"), _case_params())
def test_golden_case(integration: str, case: dict[str, Any], tmp_path: Path) -> None:
    spec = run_case(_table(integration), case, tmp_path)
    check_request(spec, case["expect"])
    assert spec.operation == f"{integration}.{_table(integration).by_name()[case['call']].name}"


@pytest.mark.parametrize("integration", INTEGRATIONS)
def test_every_operation_has_a_golden_case(integration: str) -> None:
    table = _table(integration)
    index = table.by_name()
    covered = {index[case["call"]].name for case in load_cases(integration)}
    missing = sorted(op.name for op in table.operations if op.name not in covered)
    assert not missing, f"operations without a golden case in tests/golden/{integration}.yaml: {missing}"


@pytest.mark.parametrize("integration", INTEGRATIONS)
def test_golden_case_ids_are_unique(integration: str) -> None:
    ids = [case["id"] for case in load_cases(integration)]
    assert len(ids) == len(set(ids))


def test_replicate_golden_covers_all_37_operations() -> None:
    assert "replicate" in INTEGRATIONS
    assert len(_table("replicate").operations) == 37


def _multipart_cases() -> list[Any]:
    return [pytest.param(i, c, id=f"{i}:{c['id']}") for i in INTEGRATIONS for c in load_cases(i)
            if "multipart" in c["expect"]]


@pytest.mark.parametrize(("integration", "case"), _multipart_cases())
def test_multipart_bodies_read_the_same_with_the_stdlib_parser(integration: str, case: dict[str, Any],
                                                               tmp_path: Path) -> None:
    """An independent reader (the email package) sees the same parts: the encoding is standard, not ours."""
    spec = run_case(_table(integration), case, tmp_path)
    assert spec.body is not None and spec.content_type is not None
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + spec.content_type.encode() + b"\r\n\r\n" + spec.body)
    assert message.is_multipart()
    seen = []
    for part in message.iter_parts():
        seen.append((part.get_param("name", header="content-disposition"), part.get_filename(),
                     part.get_payload(decode=True)))
    ours = [(p.name, p.filename, p.content) for p in parse_multipart(spec.body, spec.content_type)]
    assert seen == ours


@pytest.mark.parametrize(("integration", "case"), _multipart_cases())
def test_multipart_bodies_are_deterministic(integration: str, case: dict[str, Any], tmp_path: Path) -> None:
    first = run_case(_table(integration), case, tmp_path)
    second = run_case(_table(integration), case, tmp_path)
    assert first.body == second.body and first.content_type == second.content_type
    boundary = first.content_type.split("boundary=", 1)[1]  # type: ignore[union-attr]
    for part in parse_multipart(first.body, first.content_type):  # type: ignore[arg-type]
        assert boundary.encode() not in part.content


# -- protocol features on a hand-written document (tests/fixtures/garden-3.0.yaml) -------------------------------------

@functools.lru_cache(maxsize=None)
def _garden() -> dict[str, Any]:
    from kosmo_lua.ops.generate import generate_table, load_spec

    spec, _ = load_spec(Path(__file__).resolve().parent / "fixtures" / "garden-3.0.yaml")
    return {op.operation_id: op for op in generate_table(spec, {}, "garden").operations}


def _build(op_id: str, args: Any, cwd: Path | None = None) -> RequestSpec:
    op = _garden()[op_id]
    normalised = validate_args(op, args, function=f"garden.{op.name}")
    normalised = resolve_file_inputs(op, normalised, function=f"garden.{op.name}", cwd=cwd)
    return build_request(op, normalised, integration="garden")


def test_query_arrays_repeat_and_booleans_are_words() -> None:
    spec = _build("beds.list", {"tag": ["sunny", "raised"], "include_empty": False, "page_size": 50,
                                "x_request_tag": "nightly"})
    assert spec.query == (("tag", "sunny"), ("tag", "raised"), ("include_empty", "false"), ("page_size", "50"))
    assert spec.headers == (("X-Request-Tag", "nightly"),)


def test_accept_argument_replaces_the_default_accept_header() -> None:
    assert _build("beds.get", {"bed_id": "b1"}).headers == (("Accept", "application/json"),)
    assert _build("beds.get", {"bed_id": "b1", "accept": "text/markdown"}).headers == (("Accept", "text/markdown"),)


def test_url_encoded_form() -> None:
    spec = _build("sessions.create", {"username": "ann lee", "password": "p&ss=w0rd!", "remember": True,
                                      "scopes": ["beds:read", "beds:write"]})
    assert spec.content_type == "application/x-www-form-urlencoded"
    assert spec.body == (b"username=ann+lee&password=p%26ss%3Dw0rd%21&remember=true"
                         b"&scopes=beds%3Aread&scopes=beds%3Awrite")


def test_multipart_rules_for_files_numbers_objects_and_nulls(tmp_path: Path) -> None:
    (tmp_path / "bed.jpg").write_bytes(b"\xff\xd8\xff\xe0jpeg")
    spec = _build("beds.photo.upload", {
        "bed_id": "b/1", "photo": "bed.jpg", "extra_photos": [b"\x00raw", {"content": "t", "filename": "n.txt"}],
        "caption": "spring", "taken_at": JSON_NULL, "location": {"lat": 51.5, "lon": -0.12},
    }, tmp_path)
    assert spec.method == "PUT" and spec.path == "/beds/b%2F1/photo"
    parts = [(p.name, p.filename, p.content_type, p.content)
             for p in parse_multipart(spec.body, spec.content_type)]  # type: ignore[arg-type]
    assert parts == [
        ("photo", "bed.jpg", "image/jpeg", b"\xff\xd8\xff\xe0jpeg"),
        ("extra_photos", "file", "application/octet-stream", b"\x00raw"),
        ("extra_photos", "n.txt", "text/plain", b"t"),
        ("caption", None, None, b"spring"),
        ("location", None, None, b'{"lat":51.5,"lon":-0.12}'),
    ]  # taken_at = json.null is not sent


def test_whole_body_against_a_non_object_schema() -> None:
    spec = _build("tags.replace", {"body": ["a", "b"]})
    assert (spec.body, spec.content_type) == (b'["a","b"]', "application/json")
    spec = _build("tags.replace", {"body": {}})  # an empty table where the schema says array
    assert spec.body == b"[]"


def test_text_body_and_integer_path_parameter() -> None:
    spec = _build("notes.create", {"body": "Water the tomatoes.\n"})
    assert (spec.body, spec.content_type) == (b"Water the tomatoes.\n", "text/plain")
    assert _build("exports.download", {"export_id": 42.0}).path == "/exports/42"


def test_build_request_never_sends_unresolved_files() -> None:
    op = _garden()["beds.photo.upload"]
    normalised = validate_args(op, {"bed_id": "b", "photo": "bed.jpg"}, function="garden.x")
    with pytest.raises(ValueError, match="run resolve_file_inputs first"):
        build_request(op, normalised, integration="garden")
