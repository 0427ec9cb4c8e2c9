"""Streaming a response body straight to disk, for calls made with ``save_to``.

Without this a 50 MiB image or video was held in memory twice (the chunks, then the joined body) before being
written out. A ``FileSink`` is offered to ``HttpClient.send``: once an attempt's status and headers are in, the
sink says whether it takes the body (``wants``: the caller's rule, e.g. "a 2xx answer that is the file itself, not
JSON"); if so the chunks go into a temporary file beside the target as they arrive, and only a few bytes stay in
memory (``prefix``, for sniffing the media type). ``commit`` then moves the file into place under the same rules
as ``kosmo_lua.ops.save`` (atomic; an existing file is kept unless overwrite, even if one appeared meanwhile).

The target path comes from ``ops.save.safe_target`` (checked before anything is sent, and again at commit).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["FileSink", "PREFIX_BYTES"]

#: Bytes of the body kept in memory: enough to recognise a PNG, JPEG, WebP, GIF or MP4 by its first bytes.
PREFIX_BYTES = 64


class FileSink:
    """One call's destination. ``wants``/``start``/``write`` run on the thread sending the request (a pool thread
    inside ``parallel``), ``commit``/``discard`` on the caller's thread once the exchange is over."""

    def __init__(self, target: Path, *, wants: Callable[[int, str], bool]) -> None:
        self.target = target
        self._wants = wants
        self._file: BinaryIO | None = None
        self._tmp: str | None = None
        self._active = False
        self.size = 0
        self.prefix = b""

    @property
    def used(self) -> bool:
        """Whether the last attempt's body went to the file (the RawResponse's body is then empty)."""
        return self._active

    def wants(self, status: int, content_type: str) -> bool:
        return self._wants(status, content_type)

    def start(self) -> None:
        """A new attempt's body is coming: begin the file afresh (a retried GET must not append to a torn one)."""
        if self._file is None or self._file.closed:
            self.target.parent.mkdir(parents=True, exist_ok=True)
            fd, self._tmp = tempfile.mkstemp(prefix=".kosmo-", suffix=".part", dir=self.target.parent)
            self._file = os.fdopen(fd, "wb")
        else:
            self._file.seek(0)
            self._file.truncate()
        self._active = True
        self.size = 0
        self.prefix = b""

    def skip(self) -> None:
        """This attempt's answer stays in memory (an error, a JSON answer): drop anything an earlier one wrote."""
        self.discard()
        self._active = False

    def write(self, chunk: bytes) -> None:
        assert self._file is not None, "FileSink.write before start"
        if len(self.prefix) < PREFIX_BYTES:
            self.prefix += chunk[:PREFIX_BYTES - len(self.prefix)]
        self._file.write(chunk)
        self.size += len(chunk)

    def commit(self, *, overwrite: bool) -> int:
        """Move the finished file to the target; returns its size. FileExistsError when the target appeared and
        overwrite is false (the temporary file is removed either way)."""
        assert self._active and self._file is not None and self._tmp is not None, "FileSink.commit without a body"
        try:
            self._file.close()
            os.chmod(self._tmp, _new_file_mode())  # mkstemp makes 0600 files; a saved file gets the usual mode
            if overwrite:
                os.replace(self._tmp, self.target)
            else:
                os.link(self._tmp, self.target)  # fails if the name exists: the no-overwrite promise holds
        finally:
            self.discard()
        return self.size

    def discard(self) -> None:
        """Remove the temporary file (a failed call, or after commit)."""
        file, tmp = self._file, self._tmp
        self._file, self._tmp = None, None
        if file is not None and not file.closed:
            file.close()
        if tmp is not None:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass


def _new_file_mode() -> int:
    """The mode ``open()`` would give a new file: 0666 less the process umask (read by setting it back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask
