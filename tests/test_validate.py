"""Argument validation: every problem is collected, each message names the function, the parameter and what was
expected; nothing but ArgumentError ever comes out."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kosmo_lua.errors import ArgumentError
from kosmo_lua.ops.files import resolve_file_inputs
from kosmo_lua.ops.request import build_request
from kosmo_lua.ops.table import Body, BodyField, Operation, OperationTable, Param, Response, load_table
from kosmo_lua.ops.validate import NormalisedArgs, accepted_arguments, engine_argument_names, validate_args
from kosmo_lua.sandbox.values import JSON_NULL, LuaArray

ROOT = Path(__file__).resolve().parents[1]
TABLE: OperationTable = load_table(ROOT / "integrations" / "replicate" / "operations.yaml")
OPS = TABLE.by_name()


def problems(name: str, args: Any) -> list[str]:
    with pytest.raises(ArgumentError) as info:
        validate_args(OPS[name], args, function=f"replicate.{name}")
    assert info.value.function == f"replicate.{name}"
    assert str(info.value).startswith(f"replicate.{name}: ")
    return info.value.problems


def ok(name: str, args: Any) -> NormalisedArgs:
    return validate_args(OPS[name], args, function=f"replicate.{name}")


# -- the shape of the arguments ----------------------------------------------------------------------------------------

def test_non_table_arguments() -> None:
    with pytest.raises(ArgumentError) as info:
        validate_args(OPS["get_prediction"], "abc", function="replicate.get_prediction")
    assert str(info.value) == "replicate.get_prediction: expected a table of arguments, got string"
    assert info.value.data["kind"] == "argument" and info.value.data["function"] == "replicate.get_prediction"
    assert problems("get_prediction", 5) == ["expected a table of arguments, got number"]
    assert problems("get_prediction", True) == ["expected a table of arguments, got boolean"]
    assert problems("search_models", "cats") == [
        'expected a table of arguments, got string (pass the text as {body = "..."})']
    assert problems("get_prediction", LuaArray(["abc"])) == [
        "expected a table of named arguments ({name = value, ...}), got an array"]


def test_no_arguments_when_nothing_is_required() -> None:
    for args in (None, {}, LuaArray()):
        assert ok("list_hardware", args) == NormalisedArgs()
        assert ok("list_models", args).query == {}


def test_positional_values_are_refused() -> None:
    assert problems("get_prediction", {1: "abc", "prediction_id": "x"}) == [
        "unexpected positional value at [1] (arguments are named: {name = value})"]


# -- required, empty and unknown ---------------------------------------------------------------------------------------

def test_missing_required_parameter() -> None:
    with pytest.raises(ArgumentError) as info:
        validate_args(OPS["cancel_prediction"], {}, function="replicate.cancel_prediction")
    assert str(info.value) == "replicate.cancel_prediction: missing required parameter 'prediction_id' (path, string)"
    assert problems("cancel_prediction", None) == ["missing required parameter 'prediction_id' (path, string)"]


@pytest.mark.parametrize("value", ["", ".", ".."])
def test_path_parameter_cannot_be_empty_or_a_dot_segment(value: str) -> None:
    [problem] = problems("cancel_prediction", {"prediction_id": value})
    assert problem.startswith("parameter 'prediction_id' ")
    assert "URL path" in problem


def test_unknown_argument_lists_accepted_with_did_you_mean() -> None:
    [problem] = problems("create_prediction", {"version": "v", "input": {}, "inptu": {}})
    assert problem == ("unknown argument 'inptu'. Did you mean 'input'? Accepted: prefer, cancel_after, input, "
                       "stream, version, webhook, webhook_events_filter, body")
    [problem] = problems("get_account", {"verbose": True})
    assert problem == "unknown argument 'verbose'. Accepted: none (call it with no arguments)"


def test_unknown_argument_prompt_suggestion() -> None:
    op = Operation(name="generate", aliases=(), full_name="x.x_generate", operation_id="g", method="POST",
                   path="/g", access="write", summary="",
                   body=Body(required=True, encoding="multipart", content_type="multipart/form-data",
                             fields=(BodyField("prompt", "string", required=True), BodyField("seed", "integer"))))
    with pytest.raises(ArgumentError) as info:
        validate_args(op, {"promt": "a cat"}, function="stability.generate")
    assert info.value.problems == [
        "unknown argument 'promt'. Did you mean 'prompt'? Accepted: prompt, seed, body",
        "missing required parameter 'prompt' (body, string)",
    ]


def test_every_problem_is_collected() -> None:
    got = problems("create_deployment", {"max_instances": "3", "min_instances": 9, "nmae": "x", "hardware": 1})
    assert got == [
        "unknown argument 'nmae'. Did you mean 'name'? Accepted: hardware, max_instances, min_instances, model, "
        "name, version, body",
        "parameter 'hardware' expects a string, got integer 1",
        "parameter 'max_instances' expects an integer, got string \"3\"",
        "parameter 'min_instances' must be at most 5, got 9",
        "missing required parameter 'model' (body, string)",
        "missing required parameter 'name' (body, string)",
        "missing required parameter 'version' (body, string)",
    ]


# -- types, enums, ranges, patterns ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "message"), [
    ("3", "parameter 'max_instances' expects an integer, got string \"3\""),
    (2.5, "parameter 'max_instances' expects an integer, got number 2.5"),
    (True, "parameter 'max_instances' expects an integer, got boolean true"),
    ({}, "parameter 'max_instances' expects an integer, got an empty table"),
    (JSON_NULL, "parameter 'max_instances' expects an integer, got json.null"),
    (-1, "parameter 'max_instances' must be at least 0, got -1"),
    (21, "parameter 'max_instances' must be at most 20, got 21"),
    (math.inf, "parameter 'max_instances' expects an integer, got number inf"),
])
def test_integer_field_messages(value: Any, message: str) -> None:
    args = {"deployment_owner": "a", "deployment_name": "b", "max_instances": value}
    assert problems("update_deployment", args) == [message]


def test_integral_float_becomes_int() -> None:
    args = ok("update_deployment", {"deployment_owner": "a", "deployment_name": "b", "max_instances": 3.0})
    assert args.body == {"max_instances": 3} and type(args.body["max_instances"]) is int


def test_enum_with_suggestion() -> None:
    assert problems("list_models", {"sort_by": "model_create_at"}) == [
        "parameter 'sort_by' must be one of \"model_created_at\", \"latest_version_created_at\"; got "
        "\"model_create_at\". Did you mean \"model_created_at\"?"]


def test_array_items_are_checked_by_position() -> None:
    got = problems("create_prediction", {"version": "v", "input": {}, "webhook_events_filter": ["start", "done", 3]})
    assert got == [
        "parameter 'webhook_events_filter'[2] must be one of \"start\", \"output\", \"logs\", \"completed\"; "
        "got \"done\"",
        "parameter 'webhook_events_filter'[3] expects a string, got integer 3",
    ]
    assert problems("create_prediction", {"version": "v", "input": {}, "webhook_events_filter": {"a": 1}}) == [
        "parameter 'webhook_events_filter' expects an array (a list table), got a table with named keys"]


def test_header_pattern_and_both_spellings() -> None:
    base = {"model_owner": "a", "model_name": "b", "input": {}}
    assert ok("create_model_prediction", {**base, "prefer": "wait=60"}).headers == {"Prefer": "wait=60"}
    assert ok("create_model_prediction", {**base, "Prefer": "wait"}).headers == {"Prefer": "wait"}
    assert ok("create_model_prediction", {**base, "Cancel-After": "5m"}).headers == {"Cancel-After": "5m"}
    [problem] = problems("create_model_prediction", {**base, "prefer": "wait=0"})
    assert problem == ("parameter 'prefer' must match the pattern ^wait(=([1-9]|[1-9][0-9]|60))?$, got string "
                       "\"wait=0\"")
    [problem] = problems("create_model_prediction", {**base, "prefer": "wait", "Prefer": "wait"})
    assert re.fullmatch(r"parameter 'prefer' is given twice \(as '(prefer|Prefer)' and '(prefer|Prefer)'\)", problem)
    [problem] = problems("create_model_prediction", {**base, "cancel_after": "5m\r\nX-Evil: 1"})
    assert problem == "parameter 'cancel_after' must not contain line breaks (it is sent as a header)"


def test_null_and_binary_values_in_json() -> None:
    got = problems("create_prediction", {"version": "v", "input": {"image": b"\x89PNG\xff", "n": math.nan}})
    assert got == [
        "parameter 'input.image' is binary data (5 bytes, not UTF-8 text), which cannot be sent as JSON text",
        "parameter 'input.n' is nan, which JSON cannot carry",
    ]
    assert ok("create_prediction", {"version": "v", "input": {"seed": JSON_NULL}}).body["input"] == {"seed": JSON_NULL}
    assert problems("create_prediction", {"version": JSON_NULL, "input": {}}) == [
        "parameter 'version' expects a string, got json.null"]


def test_long_string_values_are_shortened_in_messages() -> None:
    [problem] = problems("update_deployment", {"deployment_owner": "a", "deployment_name": "b",
                                               "max_instances": "x" * 500})
    assert len(problem) < 150 and problem.endswith('..."')


# -- body: wrapper, loose fields, coercion -----------------------------------------------------------------------------

def test_body_wrapper_and_loose_fields_give_the_same_result() -> None:
    fields = {"version": "v", "input": {"text": "Alice"}, "stream": False}
    assert ok("create_prediction", fields).body == ok("create_prediction", {"body": fields}).body


def test_mixing_body_and_loose_fields_is_an_error() -> None:
    assert problems("create_prediction", {"body": {"version": "v", "input": {}}, "stream": True}) == [
        "give the body either as body = {...} or as separate arguments, not both (got body and 'stream')"]


def test_body_must_be_a_table_or_text() -> None:
    assert problems("create_prediction", {"body": "x"}) == [
        "parameter 'body' expects a table of body fields, got string \"x\""]
    assert problems("search_models", {"body": {"q": 1}}) == [
        "parameter 'body' expects a string (the request text), got a table"]
    assert problems("search_models", {}) == ["missing required parameter 'body' (body, string: the request text)"]
    assert ok("search_models", {"body": "image generation"}).body == "image generation"


def test_unknown_fields_inside_body() -> None:
    # create_prediction's schema forbids extra fields; create_model's allows them (sent as they are).
    assert problems("create_prediction", {"body": {"version": "v", "input": {}, "inptu": 1}}) == [
        "unknown body field 'inptu'. Did you mean 'input'? Accepted: input, stream, version, webhook, "
        "webhook_events_filter"]
    body = ok("create_model", {"body": {"owner": "a", "name": "b", "visibility": "public", "hardware": "cpu",
                                        "future_field": [1, 2]}}).body
    assert body["future_field"] == [1, 2]
    assert list(body)[:4] == ["hardware", "name", "owner", "visibility"]  # declared fields first, spec order


def test_required_fields_apply_when_the_body_is_required() -> None:
    assert problems("create_prediction", {}) == [
        "missing required parameter 'input' (body, object)", "missing required parameter 'version' (body, string)"]


def test_optional_body_left_out_sends_nothing() -> None:
    assert ok("update_model", {"model_owner": "a", "model_name": "b"}).body is None
    assert ok("update_model", {"model_owner": "a", "model_name": "b", "body": {}}).body == {}


def test_empty_tables_follow_the_schema() -> None:
    args = ok("create_prediction", {"version": "v", "input": LuaArray(), "webhook_events_filter": {}})
    assert args.body["input"] == {} and not isinstance(args.body["input"], list)
    assert args.body["webhook_events_filter"] == [] and isinstance(args.body["webhook_events_filter"], LuaArray)
    assert problems("create_prediction", {"version": "v", "input": LuaArray([1, 2])}) == [
        "parameter 'input' expects an object (a table with named keys), got an array"]


def test_nested_empty_tables_follow_the_stored_schema() -> None:
    schema = {"type": "object", "properties": {"tags": {"type": "array"}, "meta": {"type": "object"}}}
    op = Operation(name="put", aliases=(), full_name="x.x_put", operation_id="p", method="PUT", path="/p",
                   access="write", summary="",
                   body=Body(required=True, encoding="json", content_type="application/json",
                             fields=(BodyField("doc", "object", schema=schema),)))
    args = validate_args(op, {"doc": {"tags": {}, "meta": LuaArray(), "other": {}}}, function="x.put")
    assert args.body["doc"] == {"tags": [], "meta": {}, "other": {}}
    assert isinstance(args.body["doc"]["tags"], LuaArray) and not isinstance(args.body["doc"]["meta"], list)


def test_binary_field_accepts_file_forms_only() -> None:
    for value in ("photo.png", b"\x00\x01", {"content": "x", "filename": "a.txt"}, {"path": "a"},
                  {"content_type": "image/png", "body_base64": "AA=="}):
        assert ok("create_file", {"content": value}).body["content"] == value
    [problem] = problems("create_file", {"content": 42})
    assert problem == ("parameter 'content' expects a file (a path, raw bytes, {content = ..., filename = ...} or a "
                       "media table), got integer 42")
    assert problems("create_file", {"content": {"name": "x"}}) == [
        "parameter 'content' expects a file (a path, raw bytes, {content = ..., filename = ...} or a media table), "
        "got a table"]


def test_string_length_limits() -> None:
    [problem] = problems("create_file", {"content": b"x", "filename": "f" * 256})
    assert problem == "parameter 'filename' must be at most 255 characters, got 256"


# -- engine-level arguments --------------------------------------------------------------------------------------------

MEDIA_OP = Operation(
    name="render", aliases=(), full_name="x.x_render", operation_id="r", method="POST", path="/render",
    access="write", summary="",
    body=Body(required=True, encoding="multipart", content_type="multipart/form-data",
              fields=(BodyField("prompt", "string", required=True),)),
    response=Response(kind="media", content_type="image/png", accept=("image/*", "application/json")),
    headers={"Accept": "image/*"},
)


def test_engine_arguments_apply_only_where_they_mean_something() -> None:
    assert engine_argument_names(MEDIA_OP.response) == ("save_to", "overwrite", "accept")
    assert engine_argument_names(OPS["download_file"].response) == ("save_to", "overwrite")
    assert engine_argument_names(OPS["get_prediction"].response) == ()
    assert "save_to" in accepted_arguments(MEDIA_OP)
    args = validate_args(MEDIA_OP, {"prompt": "a cat", "save_to": "out/cat.png", "overwrite": True,
                                    "accept": "application/json"}, function="x.render")
    assert args.engine == {"save_to": "out/cat.png", "overwrite": True, "accept": "application/json"}
    assert args.body == {"prompt": "a cat"}  # never sent as fields
    [problem] = problems("get_prediction", {"prediction_id": "p", "save_to": "x.json"})
    assert problem.startswith("unknown argument 'save_to'.")


def test_engine_argument_types() -> None:
    with pytest.raises(ArgumentError) as info:
        validate_args(MEDIA_OP, {"prompt": "a", "save_to": 5, "overwrite": "yes", "accept": "image/png"},
                      function="x.render")
    assert info.value.problems == [
        "parameter 'save_to' expects a file path (a non-empty string), got integer 5",
        "parameter 'overwrite' expects a boolean, got string \"yes\"",
        "parameter 'accept' must be one of \"image/*\", \"application/json\"; got \"image/png\". "
        "Did you mean \"image/*\"?",
    ]
    with pytest.raises(ArgumentError, match="'overwrite' only applies together with save_to"):
        validate_args(MEDIA_OP, {"prompt": "a", "overwrite": True}, function="x.render")


def test_query_parameters_of_every_type() -> None:
    op = Operation(name="find", aliases=(), full_name="x.x_find", operation_id="f", method="GET", path="/f",
                   access="read", summary="",
                   params=(Param("tags", "query", "tags", type="array", items="string"),
                           Param("limit", "query", "limit", type="integer", minimum=1),
                           Param("ratio", "query", "ratio", type="number"),
                           Param("all", "query", "all", type="boolean")))
    args = validate_args(op, {"tags": ["a", "b"], "limit": 2.0, "ratio": 1, "all": False}, function="x.find")
    assert args.query == {"tags": ["a", "b"], "limit": 2, "ratio": 1, "all": False}
    spec = build_request(op, args, integration="x")
    assert spec.query == (("tags", "a"), ("tags", "b"), ("limit", "2"), ("ratio", "1"), ("all", "false"))
    with pytest.raises(ArgumentError) as info:
        validate_args(op, {"tags": "a", "limit": 0, "ratio": "1", "all": 1}, function="x.find")
    assert info.value.problems == [
        "parameter 'tags' expects an array (a list table), got string \"a\"",
        "parameter 'limit' must be at least 1, got 0",
        "parameter 'ratio' expects a number, got string \"1\"",
        "parameter 'all' expects a boolean, got integer 1",
    ]


# -- nothing but ArgumentError, whatever a script passes ---------------------------------------------------------------

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                     st.text(max_size=12), st.binary(max_size=8), st.just(JSON_NULL))
_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3).map(LuaArray),
    st.dictionaries(st.one_of(st.text(max_size=8), st.integers(1, 3)), inner, max_size=3)), max_leaves=8)


def _names_for(op: Operation) -> list[str]:
    return [*accepted_arguments(op), *(p.name for p in op.params), "promt", "x"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_plain_data_gives_a_request_or_an_argument_error(data: st.DataObject, tmp_path: Path) -> None:
    op = data.draw(st.sampled_from(TABLE.operations))
    args = data.draw(st.one_of(_values, st.dictionaries(st.sampled_from(_names_for(op)), _values, max_size=5)))
    function = f"replicate.{op.name}"
    try:
        normalised = validate_args(op, args, function=function)
        normalised = resolve_file_inputs(op, normalised, function=function, cwd=tmp_path)
    except ArgumentError as exc:
        assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)
        assert str(exc).startswith(function + ": ")
        return
    spec = build_request(op, normalised, integration="replicate")
    assert spec.method == op.method and "//" not in spec.path and "{" not in spec.path
