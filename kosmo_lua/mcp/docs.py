"""Docs pages generated from configured MCP servers' tool schemas, for ``docs.read`` and the agent docs tools.

One lazy provider per server (namespace = the server name): nothing starts until one of its pages is read, listed
or searched. Pages: ``<server>`` (the tools at a glance) and ``<server>.<tool>`` (parameters from the input schema),
with ``mcp.<server>...`` and ``app.mcp.<server>...`` as aliases.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import KosmoError
from .config import ServerConfig
from .convert import tool_access

if TYPE_CHECKING:
    from ..stdlib.docs import DocPage

__all__ = ["mcp_doc_providers", "tool_page_body"]

Provider = tuple[Callable[[], list[str]], Callable[[], list["DocPage"]]]


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def _type_of(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        return " or ".join(str(k) for k in kind if k != "null") or "any"
    if kind == "array" and isinstance(schema.get("items"), Mapping):
        return f"array of {_type_of(schema['items'])}"
    if kind == "object":
        return "table"
    if kind:
        return str(kind)
    for combo in ("anyOf", "oneOf"):
        options = schema.get(combo)
        if isinstance(options, list):
            kinds = [_type_of(o) for o in options if isinstance(o, Mapping) and o.get("type") != "null"]
            return " or ".join(dict.fromkeys(kinds)) or "any"
    if "enum" in schema:
        return "enum"
    return "any"


def _constraints(schema: Mapping[str, Any]) -> str:
    bits: list[str] = []
    if isinstance(schema.get("enum"), list):
        bits.append("one of " + ", ".join(f"`{json.dumps(v)}`" for v in schema["enum"]))
    for key, word in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<")):
        if isinstance(schema.get(key), (int, float)) and not isinstance(schema.get(key), bool):
            bits.append(f"{word} {schema[key]}")
    if "default" in schema:
        bits.append(f"default `{json.dumps(schema['default'])}`")
    return "; ".join(bits)


def tool_page_body(server: str, tool: Any) -> str:
    schema = tool.input_schema or {}
    access = tool_access(tool)
    lines = [f"# {server}.{tool.name}", "", (tool.description or "").strip() or "(no description)", "",
             f"- Call: `app.mcp.{server}.{tool.name}({{ ... }})` or `mcp.call(\"{server}.{tool.name}\", {{ ... }})`.",
             f"- Access: **{access}** " + ("(the server marks it read-only; allowed by default)" if access == "read"
                                           else "(asks by default: allow it with `kosmo mcp:configure " + server +
                                           " --write allow`, or run with --force)")]
    props = schema.get("properties") if isinstance(schema.get("properties"), Mapping) else {}
    required = set(schema.get("required") or [])
    lines += ["", "## Parameters", ""]
    if props:
        lines += ["| name | type | required | description |", "|---|---|---|---|"]
        for name, prop in props.items():
            prop = prop if isinstance(prop, Mapping) else {}
            desc = str(prop.get("description") or prop.get("title") or "")
            extra = _constraints(prop)
            if extra:
                desc = f"{desc} ({extra})" if desc else extra
            lines.append(f"| `{name}` | {_type_of(prop)} | {'yes' if name in required else 'no'} | {_cell(desc)} |")
    else:
        lines.append("None: call it with `{}`.")
    lines += ["", "Arguments are checked against the tool's input schema before the call; "
                  f"`mcp.schema(\"{server}.{tool.name}\")` returns the whole schema."]
    lines += ["", "## Returns", ""]
    output = getattr(tool, "output_schema", None)
    if isinstance(output, Mapping) and isinstance(output.get("properties"), Mapping):
        fields = ", ".join(f"`{k}`" for k in output["properties"])
        lines.append(f"A table with {fields} (the tool's structured content).")
    else:
        lines.append("The tool's structured content when it sends one; else its text; else its content blocks.")
    lines += ["", "A tool that reports an error raises a Lua error (see `docs.read(\"mcp\")`)."]
    return "\n".join(lines) + "\n"


def _overview(server: str, tools: list[Any], problem: str | None) -> str:
    lines = [f"# MCP server {server}", "", f"Tools of the configured MCP server `{server}`, called as "
             f"`app.mcp.{server}.<tool>({{ ... }})`. Resources and prompts: `mcp.resources(\"{server}\")`, "
             f"`mcp.prompts(\"{server}\")`.", ""]
    if problem:
        lines += [f"The server's tools could not be listed: {problem}", ""]
    for tool in sorted(tools, key=lambda t: t.name):
        summary = (tool.description or "").strip().splitlines()[0] if tool.description else ""
        lines.append(f"- `{tool.name}` [{tool_access(tool)}]: {summary}")
    return "\n".join(lines) + "\n"


def _pages(server: str, list_tools: Callable[[], list[Any]]) -> list["DocPage"]:
    from ..stdlib.docs import DocPage

    problem: str | None = None
    try:
        tools = list_tools()
    except KosmoError as exc:
        tools, problem = [], str(exc)
    pages = [DocPage(name=server, title=f"MCP server {server}", summary=f"Tools of the MCP server '{server}'",
                     body=_overview(server, tools, problem), aliases=(f"mcp.{server}", f"app.mcp.{server}"),
                     namespace=server)]
    for tool in tools:
        summary = (tool.description or "").strip().splitlines()[0] if tool.description else ""
        pages.append(DocPage(name=f"{server}.{tool.name}", title=f"{server}.{tool.name}", summary=summary,
                             body=tool_page_body(server, tool),
                             aliases=(f"mcp.{server}.{tool.name}", f"app.mcp.{server}.{tool.name}"),
                             namespace=server))
    return pages


def mcp_doc_providers(source: Any, *, hub: Any = None) -> dict[str, Provider]:
    """Lazy providers for ``build_index(extra_providers=...)``: one per configured server.

    ``source`` is a mapping of server name -> ServerConfig (then ``hub``, or a new McpHub, does the talking) or an
    engine's McpBinding (its connections are shared with the script's). Without a usable config: no providers.
    """
    if isinstance(source, Mapping):
        servers: Mapping[str, ServerConfig] = source
        holder: dict[str, Any] = {"hub": hub}

        def connection(name: str) -> Any:
            if holder["hub"] is None:
                from .connection import McpHub

                holder["hub"] = McpHub(servers)
            return holder["hub"].connection(name)

        def list_for(name: str) -> Callable[[], list[Any]]:
            return lambda: connection(name).list_tools(None)
    else:
        binding = source
        try:
            servers = binding.servers()
        except KosmoError:
            return {}

        def list_for(name: str) -> Callable[[], list[Any]]:
            return lambda: binding.hub.connection(name).list_tools(binding.deadline())

    def provider(name: str) -> Provider:
        return (lambda: [name]), (lambda: _pages(name, list_for(name)))

    return {name: provider(name) for name in sorted(servers)}
