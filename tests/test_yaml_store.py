"""The settings store both configure commands share (kosmo_lua.config.yaml_store) and their shared command-line
parts (kosmo_lua.cli.configuring, kosmo_lua.cli.exit_codes)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from kosmo_lua.cli import configure_cmd, mcp_configure_cmd
from kosmo_lua.cli.configuring import parse_assignments, print_change
from kosmo_lua.cli.exit_codes import report_error
from kosmo_lua.config.yaml_store import SettingsEdit, node, prune, read_config_section, read_credentials
from kosmo_lua.errors import ConfigError, KosmoError, UsageError

TOKEN = "yamlstore_SECRET_canary_24680"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def test_save_writes_only_changed_files_with_their_permissions(tmp_path: Path) -> None:
    home = tmp_path / "home"
    edit = SettingsEdit.open(home=home, cwd=tmp_path)
    assert edit.config == {} and edit.credentials == {} and edit.save() == [] and not home.exists()

    edit.config["mcp"] = {"servers": {}}
    edit.config_changed = True
    assert edit.save() == [home / "config.yaml"]
    assert not (home / "credentials.yaml").exists()
    assert _mode(home) == 0o700  # the home folder will hold credentials: owner only
    assert _mode(home / "config.yaml") == 0o666 & ~_umask()  # a plain config file keeps the usual mode

    edit = SettingsEdit.open(home=home, cwd=tmp_path)
    node(edit.credentials, "replicate", "default")["api_key"] = TOKEN
    edit.credentials_changed = True
    assert edit.save() == [home / "credentials.yaml"]
    assert _mode(home / "credentials.yaml") == 0o600
    assert SettingsEdit.open(home=home, cwd=tmp_path).credentials == {"replicate": {"default": {"api_key": TOKEN}}}
    assert TOKEN not in repr(edit)  # the file contents are not part of the repr


def test_project_edit_writes_to_the_project_and_leaves_home_alone(tmp_path: Path) -> None:
    home = tmp_path / "home"
    edit = SettingsEdit.open(project=True, home=home, cwd=tmp_path)
    assert edit.config_path == tmp_path / ".kosmo" / "config.yaml"
    assert edit.credentials_path == home / "credentials.yaml"  # secrets never go to a project folder
    edit.config["integrations"] = {"replicate": {"enabled": False}}
    edit.config_changed = True
    assert edit.save() == [tmp_path / ".kosmo" / "config.yaml"]
    assert not home.exists()


def test_a_failed_write_leaves_the_old_file_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    edit = SettingsEdit.open(home=home, cwd=tmp_path)
    edit.credentials["replicate"] = {"default": {"api_key": "old"}}
    edit.credentials_changed = True
    edit.save()
    before = (home / "credentials.yaml").read_bytes()

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    edit = SettingsEdit.open(home=home, cwd=tmp_path)
    edit.credentials["replicate"]["default"]["api_key"] = TOKEN
    edit.credentials_changed = True
    with pytest.raises(OSError):
        edit.save()
    assert (home / "credentials.yaml").read_bytes() == before
    assert sorted(p.name for p in home.iterdir()) == ["credentials.yaml"]  # no temporary file left behind
    assert _mode(home / "credentials.yaml") == 0o600


@pytest.mark.parametrize("name", ["config.yaml", "credentials.yaml"])
def test_corrupt_yaml_is_a_clear_error_naming_the_file(tmp_path: Path, name: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / name).write_text(f"replicate:\n  default: {{api_key: {TOKEN}\n")
    with pytest.raises(ConfigError) as info:
        SettingsEdit.open(home=home, cwd=tmp_path)
    message = str(info.value)
    assert str(home / name) in message and "not valid YAML (line" in message
    assert TOKEN not in message  # the YAML error would quote the line: it may hold a secret


def test_a_top_level_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.yaml").write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping at the top level, found list"):
        SettingsEdit.open(home=home, cwd=tmp_path)


def _section(data: dict[str, Any], path: Path) -> dict[str, Any]:
    return dict(data.get("s") or {})


def test_config_section_layers_project_over_home(tmp_path: Path) -> None:
    home, project = tmp_path / "home", tmp_path / "project"
    assert read_config_section(_section, home, project) == ({}, None)  # no files at all
    (project / ".kosmo").mkdir(parents=True)
    (project / ".kosmo" / "config.yaml").write_text("s: {a: {x: 1}, b: 2}\n")
    home.mkdir()
    (home / "config.yaml").write_text("s: {a: {x: 0, y: 0}, c: 3}\n")
    assert read_config_section(_section, home, project) == (
        {"a": {"x": 1, "y": 0}, "b": 2, "c": 3}, project / ".kosmo" / "config.yaml")


def test_config_section_reads_the_home_file_once_when_it_is_the_project_file(tmp_path: Path) -> None:
    home = tmp_path / ".kosmo"  # run from the folder that holds the home folder (e.g. ~)
    home.mkdir()
    (home / "config.yaml").write_text("s: {n: [1]}\n")
    assert read_config_section(_section, home, tmp_path) == ({"n": [1]}, None)


def test_read_credentials_warns_when_exposed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert read_credentials(tmp_path) == (tmp_path / "credentials.yaml", {})
    path = tmp_path / "credentials.yaml"
    path.write_text(f"replicate: {{default: {{api_key: {TOKEN}}}}}\n")
    path.chmod(0o644)
    assert read_credentials(tmp_path)[1] == {"replicate": {"default": {"api_key": TOKEN}}}
    err = capsys.readouterr().err
    assert "chmod 600" in err and TOKEN not in err


def test_node_and_prune() -> None:
    data: dict[str, object] = {"a": None, "keep": 1}
    node(data, "a", "b")["c"] = 1  # a null left by hand-editing becomes a mapping
    assert data == {"a": {"b": {"c": 1}}, "keep": 1}
    del node(data, "a", "b")["c"]
    prune(data, "a", "b")
    assert data == {"keep": 1}  # no `{}` litter
    data = {"a": {"b": {}, "other": 1}}
    prune(data, "a", "b")
    assert data == {"a": {"other": 1}}


# -- the shared command-line parts -----------------------------------------------------------------------------------

def test_parse_assignments_never_quotes_an_item() -> None:
    assert parse_assignments(["a=1", " b =x=y", "a=2"], "bad") == {"a": "2", "b": "x=y"}
    for item in [TOKEN, f"={TOKEN}"]:
        with pytest.raises(UsageError) as info:
            parse_assignments([item], "--set expects KEY=VALUE")
        assert str(info.value) == "--set expects KEY=VALUE"


@pytest.mark.parametrize("module, argv", [
    (configure_cmd, ["replicate", "--sett", f"api_key={TOKEN}"]),
    (configure_cmd, ["replicate", "--set", "api_key", TOKEN]),
    (mcp_configure_cmd, ["demo", "--envv", f"API_TOKEN={TOKEN}"]),
    (mcp_configure_cmd, ["demo", "--env", "API_TOKEN", TOKEN]),
    (mcp_configure_cmd, ["demo", "--read", TOKEN]),
])
def test_both_configure_parsers_hide_values_in_errors(module: object, argv: list[str],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        module.build_parser("kosmo x").parse_args(argv)  # type: ignore[attr-defined]
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err and TOKEN not in err


def test_print_change_lists_lines_and_saved_files(capsys: pytest.CaptureFixture[str]) -> None:
    print_change("demo:", ["removed"], [Path.home() / ".kosmo" / "config.yaml", Path("/elsewhere/c.yaml")])
    assert capsys.readouterr().out == "demo:\n  removed\nsaved: ~/.kosmo/config.yaml, /elsewhere/c.yaml\n"
    print_change("demo:", [], [])
    assert capsys.readouterr().out == "demo:\nno file changed\n"


def test_report_error_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert report_error("kosmo x", UsageError("bad option")) == 2
    assert report_error("kosmo x", ConfigError("broken file")) == 1
    assert report_error("kosmo x", KosmoError("other")) == 1
    assert capsys.readouterr().err == "kosmo x: bad option\nkosmo x: broken file\nkosmo x: other\n"
