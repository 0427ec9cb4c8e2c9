"""``env:VAR`` values: any config or credentials value may name an environment variable instead of holding data.

They are resolved when an account is used, not when the file is read, so a value can change between runs without
editing the file and a missing variable only matters to the account that needs it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["ENV_PREFIX", "env_var_of", "resolve_env", "MissingEnvVar"]

ENV_PREFIX = "env:"
_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class MissingEnvVar(LookupError):
    """An ``env:VAR`` reference whose variable is unset or empty. ``str()`` names the variable only."""

    def __init__(self, var: str) -> None:
        super().__init__(var)
        self.var = var


def env_var_of(value: Any) -> str | None:
    """The variable name when value is an ``env:VAR`` reference, else None."""
    if isinstance(value, str) and value.startswith(ENV_PREFIX):
        name = value[len(ENV_PREFIX):].strip()
        if _VAR.match(name):
            return name
    return None


def resolve_env(value: Any, environ: Mapping[str, str] | None = None) -> Any:
    """value itself, or the content of the variable it names; raises MissingEnvVar when that is unset or empty."""
    var = env_var_of(value)
    if var is None:
        return value
    env = os.environ if environ is None else environ
    found = env.get(var)
    if not found:
        raise MissingEnvVar(var)
    return found
