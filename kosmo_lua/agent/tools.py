"""``AgentTools``: the agent tools as a Python API.

    tools = AgentTools()                          # fresh sandbox per execute_lua call
    tools = AgentTools(session=True)              # one kept-alive worker: globals survive between calls
    tools = AgentTools(operations=True)           # plus one tool per integration operation
    result = tools.call_tool("execute_lua", {"code": "return 1 + 1"})
    result.text, result.data, result.is_error

Scripts run through ``ScriptRunner`` in the supervised worker, so a hang or a memory blow-up ends as an error result,
never as a problem for the host. Agent runs never bypass permission policies (``force=False, agent=True``). Bad
arguments give an error result naming the tool and the parameter, never an exception.

A ``ScriptRunner`` must be used from the thread that created it: call a session's tools from one thread.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ArgumentError, DocNotFound, KosmoError
from . import specs as names
from .report import apply_refusal, envelope_text
from .schema_check import check_arguments
from .specs import ToolSpec, core_specs

if TYPE_CHECKING:
    from ..run.runner import RunOptions, ScriptRunner
    from ..stdlib.docs import DocsIndex

__all__ = ["AgentTools", "ToolResult", "DEFAULT_MAX_MEMORY_LIMIT", "DEFAULT_MAX_CPU_LIMIT"]

#: The largest limits a model may ask for; a host can choose others.
DEFAULT_MAX_MEMORY_LIMIT = 256 * 1024 * 1024
DEFAULT_MAX_CPU_LIMIT = 300.0


@dataclass(frozen=True)
class ToolResult:
    text: str  # what the model reads
    data: dict[str, Any] = field(default_factory=dict)  # the structured result (for execute_lua: the envelope)
    is_error: bool = False


def _error(text: str, **data: Any) -> ToolResult:
    return ToolResult(text=text, data={"error": text, **data}, is_error=True)


class AgentTools:
    def __init__(self, *, session: bool = False, operations: bool = False, surface: str = "integrations",
                 offline: bool | str | None = None, cwd: str | Path | None = None,
                 max_memory_limit: int = DEFAULT_MAX_MEMORY_LIMIT, max_cpu_limit: float = DEFAULT_MAX_CPU_LIMIT
                 ) -> None:
        from ..run.runner import RunOptions

        # Agent runs never bypass permission policies: force is fixed here, not a parameter.
        self.options: RunOptions = RunOptions(
            force=False, agent=True, surface=surface, offline=offline,
            cwd=str(cwd) if cwd is not None else None).validated()
        self.session = session
        self.operations = operations and surface == "integrations"
        self.max_memory_limit = max_memory_limit
        self.max_cpu_limit = max_cpu_limit
        self._specs: dict[str, ToolSpec] | None = None
        self._runner: ScriptRunner | None = None
        self._docs: DocsIndex | None = None
        self._mcp_hub_holder: dict[str, Any] = {}

    # -- definitions -------------------------------------------------------------------------------------------

    def _all_specs(self) -> dict[str, ToolSpec]:
        if self._specs is None:
            found = core_specs(surface=self.options.surface, session=self.session,
                               max_memory_limit=self.max_memory_limit, max_cpu_limit=self.max_cpu_limit)
            if self.operations:
                from .operation_tools import operation_specs

                found += operation_specs()
            self._specs = {s.name: s for s in found}
        return self._specs

    def definitions(self) -> list[ToolSpec]:
        """Every tool this instance serves, in a stable order (core tools first)."""
        return list(self._all_specs().values())

    # -- calling -----------------------------------------------------------------------------------------------

    def call_tool(self, name: str, arguments: Any = None) -> ToolResult:
        """Run one tool. Never raises for a bad name or bad arguments: those are error results."""
        specs = self._all_specs()
        spec = specs.get(name) if isinstance(name, str) else None
        if spec is None:
            import difflib

            close = difflib.get_close_matches(str(name), list(specs), n=3, cutoff=0.6)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            return _error(f"Unknown tool: {name}.{hint} Tools: {', '.join(specs)}")
        try:
            args = check_arguments(name, arguments, spec.input_schema)
        except ArgumentError as exc:
            return _error(str(exc), problems=exc.problems)
        try:
            if name == names.EXECUTE_LUA:
                return self._execute(args)
            if name == names.READ_DOC:
                return self._read_doc(args["page"])
            if name == names.LIST_DOCS:
                return self._list_docs(args.get("namespace"))
            if name == names.SEARCH_DOCS:
                return self._search_docs(args["query"], int(args.get("limit", 10)))
            assert spec.operation is not None
            return self._operation(spec, args)
        except KosmoError as exc:
            return _error(f"{name}: {exc}")

    # -- execute_lua and operation tools -----------------------------------------------------------------------

    def _runner_for_call(self) -> "ScriptRunner":
        from ..run.runner import ScriptRunner

        if self.session:
            if self._runner is None:
                self._runner = ScriptRunner(self.options, keep_state=True)
            return self._runner
        return ScriptRunner(self.options)

    def _run(self, code: str, chunkname: str, *, memory_limit: int | None = None,
             cpu_limit: float | None = None) -> dict[str, Any]:
        runner = self._runner_for_call()
        try:
            envelope = runner.run(code, chunkname, memory_limit=memory_limit, cpu_limit=cpu_limit).to_dict()
        finally:
            if not self.session:
                runner.close()
        apply_refusal(envelope)
        return envelope

    def _execute(self, args: dict[str, Any]) -> ToolResult:
        envelope = self._run(args["code"], "=(agent)", memory_limit=args.get("memoryLimit"),
                             cpu_limit=args.get("cpuLimit"))
        return ToolResult(text=envelope_text(envelope), data=envelope, is_error=not envelope["success"])

    def _operation(self, spec: ToolSpec, args: dict[str, Any]) -> ToolResult:
        from .operation_tools import operation_call_source

        assert spec.operation is not None
        envelope = self._run(operation_call_source(spec.operation, args), f"={spec.name}")
        return ToolResult(text=envelope_text(envelope, title=spec.operation), data=envelope,
                          is_error=not envelope["success"])

    # -- docs --------------------------------------------------------------------------------------------------

    def docs(self) -> "DocsIndex":
        """The same pages scripts see: core guides, integrations (on that surface) and configured MCP servers."""
        if self._docs is None:
            from ..doc_index import build_index

            self._docs = build_index(integrations=self.options.surface == "integrations",
                                     extra_providers=self._mcp_providers())
        return self._docs

    def _mcp_providers(self) -> dict[str, Any]:
        from ..mcp.config import load_servers
        from ..mcp.docs import mcp_doc_providers

        try:
            servers = load_servers(cwd=Path(self.options.cwd))
        except KosmoError:
            return {}  # a broken MCP config must not take the docs down; execute_lua reports it
        if not servers:
            return {}
        from ..mcp.connection import McpHub

        hub = self._mcp_hub_holder["hub"] = McpHub(servers, cwd=Path(self.options.cwd))
        return mcp_doc_providers(servers, hub=hub)

    def _read_doc(self, page: str) -> ToolResult:
        try:
            text = self.docs().read(page)
            found = self.docs().resolve(page)
        except DocNotFound as exc:
            return _error(str(exc), page=page, suggestions=exc.suggestions)
        return ToolResult(text=text, data={"page": found.name, "title": found.title, "markdown": text})

    def _list_docs(self, namespace: str | None) -> ToolResult:
        try:
            entries = self.docs().list(namespace)
        except DocNotFound as exc:
            known = ", ".join(self.docs().namespaces())
            return _error(f"{names.LIST_DOCS}: namespace: unknown namespace {namespace!r} (known: {known})",
                          suggestions=exc.suggestions)
        heading = f"Docs pages in {namespace}:" if namespace else "Docs pages:"
        lines = [heading] + [f"- {e['name']}: {e['summary']}" if e.get("summary") else f"- {e['name']}"
                             for e in entries]
        return ToolResult(text="\n".join(lines), data={"namespace": namespace, "pages": entries})

    def _search_docs(self, query: str, limit: int) -> ToolResult:
        results: list[dict[str, Any]] = self.docs().search(query, limit)
        if not results:
            return ToolResult(text=f"No docs page matches {json.dumps(query)}. Try other words, or "
                                   f"{names.LIST_DOCS}.", data={"query": query, "results": []})
        lines = [f"Best matches for {json.dumps(query)}:"]
        for i, r in enumerate(results, 1):
            lines.append(f"{i}. {r['name']}: {r.get('summary') or r.get('title', '')}")
            if r.get("snippet") and r["snippet"] != r.get("summary"):
                lines.append(f"   {r['snippet']}")
        return ToolResult(text="\n".join(lines), data={"query": query, "results": results})

    # -- life cycle --------------------------------------------------------------------------------------------

    def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.close()
        hub = self._mcp_hub_holder.pop("hub", None)
        if hub is not None:
            hub.close()

    def __enter__(self) -> "AgentTools":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
