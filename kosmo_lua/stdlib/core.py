"""Installs the script-facing standard library (json, regex, dump, docs) without importing its implementations.

Every host function is bound to its module by name and imported on its first call. ``json`` and ``re`` (and the
docs machinery, which needs both) cost more start-up than the whole sandbox set-up: measured with
``python -X importtime`` and bench/startup.py, importing them eagerly made `kosmo integrations:lua --eval
'print(1)'` ~15 ms slower, for a script that never calls them.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing costs milliseconds of start-up; type checkers read the names below anyway
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ..sandbox.runtime import Sandbox
    from .docs import DocsIndex

__all__ = ["deferred", "install_json", "install_regex", "install_dump", "install_docs", "install_all"]

_HERE = os.path.dirname(os.path.abspath(__file__))


def deferred(load: Callable[[], Callable[..., Any]]) -> Callable[..., Any]:
    """A host function that calls ``load()`` once, on its first call, and from then on calls what it returned."""
    target: Callable[..., Any] | None = None

    def call(*args: Any) -> Any:
        nonlocal target
        if target is None:
            target = load()
        return target(*args)

    return call


def _from(module: str, name: str) -> Callable[..., Any]:
    def load() -> Callable[..., Any]:
        import importlib

        return getattr(importlib.import_module(module), name)

    return deferred(load)


def _lua_source(filename: str) -> str:
    with open(os.path.join(_HERE, filename), encoding="utf-8") as handle:
        return handle.read()


def install_json(sandbox: Sandbox) -> None:
    """``json.encode`` and ``json.decode`` (``json.null``/``json.array`` are the sandbox's own)."""
    sandbox.register("json.encode", _from("kosmo_lua.stdlib.jsonlib", "lua_encode"))
    sandbox.register("json.decode", _from("kosmo_lua.stdlib.jsonlib", "lua_decode"))


def install_regex(sandbox: Sandbox) -> None:
    """The regex functions; ``regex.gsub`` is a Lua wrapper (regex_gsub.lua) around the host template version."""
    for name in ("match", "match_all", "test", "find", "split", "escape"):
        sandbox.register(f"regex.{name}", _from("kosmo_lua.stdlib.regexlib", name))
    # The two building blocks are for the Lua wrapper only (it reaches them through ``host``).
    sandbox.register("regex._gsub", _from("kosmo_lua.stdlib.regexlib", "gsub"), visible=False)
    sandbox.register("regex._spans", _from("kosmo_lua.stdlib.regexlib", "spans"), visible=False)
    sandbox.install_lua("regex.gsub", _lua_source("regex_gsub.lua"), "=kosmo/regex.gsub")


def install_dump(sandbox: Sandbox) -> None:
    """``dump`` is written in Lua (dump.lua): it must see functions and cycles, which plain-data conversion
    refuses. Its output goes through the sandbox's print channel."""
    sandbox.install_lua("dump", _lua_source("dump.lua"), "=kosmo/dump.lua")


def install_docs(sandbox: Sandbox, index: DocsIndex) -> None:
    """``docs.list``, ``docs.search`` and ``docs.read`` over ``index`` (see stdlib/docs.py)."""
    functions: dict[str, Callable[..., Any]] = {}

    def one(name: str) -> Callable[..., Any]:
        def load() -> Callable[..., Any]:
            if not functions:
                from .docs import host_functions

                functions.update(host_functions(index))
            return functions[name]

        return deferred(load)

    for name in ("list", "search", "read"):
        sandbox.register(f"docs.{name}", one(name))


def install_all(sandbox: Sandbox, docs_index: DocsIndex) -> None:
    install_json(sandbox)
    install_regex(sandbox)
    install_dump(sandbox)
    install_docs(sandbox, docs_index)
