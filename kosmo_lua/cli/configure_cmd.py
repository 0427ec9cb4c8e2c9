"""`kosmo integrations:configure`: set an account's URL and secrets, enable/disable, set permission policies."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..config.settings import POLICIES
from ..errors import KosmoError, UsageError
from .configuring import SecretSafeParser, parse_assignments, print_change
from .exit_codes import report_error

DESCRIPTION = """\
Configure an integration: an account's fields (--set url=..., --set api_key=...), whether scripts may use it, and
its read/write permission policies. Secrets (the integration's credential and any field named like *key, *token,
*secret or password) go to the home credentials.yaml (mode 0600); everything else goes to config.yaml in the home
folder ($KOSMO_HOME or ~/.kosmo), or in ./.kosmo with --project. Any value may be env:VAR to read it from the
environment at use. Secret values are never printed. Fields: url, the credential (api_key), and connect_timeout /
read_timeout in seconds (override the integration's timeouts for this account).
"""

EPILOG = """\
Examples:
  kosmo integrations:configure replicate --set api_key=env:REPLICATE_API_TOKEN
  kosmo integrations:configure replicate --account work --set url=http://127.0.0.1:8080/v1 --write allow
  echo '{"account": "work", "set": {"api_key": "r8_..."}}' | kosmo integrations:configure replicate --stdin-json
  kosmo integrations:configure replicate --read allow --write deny --project
  kosmo integrations:configure replicate --account slowproxy --set read_timeout=120 --set connect_timeout=10

Prefer --stdin-json (or env:VAR) for secrets: a value on the command line can end up in shell history.
"""

_STDIN_KEYS = ("account", "set", "unset", "enabled", "read", "write", "default", "project")


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = SecretSafeParser(prog=prog, description=DESCRIPTION, epilog=EPILOG,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", metavar="NAME", help="the integration, e.g. replicate")
    p.add_argument("--account", metavar="ALIAS", help="the account to change (default: the default account)")
    p.add_argument("--set", dest="set_fields", action="append", default=[], metavar="KEY=VALUE",
                   help="set an account field (repeatable): url=..., api_key=... or api_key=env:VAR")
    p.add_argument("--unset", action="append", default=[], metavar="KEY", help="remove an account field (repeatable)")
    toggle = p.add_mutually_exclusive_group()
    toggle.add_argument("--enable", dest="enabled", action="store_const", const=True, default=None,
                        help="let scripts use the integration")
    toggle.add_argument("--disable", dest="enabled", action="store_const", const=False,
                        help="hide the integration from scripts")
    p.add_argument("--read", choices=POLICIES, help="policy for read operations (GET, HEAD, QUERY)")
    p.add_argument("--write", choices=POLICIES, help="policy for write operations (everything else)")
    p.add_argument("--default", dest="make_default", action="store_true",
                   help="make --account the integration's default account")
    p.add_argument("--stdin-json", action="store_true",
                   help='read {"account", "set": {...}, "unset": [...], "enabled", "read", "write", "default"} '
                        "from standard input (keeps secrets out of the command line)")
    p.add_argument("--project", action="store_true",
                   help="write non-secret settings to ./.kosmo/config.yaml instead of the home config")
    return p


def _read_stdin_json(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        # The position is enough; the text may hold a secret.
        raise UsageError(f"--stdin-json: standard input is not valid JSON (line {getattr(exc, 'lineno', '?')})") \
            from None
    if not isinstance(data, dict):
        raise UsageError("--stdin-json: expected a JSON object like {\"account\": \"work\", \"set\": {...}}")
    unknown = sorted(set(data) - set(_STDIN_KEYS))
    if unknown:
        raise UsageError(f"--stdin-json: unknown key(s) {', '.join(unknown)}; expected {', '.join(_STDIN_KEYS)}")
    problems: list[str] = []
    if data.get("account") is not None and not isinstance(data["account"], str):
        problems.append("account must be a string")
    if not isinstance(data.get("set", {}), dict):
        problems.append('set must be an object like {"api_key": "..."}')
    unset = data.get("unset", [])
    if isinstance(unset, str):
        data["unset"] = [unset]
    elif not isinstance(unset, list) or not all(isinstance(k, str) for k in unset):
        problems.append("unset must be a list of field names")
    for key in ("enabled", "default", "project"):
        if key in data and not isinstance(data[key], bool):
            problems.append(f"{key} must be true or false")
    for key in ("read", "write"):
        if data.get(key) is not None and data[key] not in POLICIES:
            problems.append(f"{key} must be allow, ask or deny")
    if problems:
        raise UsageError("--stdin-json: " + "; ".join(problems))
    return data


def _change(ns: argparse.Namespace, stdin_text: str | None) -> Any:
    from ..config.store import AccountChange

    data = _read_stdin_json(stdin_text) if stdin_text is not None else {}
    # Command-line options win over the JSON document where both say something.
    fields = {str(k): v for k, v in (data.get("set") or {}).items()}
    fields.update(parse_assignments(ns.set_fields, "--set expects KEY=VALUE (an item has no '=' or an empty KEY)"))
    return AccountChange(
        integration=ns.name,
        account=ns.account if ns.account is not None else data.get("account"),
        set=fields,
        unset=[*(data.get("unset") or []), *ns.unset],
        enabled=ns.enabled if ns.enabled is not None else data.get("enabled"),
        read=ns.read or data.get("read"),
        write=ns.write or data.get("write"),
        make_default=ns.make_default or bool(data.get("default")),
        project=ns.project or bool(data.get("project")),
    )


def run(ns: argparse.Namespace) -> int:
    from ..config.store import apply_change
    from ..integration import load_integration
    from ..registry import integration_folder

    prog = "kosmo integrations:configure"
    try:
        integration = load_integration(integration_folder(ns.name))
        change = _change(ns, sys.stdin.read() if ns.stdin_json else None)
        if change.is_empty():
            raise UsageError("nothing to change: give --set, --unset, --enable/--disable, --read, --write or "
                             "--default (see --help)")
        report = apply_change(change, integration)
    except KosmoError as exc:
        return report_error(prog, exc)
    touches_account = bool(change.set or change.unset or change.make_default)
    heading = f"{integration.name}" + (f" (account {report.account}):" if touches_account else ":")
    print_change(heading, report.lines, report.written)
    return 0
