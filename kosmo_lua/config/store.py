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
from .settings import load_config, policy_problems
from .yaml_store import SettingsEdit, node, prune

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
    problems += policy_problems(change.read, change.write)
    if problems:
        raise UsageError("; ".join(problems))


def _set_fields(change: AccountChange, integration: Integration, edit: SettingsEdit, alias: str,
                report: ChangeReport) -> None:
    name = change.integration
    for key, value in change.set.items():
        fields = node(edit.config, "integrations", name, "accounts", alias)
        if is_secret_field(key, integration):
            node(edit.credentials, name, alias)[key] = str(value)
            edit.credentials_changed = True
            # A secret must not also linger in a config file someone may commit.
            if fields.pop(key, None) is not None:
                edit.config_changed = True
            report.lines.append(f"{key}: {_describe_secret(value)}")
        else:
            fields[key] = value
            edit.config_changed = True
            report.lines.append(f"{key}: {value}")


def _unset_fields(change: AccountChange, edit: SettingsEdit, alias: str, report: ChangeReport) -> None:
    """Remove each field from whichever file holds it."""
    name = change.integration
    for key in change.unset:
        removed = False
        fields = node(edit.config, "integrations", name, "accounts", alias)
        if key in fields:
            del fields[key]
            removed = edit.config_changed = True
        secret_fields = node(edit.credentials, name, alias)
        if key in secret_fields:
            del secret_fields[key]
            removed = edit.credentials_changed = True
        report.lines.append(f"{key}: {'removed' if removed else 'was not set'}")


def _set_integration(change: AccountChange, edit: SettingsEdit, alias: str, report: ChangeReport) -> None:
    """The integration-wide settings: enabled, permissions, default account."""
    settings = node(edit.config, "integrations", change.integration)
    if change.enabled is not None:
        settings["enabled"] = change.enabled
        edit.config_changed = True
        report.lines.append(f"enabled: {'true' if change.enabled else 'false'}")
    for access in ("read", "write"):
        value = getattr(change, access)
        if value is not None:
            node(settings, "permissions")[access] = value
            edit.config_changed = True
            report.lines.append(f"permissions.{access}: {value}")
    if change.make_default:
        settings["default_account"] = alias
        edit.config_changed = True
        report.lines.append(f"default_account: {alias}")


def apply_change(change: AccountChange, integration: Integration, *, home: Path | None = None,
                 cwd: Path | None = None) -> ChangeReport:
    """Apply change to the files, writing only those that changed."""
    _validate(change, integration)
    edit = SettingsEdit.open(project=change.project, home=home, cwd=cwd)
    name = change.integration
    # An omitted --account means the account scripts use by default (home and project config merged).
    alias = change.account or load_config(cwd=cwd, home=edit.home).default_account(name)
    report = ChangeReport(account=alias)
    _set_fields(change, integration, edit, alias, report)
    _unset_fields(change, edit, alias, report)
    _set_integration(change, edit, alias, report)
    prune(edit.config, "integrations", name, "accounts", alias)
    prune(edit.credentials, name, alias)
    report.written = edit.save()
    return report
