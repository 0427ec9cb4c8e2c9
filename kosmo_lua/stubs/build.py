"""Gathering integrations and writing the annotation folder: ``<name>.gen.lua`` per integration, ``kosmo.gen.lua``
and ``luarc.example.json``.

Writing only touches files this tool owns: the generated ``*.gen.lua`` files (an integration that no longer exists
loses its file) and the example config. ``stale_files`` compares a folder with what would be written, for
``--check`` and for the test that keeps the committed ``docs/stubs`` current.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import KosmoError
from .core import CORE_FILE, GLOBALS, render_core
from .integration import IntegrationStub, render_integration

__all__ = ["LUARC_EXAMPLE", "StubSet", "collect", "render_files", "luarc_text", "write_files", "stale_files"]

LUARC_EXAMPLE = "luarc.example.json"
_SUFFIX = ".gen.lua"


@dataclass
class StubSet:
    stubs: list[IntegrationStub] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # integrations left out, and why


def _folders(bundled_only: bool) -> dict[str, Path]:
    from ..registry import bundled_folder, discover

    if not bundled_only:
        return discover()
    root = bundled_folder()
    return {p.name: p for p in sorted(root.iterdir())
            if p.is_dir() and not p.name.startswith((".", "_")) and (p / "integration.yaml").is_file()}


def _accounts(name: str, cwd: Path) -> tuple[str, ...]:
    from ..config import load_config

    try:
        return tuple(a for a in load_config(cwd=cwd).accounts(name) if a != "default")
    except KosmoError:
        return ()  # a broken config must not stop the annotations; the run itself will report it


def collect(*, bundled_only: bool = False, with_accounts: bool = True, cwd: Path | None = None) -> StubSet:
    """Every integration to annotate. ``bundled_only`` gives the reproducible set: bundled folders, no accounts."""
    from ..integration import load_integration
    from ..ops.docgen import helper_specs
    from ..ops.table import OperationTable, load_table
    from ..registry import LoadedIntegration

    found = StubSet()
    for name, folder in sorted(_folders(bundled_only).items()):
        if f"{name}{_SUFFIX}" == CORE_FILE:
            found.problems.append(f"{name}: the name is taken by the core annotations ({CORE_FILE}); rename it")
            continue
        try:
            info = load_integration(folder)
            table = load_table(info.operations_path) if info.operations_path.exists() \
                else OperationTable(info.name, info.title, {}, ())
            helpers = helper_specs(LoadedIntegration(info, table, table.by_name()))
        except (KosmoError, OSError, ValueError) as exc:
            found.problems.append(f"{name}: {exc}")
            continue
        accounts = _accounts(info.name, cwd or Path.cwd()) if with_accounts and not bundled_only else ()
        found.stubs.append(IntegrationStub(
            name=info.name, title=table.title or info.title, summary=info.summary, table=table,
            paginated=info.pagination.style != "none", helpers=tuple(helpers), accounts=accounts))
    return found


def luarc_text(library: str) -> str:
    """A ``.luarc.json`` for a workflow folder whose annotations live in ``library``."""
    data = {
        "$schema": "https://raw.githubusercontent.com/LuaLS/vscode-lua/master/setting/schema.json",
        "runtime": {
            "version": "Lua 5.4",
            # The sandbox has no io, debug or package, and only four os functions (annotated in kosmo.gen.lua).
            "builtin": {"io": "disable", "debug": "disable", "package": "disable", "os": "disable"},
        },
        "workspace": {"library": [library], "checkThirdParty": False},
        "diagnostics": {"globals": list(GLOBALS)},
    }
    return json.dumps(data, indent=2) + "\n"


def render_files(stubs: list[IntegrationStub], library: str) -> dict[str, str]:
    """File name -> text, for every file the folder should hold."""
    files = {f"{s.name}{_SUFFIX}": render_integration(s) for s in stubs}
    files[CORE_FILE] = render_core((s.name, s.summary or s.title) for s in stubs)
    files[LUARC_EXAMPLE] = luarc_text(library)
    return files


def _owned(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and (p.name.endswith(_SUFFIX) or p.name == LUARC_EXAMPLE))


def stale_files(folder: Path, files: dict[str, str]) -> list[str]:
    """Names of files that are missing, different, or left over from an integration that is gone."""
    out = []
    for name, text in files.items():
        path = folder / name
        try:
            if path.read_text(encoding="utf-8") != text:
                out.append(name)
        except FileNotFoundError:
            out.append(name)
    out += [p.name for p in _owned(folder) if p.name not in files]
    return sorted(out)


def write_files(folder: Path, files: dict[str, str]) -> list[str]:
    """Write what changed (atomically, file by file) and remove leftover generated files; returns changed names."""
    folder.mkdir(parents=True, exist_ok=True)
    changed = stale_files(folder, files)
    for name in changed:
        path = folder / name
        if name not in files:
            path.unlink()
            continue
        tmp = path.with_name(f".{name}.{os.getpid()}.tmp")
        tmp.write_text(files[name], encoding="utf-8")
        os.replace(tmp, path)
    return changed
