"""Putting an account's credential on a request, the way integration.yaml's ``auth.scheme`` says."""

from __future__ import annotations

from ..config.accounts import Account, missing_secret_error
from ..integration import Integration

__all__ = ["auth_headers_and_query", "auth_header_name"]


def auth_header_name(integration: Integration) -> str | None:
    return integration.auth.name if integration.auth.kind in ("bearer", "header") else None


def auth_headers_and_query(account: Account, integration: Integration, *, function: str
                           ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(headers, query pairs) carrying the secret; CredentialsMissing when the account has none."""
    if account.secret is None or not account.secret:
        raise missing_secret_error(account, integration, function=function)
    token = account.secret.reveal()
    scheme = integration.auth
    if scheme.kind == "bearer":
        return [("Authorization", f"Bearer {token}")], []
    if scheme.kind == "header":
        return [(scheme.name, token)], []
    return [], [(scheme.name, token)]
