"""Changing the ``mcp:`` section on disk: what ``kosmo mcp:configure`` does.

Settings go to ``config.yaml`` in the home folder (or the project's ``.kosmo`` with ``project``); secret-looking
environment values go to the home ``credentials.yaml`` (0600). Files are rewritten atomically by the shared YAML
helpers, and the report never holds a secret value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config.envref import env_var_of
from ..config.paths import CONFIG_FILE, CREDENTIALS_FILE, home_dir, project_dir
from ..config.settings import POLICIES
from ..config.yamlfile import read_mapping, write_mapping
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
    for access in ("read", "write"):
        value = getattr(change, access)
        if value is not None and value not in POLICIES:
            problems.append(f"--{access}: expected allow, ask or deny, not {value!r}")
    if change.remove and change.changes_settings():
        problems.append("--remove cannot be combined with other changes")
    if problems:
        raise UsageError("; ".join(problems))


def _servers(data: dict[str, Any]) -> dict[str, Any]:
    mcp = data.get("mcp")
    if not isinstance(mcp, dict):
        mcp = data["mcp"] = {}
    servers = mcp.get("servers")
    if not isinstance(servers, dict):
        servers = mcp["servers"] = {}
    return servers


def _prune_empty(data: dict[str, Any]) -> None:
    mcp = data.get("mcp")
    if isinstance(mcp, dict) and not mcp.get("servers"):
        mcp.pop("servers", None)
        if not mcp:
            del data["mcp"]


def apply_server_change(change: ServerChange, *, home: Path | None = None, cwd: Path | None = None
                        ) -> ServerChangeReport:
    """Apply change to the files, writing only those that changed."""
    _validate(change)
    home_path = home_dir(home)
    config_path = (project_dir(cwd) if change.project else home_path) / CONFIG_FILE
    creds_path = home_path / CREDENTIALS_FILE
    config = read_mapping(config_path)
    creds = read_mapping(creds_path)
    servers = _servers(config)
    report = ServerChangeReport()
    config_changed = creds_changed = False
    secret_key = credentials_key(change.name)

    if change.remove:
        if change.name not in servers:
            raise UsageError(f"no MCP server named '{change.name}' in {config_path}")
        del servers[change.name]
        config_changed = True
        if not change.project and secret_key in creds:
            del creds[secret_key]
            creds_changed = True
        report.lines.append("removed")
    else:
        entry = servers.get(change.name)
        if not isinstance(entry, dict):
            entry = servers[change.name] = {}
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
        env: dict[str, Any] = dict(entry["env"]) if isinstance(entry.get("env"), dict) else {}
        stored = creds.get(secret_key)
        secret_env: dict[str, Any] = dict(stored["env"]) if isinstance(stored, dict) and \
            isinstance(stored.get("env"), dict) else {}
        for key, value in change.env.items():
            if is_secret_env(key) and env_var_of(value) is None:
                secret_env[key] = value
                env.pop(key, None)
                creds_changed = True
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
                removed = creds_changed = True
            report.lines.append(f"env.{key}: {'removed' if removed else 'was not set'}")
        if env:
            entry["env"] = env
        else:
            entry.pop("env", None)
        if secret_env:
            creds[secret_key] = {"env": secret_env}
        elif secret_key in creds:
            del creds[secret_key]
            creds_changed = True
        for access in ("read", "write"):
            value = getattr(change, access)
            if value is not None:
                perms: dict[str, Any] = dict(entry["permissions"]) if isinstance(entry.get("permissions"), dict) \
                    else {}
                perms[access] = value
                entry["permissions"] = perms
                report.lines.append(f"permissions.{access}: {value}")
        config_changed = True
    _prune_empty(config)
    if creds_changed or (config_changed and not change.project):
        home_path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if config_changed:
        write_mapping(config_path, config)
        report.written.append(config_path)
    if creds_changed:
        write_mapping(creds_path, creds, private=True)
        report.written.append(creds_path)
    return report
