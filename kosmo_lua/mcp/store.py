"""Changing the ``mcp:`` section on disk: what ``kosmo mcp:configure`` does.

Settings go to ``config.yaml`` in the home folder (or the project's ``.kosmo`` with ``project``); secret-looking
environment values go to the home ``credentials.yaml`` (0600). Files are read and rewritten (atomically) through
``config.yaml_store``, shared with ``integrations:configure``, and the report never holds a secret value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config.envref import env_var_of
from ..config.settings import policy_problems
from ..config.yaml_store import SettingsEdit, node, prune
from ..errors import UsageError
from .config import ENV_NAME, SERVER_NAME, credentials_key, is_secret_env

__all__ = ["ServerChange", "ServerChangeReport", "apply_server_change"]


@dataclass
class ServerChange:
    """What one ``mcp:configure`` asks for; ``None`` (or empty) leaves a setting as it is."""

    name: str
    command: str | None = None
    args: list[str] | None = None  # replaces the whole list when given
    env: dict[str, str] = field(default_factory=dict, repr=False)  # set these variables
    unset_env: list[str] = field(default_factory=list)
    cwd: str | None = None
    read: str | None = None
    write: str | None = None
    remove: bool = False
    project: bool = False

    def changes_settings(self) -> bool:
        return (self.command is not None or self.args is not None or bool(self.env) or bool(self.unset_env)
                or self.cwd is not None or self.read is not None or self.write is not None)

    def is_empty(self) -> bool:
        return not (self.remove or self.changes_settings())


@dataclass
class ServerChangeReport:
    lines: list[str] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)


def _validate(change: ServerChange) -> None:
    problems: list[str] = []
    if not SERVER_NAME.match(change.name):
        problems.append(f"NAME: expected a Lua identifier (letters, digits, '_'; not starting with a digit), "
                        f"got {change.name!r}")
    if change.command is not None and not change.command.strip():
        problems.append("--command: expected the executable to start, got an empty string")
    for key in [*change.env, *change.unset_env]:
        if not ENV_NAME.match(key):
            problems.append(f"--env: {key!r} is not a valid environment variable name")
    for key in change.unset_env:
        if key in change.env:
            problems.append(f"{key}: both --env and --unset-env given")
    if change.cwd is not None and not change.cwd.strip():
        problems.append("--cwd: expected a folder path")
    problems += policy_problems(change.read, change.write)
    if change.remove and change.changes_settings():
        problems.append("--remove cannot be combined with other changes")
    if problems:
        raise UsageError("; ".join(problems))


def _remove(change: ServerChange, edit: SettingsEdit, servers: dict[str, Any], report: ServerChangeReport) -> None:
    if change.name not in servers:
        raise UsageError(f"no MCP server named '{change.name}' in {edit.config_path}")
    del servers[change.name]
    edit.config_changed = True
    secret_key = credentials_key(change.name)
    # A project entry's secrets (if any) belong to the home entry of the same name, which stays.
    if not change.project and secret_key in edit.credentials:
        del edit.credentials[secret_key]
        edit.credentials_changed = True
    report.lines.append("removed")


def _set_env(change: ServerChange, edit: SettingsEdit, entry: dict[str, Any], report: ServerChangeReport) -> None:
    """Set and unset environment variables: secret-looking literal values in credentials.yaml, the rest in the
    server's entry; a variable is only ever in one of the two."""
    secret_key = credentials_key(change.name)
    env: dict[str, Any] = dict(entry["env"]) if isinstance(entry.get("env"), dict) else {}
    stored = edit.credentials.get(secret_key)
    secret_env: dict[str, Any] = dict(stored["env"]) if isinstance(stored, dict) and \
        isinstance(stored.get("env"), dict) else {}
    for key, value in change.env.items():
        if is_secret_env(key) and env_var_of(value) is None:
            secret_env[key] = value
            env.pop(key, None)
            edit.credentials_changed = True
            report.lines.append(f"env.{key}: set (hidden)")
        else:
            env[key] = value
            secret_env.pop(key, None)
            shown = f"set (from {value})" if env_var_of(value) else (
                "set (hidden)" if is_secret_env(key) else value)
            report.lines.append(f"env.{key}: {shown}")
    for key in change.unset_env:
        removed = env.pop(key, None) is not None
        if key in secret_env:
            del secret_env[key]
            removed = edit.credentials_changed = True
        report.lines.append(f"env.{key}: {'removed' if removed else 'was not set'}")
    if env:
        entry["env"] = env
    else:
        entry.pop("env", None)
    if secret_env:
        edit.credentials[secret_key] = {"env": secret_env}
    elif secret_key in edit.credentials:
        del edit.credentials[secret_key]
        edit.credentials_changed = True


def _update(change: ServerChange, edit: SettingsEdit, servers: dict[str, Any], report: ServerChangeReport) -> None:
    entry = node(servers, change.name)
    if change.command is None and "command" not in entry and not change.project:
        raise UsageError(f"'{change.name}' is a new server: give --command CMD (the executable to start)")
    if change.command is not None:
        entry["command"] = change.command
        report.lines.append(f"command: {change.command}")
    if change.args is not None:
        entry["args"] = list(change.args)
        report.lines.append(f"args: {' '.join(change.args) if change.args else '(none)'}")
    if change.cwd is not None:
        # Stored absolute: the config is read from other working directories later.
        entry["cwd"] = str(Path(change.cwd).expanduser().resolve())
        report.lines.append(f"cwd: {entry['cwd']}")
    _set_env(change, edit, entry, report)
    for access in ("read", "write"):
        value = getattr(change, access)
        if value is not None:
            # A copy, not node(): a hand-written YAML alias may share this mapping with another server.
            perms: dict[str, Any] = dict(entry["permissions"]) if isinstance(entry.get("permissions"), dict) \
                else {}
            perms[access] = value
            entry["permissions"] = perms
            report.lines.append(f"permissions.{access}: {value}")
    edit.config_changed = True


def apply_server_change(change: ServerChange, *, home: Path | None = None, cwd: Path | None = None
                        ) -> ServerChangeReport:
    """Apply change to the files, writing only those that changed."""
    _validate(change)
    edit = SettingsEdit.open(project=change.project, home=home, cwd=cwd)
    servers = node(edit.config, "mcp", "servers")
    report = ServerChangeReport()
    if change.remove:
        _remove(change, edit, servers, report)
    else:
        _update(change, edit, servers, report)
    prune(edit.config, "mcp", "servers")
    report.written = edit.save()
    return report
