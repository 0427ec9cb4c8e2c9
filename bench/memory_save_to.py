"""Peak memory of the worker while a 50 MiB media answer is saved with `save_to`.

    python bench/memory_save_to.py [--size-mb 50]

Stability's `generate_core` against the Stability emulator (its own process, loopback port) with the emulator's
``large_body`` fault, which pads the image answer to --size-mb MiB, streamed in 64 KiB chunks. The script saves it
with `save_to` and then sleeps a moment, while this benchmark reads the worker process's peak resident set
(VmHWM in /proc). The same script against an unpadded answer gives the baseline; the difference is what the download
cost in memory. Target: far below the payload.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from _common import KOSMO, clean_env, emulator, header

SCRIPT = """
local r = app.integrations.stability.generate_core({ prompt = "a lighthouse at dusk", save_to = "big.png",
                                                     overwrite = true })
print(r.bytes)
sleep(1.5) -- the benchmark reads the worker's peak memory meanwhile
"""


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def peak_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def run(env: dict[str, str], cwd: Path) -> tuple[int, int]:
    """(bytes saved, the worker's peak RSS in KiB) for one run of SCRIPT."""
    proc = subprocess.Popen([*KOSMO, "integrations:lua", "--force", "-e", SCRIPT], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        for child in children(proc.pid):
            peak = max(peak, peak_kib(child) or 0)
        time.sleep(0.02)
    out, err = proc.communicate()
    if proc.returncode != 0 or not out.strip():
        raise RuntimeError(f"kosmo failed: {err[-2000:]}")
    return int(out.split()[0]), peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=float, default=50)
    ns = parser.parse_args()
    header(f"memory: a {ns.size_mb:g} MiB media answer saved with save_to")
    with emulator("stability") as served, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = clean_env({"KOSMO_HOME": str(work / "home"), "STABILITY_API_KEY": "sk-bench",
                         "STABILITY_BASE_URL": served.base_url})
        small, base_peak = run(env, work)
        served.add_fault(kind="large_body", path="/generate/core$", size_mb=ns.size_mb)
        size, big_peak = run(env, work)
        on_disk = (work / "big.png").stat().st_size
    assert size == on_disk, (size, on_disk)
    grown = (big_peak - base_peak) / 1024
    payload = size / 1024 / 1024
    print(f"baseline: {small} bytes saved, worker peak RSS {base_peak / 1024:.1f} MiB")
    print(f"padded:   {size} bytes saved ({payload:.1f} MiB), worker peak RSS {big_peak / 1024:.1f} MiB")
    print(f"peak RSS grew by {grown:.1f} MiB for a {payload:.1f} MiB payload = {grown / payload * 100:.1f} % of it "
          f"(target: far below 100 %)")


if __name__ == "__main__":
    main()
