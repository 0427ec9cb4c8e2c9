"""Agent tools: ``execute_lua`` and the docs tools (plus one tool per integration operation), as a Python API.

``AgentTools`` (in ``tools``) is what an agent host and ``kosmo mcp:serve`` call; ``formats`` renders the
definitions in the OpenAI, Anthropic and MCP tool shapes. Names are loaded on first access, so importing a helper
module of this package (``schema_check``) does not import the runner.
"""

from __future__ import annotations

from typing import Any

__all__ = ["AgentTools", "ToolResult", "ToolSpec"]


def __getattr__(name: str) -> Any:
    if name in ("AgentTools", "ToolResult"):
        from . import tools

        return getattr(tools, name)
    if name == "ToolSpec":
        from .specs import ToolSpec

        return ToolSpec
    raise AttributeError(name)
