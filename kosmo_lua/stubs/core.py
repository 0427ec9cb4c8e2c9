"""The core annotation file (``kosmo.gen.lua``): the library globals plus the list of integrations under ``app``.

The library part is written by hand in ``core.lua`` beside this module (it changes with the library, not with the
data); the ``kosmo.Integrations`` class is generated, one field per integration the stubs were made for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from .integration import namespace_class
from .luacats import HEADER, field_line

__all__ = ["CORE_FILE", "GLOBALS", "render_core"]

CORE_FILE = "kosmo.gen.lua"
#: The globals a script has beyond standard Lua; the .luarc.json example lists them for the diagnostics.
GLOBALS = ("app", "json", "regex", "docs", "dump", "sleep", "mcp", "parallel")
_TEMPLATE = Path(__file__).resolve().parent / "core.lua"


def render_core(integrations: Iterable[tuple[str, str]]) -> str:
    """``integrations``: (name, one-line summary) pairs, in the order they should be listed."""
    lines = [HEADER.rstrip("\n"), _TEMPLATE.read_text(encoding="utf-8").rstrip("\n"), "",
             "---The integrations: `app.integrations.<name>.<function>({...})`.", "---@class kosmo.Integrations"]
    for name, summary in integrations:
        lines.append(field_line(name, namespace_class(name), optional=False, description=summary))
    return "\n".join(lines) + "\n"
