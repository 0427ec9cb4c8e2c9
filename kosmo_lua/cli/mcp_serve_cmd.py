"""`kosmo mcp:serve`: serve the agent tools (execute_lua, docs tools) and the docs pages to an agent over MCP."""

from __future__ import annotations

import argparse
import sys

DESCRIPTION = """\
Serve kosmo's agent tools over MCP on standard input/output: execute_lua, lua_read_doc, lua_list_docs and
lua_search_docs (with --operations also one tool per integration operation, e.g. replicate_create_prediction), and
every Lua docs page as a resource (kosmo-docs://<page>). Scripts never bypass permission policies: a call the user
has not allowed is refused with a message saying what to allow.
"""

EPILOG = """\
Example client configuration (Claude Desktop, Cursor, ...):
  {"mcpServers": {"kosmo": {"command": "kosmo", "args": ["mcp:serve", "--offline=auto"]}}}
"""


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--operations", action="store_true",
                   help="also expose one tool per integration operation (replicate_get_prediction, ...)")
    p.add_argument("--offline", nargs="?", const="always", default=None, choices=("always", "auto", "never"),
                   help="send integration calls to the built-in emulators: always (the default when the flag is "
                        "given), or auto: only for accounts without credentials")
    p.add_argument("--session", action="store_true",
                   help="keep one sandbox for the whole connection: globals survive between execute_lua calls")
    return p


def run(ns: argparse.Namespace) -> int:
    try:
        import mcp  # noqa: F401 - checked here for a clear message
    except ImportError:
        sys.stderr.write("kosmo mcp:serve: the MCP SDK is not installed (pip install mcp)\n")
        return 1
    from ..agent.tools import AgentTools
    from ..errors import UsageError
    from ..mcp.serve import serve_stdio
    from ..run.runner import parse_offline

    try:
        tools = AgentTools(session=ns.session, operations=ns.operations,
                           offline=None if ns.offline is None else parse_offline(ns.offline))
    except UsageError as exc:
        sys.stderr.write(f"kosmo mcp:serve: {exc}\n")
        return 2
    serve_stdio(tools)
    return 0
