"""Per-call overhead of an integration call from Lua, against the same request made with raw httpx and with the
official `replicate` Python client (optional, bench-only: `pip install replicate`; the column is skipped without it).

    python bench/call_overhead.py [--calls 400] [--runs 5]

All three read one prediction (`GET /v1/predictions/<id>`, JSON decoded) from the Replicate emulator running in its
own process on a loopback port, so the server's cost is the same for every column. The Lua figure is
(time of a chunk making 1 + N calls - time of a chunk making 1 call) / N, from the envelope's execution_time_ms: the
whole path a script pays (Lua -> host function -> validate -> build -> send -> parse -> Lua table), without process
start-up. Prints each column's best run (and median run) per call and the ratios to raw httpx.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _common import TOKEN, emulator, header, kosmo_json, median, replicate_env

CREATE = """
local p = app.integrations.replicate.create_model_prediction({ model_owner = "black-forest-labs",
  model_name = "flux-schnell", input = { prompt = "overhead" } })
return p.id
"""

LOOP = """
local get = app.integrations.replicate.get_prediction
local id = %r
get({ prediction_id = id })
for i = 1, %d do get({ prediction_id = id }) end
"""


def lua_batch(env: dict[str, str], prediction: str, calls: int) -> float:
    base = kosmo_json(LOOP % (prediction, 0), env)["execution_time_ms"]
    full = kosmo_json(LOOP % (prediction, calls), env)["execution_time_ms"]
    return (full - base) / calls / 1000


def httpx_batch(base_url: str, prediction: str, calls: int) -> float:
    import httpx

    with httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        url = f"{base_url}/predictions/{prediction}"
        client.get(url).json()  # connect outside the timing, as the Lua figure's first call does
        started = time.perf_counter()
        for _ in range(calls):
            response = client.get(url)
            response.raise_for_status()
            response.json()
        return (time.perf_counter() - started) / calls


def replicate_batch(base_url: str, prediction: str, calls: int) -> float | None:
    try:
        import replicate
    except ImportError:
        return None
    client = replicate.Client(api_token=TOKEN, base_url=base_url.rsplit("/v1", 1)[0])
    client.predictions.get(prediction)
    started = time.perf_counter()
    for _ in range(calls):
        client.predictions.get(prediction)
    return (time.perf_counter() - started) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--runs", type=int, default=7)
    ns = parser.parse_args()
    header("call overhead: get_prediction against the Replicate emulator on loopback")
    with emulator("replicate") as served, tempfile.TemporaryDirectory() as home:
        env = replicate_env(served, Path(home))
        prediction = kosmo_json(CREATE, env)["result"][0]
        # The columns take turns, run after run, so a busy moment of the machine hits them all alike.
        raws, luas, officials = [], [], []
        for _ in range(ns.runs):
            raws.append(httpx_batch(served.base_url, prediction, ns.calls))
            luas.append(lua_batch(env, prediction, ns.calls))
            officials.append(replicate_batch(served.base_url, prediction, ns.calls))
    # Best of the runs, as timeit reports: on a shared machine interference only ever adds time. Medians beside.
    print(f"calls per run: {ns.calls}, runs: {ns.runs}; best run (median run)")
    raw, raw_med = min(raws), median(raws)
    lua, lua_med = min(luas), median(luas)
    print(f"raw httpx          {raw * 1e6:6.0f} us/call ({raw_med * 1e6:4.0f})  1.00x")
    print(f"kosmo Lua          {lua * 1e6:6.0f} us/call ({lua_med * 1e6:4.0f})  {lua / raw:.2f}x of raw httpx "
          f"({lua_med / raw_med:.2f}x)  (target <= 1.2x)")
    if officials[0] is None:
        print("replicate client        (skipped: `pip install replicate` to measure it)")
    else:
        official = min(x for x in officials if x is not None)
        official_med = median([x for x in officials if x is not None])
        print(f"replicate client   {official * 1e6:6.0f} us/call ({official_med * 1e6:4.0f})  "
              f"{official / raw:.2f}x of raw httpx; Lua is {lua / official:.2f}x of it")


if __name__ == "__main__":
    main()
