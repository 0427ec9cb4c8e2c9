"""The agent tool definitions: name, description and JSON Schema of each tool, in one neutral shape.

``formats`` turns a ``ToolSpec`` into the OpenAI, Anthropic or MCP shape. Descriptions are written for a model:
what the tool does, when to use it, and what comes back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..run.runner import DEFAULT_CPU_LIMIT, DEFAULT_MEMORY_LIMIT

__all__ = ["ToolSpec", "core_specs", "EXECUTE_LUA", "READ_DOC", "LIST_DOCS", "SEARCH_DOCS", "MIN_MEMORY_LIMIT"]

EXECUTE_LUA = "execute_lua"
READ_DOC = "lua_read_doc"
LIST_DOCS = "lua_list_docs"
SEARCH_DOCS = "lua_search_docs"
MIN_MEMORY_LIMIT = 1024 * 1024


@dataclass(frozen=True)
class ToolSpec:
    name: str
    title: str
    description: str
    input_schema: dict[str, Any]
    #: True for tools that only read (docs, read operations): MCP's readOnlyHint.
    read_only: bool
    #: For operation tools: the Lua path the call runs (``replicate.get_prediction``).
    operation: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _execute_description(surface: str, session: bool) -> str:
    if surface == "mcp":
        globals_ = ("app.mcp.<server>.<tool>({...}) for the configured MCP servers, mcp.servers(), mcp.tools(), "
                    "mcp.call(), docs, json, regex, dump, print, sleep and parallel")
    else:
        globals_ = ("app.integrations.<name>.<function>({...}) (for example app.integrations.replicate."
                    "get_account({})), app.mcp.<server>.<tool>({...}), docs, json, regex, dump, print, sleep and parallel")
    state = ("Globals you define persist between calls of this session (a hard limit resets them; the result says "
             "so)." if session else "Every call starts in a fresh sandbox: nothing persists between calls.")
    return (
        "Run a Lua 5.4 script in kosmo's sandbox. It offers " + globals_ + ". Use lua_search_docs and lua_read_doc "
        "first to find functions and their parameters. Returns the printed output, the script's return values, "
        "the error (if any), one record per integration or MCP call, and timings. " + state + " Permission "
        "policies apply: a call the user has not allowed is refused, and the error says what the user must allow; "
        "do not retry it. Limits: memory (memoryLimit, bytes) and time (cpuLimit, seconds, including time spent "
        "waiting on calls)."
    )


def core_specs(*, surface: str = "integrations", session: bool = False, max_memory_limit: int,
               max_cpu_limit: float) -> list[ToolSpec]:
    """execute_lua and the three docs tools."""
    execute = ToolSpec(
        name=EXECUTE_LUA, title="Run Lua", read_only=False,
        description=_execute_description(surface, session),
        input_schema={
            "type": "object",
            "properties": {
                "code": {"type": "string", "minLength": 1,
                         "description": "The Lua 5.4 source to run. `return` values come back as JSON."},
                "memoryLimit": {"type": "integer", "minimum": MIN_MEMORY_LIMIT, "maximum": max_memory_limit,
                                "description": f"Lua memory limit in bytes (default {DEFAULT_MEMORY_LIMIT})."},
                "cpuLimit": {"type": "number", "exclusiveMinimum": 0, "maximum": max_cpu_limit,
                             "description": f"Time limit in seconds, including waits on calls (default "
                                            f"{DEFAULT_CPU_LIMIT:g})."},
            },
            "required": ["code"],
            "additionalProperties": False,
        },
    )
    read_doc = ToolSpec(
        name=READ_DOC, title="Read a Lua docs page", read_only=True,
        description=(
            "Read one page of the Lua docs as markdown. Pages: guides (overview, json, regex, errors, examples, "
            "limits, mcp), an integration's overview (integrations.replicate or replicate), one function with its "
            "parameters (replicate.create_prediction), or an MCP server's tool (<server>.<tool>). Unknown names "
            "return the closest page names."),
        input_schema={
            "type": "object",
            "properties": {"page": {"type": "string", "minLength": 1,
                                    "description": "The page name, e.g. \"replicate.get_prediction\"."}},
            "required": ["page"],
            "additionalProperties": False,
        },
    )
    list_docs = ToolSpec(
        name=LIST_DOCS, title="List Lua docs pages", read_only=True,
        description=("List the Lua docs pages (name and one-line summary). Without a namespace: the guides and one "
                     "entry per integration or MCP server; with a namespace (e.g. \"replicate\"): every page in it."),
        input_schema={
            "type": "object",
            "properties": {"namespace": {"type": "string", "minLength": 1,
                                         "description": "An integration or MCP server name, e.g. \"replicate\"."}},
            "additionalProperties": False,
        },
    )
    search_docs = ToolSpec(
        name=SEARCH_DOCS, title="Search Lua docs", read_only=True,
        description=("Search the Lua docs (guides, every integration function, MCP tools) by keywords; returns the "
                     "best pages with a snippet each. Read a result with lua_read_doc."),
        input_schema={
            "type": "object",
            "properties": {
                "query": {"type": "string", "minLength": 1, "description": "Keywords, e.g. \"cancel prediction\"."},
                "limit": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10,
                          "description": "How many results at most (default 10)."},
            },
            "required": ["query"],
            "additionalProperties": False,
        },
    )
    return [execute, read_doc, list_docs, search_docs]
