"""Small, valid media files made from a digest, so emulated outputs can be downloaded and decoded for real."""

from __future__ import annotations

import struct
import zlib

__all__ = ["tiny_png"]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def tiny_png(digest: bytes, width: int = 8, height: int = 8) -> bytes:
    """An RGB PNG whose pixels are a gradient coloured by ``digest``: same digest, same bytes."""
    if len(digest) < 3:
        raise ValueError("tiny_png needs a digest of at least 3 bytes")
    r, g, b = digest[0], digest[1], digest[2]
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter type "none" for each scanline
        for x in range(width):
            rows += bytes(((r + 8 * x) % 256, (g + 8 * y) % 256, (b + 4 * (x + y)) % 256))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(bytes(rows)))
            + _chunk(b"IEND", b""))
