"""Permission policies: defaults, config overrides, headless ask, deny, --force and interactive prompts."""

from __future__ import annotations

from pathlib import Path

import pytest

from kosmo_lua.config import Policy, check, load_config, load_policy
from kosmo_lua.errors import PermissionRefused, UsageError
from kosmo_lua.integration import Integration, load_integration

REPO = Path(__file__).resolve().parents[1]
FN = "replicate.create_prediction"


@pytest.fixture
def replicate() -> Integration:
    return load_integration(REPO / "integrations" / "replicate")


def test_defaults_come_from_integration_and_config_overrides(tmp_path: Path, replicate: Integration) -> None:
    home = tmp_path / "home"
    assert load_policy(load_config(cwd=tmp_path, home=home), replicate) == Policy(read="allow", write="ask")
    home.mkdir()
    (home / "config.yaml").write_text("integrations:\n  replicate:\n    permissions: {write: deny}\n")
    config = load_config(cwd=tmp_path, home=home)
    assert load_policy(config, replicate) == Policy(read="allow", write="deny")
    assert config.permissions(replicate) == {"read": "allow", "write": "deny"}


def test_allow_passes_without_bypass(replicate: Integration) -> None:
    assert check(replicate, "read", function="replicate.get_account", policy=Policy(), force=False) is False
    assert check(replicate, "read", function="replicate.get_account", policy=Policy(), force=True) is False


def test_ask_in_a_headless_run_refuses_and_says_how(replicate: Integration) -> None:
    with pytest.raises(PermissionRefused) as info:
        check(replicate, "write", function=FN, policy=Policy(write="ask"), force=False)
    message = str(info.value)
    assert message.startswith(f"{FN}: write access to replicate needs approval")
    assert "--force" in message and "kosmo integrations:configure replicate --write allow" in message
    assert info.value.data == {"message": message, "kind": "permission", "operation": FN, "access": "write",
                               "policy": "ask"}


def test_deny_refuses_and_says_so(replicate: Integration) -> None:
    with pytest.raises(PermissionRefused) as info:
        check("replicate", "read", function="replicate.get_account", policy={"read": "deny", "write": "allow"},
              force=False, interactive=True, prompt=lambda q: True)  # a person cannot override deny at a prompt
    assert "denied" in str(info.value) and info.value.data["policy"] == "deny"
    assert "kosmo integrations:configure replicate --read allow" in str(info.value)


def test_force_bypasses_ask_and_deny_and_reports_it(replicate: Integration) -> None:
    assert check(replicate, "write", function=FN, policy=Policy(write="ask"), force=True) is True
    assert check(replicate, "write", function=FN, policy=Policy(write="deny"), force=True) is True


def test_interactive_ask_uses_the_prompt(replicate: Integration) -> None:
    questions: list[str] = []

    def yes(question: str) -> bool:
        questions.append(question)
        return True

    assert check(replicate, "write", function=FN, policy=Policy(), force=False, interactive=True, prompt=yes) is False
    assert questions == [f"Allow {FN} (write access to replicate)?"]
    with pytest.raises(PermissionRefused, match="refused at the prompt"):
        check(replicate, "write", function=FN, policy=Policy(), force=False, interactive=True, prompt=lambda q: False)


def test_agent_runs_never_prompt(replicate: Integration) -> None:
    def must_not_ask(question: str) -> bool:
        raise AssertionError("prompted in an agent run")

    with pytest.raises(PermissionRefused, match="cannot ask"):
        check(replicate, "write", function=FN, policy=Policy(), force=False, interactive=True, agent=True,
              prompt=must_not_ask)


def test_bad_policy_values_are_usage_errors(replicate: Integration) -> None:
    with pytest.raises(UsageError, match="allow, ask or deny"):
        Policy(write="sometimes")
    with pytest.raises(UsageError, match="read or write"):
        check(replicate, "delete", function=FN, policy=Policy(), force=False)
