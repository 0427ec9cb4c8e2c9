"""Serve an integration's emulator on a loopback port in its own process, for the benchmarks.

    python bench/_serve.py replicate latency_ms=200 steps_per_get=2

Options are ``create_emulator`` keyword arguments (numbers are read as numbers). The first line on stdout is the
base URL; the process serves until stdin closes, so it never outlives the benchmark that started it. Faults and the
request log go through the emulator's control endpoints (``/_emulator/faults``, ``/_emulator/requests``).
"""

from __future__ import annotations

import sys
from typing import Any


def _value(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def main() -> None:
    from kosmo_lua.emulate import load_emulator
    from kosmo_lua.registry import integration_folder

    name, *pairs = sys.argv[1:]
    options = {k: _value(v) for k, _, v in (p.partition("=") for p in pairs)}
    emulator = load_emulator(integration_folder(name), **options)
    server = emulator.serve()
    print(server.base_url, flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin (or dies)
    server.stop()


if __name__ == "__main__":
    main()
