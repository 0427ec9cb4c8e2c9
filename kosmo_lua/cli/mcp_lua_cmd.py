"""`kosmo mcp:lua`: like `integrations:lua`, but the sandbox offers MCP servers (app.mcp, mcp) and no integrations."""

from __future__ import annotations

from . import lua_cmd

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse


def build_parser(prog: str) -> argparse.ArgumentParser:
    return lua_cmd.build_parser(prog, surface="mcp")


def parse_fast(argv: list[str]) -> argparse.Namespace | None:
    return lua_cmd.parse_fast(argv, surface="mcp")


def run(ns: argparse.Namespace) -> int:
    return lua_cmd.run(ns)
