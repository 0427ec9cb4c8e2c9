"""Rules between arguments (``kosmo_lua.ops.rules``), declared as data in names.yaml and carried by the operation
table: the generator stores them, the table refuses malformed ones when it loads, the validator refuses a call that
breaks one (with every other problem, and nothing is sent), docs pages, agent tool descriptions and editor stubs
say them, and the Stability emulator (the API's stand-in) refuses the same calls over HTTP.
"""

from __future__ import annotations

import copy
import json
import re
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from _kosmo_run import assert_no_crash, clean_env, envelope, kosmo, served
from kosmo_lua.agent.operation_tools import operation_specs
from kosmo_lua.emulate import load_emulator
from kosmo_lua.errors import ArgumentError, ConfigError
from kosmo_lua.ops.docgen import operation_page_body
from kosmo_lua.ops.generate import generate_table, load_spec, render_table
from kosmo_lua.ops.rules import Rule
from kosmo_lua.ops.table import Operation, load_table, table_from_data
from kosmo_lua.ops.validate import NormalisedArgs, validate_args

REPO = Path(__file__).resolve().parents[1]
FOLDER = REPO / "integrations" / "stability"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
KEY = "sk-TEST-rules-key-never-shown-0c31"
OPS = load_table(FOLDER / "operations.yaml").by_name()
ULTRA = "/v2beta/stable-image/generate/ultra"
SD3 = "/v2beta/stable-image/generate/sd3"
PATHS = {"generate_ultra": ULTRA, "generate_sd3": SD3}
IMAGE = "IMAGE"  # stands for an input image in the cases below: a real PNG wherever one is sent


def problems(function: str, args: dict[str, Any], op: Operation | None = None) -> list[str]:
    with pytest.raises(ArgumentError) as info:
        validate_args(op or OPS[function], args, function=f"stability.{function}")
    assert str(info.value).startswith(f"stability.{function}: ")
    return info.value.problems


def passes(function: str, args: dict[str, Any], op: Operation | None = None) -> NormalisedArgs:
    return validate_args(op or OPS[function], args, function=f"stability.{function}")


# -- the declared rules ------------------------------------------------------------------------------------------------

def test_stability_rules_are_in_the_table() -> None:
    assert OPS["generate_ultra"].rules == (Rule(when={"image": "present"}, require=("strength",)),)
    assert OPS["generate_sd3"].rules == (
        Rule(when={"mode": "image-to-image"}, require=("image", "strength"), forbid=("aspect_ratio",)),
        Rule(when={"mode": "text-to-image"}, forbid=("image", "strength")),
    )
    assert all(not op.rules for name, op in OPS.items() if name not in ("generate_ultra", "generate_ultra_image",
                                                                         "generate_sd3", "generate_sd3_image"))


# -- validation: each violation, with a clear message ------------------------------------------------------------------

#: (function, arguments, the rule problems expected; [] = valid). IMAGE is replaced by a file.
CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("generate_ultra", {"prompt": "a", "image": IMAGE},
     ["parameter 'strength' is required when 'image' is given"]),
    ("generate_ultra", {"prompt": "a", "image": IMAGE, "strength": 0.4}, []),
    ("generate_ultra", {"prompt": "a"}, []),
    ("generate_sd3", {"prompt": "a", "image": IMAGE},
     ["parameter 'image' is not accepted when 'mode' is \"text-to-image\" (the default)"]),
    ("generate_sd3", {"prompt": "a", "strength": 0.5},
     ["parameter 'strength' is not accepted when 'mode' is \"text-to-image\" (the default)"]),
    ("generate_sd3", {"prompt": "a", "mode": "text-to-image", "image": IMAGE, "strength": 0.5},
     ["parameter 'image' is not accepted when 'mode' is \"text-to-image\"",
      "parameter 'strength' is not accepted when 'mode' is \"text-to-image\""]),
    ("generate_sd3", {"prompt": "a", "mode": "image-to-image"},
     ["parameter 'image' is required when 'mode' is \"image-to-image\"",
      "parameter 'strength' is required when 'mode' is \"image-to-image\""]),
    ("generate_sd3", {"prompt": "a", "mode": "image-to-image", "image": IMAGE},
     ["parameter 'strength' is required when 'mode' is \"image-to-image\""]),
    ("generate_sd3", {"prompt": "a", "mode": "image-to-image", "image": IMAGE, "strength": 0.9,
                      "aspect_ratio": "16:9"},
     ["parameter 'aspect_ratio' is not accepted when 'mode' is \"image-to-image\""]),
    ("generate_sd3", {"prompt": "a", "mode": "image-to-image", "image": IMAGE, "strength": 0.9}, []),
    ("generate_sd3", {"prompt": "a", "mode": "text-to-image", "aspect_ratio": "16:9"}, []),
    ("generate_sd3", {"prompt": "a", "aspect_ratio": "9:16", "model": "sd3.5-medium"}, []),
]
CASE_IDS = [f"{fn}-{'+'.join(sorted(args))}-{'bad' if expect else 'ok'}" for fn, args, expect in CASES]


def _lua_args(args: dict[str, Any]) -> dict[str, Any]:
    return {k: ({"content": b"\x89PNG...", "filename": "in.png"} if v == IMAGE else v) for k, v in args.items()}


@pytest.mark.parametrize(("function", "args", "expected"), CASES, ids=CASE_IDS)
def test_validator_applies_the_rules(function: str, args: dict[str, Any], expected: list[str]) -> None:
    if expected:
        assert problems(function, _lua_args(args)) == expected
        # The same through body = {...}, and under the alias.
        assert problems(function, {"body": _lua_args(args)}) == expected
    else:
        assert passes(function, _lua_args(args)).body is not None


def test_rule_problems_come_with_every_other_problem() -> None:
    found = problems("generate_sd3", {"mode": "image-to-image", "strength": 3, "aspect_ratio": "17:9"})
    assert found == [
        "missing required parameter 'prompt' (body, string)",
        "parameter 'strength' must be at most 1, got 3",
        "parameter 'aspect_ratio' must be one of \"21:9\", \"16:9\", \"3:2\", \"5:4\", \"1:1\", \"4:5\", \"2:3\", "
        "\"9:16\", \"9:21\"; got \"17:9\". Did you mean \"21:9\"?",
        "parameter 'image' is required when 'mode' is \"image-to-image\"",
        "parameter 'aspect_ratio' is not accepted when 'mode' is \"image-to-image\"",
    ]
    # A mode outside the enum is reported once, as a bad value: no rule applies to it.
    assert problems("generate_sd3", {"prompt": "a", "mode": "img2img", "image": _lua_args({"i": IMAGE})["i"]}) == [
        "parameter 'mode' must be one of \"text-to-image\", \"image-to-image\"; got \"img2img\""]


def test_strength_alone_is_left_to_the_api_for_ultra() -> None:
    # The spec says strength is required with image; it does not say strength without image is refused.
    assert passes("generate_ultra", {"prompt": "a", "strength": 0.5}).body == {"prompt": "a", "strength": 0.5}


# -- the emulator agrees, over HTTP ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def stability() -> Any:
    return load_emulator(FOLDER, rate_limit=0)


def _png(stability: Any) -> bytes:
    return sys.modules[type(stability).__module__].png_image(64, 64, b"rul")


@pytest.mark.parametrize(("function", "args", "expected"), CASES, ids=CASE_IDS)
def test_the_emulator_refuses_the_same_calls(stability: Any, function: str, args: dict[str, Any],
                                             expected: list[str]) -> None:
    text = {k: str(v) for k, v in args.items() if v != IMAGE}
    files: dict[str, Any] = {k: ("in.png", _png(stability), "image/png") for k, v in args.items() if v == IMAGE}
    files = files or {"none": ("", b"")}  # keeps a text-only form multipart, as Stability's samples do
    with httpx.Client(transport=stability.transport(), base_url=stability.base_url,
                      headers={"Authorization": f"Bearer {KEY}", "Accept": "image/*"}) as client:
        response = client.post(PATHS[function], data=text, files=files)
    if not expected:
        assert response.status_code == 200, response.text
        return
    assert response.status_code == 400, response.text
    errors = response.json()["errors"]
    # Every parameter the validator names, the emulator names too (in Stability's "field: ..." form).
    named = sorted(re.match(r"parameter '([^']+)'", p).group(1) for p in expected)  # type: ignore[union-attr]
    assert sorted(e.split(":", 1)[0] for e in errors) == named


# -- end to end: refused before anything is sent -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("rules")
    (root / "work").mkdir()
    with served("stability") as emulator:
        emulator.run_env = clean_env({"KOSMO_HOME": str(root / "home"), "STABILITY_BASE_URL": emulator.server.base_url,
                                      "STABILITY_API_KEY": KEY})
        emulator.work = root / "work"
        emulator.png = _png(emulator)
        yield emulator


def _run(live: Any, code: str) -> dict[str, Any]:
    live.reset()
    (live.work / "in.png").write_bytes(live.png)
    proc = kosmo("integrations:lua", "--json", "--force", "-e", code, env=live.run_env, cwd=live.work)
    assert_no_crash(proc.stdout, proc.stderr)
    return envelope(proc)


def test_a_broken_rule_sends_nothing(live: Any) -> None:
    data = _run(live, """
local s = app.integrations.stability
local out = {}
for _, call in ipairs({
  { s.generate_ultra, { prompt = "a", image = "in.png" } },
  { s.generate_sd3_image, { prompt = "a", image = "in.png" } },
  { s.generate_sd3, { prompt = "a", mode = "image-to-image", image = "in.png", strength = 0.5, aspect_ratio = "1:1" } },
}) do
  local ok, err = pcall(call[1], call[2])
  out[#out + 1] = { ok = ok, kind = err.kind, problems = err.problems, message = tostring(err) }
end
return out
""")
    assert data["success"], data
    ultra, sd3, sd3_ratio = data["result"][0]
    assert ultra == {"ok": False, "kind": "argument", "problems": [
        "parameter 'strength' is required when 'image' is given"],
        "message": "stability.generate_ultra: parameter 'strength' is required when 'image' is given"}
    assert sd3["problems"] == ["parameter 'image' is not accepted when 'mode' is \"text-to-image\" (the default)"]
    assert sd3["message"].startswith("stability.generate_sd3: ")
    assert sd3_ratio["problems"] == ["parameter 'aspect_ratio' is not accepted when 'mode' is \"image-to-image\""]
    assert live.requests == []  # nothing reached the API


def test_a_call_that_keeps_the_rules_reaches_the_api(live: Any) -> None:
    data = _run(live, """
local s = app.integrations.stability
local a = s.generate_ultra({ prompt = "a", image = "in.png", strength = 0.3 })
local b = s.generate_sd3({ prompt = "a", mode = "image-to-image", image = "in.png", strength = 0.8 })
local c = s.generate_sd3({ prompt = "a", aspect_ratio = "16:9" })
return a.content_type, b.content_type, c.content_type
""")
    assert data["success"], data
    assert data["result"] == ["image/png", "image/png", "image/png"]
    assert [(r.method, r.path, r.status) for r in live.requests] == [
        ("POST", ULTRA, 200), ("POST", SD3, 200), ("POST", SD3, 200)]


# -- docs, agent tools, stubs ------------------------------------------------------------------------------------------

def test_docs_pages_say_the_rules() -> None:
    page = operation_page_body("stability", OPS["generate_sd3"])
    assert "- When `mode` is `\"image-to-image\"`: `image` and `strength` are required; `aspect_ratio` is not " \
           "accepted." in page
    assert "- When `mode` is `\"text-to-image\"` (the default, so also when `mode` is not given): `image` and " \
           "`strength` are not accepted." in page
    assert page.index("## Body") < page.index("Rules between the arguments") < page.index("## Result options")
    assert "- When `image` is given: `strength` is required." in operation_page_body("stability",
                                                                                     OPS["generate_ultra"])
    assert "Rules between" not in operation_page_body("stability", OPS["generate_core"])


def test_agent_tool_descriptions_and_stubs_say_the_rules() -> None:
    specs = {s.name: s for s in operation_specs(["stability"])}
    assert "When image is given: strength is required." in specs["stability_generate_ultra"].description
    assert 'When mode is "image-to-image": image and strength are required; aspect_ratio is not accepted.' in \
        specs["stability_generate_sd3"].description
    stubs = (REPO / "docs" / "stubs" / "stability.gen.lua").read_text(encoding="utf-8")
    assert stubs.count("---When `image` is given: `strength` is required.") == 2  # both names of generate_ultra


# -- the generator and the table: rules as data, malformed rules refused ----------------------------------------------

def _garden(rules: dict[str, list[Any]]) -> Any:
    spec, _ = load_spec(FIXTURES / "garden-3.0.yaml")
    names = {"operations": {op_id: {"rules": r} for op_id, r in rules.items()}}
    return generate_table(spec, names, "garden")


GARDEN_RULES = {
    "beds.create": [
        {"when": {"soil": "loam"}, "forbid": ["plants"]},                 # loam is the default
        {"when": {"soil": ["clay", "sand"], "notes": "absent"}, "require": ["plants"]},
    ],
    "beds.list": [
        {"when": {"X-Request-Tag": "present", "include_empty": True}, "require": ["page_size"]},
    ],
}


def test_rules_work_for_any_integration_and_defaults_count() -> None:
    table = _garden(GARDEN_RULES)
    ops = {op.operation_id: op for op in table.operations}
    create, listing = ops["beds.create"], ops["beds.list"]
    assert listing.rules[0].when == {"x_request_tag": "present", "include_empty": True}  # stored by Lua name
    plant = [{"species": "pea"}]
    assert problems("create", {"name": "n", "width_cm": 20, "plants": plant}, create) == [
        "parameter 'plants' is not accepted when 'soil' is \"loam\" (the default)"]
    assert problems("create", {"name": "n", "width_cm": 20, "soil": "sand"}, create) == [
        "parameter 'plants' is required when 'soil' is \"sand\" and 'notes' is not given"]
    passes("create", {"name": "n", "width_cm": 20, "soil": "sand", "notes": "x"}, create)
    passes("create", {"name": "n", "width_cm": 20, "soil": "clay", "plants": plant}, create)
    # Booleans compare as booleans: 1 is not true.
    assert problems("list", {"x_request_tag": "abc", "include_empty": True}, listing) == [
        "parameter 'page_size' is required when 'x_request_tag' is given and 'include_empty' is true"]
    assert problems("list", {"X-Request-Tag": "abc", "include_empty": True}, listing)
    passes("list", {"x_request_tag": "abc", "include_empty": False}, listing)
    passes("list", {"x_request_tag": "abc", "include_empty": True, "page_size": 5}, listing)
    # The table round-trips through operations.yaml with its rules.
    text = render_table(table)
    assert table_from_data(yaml.safe_load(text)) == table
    assert "  rules:\n  - when:\n      soil: loam\n    forbid:\n    - plants\n" in text


@pytest.mark.parametrize(("rule", "message"), [
    ({"when": {"strenght": "present"}, "require": ["image"]},
     "rule 1: when.strenght names 'strenght', which is not an argument of this operation. Did you mean 'strength'?"),
    ({"when": {"image": "present"}, "require": ["strenght"]},
     "rule 1: require names 'strenght', which is not an argument of this operation. Did you mean 'strength'?"),
    ({"when": {"image": "present"}, "forbid": ["colour"]}, "forbid names 'colour', which is not an argument"),
    ({"when": {"mode": "img2img"}, "require": ["image"]},
     "when.mode: \"img2img\" is not one of the argument's values (\"text-to-image\", \"image-to-image\")"),
    ({"when": {"image": "present"}, "require": ["strength"], "unless": {}}, "unknown rule keys ['unless']"),
    ({"when": {}, "require": ["strength"]}, "'when' must be a non-empty mapping"),
    ({"when": {"image": "present"}}, "a rule needs 'require' or 'forbid'"),
    ({"when": {"image": "present"}, "require": ["strength"], "forbid": ["strength"]},
     "['strength'] both required and forbidden"),
    ({"when": {"image": {"x": 1}}, "require": ["strength"]}, "when.image: expected present, absent, a value"),
    ({"when": {"image": "present"}, "require": "strength, seed"}, "'require' must be a list of argument names"),
    ("strength needs image", "a rule must be a mapping"),
])
def test_malformed_rules_are_load_errors(tmp_path: Path, rule: Any, message: str) -> None:
    data = yaml.safe_load((FOLDER / "operations.yaml").read_text(encoding="utf-8"))
    target = next(op for op in data["operations"] if op["name"] == "generate_sd3")
    target["rules"] = [rule]
    path = tmp_path / "operations.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_table(path)
    assert "operations table of 'stability': operation 'generate_sd3': rule 1" in str(info.value)
    assert message in str(info.value)


def test_malformed_rules_in_names_yaml_are_generate_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=re.escape(
            "names.yaml: operation 'beds.create': rule 2: require names 'plant', which is not an argument of this "
            "operation. Did you mean 'plants'? Arguments: name, width_cm, soil, notes, plants")):
        _garden({"beds.create": [{"when": {"soil": "loam"}, "forbid": ["plants"]},
                                 {"when": {"soil": "clay"}, "require": ["plant"]}]})
    with pytest.raises(ConfigError, match="rules must be a list of rules"):
        _garden({"beds.create": {"when": {"soil": "loam"}, "forbid": ["plants"]}})  # type: ignore[dict-item]
    # And through the command line: exit 2 with the message, no traceback.
    folder = tmp_path / "garden"
    folder.mkdir()
    (folder / "names.yaml").write_text(yaml.safe_dump(
        {"operations": {"beds.create": {"rules": [{"when": {"soils": "loam"}, "forbid": ["plants"]}]}}}))
    proc = kosmo("integrations:generate", str(folder), "--spec", str(FIXTURES / "garden-3.0.yaml"),
                 env=clean_env({"KOSMO_HOME": str(tmp_path / "home")}), cwd=tmp_path)
    assert_no_crash(proc.stdout, proc.stderr)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "when.soils names 'soils', which is not an argument of this operation. Did you mean 'soil'?" in proc.stderr
    assert not (folder / "operations.yaml").exists()


def test_a_table_with_a_broken_rule_fails_when_the_integration_loads(tmp_path: Path) -> None:
    """An installed integration whose table has a bad rule: a clear error on first use, not at call time."""
    home = tmp_path / "home"
    folder = home / "integrations" / "stability2"
    folder.mkdir(parents=True)
    info = yaml.safe_load((FOLDER / "integration.yaml").read_text(encoding="utf-8"))
    info.update(name="stability2", default_account={"env": {"api_key": "STABILITY2_API_KEY"}})
    info.pop("emulator", None)
    info.pop("helpers", None)
    (folder / "integration.yaml").write_text(yaml.safe_dump(info), encoding="utf-8")
    data = copy.deepcopy(yaml.safe_load((FOLDER / "operations.yaml").read_text(encoding="utf-8")))
    data["integration"] = "stability2"
    for op in data["operations"]:
        op["full_name"] = op["full_name"].replace("stability.stability_", "stability2.stability2_")
        if op["name"] == "generate_ultra":
            op["rules"] = [{"when": {"image": "present"}, "require": ["strenght"]}]
    (folder / "operations.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    for command in (["integrations:list"], ["integrations:docs", "stability2.generate_ultra"]):
        proc = kosmo(*command, env=clean_env({"KOSMO_HOME": str(home), "STABILITY2_API_KEY": KEY}), cwd=tmp_path)
        assert_no_crash(proc.stdout, proc.stderr)
        assert proc.returncode != 0
        assert ("operations table of 'stability2': operation 'generate_ultra': rule 1: require names 'strenght', "
                "which is not an argument of this operation. Did you mean 'strength'?") in proc.stderr, proc.stderr
    # ... and a script that reaches the integration reads the same message, not an "internal error".
    proc = kosmo("integrations:lua", "--json", "--eval", "return app.integrations.stability2.generate_ultra",
                 env=clean_env({"KOSMO_HOME": str(home), "STABILITY2_API_KEY": KEY}), cwd=tmp_path)
    assert_no_crash(proc.stdout, proc.stderr)
    envelope = json.loads(proc.stdout)
    assert proc.returncode == 1 and not envelope["success"]
    assert "internal error" not in envelope["error"]
    assert "rule 1: require names 'strenght'" in envelope["error"], envelope["error"]
