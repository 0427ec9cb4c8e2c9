"""Tool definitions in the shapes agent APIs expect.

* ``openai``: a Chat Completions function tool ``{"type": "function", "function": {name, description, parameters}}``;
* ``anthropic``: ``{name, description, input_schema}``;
* ``mcp``: an MCP ``Tool`` as sent on the wire ``{name, title, description, inputSchema, annotations}``.
"""

from __future__ import annotations

from typing import Any

from .specs import ToolSpec

__all__ = ["FORMATS", "render", "render_all"]

FORMATS = ("openai", "anthropic", "mcp")


def _openai(spec: ToolSpec) -> dict[str, Any]:
    return {"type": "function",
            "function": {"name": spec.name, "description": spec.description, "parameters": spec.input_schema}}


def _anthropic(spec: ToolSpec) -> dict[str, Any]:
    return {"name": spec.name, "description": spec.description, "input_schema": spec.input_schema}


def _mcp(spec: ToolSpec) -> dict[str, Any]:
    annotations: dict[str, Any] = {"title": spec.title, "readOnlyHint": spec.read_only}
    if not spec.read_only:
        # A script or a write operation may change things outside this process (an API, a server).
        annotations["openWorldHint"] = True
    return {"name": spec.name, "title": spec.title, "description": spec.description,
            "inputSchema": spec.input_schema, "annotations": annotations}


_RENDERERS = {"openai": _openai, "anthropic": _anthropic, "mcp": _mcp}


def render(spec: ToolSpec, format: str) -> dict[str, Any]:
    try:
        return _RENDERERS[format](spec)
    except KeyError:
        raise ValueError(f"format: expected one of {', '.join(FORMATS)}, got {format!r}") from None


def render_all(specs: list[ToolSpec], format: str) -> list[dict[str, Any]]:
    return [render(spec, format) for spec in specs]
