"""`kosmo integrations:call`, `integrations:list`, `integrations:docs` as subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = {**os.environ, "KOSMO_HOME": str(tmp_path / "home")}
    for var in ("REPLICATE_API_TOKEN", "STABILITY_API_KEY", "KOSMO_OFFLINE"):
        e.pop(var, None)
    return e


def kosmo(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kosmo_lua", *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=60)


def test_call_with_args_prints_the_result(env: dict[str, str]) -> None:
    proc = kosmo(env, "integrations:call", "replicate.get_model", "--arg", "model_owner=black-forest-labs",
                 "--arg", "model_name=flux-schnell", "--offline")
    assert proc.returncode == 0, proc.stderr
    model = json.loads(proc.stdout)
    assert model["owner"] == "black-forest-labs" and model["name"] == "flux-schnell"


def test_call_with_args_json_and_nested_arg_keys(env: dict[str, str]) -> None:
    proc = kosmo(env, "integrations:call", "replicate.create_model_prediction", "--offline", "--force", "--json",
                 "--args-json", '{"model_owner": "black-forest-labs", "model_name": "flux-schnell"}',
                 "--arg", "input.prompt=a fox", "--arg", "input.num_outputs=2")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["success"] is True
    prediction = data["result"][0]
    assert prediction["input"] == {"prompt": "a fox", "num_outputs": 2}
    assert data["integration_calls"][0]["path"] == "replicate.create_model_prediction"
    assert data["meta"]["permission_bypassed"] is True


def test_call_arguments_are_data_not_code(env: dict[str, str]) -> None:
    # A value that closes the JSON literal's brackets and tries to run Lua must arrive as plain text.
    evil = ']] ]=] ]==] error("injected") --'
    proc = kosmo(env, "integrations:call", "replicate.get_prediction", "--arg", f"prediction_id={evil}",
                 "--offline", "--json")
    data = json.loads(proc.stdout)
    assert "injected" not in (data["error"] or "").replace(evil, "")
    assert data["integration_calls"][0]["http_status"] == 404


def test_call_refused_write_and_validation_errors(env: dict[str, str]) -> None:
    refused = kosmo(env, "integrations:call", "replicate.cancel_prediction", "--arg", "prediction_id=x",
                    "--offline")
    assert refused.returncode == 1
    assert "--force" in refused.stderr
    missing = kosmo(env, "integrations:call", "replicate.cancel_prediction", "--offline", "--force")
    assert missing.returncode == 1
    assert "missing required parameter 'prediction_id'" in missing.stderr
    bad = kosmo(env, "integrations:call", "not a path!")
    assert bad.returncode == 2
    badjson = kosmo(env, "integrations:call", "replicate.get_account", "--args-json", "[1, 2]")
    assert badjson.returncode == 2 and "JSON object" in badjson.stderr


def test_list_shows_integrations_and_counts(env: dict[str, str]) -> None:
    proc = kosmo(env, "integrations:list", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    assert rows["replicate"]["functions"] == 37
    assert rows["stability"]["functions"] == 15
    assert rows["replicate"]["emulator"] is True
    human = kosmo(env, "integrations:list")
    assert "replicate" in human.stdout and "37 functions" in human.stdout


def test_docs_command_reads_searches_and_lists(env: dict[str, str]) -> None:
    page = kosmo(env, "integrations:docs", "replicate.create_prediction_using_official_model")
    assert page.returncode == 0
    assert page.stdout.startswith("# replicate.create_model_prediction")
    assert "| `prefer` (`Prefer`) | header |" in page.stdout
    search = kosmo(env, "integrations:docs", "--search", "cancel", "--json")
    names = [hit["name"] for hit in json.loads(search.stdout)]
    assert "replicate.cancel_prediction" in names
    unknown = kosmo(env, "integrations:docs", "replicate.cancel_predictoin")
    assert unknown.returncode == 2
    assert "replicate.cancel_prediction" in unknown.stderr
    listing = kosmo(env, "integrations:docs", "--list", "replicate", "--json")
    assert len(json.loads(listing.stdout)) >= 37


def test_docs_inside_lua_find_operation_pages(env: dict[str, str]) -> None:
    code = """
        local hits = docs.search("cancel")
        local names = {}
        for _, h in ipairs(hits) do names[#names + 1] = h.name end
        local page = docs.read("integrations.replicate.cancel_prediction")
        local overview = docs.read("replicate")
        return table.concat(names, ","), page:match("^[^\\n]+"), overview:find("get_authenticated_account", 1, true) ~= nil
    """
    proc = kosmo(env, "integrations:lua", "--eval", code, "--json")
    result = json.loads(proc.stdout)["result"]
    assert "replicate.cancel_prediction" in result[0].split(",")
    assert result[1] == "# replicate.cancel_prediction"
    assert result[2] is True
