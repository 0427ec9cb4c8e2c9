"""`kosmo agent:tools`: print the agent tool definitions for an agent API (OpenAI, Anthropic or MCP shape)."""

from __future__ import annotations

import argparse
import json
import sys

from ..agent.formats import FORMATS


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Print the agent tool definitions (execute_lua, lua_read_doc, lua_list_docs, lua_search_docs) "
                    "as a JSON array in the shape an agent API expects.",
        epilog="Formats:\n  openai     [{\"type\": \"function\", \"function\": {name, description, parameters}}]\n"
               "  anthropic  [{name, description, input_schema}]\n"
               "  mcp        [{name, title, description, inputSchema, annotations}]\n\n"
               "Call them from Python with kosmo_lua.agent.AgentTools().call_tool(name, arguments).")
    p.add_argument("--format", choices=FORMATS, default="openai", help="the tool shape (default openai)")
    p.add_argument("--operations", action="store_true",
                   help="add one tool per integration operation (replicate_create_prediction, ...)")
    p.add_argument("--session", action="store_true",
                   help="describe execute_lua as keeping state between calls (AgentTools(session=True))")
    return p


def run(ns: argparse.Namespace) -> int:
    from ..agent.formats import render_all
    from ..agent.specs import core_specs
    from ..agent.tools import DEFAULT_MAX_CPU_LIMIT, DEFAULT_MAX_MEMORY_LIMIT
    from ..errors import KosmoError

    specs = core_specs(session=ns.session, max_memory_limit=DEFAULT_MAX_MEMORY_LIMIT,
                       max_cpu_limit=DEFAULT_MAX_CPU_LIMIT)
    if ns.operations:
        from ..agent.operation_tools import operation_specs

        try:
            specs += operation_specs()
        except KosmoError as exc:
            sys.stderr.write(f"kosmo agent:tools: {exc}\n")
            return 1
    sys.stdout.write(json.dumps(render_all(specs, ns.format), indent=2, ensure_ascii=False) + "\n")
    return 0
