"""Shared by the benchmarks: the machine they ran on, an emulator in its own process, `kosmo` runs, medians.

Every benchmark measures all its columns in one run on this machine, so the ratios it prints compare like with
like; the absolute figures only describe this machine.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
KOSMO = [sys.executable, "-m", "kosmo_lua"]
TOKEN = "r8_bench_token"
_AMBIENT = ("REPLICATE_API_TOKEN", "REPLICATE_BASE_URL", "STABILITY_API_KEY", "STABILITY_BASE_URL", "KOSMO_OFFLINE",
            "KOSMO_HOME", "KOSMO_DEBUG", "KOSMO_RATE_LIMITS", "KOSMO_INTEGRATIONS_PATH")


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import lupa

    return (f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, lupa {lupa.__version__}, "
            f"{platform.system()} {platform.release()}")


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _AMBIENT}
    env.update(extra or {})
    return env


class ServedEmulator:
    """An emulator process; ``base_url`` for clients, control endpoints for faults and the request log."""

    def __init__(self, name: str, **options: Any) -> None:
        args = [sys.executable, str(ROOT / "bench" / "_serve.py"), name, *(f"{k}={v}" for k, v in options.items())]
        self._proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
                                      env=clean_env())
        assert self._proc.stdout is not None
        self.base_url = self._proc.stdout.readline().strip()
        if not self.base_url.startswith("http"):
            raise RuntimeError(f"the {name} emulator did not start")

    def control(self, method: str, what: str, body: Any = None) -> Any:
        import httpx

        origin = httpx.URL(self.base_url).copy_with(path="/", query=None)
        response = httpx.request(method, str(origin.join(f"/_emulator/{what}")), json=body, timeout=60)
        response.raise_for_status()
        return response.json() if response.content else None

    def requests(self) -> list[dict[str, Any]]:
        return self.control("GET", "requests")

    def reset(self) -> None:
        self.control("POST", "reset")

    def add_fault(self, **fault: Any) -> None:
        self.control("POST", "faults", fault)

    def stop(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        self._proc.wait(10)


@contextmanager
def emulator(name: str, **options: Any) -> Iterator[ServedEmulator]:
    served = ServedEmulator(name, **options)
    try:
        yield served
    finally:
        served.stop()


def replicate_env(served: ServedEmulator, home: Path, **extra: str) -> dict[str, str]:
    return clean_env({"KOSMO_HOME": str(home), "REPLICATE_API_TOKEN": TOKEN, "REPLICATE_BASE_URL": served.base_url,
                      **extra})


def kosmo_json(code: str, env: Mapping[str, str], *flags: str, cwd: Path | None = None) -> dict[str, Any]:
    """Run a chunk with `kosmo integrations:lua --json --force` and return its envelope (raising on failure)."""
    proc = subprocess.run([*KOSMO, "integrations:lua", "--json", "--force", *flags, "-e", code],
                          capture_output=True, text=True, env=dict(env), cwd=cwd or tempfile.gettempdir())
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if len(lines) != 1:
        raise RuntimeError(f"kosmo printed {proc.stdout[:2000]!r}; stderr {proc.stderr[:2000]!r}")
    data = json.loads(lines[0])
    if not data["success"]:
        raise RuntimeError(f"the script failed: {data['error']}")
    return data


def median(values: list[float]) -> float:
    return statistics.median(values)


def header(title: str) -> None:
    print(f"# {title}")
    print(f"# machine: {machine()}")
