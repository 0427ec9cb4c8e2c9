"""Named accounts: which URL and which credential a call to an integration uses.

An account is chosen by alias (``app.integrations.replicate.work`` -> ``work``); ``None`` and ``"default"`` mean the
integration's default account (``default_account`` in config, else the account named ``default``). The account named
``default`` also takes any field it does not configure from the integration's environment variables
(``default_account.env`` in integration.yaml), so ``REPLICATE_API_TOKEN`` alone is a working setup.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..errors import CredentialsMissing
from ..integration import Integration
from .envref import MissingEnvVar, env_var_of, resolve_env
from .secret import Secret
from .settings import DEFAULT_ACCOUNT, Config

__all__ = ["Account", "resolve_account", "is_secret_field", "missing_secret_error", "configure_hint",
           "TIMEOUT_FIELDS", "check_timeout"]

# Field names that hold secrets whatever the integration calls its credential: api_key, token, client_secret...
_SECRET_NAME = re.compile(r"(key|token|secret|password)$", re.IGNORECASE)

#: Account fields that override integration.yaml's timeouts (seconds) -> the ``Timeouts`` attribute they replace.
TIMEOUT_FIELDS = {"connect_timeout": "connect", "read_timeout": "read"}


def is_secret_field(name: str, integration: Integration | None = None) -> bool:
    """True for the integration's auth credential fields (basic auth's user name too) and any field named like
    *key/*token/*secret/password."""
    if integration is not None and name in (integration.auth.credential, integration.auth.username):
        return True
    return bool(_SECRET_NAME.search(name))


def configure_hint(integration: str, account: str, credential: str = "api_key") -> str:
    return f"kosmo integrations:configure {integration} --account {account} --set {credential}=..."


@dataclass(frozen=True)
class Account:
    """One resolved account. ``secret`` is the auth credential; ``fields`` holds every other field (secret-looking
    ones wrapped in ``Secret``), with ``env:VAR`` references already resolved."""

    integration: str
    name: str
    base_url: str
    secret: Secret | None
    fields: dict[str, Any] = field(default_factory=dict)
    #: Where the secret came from, for listings: "credentials.yaml", "env:VAR", "environment REPLICATE_API_TOKEN".
    secret_source: str = ""
    #: Why there is no secret although one was configured (an ``env:VAR`` whose variable is unset).
    secret_problem: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        """Identity of the account for sharing per-account state (rate pacing) between clients."""
        return (self.integration, self.name, self.base_url)


def _check_url(url: str, where: str, integration: str, alias: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CredentialsMissing(f"{where}: url must be an http(s) URL like https://api.example.com/v1, "
                                 f"not {url!r}", integration=integration, account=alias)
    return url.rstrip("/")


def check_timeout(value: Any) -> float | None:
    """A timeout field's value in seconds (YAML gives a number, ``--set`` gives text), or None when unusable."""
    if isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if 0 < seconds <= 86400 else None  # also refuses NaN and infinity


def resolve_account(config: Config, integration: Integration, alias: str | None,
                    *, environ: Mapping[str, str] | None = None) -> Account:
    """The account a call uses. Unknown alias -> CredentialsMissing listing the accounts there are.

    A missing secret is not an error here (some operations need none); the HTTP layer raises
    ``missing_secret_error`` when an authenticated call has no secret.
    """
    env = os.environ if environ is None else environ
    iname = integration.name
    name = config.default_account(iname) if alias in (None, "", DEFAULT_ACCOUNT) else str(alias)
    configured = config.configured_accounts(iname)
    if name not in configured and name != DEFAULT_ACCOUNT:
        listed = ", ".join(config.accounts(iname))
        what = f"default account '{name}' (default_account in config)" if alias in (None, "", DEFAULT_ACCOUNT) \
            else f"account named '{name}'"
        raise CredentialsMissing(
            f"{iname}: no {what}. Configured accounts: {listed}. "
            f"Add it with: {configure_hint(iname, name, integration.auth.credential)}",
            integration=iname, account=name)

    # Layers, later wins: environment defaults (default account only), config.yaml, credentials.yaml.
    raw: dict[str, tuple[Any, str]] = {}
    if name == DEFAULT_ACCOUNT:
        for fname, var in integration.default_env.items():
            if env.get(var):
                raw[fname] = (env[var], f"environment {var}")
    for fname, value in config.account_config(iname, name).items():
        if value is not None:
            raw[str(fname)] = (value, "config.yaml")
    for fname, value in config.account_credentials(iname, name).items():
        if value is not None:
            raw[str(fname)] = (value, "credentials.yaml")

    where = f"{iname} account '{name}'"
    credential = integration.auth.credential
    fields: dict[str, Any] = {}
    secret: Secret | None = None
    secret_source = ""
    secret_problem: str | None = None
    for fname, (value, source) in raw.items():
        var = env_var_of(value)
        try:
            resolved = resolve_env(value, env)
        except MissingEnvVar as exc:
            problem = f"{where}: {fname} refers to environment variable {exc.var}, which is not set"
            if fname == "url":
                raise CredentialsMissing(problem, integration=iname, account=name) from None
            if fname == credential:
                secret_problem = problem
            continue  # another field: only the call that needs it can fail
        source = f"env:{var}" if var else source
        if fname == credential:
            secret = Secret(str(resolved)) if resolved not in (None, "") else None
            secret_source = source if secret else ""
        elif is_secret_field(fname, integration):
            fields[fname] = Secret(str(resolved))
        elif fname in TIMEOUT_FIELDS:
            seconds = check_timeout(resolved)
            if seconds is None:
                raise CredentialsMissing(f"{where}: {fname} must be a number of seconds in (0, 86400], like 30, "
                                         f"not {resolved!r}", integration=iname, account=name)
            fields[fname] = seconds
        else:
            fields[fname] = resolved

    url = fields.get("url")
    base_url = _check_url(str(url), where, iname, name) if url else integration.base_url.rstrip("/")
    return Account(integration=iname, name=name, base_url=base_url, secret=secret, fields=fields,
                   secret_source=secret_source, secret_problem=secret_problem)


def missing_secret_error(account: Account, integration: Integration, *, function: str | None = None
                         ) -> CredentialsMissing:
    """The error for an authenticated call on an account without a secret: says exactly how to add one."""
    credential = integration.auth.credential
    prefix = f"{function}: " if function else ""
    if account.secret_problem:
        message = f"{prefix}{account.secret_problem}"
    else:
        message = f"{prefix}no {credential} for {integration.name} account '{account.name}'"
    fix = f"Set it with: {configure_hint(integration.name, account.name, credential)}"
    var = integration.default_env.get(credential)
    if account.name == DEFAULT_ACCOUNT and var:
        fix += f" (or set the environment variable {var})"
    return CredentialsMissing(f"{message}. {fix}", integration=integration.name, account=account.name)
