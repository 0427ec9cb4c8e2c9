"""Changing the configuration on disk: what ``kosmo integrations:configure`` does.

Secret fields (the integration's credential and anything named like *key/*token/*secret/password) always go to the
home ``credentials.yaml`` (written 0600); everything else goes to ``config.yaml`` in the home folder, or in the
project's ``.kosmo`` folder when asked. Both files are rewritten atomically. The returned report never holds a
secret value: secrets are described as ``set (hidden)`` or by the ``env:VAR`` they point to.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import UsageError
from ..integration import Integration
from .accounts import TIMEOUT_FIELDS, check_timeout, is_secret_field
from .envref import env_var_of
from .paths import CONFIG_FILE, CREDENTIALS_FILE, home_dir, project_dir
from .settings import POLICIES, load_config
from .yamlfile import read_mapping, write_mapping

__all__ = ["AccountChange", "ChangeReport", "apply_change", "NAME_PATTERN"]

#: The plain (not secret) account fields the engine reads; secrets are recognised by name (``is_secret_field``).
_PLAIN_FIELDS = frozenset({"url", *TIMEOUT_FIELDS})

#: Account aliases and field names: what reads well as a Lua key and a YAML key.
NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")


@dataclass
class AccountChange:
    """Everything one configure command asks for. ``None`` means leave as is."""

    integration: str
    account: str | None = None  # None: the integration's current default account
    set: dict[str, Any] = field(default_factory=dict)
    unset: list[str] = field(default_factory=list)
    enabled: bool | None = None
    read: str | None = None
    write: str | None = None
    make_default: bool = False
    project: bool = False

    def is_empty(self) -> bool:
        return not (self.set or self.unset or self.make_default or
                    self.enabled is not None or self.read is not None or self.write is not None)


@dataclass
class ChangeReport:
    account: str
    lines: list[str] = field(default_factory=list)  # "api_key: set (hidden)", "permissions.write: allow"
    written: list[Path] = field(default_factory=list)


def _describe_secret(value: Any) -> str:
    var = env_var_of(value)
    return f"set (from env:{var})" if var else "set (hidden)"


def _validate(change: AccountChange, integration: Integration) -> None:
    problems: list[str] = []
    if change.account is not None and not NAME_PATTERN.match(change.account):
        # Not quoted back: a value in the wrong place may be a secret.
        problems.append("--account: expected a name of letters, digits, '_' or '-' (at most 64, not starting with "
                        "a digit or '-')")
    for key, value in change.set.items():
        if not NAME_PATTERN.match(key):
            problems.append(f"--set: field name {key!r} must be letters, digits, '_' or '-'")
            continue
        secret = is_secret_field(key, integration)
        if not secret and key not in _PLAIN_FIELDS:
            # Nothing reads any other plain field, so an unknown name is a typo (`api_kye`): refuse it rather than
            # store what is probably a secret in config.yaml, and never quote the value.
            known = sorted({*_PLAIN_FIELDS, integration.auth.credential})
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.append(f"--set {key}: not an account field{hint}; {integration.name} accounts take "
                            f"{', '.join(known)}, and secrets named like *key, *token, *secret or password")
            continue
        if value is None or value == "":
            problems.append(f"--set {key}: empty value; use --unset {key} to remove it")
        elif secret and not isinstance(value, str):
            problems.append(f"--set {key}: expected a string")
        elif not secret and isinstance(value, (dict, list)):
            problems.append(f"--set {key}: expected a single value, not a {type(value).__name__}")
        elif key in TIMEOUT_FIELDS and env_var_of(value) is None and check_timeout(value) is None:
            problems.append(f"--set {key}: expected a number of seconds in (0, 86400], like 30")
        elif key == "url" and env_var_of(value) is None:
            parts = urlsplit(str(value))
            if parts.scheme not in ("http", "https") or not parts.hostname:
                # The value is not quoted back: a token pasted after the wrong key must not reach the terminal.
                problems.append("--set url: expected an http(s) URL like https://api.example.com/v1 or env:VAR")
    for key in change.unset:
        if not NAME_PATTERN.match(key):
            problems.append(f"--unset: field name {key!r} must be letters, digits, '_' or '-'")
        if key in change.set:
            problems.append(f"{key}: both --set and --unset given")
    for access in ("read", "write"):
        value = getattr(change, access)
        if value is not None and value not in POLICIES:
            problems.append(f"--{access}: expected allow, ask or deny, not {value!r}")
    if problems:
        raise UsageError("; ".join(problems))


def _node(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    """data[k1][k2]... creating empty mappings on the way (and replacing a null left by hand-editing)."""
    for key in keys:
        child = data.get(key)
        if not isinstance(child, dict):
            child = data[key] = {}
        data = child
    return data


def _prune(data: dict[str, Any], *keys: str) -> None:
    """Drop the now-empty mappings along keys, deepest first, so unset leaves no `{}` litter behind."""
    if not keys:
        return
    child = data.get(keys[0])
    if isinstance(child, dict):
        _prune(child, *keys[1:])
        if not child:
            del data[keys[0]]


def apply_change(change: AccountChange, integration: Integration, *, home: Path | None = None,
                 cwd: Path | None = None) -> ChangeReport:
    """Apply change to the files, writing only those that changed."""
    _validate(change, integration)
    home_path = home_dir(home)
    config_path = (project_dir(cwd) if change.project else home_path) / CONFIG_FILE
    creds_path = home_path / CREDENTIALS_FILE
    config = read_mapping(config_path)
    creds = read_mapping(creds_path)
    name = change.integration

    # An omitted --account means the account scripts use by default (home and project config merged).
    alias = change.account or load_config(cwd=cwd, home=home_path).default_account(name)
    report = ChangeReport(account=alias)
    config_changed = creds_changed = False

    for key, value in change.set.items():
        if is_secret_field(key, integration):
            _node(creds, name, alias)[key] = str(value)
            creds_changed = True
            # A secret must not also linger in a config file someone may commit.
            fields = _node(config, "integrations", name, "accounts", alias)
            if fields.pop(key, None) is not None:
                config_changed = True
            report.lines.append(f"{key}: {_describe_secret(value)}")
        else:
            _node(config, "integrations", name, "accounts", alias)[key] = value
            config_changed = True
            report.lines.append(f"{key}: {value}")

    for key in change.unset:
        removed = False
        fields = _node(config, "integrations", name, "accounts", alias)
        if key in fields:
            del fields[key]
            removed = config_changed = True
        secret_fields = _node(creds, name, alias)
        if key in secret_fields:
            del secret_fields[key]
            removed = creds_changed = True
        report.lines.append(f"{key}: {'removed' if removed else 'was not set'}")

    settings = _node(config, "integrations", name)
    if change.enabled is not None:
        settings["enabled"] = change.enabled
        config_changed = True
        report.lines.append(f"enabled: {'true' if change.enabled else 'false'}")
    for access in ("read", "write"):
        value = getattr(change, access)
        if value is not None:
            _node(settings, "permissions")[access] = value
            config_changed = True
            report.lines.append(f"permissions.{access}: {value}")
    if change.make_default:
        settings["default_account"] = alias
        config_changed = True
        report.lines.append(f"default_account: {alias}")

    _prune(config, "integrations", name, "accounts", alias)
    _prune(creds, name, alias)
    if creds_changed or (config_changed and not change.project):
        # The home folder holds the credentials: only its owner should be able to list or enter it.
        home_path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if config_changed:
        write_mapping(config_path, config)
        report.written.append(config_path)
    if creds_changed:
        write_mapping(creds_path, creds, private=True)
        report.written.append(creds_path)
    return report
