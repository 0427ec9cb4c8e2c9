"""`kosmo integrations:call replicate.get_prediction --arg prediction_id=...`: one operation, no Lua to write.

The call runs through the same sandbox and pipeline as a script (it is `return app.integrations.<path>(args)`), so
validation, permissions, accounts, limits and the JSON envelope are exactly those of `integrations:lua`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

from ..run.source import operation_call_source
from .lua_cmd import _options, _seconds, _size, _usage_failure, print_envelope
from ..run.runner import DEFAULT_CPU_LIMIT, DEFAULT_MEMORY_LIMIT

_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){1,2}$")


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Call one integration function: NAME.FUNCTION or NAME.ACCOUNT.FUNCTION.",
        epilog="Values of --arg are parsed as JSON when they are valid JSON (numbers, true, {...}), else kept as "
               "text; dotted keys build nested tables (--arg input.prompt=hello).\n\nExamples:\n"
               "  kosmo integrations:call replicate.get_prediction --arg prediction_id=abc123\n"
               "  kosmo integrations:call replicate.create_model_prediction --offline --force \\\n"
               "      --args-json '{\"model_owner\": \"black-forest-labs\", \"model_name\": \"flux-schnell\", "
               "\"input\": {\"prompt\": \"hi\"}}'")
    p.add_argument("function", metavar="NAME.FUNCTION")
    p.add_argument("--arg", action="append", default=[], metavar="KEY=VALUE", help="one argument (repeatable)")
    p.add_argument("--args-json", metavar="JSON", help="all arguments as a JSON object ('-' reads standard input)")
    p.add_argument("--json", action="store_true", help="print the JSON result envelope")
    p.add_argument("--force", action="store_true", help="bypass ask/deny permission policies")
    p.add_argument("--offline", nargs="?", const="always", default=None, choices=("always", "auto", "never"),
                   help="use the built-in emulator (always, or auto: only without credentials)")
    p.add_argument("--memory-limit", type=_size, default=DEFAULT_MEMORY_LIMIT, metavar="BYTES")
    p.add_argument("--cpu-limit", type=_seconds, default=DEFAULT_CPU_LIMIT, metavar="SECONDS")
    p.set_defaults(surface="integrations")
    return p


def _set_path(target: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    for key in keys[:-1]:
        nxt = target.setdefault(key, {})
        if not isinstance(nxt, dict):
            raise ValueError(f"--arg {dotted}: '{key}' already holds a value that is not a table")
        target = nxt
    target[keys[-1]] = value


def parse_args_into(pairs: list[str], base: dict[str, Any]) -> dict[str, Any]:
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--arg expects KEY=VALUE, got {pair!r}")
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        _set_path(base, key, value)
    return base


def run(ns: argparse.Namespace) -> int:
    from ..run.runner import ScriptRunner

    if not _PATH.match(ns.function):
        return _usage_failure(ns, f"expected NAME.FUNCTION or NAME.ACCOUNT.FUNCTION, got {ns.function!r}")
    try:
        args: dict[str, Any] = {}
        if ns.args_json is not None:
            text = sys.stdin.read() if ns.args_json == "-" else ns.args_json
            args = json.loads(text)
            if not isinstance(args, dict):
                raise ValueError("--args-json must be a JSON object")
        args = parse_args_into(ns.arg, args)
    except ValueError as exc:
        return _usage_failure(ns, str(exc))
    ns.repl = False
    # Arguments travel as a JSON string literal, so nothing in them is ever evaluated as Lua.
    code = operation_call_source(ns.function, args)
    with ScriptRunner(_options(ns, interactive=sys.stderr.isatty())) as runner:
        envelope = runner.run(code, "=(call)")
    return print_envelope(envelope, as_json=ns.json)
