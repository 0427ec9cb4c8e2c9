"""Reading and atomically writing the small YAML mappings kosmo keeps (config and credentials).

PyYAML costs ~18 ms to import, so it is imported only when a file actually exists or is written.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError

__all__ = ["read_mapping", "write_mapping", "warn_if_exposed", "PRIVATE_MODE"]

PRIVATE_MODE = 0o600

# Paths already warned about in this process: the warning is useful once, noise after that.
_warned: set[Path] = set()


def read_mapping(path: Path) -> dict[str, Any]:
    """The mapping stored in path; {} when the file does not exist or is empty."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not text.strip():
        return {}
    import yaml

    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        # The YAML error text quotes the offending line, which in credentials.yaml could be a secret.
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1})" if where is not None else ""
        raise ConfigError(f"{path}: not valid YAML{at}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, found {type(data).__name__}")
    return data


def write_mapping(path: Path, data: dict[str, Any], *, private: bool = False) -> None:
    """Write data as YAML so that readers see the old file or the new one, never half of it.

    With private=True the file is created 0600 from the start (never briefly readable by others) and its folder
    0700 when we create it.
    """
    import tempfile

    import yaml

    text = yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)
    path.parent.mkdir(mode=0o700 if private else 0o777, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates the file 0600; a non-private file gets the usual umask-based mode instead.
        if not private:
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def warn_if_exposed(path: Path) -> bool:
    """Warn once on stderr when a secrets file is readable or writable by group/others. True when exposed."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    exposed = bool(mode & (stat.S_IRWXG | stat.S_IRWXO))
    if exposed and path not in _warned:
        _warned.add(path)
        sys.stderr.write(f"kosmo: warning: {path} is accessible by other users (mode {stat.S_IMODE(mode):04o}); "
                         f"run: chmod 600 {path}\n")
    return exposed
