"""Configuration: config files, named accounts, credentials and permission policies.

Importing this package is cheap (no YAML until a file is read). See ``settings`` for the file layout.
"""

from __future__ import annotations

from .accounts import Account, is_secret_field, missing_secret_error, resolve_account
from .permissions import Policy, check, load_policy
from .secret import Secret, redact
from .settings import Config, load_config

__all__ = ["Config", "load_config", "Account", "resolve_account", "is_secret_field", "missing_secret_error",
           "Secret", "redact", "Policy", "check", "load_policy"]
