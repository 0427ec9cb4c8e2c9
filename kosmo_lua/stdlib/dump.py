"""Installs ``dump(...)`` (written in Lua, ``dump.lua``: it must see functions and cycles, which plain-data
conversion refuses)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["install", "SOURCE_PATH"]

SOURCE_PATH = Path(__file__).resolve().parent / "dump.lua"


def install(sandbox: Any) -> None:
    """Place ``dump`` in the sandbox's globals. Its output goes through the sandbox's print channel."""
    sandbox.install_lua("dump", SOURCE_PATH.read_text(encoding="utf-8"), "=kosmo/dump.lua")
