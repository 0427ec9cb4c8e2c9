"""Writing a response body to disk for ``save_to = "path"``, without letting a script write outside its folder.

Rules (a script may come from an agent, so the path is untrusted):

* the path is relative to the working directory; an absolute path is accepted only when it lies inside it;
* after resolving ``..`` and every symlink in the existing part of the path, the target must still be inside the
  working directory (so ``out -> /etc`` symlinks are refused);
* the file itself must not be a symlink, and an existing file is kept unless ``overwrite = true``;
* missing folders inside the working directory are created; the data is written to a temporary file in the same
  folder and moved into place, so a reader never sees half a file.

``safe_target`` runs twice for a call: before the request is sent (so a refused path costs no API call) and again
right before writing (the folders may have changed meanwhile).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable

from ..errors import ArgumentError, CallError

__all__ = ["safe_target", "write_file", "finish_save", "save_media"]


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


def _new_file_mode() -> int:
    """The mode ``open()`` would give a new file: 0666 less the process umask (read by setting it back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def write_file(target: Path, chunks: Iterable[bytes], *, overwrite: bool) -> int:
    """Write ``chunks`` to ``target`` atomically; returns the byte count."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".kosmo-", suffix=".part", dir=target.parent)
    size = 0
    try:
        os.fchmod(fd, _new_file_mode())  # mkstemp makes 0600 files; a saved file gets the usual permissions
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


def save_media(content: bytes, fields: dict[str, Any], save_to: object, *, cwd: Path, overwrite: bool,
               function: str) -> dict[str, Any]:
    """Write ``content`` to ``save_to`` and return the result a script gets instead of the content.

    ``{path, content_type, bytes, <the other fields>}``: ``path`` is relative to the working directory (it can be
    passed straight back as a file input), ``bytes`` the size written.
    """
    target = safe_target(save_to, cwd=cwd, overwrite=overwrite, function=function)
    return finish_save(lambda: write_file(target, [content], overwrite=overwrite), target, fields, save_to,
                       cwd=cwd, function=function)


def finish_save(write: Callable[[], int], target: Path, fields: dict[str, Any], save_to: object, *, cwd: Path,
                function: str) -> dict[str, Any]:
    """Run ``write`` (which puts the file at ``target`` and returns its size) and describe the result for the
    script: ``{path, content_type, bytes, <the other fields but the base64 body>}``. Used for answers held in
    memory and for answers streamed to disk while they arrived."""
    try:
        size = write()
    except FileExistsError:  # appeared between the check and the write
        raise ArgumentError(function, [f"parameter 'save_to': '{save_to}' already exists; pass overwrite = true "
                                       "to replace it"]) from None
    except OSError as exc:
        raise CallError(f"{function}: cannot write '{save_to}': {exc.strerror or type(exc).__name__}",
                        kind="save", function=function) from None
    root = Path(os.path.realpath(cwd))
    out: dict[str, Any] = {"path": str(target.relative_to(root)), "content_type": fields.get("content_type"),
                           "bytes": size}
    for key, value in fields.items():
        if key not in out and key != "body_base64":
            out[key] = value
    return out
