"""Loading kosmo's configuration: ``config.yaml`` (home, then project) and ``credentials.yaml`` (home only).

Layout of ``config.yaml`` (``$KOSMO_HOME/config.yaml``, default ``~/.kosmo/config.yaml``, and a project's
``.kosmo/config.yaml`` in the current working directory; project values override home values key by key, at every
level, so a project can change one permission or one account URL and inherit the rest)::

    integrations:
      replicate:
        enabled: true                       # false hides the integration from scripts
        permissions: { read: allow, write: ask }   # each allow | ask | deny; defaults from integration.yaml
        default_account: default            # optional: which account the flat path and `.default` use
        accounts:
          default: { url: https://api.replicate.com/v1 }
          work:    { url: http://127.0.0.1:8080/v1, read_timeout: 5 }

An account's ``connect_timeout`` and ``read_timeout`` (seconds) replace integration.yaml's ``timeouts`` for calls
through that account (a ``Prefer: wait=N`` request still gets N + 10 s to answer).

Secrets live only in the home folder's ``credentials.yaml`` (mode 0600; a warning is printed once when it is
readable by others), keyed integration -> account -> field::

    replicate:
      default: { api_key: r8_... }
      work:    { api_key: env:WORK_REPLICATE_TOKEN }

Any value in either file may be ``env:VAR``: it is read from the environment when the account is used. With nothing
configured for an integration, its ``default`` account comes from the variables named in integration.yaml
(``default_account.env``, e.g. REPLICATE_API_TOKEN and REPLICATE_BASE_URL); those also fill any field the
configured ``default`` account leaves out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .paths import CONFIG_FILE, CREDENTIALS_FILE, home_dir
from .yaml_store import merge, read_config_section, read_credentials  # merge: also exported from here

if TYPE_CHECKING:
    from ..integration import Integration

__all__ = ["Config", "load_config", "merge", "check_permissions", "policy_problems", "POLICIES",
           "DEFAULT_ACCOUNT"]

POLICIES = ("allow", "ask", "deny")
DEFAULT_ACCOUNT = "default"


def check_permissions(perms: Any, where: str) -> None:
    """Check a ``permissions`` setting read from a file: a mapping of read/write to allow, ask or deny.

    Integrations and MCP servers take the same setting, so they report a bad one the same way; where names the
    setting's owner (``<file>: integrations.replicate``).
    """
    if not isinstance(perms, dict):
        raise ConfigError(f"{where}.permissions must be a mapping like {{read: allow, write: ask}}")
    for access, policy in perms.items():
        if access not in ("read", "write"):
            raise ConfigError(f"{where}.permissions: unknown access '{access}'; expected read or write")
        if policy not in POLICIES:
            raise ConfigError(f"{where}.permissions.{access} must be allow, ask or deny, not {policy!r}")


def policy_problems(read: str | None, write: str | None) -> list[str]:
    """What is wrong with a configure command's --read/--write values (None: not given)."""
    return [f"--{access}: expected allow, ask or deny, not {value!r}"
            for access, value in (("read", read), ("write", write)) if value is not None and value not in POLICIES]


def _check_integrations(data: dict[str, Any], path: Path) -> dict[str, dict[str, Any]]:
    """The ``integrations`` mapping of a config file, with its shape checked so later code can trust it."""
    # `mcp` belongs to kosmo_lua.mcp, which reads the same files; everything else is a typo worth reporting.
    unknown = sorted(set(data) - {"integrations", "mcp"})
    if unknown:
        raise ConfigError(f"{path}: unknown top-level key(s) {', '.join(unknown)}; expected 'integrations' or 'mcp'")
    integrations = data.get("integrations") or {}
    if not isinstance(integrations, dict):
        raise ConfigError(f"{path}: 'integrations' must be a mapping of integration name -> settings")
    for name, settings in integrations.items():
        where = f"{path}: integrations.{name}"
        if settings is None:
            integrations[name] = {}
            continue
        if not isinstance(settings, dict):
            raise ConfigError(f"{where} must be a mapping")
        if "enabled" in settings and not isinstance(settings["enabled"], bool):
            raise ConfigError(f"{where}.enabled must be true or false")
        check_permissions(settings.get("permissions") or {}, where)
        default = settings.get("default_account")
        if default is not None and not isinstance(default, str):
            raise ConfigError(f"{where}.default_account must be an account name")
        accounts = settings.get("accounts") or {}
        if not isinstance(accounts, dict):
            raise ConfigError(f"{where}.accounts must be a mapping of account name -> fields")
        for alias, fields in accounts.items():
            if fields is not None and not isinstance(fields, dict):
                raise ConfigError(f"{where}.accounts.{alias} must be a mapping of fields (url: ...)")
    return integrations


def _check_credentials(data: dict[str, Any], path: Path) -> dict[str, dict[str, dict[str, Any]]]:
    for name, accounts in data.items():
        if not isinstance(accounts, dict):
            raise ConfigError(f"{path}: '{name}' must be a mapping of account name -> fields")
        for alias, fields in accounts.items():
            if fields is not None and not isinstance(fields, dict):
                # Never echo the value: it is probably a secret in the wrong place.
                raise ConfigError(f"{path}: {name}.{alias} must be a mapping of fields (api_key: ...)")
    return data


@dataclass(frozen=True)
class Config:
    """The merged configuration. Values are raw (``env:VAR`` unresolved); ``resolve_account`` resolves them."""

    home: Path
    project: Path | None = None  # the project config file that was read, if there was one
    integrations: dict[str, dict[str, Any]] = field(default_factory=dict)
    credentials: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict, repr=False)

    @property
    def config_path(self) -> Path:
        return self.home / CONFIG_FILE

    @property
    def credentials_path(self) -> Path:
        return self.home / CREDENTIALS_FILE

    def settings(self, integration: str) -> dict[str, Any]:
        return self.integrations.get(integration) or {}

    def enabled(self, integration: str) -> bool:
        return bool(self.settings(integration).get("enabled", True))

    def permission_overrides(self, integration: str) -> dict[str, str]:
        return dict(self.settings(integration).get("permissions") or {})

    def permissions(self, integration: "Integration | str") -> dict[str, str]:
        """Effective {read, write} policies: integration.yaml's defaults (when given the Integration) with the
        config's overrides on top."""
        if isinstance(integration, str):
            base = {"read": "allow", "write": "ask"}
            name = integration
        else:
            base = {"read": "allow", "write": "ask", **integration.permissions}
            name = integration.name
        return {**base, **self.permission_overrides(name)}

    def default_account(self, integration: str) -> str:
        """The account the flat path, ``.default`` and an omitted ``--account`` mean."""
        return self.settings(integration).get("default_account") or DEFAULT_ACCOUNT

    def account_config(self, integration: str, alias: str) -> dict[str, Any]:
        accounts = self.settings(integration).get("accounts") or {}
        return dict(accounts.get(alias) or {})

    def account_credentials(self, integration: str, alias: str) -> dict[str, Any]:
        return dict((self.credentials.get(integration) or {}).get(alias) or {})

    def configured_accounts(self, integration: str) -> list[str]:
        """Accounts named in config.yaml or credentials.yaml, in file order, without duplicates."""
        names = list((self.settings(integration).get("accounts") or {}).keys())
        names += [n for n in (self.credentials.get(integration) or {}) if n not in names]
        return [str(n) for n in names]

    def accounts(self, integration: str) -> list[str]:
        """Every account a script may name, the default account first: the configured ones, plus ``default``
        (the environment fallback) unless ``default_account`` makes that name mean another account."""
        names = self.configured_accounts(integration)
        default = self.default_account(integration)
        if default in names:
            names.remove(default)
        names.insert(0, default)
        return names


def load_config(cwd: Path | None = None, home: Path | None = None) -> Config:
    """Read home and project config plus the home credentials; missing files count as empty."""
    home_path = home_dir(home)
    integrations, project_file = read_config_section(_check_integrations, home_path, cwd)
    cred_file, cred_data = read_credentials(home_path)
    credentials = _check_credentials(cred_data, cred_file)
    return Config(home=home_path, project=project_file, integrations=integrations, credentials=credentials)
