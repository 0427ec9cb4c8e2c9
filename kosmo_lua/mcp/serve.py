"""``kosmo mcp:serve``: the agent tools and the Lua docs served over MCP (stdio), on the SDK's low-level Server.

* tools: ``execute_lua``, ``lua_read_doc``, ``lua_list_docs``, ``lua_search_docs`` (plus one per integration
  operation with ``--operations``); a result carries the readable text as content and the structured result
  (for scripts: the JSON envelope) as ``structuredContent``; failures set ``isError``.
* resources: every docs page as ``kosmo-docs://<page>`` (markdown), listed and readable, plus the template
  ``kosmo-docs://{page}`` for any page name (aliases too).

All work runs on one dedicated thread that owns every ScriptRunner (the supervisor forks from the thread that
created a session), so the event loop keeps answering while a script runs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ..agent.formats import render

if TYPE_CHECKING:
    from ..agent.tools import AgentTools

__all__ = ["build_server", "serve_stdio", "DOCS_SCHEME"]

T = TypeVar("T")
DOCS_SCHEME = "kosmo-docs://"
_RESOURCE_NOT_FOUND = -32002  # the MCP specification's code for an unknown resource

INSTRUCTIONS = (
    "kosmo-lua runs Lua 5.4 scripts in a sandbox with functions for HTTP APIs (app.integrations.<name>) and MCP "
    "servers (app.mcp.<server>). Look functions up with lua_search_docs / lua_read_doc before writing a script, "
    "then run it with execute_lua. Calls the user has not allowed are refused with a message saying what to allow."
)


class _Worker:
    """One thread that runs every blocking call, in order."""

    def __init__(self) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="kosmo-mcp-serve")

    async def run(self, fn: Callable[[], T]) -> T:
        return await asyncio.wrap_future(self._pool.submit(fn))

    def close(self, tools: "AgentTools") -> None:
        # AgentTools.close must run on the thread that created its runners.
        try:
            self._pool.submit(tools.close).result(timeout=10)
        except Exception:  # noqa: BLE001 - shutting down: nothing useful to report
            pass
        self._pool.shutdown(wait=False)


def _docs_resources(tools: "AgentTools") -> list[dict[str, str]]:
    """Every page worth listing: the guides, and each integration's pages (MCP servers' pages load on read)."""
    from ..registry import discover

    index = tools.docs()
    entries: dict[str, dict[str, str]] = {}
    for entry in index.list(None):
        entries[entry["name"]] = entry
    if tools.options.surface == "integrations":
        for name in discover():
            for entry in index.list(name):
                entries[entry["name"]] = entry
    return [entries[k] for k in sorted(entries)]


def build_server(tools: "AgentTools", worker: _Worker) -> Any:
    import mcp.types as types
    from mcp.server.lowlevel import Server
    from mcp.shared.exceptions import MCPError

    from .. import __version__

    def tool_of(spec: Any) -> Any:
        wire = render(spec, "mcp")
        annotations = wire["annotations"]
        return types.Tool(name=spec.name, title=spec.title, description=spec.description,
                          input_schema=spec.input_schema,
                          annotations=types.ToolAnnotations(title=annotations.get("title"),
                                                            read_only_hint=annotations.get("readOnlyHint"),
                                                            open_world_hint=annotations.get("openWorldHint")))

    async def list_tools(ctx: Any, params: Any) -> Any:
        specs = await worker.run(tools.definitions)
        return types.ListToolsResult(tools=[tool_of(s) for s in specs])

    async def call_tool(ctx: Any, params: Any) -> Any:
        result = await worker.run(lambda: tools.call_tool(params.name, params.arguments or {}))
        return types.CallToolResult(content=[types.TextContent(type="text", text=result.text)],
                                    structured_content=result.data, is_error=result.is_error)

    async def list_resources(ctx: Any, params: Any) -> Any:
        entries = await worker.run(lambda: _docs_resources(tools))
        return types.ListResourcesResult(resources=[
            types.Resource(uri=f"{DOCS_SCHEME}{e['name']}", name=e["name"], title=e.get("title") or e["name"],
                           description=e.get("summary") or None, mime_type="text/markdown")
            for e in entries])

    async def list_templates(ctx: Any, params: Any) -> Any:
        return types.ListResourceTemplatesResult(resource_templates=[types.ResourceTemplate(
            uri_template=f"{DOCS_SCHEME}{{page}}", name="kosmo-docs", title="Lua docs page",
            description="Any Lua docs page by name: a guide (overview, errors), an integration (replicate), a "
                        "function (replicate.get_prediction) or an MCP server's tool.",
            mime_type="text/markdown")])

    async def read_resource(ctx: Any, params: Any) -> Any:
        uri = str(params.uri)
        if not uri.startswith(DOCS_SCHEME) or not uri[len(DOCS_SCHEME):]:
            raise MCPError(_RESOURCE_NOT_FOUND, f"Unknown resource {uri}: expected {DOCS_SCHEME}<page>")
        page = uri[len(DOCS_SCHEME):]

        def read() -> str | None:
            from ..errors import DocNotFound

            try:
                return tools.docs().read(page)
            except DocNotFound as exc:
                raise MCPError(_RESOURCE_NOT_FOUND, str(exc)) from None

        text = await worker.run(read)
        return types.ReadResourceResult(contents=[types.TextResourceContents(uri=uri, mime_type="text/markdown",
                                                                             text=text or "")])

    return Server("kosmo-lua", version=__version__, title="kosmo-lua", instructions=INSTRUCTIONS,
                  on_list_tools=list_tools, on_call_tool=call_tool, on_list_resources=list_resources,
                  on_list_resource_templates=list_templates, on_read_resource=read_resource)


def serve_stdio(tools: "AgentTools") -> None:
    """Serve until the client closes standard input."""
    import anyio
    from mcp.server.stdio import stdio_server

    worker = _Worker()
    server = build_server(tools, worker)

    async def main() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    try:
        anyio.run(main)
    finally:
        worker.close(tools)
