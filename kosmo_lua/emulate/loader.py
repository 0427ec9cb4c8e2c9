"""Loading an integration's ``emulator.py`` by file path (integration folders are data, not packages)."""

from __future__ import annotations

import importlib.util
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import ConfigError
from .emulator import Emulator

__all__ = ["load_emulator", "EMULATOR_FILE"]

EMULATOR_FILE = "emulator.py"
_modules: dict[Path, ModuleType] = {}
_lock = threading.Lock()


def _module(path: Path) -> ModuleType:
    with _lock:
        if path in _modules:
            return _modules[path]
        # A name per file, so two integrations' emulators never replace each other in sys.modules.
        name = "kosmo_lua_emulator_" + "".join(c if c.isalnum() else "_" for c in str(path.parent))
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ConfigError(f"cannot load emulator module {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses and pickling look the module up by name while it executes
        try:
            spec.loader.exec_module(module)
        except Exception:
            del sys.modules[name]
            raise
        _modules[path] = module
        return module


def load_emulator(folder: Path, **options: Any) -> Emulator:
    """A new emulator from ``folder/emulator.py``'s ``create_emulator(**options)``."""
    path = (Path(folder) / EMULATOR_FILE).resolve()
    if not path.is_file():
        raise ConfigError(f"integration folder {folder} has no {EMULATOR_FILE}")
    factory = getattr(_module(path), "create_emulator", None)
    if not callable(factory):
        raise ConfigError(f"{path} does not define create_emulator(**options)")
    emulator = factory(**options)
    if not isinstance(emulator, Emulator):
        raise ConfigError(f"{path}: create_emulator returned {type(emulator).__name__}, not an Emulator")
    return emulator
