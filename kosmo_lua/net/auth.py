"""Putting an account's credential on a request, the way integration.yaml's ``auth.scheme`` says.

``bearer`` (``Authorization: Bearer <api_key>``), ``basic`` (``Authorization: Basic base64(username:password)``),
``header:NAME``, ``query:NAME`` and ``cookie:NAME`` (joined to the request's own cookies in its one Cookie header).
"""

from __future__ import annotations

import base64

from ..config.accounts import Account, configure_hint, missing_secret_error
from ..config.secret import Secret
from ..config.settings import DEFAULT_ACCOUNT
from ..errors import CredentialsMissing
from ..integration import Integration

__all__ = ["auth_headers_and_query", "auth_header_name", "derived_secrets", "with_auth_headers"]


def auth_header_name(integration: Integration) -> str | None:
    return integration.auth.name if integration.auth.kind in ("bearer", "basic", "header") else None


def _basic_token(account: Account, integration: Integration, *, function: str | None) -> str | None:
    """base64 of ``username:password`` (UTF-8, RFC 7617), or None when the account lacks either."""
    scheme = integration.auth
    user = account.fields.get(scheme.username or "username")
    if account.secret is None or not account.secret or user is None:
        return None
    name = user.reveal() if isinstance(user, Secret) else str(user)
    if not name or ":" in name:
        if function is None:
            return None
        problem = "is empty" if not name else "contains ':', which basic auth cannot carry"
        raise CredentialsMissing(f"{function}: the {scheme.username} of {integration.name} account "
                                 f"'{account.name}' {problem}. Set it with: "
                                 f"{configure_hint(integration.name, account.name, scheme.username or 'username')}",
                                 integration=integration.name, account=account.name)
    return base64.b64encode(f"{name}:{account.secret.reveal()}".encode("utf-8")).decode("ascii")


def derived_secrets(account: Account, integration: Integration) -> list[Secret]:
    """Credentials made from the account's secrets (basic auth's encoded pair): redacted like the secrets."""
    if integration.auth.kind != "basic":
        return []
    token = _basic_token(account, integration, function=None)
    return [Secret(token)] if token else []


def auth_headers_and_query(account: Account, integration: Integration, *, function: str
                           ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(headers, query pairs) carrying the secret; CredentialsMissing when the account has none."""
    scheme = integration.auth
    if account.secret is None or not account.secret:
        raise missing_secret_error(account, integration, function=function)
    if scheme.kind == "basic":
        field = scheme.username or "username"
        if account.fields.get(field) is None:
            var = integration.default_env.get(field)
            also = f" (or set the environment variable {var})" if var and account.name == DEFAULT_ACCOUNT else ""
            raise CredentialsMissing(f"{function}: no {field} for {integration.name} account '{account.name}'. "
                                     f"Set it with: {configure_hint(integration.name, account.name, field)}{also}",
                                     integration=integration.name, account=account.name)
        return [("Authorization", f"Basic {_basic_token(account, integration, function=function)}")], []
    token = account.secret.reveal()
    if scheme.kind == "bearer":
        return [("Authorization", f"Bearer {token}")], []
    if scheme.kind == "header":
        return [(scheme.name, token)], []
    if scheme.kind == "cookie":
        return [("Cookie", f"{scheme.name}={token}")], []
    return [], [(scheme.name, token)]


def with_auth_headers(headers: list[tuple[str, str]], auth_headers: list[tuple[str, str]],
                      integration: Integration) -> list[tuple[str, str]]:
    """The request's headers plus the credential's. With ``cookie:NAME`` auth the request's own cookies and the
    credential share one Cookie header, and a cookie of that name the request carries is dropped: a credential
    comes only from the account."""
    if integration.auth.kind != "cookie":
        return headers + auth_headers
    name = integration.auth.name
    cookies: list[str] = []
    out: list[tuple[str, str]] = []
    for key, value in headers:
        if key.lower() != "cookie":
            out.append((key, value))
            continue
        for pair in value.split(";"):
            pair = pair.strip()
            if pair and pair.split("=", 1)[0].strip() != name:
                cookies.append(pair)
    for key, value in auth_headers:
        if key.lower() == "cookie":
            cookies.append(value)
        else:
            out.append((key, value))
    if cookies:
        out.append(("Cookie", "; ".join(cookies)))
    return out
