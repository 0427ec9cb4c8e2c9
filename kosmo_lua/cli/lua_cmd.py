"""`kosmo integrations:lua` (and `kosmo mcp:lua`): run Lua from --eval, a file, stdin, or a REPL.

This is the command shell scripts call in loops, so its start-up is kept short: the options are data
(``kosmo_lua.cli.options``) scanned without argparse when the line is plain, and json, argparse, the REPL's modules
and the Lua engine (in the worker) are imported only when needed.
"""

from __future__ import annotations

import sys

from ..run.runner import DEFAULT_CPU_LIMIT, DEFAULT_MEMORY_LIMIT, RunOptions
from .options import Option, Positional, add_to_parser, scan, type_error

TYPE_CHECKING = False  # typing costs milliseconds of start-up; type checkers read the names below anyway
if TYPE_CHECKING:
    import argparse
    from typing import Any, TextIO

    from ..run.envelope import Envelope

DESCRIPTION = """\
Run Lua 5.4 in a sandbox with app.integrations.<name>[.<account>].<function>({...}), docs, json, regex, dump
and sleep. Code comes from --eval, else FILE, else standard input when it is piped.
"""

EPILOG = """\
Output: printed lines, then the chunk's return values (pretty JSON unless a string), then any error on stderr.
With --json exactly one JSON object is printed: success, output, error, result, execution_time_ms, memory_usage,
integration_calls, meta. Exit codes: 0 success, 1 Lua error or limit, 2 usage error.

Examples:
  kosmo integrations:lua --eval 'print(json.encode({a = 1}))'
  kosmo integrations:lua workflow.lua --force --json
  echo 'return 1 + 1' | kosmo integrations:lua --json
  kosmo integrations:lua --offline --eval 'dump(app.integrations.replicate.get_account({}))'
  kosmo integrations:lua --repl
"""


def _size(text: str) -> int:
    units = {"k": 1024, "kb": 1024, "kib": 1024, "m": 1024**2, "mb": 1024**2, "mib": 1024**2, "g": 1024**3,
             "gb": 1024**3, "gib": 1024**3}
    t = text.strip().lower()
    for suffix in sorted(units, key=len, reverse=True):
        if t.endswith(suffix) and t[: -len(suffix)].strip().isdigit():
            return int(t[: -len(suffix)]) * units[suffix]
    if t.isdigit():
        return int(t)
    raise type_error(f"expected a number of bytes (e.g. 33554432 or 32MiB), got {text!r}")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise type_error(f"expected a number of seconds, got {text!r}") from None
    if not 0 < value <= 86400:
        raise type_error(f"expected seconds in (0, 86400], got {text!r}")
    return value


POSITIONALS = (Positional("file", metavar="FILE", help="a Lua file to run ('-' for standard input)"),)
OPTIONS = (
    Option("-e", "--eval", dest="code", takes_value=True, metavar="CODE", help="Lua code to run"),
    Option("--json", dest="json", help="print one JSON result object instead of text"),
    Option("--force", dest="force",
           help="bypass the ask/deny permission policies (nothing else: not credentials, validation, limits)"),
    Option("--memory-limit", dest="memory_limit", takes_value=True, convert=_size, default=DEFAULT_MEMORY_LIMIT,
           metavar="BYTES", help="Lua memory limit (default 32 MiB; suffixes KiB/MiB/GiB accepted)"),
    Option("--cpu-limit", dest="cpu_limit", takes_value=True, convert=_seconds, default=DEFAULT_CPU_LIMIT,
           metavar="SECONDS", help="time limit per chunk, including time spent waiting on calls (default 30)"),
    Option("--repl", dest="repl", help="interactive read-eval-print loop; state is kept between lines"),
    Option("--offline", dest="offline", const="always", choices=("always", "auto", "never"),
           help="send integration calls to the built-in emulators: always (the default when the flag is given), "
                "or auto: only for accounts without credentials (also KOSMO_OFFLINE=1|auto)"),
)


def build_parser(prog: str, *, surface: str = "integrations") -> argparse.ArgumentParser:
    import argparse

    p = argparse.ArgumentParser(prog=prog, description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_to_parser(p, POSITIONALS, OPTIONS)
    p.set_defaults(surface=surface)
    return p


def parse_fast(argv: list[str], *, surface: str = "integrations") -> argparse.Namespace | None:
    """The namespace ``build_parser`` would give for a plain command line, without importing argparse; None when
    argparse must parse it (help, errors, unusual forms)."""
    values = scan(argv, POSITIONALS, OPTIONS, {"surface": surface})
    if values is None:
        return None
    from types import SimpleNamespace

    return SimpleNamespace(**values)  # type: ignore[return-value]  # the same attributes as argparse.Namespace


def _options(ns: argparse.Namespace, *, interactive: bool) -> RunOptions:
    from ..run.runner import parse_offline

    return RunOptions(memory_limit=ns.memory_limit, cpu_limit=ns.cpu_limit, force=ns.force,
                      offline=None if ns.offline is None else parse_offline(ns.offline), surface=ns.surface,
                      progress=interactive and not ns.json)


def _render_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    import json

    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def _usage_failure(ns: argparse.Namespace, message: str) -> int:
    if ns.json:
        import json

        from ..run.envelope import Envelope

        env = Envelope(success=False, error=message)
        sys.stdout.write(json.dumps(env.to_dict(), ensure_ascii=False) + "\n")
    sys.stderr.write(f"kosmo: {message}\n")
    return 2


def _read_code(ns: argparse.Namespace) -> tuple[str, str] | str:
    """(code, chunkname), or an error message for a usage failure."""
    if ns.code is not None:
        if ns.file:
            return "give either --eval CODE or FILE, not both"
        return ns.code, "=(eval)"
    if ns.file and ns.file != "-":
        try:
            with open(ns.file, "rb") as handle:
                return _lua_text(handle.read()), "@" + ns.file
        except FileNotFoundError:
            return f"no such file: {ns.file}"
        except IsADirectoryError:
            return f"{ns.file} is a directory, not a Lua file"
        except OSError as exc:
            return f"cannot read {ns.file}: {exc.strerror}"
    if ns.file == "-" or not sys.stdin.isatty():
        data = sys.stdin.buffer.read()
        if not data.strip() and ns.file != "-":
            return "no code given: pass --eval CODE, a FILE, pipe code on standard input, or use --repl"
        return _lua_text(data), "=(stdin)"
    return "no code given: pass --eval CODE, a FILE, pipe code on standard input, or use --repl"


def _lua_text(data: bytes) -> str:
    """Lua source is bytes: a string literal may hold any byte, so code that is not UTF-8 is still a script.
    surrogateescape keeps every byte, and the sandbox turns the text back into exactly those bytes."""
    return data.decode("utf-8", "surrogateescape")


def run(ns: argparse.Namespace) -> int:
    from ..errors import UsageError
    from ..run.runner import ScriptRunner

    if ns.repl:
        return _repl(ns)
    got = _read_code(ns)
    if isinstance(got, str):
        return _usage_failure(ns, got)
    code, chunkname = got
    if code.startswith("#!"):
        code = "--" + code  # a shebang line keeps line numbers right
    try:
        options = _options(ns, interactive=sys.stderr.isatty())
        runner = ScriptRunner(options)
    except UsageError as exc:
        return _usage_failure(ns, str(exc))

    def live(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    with runner:
        # json (with the re and enum it imports) costs ~9 ms: load it while the worker runs the chunk.
        envelope = runner.run(code, chunkname, on_output=None if ns.json else live,
                              meanwhile=_load_json if ns.json else None)
    return print_envelope(envelope, as_json=ns.json)


def _load_json() -> None:
    """Import json for print_envelope ahead of time."""
    import importlib

    importlib.import_module("json")


def print_envelope(envelope: Envelope, *, as_json: bool) -> int:
    """The end of a run: one JSON object, or the return values then the error on stderr. Returns the exit code."""
    if as_json:
        import json

        sys.stdout.write(json.dumps(envelope.to_dict(), ensure_ascii=False) + "\n")
    else:
        for value in envelope.result:
            sys.stdout.write(_render_value(value) + "\n")
        if envelope.error:
            sys.stderr.write(f"error: {envelope.error}\n")
    sys.stdout.flush()
    return envelope.exit_code


# -- REPL ------------------------------------------------------------------------------------------------------------

REPL_BANNER = "kosmo Lua 5.4 REPL: state is kept between lines; :quit (or Ctrl-D) exits, :help for help."
REPL_HELP = """\
Type Lua statements or expressions; an expression's value is printed. An incomplete statement continues on the
next line. Everything a script can use is here: app.integrations, docs, json, regex, dump, sleep.
  :quit, :q    leave
  :help        this text
  :reset       start over with a fresh sandbox
"""


def _repl(ns: argparse.Namespace, stdin: TextIO | None = None) -> int:
    from ..run.runner import ScriptRunner

    import io

    stdin = stdin or sys.stdin
    if isinstance(stdin, io.TextIOWrapper):
        # A line that is not UTF-8 is still Lua (strings hold bytes): keep its bytes instead of failing to read.
        stdin.reconfigure(errors="surrogateescape")
    interactive = stdin.isatty()
    options = _options(ns, interactive=interactive)
    out = sys.stdout

    def prompt(text: str) -> None:
        if interactive:
            sys.stderr.write(text)
            sys.stderr.flush()

    if interactive:
        sys.stderr.write(REPL_BANNER + "\n")
    runner = ScriptRunner(options, keep_state=True)
    buffer: list[str] = []
    failures = 0
    try:
        while True:
            prompt(">> " if buffer else "> ")
            line = stdin.readline()
            if not line:
                break
            line = line.rstrip("\n")
            stripped = line.strip()
            if not buffer and stripped in (":quit", ":q", ":exit"):
                break
            if not buffer and stripped == ":help":
                out.write(REPL_HELP)
                continue
            if not buffer and stripped == ":reset":
                runner.close()
                runner = ScriptRunner(options, keep_state=True)
                out.write("sandbox reset\n")
                continue
            if not buffer and not stripped:
                continue
            buffer.append(line)
            source = "\n".join(buffer)

            def live(text: str) -> None:
                out.write(text + "\n")
                out.flush()

            env = runner.run(source, "=stdin", on_output=live, mode="repl")
            if env.meta.get("incomplete"):
                continue  # keep reading: the statement is not finished
            buffer = []
            if env.meta.get("state_reset"):
                sys.stderr.write("note: the previous state was lost (a hard limit stopped the worker)\n")
            if env.success:
                for value in env.result:
                    out.write(("nil" if value is None else _render_value(value)) + "\n")
            else:
                failures += 1
                sys.stderr.write(f"error: {env.error}\n")
            out.flush()
    finally:
        runner.close()
    if buffer:
        sys.stderr.write("error: incomplete statement at end of input\n")
        return 1
    return 0
