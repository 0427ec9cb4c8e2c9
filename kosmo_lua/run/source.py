"""Lua source that kosmo writes itself: calls whose arguments travel as data, never as code."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["lua_long_string", "operation_call_source"]


def lua_long_string(text: str) -> str:
    """A Lua long-bracket literal holding ``text`` verbatim; its level is chosen so the content cannot close it."""
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    eq = "=" * level
    # Lua drops a newline right after the opening bracket: JSON text never starts with one.
    return f"[{eq}[{text}]{eq}]"


def operation_call_source(path: str, arguments: dict[str, Any]) -> str:
    """``return app.integrations.<path>(<arguments>)``, the arguments passed as a JSON string decoded in Lua."""
    payload = json.dumps(arguments, ensure_ascii=False)
    return f"return app.integrations.{path}(json.decode({lua_long_string(payload)}))"
