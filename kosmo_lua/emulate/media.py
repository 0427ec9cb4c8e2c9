"""Small, valid media files made from a digest, so emulated outputs can be downloaded and decoded for real."""

from __future__ import annotations

import struct
import zlib

__all__ = ["tiny_png", "png_image", "jpeg_image", "webp_image", "mp4_video", "image_size"]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


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


# -- real, small image and video files (PNG, baseline JPEG, lossless WEBP, MP4 container) -------------------

def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _gradient_row(width: int, colour: bytes, alpha: bool) -> bytes:
    r, g, b = colour[0], colour[1], colour[2]
    row = bytearray()
    for x in range(width):
        shade = (x * 96) // max(width - 1, 1)
        row += bytes(((r + shade) % 256, (g + shade // 2) % 256, (b + 255 - shade) % 256))
        if alpha:
            row.append(255)
    return bytes(row)


def _disc_span(width: int, height: int, y: int) -> tuple[int, int]:
    """The columns [left, right) a centred disc covers on row ``y`` (left == right: none)."""
    cx, cy, radius = width / 2, height / 2, min(width, height) * 0.4
    dy = y + 0.5 - cy
    if abs(dy) >= radius:
        return width, width
    half = (radius * radius - dy * dy) ** 0.5
    return max(int(cx - half + 0.5), 0), min(int(cx + half + 0.5), width)


def png_image(width: int, height: int, colour: bytes, *, cutout: bool = False) -> bytes:
    """An RGB PNG shading across from ``colour``; with ``cutout`` an RGBA one whose subject (a centred disc) is
    opaque on a transparent background."""
    first = _gradient_row(width, colour, cutout)
    if not cutout:
        # Rows after the first use the "Up" filter with a constant difference: a vertical gradient for free.
        raw = b"\x00" + first + (b"\x02" + bytes((1, 1, 0)) * width) * (height - 1)
    else:
        clear = b"\x00\x00\x00\x00"
        rows = []
        for y in range(height):
            left, right = _disc_span(width, height, y)
            right = max(right, left)
            rows.append(b"\x00" + clear * left + first[left * 4:right * 4] + clear * (width - right))
        raw = b"".join(rows)
    header = struct.pack(">IIBBBBB", width, height, 8, 6 if cutout else 2, 0, 0, 0)
    return (_PNG_SIGNATURE + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", zlib.compress(raw, 6))
            + _png_chunk(b"IEND", b""))


# JPEG: baseline, YCbCr without subsampling, each 8x8 block one flat colour, so only DC coefficients are coded.
# The DC table is the standard luminance one (ITU T.81 Annex K.3); the AC table holds the end-of-block code alone.
_DC_BITS = (0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0)
_DC_VALUES = tuple(range(12))
_AC_BITS = (1,) + (0,) * 15
_AC_VALUES = (0x00,)


def _huffman_codes(bits: tuple[int, ...], values: tuple[int, ...]) -> dict[int, tuple[int, int]]:
    """Canonical codes (T.81 Annex C): symbol -> (code, length)."""
    codes: dict[int, tuple[int, int]] = {}
    code = k = 0
    for length in range(1, 17):
        for _ in range(bits[length - 1]):
            codes[values[k]] = (code, length)
            code += 1
            k += 1
        code <<= 1
    return codes


class _MsbWriter:
    """MSB-first bits with JPEG byte stuffing (a 0xFF byte of coded data is followed by 0x00)."""

    def __init__(self) -> None:
        self.out = bytearray()
        self._acc = 0
        self._n = 0

    def write(self, value: int, length: int) -> None:
        self._acc = (self._acc << length) | (value & ((1 << length) - 1))
        self._n += length
        while self._n >= 8:
            self._n -= 8
            byte = (self._acc >> self._n) & 0xFF
            self.out.append(byte)
            if byte == 0xFF:
                self.out.append(0x00)
        self._acc &= (1 << self._n) - 1

    def flush(self) -> bytes:
        if self._n:
            self.write((1 << (8 - self._n)) - 1, 8 - self._n)  # padding is 1 bits
        return bytes(self.out)


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def jpeg_image(width: int, height: int, colour: bytes) -> bytes:
    """A baseline JPEG whose 8x8 blocks shade across from ``colour``."""
    dc_codes = _huffman_codes(_DC_BITS, _DC_VALUES)
    eob = _huffman_codes(_AC_BITS, _AC_VALUES)[0x00]
    blocks_x, blocks_y = (width + 7) // 8, (height + 7) // 8
    r0, g0, b0 = colour[0], colour[1], colour[2]
    writer = _MsbWriter()
    previous = [0, 0, 0]
    for by in range(blocks_y):
        for bx in range(blocks_x):
            shade = (bx * 96) // max(blocks_x - 1, 1) + (by * 32) // max(blocks_y - 1, 1)
            r, g, b = (r0 + shade) % 256, (g0 + shade // 2) % 256, (b0 + 255 - shade) % 256
            # JFIF's RGB -> YCbCr; with every quantiser step 1 a flat block's DC is 8x its level-shifted sample.
            samples = (0.299 * r + 0.587 * g + 0.114 * b,
                       128 - 0.168736 * r - 0.331264 * g + 0.5 * b,
                       128 + 0.5 * r - 0.418688 * g - 0.081312 * b)
            for i, sample in enumerate(samples):
                dc = int(round((sample - 128) * 8))
                diff, previous[i] = dc - previous[i], dc
                size = abs(diff).bit_length()
                writer.write(*dc_codes[size])
                if size:
                    writer.write(diff if diff > 0 else diff + (1 << size) - 1, size)
                writer.write(*eob)
    jfif = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    quant = b"\x00" + b"\x01" * 64
    sof = struct.pack(">BHHB", 8, height, width, 3) + b"".join(bytes((c, 0x11, 0)) for c in (1, 2, 3))
    dht = b"\x00" + bytes(_DC_BITS) + bytes(_DC_VALUES) + b"\x10" + bytes(_AC_BITS) + bytes(_AC_VALUES)
    sos = b"\x03" + b"".join(bytes((c, 0x00)) for c in (1, 2, 3)) + b"\x00\x3f\x00"
    return (b"\xff\xd8" + _segment(0xE0, jfif) + _segment(0xDB, quant) + _segment(0xC0, sof)
            + _segment(0xC4, dht) + _segment(0xDA, sos) + writer.flush() + b"\xff\xd9")


# WEBP: lossless (VP8L). Every prefix code is a "simple" code of one or two symbols, so a pixel costs no bits
# (one colour) or one bit (the cutout's alpha).
class _LsbWriter:
    """LSB-first bits, as VP8L reads them."""

    def __init__(self) -> None:
        self.out = bytearray()
        self._acc = 0
        self._n = 0

    def write(self, value: int, length: int) -> None:
        self._acc |= (value & ((1 << length) - 1)) << self._n
        self._n += length
        while self._n >= 8:
            self.out.append(self._acc & 0xFF)
            self._acc >>= 8
            self._n -= 8

    def data(self) -> bytes:
        return bytes(self.out) + (bytes((self._acc,)) if self._n else b"")


def _simple_code(writer: _LsbWriter, symbols: tuple[int, ...]) -> None:
    writer.write(1, 1)  # a simple code
    writer.write(len(symbols) - 1, 1)
    writer.write(1, 1)  # the first symbol is 8 bits wide
    for symbol in symbols:
        writer.write(symbol, 8)


def webp_image(width: int, height: int, colour: bytes, *, cutout: bool = False) -> bytes:
    """A lossless WEBP of one colour; with ``cutout`` the subject (a centred disc) is opaque, the rest clear."""
    w = _LsbWriter()
    w.write(0x2F, 8)  # VP8L signature
    w.write(width - 1, 14)
    w.write(height - 1, 14)
    w.write(1 if cutout else 0, 1)  # alpha is used
    w.write(0, 3)  # version 0
    w.write(0, 1)  # no transform
    w.write(0, 1)  # no colour cache
    w.write(0, 1)  # no meta prefix codes
    _simple_code(w, (colour[1],))  # green (the length and cache symbols of this alphabet are not used)
    _simple_code(w, (colour[0],))  # red
    _simple_code(w, (colour[2],))  # blue
    _simple_code(w, (0, 255) if cutout else (255,))  # alpha
    _simple_code(w, (0,))  # distance: unused
    if cutout:
        for y in range(height):
            left, right = _disc_span(width, height, y)
            # Pixel x is bit x of the row: 1 (the second symbol, 255) inside the disc.
            w.write(((1 << max(right, left)) - 1) ^ ((1 << left) - 1), width)
    payload = w.data()
    chunk = b"VP8L" + struct.pack("<I", len(payload)) + payload + (b"\x00" if len(payload) % 2 else b"")
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def _box(kind: bytes, *parts: bytes) -> bytes:
    payload = b"".join(parts)
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _full_box(kind: bytes, version: int, flags: int, *parts: bytes) -> bytes:
    return _box(kind, struct.pack(">I", (version << 24) | flags), *parts)


_MATRIX = struct.pack(">9I", 0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)


def mp4_video(width: int, height: int, digest: bytes, *, frames: int = 25, fps: int = 25) -> bytes:
    """An MP4 (ISO BMFF): ftyp, moov with one ``avc1`` video track, mdat with ``frames`` samples.

    Every box size, sample size and the chunk offset are consistent; the samples are placeholders, not pictures.
    """
    timescale, duration = fps * 1000, frames * 1000
    samples = [digest[:8].ljust(8, b"\x00") + struct.pack(">I", i) for i in range(frames)]
    ftyp = _box(b"ftyp", b"isom", struct.pack(">I", 0x200), b"isom", b"iso2", b"avc1", b"mp41")
    mvhd = _full_box(b"mvhd", 0, 0, struct.pack(">IIII", 0, 0, timescale, duration),
                     struct.pack(">IH", 0x00010000, 0x0100), b"\x00" * 10, _MATRIX, b"\x00" * 24,
                     struct.pack(">I", 2))
    tkhd = _full_box(b"tkhd", 0, 3, struct.pack(">IIIII", 0, 0, 1, 0, duration), b"\x00" * 8, b"\x00" * 8,
                     _MATRIX, struct.pack(">II", width << 16, height << 16))
    mdhd = _full_box(b"mdhd", 0, 0, struct.pack(">IIII", 0, 0, timescale, duration), struct.pack(">HH", 0x55C4, 0))
    hdlr = _full_box(b"hdlr", 0, 0, b"\x00" * 4, b"vide", b"\x00" * 12, b"VideoHandler\x00")
    vmhd = _full_box(b"vmhd", 0, 1, b"\x00" * 8)
    dinf = _box(b"dinf", _full_box(b"dref", 0, 0, struct.pack(">I", 1), _full_box(b"url ", 0, 1)))
    sps, pps = b"\x67\x42\xc0\x1e" + digest[:4], b"\x68\xce\x3c\x80"
    avcc = _box(b"avcC", bytes((1, 0x42, 0xC0, 0x1E, 0xFF, 0xE1)), struct.pack(">H", len(sps)), sps,
                b"\x01", struct.pack(">H", len(pps)), pps)
    avc1 = _box(b"avc1", b"\x00" * 6, struct.pack(">H", 1), b"\x00" * 16, struct.pack(">HH", width, height),
                struct.pack(">II", 0x00480000, 0x00480000), b"\x00" * 4, struct.pack(">H", 1), b"\x00" * 32,
                struct.pack(">Hh", 0x18, -1), avcc)
    stbl_head = (_full_box(b"stsd", 0, 0, struct.pack(">I", 1), avc1)
                 + _full_box(b"stts", 0, 0, struct.pack(">III", 1, frames, 1000))
                 + _full_box(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, frames, 1))
                 + _full_box(b"stsz", 0, 0, struct.pack(">II", 0, frames),
                             b"".join(struct.pack(">I", len(s)) for s in samples)))

    def moov(offset: int) -> bytes:
        stbl = _box(b"stbl", stbl_head, _full_box(b"stco", 0, 0, struct.pack(">II", 1, offset)))
        return _box(b"moov", mvhd, _box(b"trak", tkhd, _box(b"mdia", mdhd, hdlr, _box(b"minf", vmhd, dinf, stbl))))

    # The samples start after ftyp, moov and mdat's own header; moov's size does not depend on the offset.
    offset = len(ftyp) + len(moov(0)) + 8
    return ftyp + moov(offset) + _box(b"mdat", *samples)


def image_size(data: bytes) -> tuple[str, int, int] | None:
    """``(format, width, height)`` of a PNG, JPEG or WEBP file from its header, or None for anything else."""
    if data.startswith(_PNG_SIGNATURE) and data[12:16] == b"IHDR" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return "png", width, height
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) >= 30:
        kind = data[12:16]
        if kind == b"VP8L" and data[20] == 0x2F:
            b = data[21:25]
            return "webp", 1 + (b[0] | (b[1] & 0x3F) << 8), 1 + (b[1] >> 6 | b[2] << 2 | (b[3] & 0x0F) << 10)
        if kind == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
            width, height = struct.unpack("<HH", data[26:30])
            return "webp", width & 0x3FFF, height & 0x3FFF
        if kind == b"VP8X":
            return "webp", 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    return None


_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


def _jpeg_size(data: bytes) -> tuple[str, int, int] | None:
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            i += 2
            continue
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker in _SOF_MARKERS and i + 9 <= len(data):
            height, width = struct.unpack(">HH", data[i + 5:i + 9])
            return "jpeg", width, height
        if marker in (0xD9, 0xDA):  # end of image, or coded data before any frame header
            return None
        i += 2 + length
    return None
