"""The OpenAPI -> operation table generator, on the real Replicate document (when present) and on two small
hand-written documents (tests/fixtures): OpenAPI 3.0 in YAML and 3.1 in JSON."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from kosmo_lua.errors import ConfigError
from kosmo_lua.ops.generate import generate_integration, generate_table, load_spec, render_table
from kosmo_lua.ops.naming import snake_case, title_alias
from kosmo_lua.ops.table import OperationTable, load_table, table_from_data

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT.parent / "shared" / "specs"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
REPLICATE = ROOT / "integrations" / "replicate"


def _replicate_spec() -> Path:
    return _spec_of("replicate")


def _committed() -> OperationTable:
    return load_table(REPLICATE / "operations.yaml")


# -- Replicate ---------------------------------------------------------------------------------------------------------

def _spec_of(integration: str) -> Path:
    path = SPECS / f"{integration}-openapi.json"
    if not path.is_file():
        pytest.skip(f"{integration}'s OpenAPI document is not at {path} (the shared specs folder is absent)")
    return path


@pytest.mark.parametrize("integration", ["replicate", "stability"])
def test_committed_operations_yaml_is_current(integration: str, tmp_path: Path) -> None:
    spec = _spec_of(integration)
    folder = ROOT / "integrations" / integration
    work = tmp_path / integration
    work.mkdir()
    (work / "names.yaml").write_bytes((folder / "names.yaml").read_bytes())
    generate_integration(work, spec)
    fresh = (work / "operations.yaml").read_text(encoding="utf-8")
    committed = (folder / "operations.yaml").read_text(encoding="utf-8")
    assert fresh == committed, (f"operations.yaml is stale: run `kosmo integrations:generate {integration} "
                                f"--spec ../shared/specs/{integration}-openapi.json`")


def test_every_spec_operation_is_in_the_table() -> None:
    spec, _ = load_spec(_replicate_spec())
    ids = {op["operationId"] for item in spec["paths"].values() for m, op in item.items() if isinstance(op, dict)
           and m in ("get", "post", "put", "patch", "delete", "query", "head")}
    table = _committed()
    assert len(ids) == 37
    assert {op.operation_id for op in table.operations} == ids


CANONICAL_AND_ALIAS = {
    "get_account": "get_authenticated_account",
    "create_model_prediction": "create_prediction_using_official_model",
    "create_deployment_prediction": "create_prediction_using_deployment",
    "search_models": "search_public_models",
    "list_models": "list_public_models",
    "get_collection": "get_collection_models",
    "list_collections": "list_collections_models",
    "list_hardware": "list_available_hardware_models",
    "list_model_examples": "list_examples_model",
    "get_default_webhook_secret": "get_signing_secret_default_webhook",
    "update_model": "update_metadata_model",
    "search": "search_models_collections_and_docs_beta",
}
ONE_NAME = [
    "list_deployments", "create_deployment", "get_deployment", "update_deployment", "delete_deployment",
    "list_files", "create_file", "get_file", "delete_file", "download_file", "create_model", "get_model",
    "delete_model", "get_model_readme", "list_model_versions", "get_model_version", "delete_model_version",
    "list_predictions", "create_prediction", "get_prediction", "cancel_prediction", "list_trainings",
    "create_training", "get_training", "cancel_training",
]


def test_both_names_answer() -> None:
    table = _committed()
    index = table.by_name()
    for canonical, alias in CANONICAL_AND_ALIAS.items():
        assert index[canonical] is index[alias], canonical
        assert index[canonical].name == canonical
        assert index[canonical].aliases == (alias,)
    for name in ONE_NAME:
        assert index[name].name == name and index[name].aliases == ()
    assert sorted(op.name for op in table.operations) == sorted([*CANONICAL_AND_ALIAS, *ONE_NAME])


def test_replicate_operation_facts() -> None:
    index = _committed().by_name()
    search = index["search_models"]
    assert (search.method, search.path, search.access) == ("QUERY", "/models", "read")
    assert search.body is not None and (search.body.encoding, search.body.content_type) == ("text", "text/plain")
    assert index["search"].auth is False and index["get_account"].auth is True
    assert index["cancel_prediction"].access == "write"
    assert index["get_model_readme"].response.kind == "text"
    assert index["download_file"].response.kind == "binary"
    assert index["delete_model"].response.kind == "empty" and index["delete_model"].response.statuses == (204,)
    assert index["delete_model_version"].response.statuses == (202,)
    create = index["create_prediction"]
    assert create.response.statuses == (201, 202)
    assert create.response.schema_ref == "schemas_prediction_response"
    assert create.body is not None and create.body.required and not create.body.additional_properties
    prefer = create.param("prefer")
    assert prefer is not None and prefer is create.param("Prefer")
    assert (prefer.name, prefer.location, prefer.pattern) == ("Prefer", "header", "^wait(=([1-9]|[1-9][0-9]|60))?$")
    assert create.param("cancel_after").name == "Cancel-After"  # type: ignore[union-attr]
    assert index["create_file"].body.encoding == "multipart"  # type: ignore[union-attr]
    content = index["create_file"].body.fields[0]  # type: ignore[union-attr]
    assert (content.name, content.type, content.required) == ("content", "binary", True)
    assert index["create_file"].extra == {"file_filename_from": "filename", "file_content_type_from": "type"}
    filter_field = {f.name: f for f in create.body.fields}["webhook_events_filter"]
    assert filter_field.items == "string" and filter_field.items_enum == ("start", "output", "logs", "completed")
    deploy = {f.name: f for f in index["create_deployment"].body.fields}  # type: ignore[union-attr]
    assert (deploy["max_instances"].minimum, deploy["max_instances"].maximum) == (0, 20)
    sort_by = index["list_models"].param("sort_by")
    assert sort_by.enum == ("model_created_at", "latest_version_created_at")  # type: ignore[union-attr]
    assert sort_by.default == "latest_version_created_at"  # type: ignore[union-attr]
    assert index["get_account"].full_name == "replicate.replicate_get_account"


def test_replicate_hand_decisions_are_complete() -> None:
    families = {"account", "predictions", "models", "deployments", "files", "trainings", "collections",
                "hardware", "webhooks", "search"}
    for op in _committed().operations:
        assert op.family in families, op.name
        assert op.summary and op.description, op.name
        assert op.example.startswith("local replicate = app.integrations.replicate\n"), op.name
        assert f"replicate.{op.name}(" in op.example, op.name
        for p in op.params:
            assert p.description, (op.name, p.name)
        for f in op.body.fields if op.body else ():
            assert f.description, (op.name, f.name)


def _prose(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("description", "summary") and isinstance(value, str) and len(value) > 25:
                found.add(value.strip())
            _prose(value, found)
    elif isinstance(node, list):
        for item in node:
            _prose(item, found)


@pytest.mark.parametrize("integration", ["replicate", "stability"])
def test_no_spec_prose_reaches_the_committed_table(integration: str) -> None:
    spec, _ = load_spec(_spec_of(integration))
    prose: set[str] = set()
    _prose(spec, prose)
    text = (ROOT / "integrations" / integration / "operations.yaml").read_text(encoding="utf-8")
    names = (ROOT / "integrations" / integration / "names.yaml").read_text(encoding="utf-8")
    flat = " ".join(text.split())
    copied = [p for p in prose if " ".join(p.split())[:60] in flat or p[:60] in names]
    assert not copied, f"spec prose copied into the repo: {copied[:3]}"


def test_render_is_deterministic_and_round_trips() -> None:
    spec, raw = load_spec(_replicate_spec())
    names = yaml.safe_load((REPLICATE / "names.yaml").read_text(encoding="utf-8"))
    first = generate_table(copy.deepcopy(spec), names, "replicate", source={"file": "x.json", "sha256": "0"})
    second = generate_table(copy.deepcopy(spec), names, "replicate", source={"file": "x.json", "sha256": "0"})
    assert render_table(first) == render_table(second)
    text = render_table(first)
    assert text.startswith("# GENERATED by `kosmo integrations:generate replicate` from x.json (sha256 0). "
                           "DO NOT EDIT: change names.yaml and regenerate.\n")
    assert table_from_data(yaml.safe_load(text)) == first


def test_committed_header_names_the_spec_and_digest() -> None:
    first = (REPLICATE / "operations.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert re.fullmatch(r"# GENERATED by `kosmo integrations:generate replicate` from replicate-openapi\.json "
                        r"\(sha256 [0-9a-f]{64}\)\. DO NOT EDIT: change names\.yaml and regenerate\.", first)


# -- Stability ---------------------------------------------------------------------------------------------------------

STABILITY_NAMES = {
    "get_account": (), "get_balance": (), "generate_core": ("generate_core_image",),
    "generate_ultra": ("generate_ultra_image",), "generate_sd3": ("generate_sd3_image",),
    "inpaint": ("inpaint_image",), "erase": ("erase_image_area",), "remove_background": (),
    "control_structure": (), "upscale_fast": ("fast_upscale",), "upscale_creative": ("creative_upscale",),
    "get_creative_upscale_result": (), "get_result": (), "image_to_video": ("image_video",),
    "get_video_result": (),
}


def test_stability_table() -> None:
    spec, _ = load_spec(_spec_of("stability"))
    table = load_table(ROOT / "integrations" / "stability" / "operations.yaml")
    assert {op.operation_id for op in table.operations} == {
        op["operationId"] for item in spec["paths"].values() for op in item.values()}
    assert {op.name: op.aliases for op in table.operations} == STABILITY_NAMES
    for op in table.operations:
        # authorization / content-type / accept are the engine's: never Lua arguments.
        assert not {p.name.lower() for p in op.params} & {"authorization", "content-type", "accept"}, op.name
        assert op.summary and op.description and op.example.startswith("local stability = app.integrations.stability")
        for p in op.params:
            assert p.description, (op.name, p.name)
        if op.method == "POST":
            assert op.body is not None and op.body.encoding == "multipart", op.name
            for f in op.body.fields:
                assert f.description, (op.name, f.name)
    index = table.by_name()
    core = index["generate_core"]
    assert core.headers == {"Accept": "image/*"} and core.response.accept == ("image/*", "application/json")
    assert core.response.kind == "media"
    assert core.response.header_fields == {"finish_reason": "finish-reason", "seed": "seed"}
    assert core.response.json_fields["image"] == "body_base64"
    assert [f.name for f in core.body.fields if f.required] == ["prompt"]  # type: ignore[union-attr]
    assert {f.name: f.type for f in index["inpaint"].body.fields}["mask"] == "binary"  # type: ignore[union-attr]
    assert index["upscale_creative"].response.kind == "json" and index["upscale_creative"].headers == {}
    assert index["get_result"].headers == {"Accept": "*/*"}
    assert index["get_result"].response.statuses == (200, 202)
    assert index["get_video_result"].response.json_fields["video"] == "body_base64"
    assert index["get_balance"].param("organization").name == "Organization"  # type: ignore[union-attr]
    assert index["generate_core"].param("stability_client_id").location == "header"  # type: ignore[union-attr]


# -- naming ------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("summary", "alias"), [
    ("Get a collection of models", "get_collection_models"),
    ("List available hardware for models", "list_available_hardware_models"),
    ("Search models, collections, and docs (beta)", "search_models_collections_and_docs_beta"),
    ("Get a model's README", "get_model_readme"),
    ("Get the signing secret for the default webhook", "get_signing_secret_default_webhook"),
    ("Get the model\u2019s README", "get_model_readme"),
    ("3D: render a scene", "_3d_render_scene"),
    ("The a an of", ""),
])
def test_title_alias(summary: str, alias: str) -> None:
    assert title_alias(summary) == alias


@pytest.mark.parametrize(("name", "snake"), [
    ("Cancel-After", "cancel_after"), ("Prefer", "prefer"), ("stability-client-id", "stability_client_id"),
    ("pageSize", "page_size"), ("X-RateLimit-Reset", "x_rate_limit_reset"), ("HTTPCode", "http_code"),
])
def test_snake_case(name: str, snake: str) -> None:
    assert snake_case(name) == snake


# -- hand-written fixtures ---------------------------------------------------------------------------------------------

def _fixture(name: str, names: dict[str, Any] | None = None) -> OperationTable:
    spec, _ = load_spec(FIXTURES / name)
    return generate_table(spec, names or {}, "garden" if "garden" in name else "kiln")


def test_openapi_30_yaml_fixture() -> None:
    table = _fixture("garden-3.0.yaml")
    assert table.title == "Garden Planner API" and table.source["openapi"] == "3.0.3"
    assert table.source["version"] == "2.1"  # a quoted YAML string stays a string
    ops = {op.operation_id: op for op in table.operations}
    listing = ops["beds.list"]
    assert listing.name == "list_garden_beds" and listing.family == "beds"
    params = {p.name: p for p in listing.params}
    assert (params["session"].location, params["session"].type) == ("cookie", "string")
    assert (params["tag"].type, params["tag"].items) == ("array", "string")
    assert params["page_size"].maximum == 99  # exclusiveMaximum: true on an integer
    assert params["X-Request-Tag"].lua_name == "x_request_tag"  # $ref to components/parameters
    assert params["X-Request-Tag"].pattern == "^[a-z]+$"
    assert listing.response.schema_ref == "BedPage"

    create = ops["beds.create"]  # requestBody $ref, allOf of a $ref and an inline object
    fields = {f.name: f for f in create.body.fields}  # type: ignore[union-attr]
    assert list(fields) == ["name", "width_cm", "soil", "notes", "plants"]  # readOnly id left out
    assert fields["name"].required and fields["width_cm"].required and not fields["soil"].required
    assert (fields["name"].min_length, fields["name"].max_length) == (1, 40)
    assert fields["width_cm"].minimum == 11  # 3.0 exclusiveMinimum: true
    assert fields["soil"].enum == ("loam", "clay", "sand") and fields["soil"].default == "loam"
    assert fields["notes"].nullable  # 3.0 nullable: true
    assert fields["plants"].items == "object" and fields["plants"].schema["items"]["properties"]["species"]
    assert create.body.additional_properties is False  # type: ignore[union-attr]
    assert create.response.statuses == (201,)

    get = ops["beds.get"]  # path-level parameter; Authorization and Accept header parameters are the engine's
    assert [p.name for p in get.params] == ["bed_id"]
    assert get.params[0].description == "Which bed." and get.params[0].required
    assert get.response.accept == ("application/json", "text/markdown")
    assert get.headers == {"Accept": "application/json"}

    assert ops["beds.delete"].response.kind == "empty" and ops["beds.delete"].access == "write"
    assert ops["beds.plan"].response.kind == "text"  # text/markdown
    photo = ops["beds.photo"].response
    assert (photo.kind, photo.content_type) == ("media", "image/png")
    assert photo.header_fields == {"x_taken_at": "x-taken-at"}  # Content-Length is about transfer, left out
    upload = ops["beds.photo.upload"]
    ufields = {f.name: f for f in upload.body.fields}  # type: ignore[union-attr]
    assert upload.body.encoding == "multipart"  # type: ignore[union-attr]
    assert ufields["photo"].type == "binary" and ufields["photo"].required
    assert (ufields["extra_photos"].type, ufields["extra_photos"].items) == ("array", "binary")
    assert ufields["taken_at"].nullable and ufields["caption"].max_length == 80
    assert upload.response.kind == "empty" and upload.response.statuses == (202,)
    assert ops["exports.download"].response.kind == "binary"
    assert ops["exports.download"].params[0].type == "integer"
    session = ops["sessions.create"]
    assert session.auth is False  # security: []
    assert session.body.encoding == "form"  # type: ignore[union-attr]
    assert session.body.content_type == "application/x-www-form-urlencoded"  # type: ignore[union-attr]
    note = ops["notes.create"].body
    assert note is not None and note.encoding == "text" and note.required and note.description == "The note text."
    tree = ops["tree.replace"].body
    children = {f.name: f for f in tree.fields}["children"]  # type: ignore[union-attr]
    assert children.schema["items"]["properties"]["children"]["items"] == {"x-recursive": "Area"}  # cycle cut
    assert tree.required is False  # type: ignore[union-attr]
    tags = ops["tags.replace"].body
    assert tags is not None and tags.fields == () and tags.schema == {"type": "array", "items": {"type": "string"}}


def test_openapi_31_json_fixture() -> None:
    table = _fixture("kiln-3.1.json")
    ops = {op.operation_id: op for op in table.operations}
    listing = ops["listFirings"]
    cursor, cone = listing.params
    assert cursor.description == "Where the page starts (overrides the shared text)."  # $ref sibling wins
    assert (cone.type, cone.minimum, cone.maximum) == ("integer", 1, 12)  # type list with null; 3.1 exclusiveMaximum
    assert listing.response.statuses == (200,) and listing.response.schema_ref == "FiringPage"  # "2XX" via $ref
    start = ops["startFiring"]
    fields = {f.name: f for f in start.body.fields}  # type: ignore[union-attr]
    assert fields["notes"].nullable and fields["notes"].type == "string"
    assert fields["owner"].type == "object" and fields["owner"].nullable  # oneOf [$ref, null]
    assert start.response.statuses == (201, 202)
    adjust = ops["adjustFiring"]
    assert [(p.name, p.lua_name, p.required) for p in adjust.params] == [
        ("firing_id", "firing_id", True), ("Idempotency-Key", "idempotency_key", True)]  # op-level overrides
    assert adjust.body.encoding == "json"  # type: ignore[union-attr]
    assert adjust.body.content_type == "application/merge-patch+json"  # type: ignore[union-attr]
    afields = {f.name: f for f in adjust.body.fields}  # type: ignore[union-attr]
    assert afields["hold_minutes"].type == "integer" and afields["hold_minutes"].nullable  # anyOf with null
    assert (afields["mode"].type, afields["mode"].enum) == ("string", ("manual",))  # const
    assert ops["getFiringLog"].response.kind == "text"
    assert ops["getTimelapse"].response.kind == "media"
    glaze = {f.name: f for f in ops["uploadGlaze"].body.fields}  # type: ignore[union-attr]
    assert glaze["tile"].type == "binary"  # 3.1 contentMediaType
    assert glaze["recipe_base64"].type == "string"  # base64 text stays text
    ping = ops["ping"]
    assert (ping.method, ping.access, ping.auth) == ("HEAD", "read", False)  # security: [{}] = anonymous allowed


def test_names_yaml_decisions_apply() -> None:
    names = {
        "spec_text": False,
        "drop_params": ["X-Request-Tag"],
        "descriptions": {"bed_id": "The bed, by its ID."},
        "operations": {
            "beds.list": {"name": "list_beds", "aliases": ["beds"], "family": "planning", "summary": "Our words.",
                          "params": {"tag": "Tags to keep."}},
            "beds.get": {"name": "get_bed", "title_alias": False, "headers": {"X-Extra": "1"}},
            "beds.photo": {"name": "get_bed_photo", "response": {"header_fields": {"taken": "x-taken-at"}},
                           "extra": {"async": True}},
            "tree.get": {"skip": True},
            "notes.create": {"access": "read", "auth": False, "body_description": "What to write."},
        },
    }
    table = _fixture("garden-3.0.yaml", names)
    ops = {op.operation_id: op for op in table.operations}
    assert "tree.get" not in ops
    listing = ops["beds.list"]
    assert (listing.name, listing.family, listing.summary) == ("list_beds", "planning", "Our words.")
    assert listing.aliases == ("list_garden_beds", "beds")
    assert listing.full_name == "garden.garden_list_beds"
    assert [p.name for p in listing.params] == ["tag", "include_empty", "page_size", "session"]
    assert listing.params[0].description == "Tags to keep." and listing.params[1].description == ""
    get = ops["beds.get"]
    assert get.aliases == () and get.headers == {"Accept": "application/json", "X-Extra": "1"}
    assert get.params[0].description == "The bed, by its ID."
    assert ops["beds.photo"].response.header_fields == {"taken": "x-taken-at"}
    assert ops["beds.photo"].extra == {"async": True}
    note = ops["notes.create"]
    assert (note.access, note.auth) == ("read", False)
    assert note.body is not None and note.body.description == "What to write."
    assert ops["beds.plan"].summary == "GET /beds/{bed_id}/plan"  # spec_text false: no copied summary


@pytest.mark.parametrize(("names", "message"), [
    ({"operations": {"nope.get": {"name": "x"}}}, "names.yaml names operations the spec does not have"),
    ({"operations": {"beds.list": {"nmae": "x"}}}, "unknown keys ['nmae']"),
    ({"bogus": 1}, "unknown keys ['bogus']"),
    ({"operations": {"beds.list": {"name": "get_bed"}, "beds.get": {"name": "get_bed"}}},
     "the name 'get_bed' is given to both"),
    ({"operations": {"beds.list": {"name": "end"}}}, "is not a usable Lua name"),
    ({"operations": {"beds.list": {"access": "sometimes"}}}, "access must be read or write"),
    ({"operations": {"beds.create": {"body_content_type": "application/xml"}}}, "body_content_type"),
])
def test_bad_names_yaml_is_a_clear_config_error(names: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        _fixture("garden-3.0.yaml", names)


def _mini(paths: dict[str, Any], components: dict[str, Any] | None = None, version: str = "3.1.0") -> dict:
    return {"openapi": version, "info": {"title": "t", "version": "1"}, "paths": paths,
            "components": components or {}}


def test_circular_ref_chain_is_refused() -> None:
    spec = _mini({"/a": {"get": {"operationId": "a", "responses": {"200": {"$ref": "#/components/responses/X"}}}}},
                 {"responses": {"X": {"$ref": "#/components/responses/Y"}, "Y": {"$ref": "#/components/responses/X"}}})
    with pytest.raises(ConfigError, match="circular \\$ref"):
        generate_table(spec, {}, "t")


@pytest.mark.parametrize(("spec", "message"), [
    ({"swagger": "2.0", "paths": {}}, "only OpenAPI 3.0 and 3.1"),
    (_mini({"/a/{id}": {"get": {"operationId": "a", "responses": {}}}}), "path placeholders ['id']"),
    (_mini({"/a": {"get": {"operationId": "a", "parameters": [{"$ref": "other.yaml#/P"}], "responses": {}}}}),
     "only references inside the document"),
    (_mini({"/a": {"get": {"operationId": "a", "parameters": [{"$ref": "#/components/parameters/Missing"}],
                           "responses": {}}}}), "points to nothing"),
    (_mini({"/a": {"get": {"operationId": "a", "responses": {}}}, "/b": {"get": {"operationId": "a",
                                                                               "responses": {}}}}),
     "operationId 'a' is used twice"),
    (_mini({"/a": {"post": {"operationId": "a", "requestBody": {"content": {"application/xml": {
        "schema": {"type": "object"}}}}, "responses": {}}}}), "not supported"),
    (_mini({"/a": {"get": {"operationId": "a", "parameters": [
        {"name": "ids", "in": "query", "style": "matrix", "schema": {"type": "array"}}], "responses": {}}}}),
     "style 'matrix' is not supported in query (supported: form, spaceDelimited, pipeDelimited, deepObject)"),
    (_mini({"/a": {"get": {"operationId": "a", "parameters": [
        {"name": "ids", "in": "query", "style": "deepObject", "schema": {"type": "array"}}], "responses": {}}}}),
     "style deepObject needs an object schema"),
    (_mini({"/a": {"get": {"operationId": "a", "parameters": [
        {"name": "x-y", "in": "query"}, {"name": "x_y", "in": "query"}], "responses": {}}}}),
     "share the name 'x_y'"),
    (_mini({"/a": {"get": {"operationId": "a", "parameters": [{"name": "save_to", "in": "query"}],
                           "responses": {"200": {"content": {"image/png": {}}}}}}}),
     "collide with engine-level arguments"),
])
def test_bad_documents_are_clear_config_errors(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        generate_table(spec, {}, "t")


def test_derived_aliases_that_clash_are_left_out() -> None:
    spec = _mini({
        "/a": {"get": {"operationId": "a", "summary": "List things", "responses": {}}},
        "/b": {"get": {"operationId": "b", "summary": "List the things", "responses": {}}},
        "/c": {"get": {"operationId": "c", "summary": "Get stuff", "responses": {}}},
    })
    names = {"operations": {"a": {"name": "list_a"}, "b": {"name": "list_b"}, "c": {"name": "list_things"}}}
    ops = {op.operation_id: op for op in generate_table(spec, names, "t").operations}
    # a and b both derive "list_things", which c owns explicitly: neither gets it; c keeps its own alias.
    assert ops["a"].aliases == () and ops["b"].aliases == () and ops["c"].aliases == ("get_stuff",)


def test_spec_text_true_copies_spec_words_for_generic_integrations() -> None:
    table = _fixture("garden-3.0.yaml")
    plan = {op.operation_id: op for op in table.operations}["beds.plan"]
    assert plan.summary == "Get the bed's planting plan as Markdown"


def test_generate_integration_writes_file_and_reads_yaml_or_json(tmp_path: Path) -> None:
    folder = tmp_path / "garden"
    folder.mkdir()
    (folder / "names.yaml").write_text("operations:\n  beds.list: {name: list_beds}\n", encoding="utf-8")
    table = generate_integration(folder, FIXTURES / "garden-3.0.yaml")
    assert table.integration == "garden"
    assert table.source["file"] == "garden-3.0.yaml" and len(table.source["sha256"]) == 64
    assert load_table(folder / "operations.yaml") == table
    # The same document as JSON gives the same operations.
    spec, _ = load_spec(FIXTURES / "garden-3.0.yaml")
    as_json = tmp_path / "garden.json"
    as_json.write_text(json.dumps(spec), encoding="utf-8")
    again = generate_integration(folder, as_json, write=False)
    assert again.operations == table.operations


def test_yaml_dates_stay_text(tmp_path: Path) -> None:
    doc = tmp_path / "dated.yaml"
    doc.write_text("openapi: 3.0.0\ninfo: {title: t, version: 2024-01-01}\npaths: {}\n", encoding="utf-8")
    assert generate_table(load_spec(doc)[0], {}, "t").source["version"] == "2024-01-01"


def test_unreadable_spec_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("openapi: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="neither valid JSON nor valid YAML"):
        load_spec(bad)
    with pytest.raises(ConfigError, match="cannot read spec"):
        load_spec(tmp_path / "missing.json")


# -- the CLI command ---------------------------------------------------------------------------------------------------

def _cli(args: list[str]) -> int:
    from kosmo_lua.cli import generate_cmd

    return generate_cmd.run(generate_cmd.build_parser("kosmo integrations:generate").parse_args(args))


def test_cli_errors_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert _cli(["no-such-integration", "--spec", str(FIXTURES / "garden-3.0.yaml")]) == 2
    assert "unknown integration 'no-such-integration'" in capsys.readouterr().err
    assert _cli(["replicate"]) == 2
    assert "pass --spec PATH" in capsys.readouterr().err
    assert _cli(["replicate", "--spec", str(tmp_path / "absent.json")]) == 2
    assert "no such spec file" in capsys.readouterr().err


def test_cli_check_reports_current_table(capsys: pytest.CaptureFixture[str]) -> None:
    spec = _replicate_spec()
    before = (REPLICATE / "operations.yaml").read_bytes()
    assert _cli(["replicate", "--spec", str(spec), "--check"]) == 0
    assert "up to date (37 operations)" in capsys.readouterr().out
    assert (REPLICATE / "operations.yaml").read_bytes() == before  # --check writes nothing
