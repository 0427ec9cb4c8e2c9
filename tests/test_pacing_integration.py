"""Rate awareness: the declared limits (integration.yaml ``rate_limits``) pace every request of an account, from
any thread and any `parallel` task, so a batch stays under the API's limit; a 429 that still comes is retried.

The emulator enforces a limit with its ``rate_limit`` fault (a sliding window per credential, counted when a request
arrives) on a real loopback port; ``KOSMO_RATE_LIMITS`` scales the declared limits down to match it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from _kosmo_run import assert_no_crash, clean_env, envelope, kosmo, served
from kosmo_lua.config import Account
from kosmo_lua.emulate import Fault
from kosmo_lua.errors import CallError
from kosmo_lua.integration import RateLimit, load_integration
from kosmo_lua.net import HttpClient, Pacer, shared_pacer
from kosmo_lua.net.pacing import effective_rate_limits

REPO = Path(__file__).resolve().parents[1]
TOKEN = "r8_pacing_suite_token"
CREATE_PATH = "^/v1/models/black-forest-labs/flux-schnell/predictions$"


# -- declared limits and the override ------------------------------------------------------------------------------


def test_each_integration_declares_its_published_limits() -> None:
    replicate = load_integration(REPO / "integrations" / "replicate")
    stability = load_integration(REPO / "integrations" / "stability")
    by_name = {x.name: x for x in replicate.rate_limits}
    assert (by_name["create_prediction"].limit, by_name["create_prediction"].per_seconds) == (600, 60.0)
    assert set(by_name["create_prediction"].operations) >= {"create_prediction", "create_model_prediction",
                                                           "create_deployment_prediction"}
    assert (by_name["default"].limit, by_name["default"].per_seconds, by_name["default"].operations) == \
        (3000, 60.0, ())
    assert [(x.limit, x.per_seconds) for x in stability.rate_limits] == [(150, 10.0)]


def test_rate_limits_override_from_the_environment() -> None:
    replicate = load_integration(REPO / "integrations" / "replicate")
    env = {"KOSMO_RATE_LIMITS": "replicate.create_prediction=10/1, stability.default=5/2,replicate.default=50/0.5"}
    limits = {x.name: x for x in effective_rate_limits(replicate, env)}
    assert (limits["create_prediction"].limit, limits["create_prediction"].per_seconds) == (10, 1.0)
    assert (limits["default"].limit, limits["default"].per_seconds) == (50, 0.5)
    assert limits["create_prediction"].operations == \
        {x.name: x for x in replicate.rate_limits}["create_prediction"].operations
    assert effective_rate_limits(replicate, {}) == replicate.rate_limits
    for bad in ("replicate.create_prediction=ten/1", "replicate=10/1", "replicate.default=0/1",
                "replicate.default=5/-1", "replicate.default"):
        with pytest.raises(CallError, match="KOSMO_RATE_LIMITS: cannot read"):
            effective_rate_limits(replicate, {"KOSMO_RATE_LIMITS": bad})
    with pytest.raises(CallError, match="replicate declares no rate limit named 'creates' .*create_prediction"):
        effective_rate_limits(replicate, {"KOSMO_RATE_LIMITS": "replicate.creates=1/1"})


# -- the pacer: one per account, shared by threads -----------------------------------------------------------------


def test_clients_of_one_account_share_one_pacer_and_the_override_gives_another() -> None:
    integration = load_integration(REPO / "integrations" / "replicate")
    account = Account("replicate", "pacing-suite", "http://127.0.0.1:9/v1", None, {})
    one, two = HttpClient(account, integration), HttpClient(account, integration)
    try:
        assert one.pacer is two.pacer is shared_pacer(account, integration)
        scaled = replace(integration, rate_limits=(RateLimit("default", 1, 1.0),))
        assert shared_pacer(account, scaled) is not one.pacer
    finally:
        one.close()
        two.close()


def test_slots_from_many_threads_never_exceed_the_window() -> None:
    limit, window = 4, 0.2
    pacer = Pacer((RateLimit("default", limit, window),))
    sent: list[float] = []
    done: list[float] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(3):
                with pacer.slot("x", None):
                    with lock:
                        sent.append(time.monotonic())
                    time.sleep(0.01)  # the request "in flight"
                    with lock:
                        done.append(time.monotonic())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == [] and len(sent) == 18
    # A server counting arrivals (anywhere between send and answer) never sees limit + 1 in one window: each send is
    # at least a window after the answer of the request `limit` places before it.
    sent.sort()
    done.sort()
    for k in range(limit, len(sent)):
        assert sent[k] >= done[k - limit] + window - 1e-3


# -- against the emulator: kosmo subprocesses, parallel batches ------------------------------------------------------


@pytest.fixture(scope="module")
def replicate() -> Iterator[Any]:
    with served("replicate") as emulator:
        yield emulator


@pytest.fixture
def env(replicate: Any, tmp_path: Path) -> dict[str, str]:
    replicate.reset()
    return clean_env({"KOSMO_HOME": str(tmp_path / "home"), "REPLICATE_API_TOKEN": TOKEN,
                      "REPLICATE_BASE_URL": replicate.server.base_url})


BATCH = """
local replicate = app.integrations.replicate
local tasks = {}
for i = 1, %d do
  tasks[i] = function()
    return replicate.create_model_prediction({ model_owner = "black-forest-labs", model_name = "flux-schnell",
      input = { prompt = "paced " .. i } }).id
  end
end
return #parallel(tasks, { max = 16 })
"""


def run(env: dict[str, str], code: str, tmp_path: Path) -> dict[str, Any]:
    proc = kosmo("integrations:lua", "--json", "--force", "-e", code, env=env, cwd=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr
    assert_no_crash(proc.stdout, proc.stderr)
    return envelope(proc)


def creations(emulator: Any) -> list[Any]:
    return [r for r in emulator.requests if r.method == "POST"]


def test_scaled_declared_limits_keep_a_batch_under_the_emulators_limit(replicate: Any, env: dict[str, str],
                                                                       tmp_path: Path) -> None:
    n = 15
    replicate.faults.add(Fault("rate_limit", method="POST", path=CREATE_PATH, limit=5, per_seconds=1))
    data = run({**env, "KOSMO_RATE_LIMITS": "replicate.create_prediction=5/1"}, BATCH % n, tmp_path)
    assert data["success"], data["error"]
    assert data["result"] == [n]
    posts = creations(replicate)
    assert [r.status for r in posts] == [201] * n  # not one 429: the pacing kept every window within the limit
    assert len(data["integration_calls"]) == n and all(c["attempts"] == 1 for c in data["integration_calls"])


def test_a_429_that_still_comes_is_absorbed_by_the_retry_rules(replicate: Any, env: dict[str, str],
                                                               tmp_path: Path) -> None:
    n = 8
    # The emulator allows less than the declared (scaled) limit, as an API under load may.
    replicate.faults.add(Fault("rate_limit", method="POST", path=CREATE_PATH, limit=3, per_seconds=1))
    data = run({**env, "KOSMO_RATE_LIMITS": "replicate.create_prediction=20/1"}, BATCH % n, tmp_path)
    assert data["success"], data["error"]
    posts = creations(replicate)
    refused = [r for r in posts if r.status == 429]
    assert refused, "the emulator never refused: the test proves nothing"
    assert len([r for r in posts if r.status == 201]) == n  # exactly one prediction per task
    assert len(posts) == n + len(refused)
    assert sum(c["attempts"] for c in data["integration_calls"]) == len(posts)


def test_a_bad_override_is_a_clear_error_of_the_call(env: dict[str, str], tmp_path: Path) -> None:
    data = run({**env, "KOSMO_RATE_LIMITS": "replicate.create=5/1"},
               "return app.integrations.replicate.get_account({})", tmp_path)
    assert data["success"] is False
    assert data["error"].startswith("KOSMO_RATE_LIMITS: replicate declares no rate limit named 'create'")
