"""`kosmo emulator:serve NAME`: serve an integration's API emulator on a loopback port until interrupted.

The first line on stdout is ``<Title> emulator listening on <base URL>`` (flushed at once), so a script or a test
can start the command, read one line and point a client at the URL.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Serve an integration's API emulator on a loopback port until SIGINT or SIGTERM. "
                    "Control endpoints: GET /_emulator/health, GET /_emulator/requests, POST /_emulator/reset, "
                    "GET|POST|DELETE /_emulator/faults.")
    p.add_argument("integration", help="integration name, e.g. replicate")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port to listen on (default 0: any free port)")
    p.add_argument("--page-size", type=int, default=None, metavar="N",
                   help="items per page of list operations (emulator default when omitted)")
    p.add_argument("--latency-ms", type=float, default=None, metavar="N",
                   help="milliseconds of latency added to every API request")
    return p


def _fail(message: str) -> int:
    sys.stderr.write(f"kosmo emulator:serve: {message}\n")
    return 2


def _folder(name: str) -> Path:
    from ..registry import integration_folder

    return integration_folder(name)


def run(ns: argparse.Namespace) -> int:
    from ..emulate import load_emulator
    from ..errors import KosmoError
    from ..integration import load_integration

    if ns.latency_ms is not None and ns.latency_ms < 0:
        return _fail(f"--latency-ms must be >= 0, not {ns.latency_ms:g}")
    if ns.page_size is not None and ns.page_size < 1:
        return _fail(f"--page-size must be >= 1, not {ns.page_size}")
    if not 0 <= ns.port <= 65535:
        return _fail(f"--port must be from 0 to 65535, not {ns.port}")
    try:
        folder = _folder(ns.integration)
        if not load_integration(folder).emulator:
            return _fail(f"integration '{ns.integration}' has no emulator (integration.yaml names none)")
        options: dict[str, Any] = {}
        if ns.page_size is not None:
            options["page_size"] = ns.page_size
        emulator = load_emulator(folder, **options)
    except KosmoError as exc:
        return _fail(str(exc))
    if ns.latency_ms is not None:
        emulator.latency_ms = ns.latency_ms
    try:
        server = emulator.serve(ns.host, ns.port)
    except OSError as exc:
        return _fail(f"cannot listen on {ns.host}:{ns.port}: {exc.strerror or exc}")

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(f"{emulator.title} emulator listening on {server.base_url}", flush=True)
        # A timed wait: the signal handler runs between waits even where a blocking wait would not wake.
        while not stop.wait(0.2):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.stop()
    return 0
