"""MCP servers called from Lua: real servers (our SDK demo server, the published mcp-server-time) started by real
`kosmo mcp:lua` / `kosmo integrations:lua` subprocesses, configured through KOSMO_HOME's config.yaml and
`kosmo mcp:configure`."""

from __future__ import annotations

import stat
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mcp_servers.harness import DEMO_SERVER, SECRET, kosmo, lua, server_entry, standard_servers, write_config


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    write_config(home, standard_servers(tmp_path / "calls.log"),
                 credentials={"mcp:broken": {"env": {"BROKEN_API_KEY": SECRET}}})
    return home


def calls_made(tmp_path: Path) -> list[str]:
    log = tmp_path / "calls.log"
    return log.read_text(encoding="utf-8").split() if log.exists() else []


def only_call(data: dict[str, Any]) -> dict[str, Any]:
    assert len(data["integration_calls"]) == 1, data["integration_calls"]
    return data["integration_calls"][0]


def test_published_time_server_from_lua(home: Path) -> None:
    data = lua("""
        local now = app.mcp.time.get_current_time({timezone = "UTC"})
        local converted = mcp.call("time.convert_time",
            {source_timezone = "UTC", time = "12:00", target_timezone = "Asia/Tokyo"})
        return now, converted.target.datetime, app.integrations == nil
    """, home=home)
    assert data["success"], data["error"]
    now, tokyo, no_integrations = data["result"]
    assert now["timezone"] == "UTC" and now["datetime"].endswith("+00:00")
    assert "T21:00:00+09:00" in tokyo
    assert no_integrations is True  # mcp:lua offers MCP only
    paths = [(c["path"], c["status"], c["access"]) for c in data["integration_calls"]]
    assert paths == [("mcp.time.get_current_time", "ok", "read"), ("mcp.time.convert_time", "ok", "read")]


def test_demo_server_tools_resources_prompts_and_docs(home: Path, tmp_path: Path) -> None:
    data = lua("""
        local out = {}
        out.before = mcp.servers()
        out.sum = app.mcp.demo.add({a = 2, b = 40})
        out.text = app.mcp.demo.plain_text({text = "just text"})
        out.after = mcp.servers()
        out.tools = mcp.tools("demo")
        out.schema = mcp.schema("demo.shout")
        out.resources = mcp.resources("demo")
        out.readme = mcp.read_resource("demo", "demo://readme")
        out.prompts = mcp.prompts("demo")
        out.prompt = mcp.get_prompt("demo", "greet", {name = "Ada"})
        out.page = docs.read("demo.shout")
        out.guide = docs.read("mcp")
        local ok, bad = pcall(app.mcp.demo.add, {a = "two"})
        out.bad = bad
        ok, out.failed = pcall(app.mcp.demo.fail, {reason = "testing"})
        ok, out.crashed = pcall(app.mcp.demo.crash, {})
        ok, out.unknown_tool = pcall(function() return app.mcp.demo.shuot end)
        ok, out.unknown_server = pcall(function() return app.mcp.dmeo end)
        ok, out.unknown_call = pcall(mcp.call, "nope.add", {})
        return out
    """, home=home)
    assert data["success"], data["error"]
    out = data["result"][0]
    assert {s["name"]: s["running"] for s in out["before"]} == {"demo": False, "time": False, "broken": False,
                                                                "missing": False}
    assert {s["name"]: s["running"] for s in out["after"]}["demo"] is True
    assert out["before"][0]["read"] == "allow" and out["before"][0]["write"] == "ask"
    assert out["sum"] == {"result": 42}
    assert out["text"] == "just text"
    access = {t["name"]: t["access"] for t in out["tools"]}
    assert access["add"] == "read" and access["save_note"] == "write" and access["exit_now"] == "write"
    assert out["schema"]["required"] == ["text"] and out["schema"]["properties"]["times"]["type"] == "integer"
    assert out["resources"][0]["uri"] == "demo://readme"
    assert out["readme"]["text"] == "The demo server answers tests."
    assert out["prompts"][0]["name"] == "greet" and out["prompts"][0]["arguments"][0]["name"] == "name"
    assert out["prompt"]["text"] == "Please greet Ada warmly."
    assert "| `times` | integer | no |" in out["page"] and "app.mcp.demo.shout" in out["page"]
    assert "mcp.call" in out["guide"]
    # Bad arguments are refused before the call, naming the function and the parameter.
    assert out["bad"]["kind"] == "argument"
    assert out["bad"]["message"] == 'mcp.demo.add: b: required but missing; a: expected integer, got string "two"'
    assert out["failed"]["kind"] == "mcp_tool" and "failed on purpose: testing" in out["failed"]["message"]
    assert out["crashed"]["kind"] == "mcp_tool" and out["crashed"]["message"].startswith("mcp.demo.crash: ")
    assert "Unknown function: app.mcp.demo.shuot. Did you mean: shout?" in out["unknown_tool"]
    assert "Unknown function: app.mcp.dmeo. Did you mean: demo?" in out["unknown_server"]
    assert "unknown MCP server 'nope'" in out["unknown_call"]["message"]
    # What reached the server: never the call with bad arguments.
    assert calls_made(tmp_path) == ["add", "plain_text", "fail", "crash"]
    statuses = [(c["path"], c["status"]) for c in data["integration_calls"]]
    assert ("mcp.demo.add", "error") in statuses and ("mcp.demo.read_resource", "ok") in statuses


def test_write_tools_follow_the_permission_policy(home: Path, tmp_path: Path) -> None:
    code = 'return app.mcp.demo.save_note({title = "hello", body = "world"})'
    refused = lua(code, home=home)
    assert not refused["success"]
    assert refused["meta"]["error_value"]["kind"] == "permission"
    assert "needs approval (policy: ask)" in refused["error"]
    assert "kosmo mcp:configure demo --write allow" in refused["error"]
    assert calls_made(tmp_path) == []  # nothing was sent

    # A project's .kosmo/config.yaml overrides the home policy key by key: deny even reads here.
    project = tmp_path / "project"
    (project / ".kosmo").mkdir(parents=True)
    (project / ".kosmo" / "config.yaml").write_text(
        yaml.safe_dump({"mcp": {"servers": {"demo": {"permissions": {"read": "deny"}}}}}), encoding="utf-8")
    denied = lua("return app.mcp.demo.add({a = 1, b = 1})", home=home, cwd=project)
    assert not denied["success"]
    assert "read access to MCP server 'demo' is denied by its permission policy" in denied["error"]
    assert calls_made(tmp_path) == []


def test_a_tool_that_outlives_the_time_limit_ends_the_script(home: Path, tmp_path: Path) -> None:
    data = lua("""
        local ok, err = pcall(app.mcp.demo.slow, {seconds = 120})
        return "not reached"
    """, home=home, extra=("--cpu-limit", "4"))
    assert not data["success"]
    assert data["error"] == "cpu limit exceeded (4 s)"
    call = only_call(data)
    assert call["path"] == "mcp.demo.slow" and call["status"] == "error"
    assert "time limit reached while waiting for the MCP server 'demo'" in call["error"]


def test_force_and_a_server_that_dies_and_is_restarted(home: Path, tmp_path: Path) -> None:
    data = lua("""
        local saved = app.mcp.demo.save_note({title = "hello", body = "world"})
        local ok, err = pcall(app.mcp.demo.exit_now, {})
        return ok, err, app.mcp.demo.add({a = 1, b = 2}), saved
    """, home=home, extra=("--force",))
    assert data["success"], data["error"]
    ok, err, again, saved = data["result"]
    # --force let the write tools through, and the run says so.
    assert saved == {"saved": True, "title": "hello", "length": 5}
    assert data["meta"]["permission_bypassed"] is True
    bypassed = [c["path"] for c in data["integration_calls"] if c.get("permission_bypassed")]
    assert bypassed == ["mcp.demo.save_note", "mcp.demo.exit_now"]
    assert ok is False and err["kind"] == "mcp" and err["server"] == "demo"
    assert "the MCP server 'demo' closed the connection" in err["message"]
    assert "exiting on request" in err["message"]  # its last error output helps the user
    assert again == {"result": 3}
    assert calls_made(tmp_path) == ["save_note", "exit_now", "add"]


def test_servers_that_cannot_start(home: Path) -> None:
    data = lua("""
        local _, broken = pcall(mcp.tools, "broken")
        local _, missing = pcall(function() return app.mcp.missing.anything end)
        return broken, missing
    """, home=home)
    assert data["success"], data["error"]
    broken, missing = data["result"]
    assert broken["kind"] == "mcp"
    assert "MCP server 'broken' could not start: it exited before completing the MCP handshake" in broken["message"]
    assert "cannot start: token ***" in broken["message"]  # its stderr, with the configured secret masked
    assert missing["message"] == \
        "MCP server 'missing' could not start: command not found: kosmo-test-no-such-command-9d1"


def test_integrations_surface_offers_integrations_and_mcp(home: Path) -> None:
    data = lua("""
        return type(app.integrations.replicate.get_account), app.mcp.demo.add({a = 20, b = 22})
    """, home=home, surface="integrations")
    assert data["success"], data["error"]
    assert data["result"] == ["function", {"result": 42}]


def test_configure_env_and_cwd_reach_the_server(tmp_path: Path) -> None:
    home = tmp_path / "home"
    folder = tmp_path / "workdir"
    folder.mkdir()
    proc = kosmo("mcp:configure", "demo", "--command", sys.executable,
                 "--arg", str(DEMO_SERVER), "--env", f"DEMO_API_KEY={SECRET}", "--env", "PLAIN=visible",
                 "--cwd", str(folder), "--read", "allow", "--write", "deny", home=home)
    assert proc.returncode == 0, proc.stderr
    assert SECRET not in proc.stdout + proc.stderr
    assert "env.DEMO_API_KEY: set (hidden)" in proc.stdout and "env.PLAIN: visible" in proc.stdout
    config = yaml.safe_load((home / "config.yaml").read_text())
    assert config["mcp"]["servers"]["demo"]["env"] == {"PLAIN": "visible"}
    assert config["mcp"]["servers"]["demo"]["permissions"] == {"read": "allow", "write": "deny"}
    creds = home / "credentials.yaml"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert yaml.safe_load(creds.read_text()) == {"mcp:demo": {"env": {"DEMO_API_KEY": SECRET}}}

    data = lua("""
        return app.mcp.demo.env_status({name = "DEMO_API_KEY"}), app.mcp.demo.env_status({name = "PLAIN"}),
               app.mcp.demo.where()
    """, home=home)
    assert data["success"], data["error"]
    secret_status, plain_status, where = data["result"]
    assert secret_status == {"set": True, "length": len(SECRET)}
    assert plain_status == {"set": True, "length": len("visible")}
    assert where == {"result": str(folder.resolve())}

    removed = kosmo("mcp:configure", "demo", "--remove", home=home)
    assert removed.returncode == 0, removed.stderr
    assert "mcp" not in (yaml.safe_load((home / "config.yaml").read_text()) or {})
    assert "mcp:demo" not in (yaml.safe_load(creds.read_text()) or {})


def test_configure_rejects_bad_input(tmp_path: Path) -> None:
    home = tmp_path / "home"
    cases = [
        (("my-server", "--command", "x"), "NAME: expected a Lua identifier"),
        (("fresh", "--write", "allow"), "'fresh' is a new server: give --command CMD"),
        (("fresh",), "nothing to change"),
        (("gone", "--remove"), "no MCP server named 'gone'"),
        (("demo", "--command", "x", "--env", "NOEQUALS"), "--env expects K=V"),
        (("demo", "--command", "x", "--env", "1BAD=v"), "'1BAD' is not a valid environment variable name"),
    ]
    for args, fragment in cases:
        proc = kosmo("mcp:configure", *args, home=home)
        assert proc.returncode == 2, (args, proc.stderr)
        assert fragment in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
    assert not (home / "config.yaml").exists()


def test_a_broken_mcp_config_is_a_clear_script_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.yaml").write_text(yaml.safe_dump({"mcp": {"servers": {"demo": {"command": ["not", "text"]}}}}))
    data = lua("return mcp.servers()", home=home)
    assert not data["success"]
    assert "Traceback" not in data["error"]
    assert "mcp.servers.demo.command must be a non-empty string" in data["error"]
    plain = lua("return 1 + 1", home=home)
    assert plain["success"] and plain["result"] == [2]


def test_integration_config_and_mcp_section_live_in_one_file(tmp_path: Path) -> None:
    """The same config.yaml holds integration settings and the mcp section; both must keep working."""
    from kosmo_lua.config import load_config
    from kosmo_lua.errors import ConfigError

    home = tmp_path / "home"
    write_config(home, {"demo": server_entry([str(DEMO_SERVER)])},
                 integrations={"replicate": {"permissions": {"write": "allow"}}})
    try:
        load_config(home=home)
    except ConfigError as exc:
        pytest.xfail(f"kosmo_lua/config/settings.py does not accept the 'mcp' section yet: {exc}")
    data = lua("""
        local p = app.integrations.replicate.create_prediction({
            version = "black-forest-labs/flux-schnell", input = {prompt = "hi"}})
        return p.status, app.mcp.demo.add({a = 1, b = 1})
    """, home=home, surface="integrations", extra=("--offline",))
    assert data["success"], data["error"]
    assert data["result"] == ["starting", {"result": 2}]
    assert data["meta"]["permission_bypassed"] is False


def test_config_shape_errors_name_the_file_and_the_key(tmp_path: Path) -> None:
    from kosmo_lua.errors import ConfigError
    from kosmo_lua.mcp.config import load_servers

    home = tmp_path / "home"
    home.mkdir()
    cases = [
        ({"mcp": {"servers": {"x": {"command": "c", "colour": 1}}}}, "mcp.servers.x: unknown key(s) colour"),
        ({"mcp": {"servers": {"x": {"command": "c", "permissions": {"write": "yes"}}}}},
         "mcp.servers.x.permissions.write must be allow, ask or deny, not 'yes'"),
        ({"mcp": {"servers": {"x": {"command": "c", "env": {"TOKEN": ["hidden"]}}}}},
         "mcp.servers.x.env.TOKEN must be a string"),
        ({"mcp": {"servers": {"x-y": {"command": "c"}}}}, "a server name must be a Lua identifier"),
        ({"mcp": {"servers": {"x": {"args": ["a"]}}}}, "MCP server 'x' has no command"),
        ({"mcp": {"server": {}}}, "mcp: unknown key(s) server; expected 'servers'"),
    ]
    for data, fragment in cases:
        (home / "config.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
        with pytest.raises(ConfigError) as info:
            load_servers(cwd=tmp_path, home=home)
        assert fragment in str(info.value), (fragment, str(info.value))
        assert "hidden" not in str(info.value)

    # Project values win key by key; secrets come from credentials.yaml; defaults fill the rest.
    (home / "config.yaml").write_text(yaml.safe_dump({"mcp": {"servers": {
        "x": {"command": "c", "args": ["a"], "env": {"PLAIN": "p"}, "permissions": {"write": "deny"}}}}}))
    (home / "credentials.yaml").write_text(yaml.safe_dump({"mcp:x": {"env": {"X_TOKEN": SECRET}}}))
    (home / "credentials.yaml").chmod(0o600)
    (tmp_path / ".kosmo").mkdir()
    (tmp_path / ".kosmo" / "config.yaml").write_text(yaml.safe_dump({"mcp": {"servers": {
        "x": {"args": ["b"], "permissions": {"read": "ask"}}}}}))
    server = load_servers(cwd=tmp_path, home=home)["x"]
    assert (server.command, server.args, server.read, server.write) == ("c", ("b",), "ask", "deny")
    assert server.resolved_env() == {"PLAIN": "p", "X_TOKEN": SECRET}
    assert SECRET not in repr(server)
