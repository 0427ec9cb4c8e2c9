"""Carrying an emulator's answer to an httpx client in the same process, faults included.

What a socket would do is imitated with the exceptions httpx raises for the real thing, so client code under test
takes the same paths in-process as over the loopback server.
"""

from __future__ import annotations

import time
from typing import AsyncIterator, Iterator
from urllib.parse import parse_qsl

import httpx

from .messages import Answer, Incoming

__all__ = ["incoming_from_httpx", "response_for"]

_CHUNK = 64 * 1024


def incoming_from_httpx(request: httpx.Request) -> Incoming:
    raw_path, _, raw_query = request.url.raw_path.decode("ascii").partition("?")
    return Incoming(
        method=request.method.upper(),
        path=raw_path or "/",
        query=tuple(parse_qsl(raw_query, keep_blank_values=True)),
        headers=httpx.Headers(request.headers),
        body=request.read(),
    )


class _Stream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """Yields ``parts`` in order, then raises ``error`` if one is given (a connection lost mid-body)."""

    def __init__(self, body: bytes, pad_bytes: int = 0, error: Exception | None = None) -> None:
        self._body = body
        self._pad = pad_bytes
        self._error = error

    def __iter__(self) -> Iterator[bytes]:
        if self._body:
            yield self._body
        left = self._pad
        block = b" " * _CHUNK
        while left > 0:  # padding is produced chunk by chunk, never held in memory as a whole
            yield block[:min(left, _CHUNK)]
            left -= _CHUNK
        if self._error is not None:
            raise self._error

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self:
            yield chunk


def response_for(answer: Answer, request: httpx.Request) -> httpx.Response:
    """The ``httpx.Response`` for ``answer``, or the exception a client would get from a real connection."""
    reply = answer.reply
    if answer.delivery == "drop_before":
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
    if answer.delivery == "hold":
        read_timeout = (request.extensions.get("timeout") or {}).get("read")
        if read_timeout is not None and answer.hold_seconds > read_timeout:
            time.sleep(read_timeout)
            raise httpx.ReadTimeout("The read operation timed out", request=request)
        time.sleep(answer.hold_seconds)
    headers = answer.wire_headers()
    if answer.delivery == "drop_mid":
        sent = reply.body[:len(reply.body) // 2]
        error = httpx.RemoteProtocolError(
            f"peer closed connection without sending complete message body "
            f"(received {len(sent)} bytes, expected {len(reply.body)})", request=request)
        return httpx.Response(reply.status, headers=headers, stream=_Stream(sent, error=error), request=request)
    if answer.delivery == "pad":
        return httpx.Response(reply.status, headers=headers, stream=_Stream(reply.body, answer.pad_bytes),
                              request=request)
    return httpx.Response(reply.status, headers=headers, content=reply.body, request=request)
