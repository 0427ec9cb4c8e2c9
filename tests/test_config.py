"""Config files, named accounts, credentials, secrets, and the configure/accounts commands."""

from __future__ import annotations

import argparse
import io
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from kosmo_lua.cli import accounts_cmd, configure_cmd
from kosmo_lua.config import Account, Secret, load_config, redact, resolve_account
from kosmo_lua.config.accounts import missing_secret_error
from kosmo_lua.config.yamlfile import write_mapping
from kosmo_lua.errors import ConfigError, CredentialsMissing
from kosmo_lua.integration import Integration, load_integration

REPO = Path(__file__).resolve().parents[1]
TOKEN = "r8_TEST_not_a_real_token_5f2c"


@pytest.fixture
def replicate() -> Integration:
    return load_integration(REPO / "integrations" / "replicate")


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """An isolated home and project folder; the real environment's tokens are hidden."""
    home, project = tmp_path / "home", tmp_path / "project"
    project.mkdir()
    monkeypatch.setenv("KOSMO_HOME", str(home))
    monkeypatch.chdir(project)
    for var in ("REPLICATE_API_TOKEN", "REPLICATE_BASE_URL", "WORK_TOKEN", "WORK_URL"):
        monkeypatch.delenv(var, raising=False)
    return home, project


def write(path: Path, text: str, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)


# -- Secret and redact ---------------------------------------------------------------------------------------------

def test_secret_never_shows_its_value() -> None:
    s = Secret(TOKEN)
    for shown in (repr(s), str(s), f"{s}", f"{s!r}", f"{s:>40}", "%s" % s, repr([s]), repr({"k": s})):
        assert TOKEN not in shown
    assert s.reveal() == TOKEN
    with pytest.raises(TypeError):
        json.dumps({"token": s})
    assert s == Secret(TOKEN) and s != Secret("other") and not Secret("")
    account = Account("replicate", "default", "https://x.test", s, {"webhook_secret": Secret("whsec_abc")})
    assert TOKEN not in repr(account) and "whsec_abc" not in repr(account)


def test_redact_plain_and_url_encoded_forms() -> None:
    secret = Secret("a+b/c=d")
    text = "token a+b/c=d in url ?key=a%2Bb%2Fc%3Dd and a%2Bb/c%3Dd"
    out = redact(text, [secret, None, "plainsecret"])
    assert "a+b" not in out and "%2B" not in out
    assert out == "token *** in url ?key=*** and ***"


# -- loading and merging -------------------------------------------------------------------------------------------

def test_project_overrides_home_key_by_key(dirs: tuple[Path, Path]) -> None:
    home, project = dirs
    write(home / "config.yaml", """
integrations:
  replicate:
    permissions: {read: allow, write: ask}
    accounts:
      default: {url: https://api.replicate.com/v1}
      work: {url: http://127.0.0.1:8080/v1, team: blue}
""", 0o644)
    write(project / ".kosmo" / "config.yaml", """
integrations:
  replicate:
    permissions: {write: allow}
    accounts:
      work: {url: http://127.0.0.1:9090/v1}
""", 0o644)
    config = load_config()
    assert config.project == project / ".kosmo" / "config.yaml"
    assert config.permission_overrides("replicate") == {"read": "allow", "write": "allow"}
    assert config.account_config("replicate", "work") == {"url": "http://127.0.0.1:9090/v1", "team": "blue"}
    assert config.account_config("replicate", "default") == {"url": "https://api.replicate.com/v1"}
    assert config.accounts("replicate") == ["default", "work"]
    # Explicit arguments win over the environment and the current directory.
    other = load_config(cwd=home, home=home)
    assert other.project is None and other.permission_overrides("replicate")["write"] == "ask"


def test_nothing_configured_uses_the_integration_environment(dirs: tuple[Path, Path], replicate: Integration,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config()
    assert config.accounts("replicate") == ["default"] and config.enabled("replicate")
    account = resolve_account(config, replicate, None)
    assert (account.name, account.base_url, account.secret) == ("default", "https://api.replicate.com/v1", None)
    monkeypatch.setenv("REPLICATE_API_TOKEN", TOKEN)
    monkeypatch.setenv("REPLICATE_BASE_URL", "http://127.0.0.1:7777/v1/")
    account = resolve_account(config, replicate, "default")
    assert account.secret is not None and account.secret.reveal() == TOKEN
    assert account.base_url == "http://127.0.0.1:7777/v1"
    assert account.secret_source == "environment REPLICATE_API_TOKEN"


def test_credentials_and_env_references(dirs: tuple[Path, Path], replicate: Integration,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    home, _ = dirs
    write(home / "config.yaml", "integrations:\n  replicate:\n    accounts:\n      work: {url: env:WORK_URL}\n")
    write(home / "credentials.yaml", "replicate:\n  work: {api_key: env:WORK_TOKEN, webhook_secret: whsec_x}\n"
                                     f"  default: {{api_key: {TOKEN}}}\n")
    monkeypatch.setenv("REPLICATE_API_TOKEN", "from-env-loses")
    config = load_config()
    assert config.accounts("replicate") == ["default", "work"]
    default = resolve_account(config, replicate, None)
    assert default.secret is not None and default.secret.reveal() == TOKEN
    assert default.secret_source == "credentials.yaml"
    # The URL's variable is missing: a clear error naming the variable.
    with pytest.raises(CredentialsMissing) as info:
        resolve_account(config, replicate, "work")
    assert "WORK_URL" in str(info.value) and "not set" in str(info.value)
    monkeypatch.setenv("WORK_URL", "http://127.0.0.1:8080/v1")
    work = resolve_account(config, replicate, "work")
    assert work.secret is None and work.secret_problem and "WORK_TOKEN" in work.secret_problem
    assert isinstance(work.fields["webhook_secret"], Secret)
    message = str(missing_secret_error(work, replicate, function="replicate.get_account"))
    assert "WORK_TOKEN" in message and "kosmo integrations:configure replicate --account work --set api_key=" \
        in message
    monkeypatch.setenv("WORK_TOKEN", "work-token-123")
    work = resolve_account(config, replicate, "work")
    assert work.secret is not None and work.secret.reveal() == "work-token-123"
    assert work.secret_source == "env:WORK_TOKEN" and work.base_url == "http://127.0.0.1:8080/v1"


def test_unknown_alias_lists_accounts(dirs: tuple[Path, Path], replicate: Integration) -> None:
    home, _ = dirs
    write(home / "credentials.yaml", "replicate:\n  work: {api_key: abc}\n")
    with pytest.raises(CredentialsMissing) as info:
        resolve_account(load_config(), replicate, "wrok")
    message = str(info.value)
    assert "no account named 'wrok'" in message and "default, work" in message
    assert "kosmo integrations:configure replicate --account wrok --set api_key=..." in message
    assert info.value.data["kind"] == "credentials" and info.value.data["account"] == "wrok"


def test_missing_default_secret_names_command_and_env(dirs: tuple[Path, Path], replicate: Integration) -> None:
    account = resolve_account(load_config(), replicate, None)
    message = str(missing_secret_error(account, replicate, function="replicate.get_account"))
    assert message.startswith("replicate.get_account: no api_key for replicate account 'default'")
    assert "kosmo integrations:configure replicate --account default --set api_key=..." in message
    assert "REPLICATE_API_TOKEN" in message


def test_default_account_setting_redirects_default(dirs: tuple[Path, Path], replicate: Integration) -> None:
    home, _ = dirs
    write(home / "config.yaml", "integrations:\n  replicate:\n    default_account: work\n"
                                "    accounts:\n      work: {url: http://127.0.0.1:8080/v1}\n")
    config = load_config()
    assert config.accounts("replicate") == ["work"]
    assert resolve_account(config, replicate, None).name == "work"
    assert resolve_account(config, replicate, "default").name == "work"


def test_bad_url_and_bad_shapes_are_clear_errors(dirs: tuple[Path, Path], replicate: Integration) -> None:
    home, _ = dirs
    write(home / "config.yaml", "integrations:\n  replicate:\n    accounts:\n      work: {url: 'ftp://x'}\n")
    with pytest.raises(CredentialsMissing, match="url must be an http"):
        resolve_account(load_config(), replicate, "work")
    write(home / "config.yaml", "integrations:\n  replicate:\n    permissions: {write: maybe}\n")
    with pytest.raises(ConfigError, match=r"permissions.write must be allow, ask or deny"):
        load_config()
    write(home / "config.yaml", "integrations: [1, 2]\n")
    with pytest.raises(ConfigError, match="'integrations' must be a mapping"):
        load_config()


def test_broken_credentials_yaml_does_not_echo_its_content(dirs: tuple[Path, Path]) -> None:
    home, _ = dirs
    write(home / "credentials.yaml", f"replicate:\n  default: {{api_key: {TOKEN}\n")
    with pytest.raises(ConfigError) as info:
        load_config()
    assert "not valid YAML" in str(info.value) and TOKEN not in str(info.value)


def test_exposed_credentials_warn_once(dirs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    home, _ = dirs
    write(home / "credentials.yaml", "replicate:\n  default: {api_key: abc}\n", 0o644)
    load_config()
    load_config()
    err = capsys.readouterr().err
    assert err.count("warning") == 1 and "chmod 600" in err and "abc" not in err


def test_private_write_is_0600_and_atomic(tmp_path: Path) -> None:
    path = tmp_path / "h" / "credentials.yaml"
    write_mapping(path, {"a": {"b": {"api_key": "x"}}}, private=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    write_mapping(path, {"a": 1}, private=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["credentials.yaml"]  # no temporary file left behind


def test_yaml_is_not_imported_without_files(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = ("import sys, pathlib; from kosmo_lua.config import load_config; "
            "load_config(cwd=pathlib.Path(sys.argv[1]), home=pathlib.Path(sys.argv[1]) / 'h'); "
            "print('yaml' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- commands ------------------------------------------------------------------------------------------------------

def run_cmd(module: Any, prog: str, argv: list[str], stdin: str = "",
            monkeypatch: pytest.MonkeyPatch | None = None) -> int:
    ns: argparse.Namespace = module.build_parser(prog).parse_args(argv)
    if monkeypatch is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return int(module.run(ns))


def configure(argv: list[str], monkeypatch: pytest.MonkeyPatch, stdin: str = "") -> int:
    return run_cmd(configure_cmd, "kosmo integrations:configure", argv, stdin, monkeypatch)


def test_configure_splits_secrets_from_config(dirs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str], replicate: Integration) -> None:
    home, _ = dirs
    rc = configure(["replicate", "--account", "work", "--set", f"api_key={TOKEN}", "--set",
                    "url=http://127.0.0.1:8080/v1", "--set", "client_secret=s3", "--write", "allow", "--enable"],
                   monkeypatch)
    out = capsys.readouterr().out
    assert rc == 0
    assert TOKEN not in out and "s3" not in out
    assert "api_key: set (hidden)" in out and "client_secret: set (hidden)" in out
    assert "url: http://127.0.0.1:8080/v1" in out and "permissions.write: allow" in out
    config_text = (home / "config.yaml").read_text()
    assert TOKEN not in config_text and "127.0.0.1:8080" in config_text
    creds = home / "credentials.yaml"
    assert TOKEN in creds.read_text() and stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    config = load_config()
    work = resolve_account(config, replicate, "work")
    assert work.secret is not None and work.secret.reveal() == TOKEN
    assert config.permissions(replicate) == {"read": "allow", "write": "allow"}
    # Unset removes from whichever file holds the field.
    assert configure(["replicate", "--account", "work", "--unset", "api_key", "--unset", "nothing"], monkeypatch) == 0
    out = capsys.readouterr().out
    assert "api_key: removed" in out and "nothing: was not set" in out
    assert resolve_account(load_config(), replicate, "work").secret is None
    assert load_config().enabled("replicate") is True
    assert configure(["replicate", "--disable"], monkeypatch) == 0
    assert "enabled: false" in capsys.readouterr().out and load_config().enabled("replicate") is False


def test_configure_stdin_json_and_project(dirs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    home, project = dirs
    doc = {"account": "ci", "set": {"api_key": "env:CI_TOKEN", "url": "https://api.replicate.com/v1"},
           "read": "ask", "write": "deny", "default": True}
    assert configure(["replicate", "--stdin-json", "--project"], monkeypatch, json.dumps(doc)) == 0
    out = capsys.readouterr().out
    assert "api_key: set (from env:CI_TOKEN)" in out and "default_account: ci" in out
    assert "env:CI_TOKEN" in (home / "credentials.yaml").read_text()  # secrets only ever in the home folder
    project_text = (project / ".kosmo" / "config.yaml").read_text()
    assert "deny" in project_text and "api_key" not in project_text
    config = load_config()
    assert config.default_account("replicate") == "ci"
    assert config.permission_overrides("replicate") == {"read": "ask", "write": "deny"}


def test_configure_usage_errors(dirs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    assert configure(["nope", "--enable"], monkeypatch) == 2
    err = capsys.readouterr().err
    assert "unknown integration 'nope'" in err and "replicate" in err
    assert configure(["replicate"], monkeypatch) == 2
    assert "nothing to change" in capsys.readouterr().err
    assert configure(["replicate", "--set", TOKEN], monkeypatch) == 2
    err = capsys.readouterr().err
    assert "KEY=VALUE" in err and TOKEN not in err
    assert configure(["replicate", "--set", "url=not-a-url"], monkeypatch) == 2
    assert "expected an http(s) URL" in capsys.readouterr().err
    assert configure(["replicate", "--stdin-json"], monkeypatch, f'{{"set": {{"api_key": "{TOKEN}"') == 2
    err = capsys.readouterr().err
    assert "not valid JSON" in err and TOKEN not in err
    assert configure(["replicate", "--stdin-json"], monkeypatch, '{"sett": {}}') == 2
    assert "unknown key(s) sett" in capsys.readouterr().err
    assert configure(["replicate", "--account", "bad name!", "--enable"], monkeypatch) == 2
    assert "--account" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse rejects a policy that is not allow/ask/deny
        configure_cmd.build_parser("x").parse_args(["replicate", "--write", "sometimes"])
    with pytest.raises(SystemExit):  # a mistyped option must not echo the secret after it
        configure_cmd.build_parser("x").parse_args(["replicate", "--sett", f"api_key={TOKEN}"])
    err = capsys.readouterr().err
    assert "unrecognized arguments" in err and TOKEN not in err


def test_accounts_command_lists_without_secrets(dirs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    home, _ = dirs
    write(home / "config.yaml", "integrations:\n  replicate:\n    accounts:\n"
                                "      work: {url: http://127.0.0.1:8080/v1}\n      broken: {url: env:WORK_URL}\n")
    write(home / "credentials.yaml", f"replicate:\n  work: {{api_key: {TOKEN}}}\n")
    monkeypatch.setenv("REPLICATE_API_TOKEN", "env-token-xyz")
    assert run_cmd(accounts_cmd, "kosmo integrations:accounts", ["replicate", "--json"]) == 0
    out = capsys.readouterr().out
    assert TOKEN not in out and "env-token-xyz" not in out
    listing = json.loads(out)["integrations"][0]
    assert listing["name"] == "replicate" and listing["enabled"] is True
    assert listing["permissions"] == {"read": "allow", "write": "ask"}
    rows = {a["name"]: a for a in listing["accounts"]}
    assert rows["default"]["default"] is True and rows["default"]["secret_set"] is True
    assert rows["default"]["secret_source"] == "environment REPLICATE_API_TOKEN"
    assert rows["work"]["url"] == "http://127.0.0.1:8080/v1" and rows["work"]["secret_set"] is True
    assert "WORK_URL" in rows["broken"]["problem"]
    assert run_cmd(accounts_cmd, "kosmo integrations:accounts", []) == 0
    text = capsys.readouterr().out
    assert "replicate" in text and "work" in text and TOKEN not in text
    assert run_cmd(accounts_cmd, "kosmo integrations:accounts", ["nope"]) == 2
    assert "unknown integration 'nope'" in capsys.readouterr().err


def test_configure_through_the_real_command_line(dirs: tuple[Path, Path], tmp_path: Path) -> None:
    import subprocess
    import sys

    home, project = dirs
    env = {**os.environ, "KOSMO_HOME": str(home)}
    proc = subprocess.run([sys.executable, "-m", "kosmo_lua", "integrations:configure", "replicate", "--stdin-json"],
                          input=json.dumps({"set": {"api_key": TOKEN}}), capture_output=True, text=True, env=env,
                          cwd=project, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert TOKEN not in proc.stdout + proc.stderr and "api_key: set (hidden)" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "kosmo_lua", "integrations:accounts"], capture_output=True,
                          text=True, env=env, cwd=project, timeout=60)
    assert proc.returncode == 0 and "secret: set (credentials.yaml)" in proc.stdout and TOKEN not in proc.stdout
