"""The `kosmo` command: a dispatcher that imports only the subcommand it runs.

Start-up time matters (shell scripts and cron call `kosmo` often), so this module imports nothing heavy: each
subcommand lives in its own module exposing ``build_parser(prog) -> ArgumentParser`` and ``run(ns) -> int``, and
optionally ``parse_fast(argv) -> Namespace | None``, which parses a plain command line without importing argparse
(None: let argparse do it).
"""

from __future__ import annotations

import importlib
import sys

TYPE_CHECKING = False  # typing costs milliseconds of start-up; type checkers read the names below anyway
if TYPE_CHECKING:
    from typing import NoReturn

#: command -> (module, one-line description). The order is the order of `kosmo --help`.
COMMANDS: dict[str, tuple[str, str]] = {
    "integrations:lua": ("kosmo_lua.cli.lua_cmd", "Run Lua code (eval, file, stdin or REPL) with integrations, docs, json and regex"),
    "integrations:call": ("kosmo_lua.cli.call_cmd", "Call one integration operation without writing Lua"),
    "integrations:list": ("kosmo_lua.cli.list_cmd", "List integrations, their accounts and function counts"),
    "integrations:docs": ("kosmo_lua.cli.docs_cmd", "Read, list or search the Lua docs pages"),
    "integrations:configure": ("kosmo_lua.cli.configure_cmd", "Configure an integration account, secrets and permissions"),
    "integrations:accounts": ("kosmo_lua.cli.accounts_cmd", "List configured accounts (secrets are never shown)"),
    "integrations:generate": ("kosmo_lua.cli.generate_cmd", "Regenerate an integration's operation table from its OpenAPI document"),
    "integrations:render-docs": ("kosmo_lua.cli.render_docs_cmd", "Write the generated reference pages into docs/"),
    "integrations:stubs": ("kosmo_lua.cli.stubs_cmd", "Write editor annotations (LuaCATS) for lua-language-server"),
    "integrations:import": ("kosmo_lua.cli.import_cmd", "Make a new integration from any OpenAPI document"),
    "mcp:lua": ("kosmo_lua.cli.mcp_lua_cmd", "Run Lua with MCP servers (app.mcp, mcp) and no integrations"),
    "mcp:serve": ("kosmo_lua.cli.mcp_serve_cmd", "Serve the Lua tools (execute_lua, docs) to agents over MCP (stdio)"),
    "mcp:configure": ("kosmo_lua.cli.mcp_configure_cmd", "Configure an MCP server that Lua scripts can call"),
    "agent:tools": ("kosmo_lua.cli.agent_tools_cmd", "Print the agent tool definitions (openai, anthropic or mcp format)"),
    "emulator:serve": ("kosmo_lua.cli.emulator_cmd", "Serve an integration's API emulator on a loopback port"),
}

HELP_EPILOG = """\
Examples:
  kosmo integrations:lua --eval 'print(json.encode({a = 1}))'
  kosmo integrations:lua workflow.lua --json
  echo 'return 1 + 1' | kosmo integrations:lua --json
  kosmo integrations:lua --offline --eval 'dump(app.integrations.replicate.get_account({}))'
  kosmo integrations:lua --repl

Run `kosmo COMMAND --help` for a command's options. Exit codes: 0 success, 1 script error or limit, 2 usage error.
"""


def _usage() -> str:
    from kosmo_lua import __version__

    width = max(len(c) for c in COMMANDS)
    lines = [f"kosmo {__version__}: a sandboxed Lua bridge to HTTP APIs", "", "Usage: kosmo COMMAND [OPTIONS]", "",
             "Commands:"]
    lines += [f"  {name.ljust(width)}  {desc}" for name, (_, desc) in COMMANDS.items()]
    return "\n".join(lines) + "\n\n" + HELP_EPILOG


def _fail(message: str) -> NoReturn:
    sys.stderr.write(f"kosmo: {message}\n")
    raise SystemExit(2)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        (sys.stdout if argv else sys.stderr).write(_usage())
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        from kosmo_lua import __version__

        print(f"kosmo-lua {__version__}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        import difflib

        close = difflib.get_close_matches(name, list(COMMANDS), n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        _fail(f"unknown command '{name}'.{hint} Run `kosmo --help` for the list.")
    module = importlib.import_module(COMMANDS[name][0])
    parse_fast = getattr(module, "parse_fast", None)
    ns = parse_fast(rest) if parse_fast is not None else None
    if ns is None:
        ns = module.build_parser(f"kosmo {name}").parse_args(rest)
    from kosmo_lua.errors import KosmoError, UsageError

    try:
        return int(module.run(ns) or 0)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except UsageError as exc:  # the safety net: commands report their own errors, none may show a traceback
        sys.stderr.write(f"kosmo {name}: {exc}\n")
        return 2
    except KosmoError as exc:
        sys.stderr.write(f"kosmo {name}: {exc}\n")
        return 1


def entry() -> NoReturn:
    raise SystemExit(main())


if __name__ == "__main__":
    entry()
