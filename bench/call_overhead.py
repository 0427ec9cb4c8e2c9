"""Per-call overhead of an integration call from Lua, against the same request made with raw httpx and with the
official `replicate` Python client (optional, bench-only: `pip install replicate`; the column is skipped without it).

    python bench/call_overhead.py [--calls 100] [--rounds 25]

All columns read one prediction (`GET /v1/predictions/<id>`, JSON decoded) from the Replicate emulator running in its
own process on a loopback port, so the server's cost is the same for every column. The Lua column runs chunks in
the same supervised worker process `kosmo integrations:lua` uses (`ScriptRunner`, one worker kept across chunks):
per call = (execution_time_ms of a chunk making N calls - that of a chunk making none) / N, the whole path a script
pays (Lua -> host function -> validate -> build -> send -> parse -> Lua table, the call record to the parent),
without process start-up. Every round runs each column once, in turn, so a busy moment of the machine hits them
all alike; the figures are medians over the rounds, with the interquartile range beside them.

A fourth column sends the same request with httpcore, the connection layer kosmo's HTTP client uses directly
(kosmo_lua/net/wire.py), with the headers httpx sends: the floor under the Lua figure, so the difference between
the two is what everything else in a call costs. The account's published limit (3,000 requests a minute) would
pace a long run; the benchmark raises it with KOSMO_RATE_LIMITS, so the pacer still does its bookkeeping per call
but never waits.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from _common import TOKEN, emulator, header, kosmo_json, median, replicate_env

if TYPE_CHECKING:
    from kosmo_lua.run.runner import ScriptRunner

CREATE = """
local p = app.integrations.replicate.create_model_prediction({ model_owner = "black-forest-labs",
  model_name = "flux-schnell", input = { prompt = "overhead" } })
return p.id
"""

LOOP = """
local get = app.integrations.replicate.get_prediction
local id = %r
for i = 1, %d do get({ prediction_id = id }) end
"""


def lua_batch(runner: "ScriptRunner", prediction: str, calls: int) -> float:
    def timed(code: str) -> float:
        envelope = runner.run(code, "=bench")
        if not envelope.success:
            raise RuntimeError(f"the script failed: {envelope.error}")
        return envelope.execution_time_ms / 1000

    return (timed(LOOP % (prediction, calls)) - timed(LOOP % (prediction, 0))) / calls


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


def httpcore_batch(base_url: str, prediction: str, calls: int) -> float:
    import httpcore
    import httpx

    from kosmo_lua.net import user_agent

    url = httpx.URL(f"{base_url}/predictions/{prediction}")
    headers = [(b"Host", url.netloc), (b"Accept", b"*/*"), (b"Accept-Encoding", b"gzip, deflate"),
               (b"Connection", b"keep-alive"), (b"User-Agent", user_agent().encode()),
               (b"Authorization", f"Bearer {TOKEN}".encode())]
    timeout = {"timeout": httpx.Timeout(30.0).as_dict()}
    with httpcore.ConnectionPool() as pool:
        target = str(url)
        json.loads(pool.request("GET", target, headers=headers, extensions=timeout).content)
        started = time.perf_counter()
        for _ in range(calls):
            response = pool.request("GET", target, headers=headers, extensions=timeout)
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}")
            json.loads(response.content)
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


def _spread(values: list[float]) -> str:
    q = statistics.quantiles(values, n=4)
    return f"IQR {q[0] * 1e6:4.0f}-{q[2] * 1e6:4.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=100, help="calls per column per round")
    parser.add_argument("--rounds", type=int, default=25)
    ns = parser.parse_args()
    header("call overhead: get_prediction against the Replicate emulator on loopback")
    with emulator("replicate") as served, tempfile.TemporaryDirectory() as home:
        env = replicate_env(served, Path(home), KOSMO_RATE_LIMITS="replicate.default=1000000/60")
        prediction = kosmo_json(CREATE, env)["result"][0]
        os.environ.update(env)  # the worker forked below reads the account from the environment, as `kosmo` does
        from kosmo_lua.run.runner import RunOptions, ScriptRunner

        with ScriptRunner(RunOptions(force=True, cpu_limit=600), keep_state=True) as runner:
            lua_batch(runner, prediction, 5)  # the worker, its HTTP client and the function: made before timing
            raws, luas, cores, officials = [], [], [], []
            for _ in range(ns.rounds):
                raws.append(httpx_batch(served.base_url, prediction, ns.calls))
                luas.append(lua_batch(runner, prediction, ns.calls))
                cores.append(httpcore_batch(served.base_url, prediction, ns.calls))
                officials.append(replicate_batch(served.base_url, prediction, ns.calls))
    print(f"calls per column per round: {ns.calls}, rounds: {ns.rounds}; median per call (interquartile range)")
    raw, lua, core = median(raws), median(luas), median(cores)
    print(f"raw httpx          {raw * 1e6:6.0f} us/call ({_spread(raws)})  1.00x")
    print(f"kosmo Lua          {lua * 1e6:6.0f} us/call ({_spread(luas)})  {lua / raw:.2f}x of raw httpx "
          f"(target <= 1.2x)")
    print(f"raw httpcore       {core * 1e6:6.0f} us/call ({_spread(cores)})  {core / raw:.2f}x of raw httpx; "
          f"the Lua call adds {(lua - core) * 1e6:.0f} us to it")
    if officials[0] is None:
        print("replicate client        (skipped: `pip install replicate` to measure it)")
    else:
        measured = [x for x in officials if x is not None]
        official = median(measured)
        print(f"replicate client   {official * 1e6:6.0f} us/call ({_spread(measured)})  "
              f"{official / raw:.2f}x of raw httpx; Lua is {lua / official:.2f}x of it")


if __name__ == "__main__":
    main()
