"""The one exception tree of kosmo-lua.

Every error the engine raises on purpose is a ``KosmoError``. Third-party exceptions (httpx, yaml, lupa) are
converted at the boundary where they occur, so callers catch these classes and nothing else::

    KosmoError
    ├── UsageError               bad command line or bad call from Python (exit code 2)
    ├── ConfigError              unreadable or invalid config / credentials / integration data
    ├── ScriptError              anything a Lua script sees as an error (exit code 1)
    │   ├── LuaRuntimeError      a plain Lua error (error("..."), a runtime fault, a syntax error)
    │   ├── LimitExceeded        memory or CPU limit hit; never catchable inside the sandbox
    │   │   ├── MemoryLimitExceeded
    │   │   └── CpuLimitExceeded
    │   └── CallError            a host function refused or failed; carries a Lua error value (``data``)
    │       ├── ArgumentError        validation of a call's arguments failed (every problem listed)
    │       ├── PermissionRefused    an ``ask``/``deny`` policy refused a call; nothing was sent
    │       ├── CredentialsMissing   no account / token for the integration
    │       ├── HTTPStatusError      the API answered with an error status
    │       └── TransportError       no usable answer: connection, timeout, malformed body
    └── DocNotFound              a docs page that does not exist (lists the closest pages)

Messages never contain secrets: code that formats a message from a request uses the redacted forms.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs milliseconds of start-up; type checkers read the names below anyway
if TYPE_CHECKING:
    from typing import Any


__all__ = [
    "KosmoError",
    "UsageError",
    "ConfigError",
    "ScriptError",
    "LuaRuntimeError",
    "LimitExceeded",
    "MemoryLimitExceeded",
    "CpuLimitExceeded",
    "CallError",
    "ArgumentError",
    "PermissionRefused",
    "CredentialsMissing",
    "HTTPStatusError",
    "TransportError",
    "DocNotFound",
    "format_mib",
    "format_seconds",
]


class KosmoError(Exception):
    """Base class of every error kosmo-lua raises on purpose."""


class UsageError(KosmoError):
    """The command line or a Python call was malformed (CLI exit code 2)."""


class ConfigError(KosmoError):
    """Configuration, credentials or integration data could not be read or are invalid."""


class ScriptError(KosmoError):
    """An error a Lua script sees or causes (CLI exit code 1)."""


class LuaRuntimeError(ScriptError):
    """A plain Lua error: ``error(...)``, a runtime fault or a syntax error. ``str()`` is Lua's message."""

    def __init__(self, message: str, *, value: Any = None) -> None:
        super().__init__(message)
        self.message = message
        # The raw error value, converted to plain data (a table thrown with error({...}) keeps its fields).
        self.value = value


def format_mib(limit_bytes: int) -> str:
    """32 MiB -> '32 MiB'; odd sizes keep a decimal, tiny ones are shown in bytes."""
    mib = limit_bytes / (1024 * 1024)
    if mib >= 1:
        return f"{mib:g} MiB" if mib == int(mib) else f"{mib:.1f} MiB"
    return f"{limit_bytes} bytes"


def format_seconds(seconds: float) -> str:
    return f"{seconds:g} s"


class LimitExceeded(ScriptError):
    """A resource limit was hit. Scripts cannot catch this: pcall re-raises it."""


class MemoryLimitExceeded(LimitExceeded):
    def __init__(self, limit_bytes: int) -> None:
        super().__init__(f"memory limit exceeded ({format_mib(limit_bytes)})")
        self.limit_bytes = limit_bytes


class CpuLimitExceeded(LimitExceeded):
    def __init__(self, limit_seconds: float) -> None:
        super().__init__(f"cpu limit exceeded ({format_seconds(limit_seconds)})")
        self.limit_seconds = limit_seconds


class CallError(ScriptError):
    """A host function failed in a way the script may handle.

    ``data`` is the Lua error value as plain data: at least ``message``; integration errors add ``status``,
    ``operation``, ``name``, ``body``... The sandbox turns it into a Lua table whose ``__tostring`` is ``str(self)``.
    """

    def __init__(self, message: str, **data: Any) -> None:
        super().__init__(message)
        self.message = message
        self.data: dict[str, Any] = {"message": message, **data}


class ArgumentError(CallError):
    """Arguments of a call failed validation; ``problems`` lists every one of them."""

    def __init__(self, function: str, problems: list[str]) -> None:
        text = problems[0] if len(problems) == 1 else "; ".join(problems)
        super().__init__(f"{function}: {text}", kind="argument", function=function, problems=list(problems))
        self.function = function
        self.problems = list(problems)


class PermissionRefused(CallError):
    def __init__(self, message: str, *, operation: str, access: str, policy: str) -> None:
        super().__init__(message, kind="permission", operation=operation, access=access, policy=policy)


class CredentialsMissing(CallError):
    def __init__(self, message: str, *, integration: str, account: str) -> None:
        super().__init__(message, kind="credentials", integration=integration, account=account)


class HTTPStatusError(CallError):
    def __init__(self, operation: str, status: int, message: str, **data: Any) -> None:
        super().__init__(f"{operation}: HTTP {status}: {message}", kind="http", operation=operation,
                         status=status, **data)
        # The Lua error value's ``message`` is the API's own message; str(self) is the full line.
        self.data["message"] = message
        self.status = status
        self.operation = operation


class TransportError(CallError):
    def __init__(self, operation: str, message: str, **data: Any) -> None:
        super().__init__(f"{operation}: {message}", kind="transport", operation=operation, **data)
        self.data["message"] = message
        self.operation = operation


class DocNotFound(KosmoError):
    def __init__(self, page: str, suggestions: list[str]) -> None:
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"Unknown docs page: {page}.{hint}")
        self.page = page
        self.suggestions = suggestions
