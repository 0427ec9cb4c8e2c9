"""1,000 creations in one `parallel` batch against the Replicate emulator enforcing a rate limit, with the declared
limit scaled down to the same figure: the achieved rate against the limit, and how many 429s came back.

    python bench/rate_limit.py [--creations 1000] [--limit 100] [--per 1]

Replicate publishes 600 creations per 60 s; running 1,000 of those would take over 15 minutes, so both sides are
scaled to --limit per --per seconds (default 100 per 1 s): the emulator's ``rate_limit`` fault (a sliding window
counted when requests arrive, answering 429 above it) and ``KOSMO_RATE_LIMITS`` for the client. A sliding window
lets one full window through at once, so the achieved rate is measured after it: (creations - limit) / (last arrival
- first arrival), from the emulator's request log. Targets: >= 90 % of the limit, 0 429s.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from _common import emulator, header, kosmo_json, replicate_env

BATCH = """
local replicate = app.integrations.replicate
local tasks = {}
for i = 1, %d do
  tasks[i] = function()
    return replicate.create_model_prediction({ model_owner = "black-forest-labs", model_name = "flux-schnell",
      input = { prompt = "rate " .. i } }).id
  end
end
return #parallel(tasks, { max = 64 })
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--creations", type=int, default=1000)
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--per", type=float, default=1.0)
    ns = parser.parse_args()
    header(f"rate limit: {ns.creations} creations, emulator and declared limit {ns.limit} per {ns.per:g} s")
    with emulator("replicate") as served, tempfile.TemporaryDirectory() as home:
        served.add_fault(kind="rate_limit", method="POST", path="/predictions$", limit=ns.limit,
                         per_seconds=ns.per)
        env = replicate_env(served, Path(home), KOSMO_RATE_LIMITS=f"replicate.create_prediction={ns.limit}/{ns.per:g}")
        data = kosmo_json(BATCH % ns.creations, env, "--cpu-limit", "3600")
        requests = [r for r in served.requests() if r["method"] == "POST"]
    created = [r for r in requests if r["status"] == 201]
    refused = [r for r in requests if r["status"] == 429]
    arrivals = sorted(r["timestamp"] for r in created)
    span = arrivals[-1] - arrivals[0]
    achieved = (len(created) - ns.limit) / span
    allowed = ns.limit / ns.per
    print(f"created {len(created)} of {ns.creations} in {data['execution_time_ms'] / 1000:.2f} s "
          f"(result {data['result'][0]})")
    print(f"achieved rate after the first window: {achieved:.1f}/s of {allowed:g}/s allowed = "
          f"{achieved / allowed * 100:.1f} %  (target >= 90 %)")
    print(f"429s received: {len(refused)}  (target 0)")


if __name__ == "__main__":
    main()
