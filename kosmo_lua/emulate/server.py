"""A real HTTP/1.1 server on a loopback port in front of an emulator, for clients that must use sockets.

Thread per connection, keep-alive, any method token (``QUERY`` included), chunked request bodies. Faults that
damage delivery are carried out on the socket itself: closing before the answer, closing mid-body, holding the
answer, streaming padding.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import parse_qsl, urlsplit

import httpx

from .messages import Answer, Incoming

if TYPE_CHECKING:
    from .emulator import Emulator

__all__ = ["LoopbackServer"]

logger = logging.getLogger("kosmo_lua.emulate")
_CHUNK = 64 * 1024


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() closes connections itself; never wait on a client that keeps one open
    allow_reuse_address = True
    request_queue_size = 128  # benchmarks open many connections at once

    def __init__(self, address: tuple[str, int], emulator: "Emulator") -> None:
        super().__init__(address, _Handler)
        self.emulator = emulator
        self.base_url = ""
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def track(self, conn: socket.socket, add: bool) -> None:
        with self._connections_lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def close_connections(self) -> None:
        with self._connections_lock:
            conns = list(self._connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if self.stopping.is_set() or isinstance(exc, OSError):
            return  # clients that hang up (often on purpose, in fault tests) are not errors
        logger.exception("emulator server: unexpected error with %s", client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every answer carries Content-Length
    server_version = "kosmo-emulator"
    sys_version = ""
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without TCP_NODELAY, Nagle holds the body until the client
        # acknowledges the headers, which a delayed ACK makes ~40 ms per keep-alive request.
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the emulator keeps its own request log

    def __getattr__(self, name: str) -> Callable[[], None]:
        # http.server looks up do_<METHOD>; answering every name lets non-standard methods (QUERY) through.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except ValueError as exc:
            self.send_error(400, f"Bad request body: {exc}")
            return
        target = urlsplit(self.path)
        incoming = Incoming(
            method=self.command.upper(),
            path=target.path or "/",
            query=tuple(parse_qsl(target.query, keep_blank_values=True)),
            headers=httpx.Headers(list(self.headers.items())),
            body=body,
        )
        answer = self.server.emulator.process(incoming, base_url=self.server.base_url,
                                              sleep=self.server.stopping.wait)
        self._deliver(answer)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts = []
            while True:
                size_line = self.rfile.readline(1024)
                size = int(size_line.split(b";")[0].strip() or b"x", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline(1024)
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        n = int(length)
        if n < 0:
            raise ValueError("negative Content-Length")
        return self.rfile.read(n)

    def _abort(self) -> None:
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _deliver(self, answer: Answer) -> None:
        if answer.delivery == "drop_before":
            self._abort()
            return
        if answer.delivery == "hold" and self.server.stopping.wait(answer.hold_seconds):
            self._abort()
            return
        reply = answer.reply
        self.send_response(reply.status)
        for name, value in answer.wire_headers():
            self.send_header(name, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        if answer.delivery == "drop_mid":
            self.wfile.write(reply.body[:len(reply.body) // 2])
            self._abort()
            return
        self.wfile.write(reply.body)
        left = answer.pad_bytes
        block = b" " * _CHUNK
        while left > 0:
            self.wfile.write(block[:min(left, _CHUNK)])
            left -= _CHUNK


class LoopbackServer:
    """An emulator served on ``host:port`` (port 0: any free port) until ``stop``."""

    def __init__(self, emulator: "Emulator", host: str = "127.0.0.1", port: int = 0) -> None:
        self.emulator = emulator
        self._httpd = _HTTPServer((host, port), emulator)
        self.host = host
        self.port: int = self._httpd.server_address[1]
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self.port}"
        self.base_url = self.url + emulator.api_prefix
        self._httpd.base_url = self.base_url
        self._stopped = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"{emulator.title} emulator {self.url}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting, end held answers and open connections, free the port. Safe to call twice."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._httpd.stopping.set()
        self._httpd.shutdown()
        self._httpd.close_connections()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "LoopbackServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<LoopbackServer {self.emulator.title} {self.base_url}{' stopped' if self._stopped else ''}>"
