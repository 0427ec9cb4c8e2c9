"""multipart/form-data, both ways, with no I/O.

``encode_multipart(parts)`` gives the body and its Content-Type. The boundary is derived from the content, so the
same parts always give the same bytes (golden tests stay stable) while a boundary is still never found inside the
content it separates. ``parse_multipart(body, content_type)`` reads such a body back, for tests and emulators.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

__all__ = ["Part", "encode_multipart", "parse_multipart", "MultipartError"]


class MultipartError(ValueError):
    """A multipart body could not be read."""


@dataclass(frozen=True)
class Part:
    """One form field; a file part has a filename (possibly empty) and usually a content type."""

    name: str
    content: bytes
    filename: str | None = None
    content_type: str | None = None

    @property
    def text(self) -> str:
        return self.content.decode("utf-8")


# Names and filenames go into a quoted header parameter: quote, CR and LF are percent-escaped as browsers do.
_ESCAPES = {'"': "%22", "\r": "%0D", "\n": "%0A"}
_UNESCAPES = {v: k for k, v in _ESCAPES.items()}


def _quote(value: str) -> str:
    return "".join(_ESCAPES.get(ch, ch) for ch in value)


def _unquote(value: str) -> str:
    return re.sub(r"%(22|0D|0A)", lambda m: _UNESCAPES[m.group(0)], value)


def _part_head(part: Part) -> bytes:
    disposition = f'form-data; name="{_quote(part.name)}"'
    if part.filename is not None:
        disposition += f'; filename="{_quote(part.filename)}"'
    lines = [f"Content-Disposition: {disposition}"]
    if part.content_type:
        lines.append(f"Content-Type: {part.content_type}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def _boundary(heads: list[bytes], parts: list[Part]) -> str:
    digest = hashlib.sha256()
    for head, part in zip(heads, parts):
        digest.update(head)
        digest.update(hashlib.sha256(part.content).digest())
    salt = 0
    while True:
        candidate = f"kosmo-{hashlib.sha256(digest.digest() + str(salt).encode()).hexdigest()[:32]}"
        marker = candidate.encode("ascii")
        if not any(marker in p.content or marker in h for p, h in zip(parts, heads)):
            return candidate
        salt += 1  # the content happens to hold this boundary: derive the next one


def encode_multipart(parts: list[Part]) -> tuple[bytes, str]:
    """(body, content type with boundary) for the parts, in the order given."""
    heads = [_part_head(p) for p in parts]
    boundary = _boundary(heads, parts)
    sep = f"--{boundary}\r\n".encode("ascii")
    chunks: list[bytes] = []
    for head, part in zip(heads, parts):
        chunks += [sep, head, part.content, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode("ascii"))
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


_BOUNDARY_PARAM = re.compile(r'boundary=(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)
# Quoted values hold no raw quote (it is sent as %22) and no backslash escapes, as browsers send them.
_DISPOSITION_PARAM = re.compile(r';\s*([A-Za-z*]+)=(?:"([^"]*)"|([^;]*))')


def parse_multipart(body: bytes, content_type: str) -> list[Part]:
    """The parts of a multipart/form-data body; raises ``MultipartError`` when it is malformed."""
    found = _BOUNDARY_PARAM.search(content_type or "")
    if not found or not content_type.lower().startswith("multipart/"):
        raise MultipartError(f"not a multipart content type: {content_type!r}")
    delimiter = b"--" + (found.group(1) or found.group(2)).encode("latin-1")
    pieces = body.split(delimiter)
    if len(pieces) < 2 or not pieces[-1].startswith(b"--"):
        raise MultipartError("multipart body has no closing boundary")
    parts: list[Part] = []
    for piece in pieces[1:-1]:
        if not piece.startswith(b"\r\n") or not piece.endswith(b"\r\n"):
            raise MultipartError("multipart part is not framed by CRLF")
        head, sep, content = piece[2:-2].partition(b"\r\n\r\n")
        if not sep:
            raise MultipartError("multipart part has no blank line after its headers")
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", errors="replace").split("\r\n"):
            key, colon, value = line.partition(":")
            if colon:
                headers[key.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        if not disposition.lower().startswith("form-data"):
            raise MultipartError(f"multipart part without form-data disposition: {disposition!r}")
        params = {m.group(1).lower(): _unquote(m.group(2) if m.group(2) is not None else m.group(3).strip())
                  for m in _DISPOSITION_PARAM.finditer(disposition)}
        if "name" not in params:
            raise MultipartError("multipart part without a name")
        parts.append(Part(params["name"], content, params.get("filename"), headers.get("content-type")))
    return parts
