"""Writing a response body to disk for ``save_to = "path"``, without letting a script write outside its folder.

Rules (a script may come from an agent, so the path is untrusted):

* the path is relative to the working directory; an absolute path is accepted only when it lies inside it;
* after resolving ``..`` and every symlink in the existing part of the path, the target must still be inside the
  working directory (so ``out -> /etc`` symlinks are refused);
* the file itself must not be a symlink, and an existing file is kept unless ``overwrite = true``;
* missing folders inside the working directory are created; the data is written to a temporary file in the same
  folder and moved into place, so a reader never sees half a file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterable

from ..errors import ArgumentError

__all__ = ["safe_target", "write_file"]


def safe_target(save_to: object, *, cwd: Path, overwrite: bool, function: str) -> Path:
    """The absolute path ``save_to`` may be written to, or an ArgumentError saying why not."""
    if not isinstance(save_to, str) or not save_to.strip():
        raise ArgumentError(function, ["parameter 'save_to' expects a file path (string)"])
    if "\0" in save_to:
        raise ArgumentError(function, ["parameter 'save_to' must not contain NUL bytes"])
    root = Path(os.path.realpath(cwd))
    raw = Path(save_to).expanduser() if save_to.startswith("~") else Path(save_to)
    candidate = raw if raw.is_absolute() else root / raw
    # Resolve the folder part through symlinks; the last component is checked separately (it may not exist yet).
    parent = Path(os.path.realpath(candidate.parent))
    target = parent / candidate.name
    if candidate.name in ("", ".", ".."):
        raise ArgumentError(function, [f"parameter 'save_to': '{save_to}' names a folder, not a file"])
    if not _inside(target, root):
        raise ArgumentError(function, [f"parameter 'save_to': '{save_to}' is outside the working directory; "
                                       "give a path inside it"])
    if os.path.islink(target):
        raise ArgumentError(function, [f"parameter 'save_to': '{save_to}' is a symbolic link; refusing to write "
                                       "through it"])
    if target.exists():
        if target.is_dir():
            raise ArgumentError(function, [f"parameter 'save_to': '{save_to}' is a folder"])
        if not overwrite:
            raise ArgumentError(function, [f"parameter 'save_to': '{save_to}' already exists; pass overwrite = "
                                           "true to replace it"])
    return target


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return path != root


def write_file(target: Path, chunks: Iterable[bytes], *, overwrite: bool) -> int:
    """Write ``chunks`` to ``target`` atomically; returns the byte count."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".kosmo-", suffix=".part", dir=target.parent)
    size = 0
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
                size += len(chunk)
        if overwrite:
            os.replace(tmp, target)
        else:
            # link() fails if the name appeared meanwhile: the no-overwrite promise holds even under a race.
            os.link(tmp, target)
            os.unlink(tmp)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return size
