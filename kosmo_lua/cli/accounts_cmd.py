"""`kosmo integrations:accounts`: list integrations, their accounts, URLs, permissions; never a secret's value."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..errors import KosmoError
from .exit_codes import report_error

DESCRIPTION = """\
List each integration's accounts: the URL calls go to, whether a secret is set (and where it comes from, never its
value), the default account, whether the integration is enabled, and its read/write permission policies.
"""


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    p.add_argument("name", nargs="?", metavar="NAME", help="only this integration")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def _account_row(config: Any, integration: Any, alias: str) -> dict[str, Any]:
    """One account's listing. A broken account (bad URL, unset env:VAR) is shown with its problem, not fatal."""
    from ..config.accounts import resolve_account

    row: dict[str, Any] = {"name": alias, "default": alias == config.default_account(integration.name)}
    try:
        account = resolve_account(config, integration, alias)
    except KosmoError as exc:
        row.update(url=None, secret_set=False, secret_source=None, problem=str(exc))
        return row
    row.update(url=account.base_url, secret_set=account.secret is not None,
               secret_source=account.secret_source or None, problem=account.secret_problem)
    return row


def describe(config: Any, integration: Any) -> dict[str, Any]:
    """The listing of one integration, as the JSON output gives it."""
    name = integration.name
    return {
        "name": name,
        "title": integration.title,
        "enabled": config.enabled(name),
        "permissions": config.permissions(integration),
        "default_account": config.default_account(name),
        "accounts": [_account_row(config, integration, alias) for alias in config.accounts(name)],
    }


def _print_text(listing: list[dict[str, Any]]) -> None:
    for item in listing:
        perms = item["permissions"]
        state = "enabled" if item["enabled"] else "disabled"
        print(f"{item['name']}  ({state}; read: {perms['read']}, write: {perms['write']})")
        width = max(len(a["name"]) for a in item["accounts"])
        for acc in item["accounts"]:
            mark = "*" if acc["default"] else " "
            if acc["secret_set"]:
                secret = f"secret: set ({acc['secret_source']})"
            else:
                secret = "secret: not set"
            line = f"  {mark} {acc['name'].ljust(width)}  {acc['url'] or '-'}  {secret}"
            print(line)
            if acc["problem"]:
                print(f"      problem: {acc['problem']}")
    if listing:
        print("(* = default account)")


def run(ns: argparse.Namespace) -> int:
    from ..config import load_config
    from ..integration import load_integration
    from ..registry import discover, integration_folder

    prog = "kosmo integrations:accounts"
    try:
        names = [ns.name] if ns.name else sorted(discover())
        config = load_config()
        listing = [describe(config, load_integration(integration_folder(n))) for n in names]
    except KosmoError as exc:
        return report_error(prog, exc)
    if ns.json:
        print(json.dumps({"integrations": listing}, indent=2))
    else:
        _print_text(listing)
    return 0
