"""100 predictions created and waited for, with `parallel` and one after the other, against the Replicate emulator
(its own process, loopback port) adding 200 ms of latency to every request.

    python bench/parallel_batch.py [--predictions 100] [--max 50]

Each prediction is `create_model_prediction` then the `wait` helper (polls `get_prediction`, sleeping in between).
The emulated model finishes by the first poll (``steps_per_get=2``), so a prediction is two requests (~0.4 s) and
the sequential run stays under a minute. Prints both times, the ratio (target >= 10x), and how many requests the
emulator had in flight at once during the parallel run (from its request log).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from _common import emulator, header, kosmo_json, replicate_env

BATCH = """
local replicate = app.integrations.replicate
local function one(i)
  local p = replicate.create_model_prediction({ model_owner = "black-forest-labs", model_name = "flux-schnell",
    input = { prompt = "batch " .. i } })
  return replicate.wait({ prediction = p, interval = 0.1 }).status
end
local n, mode, max = %d, "%s", %d
local statuses = {}
if mode == "parallel" then
  local tasks = {}
  for i = 1, n do tasks[i] = function() return one(i) end end
  statuses = parallel(tasks, { max = max })
else
  for i = 1, n do statuses[i] = one(i) end
end
local ok = 0
for _, s in ipairs(statuses) do if s == "succeeded" then ok = ok + 1 end end
return ok
"""


def in_flight(requests: list[dict]) -> int:
    events = sorted([(r["timestamp"], 1) for r in requests] + [(r["answered"], -1) for r in requests])
    most = current = 0
    for _, step in events:
        current += step
        most = max(most, current)
    return most


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--predictions", type=int, default=100)
    parser.add_argument("--max", type=int, default=50, help="parallel's max (default 50)")
    ns = parser.parse_args()
    header(f"parallel batch: {ns.predictions} predictions created and waited for, 200 ms latency per request")
    with emulator("replicate", latency_ms=200, steps_per_get=2) as served, tempfile.TemporaryDirectory() as home:
        env = replicate_env(served, Path(home))
        times = {}
        for mode in ("parallel", "sequential"):
            served.reset()
            data = kosmo_json(BATCH % (ns.predictions, mode, ns.max), env, "--cpu-limit", "3600")
            assert data["result"] == [ns.predictions], data["result"]
            times[mode] = data["execution_time_ms"] / 1000
            requests = served.requests()
            creations = sum(1 for r in requests if r["method"] == "POST")
            assert creations == ns.predictions, creations
            print(f"{mode:10s} {times[mode]:7.2f} s  {len(requests)} requests, {creations} creations, "
                  f"at most {in_flight(requests)} in flight at once")
    print(f"speed-up: {times['sequential'] / times['parallel']:.1f}x  (target >= 10x; max = {ns.max})")


if __name__ == "__main__":
    main()
