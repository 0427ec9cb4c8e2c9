"""A wrapper that keeps a credential out of every printed form, and a helper to scrub text that may hold one.

The value is only reachable through ``Secret.reveal()``: ``repr``, ``str``, f-strings and ``json.dumps`` never show
it, so an ``Account`` can be logged, printed in a traceback or put in an error without leaking the token.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

__all__ = ["Secret", "redact", "redact_bytes", "MASK"]

MASK = "***"


class Secret:
    """A credential value. Truthy when non-empty; equality compares in constant time."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"Secret expects a str, not {type(value).__name__}")
        self._value = value

    def reveal(self) -> str:
        """The real value: call this only where it is put on the wire."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        import hmac  # only when compared: it pulls in OpenSSL bindings

        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        # Hash of a constant: equal secrets must hash equal, and the hash must not leak anything about the value.
        return hash(Secret)


def _forms(value: str) -> set[str]:
    """The ways a secret may appear in text we produce or receive: as is, percent-encoded in a URL, and escaped
    inside a JSON string (an API that echoes the token in an error body may escape "/" as "\\/")."""
    escaped = json.dumps(value)[1:-1]
    return {value, quote(value, safe=""), quote(value, safe="/"), quote_plus(value), escaped,
            escaped.replace("/", "\\/")}


def _all_forms(secrets: Iterable[Secret | str | None]) -> list[str]:
    forms: set[str] = set()
    for s in secrets:
        if s is None:
            continue
        value = s.reveal() if isinstance(s, Secret) else s
        if value:
            forms |= _forms(value)
    # Longest first, so a secret that contains another is replaced whole.
    return sorted(forms, key=len, reverse=True)


def redact(text: str, secrets: Iterable[Secret | str | None]) -> str:
    """Replace every occurrence of any of the secrets (and their URL-encoded forms) in text with ``***``."""
    for form in _all_forms(secrets):
        text = text.replace(form, MASK)
    return text


def redact_bytes(data: bytes, secrets: Iterable[Secret | str | None]) -> bytes:
    """``redact`` for a body as it arrived (UTF-8 forms of the secrets; the bytes are otherwise untouched)."""
    for form in _all_forms(secrets):
        data = data.replace(form.encode("utf-8", "surrogateescape"), MASK.encode())
    return data
