"""Identifiers and keys that look random but repeat exactly for the same seed and sequence of calls.

Tests can then compare whole responses across runs, while ids still have the shape of the real API's ids.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading

__all__ = ["IdFactory"]


class IdFactory:
    """Derives ids from ``sha256(seed, kind, counter)``; the counter is shared by all kinds and reset by ``reset``."""

    def __init__(self, seed: int | str = 0) -> None:
        self._seed = str(seed).encode()
        self._lock = threading.Lock()
        self._counter = 0

    def reset(self) -> None:
        with self._lock:
            self._counter = 0

    def digest(self, kind: str) -> bytes:
        """The next 32 raw bytes for an object of ``kind``."""
        with self._lock:
            self._counter += 1
            n = self._counter
        return hashlib.sha256(b"%s\0%s\0%d" % (self._seed, kind.encode(), n)).digest()

    def base32(self, kind: str, length: int = 26) -> str:
        """Lower-case base32 (``a-z2-7``), e.g. ``"vgcm4plb7tgzlyznry5d5jkgvu"``."""
        return base64.b32encode(self.digest(kind)).decode().lower()[:length]

    def hex(self, kind: str, length: int = 64) -> str:
        return self.digest(kind).hex()[:length]

    def key(self, label: str) -> bytes:
        """A secret that depends on the seed and ``label`` only (not on the counter): stable across resets."""
        return hmac.new(self._seed, b"key\0" + label.encode(), hashlib.sha256).digest()

    def sign(self, label: str, message: str) -> bytes:
        """HMAC-SHA256 of ``message`` under ``key(label)``."""
        return hmac.new(self.key(label), message.encode(), hashlib.sha256).digest()
