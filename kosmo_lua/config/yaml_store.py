"""kosmo's settings files as one store: the layered ``config.yaml`` and the home ``credentials.yaml``.

``integrations:`` (kosmo_lua.config) and ``mcp:`` (kosmo_lua.mcp) live in the same two files, so their loaders and
their configure commands share this: where the files are, how config.yaml is layered (home, then the project's
over it), reading the credentials, and editing the pair as one change that writes back only what changed. Each
file is written atomically by ``yamlfile``; credentials.yaml only ever holds secrets, so it is written 0600 in a
0700 home folder. What goes in which file, how a file's shape is checked and how a change is described stay with
each section's own code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .paths import CONFIG_FILE, CREDENTIALS_FILE, home_dir, project_dir
from .yamlfile import read_mapping, warn_if_exposed, write_mapping

__all__ = ["merge", "read_config_section", "read_credentials", "SettingsEdit", "node", "prune"]

#: Takes one file's mapping and that file's path (for its errors); returns its section, shape checked.
Section = Callable[[dict[str, Any], Path], dict[str, Any]]


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """A new mapping: override's values win, nested mappings are merged key by key."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def read_config_section(section: Section, home_path: Path, cwd: Path | None = None
                        ) -> tuple[dict[str, Any], Path | None]:
    """One section of config.yaml: the home file's, with the project's merged over it key by key (so a project
    changes one setting and inherits the rest). Also returns the project file read, if any."""
    home_file = home_path / CONFIG_FILE
    merged = section(read_mapping(home_file), home_file)
    project_file = _project_config_file(home_file, cwd)
    if project_file is not None:
        merged = merge(merged, section(read_mapping(project_file), project_file))
    return merged, project_file


def _project_config_file(home_file: Path, cwd: Path | None) -> Path | None:
    """The project's config.yaml to layer over home_file, or None when there is none.

    Run from the folder that holds the home folder (e.g. ~), the "project" file is the home file itself: it must be
    read once, not merged over itself.
    """
    candidate = project_dir(cwd) / CONFIG_FILE
    if candidate.is_file() and candidate.resolve() != home_file.resolve():
        return candidate
    return None


def read_credentials(home_path: Path) -> tuple[Path, dict[str, Any]]:
    """The home credentials.yaml and its mapping ({} when missing), warning once when others can read it."""
    path = home_path / CREDENTIALS_FILE
    if path.exists():
        warn_if_exposed(path)
    return path, read_mapping(path)


@dataclass
class SettingsEdit:
    """The two files one configure command changes, read into memory; ``save`` writes the ones marked changed.

    ``config`` is the home config.yaml, or the project's with ``project``; ``credentials`` is always the home one
    (secrets never go to a project folder, which may be committed).
    """

    home: Path
    project: bool
    config_path: Path
    credentials_path: Path
    config: dict[str, Any] = field(repr=False)
    credentials: dict[str, Any] = field(repr=False)
    config_changed: bool = False
    credentials_changed: bool = False

    @classmethod
    def open(cls, *, project: bool = False, home: Path | None = None, cwd: Path | None = None) -> SettingsEdit:
        home_path = home_dir(home)
        config_path = (project_dir(cwd) if project else home_path) / CONFIG_FILE
        credentials_path = home_path / CREDENTIALS_FILE
        return cls(home=home_path, project=project, config_path=config_path, credentials_path=credentials_path,
                   config=read_mapping(config_path), credentials=read_mapping(credentials_path))

    def save(self) -> list[Path]:
        """Write the changed files (config first) and return them; an unchanged file is not touched."""
        if self.credentials_changed or (self.config_changed and not self.project):
            # The home folder holds the credentials: only its owner should be able to list or enter it.
            self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        written: list[Path] = []
        if self.config_changed:
            write_mapping(self.config_path, self.config)
            written.append(self.config_path)
        if self.credentials_changed:
            write_mapping(self.credentials_path, self.credentials, private=True)
            written.append(self.credentials_path)
        return written


def node(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    """data[k1][k2]... creating empty mappings on the way (and replacing a null left by hand-editing)."""
    for key in keys:
        child = data.get(key)
        if not isinstance(child, dict):
            child = data[key] = {}
        data = child
    return data


def prune(data: dict[str, Any], *keys: str) -> None:
    """Drop the now-empty mappings along keys, deepest first, so a removal leaves no `{}` litter behind."""
    if not keys:
        return
    child = data.get(keys[0])
    if isinstance(child, dict):
        prune(child, *keys[1:])
        if not child:
            del data[keys[0]]
