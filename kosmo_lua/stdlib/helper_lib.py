"""Primitives for integration helpers written in Lua (``integrations/<name>/helpers.lua``).

Helpers receive these as their second argument (``lib``); scripts never see them directly. They are small, general
building blocks (time, progress, HMAC, base64, structured errors), so an integration's helper code stays data-like
and the engine still names no integration.
"""

from __future__ import annotations

import sys
import time

from ..errors import ArgumentError, CallError

TYPE_CHECKING = False  # typing costs milliseconds of start-up; type checkers read the names below anyway
if TYPE_CHECKING:
    from typing import Any

__all__ = ["install"]


def _bytes(value: Any, function: str, parameter: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    raise ArgumentError(function, [f"parameter '{parameter}' expects a string, got {type(value).__name__}"])


def hmac_sha256(key: Any, message: Any) -> bytes:
    import hashlib  # loading OpenSSL costs ~10 ms: only when a helper signs something
    import hmac

    return hmac.new(_bytes(key, "hmac_sha256", "key"), _bytes(message, "hmac_sha256", "message"),
                    hashlib.sha256).digest()


def b64encode(data: Any) -> str:
    import base64

    return base64.b64encode(_bytes(data, "base64_encode", "data")).decode("ascii")


def b64decode(text: Any) -> bytes:
    import base64

    try:
        return base64.b64decode(_bytes(text, "base64_decode", "text"), validate=True)
    except ValueError:
        raise ArgumentError("base64_decode", ["parameter 'text' is not valid base64"]) from None


def secure_equals(a: Any, b: Any) -> bool:
    import hmac

    return hmac.compare_digest(_bytes(a, "secure_equals", "a"), _bytes(b, "secure_equals", "b"))


def raise_error(message: Any, data: Any = None) -> None:
    fields = dict(data) if isinstance(data, dict) else {}
    fields.pop("message", None)
    raise CallError(str(message), **{str(k): v for k, v in fields.items()})


def install(sandbox: Any, engine: Any) -> None:
    """Registers the primitives under ``kosmo.lib.*``; the integrations chunk passes them to helpers."""
    progress_enabled = bool(getattr(engine.options, "progress", False))

    def progress(text: Any) -> None:
        # Progress is for people at a terminal: never in --json output, never when piped.
        if progress_enabled:
            sys.stderr.write(f"\r\033[K{text}")
            sys.stderr.flush()

    def progress_done() -> None:
        if progress_enabled:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()

    for name, fn in {
        "sleep": sandbox.sleep,
        "now": time.monotonic,
        "unix_time": time.time,
        "progress": progress,
        "progress_done": progress_done,
        "hmac_sha256": hmac_sha256,
        "base64_encode": b64encode,
        "base64_decode": b64decode,
        "secure_equals": secure_equals,
        "raise": raise_error,
    }.items():
        sandbox.register(f"kosmo.lib.{name}", fn, visible=False)
