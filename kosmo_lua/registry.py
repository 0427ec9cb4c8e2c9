"""Finds integrations and loads them on first use.

An integration is a folder holding ``integration.yaml`` (and, once generated, ``operations.yaml``). Folders are
searched in order, a later folder of the same name overriding an earlier one:

1. the bundled ``integrations/`` folder at the top of the source tree;
2. ``$KOSMO_HOME/integrations/`` (default ``~/.kosmo/integrations/``): integrations a user imported;
3. every folder named in ``KOSMO_INTEGRATIONS_PATH`` (``os.pathsep``-separated), for tests and experiments.

Discovery only lists folder names (no YAML is parsed), so starting a script costs nothing per integration until
the script touches ``app.integrations.<name>``; loading then reads the two YAML files once per process. The operation
table's parsed data is cached as JSON under ``$KOSMO_HOME/cache/tables/`` (``table_cache_folder``), as parsing a large
operations.yaml takes ~25x longer than loading the cached copy (``kosmo_lua.ops.table.load_table``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ConfigError, UsageError

if TYPE_CHECKING:
    from .integration import Integration
    from .ops.table import Operation, OperationTable

__all__ = ["bundled_folder", "search_path", "discover", "integration_folder", "get_integration", "get_loaded",
           "LoadedIntegration", "home_folder", "table_cache_folder", "clear_cache"]


def home_folder() -> Path:
    """``$KOSMO_HOME`` or ``~/.kosmo``."""
    env = os.environ.get("KOSMO_HOME")
    return Path(env).expanduser() if env else Path.home() / ".kosmo"


def table_cache_folder() -> Path:
    """Where parsed operation tables are cached: under the home folder, never beside an integration's files, which
    may be read-only (site-packages)."""
    return home_folder() / "cache" / "tables"


def bundled_folder() -> Path:
    return Path(__file__).resolve().parent.parent / "integrations"


def search_path() -> list[Path]:
    paths = [bundled_folder(), home_folder() / "integrations"]
    extra = os.environ.get("KOSMO_INTEGRATIONS_PATH", "")
    paths += [Path(p).expanduser() for p in extra.split(os.pathsep) if p]
    return paths


def discover() -> dict[str, Path]:
    """Integration name -> folder, for every folder on the search path that holds an integration.yaml."""
    found: dict[str, Path] = {}
    for root in search_path():
        try:
            entries = sorted(os.scandir(root), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir() and not entry.name.startswith((".", "_")) and \
                    os.path.isfile(os.path.join(entry.path, "integration.yaml")):
                found[entry.name] = Path(entry.path)
    return found


def integration_folder(name: str) -> Path:
    folders = discover()
    if name not in folders:
        import difflib

        close = difflib.get_close_matches(name, list(folders), n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        known = ", ".join(sorted(folders)) or "none"
        raise UsageError(f"unknown integration '{name}'.{hint} Known integrations: {known}.")
    return folders[name]


@dataclass(frozen=True)
class LoadedIntegration:
    """An integration's settings and operation table, with the name index built once."""

    info: "Integration"
    table: "OperationTable"
    by_name: dict[str, "Operation"]

    @property
    def name(self) -> str:
        return self.info.name

    def canonical_names(self) -> list[str]:
        return [op.name for op in self.table.operations]

    def all_names(self) -> list[str]:
        return sorted(self.by_name)


@lru_cache(maxsize=None)
def _load(folder: Path) -> LoadedIntegration:
    from .integration import load_integration
    from .ops.table import OperationTable, load_table

    info = load_integration(folder)
    if info.operations_path.exists():
        table = load_table(info.operations_path, cache_dir=table_cache_folder())
    else:
        table = OperationTable(info.name, info.title, {}, ())
    if table.integration != info.name:
        raise ConfigError(f"{info.operations_path}: table is for '{table.integration}', folder is '{info.name}'")
    return LoadedIntegration(info, table, table.by_name())


def get_loaded(name: str) -> LoadedIntegration:
    return _load(integration_folder(name))


def get_integration(name: str) -> "Integration":
    return get_loaded(name).info


def clear_cache() -> None:
    _load.cache_clear()
