"""Editor annotations: LuaCATS files that give lua-language-server completion and type checks for kosmo scripts.

``kosmo integrations:stubs --out DIR`` writes ``<name>.gen.lua`` per integration (from its operation table and
helpers.yaml), ``kosmo.gen.lua`` for the library globals, and ``luarc.example.json``. See ``integration`` for what
one integration's file declares, ``core.lua`` for the library part, ``build`` for the folder.
"""

from .build import LUARC_EXAMPLE, StubSet, collect, luarc_text, render_files, stale_files, write_files
from .core import CORE_FILE, GLOBALS, render_core
from .integration import IntegrationStub, namespace_class, render_integration
from .luacats import HEADER

__all__ = [
    "HEADER",
    "CORE_FILE",
    "GLOBALS",
    "LUARC_EXAMPLE",
    "IntegrationStub",
    "StubSet",
    "collect",
    "namespace_class",
    "render_core",
    "render_integration",
    "render_files",
    "luarc_text",
    "stale_files",
    "write_files",
]
