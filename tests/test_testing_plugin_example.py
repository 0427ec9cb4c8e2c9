"""The worked example of docs/testing-workflows.md, verbatim below the marker line: a user's tests of their own
workflow (tests/workflows/hello.lua) with the kosmo_lua.testing pytest plugin.

It runs directly whenever the plugin is loaded (its pytest11 entry point is installed, or `-p kosmo_lua.testing`),
and always through pytester in tests/test_testing_plugin.py, which also checks that this file and the docs page
still agree.
"""

import pytest

# A string condition is evaluated with the running session's `config`: skip only when the plugin is not loaded.
pytestmark = pytest.mark.skipif(
    "not (config.pluginmanager.hasplugin('kosmo_lua') or config.pluginmanager.hasplugin('kosmo_lua.testing'))",
    reason="the kosmo_lua.testing plugin is not loaded (no pytest11 entry point yet); "
           "tests/test_testing_plugin.py runs this example through pytester")

# --- the example, exactly as docs/testing-workflows.md shows it ---------------------------------------------------
import json
from pathlib import Path

from kosmo_lua.emulate import Fault

HELLO = Path(__file__).parent / "workflows" / "hello.lua"


def test_hello_workflow_greets(replicate_emulator, run_workflow):
    run = run_workflow(HELLO)
    assert run.success, run.error
    assert run.result == ["hello Ada"]
    assert run.lines == ["status: succeeded"]
    # What the workflow sent: one lookup, then one prediction that asked to wait for its output.
    assert [(r.method, r.path) for r in run.requests] == [
        ("GET", "/v1/models/replicate/hello-world"),
        ("POST", "/v1/predictions"),
    ]
    create = run.requests[1]
    assert json.loads(create.body)["input"] == {"text": "Ada"}
    assert create.header("prefer") == "wait"
    assert create.header("authorization") == "Bearer [redacted]"


def test_hello_workflow_survives_a_flaky_api(replicate_emulator, run_workflow):
    # The first model lookup answers 503; the HTTP layer repeats a GET that met a gateway error.
    replicate_emulator.emulator.faults.add(Fault("status", method="GET", path="models", status=503, times=1))
    run = run_workflow(HELLO).raise_for_error()
    assert run.calls[0]["attempts"] == 2
    assert [r.status for r in run.requests_to("replicate")] == [503, 200, 201]


def test_api_errors_reach_the_script(replicate_emulator, run_workflow):
    run = run_workflow('return app.integrations.replicate.get_prediction({ prediction_id = "missing" })')
    assert not run.success
    assert "404" in run.error
