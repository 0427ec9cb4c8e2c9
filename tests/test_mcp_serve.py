"""`kosmo mcp:serve` as an agent host sees it: a real subprocess spoken to with the MCP SDK's stdio client."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPError

from kosmo_lua.run.envelope import ENVELOPE_KEYS

CORE_TOOLS = ["execute_lua", "lua_read_doc", "lua_list_docs", "lua_search_docs"]


def serve(home: Path, *flags: str, body: Callable[[ClientSession], Awaitable[Any]]) -> Any:
    """Start `kosmo mcp:serve FLAGS`, run body(session) against it, and shut it down."""
    params = StdioServerParameters(command=sys.executable, args=["-m", "kosmo_lua", "mcp:serve", *flags],
                                   env={"KOSMO_HOME": str(home)})

    async def main() -> Any:
        with tempfile.TemporaryFile(mode="w+b") as errlog:
            try:
                async with stdio_client(params, errlog=errlog) as (read, write):
                    async with ClientSession(read, write) as session:
                        await session.initialize()
                        return await body(session)
            finally:
                errlog.seek(0)
                server_stderr = errlog.read().decode("utf-8", "replace")
                assert "Traceback" not in server_stderr, server_stderr

    return asyncio.run(asyncio.wait_for(main(), 180))


def text_of(result: Any) -> str:
    return "\n".join(block.text for block in result.content if block.type == "text")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def test_tools_listed_and_execute_lua_results(home: Path) -> None:
    async def body(session: ClientSession) -> dict[str, Any]:
        out: dict[str, Any] = {"tools": (await session.list_tools()).tools}
        out["ok"] = await session.call_tool("execute_lua", {
            "code": 'print("hello"); return app.integrations.replicate.get_account({}).type, 41 + 1'})
        out["lua_error"] = await session.call_tool("execute_lua", {"code": 'local x = nil; return x.field'})
        out["refused"] = await session.call_tool("execute_lua", {"code": """
            return app.integrations.replicate.create_prediction({version = "a/b", input = {prompt = "x"}})"""})
        out["hang"] = await session.call_tool("execute_lua", {"code": "while true do end", "cpuLimit": 1})
        out["bad_args"] = await session.call_tool("execute_lua", {"code": 42, "extra": True})
        out["unknown"] = await session.call_tool("execute_luaa", {"code": "return 1"})
        out["after"] = await session.call_tool("execute_lua", {"code": "return 'still serving'"})
        return out

    out = serve(home, "--offline", body=body)
    tools = {t.name: t for t in out["tools"]}
    assert list(tools) == CORE_TOOLS
    assert tools["execute_lua"].input_schema["required"] == ["code"]
    assert tools["execute_lua"].annotations.read_only_hint is False
    assert all(tools[n].annotations.read_only_hint is True for n in CORE_TOOLS[1:])

    ok = out["ok"]
    assert ok.is_error is False
    assert tuple(ok.structured_content) == ENVELOPE_KEYS
    assert ok.structured_content["result"] == ["user", 42]
    assert ok.structured_content["output"] == "hello"
    assert ok.structured_content["integration_calls"][0]["path"] == "replicate.get_account"
    assert "Output:\nhello" in text_of(ok) and "replicate.get_account: ok" in text_of(ok)

    lua_error = out["lua_error"]
    assert lua_error.is_error is True
    assert "attempt to index a nil value" in lua_error.structured_content["error"]
    assert "Error: " in text_of(lua_error)

    refused = out["refused"]
    assert refused.is_error is True
    assert "kosmo integrations:configure replicate --write allow" in text_of(refused)
    assert "--force" not in text_of(refused)  # a model cannot force; the user has to allow
    required = refused.structured_content["meta"]["permission_required"]
    assert required == {"operation": "replicate.create_prediction", "access": "write", "policy": "ask",
                        "allow_command": "kosmo integrations:configure replicate --write allow"}

    assert out["hang"].is_error is True
    assert out["hang"].structured_content["error"] == "cpu limit exceeded (1 s)"
    assert out["bad_args"].is_error is True
    assert text_of(out["bad_args"]) == ("execute_lua: extra: unknown argument (expected one of: code, cpuLimit, "
                                        "memoryLimit); code: expected string, got integer 42")
    assert out["unknown"].is_error is True
    assert "Unknown tool: execute_luaa. Did you mean: execute_lua?" in text_of(out["unknown"])
    assert out["after"].structured_content["result"] == ["still serving"]


def test_docs_tools_and_docs_resources(home: Path) -> None:
    async def body(session: ClientSession) -> dict[str, Any]:
        out: dict[str, Any] = {}
        out["read"] = await session.call_tool("lua_read_doc", {"page": "replicate.get_prediction"})
        out["missing"] = await session.call_tool("lua_read_doc", {"page": "replicate.get_predction"})
        out["list"] = await session.call_tool("lua_list_docs", {"namespace": "replicate"})
        out["search"] = await session.call_tool("lua_search_docs", {"query": "cancel a prediction", "limit": 3})
        out["resources"] = (await session.list_resources()).resources
        out["templates"] = (await session.list_resource_templates()).resource_templates
        out["json"] = await session.read_resource("kosmo-docs://json")
        out["alias"] = await session.read_resource("kosmo-docs://app.integrations.replicate.get_account")
        try:
            await session.read_resource("kosmo-docs://no.such.page")
        except MCPError as exc:
            out["unknown"] = exc
        return out

    out = serve(home, body=body)
    assert out["read"].is_error is False
    assert text_of(out["read"]).startswith("# replicate.get_prediction")
    assert "`prediction_id`" in text_of(out["read"])
    assert out["missing"].is_error is True
    assert "Did you mean: replicate.get_prediction" in text_of(out["missing"])
    names = [p["name"] for p in out["list"].structured_content["pages"]]
    assert "replicate.create_prediction" in names and "replicate" in names
    assert out["search"].structured_content["results"][0]["name"] == "replicate.cancel_prediction"
    uris = {r.uri for r in out["resources"]}
    assert {"kosmo-docs://json", "kosmo-docs://errors", "kosmo-docs://mcp",
            "kosmo-docs://replicate.get_prediction"} <= uris
    assert all(r.mime_type == "text/markdown" for r in out["resources"])
    assert out["templates"][0].uri_template == "kosmo-docs://{page}"
    assert out["json"].contents[0].text.startswith("# JSON")
    assert out["alias"].contents[0].text.startswith("# replicate.get_account")
    assert "Unknown docs page: no.such.page" in str(out["unknown"])


def test_operation_tools_and_a_session(home: Path) -> None:
    async def body(session: ClientSession) -> dict[str, Any]:
        out: dict[str, Any] = {"tools": (await session.list_tools()).tools}
        out["account"] = await session.call_tool("replicate_get_account", {})
        out["refused"] = await session.call_tool("replicate_create_prediction",
                                                 {"version": "a/b", "input": {"prompt": "hi"}})
        out["invalid"] = await session.call_tool("replicate_get_prediction", {})
        # Arguments are data: text that would be Lua code stays a string.
        out["injection"] = await session.call_tool("replicate_get_prediction",
                                                   {"prediction_id": "x]] .. error('pwned') .. [[x"})
        out["set"] = await session.call_tool("execute_lua", {"code": "counter = 41"})
        out["get"] = await session.call_tool("execute_lua", {"code": "counter = counter + 1; return counter"})
        return out

    out = serve(home, "--operations", "--offline", "--session", body=body)
    tools = {t.name: t for t in out["tools"]}
    assert len(tools) > 30
    create = tools["replicate_create_prediction"]
    assert create.annotations.read_only_hint is False
    assert set(create.input_schema["required"]) == {"version", "input"}
    assert create.input_schema["properties"]["webhook_events_filter"]["items"]["enum"] == [
        "start", "output", "logs", "completed"]
    assert tools["replicate_get_account"].annotations.read_only_hint is True
    assert "counter" in tools["execute_lua"].description or "persist" in tools["execute_lua"].description

    account = out["account"]
    assert account.is_error is False and account.structured_content["result"][0]["type"] == "user"
    assert out["refused"].is_error is True
    assert "kosmo integrations:configure replicate --write allow" in text_of(out["refused"])
    assert out["invalid"].is_error is True
    assert text_of(out["invalid"]) == "replicate_get_prediction: prediction_id: required but missing"
    # The whole text reached the API as the ID (the emulator says no such prediction); nothing ran as Lua.
    injection = out["injection"].structured_content
    assert injection["meta"]["error_value"]["status"] == 404
    assert "Prediction x]] .. error('pwned') .. [[x was not found" in injection["error"]
    assert [c["path"] for c in injection["integration_calls"]] == ["replicate.get_prediction"]
    assert out["get"].structured_content["result"] == [42]
