"""File inputs: what a script gives for a binary body field, turned into bytes with a name and a type.

This is the only part of request building that touches the file system, and it runs before the pure builder:
``validate_args`` -> ``resolve_file_inputs`` -> ``build_request``. A binary field (multipart), or the whole body of
an operation whose body is a file (``Body.encoding == "binary"``, given as ``body = ...``), accepts

* a local path: a string naming an existing file (relative to ``cwd``);
* raw content: a bytes value, or a string that cannot be a path (it holds NUL or a line break, or is very long);
* ``{content = ..., filename = ..., content_type = ...}`` (filename and content_type optional);
* ``{path = ..., filename = ..., content_type = ...}``;
* a table another call returned: ``{content_type = ..., body_base64 = ...}`` (media / binary results),
  ``{body = ..., content_type = ...}`` (text results) or ``{path = ..., content_type = ...}`` (saved media).
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import os
import stat
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import ArgumentError
from .table import Operation
from .validate import NormalisedArgs

__all__ = [
    "FileInput",
    "MAX_FILE_BYTES",
    "PATH_MAX_CHARS",
    "resolve_file_inputs",
    "read_file_input",
    "guess_content_type",
    "sniff_content_type",
]

#: A string longer than this is content, never a path.
PATH_MAX_CHARS = 4096
#: Files larger than this are refused before reading (APIs cap uploads far below it anyway).
MAX_FILE_BYTES = 512 * 1024 * 1024

_CONTENT_KEYS = frozenset({"content", "filename", "content_type"})

# The few types scripts send most, fixed here so results do not depend on the machine's mime.types.
_BY_EXTENSION = {
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp",
    ".bmp": "image/bmp", ".svg": "image/svg+xml", ".tif": "image/tiff", ".tiff": "image/tiff",
    ".mp4": "video/mp4", ".mov": "video/quicktime", ".webm": "video/webm",
    ".mp3": "audio/mpeg", ".wav": "audio/wav", ".ogg": "audio/ogg", ".flac": "audio/flac", ".m4a": "audio/mp4",
    ".txt": "text/plain", ".md": "text/markdown", ".csv": "text/csv", ".html": "text/html",
    ".json": "application/json", ".jsonl": "application/jsonl", ".pdf": "application/pdf",
    ".zip": "application/zip", ".tar": "application/x-tar", ".gz": "application/gzip",
    ".safetensors": "application/octet-stream",
}
# Leading bytes of common formats, for content that arrives without a name.
_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),
    (b"WAVE", 8, "audio/wav"),
    (b"ftyp", 4, "video/mp4"),
    (b"%PDF-", 0, "application/pdf"),
    (b"ID3", 0, "audio/mpeg"),
    (b"PK\x03\x04", 0, "application/zip"),
)
_DEFAULT_TYPES = mimetypes.MimeTypes()  # Python's built-in table only, not the system's files


@dataclass(frozen=True)
class FileInput:
    """A file part ready to send: the bytes, and the name and type when known."""

    content: bytes
    filename: str | None = None
    content_type: str | None = None

    def __repr__(self) -> str:  # never dump file content into logs
        return f"FileInput({len(self.content)} bytes, filename={self.filename!r}, content_type={self.content_type!r})"


def guess_content_type(filename: str | None) -> str | None:
    """The media type a file name suggests, or None."""
    if not filename:
        return None
    ext = os.path.splitext(filename)[1].lower()
    return _BY_EXTENSION.get(ext) or _DEFAULT_TYPES.guess_type(filename, strict=False)[0]


def sniff_content_type(content: bytes) -> str | None:
    """The media type a file's first bytes reveal, or None."""
    for signature, offset, media_type in _SIGNATURES:
        if content[offset:offset + len(signature)] == signature:
            if signature in (b"WEBP", b"WAVE") and not content.startswith(b"RIFF"):
                continue
            return media_type
    return None


def _looks_like_content(text: str) -> bool:
    return "\x00" in text or "\n" in text or "\r" in text or len(text) > PATH_MAX_CHARS


def _read(path_text: str, *, cwd: Path | None, fail: Any, max_bytes: int) -> tuple[bytes, str]:
    path = Path(path_text)
    if not path.is_absolute() and cwd is not None:
        path = cwd / path
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            fail(f"'{path_text}' is a directory, not a file")
        if not stat.S_ISREG(info.st_mode):
            # Devices and pipes could block or never end (/dev/zero): only regular files are read.
            fail(f"'{path_text}' is not a regular file")
        if info.st_size > max_bytes:
            fail(f"file '{path_text}' is {info.st_size} bytes, more than the {max_bytes} allowed")
        with path.open("rb") as handle:
            content = handle.read(max_bytes + 1)  # the file may have grown since stat()
        if len(content) > max_bytes:
            fail(f"file '{path_text}' is more than the {max_bytes} bytes allowed")
        return content, path.name
    except FileNotFoundError:
        fail(f"no such file '{path_text}' (to send text as the file's content use "
             "{content = ..., filename = ...})")
    except OSError as exc:
        fail(f"cannot read '{path_text}': {exc.strerror or type(exc).__name__}")
    raise AssertionError("unreachable")  # fail() always raises


def read_file_input(value: Any, *, function: str, param: str, cwd: Path | None = None,
                    max_bytes: int = MAX_FILE_BYTES) -> FileInput:
    """One file input from any accepted form; ArgumentError naming the function and parameter otherwise."""

    def fail(problem: str) -> None:
        raise ArgumentError(function, [f"parameter '{param}': {problem}"])

    if isinstance(value, FileInput):
        return value
    if isinstance(value, (bytes, bytearray)):
        return FileInput(bytes(value), None, sniff_content_type(bytes(value)))
    if isinstance(value, str):
        if value == "":
            fail("empty string: give a file path, raw bytes or {content = ..., filename = ...}")
        if _looks_like_content(value):
            return FileInput(value.encode("utf-8"), None, None)
        content, name = _read(value, cwd=cwd, fail=fail, max_bytes=max_bytes)
        return FileInput(content, name, guess_content_type(name) or sniff_content_type(content))
    if isinstance(value, dict):
        return _from_table(value, fail=fail, cwd=cwd, max_bytes=max_bytes)
    fail(f"expected a file (a path, raw bytes, {{content = ..., filename = ...}} or a media table), "
         f"got {type(value).__name__}")
    raise AssertionError("unreachable")


def _text_field(table: dict[str, Any], key: str, fail: Any) -> str | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        fail(f"'{key}' must be a string")
    return value


def _from_table(table: dict[str, Any], *, fail: Any, cwd: Path | None, max_bytes: int) -> FileInput:
    filename = _text_field(table, "filename", fail)
    content_type = _text_field(table, "content_type", fail)
    if "content" in table:
        unknown = sorted(str(k) for k in table if k not in _CONTENT_KEYS)
        if unknown:
            fail(f"unknown keys {unknown} in the file table (accepted: content, filename, content_type)")
        raw = table["content"]
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        if not isinstance(raw, (bytes, bytearray)):
            fail("'content' must be a string")
        data = bytes(raw)
    elif "body_base64" in table:
        encoded = table["body_base64"]
        if not isinstance(encoded, str):
            fail("'body_base64' must be a string")
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            fail("'body_base64' is not valid base64")
    elif "path" in table:
        path_text = _text_field(table, "path", fail)
        if not path_text:
            fail("'path' must not be empty")
        data, name = _read(path_text, cwd=cwd, fail=fail, max_bytes=max_bytes)  # type: ignore[arg-type]
        filename = filename or name
    elif "body" in table:
        raw = table["body"]
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        if not isinstance(raw, (bytes, bytearray)):
            fail("'body' must be a string")
        data = bytes(raw)
    else:
        fail("a file table needs 'content', 'path' or 'body_base64'")
        raise AssertionError("unreachable")
    if len(data) > max_bytes:
        fail(f"file content is {len(data)} bytes, more than the {max_bytes} allowed")
    content_type = content_type or guess_content_type(filename) or sniff_content_type(data)
    return FileInput(data, filename, content_type)


def resolve_file_inputs(op: Operation, args: NormalisedArgs, *, function: str, cwd: Path | None = None,
                        max_bytes: int = MAX_FILE_BYTES) -> NormalisedArgs:
    """``args`` with every binary body field (and array of them), or a binary body, read into ``FileInput``s."""
    if op.body is not None and op.body.encoding == "binary" and args.body is not None:
        return replace(args, body=read_file_input(args.body, function=function, param="body", cwd=cwd,
                                                  max_bytes=max_bytes))
    if op.body is None or not isinstance(args.body, dict):
        return args
    binary = {f.name: f for f in op.body.fields if f.type == "binary" or f.items == "binary"}
    if not binary or not any(k in args.body for k in binary):
        return args
    body = dict(args.body)
    for name, f in binary.items():
        if name not in body:
            continue
        value = body[name]
        if f.type == "binary":
            body[name] = read_file_input(value, function=function, param=name, cwd=cwd, max_bytes=max_bytes)
        elif isinstance(value, list):
            body[name] = [read_file_input(v, function=function, param=f"{name}[{i}]", cwd=cwd, max_bytes=max_bytes)
                          for i, v in enumerate(value, start=1)]
    return replace(args, body=body)
