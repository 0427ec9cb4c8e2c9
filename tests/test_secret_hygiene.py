"""Secret hygiene: a configured token never shows up anywhere a user, a log or an agent can read it.

Five recognisable canary tokens are configured the ways a user configures them (credentials.yaml through
`integrations:configure`, `env:VAR`, `--stdin-json`, REPLICATE_API_TOKEN and STABILITY_API_KEY in the environment,
an MCP server's *_TOKEN variable). Then every CLI path runs as a real subprocess against emulators on loopback
ports: every command's --help, accounts/list/docs listings, configure outputs (typos included), integrations:call,
integrations:lua with and without --json and with KOSMO_DEBUG=1, a REPL session, errors of every kind (401 from an
emulator that rejects the token, and one that echoes it back; transport errors, time-outs, permission refusals,
unknown accounts), dump() of every namespace, every docs page, the emulator's request log (in-process and from
`kosmo emulator:serve`), the agent tools, `kosmo mcp:serve`, and the HTTP layer's debug log lines. No token, nor its
URL-encoded or base64 forms, may appear in stdout, stderr, returned data, or any file under the working directory.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import socket
import stat
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from _kosmo_run import KOSMO, clean_env, integration_folder, kosmo, served
from kosmo_lua.emulate import Fault

T_CRED = "r8_SECRET_canary_1234567890"  # credentials.yaml, account "work"
T_ENV = "r8_SECRET+env/canary=2468"  # env:KOSMO_CANARY_TOKEN, account "viaenv"
T_DEFAULT = "r8_SECRET&default?canary%1357"  # REPLICATE_API_TOKEN, the default account
T_STDIN = "r8_SECRET_stdin_json_5555"  # --stdin-json, account "piped"
T_STAB = "sk-SECRET-stability/canary+97531"  # STABILITY_API_KEY
T_MCP = "mcp_SECRET_canary_86420"  # an MCP server's environment (mcp:configure --env CLOCK_API_TOKEN=...)
TOKENS = (T_CRED, T_ENV, T_DEFAULT, T_STDIN, T_STAB, T_MCP)


def _forms(token: str) -> set[str]:
    """The token as is, URL-encoded every common way, JSON-escaped, and base64 (standard and URL-safe) at every
    alignment it could have inside a longer base64 text (a token embedded in an encoded body or header)."""
    out = {token, quote(token, safe=""), quote(token), quote_plus(token), json.dumps(token)[1:-1],
           json.dumps(token, ensure_ascii=True)[1:-1].replace("/", "\\/")}
    raw = token.encode()
    for prefix in (b"", b"x", b"xy"):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(prefix + raw).decode()
            start = -(-len(prefix) * 4 // 3) + (1 if prefix else 0)  # skip characters that mix in the prefix
            core = text[start:len(text) - 4]  # and the last group, which depends on padding
            if len(core) >= 12:
                out.add(core)
    return out


# Plus the tokens' distinctive beginnings, so a shortened token ("r8_SECRET_ca...") is a leak as well.
FORBIDDEN = sorted({form for t in TOKENS for form in _forms(t)} | {"r8_SECRET", "sk-SECRET", "mcp_SECRET"}, key=len)


def assert_clean(label: str, text: str | bytes) -> None:
    """No form of any canary token in text (bytes are searched as Latin-1, so every byte counts)."""
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    for form in FORBIDDEN:
        at = text.find(form)
        assert at < 0, f"{label}: a secret leaked ({form!r}) in: ...{text[max(0, at - 300):at + 100]!r}..."


def test_the_detector_sees_every_form() -> None:
    """The checks below are only as good as this: each disguise of a token is caught, a masked one is not."""
    for token in TOKENS:
        for disguise in (token, quote(token, safe=""), quote_plus(token), json.dumps({"t": token}),
                         base64.b64encode(f"Bearer {token}".encode()).decode(),
                         base64.b64encode(f"xy{token}".encode()).decode(),
                         base64.urlsafe_b64encode(f"{token}!".encode()).decode(), token[:12] + "…"):
            with pytest.raises(AssertionError):
                assert_clean("self-test", f"prefix {disguise} suffix")
    assert_clean("self-test", "Bearer [redacted] / HTTP 401: Invalid token *** / r8_... / api_key: set (hidden)")


# -- the world ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def replicate() -> Iterator[Any]:
    with served("replicate") as emulator:
        yield emulator


@pytest.fixture(scope="module")
def stability() -> Iterator[Any]:
    with served("stability", job_polls=0) as emulator:
        yield emulator


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class World:
    def __init__(self, root: Path, replicate: Any, stability: Any) -> None:
        self.home = root / "home"
        self.work = root / "work"
        self.work.mkdir(parents=True)
        self.replicate = replicate
        self.stability = stability
        self.env = clean_env({
            "KOSMO_HOME": str(self.home),
            "REPLICATE_API_TOKEN": T_DEFAULT, "REPLICATE_BASE_URL": replicate.server.base_url,
            "STABILITY_API_KEY": T_STAB, "STABILITY_BASE_URL": stability.server.base_url,
            "KOSMO_CANARY_TOKEN": T_ENV,
        })

    def run(self, *args: str, stdin: str | bytes | None = None, env: dict[str, str] | None = None,
            expect: tuple[int, ...] = (0, 1, 2)) -> subprocess.CompletedProcess[str]:
        """`kosmo ARGS` in the working folder; both streams are checked for every token form."""
        proc = kosmo(*args, env={**self.env, **(env or {})}, cwd=self.work, stdin=stdin)
        label = "kosmo " + " ".join(a if len(a) < 60 else a[:57] + "..." for a in args)
        assert_clean(label + " (stdout)", proc.stdout)
        assert_clean(label + " (stderr)", proc.stderr)
        assert "Traceback (most recent call last)" not in proc.stderr, (label, proc.stderr)
        assert proc.returncode in expect, (label, proc.returncode, proc.stderr)
        return proc

    def lua(self, code: str, *flags: str, env: dict[str, str] | None = None) -> dict[str, Any]:
        proc = self.run("integrations:lua", "--json", *flags, "-e", code, env=env)
        return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, replicate: Any, stability: Any) -> World:
    w = World(tmp_path_factory.mktemp("hygiene"), replicate, stability)
    base = replicate.server.base_url
    w.run("integrations:configure", "replicate", "--account", "work", "--set", f"url={base}", "--set",
          f"api_key={T_CRED}", "--set", "read_timeout=1", expect=(0,))
    w.run("integrations:configure", "replicate", "--account", "viaenv", "--set", f"url={base}", "--set",
          "api_key=env:KOSMO_CANARY_TOKEN", expect=(0,))
    w.run("integrations:configure", "replicate", "--stdin-json", expect=(0,),
          stdin=json.dumps({"account": "piped", "set": {"url": base, "api_key": T_STDIN}}))
    w.run("integrations:configure", "replicate", "--account", "dead", "--set",
          f"url=http://127.0.0.1:{_closed_port()}/v1", "--set", f"api_key={T_CRED}", expect=(0,))
    w.run("integrations:configure", "replicate", "--account", "unset", "--set", f"url={base}", "--set",
          "api_key=env:KOSMO_CANARY_UNSET", expect=(0,))
    # Replicate writes are allowed (a time-out on a POST costs one attempt); Stability's stay "ask" (a refusal).
    w.run("integrations:configure", "replicate", "--write", "allow", expect=(0,))
    w.run("mcp:configure", "clock", "--command", sys.executable, "--arg=-m", "--arg=mcp_server_time",
          "--env", f"CLOCK_API_TOKEN={T_MCP}", "--read", "allow", expect=(0,))
    return w


@pytest.fixture(autouse=True)
def files_stay_clean(world: World) -> Iterator[None]:
    """After every test: no file under the working folder holds a token, and the home config files hold them only
    in credentials.yaml (mode 0600)."""
    yield
    for path in world.work.rglob("*"):
        if path.is_file():
            assert_clean(f"file {path.relative_to(world.work)}", path.read_bytes())
    assert_clean("home config.yaml", (world.home / "config.yaml").read_bytes())
    credentials = world.home / "credentials.yaml"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert T_CRED in credentials.read_text()  # the canary really is configured: the checks above mean something


# -- configure, accounts, listings, help --------------------------------------------------------------------------


def test_configure_outputs_and_typos_never_echo_a_secret(world: World) -> None:
    w = world
    out = w.run("integrations:configure", "replicate", "--account", "work", "--set", f"api_key={T_CRED}")
    assert "api_key: set (hidden)" in out.stdout
    for typo in (["--sett", f"api_key={T_CRED}"], [f"--sett=api_key={T_CRED}"], ["--set", "api_key", T_CRED],
                 ["--set", f"api_kye={T_CRED}"], ["--set", f"apikey{T_CRED}"], ["--set", f"api key={T_CRED}"],
                 ["--set", f"url={T_CRED}"], ["--set", f"read_timeout={T_CRED}"], [f"--api_key={T_CRED}"],
                 ["--set", f"api_key={T_CRED}", "--read", T_CRED], ["--account", "typo", T_CRED]):
        proc = w.run("integrations:configure", "replicate", "--project", *typo)
        assert proc.returncode != 0 or "hidden" in proc.stdout, (typo, proc.stdout, proc.stderr)
    for document in (f'{{"set": {{"api_key": "{T_CRED}"', f'{{"sett": {{"api_key": "{T_CRED}"}}}}',
                     f'{{"set": {{"api_key": ["{T_CRED}"]}}}}', f'{{"set": {{"url": "{T_CRED}"}}}}',
                     f'["{T_CRED}"]', f'{{"account": "{T_CRED}!", "set": {{"api_key": "x"}}}}',
                     f'{{"set": {{"api_kye": "{T_CRED}"}}}}'):
        w.run("integrations:configure", "replicate", "--stdin-json", "--project", stdin=document)
    assert not (w.work / ".kosmo" / "config.yaml").exists() or T_CRED not in \
        (w.work / ".kosmo" / "config.yaml").read_text()
    typo = w.run("integrations:configure", "replicate", "--set", f"api_kye={T_CRED}", expect=(2,))
    assert "not an account field (did you mean api_key?)" in typo.stderr


def test_every_command_help_and_listing(world: World) -> None:
    from kosmo_lua.cli.main import COMMANDS

    w = world
    for args in (["--help"], [], ["--version"], ["help"], ["integrations:acounts"], ["--set", f"api_key={T_CRED}"]):
        w.run(*args)
    for command in COMMANDS:
        w.run(command, "--help", expect=(0,))
    for args in (["integrations:accounts"], ["integrations:accounts", "--json"], ["integrations:accounts", "replicate"],
                 ["integrations:list"], ["integrations:list", "--json"], ["agent:tools"],
                 ["agent:tools", "--operations", "--format", "anthropic"], ["agent:tools", "--format", "mcp"],
                 ["integrations:stubs", "--out", "stubs"], ["integrations:docs", "--list"],
                 ["integrations:docs", "--search", "token", "--json"], ["integrations:docs", "replicate"],
                 ["integrations:docs", "replicate.get_account"], ["integrations:docs", "api_key"]):
        w.run(*args)
    listing = json.loads(w.run("integrations:accounts", "--json").stdout)
    accounts = {a["name"]: a for item in listing["integrations"] if item["name"] == "replicate"
                for a in item["accounts"]}
    assert accounts["work"]["secret_source"] == "credentials.yaml"
    assert accounts["viaenv"]["secret_source"] == "env:KOSMO_CANARY_TOKEN"
    assert accounts["default"]["secret_source"] == "environment REPLICATE_API_TOKEN"
    assert "KOSMO_CANARY_UNSET" in (accounts["unset"]["problem"] or "")


# -- scripts: dumps of every namespace, every error -----------------------------------------------------------------

NAMESPACES = """
local r = app.integrations.replicate
for _, v in ipairs({app, app.integrations, r, r.default, r.work, r.viaenv, r.piped, r.dead, app.integrations.stability,
                    app.integrations.stability.default, json, regex, docs, mcp, app.mcp, _G}) do dump(v) end
dump(mcp.servers())
print(json.encode(r.get_account({})), json.encode(r.work.get_account({})), json.encode(r.viaenv.get_account({})))
print(json.encode(r.piped.get_account({})), json.encode(app.integrations.stability.get_balance({})))
dump(r.work.list_predictions({}))
local n = 0
for m in r.work.paginate("list_models") do n = n + 1 end
print("models", n)
"""

ERRORS = """
local r = app.integrations.replicate
local function show(label, ok, e) print(label, ok, tostring(e)) dump(e) end
show("404", pcall(r.work.get_prediction, {prediction_id = "nope"}))
show("refused", pcall(app.integrations.stability.generate_core, {prompt = "x"}))
show("timeout", pcall(r.work.create_model_prediction, {model_owner = "black-forest-labs",
  model_name = "flux-schnell", input = {prompt = "x"}}))
show("dead", pcall(r.dead.get_account, {}))
show("unknown account", pcall(function() return r.nope.get_account({}) end))
show("unset env", pcall(r.unset.get_account, {}))
show("bad args", pcall(r.work.get_prediction, {prediction_id = {1}}))
show("stability 401", pcall(app.integrations.stability.get_balance, {}))
show("default 401", pcall(r.get_account, {}))
show("viaenv 401", pcall(r.viaenv.get_account, {}))
show("work 401", pcall(r.work.get_account, {}))
show("piped 401", pcall(r.piped.get_account, {}))
error(select(2, pcall(r.work.get_account, {})))
"""


@pytest.fixture
def rejecting(world: World) -> Iterator[None]:
    """Both emulators reject every token at their account endpoints, echoing it back in the error body as some
    real APIs do ("invalid token r8_..."); creating a prediction is held past the work account's 1 s read timeout
    (a POST, so it is not retried: one second per run)."""
    from kosmo_lua.emulate.messages import Answer

    def echoing(emulator: Any, path: str) -> Any:
        original = emulator.process

        def process(incoming: Any, **options: Any) -> Any:
            if incoming.path == path:
                token = (incoming.headers.get("authorization") or "").partition(" ")[2]
                return Answer(emulator.error_reply(401, f"Invalid token {token} (that is {quote(token)})"))
            return original(incoming, **options)

        return process

    world.replicate.process = echoing(world.replicate, "/v1/account")
    world.stability.process = echoing(world.stability, "/v1/user/balance")
    world.replicate.faults.add(Fault("read_timeout", method="POST", path="/predictions$", seconds=3))
    yield
    del world.replicate.process, world.stability.process  # back to the class's method
    world.replicate.faults.clear()


@pytest.mark.parametrize("debug", ["0", "1"])
def test_scripts_dumps_and_envelopes(world: World, debug: str) -> None:
    env = {"KOSMO_DEBUG": debug}
    data = world.lua(NAMESPACES, env=env)
    assert data["success"] is True, data["error"]
    assert "models" in data["output"]
    world.run("integrations:lua", "-e", NAMESPACES, env=env, expect=(0,))
    world.run("integrations:lua", "-", "--json", stdin=NAMESPACES, env=env, expect=(0,))
    saved = world.lua("return app.integrations.stability.generate_core({prompt = 'x', save_to = 'out.png', "
                      "overwrite = true}).path", "--force", env=env)
    assert saved["success"] is True, saved["error"]
    assert (world.work / "out.png").is_file()  # a file the run wrote: the autouse check searches it too


@pytest.mark.parametrize("debug", ["0", "1"])
def test_every_kind_of_error(world: World, rejecting: None, debug: str) -> None:
    env = {"KOSMO_DEBUG": debug}
    data = world.lua(ERRORS, env=env)
    assert data["success"] is False
    assert "HTTP 401" in data["error"]
    assert "Invalid token ***" in data["error"]  # the echo arrived, masked
    assert "permission" in data["output"] and "connection refused" in data["output"]
    assert "within 1 s" in data["output"] and "KOSMO_CANARY_UNSET" in data["output"]
    if debug == "0":  # the human-readable form, and a run where --force lets the refused write through
        world.run("integrations:lua", "-e", ERRORS, env=env, expect=(1,))
        world.run("integrations:lua", "--json", "--force", "-e", ERRORS, env=env, expect=(1,))


def test_integrations_call_every_account(world: World, rejecting: None) -> None:
    for path in ("replicate.get_account", "replicate.work.get_account", "replicate.viaenv.get_account",
                 "replicate.piped.get_account", "replicate.unset.get_account", "replicate.nope.get_account",
                 "stability.get_balance", "replicate.work.list_hardware"):
        world.run("integrations:call", path)
        world.run("integrations:call", path, "--json")
    world.run("integrations:call", "replicate.dead.get_account", "--json")  # retried: a few seconds, once
    world.run("integrations:call", "replicate.work.create_prediction", "--args-json",
              '{"version": "x", "input": {}}')
    world.run("integrations:call", "replicate.work.get_prediction", "--arg", "prediction_id=nope", "--json")


def test_repl_session(world: World, rejecting: None) -> None:
    # The REPL runs a line at a time: the same dumps and failing calls as the scripts above, one per line.
    session = ("r = app.integrations.replicate\nfor _, v in ipairs({app, app.integrations, r, r.work, "
               "r.viaenv, json, regex, docs, mcp}) do dump(v) end\nr.work.get_account({})\n"
               "pcall(r.work.get_account, {})\nr.dead.get_account({})\nr.get_account({})\n"
               "app.integrations.stability.get_balance({})\n:reset\nr = app.integrations.replicate\n"
               "r.viaenv.get_account({})\ndump(r.piped)\n:quit\n")
    proc = world.run("integrations:lua", "--repl", stdin=session)
    assert "sandbox reset" in proc.stdout
    assert "HTTP 401: Invalid token ***" in proc.stderr and "global 'r'" not in proc.stderr


def test_every_docs_page_and_search(world: World) -> None:
    code = """
local n = 0
for _, p in ipairs(docs.list()) do print(docs.read(p.name)) n = n + 1 end
for _, q in ipairs({"token", "api_key", "secret", "credentials", "REPLICATE_API_TOKEN", "account"}) do
  dump(docs.search(q, 50))
end
return n"""
    data = world.lua(code)
    assert data["success"] is True and data["result"][0] > 10


# -- emulator request logs ----------------------------------------------------------------------------------------


def test_emulator_request_log_holds_no_token(world: World) -> None:
    world.lua("local r = app.integrations.replicate\nr.work.get_account({}) r.viaenv.get_account({}) "
              "r.get_account({}) r.piped.get_account({}) app.integrations.stability.get_balance({})")
    for emulator in (world.replicate, world.stability):
        assert emulator.requests, "nothing was logged: the check below proves nothing"
        with urllib.request.urlopen(emulator.server.url + "/_emulator/requests") as answer:
            assert_clean("GET /_emulator/requests", answer.read())
        assert_clean("emulator.requests", repr(emulator.requests))
        assert_clean("LoggedRequest.to_data", json.dumps([r.to_data() for r in emulator.requests]))
        assert {r.header("authorization") for r in emulator.requests} <= {"Bearer [redacted]"}


def test_emulator_serve_command(world: World) -> None:
    proc = subprocess.Popen([*KOSMO, "emulator:serve", "replicate"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=world.env, cwd=world.work, text=True)
    try:
        assert proc.stdout is not None
        base = proc.stdout.readline().strip().rsplit(" ", 1)[-1]
        for token in TOKENS:
            request = urllib.request.Request(base + "/account", headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(request) as answer:
                assert_clean("emulator:serve /account", answer.read())
        origin = base.rsplit("/v1", 1)[0]
        with urllib.request.urlopen(origin + "/_emulator/requests") as answer:
            log = answer.read()
        assert b"[redacted]" in log
        assert_clean("emulator:serve /_emulator/requests", log)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert_clean("emulator:serve stdout", out)
    assert_clean("emulator:serve stderr", err)


# -- agents ---------------------------------------------------------------------------------------------------------

AGENT = r"""
import json, sys
from kosmo_lua.agent import AgentTools

out = []
def record(tools, name, args):
    result = tools.call_tool(name, args)
    out.append({"tool": name, "text": result.text, "data": result.data, "is_error": result.is_error})

code = sys.stdin.read()
with AgentTools(operations=True) as tools:
    out.append({"definitions": [repr(d) for d in tools.definitions()]})
    record(tools, "execute_lua", {"code": code})
    record(tools, "lua_list_docs", {})
    record(tools, "lua_search_docs", {"query": "token"})
    pages = [p["name"] for p in tools.call_tool("lua_list_docs", {}).data.get("pages", [])]
    for page in pages:
        record(tools, "lua_read_doc", {"page": page})
    record(tools, "lua_read_doc", {"page": "api_key"})
    record(tools, "replicate_get_account", {})
    record(tools, "replicate_create_prediction", {"version": "x", "input": {}})
    record(tools, "stability_get_balance", {})
with AgentTools(session=True) as tools:
    record(tools, "execute_lua", {"code": "r = app.integrations.replicate.work return r.get_account({})"})
    record(tools, "execute_lua", {"code": "dump(r) return pcall(app.integrations.replicate.dead.get_account, {})"})
print(json.dumps(out))
"""


def test_agent_tools_results(world: World, rejecting: None) -> None:
    proc = subprocess.run([sys.executable, "-c", AGENT], input=NAMESPACES + ERRORS, capture_output=True, text=True,
                          env=world.env, cwd=world.work, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert_clean("agent tools", proc.stdout)
    assert_clean("agent tools stderr", proc.stderr)
    results = json.loads(proc.stdout)
    assert len([r for r in results if r.get("tool") == "lua_read_doc" and not r["is_error"]]) > 10
    assert any("Invalid token ***" in r.get("text", "") for r in results)  # the echoed token arrived, masked


def test_mcp_serve(world: World) -> None:
    from mcp import ClientSession, StdioServerParameters, stdio_client

    params = StdioServerParameters(command=sys.executable, args=["-m", "kosmo_lua", "mcp:serve", "--operations"],
                                   env=world.env, cwd=str(world.work))
    seen: list[str] = []

    async def main() -> None:
        with tempfile.TemporaryFile(mode="w+b") as errlog:
            async with stdio_client(params, errlog=errlog) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    seen.append(repr(await session.list_tools()))
                    seen.append(repr(await session.list_resources()))
                    for name, args in (("execute_lua", {"code": NAMESPACES}), ("execute_lua", {"code": ERRORS}),
                                       ("lua_search_docs", {"query": "token"}), ("replicate_get_account", {}),
                                       ("stability_get_balance", {})):
                        seen.append(repr(await session.call_tool(name, args)))
            errlog.seek(0)
            seen.append(errlog.read().decode("utf-8", "replace"))

    asyncio.run(asyncio.wait_for(main(), 240))
    for i, text in enumerate(seen):
        assert_clean(f"mcp:serve message {i}", text)
    assert any("user-" in text for text in seen)  # the calls really ran


# -- the HTTP layer's own log lines -------------------------------------------------------------------------------


def test_http_layer_debug_log_lines(world: World, caplog: pytest.LogCaptureFixture) -> None:
    """The engine's loggers at DEBUG (what a host that turns logging on would print), for a bearer integration and
    for one that sends the token as a query parameter."""
    from dataclasses import replace

    from kosmo_lua.config import Account, Secret
    from kosmo_lua.integration import AuthScheme, load_integration
    from kosmo_lua.net import HttpClient
    from kosmo_lua.ops.spec import RequestSpec

    info = load_integration(integration_folder("replicate"))
    query_info = replace(info, auth=AuthScheme.parse({"scheme": "query:token", "credential": "api_key"}))
    world.replicate.faults.add(Fault("status", status=503, method="GET", path="^/v1/hardware$", times=1))
    world.replicate.faults.add(Fault("status", status=401, path="^/v1/collections$", detail=f"bad {T_CRED}"))
    world.replicate.faults.add(Fault("drop_before_response", path="^/v1/models$", times=1))
    caplog.set_level(logging.DEBUG)
    try:
        for integration in (info, query_info):
            account = Account(integration="replicate", name="work", base_url=world.replicate.server.base_url,
                              secret=Secret(T_CRED), fields={"webhook_secret": Secret(T_ENV)})
            with HttpClient(account, integration) as client:
                for path in ("/hardware", "/collections", "/models", "/account"):
                    spec = RequestSpec(operation=f"replicate.get{path.replace('/', '_')}", method="GET", path=path)
                    raw = client.send(spec, deadline=None)
                    assert_clean(f"RawResponse {path}", repr(raw) + raw.url + raw.body.decode("latin-1"))
                assert_clean("client repr", repr(client) + repr(account))
    finally:
        world.replicate.faults.clear()
    assert caplog.records, "no log line was written: the check proves nothing"
    for record in caplog.records:
        assert_clean(f"log {record.name}", record.getMessage())
    assert_clean("captured log text", caplog.text)
    # The emulator saw the query-parameter token too: its request log must not keep it.
    assert any(r.query for r in world.replicate.requests)
    assert_clean("emulator log after query auth", json.dumps([r.to_data() for r in world.replicate.requests]))
