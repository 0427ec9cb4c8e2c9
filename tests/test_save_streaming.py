"""`save_to` streams a file answer to disk as it arrives (kosmo_lua/net/sink.py): the worker never holds the body,
a torn download that is retried leaves one whole file, nothing half-written stays behind, and the no-overwrite
promise holds even when the file appears while the answer is arriving.

`kosmo integrations:lua` subprocesses against the Stability emulator on a real loopback port.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _kosmo_run import KOSMO, assert_no_crash, clean_env, envelope, kosmo, served
from kosmo_lua.emulate import Fault

KEY = "sk-streaming-suite-key"
CORE = "/v2beta/stable-image/generate/core$"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def stability() -> Iterator[Any]:
    with served("stability", job_polls=0) as emulator:
        yield emulator


@pytest.fixture
def env(stability: Any, tmp_path: Path) -> dict[str, str]:
    stability.reset()
    return clean_env({"KOSMO_HOME": str(tmp_path / "home"), "STABILITY_API_KEY": KEY,
                      "STABILITY_BASE_URL": stability.server.base_url})


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "work").mkdir()
    return tmp_path / "work"


def run(env: dict[str, str], work: Path, code: str) -> dict[str, Any]:
    proc = kosmo("integrations:lua", "--json", "--force", "-e", code, env=env, cwd=work)
    assert proc.returncode in (0, 1), proc.stderr
    assert_no_crash(proc.stdout, proc.stderr)
    return envelope(proc)


def leftovers(work: Path) -> list[str]:
    return sorted(p.name for p in work.rglob(".kosmo-*"))


def peak_rss_kib(pid: int) -> int:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        status = Path(f"/proc/{children[0]}/status").read_text() if children else ""
    except (OSError, IndexError):
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)


def worker_peak(env: dict[str, str], work: Path, code: str) -> tuple[int, str]:
    """(the worker's peak RSS in KiB, stdout) of one run; the script must sleep at its end so the peak is read."""
    proc = subprocess.Popen([*KOSMO, "integrations:lua", "--force", "-e", code], env=env, cwd=work,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, peak_rss_kib(proc.pid))
        time.sleep(0.02)
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    return peak, out


def test_a_large_answer_goes_to_disk_without_passing_through_memory(stability: Any, env: dict[str, str],
                                                                     work: Path) -> None:
    code = """
local r = app.integrations.stability.generate_core({ prompt = "a lighthouse", save_to = "%s", overwrite = true })
print(r.path, r.bytes, r.content_type, r.finish_reason)
sleep(0.5)
"""
    base_peak, _ = worker_peak(env, work, code % "small.png")
    stability.faults.add(Fault("large_body", path=CORE, size_mb=40))
    peak, out = worker_peak(env, work, code % "big.png")
    path, size, ctype, reason = out.split()
    assert (path, int(size), ctype, reason) == ("big.png", 40 * MIB, "image/png", "SUCCESS")
    data = (work / "big.png").read_bytes()
    assert len(data) == 40 * MIB and data[:8] == b"\x89PNG\r\n\x1a\n"
    small = (work / "small.png").read_bytes()
    assert data[:len(small)] == small and data[len(small):].strip() == b""  # the same image, padded by the fault
    assert leftovers(work) == []
    # Held in memory, 40 MiB would have cost the worker 40-80 MiB; streamed, it costs a few chunks.
    assert base_peak and peak - base_peak < 16 * 1024, (base_peak, peak)


def test_a_retried_download_leaves_one_whole_file(stability: Any, env: dict[str, str], work: Path) -> None:
    data = run(env, work, """
local s = app.integrations.stability
local job = s.upscale_creative({ image = s.generate_core({ prompt = "a pear" }), prompt = "a pear" })
local fresh = s.get_result({ id = job.id, save_to = "fresh.png" })
return job.id, fresh.bytes
""")
    assert data["success"], data["error"]
    job, size = data["result"]
    stability.faults.add(Fault("drop_mid_body", method="GET", path="/v2beta/results/", times=1))
    data = run(env, work, f'return app.integrations.stability.get_result({{ id = "{job}", save_to = "again.png" }})')
    assert data["success"], data["error"]
    assert data["result"][0]["bytes"] == size
    assert data["integration_calls"][0]["attempts"] == 2  # the torn answer was read again
    assert (work / "again.png").read_bytes() == (work / "fresh.png").read_bytes()
    assert leftovers(work) == []


def test_an_error_answer_writes_nothing(stability: Any, env: dict[str, str], work: Path) -> None:
    stability.faults.add(Fault("status", status=500, path=CORE, times=1))
    data = run(env, work, 'return app.integrations.stability.generate_core({ prompt = "x", save_to = "e.png" })')
    assert data["success"] is False and "HTTP 500" in data["error"]
    assert list(work.iterdir()) == []


def test_a_file_that_appears_during_the_download_is_kept(stability: Any, env: dict[str, str], work: Path) -> None:
    # The first creation to arrive is held 600 ms; meanwhile a second task saves to the same name.
    stability.faults.add(Fault("delay", path=CORE, ms=600, times=1))
    data = run(env, work, """
local s = app.integrations.stability
local out = parallel({
  function() return s.generate_core({ prompt = "first", seed = 1, save_to = "same.png" }) end,
  function() sleep(0.2); return s.generate_core({ prompt = "second", seed = 2, save_to = "same.png" }) end,
}, { errors = "collect" })
return out[1].ok, out[1].error and out[1].error.message, out[2].ok
""")
    assert data["success"], data["error"]
    first_ok, message, second_ok = data["result"]
    assert first_ok is False and second_ok is True
    assert "'same.png' already exists; pass overwrite = true" in message
    assert leftovers(work) == []


def test_parallel_downloads_each_land_whole(stability: Any, env: dict[str, str], work: Path) -> None:
    stability.faults.add(Fault("large_body", path=CORE, size_mb=2))
    data = run(env, work, """
local s = app.integrations.stability
local tasks = {}
for i = 1, 6 do
  tasks[i] = function() return s.generate_core({ prompt = "tile " .. i, save_to = "tiles/" .. i .. ".png" }).bytes end
end
return parallel(tasks)
""")
    assert data["success"], data["error"]
    assert data["result"] == [[2 * MIB] * 6]
    for i in range(1, 7):
        assert (work / "tiles" / f"{i}.png").stat().st_size == 2 * MIB
    assert leftovers(work) == []
