"""MCP servers inside the sandbox: ``app.mcp.<server>.<tool>(args)`` and the ``mcp`` library.

``install(engine)`` is called by the engine for both surfaces (``integrations:lua`` and ``mcp:lua``). Nothing is
started at install: the config is read on first use, a server is started the first time a script touches it and
is reused for the rest of the worker's life (a REPL or agent session keeps it), and ``McpBinding.close()`` stops
them all. Every wait is bounded by the running script's deadline.

Script-facing functions::

    app.mcp.<server>.<tool>(args)          call a tool (lazy namespace: unknown names get "Did you mean")
    mcp.servers()                          {{name, read, write, running}, ...}
    mcp.tools([server])                    {{server, name, title, description, access}, ...}
    mcp.schema("server.tool")              the tool's input JSON Schema as a table
    mcp.call("server.tool", args)          same as app.mcp.server.tool(args)
    mcp.resources(server)                  {{uri, name, description, mime_type}, ...}
    mcp.read_resource(server, uri)         {uri, contents, text}
    mcp.prompts(server)                    {{name, description, arguments}, ...}
    mcp.get_prompt(server, name[, args])   {description, messages, text}
"""

from __future__ import annotations

import atexit
import math
import time

from ..errors import ArgumentError, CallError, KosmoError
from ..sandbox.values import LuaArray, lua_type_name
from . import convert  # light: plain-data shaping only

TYPE_CHECKING = False  # typing costs milliseconds of start-up; type checkers read the names below anyway
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from typing import Any

    from .config import ServerConfig
    from .connection import McpHub, ServerConnection


__all__ = ["McpBinding", "install"]


def _prompt_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


class McpBinding:
    """The MCP state of one engine (one worker): config, connections, and the host functions over them."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.options = engine.options
        self._servers: dict[str, ServerConfig] | None = None
        self._config_error: str | None = None
        self._hub: McpHub | None = None

    # -- config and connections --------------------------------------------------------------------------------

    def servers(self) -> dict[str, ServerConfig]:
        """The configured servers; an unreadable config is an error for the script, not for the engine."""
        if self._servers is None and self._config_error is None:
            try:
                from .config import load_servers

                self._servers = load_servers(cwd=self._cwd())
            except KosmoError as exc:
                self._config_error = str(exc)
        if self._config_error is not None:
            raise CallError(f"mcp: the MCP configuration cannot be used: {self._config_error}", kind="mcp")
        assert self._servers is not None
        return self._servers

    def _names(self) -> list[str]:
        try:
            return sorted(self.servers())
        except CallError:
            return []

    def _cwd(self) -> Path:
        from pathlib import Path  # pathlib costs start-up time: only scripts that use MCP import it

        return Path(self.options.cwd)

    @property
    def hub(self) -> "McpHub":
        if self._hub is None:
            from .connection import McpHub

            self._hub = McpHub(self.servers(), cwd=self._cwd())
        return self._hub

    def deadline(self) -> float | None:
        """The running script's deadline (a time.monotonic() value), or None outside a script."""
        value = self.engine.sandbox.deadline
        return None if math.isinf(value) else float(value)

    def _server(self, function: str, name: Any, parameter: str = "server") -> ServerConfig:
        if not isinstance(name, str) or not name:
            raise ArgumentError(function, [f"{parameter}: expected a server name (string), got {lua_type_name(name)}"])
        servers = self.servers()
        if name not in servers:
            import difflib

            close = difflib.get_close_matches(name, list(servers), n=3, cutoff=0.5)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            known = ", ".join(sorted(servers)) or "none (configure one with kosmo mcp:configure)"
            raise ArgumentError(function, [f"{parameter}: unknown MCP server '{name}'.{hint} Configured: {known}"])
        return servers[name]

    def _connection(self, server: ServerConfig) -> "ServerConnection":
        return self.hub.connection(server.name)

    def _tools(self, server: ServerConfig) -> list[Any]:
        return self._connection(server).list_tools(self.deadline())

    def _tool(self, function: str, server: ServerConfig, tool: str) -> Any:
        tools = {t.name: t for t in self._tools(server)}
        if tool not in tools:
            import difflib

            close = difflib.get_close_matches(tool, list(tools), n=3, cutoff=0.6)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise ArgumentError(function, [f"unknown tool '{tool}' on MCP server '{server.name}'.{hint} Its tools: "
                                           f"{', '.join(sorted(tools)) or 'none'}"])
        return tools[tool]

    def _split(self, function: str, qualified: Any) -> tuple[ServerConfig, str]:
        """"server.tool" -> (server config, tool name)."""
        if not isinstance(qualified, str) or "." not in qualified:
            got = repr(qualified) if isinstance(qualified, str) else lua_type_name(qualified)
            raise ArgumentError(function, [f"name: expected \"server.tool\" (a string), got {got}"])
        server, tool = qualified.split(".", 1)
        return self._server(function, server, "name"), tool

    # -- recording ---------------------------------------------------------------------------------------------

    def _recorded(self, path: str, server: str, fields: dict[str, Any], work: Callable[[dict[str, Any]], Any]) -> Any:
        record: dict[str, Any] = {"path": path, "server": server, **fields, "status": "error", "error": None,
                                  "duration_ms": 0.0}
        started = time.perf_counter()
        try:
            result = work(record)
            record["status"] = "ok"
            return result
        except CallError as exc:
            record["error"] = str(exc)
            raise
        finally:
            record["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
            self.engine.record_call(record)

    def _check(self, server: ServerConfig, access: str, function: str, record: dict[str, Any]) -> None:
        from .policy import check_access

        if check_access(server, access, function=function, force=bool(self.options.force),
                        agent=bool(getattr(self.options, "agent", False))):
            record["permission_bypassed"] = True

    # -- the script-facing functions ---------------------------------------------------------------------------

    def call_tool(self, server: ServerConfig, tool_name: str, args: Any = None, *extra: Any) -> Any:
        from ..agent.schema_check import check_arguments

        function = f"mcp.{server.name}.{tool_name}"
        if extra:
            raise ArgumentError(function, ["takes one table of arguments, got more than one argument"])

        def work(record: dict[str, Any]) -> Any:
            tool = self._tool(function, server, tool_name)
            access = convert.tool_access(tool)
            record["access"] = access
            arguments = check_arguments(function, args, tool.input_schema)
            self._check(server, access, function, record)
            result = self._connection(server).request(
                function, lambda session: session.call_tool(tool_name, arguments), self.deadline())
            if result.is_error:
                text = convert.content_text(list(result.content or [])) or "the tool reported an error"
                raise CallError(f"{function}: {text}", kind="mcp_tool", server=server.name, tool=tool_name,
                                content=convert.plain(list(result.content or [])))
            return convert.tool_result(result)

        return self._recorded(function, server.name, {"tool": tool_name}, work)

    def lua_servers(self, *extra: Any) -> LuaArray:
        if extra:
            raise ArgumentError("mcp.servers", ["takes no arguments"])
        hub = self._hub
        return LuaArray({"name": s.name, "read": s.read, "write": s.write,
                         "running": bool(hub is not None and hub.started(s.name))}
                        for s in self.servers().values())

    def lua_tools(self, server: Any = None, *extra: Any) -> LuaArray:
        if extra:
            raise ArgumentError("mcp.tools", ["too many arguments; expected ([server])"])
        chosen = list(self.servers().values()) if server is None else [self._server("mcp.tools", server)]
        return LuaArray(convert.tool_info(s.name, t) for s in chosen for t in self._tools(s))

    def lua_schema(self, qualified: Any = None, *extra: Any) -> dict[str, Any]:
        if extra:
            raise ArgumentError("mcp.schema", ["too many arguments; expected (\"server.tool\")"])
        server, tool = self._split("mcp.schema", qualified)
        return dict(self._tool("mcp.schema", server, tool).input_schema)

    def lua_call(self, qualified: Any = None, args: Any = None, *extra: Any) -> Any:
        if extra:
            raise ArgumentError("mcp.call", ["too many arguments; expected (\"server.tool\", args)"])
        server, tool = self._split("mcp.call", qualified)
        return self.call_tool(server, tool, args)

    def lua_resources(self, server: Any = None, *extra: Any) -> LuaArray:
        if extra:
            raise ArgumentError("mcp.resources", ["too many arguments; expected (server)"])
        config = self._server("mcp.resources", server)
        result = self._connection(config).request(
            f"mcp.{config.name}.resources", lambda session: session.list_resources(), self.deadline())
        return LuaArray(convert.resource_info(r) for r in result.resources)

    def lua_read_resource(self, server: Any = None, uri: Any = None, *extra: Any) -> dict[str, Any]:
        if extra:
            raise ArgumentError("mcp.read_resource", ["too many arguments; expected (server, uri)"])
        config = self._server("mcp.read_resource", server)
        if not isinstance(uri, str) or not uri:
            raise ArgumentError("mcp.read_resource", [f"uri: expected a resource URI (string), got "
                                                      f"{lua_type_name(uri)}"])
        function = f"mcp.{config.name}.read_resource"

        def work(record: dict[str, Any]) -> Any:
            self._check(config, "read", function, record)
            result = self._connection(config).request(
                function, lambda session: session.read_resource(uri), self.deadline())
            return convert.read_result(uri, result)

        return self._recorded(function, config.name, {"uri": uri, "access": "read"}, work)

    def lua_prompts(self, server: Any = None, *extra: Any) -> LuaArray:
        if extra:
            raise ArgumentError("mcp.prompts", ["too many arguments; expected (server)"])
        config = self._server("mcp.prompts", server)
        result = self._connection(config).request(
            f"mcp.{config.name}.prompts", lambda session: session.list_prompts(), self.deadline())
        return LuaArray(convert.prompt_info(p) for p in result.prompts)

    def lua_get_prompt(self, server: Any = None, name: Any = None, args: Any = None, *extra: Any) -> dict[str, Any]:
        if extra:
            raise ArgumentError("mcp.get_prompt", ["too many arguments; expected (server, name[, args])"])
        config = self._server("mcp.get_prompt", server)
        if not isinstance(name, str) or not name:
            raise ArgumentError("mcp.get_prompt", [f"name: expected a prompt name (string), got {lua_type_name(name)}"])
        if args is not None and not isinstance(args, dict) and args != []:
            raise ArgumentError("mcp.get_prompt", [f"args: expected a table of named strings, got "
                                                   f"{'a list' if isinstance(args, list) else lua_type_name(args)}"])
        # Prompt arguments are strings in MCP; numbers and booleans are converted the way Lua prints them.
        arguments = {str(k): _prompt_text(v) for k, v in args.items()} if isinstance(args, dict) else {}
        function = f"mcp.{config.name}.get_prompt"

        def work(record: dict[str, Any]) -> Any:
            self._check(config, "read", function, record)
            result = self._connection(config).request(
                function, lambda session: session.get_prompt(name, arguments), self.deadline())
            return convert.prompt_result(result)

        return self._recorded(function, config.name, {"prompt": name, "access": "read"}, work)

    # -- app.mcp -----------------------------------------------------------------------------------------------

    def _root(self, key: str) -> Any:
        from ..sandbox.runtime import Namespace

        servers = self._names()
        if key not in servers:
            if not servers and self._config_error is not None:
                raise CallError(f"app.mcp: the MCP configuration cannot be used: {self._config_error}", kind="mcp")
            return None
        server = self.servers()[key]
        return Namespace(resolver=lambda tool: self._tool_entry(server, tool),
                         listing=lambda: [t.name for t in self._tools(server)])

    def _tool_entry(self, server: ServerConfig, tool: str) -> Any:
        from ..sandbox.runtime import Function

        if tool not in {t.name for t in self._tools(server)}:
            return None
        return Function(lambda *args: self.call_tool(server, tool, *args))

    # -- set-up and tear-down ----------------------------------------------------------------------------------

    def install(self) -> None:
        sb = self.engine.sandbox
        sb.lazy_namespace("app.mcp", self._root, self._names)
        for name, fn in {
            "servers": self.lua_servers, "tools": self.lua_tools, "schema": self.lua_schema, "call": self.lua_call,
            "resources": self.lua_resources, "read_resource": self.lua_read_resource, "prompts": self.lua_prompts,
            "get_prompt": self.lua_get_prompt,
        }.items():
            sb.register(f"mcp.{name}", fn)
        docs = getattr(self.engine, "docs", None)
        if docs is not None:
            def contribute(index: Any) -> None:
                from .docs import mcp_doc_providers

                for namespace, (names, load) in mcp_doc_providers(self).items():
                    index.add_provider(namespace, names=names, load=load)

            # With a lazy index the servers' configuration is read only when a script first uses docs.
            if hasattr(docs, "defer"):
                docs.defer(contribute)
            else:
                contribute(docs)
        # The engine normally calls close(); this covers a worker that exits without telling it.
        atexit.register(self.close)

    def close(self) -> None:
        hub, self._hub = self._hub, None
        if hub is not None:
            hub.close()


def install(engine: Any) -> McpBinding:
    """Install ``app.mcp`` and ``mcp.*`` into engine.sandbox; the binding is kept as ``engine.mcp``."""
    binding = McpBinding(engine)
    binding.install()
    engine.mcp = binding
    return binding
