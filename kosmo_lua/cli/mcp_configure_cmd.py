"""`kosmo mcp:configure NAME`: add, change or remove an MCP server that Lua scripts can call."""

from __future__ import annotations

import argparse

from ..config.settings import POLICIES
from .configuring import SecretSafeParser, parse_assignments, print_change

DESCRIPTION = """\
Configure an MCP server for Lua scripts (app.mcp.NAME.<tool>, mcp.call("NAME.<tool>", ...)): the command that
starts it (stdio), its arguments, environment and working folder, and its read/write permission policies (read:
tools the server marks read-only, reading resources and prompts; write: every other tool; defaults read allow,
write ask). Settings go to config.yaml in the home folder ($KOSMO_HOME or ~/.kosmo), or ./.kosmo with --project.
Environment values named like *KEY, *TOKEN, *SECRET or PASSWORD go to the home credentials.yaml (0600) and are
never printed; any value may be env:VAR to read it from the environment when the server starts.
"""

EPILOG = """\
Examples:
  kosmo mcp:configure time --command uvx --arg mcp-server-time
  kosmo mcp:configure time --command python --arg=-m --arg mcp_server_time --env TZ=UTC
  kosmo mcp:configure files --write allow --project
  kosmo mcp:configure github --env GITHUB_TOKEN=env:GITHUB_TOKEN
  kosmo mcp:configure time --remove

Arguments that start with '-' need the --arg=VALUE form.
"""


def build_parser(prog: str) -> argparse.ArgumentParser:
    # Secret-safe: a mistyped `--envv API_TOKEN=...` must not print the token in argparse's error.
    p = SecretSafeParser(prog=prog, description=DESCRIPTION, epilog=EPILOG,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", metavar="NAME", help="the server's name in Lua (app.mcp.NAME)")
    p.add_argument("--command", metavar="CMD", help="the executable that starts the server")
    p.add_argument("--arg", dest="args", action="append", metavar="A",
                   help="an argument for the command (repeatable; replaces the configured list)")
    p.add_argument("--no-args", action="store_true", help="remove every configured argument")
    p.add_argument("--env", action="append", default=[], metavar="K=V", help="set an environment variable (repeatable)")
    p.add_argument("--unset-env", action="append", default=[], metavar="K", help="remove an environment variable")
    p.add_argument("--cwd", metavar="DIR", help="the folder to start the server in")
    p.add_argument("--read", choices=POLICIES, help="policy for read-only tools, resources and prompts")
    p.add_argument("--write", choices=POLICIES, help="policy for every other tool")
    p.add_argument("--remove", action="store_true", help="remove the server from the config file")
    p.add_argument("--project", action="store_true", help="write to ./.kosmo/config.yaml instead of the home config")
    return p


def run(ns: argparse.Namespace) -> int:
    from ..errors import KosmoError, UsageError
    from ..mcp.store import ServerChange, apply_server_change
    from .exit_codes import report_error

    prog = "kosmo mcp:configure"
    try:
        if ns.no_args and ns.args:
            raise UsageError("give either --arg or --no-args, not both")
        env = parse_assignments(ns.env, "--env expects K=V (an item has no '=' or an empty name)")
        change = ServerChange(name=ns.name, command=ns.command, args=[] if ns.no_args else ns.args, env=env,
                              unset_env=list(ns.unset_env), cwd=ns.cwd, read=ns.read, write=ns.write,
                              remove=ns.remove, project=ns.project)
        if change.is_empty():
            raise UsageError("nothing to change: give --command, --arg, --env, --cwd, --read, --write or --remove "
                             "(see --help)")
        report = apply_server_change(change)
    except KosmoError as exc:
        return report_error(prog, exc)
    print_change(f"{ns.name}:", report.lines, report.written)
    return 0
