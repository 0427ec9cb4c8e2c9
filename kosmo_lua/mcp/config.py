"""The ``mcp:`` section of kosmo's config files: which MCP servers scripts may call, and how to start them.

Same files as the rest of the configuration (``$KOSMO_HOME/config.yaml``, then the project's ``.kosmo/config.yaml``;
project values win key by key)::

    mcp:
      servers:
        time:
          command: uvx                        # required: the executable
          args: [mcp-server-time]             # optional
          env: {TZ: UTC, API_TOKEN: env:MY_TOKEN}   # optional; any value may be env:VAR
          cwd: /some/folder                   # optional; relative paths are taken from the working directory
          permissions: {read: allow, write: ask}     # defaults: read allow, write ask

Environment values whose name looks secret (``*KEY``, ``*TOKEN``, ``*SECRET``, ``PASSWORD``) and that are not an
``env:VAR`` reference are kept in the home ``credentials.yaml`` instead (under ``"mcp:<server>": {env: {...}}``),
so a config file can be committed. Server names are Lua identifiers, so ``app.mcp.<server>`` always works.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config.envref import MissingEnvVar, env_var_of, resolve_env
from ..config.paths import home_dir
from ..config.settings import check_permissions
from ..config.yaml_store import read_config_section, read_credentials
from ..errors import ConfigError

__all__ = ["ServerConfig", "load_servers", "SERVER_NAME", "ENV_NAME", "SERVER_KEYS", "credentials_key",
           "is_secret_env"]

SERVER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SERVER_KEYS = ("command", "args", "env", "cwd", "permissions")
_SECRET_ENV = re.compile(r"(key|token|secret|password)$", re.IGNORECASE)
DEFAULT_POLICY = {"read": "allow", "write": "ask"}


def credentials_key(server: str) -> str:
    """The top-level key of a server's secrets in credentials.yaml (a name no integration folder can have)."""
    return f"mcp:{server}"


def is_secret_env(name: str) -> bool:
    return bool(_SECRET_ENV.search(name))


@dataclass(frozen=True)
class ServerConfig:
    """One configured server. ``env`` values are raw (``env:VAR`` unresolved) and never shown."""

    name: str
    command: str
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict, repr=False)
    cwd: str | None = None
    read: str = "allow"
    write: str = "ask"

    def policy(self, access: str) -> str:
        return self.read if access == "read" else self.write

    def resolved_env(self) -> dict[str, str]:
        """The environment to add for the server process; a missing ``env:VAR`` is a ConfigError naming it."""
        out: dict[str, str] = {}
        for key, value in self.env.items():
            try:
                out[key] = str(resolve_env(value))
            except MissingEnvVar as exc:
                raise ConfigError(f"MCP server '{self.name}': env {key} refers to the environment variable "
                                  f"{exc.var}, which is not set") from None
        return out

    def secret_values(self) -> list[str]:
        """Values that must never appear in anything we print (for redacting a server's stderr)."""
        found: list[str] = []
        for key, value in self.env.items():
            if is_secret_env(key) or env_var_of(value):
                try:
                    resolved = str(resolve_env(value))
                except MissingEnvVar:
                    continue
                if resolved:
                    found.append(resolved)
        return found


def _section(data: dict[str, Any], path: Path) -> dict[str, dict[str, Any]]:
    """The ``mcp.servers`` mapping of one file, its shape checked so later code can trust it."""
    mcp = data.get("mcp")
    if mcp is None:
        return {}
    if not isinstance(mcp, dict):
        raise ConfigError(f"{path}: 'mcp' must be a mapping like {{servers: {{<name>: {{command: ...}}}}}}")
    unknown = sorted(set(mcp) - {"servers"})
    if unknown:
        raise ConfigError(f"{path}: mcp: unknown key(s) {', '.join(map(str, unknown))}; expected 'servers'")
    servers = mcp.get("servers") or {}
    if not isinstance(servers, dict):
        raise ConfigError(f"{path}: mcp.servers must be a mapping of server name -> settings")
    out: dict[str, dict[str, Any]] = {}
    for name, settings in servers.items():
        where = f"{path}: mcp.servers.{name}"
        if not isinstance(name, str) or not SERVER_NAME.match(name):
            raise ConfigError(f"{where}: a server name must be a Lua identifier (letters, digits, '_'; not starting "
                              f"with a digit)")
        if settings is None:
            settings = {}
        if not isinstance(settings, dict):
            raise ConfigError(f"{where} must be a mapping with command, args, env, cwd, permissions")
        _check_server(settings, where)
        out[name] = settings
    return out


def _check_server(settings: dict[str, Any], where: str) -> None:
    unknown = sorted(set(settings) - set(SERVER_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}; expected {', '.join(SERVER_KEYS)}")
    command = settings.get("command")
    if command is not None and (not isinstance(command, str) or not command.strip()):
        raise ConfigError(f"{where}.command must be a non-empty string (the executable to start)")
    args = settings.get("args")
    if args is not None and (not isinstance(args, list) or
                             not all(isinstance(a, (str, int, float)) and not isinstance(a, bool) for a in args)):
        raise ConfigError(f"{where}.args must be a list of strings")
    env = settings.get("env")
    if env is not None:
        if not isinstance(env, dict):
            raise ConfigError(f"{where}.env must be a mapping of variable name -> value")
        for key, value in env.items():
            if not isinstance(key, str) or not ENV_NAME.match(key):
                raise ConfigError(f"{where}.env: {key!r} is not a valid environment variable name")
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                # Never echo the value: it may be a secret.
                raise ConfigError(f"{where}.env.{key} must be a string")
    cwd = settings.get("cwd")
    if cwd is not None and (not isinstance(cwd, str) or not cwd.strip()):
        raise ConfigError(f"{where}.cwd must be a folder path")
    perms = settings.get("permissions")
    if perms is not None:
        check_permissions(perms, where)


def _secret_env(credentials: dict[str, Any], name: str, path: Path) -> dict[str, str]:
    entry = credentials.get(credentials_key(name))
    if entry is None:
        return {}
    env = entry.get("env") if isinstance(entry, dict) else None
    if not isinstance(env, dict):
        raise ConfigError(f"{path}: '{credentials_key(name)}' must be a mapping like {{env: {{NAME: value}}}}")
    return {str(k): str(v) for k, v in env.items()}


def load_servers(cwd: Path | None = None, home: Path | None = None) -> dict[str, ServerConfig]:
    """Every configured server by name (home config, project config on top, secrets from credentials.yaml)."""
    home_path = home_dir(home)
    merged, _ = read_config_section(_section, home_path, cwd)
    cred_file, credentials = read_credentials(home_path)
    servers: dict[str, ServerConfig] = {}
    for name in sorted(merged):
        settings = merged[name]
        command = settings.get("command")
        if not command:
            raise ConfigError(f"MCP server '{name}' has no command; set one with: kosmo mcp:configure {name} "
                              f"--command CMD")
        env = {str(k): str(v) for k, v in (settings.get("env") or {}).items()}
        env.update(_secret_env(credentials, name, cred_file))
        perms = {**DEFAULT_POLICY, **(settings.get("permissions") or {})}
        servers[name] = ServerConfig(name=name, command=str(command), args=tuple(str(a) for a in settings.get("args")
                                                                                  or ()),
                                     env=env, cwd=settings.get("cwd"), read=perms["read"], write=perms["write"])
    return servers
