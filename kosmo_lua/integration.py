"""An integration's hand-written settings (``integrations/<name>/integration.yaml``) as typed values.

Only this module knows the file's layout. Everything integration-specific that is not in the operation table lives
here as data: base URL, auth scheme, default-account environment variables, permission defaults, timeouts, retry
and rate-limit rules, how error bodies carry their message, pagination, and the optional modules beside the data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

__all__ = ["AuthScheme", "RateLimit", "RetryPolicy", "Timeouts", "ErrorFormat", "Pagination", "Integration",
           "load_integration"]


@dataclass(frozen=True)
class AuthScheme:
    kind: str = "bearer"  # "bearer" | "basic" | "header" | "query" | "cookie"
    name: str = "Authorization"  # header, query parameter or cookie name
    credential: str = "api_key"  # account field holding the secret (the password for basic)
    #: For ``basic``: the account field holding the user name (a secret too: redacted like the password).
    username: str | None = None

    @classmethod
    def parse(cls, data: dict[str, Any]) -> "AuthScheme":
        scheme = str(data.get("scheme", "bearer"))
        if scheme == "basic":
            return cls("basic", "Authorization", str(data.get("credential", "password")),
                       str(data.get("username", "username")))
        credential = str(data.get("credential", "api_key"))
        if scheme == "bearer":
            return cls("bearer", "Authorization", credential)
        kind, _, name = scheme.partition(":")
        if kind not in ("header", "query", "cookie") or not name:
            raise ConfigError(f"auth.scheme must be bearer, basic, header:<Name>, query:<name> or cookie:<name>, "
                              f"not {scheme!r}")
        return cls(kind, name, credential)


@dataclass(frozen=True)
class Timeouts:
    connect: float = 5.0
    read: float = 30.0
    wait_header: str | None = None  # "Prefer"
    wait_pattern: str | None = None  # regex with one group: the seconds
    wait_default_seconds: float = 60.0  # when the header is present without a number


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff_base: float = 0.25
    backoff_cap: float = 8.0


@dataclass(frozen=True)
class RateLimit:
    name: str
    limit: int  # requests ...
    per_seconds: float  # ... per this many seconds, per account
    operations: tuple[str, ...] = ()  # canonical operation names; empty = every operation not matched elsewhere


@dataclass(frozen=True)
class ErrorFormat:
    message_fields: tuple[str, ...] = ("detail", "title", "message", "error")
    name_field: str | None = None
    #: A field holding a list of messages (Stability's ``errors``): joined with "; " into the message.
    list_field: str | None = None


@dataclass(frozen=True)
class Pagination:
    style: str = "none"  # "next_url" | "none"
    results_field: str = "results"
    next_field: str = "next"


@dataclass(frozen=True)
class Integration:
    name: str
    title: str
    summary: str
    folder: Path
    base_url: str
    auth: AuthScheme
    default_env: dict[str, str]  # account field -> environment variable
    permissions: dict[str, str]  # {"read": "allow", "write": "ask"}
    timeouts: Timeouts
    retry: RetryPolicy
    rate_limits: tuple[RateLimit, ...]
    errors: ErrorFormat
    pagination: Pagination
    spec: dict[str, Any] = field(default_factory=dict)
    emulator: str | None = None  # file beside the data
    helpers: str | None = None  # Lua file beside the data
    raw: dict[str, Any] = field(default_factory=dict)  # the whole file, for integration modules

    @property
    def operations_path(self) -> Path:
        return self.folder / "operations.yaml"


def load_integration(folder: Path) -> Integration:
    import yaml

    path = folder / "integration.yaml"
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict) or not data.get("name"):
        raise ConfigError(f"{path}: expected a mapping with at least 'name'")
    t = data.get("timeouts") or {}
    wait = t.get("wait_header") or {}
    r = data.get("retry") or {}
    e = data.get("errors") or {}
    p = data.get("pagination") or {}
    return Integration(
        name=str(data["name"]),
        title=str(data.get("title", data["name"])),
        summary=str(data.get("summary", "")),
        folder=folder,
        base_url=str(data.get("base_url", "")).rstrip("/"),
        auth=AuthScheme.parse(data.get("auth") or {}),
        default_env=dict((data.get("default_account") or {}).get("env") or {}),
        permissions={"read": "allow", "write": "ask", **(data.get("permissions") or {})},
        timeouts=Timeouts(
            connect=float(t.get("connect", 5)),
            read=float(t.get("read", 30)),
            wait_header=wait.get("name"),
            wait_pattern=wait.get("pattern"),
            wait_default_seconds=float(wait.get("default_seconds", 60)),
        ),
        retry=RetryPolicy(
            max_attempts=int(r.get("max_attempts", 5)),
            backoff_base=float(r.get("backoff_base", 0.25)),
            backoff_cap=float(r.get("backoff_cap", 8)),
        ),
        rate_limits=tuple(
            RateLimit(str(x["name"]), int(x["limit"]), float(x["per_seconds"]), tuple(x.get("operations") or ()))
            for x in data.get("rate_limits") or ()
        ),
        errors=ErrorFormat(
            message_fields=tuple(e.get("message_fields") or ErrorFormat.message_fields),
            name_field=e.get("name_field"),
            list_field=e.get("list_field"),
        ),
        pagination=Pagination(
            style=str(p.get("style", "none")),
            results_field=str(p.get("results_field", "results")),
            next_field=str(p.get("next_field", "next")),
        ),
        spec=dict(data.get("spec") or {}),
        emulator=data.get("emulator"),
        helpers=data.get("helpers"),
        raw=data,
    )
