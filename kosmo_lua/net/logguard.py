"""Keeping credentials out of the HTTP libraries' own log lines.

httpx logs every request's full URL at INFO ("HTTP Request: GET https://host/v1/x?key=... 200"), and httpcore logs
response headers at DEBUG. kosmo's own lines show redacted URLs, but a host that turns logging on would print the
libraries' lines too, with the token of an integration that sends it as a query parameter. A filter on those
loggers masks every credential an ``HttpClient`` has been given, in every form ``redact`` knows.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from ..config.secret import Secret, redact

__all__ = ["guard_library_logs", "LIBRARY_LOGGERS"]

#: Loggers of the HTTP stack that may print a URL or headers (filters apply per logger, not to children).
LIBRARY_LOGGERS = ("httpx", "httpcore", "httpcore.connection", "httpcore.http11", "httpcore.http2",
                   "httpcore.proxy", "httpcore.socks")


class _SecretFilter(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: list[Secret] = []

    def add(self, secrets: Iterable[Secret | None]) -> None:
        with self._lock:
            for secret in secrets:
                if secret and secret not in self._secrets:
                    self._secrets.append(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            secrets = list(self._secrets)
        if secrets:
            try:
                message = record.getMessage()
            except Exception:  # a malformed record is the logging module's to report, not ours
                return True
            clean = redact(message, secrets)
            if clean != message:
                record.msg, record.args = clean, ()
        return True


_filter = _SecretFilter()
_installed = False
_install_lock = threading.Lock()


def guard_library_logs(secrets: Iterable[Secret | None]) -> None:
    """Mask these credentials in every line the HTTP libraries log from now on (process-wide)."""
    global _installed
    _filter.add(secrets)
    with _install_lock:
        if not _installed:
            for name in LIBRARY_LOGGERS:
                logging.getLogger(name).addFilter(_filter)
            _installed = True
