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

from .lua_cmd import _options, _render_value, _seconds, _size, _usage_failure
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
    code = f"return app.integrations.{ns.function}(json.decode({_lua_string(json.dumps(args))}))"
    with ScriptRunner(_options(ns, interactive=sys.stderr.isatty())) as runner:
        envelope = runner.run(code, "=(call)")
    if ns.json:
        sys.stdout.write(json.dumps(envelope.to_dict(), ensure_ascii=False) + "\n")
    else:
        for value in envelope.result:
            sys.stdout.write(_render_value(value) + "\n")
        if envelope.error:
            sys.stderr.write(f"error: {envelope.error}\n")
    return envelope.exit_code


def _lua_string(text: str) -> str:
    """A Lua long-bracket literal that cannot be closed early by its content."""
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    eq = "=" * level
    return f"[{eq}[{text}]{eq}]"
