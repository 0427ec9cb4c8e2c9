"""`kosmo mcp:lua`: like `integrations:lua`, but the sandbox offers MCP servers (app.mcp, mcp) and no integrations."""

from __future__ import annotations

import argparse

from . import lua_cmd


def build_parser(prog: str) -> argparse.ArgumentParser:
    return lua_cmd.build_parser(prog, surface="mcp")


def run(ns: argparse.Namespace) -> int:
    return lua_cmd.run(ns)
