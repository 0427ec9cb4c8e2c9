"""Replicate's helpers beyond the API (wait, run, paginate, validate_webhook), run through the full engine against
the emulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kosmo_lua.run.runner import RunOptions, run_script

SPECS = Path(__file__).resolve().parents[1].parent / "shared" / "specs"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOSMO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("REPLICATE_API_TOKEN", raising=False)


def run(code: str, **options: object):  # type: ignore[no-untyped-def]
    opts = {"offline": True, "force": True, "cpu_limit": 30, **options}
    return run_script("local replicate = app.integrations.replicate\n" + code,
                      options=RunOptions(**opts))  # type: ignore[arg-type]


def test_wait_polls_a_prediction_to_the_end() -> None:
    env = run("""
        local p = replicate.create_model_prediction({ model_owner = "black-forest-labs", model_name = "flux-schnell",
                                                      input = { prompt = "a fox" } })
        local first = p.status
        p = replicate.wait({ prediction_id = p.id, interval = 0.01 })
        return first, p.status, type(p.output)
    """)
    assert env.success, env.error
    assert env.result == ["starting", "succeeded", "table"]
    gets = [c for c in env.integration_calls if c["path"] == "replicate.get_prediction"]
    assert len(gets) >= 2  # it really polled


def test_wait_accepts_a_prediction_table_and_a_training() -> None:
    env = run("""
        local p = replicate.create_model_prediction({ model_owner = "black-forest-labs", model_name = "flux-schnell",
                                                      input = { prompt = "a fox" } })
        local done = replicate.wait({ prediction = p, interval = 0.01 })
        local model = replicate.get_model({ model_owner = "replicate", model_name = "hello-world" })
        local me = replicate.get_account({}).username
        replicate.create_model({ owner = me, name = "trained", visibility = "private", hardware = "cpu" })
        local t = replicate.create_training({ model_owner = "replicate", model_name = "hello-world",
                                              version_id = model.latest_version.id,
                                              destination = me .. "/trained", input = { steps = 1 } })
        local trained = replicate.wait({ training_id = t.id, interval = 0.01 })
        return done.status, trained.status
    """)
    assert env.success, env.error
    assert env.result == ["succeeded", "succeeded"]


def test_wait_timeout_is_a_catchable_error() -> None:
    env = run("""
        local p = replicate.create_model_prediction({ model_owner = "black-forest-labs", model_name = "flux-schnell",
                                                      input = { prompt = "slow" } })
        local ok, err = pcall(replicate.wait, { prediction_id = p.id, interval = 0.2, timeout = 0 })
        return ok, err.kind, err.id == p.id
    """)
    assert env.success, env.error
    assert env.result == [False, "timeout", True]


@pytest.mark.parametrize("how", ["model", "model_version", "version", "deployment"])
def test_run_each_way_of_naming_the_model(how: str) -> None:
    env = run(f"""
        local how = "{how}"
        local model = replicate.get_model({{ model_owner = "black-forest-labs", model_name = "flux-schnell" }})
        local args = {{ input = {{ prompt = "a fox" }}, interval = 0.01 }}
        if how == "model" then args.model = "black-forest-labs/flux-schnell"
        elseif how == "model_version" then args.model = "black-forest-labs/flux-schnell:" .. model.latest_version.id
        elseif how == "version" then args.version = model.latest_version.id
        else
          local me = replicate.get_account({{}}).username
          replicate.create_deployment({{ name = "fox", model = "black-forest-labs/flux-schnell",
            version = model.latest_version.id, hardware = "gpu-t4", min_instances = 0, max_instances = 1 }})
          args.deployment = me .. "/fox"
        end
        local p = replicate.run(args)
        return p.status, #p.output > 0
    """)
    assert env.success, env.error
    assert env.result == ["succeeded", True]


def test_run_with_wait_sends_prefer_header() -> None:
    env = run("""
        local p = replicate.run({ model = "black-forest-labs/flux-schnell", input = { prompt = "a fox" }, wait = 5 })
        return p.status
    """)
    assert env.success, env.error
    assert env.result == ["succeeded"]
    # Prefer: wait answered with the final prediction: no polling was needed.
    assert [c["path"] for c in env.integration_calls] == ["replicate.create_model_prediction"]


def test_run_raises_with_the_predictions_error_and_logs() -> None:
    env = run("""
        local ok, err = pcall(replicate.run, { model = "black-forest-labs/flux-schnell",
                                               input = { prompt = "x", emulator_fail = "out of cheese" },
                                               interval = 0.01 })
        return ok, err.status, err.error, type(err.logs), tostring(err):match("failed: out of cheese") ~= nil
    """)
    assert env.success, env.error
    assert env.result == [False, "failed", "out of cheese", "string", True]


def test_run_rejects_bad_arguments_before_any_call() -> None:
    env = run("""
        local results = {}
        for _, args in ipairs({ {}, { model = "no-slash", input = {} }, { model = "a/b", input = "text" },
                                { model = "a/b", input = {}, wait = 99 } }) do
          local ok, err = pcall(replicate.run, args)
          results[#results + 1] = tostring(err)
        end
        return results
    """)
    assert env.success, env.error
    messages = env.result[0]
    assert "pass model" in messages[0]
    assert "owner/name" in messages[1]
    assert "'input' expects a table" in messages[2]
    assert "'wait'" in messages[3]
    assert env.integration_calls == []


def test_paginate_follows_next_links_to_the_end() -> None:
    env = run("""
        local names, pages = {}, 0
        for m in replicate.paginate("list_models") do names[#names + 1] = m.owner .. "/" .. m.name end
        local first = replicate.list_models({})
        return #names, first.next ~= nil, #first.results
    """)
    assert env.success, env.error
    total, has_next, page_size = env.result
    assert has_next and page_size == 3  # the emulator's small pages make paginate follow links
    assert total > page_size
    list_calls = [c for c in env.integration_calls if c["path"] == "replicate.list_models"]
    assert len(list_calls) >= 3  # first page + followed pages (+ the extra first call)


def test_paginate_refuses_unknown_function() -> None:
    env = run('for m in replicate.paginate("list_modles") do end')
    assert not env.success
    assert "list_models" in env.error


def _webhook_vector() -> dict:
    path = SPECS / "replicate-response-samples.json"
    if not path.exists():
        pytest.skip("../shared/specs/replicate-response-samples.json is absent: the webhook vector comes from it")
    return json.loads(path.read_text())["webhook_secret_and_signature_test_vector"]


def test_validate_webhook_with_the_recorded_vector() -> None:
    vector = _webhook_vector()
    headers = json.dumps(vector["request_headers"])
    body = vector["request_body"]
    secret = vector["secret_response_body"]["key"]
    code = f"""
        local headers = json.decode([==[{headers}]==])
        local body = [==[{body}]==]
        local good = replicate.validate_webhook({{ headers = headers, body = body, secret = "{secret}",
                                                   tolerance = 0 }})
        local tampered, why = replicate.validate_webhook({{ headers = headers, body = body .. " ", secret = "{secret}",
                                                            tolerance = 0 }})
        local stale, why_stale = replicate.validate_webhook({{ headers = headers, body = body, secret = "{secret}" }})
        local as_table = replicate.validate_webhook({{ headers = headers, body = body, tolerance = 0,
                                                       secret = {{ key = "{secret}" }} }})
        return good, tampered, why, stale, why_stale, as_table
    """
    env = run(code)
    assert env.success, env.error
    assert env.result == [True, False, "no signature matches", False,
                          "timestamp outside the tolerance of 300 s", True]
    assert env.integration_calls == []  # pure computation, no API call


def test_validate_webhook_with_the_emulators_secret() -> None:
    env = run("""
        local secret = replicate.get_default_webhook_secret({})
        return secret.key:sub(1, 6)
    """)
    assert env.success, env.error
    assert env.result == ["whsec_"]
