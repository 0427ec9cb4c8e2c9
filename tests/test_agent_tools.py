"""The agent tools as a Python API (AgentTools.call_tool) and `kosmo agent:tools`: real scripts in the supervised
worker, the built-in Replicate emulator for integration calls (offline), real config files for permissions."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from kosmo_lua.agent.formats import render_all
from kosmo_lua.agent.tools import AgentTools, ToolResult
from kosmo_lua.run.envelope import ENVELOPE_KEYS
from mcp_servers.harness import DEMO_SERVER, kosmo, require_mcp_wiring, server_entry, write_config

CORE = ["execute_lua", "lua_read_doc", "lua_list_docs", "lua_search_docs"]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("KOSMO_HOME", str(home))
    for name in ("REPLICATE_API_TOKEN", "KOSMO_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def tools(home: Path) -> Any:
    with AgentTools(offline=True) as instance:
        yield instance


def test_definitions_in_every_format(home: Path) -> None:
    specs = AgentTools().definitions()
    assert [s.name for s in specs] == CORE
    openai = render_all(specs, "openai")
    assert openai[0]["type"] == "function" and openai[0]["function"]["name"] == "execute_lua"
    assert openai[0]["function"]["parameters"]["required"] == ["code"]
    anthropic = render_all(specs, "anthropic")
    assert set(anthropic[1]) == {"name", "description", "input_schema"}
    assert anthropic[1]["input_schema"]["properties"]["page"]["type"] == "string"
    mcp = render_all(specs, "mcp")
    assert mcp[3]["inputSchema"]["properties"]["limit"]["default"] == 10
    assert [t["annotations"]["readOnlyHint"] for t in mcp] == [False, True, True, True]

    proc = kosmo("agent:tools", "--format", "anthropic", home=home)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == anthropic


def test_operation_tools_from_the_operation_tables(home: Path) -> None:
    proc = kosmo("agent:tools", "--format", "mcp", "--operations", home=home)
    assert proc.returncode == 0, proc.stderr
    tools = {t["name"]: t for t in json.loads(proc.stdout)}
    assert set(CORE) <= set(tools) and len(tools) > 30
    for name, tool in tools.items():
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name), name
        jsonschema.Draft202012Validator.check_schema(tool["inputSchema"])
    upload = tools["replicate_create_file"]
    assert upload["annotations"]["readOnlyHint"] is False
    content = upload["inputSchema"]["properties"]["content"]
    assert content["type"] == "string" and "local file path" in content["description"]
    models = tools["replicate_list_models"]["inputSchema"]
    assert models["properties"]["sort_direction"]["enum"] == ["asc", "desc"]
    assert models["additionalProperties"] is False
    assert tools["replicate_get_prediction"]["inputSchema"]["required"] == ["prediction_id"]
    assert tools["replicate_get_account"]["annotations"]["readOnlyHint"] is True

    bad = kosmo("agent:tools", "--format", "xml", home=home)
    assert bad.returncode == 2 and "invalid choice: 'xml'" in bad.stderr


def test_execute_lua_gives_text_and_the_envelope(tools: AgentTools) -> None:
    result = tools.call_tool("execute_lua", {"code": """
        print("checking the account")
        local account = app.integrations.replicate.get_account({})
        return account.type, {n = 3}
    """})
    assert isinstance(result, ToolResult) and result.is_error is False
    assert tuple(result.data) == ENVELOPE_KEYS
    assert result.data["result"] == ["user", {"n": 3}]
    assert result.data["meta"]["permission_bypassed"] is False
    assert "Output:\nchecking the account" in result.text
    assert "replicate.get_account: ok, HTTP 200" in result.text
    assert '"n": 3' in result.text and "Time:" in result.text


def test_failures_are_error_results_never_exceptions(tools: AgentTools) -> None:
    cases: list[tuple[str, Any, str]] = [
        ("execute_lua", {}, "execute_lua: code: required but missing"),
        ("execute_lua", {"code": ""}, "execute_lua: code: must be at least 1 characters long"),
        ("execute_lua", {"code": "return 1", "cpuLimit": 100000}, "execute_lua: cpuLimit: must be at most 300"),
        ("execute_lua", {"code": "return 1", "memoryLimit": 10}, "execute_lua: memoryLimit: must be at least 1048576"),
        ("execute_lua", "return 1", "execute_lua: expected one table of named arguments"),
        ("lua_search_docs", {"query": "json", "limit": "5"}, 'lua_search_docs: limit: expected integer, got string'),
        ("lua_read_doc", {"page": "json", "extra": 1}, "lua_read_doc: extra: unknown argument (expected one of: page)"),
        ("run_lua", {"code": "return 1"}, "Unknown tool: run_lua."),
        ("execute_lua", {"code": "error('broken on purpose')"}, "Error: (agent):1: broken on purpose"),
        ("execute_lua", {"code": "local t = {} while true do t[#t + 1] = ('x'):rep(1024) end",
                         "memoryLimit": 2 * 1024 * 1024}, "Error: memory limit exceeded (2 MiB)"),
        ("execute_lua", {"code": "return ((\"a\"):rep(800)):find(\".-.-.-b\")", "cpuLimit": 1},
         "Error: cpu limit exceeded (1 s)"),
    ]
    for name, arguments, fragment in cases:
        result = tools.call_tool(name, arguments)
        assert result.is_error is True, (name, arguments)
        assert fragment in result.text, (fragment, result.text)
        assert "Traceback" not in result.text
    # The host and the tools are still fine after a killed worker.
    assert tools.call_tool("execute_lua", {"code": "return 'alive'"}).data["result"] == ["alive"]


def test_a_write_waits_for_the_users_permission(tools: AgentTools, home: Path) -> None:
    code = ('return app.integrations.replicate.create_prediction('
            '{version = "black-forest-labs/flux-schnell", input = {prompt = "hi"}}).status')
    refused = tools.call_tool("execute_lua", {"code": code})
    assert refused.is_error is True
    assert refused.data["meta"]["permission_required"]["allow_command"] == \
        "kosmo integrations:configure replicate --write allow"
    assert "ask the user to allow it (`kosmo integrations:configure replicate --write allow`)" in refused.text
    assert "--force" not in refused.text
    assert refused.data["meta"]["permission_bypassed"] is False

    (home / "config.yaml").write_text(yaml.safe_dump(
        {"integrations": {"replicate": {"permissions": {"write": "allow"}}}}), encoding="utf-8")
    allowed = tools.call_tool("execute_lua", {"code": code})
    assert allowed.is_error is False, allowed.text
    assert allowed.data["result"] == ["starting"]
    assert allowed.data["meta"]["permission_bypassed"] is False


def test_fresh_sandbox_per_call_unless_a_session(home: Path) -> None:
    with AgentTools() as fresh:
        fresh.call_tool("execute_lua", {"code": "counter = 1"})
        assert fresh.call_tool("execute_lua", {"code": "return counter"}).data["result"] == [None]
    with AgentTools(session=True) as session:
        assert "persist" in session.definitions()[0].description
        session.call_tool("execute_lua", {"code": "counter = 1"})
        session.call_tool("execute_lua", {"code": "counter = counter + 1"})
        assert session.call_tool("execute_lua", {"code": "return counter"}).data["result"] == [2]


def test_docs_tools(tools: AgentTools) -> None:
    page = tools.call_tool("lua_read_doc", {"page": "integrations.replicate"})
    assert page.is_error is False and page.data["page"] == "replicate"
    assert "create_prediction" in page.text
    missing = tools.call_tool("lua_read_doc", {"page": "replicate.get_acount"})
    assert missing.is_error is True and "replicate.get_account" in missing.data["suggestions"]
    listing = tools.call_tool("lua_list_docs", {})
    assert "- json: " in listing.text and "- mcp: " in listing.text
    namespace = tools.call_tool("lua_list_docs", {"namespace": "replicate"})
    assert "replicate.get_prediction" in [p["name"] for p in namespace.data["pages"]]
    unknown = tools.call_tool("lua_list_docs", {"namespace": "nope"})
    assert unknown.is_error is True and "unknown namespace 'nope'" in unknown.text
    search = tools.call_tool("lua_search_docs", {"query": "decode json", "limit": 2})
    assert len(search.data["results"]) == 2 and search.data["results"][0]["name"] == "json"
    nothing = tools.call_tool("lua_search_docs", {"query": "zzzqqqxxx"})
    assert nothing.is_error is False and nothing.data["results"] == []


def test_operation_tools_run_through_the_same_runner(home: Path) -> None:
    with AgentTools(operations=True, offline=True) as tools:
        names = [s.name for s in tools.definitions()]
        assert names[:4] == CORE and "replicate_get_model" in names
        account = tools.call_tool("replicate_get_account", {})
        assert account.is_error is False and account.data["result"][0]["type"] == "user"
        assert account.text.startswith("replicate.get_account: succeeded")
        bad = tools.call_tool("replicate_list_models", {"sort_direction": "sideways"})
        assert bad.is_error is True
        assert bad.text == 'replicate_list_models: sort_direction: expected one of "asc", "desc", got string ' \
                           '"sideways"'
        refused = tools.call_tool("replicate_cancel_prediction", {"prediction_id": "abc"})
        assert refused.is_error is True and "--write allow" in refused.text


def test_mcp_server_tools_have_docs_pages(home: Path) -> None:
    write_config(home, {"demo": server_entry([str(DEMO_SERVER)])})
    with AgentTools(surface="mcp") as tools:
        listing = tools.call_tool("lua_list_docs", {})
        assert "- demo: " in listing.text
        page = tools.call_tool("lua_read_doc", {"page": "demo.shout"})
        assert page.is_error is False, page.text
        assert "| `text` | string | yes |" in page.text and "**read**" in page.text
        write_page = tools.call_tool("lua_read_doc", {"page": "app.mcp.demo.save_note"})
        assert "kosmo mcp:configure demo --write allow" in write_page.text
        assert "app.integrations" not in tools.definitions()[0].description


def test_mcp_write_refusal_tells_the_model_what_to_allow(home: Path) -> None:
    require_mcp_wiring("mcp")
    write_config(home, {"demo": server_entry([str(DEMO_SERVER)])})
    with AgentTools(surface="mcp") as tools:
        result = tools.call_tool("execute_lua", {"code": """
            local sum = app.mcp.demo.add({a = 1, b = 2})
            return app.mcp.demo.save_note({title = "from the agent"})
        """})
    assert result.is_error is True
    assert result.data["meta"]["permission_required"] == {
        "operation": "mcp.demo.save_note", "access": "write", "policy": "ask",
        "allow_command": "kosmo mcp:configure demo --write allow"}
    assert "ask the user to allow it (`kosmo mcp:configure demo --write allow`)" in result.text
    assert "--force" not in result.text
    assert [(c["path"], c["status"]) for c in result.data["integration_calls"]] == [
        ("mcp.demo.add", "ok"), ("mcp.demo.save_note", "error")]
