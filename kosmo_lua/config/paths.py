"""Where kosmo keeps its files: the home folder (``$KOSMO_HOME`` or ``~/.kosmo``) and a project's ``.kosmo``."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["home_dir", "project_dir", "CONFIG_FILE", "CREDENTIALS_FILE"]

CONFIG_FILE = "config.yaml"
CREDENTIALS_FILE = "credentials.yaml"


def home_dir(home: Path | None = None) -> Path:
    """The home folder: the explicit argument, else ``$KOSMO_HOME``, else ``~/.kosmo``."""
    if home is not None:
        return Path(home)
    env = os.environ.get("KOSMO_HOME")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".kosmo"


def project_dir(cwd: Path | None = None) -> Path:
    """The project's ``.kosmo`` folder in the given (or current) working directory; it may not exist."""
    return Path(cwd if cwd is not None else Path.cwd()) / ".kosmo"
