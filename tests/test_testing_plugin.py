"""The kosmo_lua.testing pytest plugin, tested as a user meets it: test files run by pytester with the plugin
loaded by name (`-p kosmo_lua.testing`, entry-point autoloading off so an installed entry point cannot load it a
second time under its other name)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
# pytester's in-process runs drop modules first imported inside them; PyYAML's C loader does not survive being
# imported twice, so everything the plugin uses is imported here, once, outside those runs.
import yaml  # noqa: F401

import kosmo_lua.emulate  # noqa: F401
import kosmo_lua.testing  # noqa: F401

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "testing-workflows.md"
EXAMPLE = REPO / "tests" / "test_testing_plugin_example.py"
HELLO = REPO / "tests" / "workflows" / "hello.lua"
MARKER = "pytestmark = pytest.mark.skipif("


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


@pytest.fixture
def run_plugin_tests(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")

    def run(*args: str) -> pytest.RunResult:
        return pytester.runpytest("-p", "kosmo_lua.testing", "-p", "no:cacheprovider", *args)

    return run


def test_docs_example_is_the_committed_test() -> None:
    example = EXAMPLE.read_text(encoding="utf-8")
    python = _blocks("python")[0]
    assert example.endswith(python), "tests/test_testing_plugin_example.py must end with the docs page's example"
    assert MARKER in example[: -len(python)]  # above the example: only the skip guard for a missing plugin
    assert _blocks("lua")[0] == HELLO.read_text(encoding="utf-8"), "the docs page shows tests/workflows/hello.lua"


def test_docs_example_passes(pytester: pytest.Pytester, run_plugin_tests) -> None:
    pytester.makepyfile(test_hello_workflow=_blocks("python")[0])
    (pytester.path / "workflows").mkdir()
    (pytester.path / "workflows" / "hello.lua").write_text(HELLO.read_text(encoding="utf-8"), encoding="utf-8")
    result = run_plugin_tests()
    result.assert_outcomes(passed=3)


PLUGIN_TESTS = '''
import pytest
from pathlib import Path

from kosmo_lua.errors import UsageError


def test_code_string_runs_isolated(replicate_emulator, run_workflow, kosmo_env):
    run = run_workflow("print('hi'); return app.integrations.replicate.get_account().username")
    assert run.success, run.error
    assert run.lines == ["hi"] and run.result[0].startswith("user-")
    assert [(r.method, r.path) for r in run.requests] == [("GET", "/v1/account")]
    assert run.requests_to("replicate") == run.requests
    assert run.calls[0]["path"] == "replicate.get_account" and run.calls[0]["account"] == "default"
    assert (kosmo_env.home / "credentials.yaml").is_file()  # the test's own home, not the user's


def test_each_run_sees_only_its_own_requests(replicate_emulator, run_workflow):
    run_workflow("return app.integrations.replicate.list_hardware()").raise_for_error()
    second = run_workflow("return app.integrations.replicate.get_account()").raise_for_error()
    assert [r.path for r in second.requests] == ["/v1/account"]
    assert len(replicate_emulator.requests) == 2


def test_named_account_and_factory_options(kosmo_emulator, run_workflow):
    emulator = kosmo_emulator("replicate", page_size=1)
    assert kosmo_emulator("replicate") is emulator
    with pytest.raises(UsageError):
        kosmo_emulator("replicate", page_size=2)
    run = run_workflow("return #app.integrations.replicate.work.list_models().results",
                       accounts={"replicate.work": emulator})
    assert run.result == [1] and run.calls[0]["account"] == "work"


def test_without_force_write_operations_are_refused(replicate_emulator, run_workflow):
    run = run_workflow("return app.integrations.replicate.create_model({ owner = 'x', name = 'y', "
                       "visibility = 'private', hardware = 'cpu' })", force=False)
    assert not run.success and "permission" in run.envelope["meta"]["error_value"]["kind"]
    assert run.requests == []


def test_real_tokens_never_reach_a_run(run_workflow, monkeypatch):
    monkeypatch.setenv("REPLICATE_API_TOKEN", "r8_real_token_from_the_developer")
    run = run_workflow("return app.integrations.replicate.get_account()")
    assert not run.success
    assert run.envelope["meta"]["error_value"]["kind"] == "credentials"


def test_env_reaches_the_run(run_workflow):
    run = run_workflow("return app.integrations.replicate.get_account().type", env={"KOSMO_OFFLINE": "always"})
    assert run.success, run.error


def test_workflow_files_and_failures(run_workflow, kosmo_env, tmp_path):
    flow = tmp_path / "sum.lua"
    flow.write_text("local t = 0\\nfor i = 1, 4 do t = t + i end\\nprint(t)\\nreturn t\\n")
    assert run_workflow(flow).result == [10]
    assert run_workflow(str(flow)).lines == ["10"]
    with pytest.raises(FileNotFoundError):
        run_workflow(tmp_path / "missing.lua")
    failed = run_workflow("print('before'); error('boom')")
    assert not failed.success and failed.returncode == 1 and "boom" in failed.error
    with pytest.raises(AssertionError, match="boom"):
        failed.raise_for_error()


def test_unknown_integration(kosmo_emulator):
    with pytest.raises(UsageError, match="unknown integration"):
        kosmo_emulator("no_such_api")


def test_stability(stability_emulator, run_workflow):
    run = run_workflow("return 1")
    assert run.success
'''


def test_plugin_fixtures(pytester: pytest.Pytester, run_plugin_tests) -> None:
    pytester.makepyfile(test_plugin=PLUGIN_TESTS)
    result = run_plugin_tests("-q")
    stability = (REPO / "integrations" / "stability" / "emulator.py").is_file()
    # The stability fixture skips (with the reason) until that integration has an emulator.
    result.assert_outcomes(passed=8 + stability, skipped=0 if stability else 1)
    if not stability:
        result.stdout.no_fnmatch_line("*ERROR*")
