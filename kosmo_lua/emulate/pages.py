"""Cursor pagination as APIs in the ``{next, previous, results}`` style do it: ``next`` is a full URL."""

from __future__ import annotations

import base64
import binascii
from typing import Any, Callable, Sequence, TypeVar

from .messages import ApiError, Call

__all__ = ["paginate", "encode_cursor", "decode_cursor"]

T = TypeVar("T")


def encode_cursor(offset: int) -> str:
    # Opaque to clients on purpose (like the real cursors): they must follow ``next``, not build offsets.
    return base64.urlsafe_b64encode(f"o={offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The offset inside a cursor; ``ApiError`` 400 for anything this emulator did not hand out."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if text.startswith("o=") and text[2:].isdigit():
            return int(text[2:])
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise ApiError(400, f"Invalid cursor {cursor!r}: use the next or previous URL of a page", title="Bad Request")


def paginate(items: Sequence[T], call: Call, page_size: int, render: Callable[[T], Any]) -> dict[str, Any]:
    """One page of ``items`` for the request's ``cursor``; other query parameters are kept in the links."""
    cursor = call.query_value("cursor")
    offset = decode_cursor(cursor) if cursor else 0
    kept = [(k, v) for k, v in call.query if k != "cursor"]

    def link(to: int) -> str:
        return call.url(call.path, kept + [("cursor", encode_cursor(to))] if to else kept)

    end = offset + page_size
    return {
        "next": link(end) if end < len(items) else None,
        "previous": link(max(offset - page_size, 0)) if offset > 0 else None,
        "results": [render(item) for item in items[offset:end]],
    }
