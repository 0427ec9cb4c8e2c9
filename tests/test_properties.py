"""Generated bad input: whatever a script passes, every function answers with a success or a Lua error value.

Random Lua values (built as Lua source: nil, booleans, integers and floats incl. huge ones and NaN, strings with odd
bytes and escapes, nested tables, arrays with holes, json.null, functions, coroutines, tables with hostile
metatables, cycles) go to every operation and helper of every bundled integration (offline and --force, so nothing
real is called), to json.encode/decode, every regex function (random patterns and flags) and docs.read/search/list.
Each call is wrapped in pcall inside one script per example; the script returns what happened to every call, and
the test checks that each failure is a string or a table with a message, never "internal error", a Python
traceback, a limit, a hang or a crash. Random bytes go to `kosmo integrations:lua -` on standard input too.

Profiles: "kosmo-dev" (default: random, modest example counts), "kosmo-ci" (derandomized; chosen when CI is set)
and "kosmo-long" (a bug hunt); HYPOTHESIS_PROFILE picks one explicitly.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from _kosmo_run import assert_no_crash, clean_env, envelope, kosmo
from kosmo_lua.registry import discover, get_loaded
from kosmo_lua.run.runner import RunOptions, ScriptRunner

_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                        HealthCheck.function_scoped_fixture])
settings.register_profile("kosmo-dev", max_examples=12, **_COMMON)
settings.register_profile("kosmo-ci", max_examples=12, derandomize=True, print_blob=True, **_COMMON)
settings.register_profile("kosmo-long", max_examples=300, **_COMMON)  # a bug hunt: HYPOTHESIS_PROFILE=kosmo-long
# Scoped to this module's tests (a decorator, not load_profile), so other files' hypothesis settings are untouched.
_PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or ("kosmo-ci" if os.environ.get("CI") else "kosmo-dev")
_BASE = settings.get_profile(_PROFILE if _PROFILE.startswith("kosmo-") else "kosmo-dev")
# A batch example is one script of ~60 labelled calls: every draw is printed on failure, and shrinking a batch
# costs minutes of worker runs for little gain, so the batch properties skip the shrink phase.
examples = settings(_BASE, phases=[Phase.explicit, Phase.reuse, Phase.generate])

# -- Lua source for random values -----------------------------------------------------------------------------------

_LUA_KEYWORDS = {"and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if", "in",
                 "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while"}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SIMPLE_ESCAPES = ["\\a", "\\b", "\\f", "\\n", "\\r", "\\t", "\\v", "\\\\", '\\"', "\\'", "\\z  ", "\\0",
                   "\\u{0}", "\\u{7F}", "\\u{E9}", "\\u{FFFF}", "\\u{10FFFF}", "\\u{110000}", "\\u{7FFFFFFF}",
                   "\\xff", "\\xC3\\x28", "\\xED\\xA0\\x80", "\\255\\254", "\\1\\2\\3"]


def _byte_literal(data: bytes, style: int) -> str:
    if style == 0:
        return '"' + "".join(f"\\{b}" for b in data) + '"'
    out = []
    for b in data:
        ch = chr(b)
        out.append(ch if 0x20 <= b < 0x7F and ch not in '"\\' else f"\\x{b:02x}")
    return '"' + "".join(out) + '"'


def _long_bracket(text: str) -> str:
    level = 0
    while f"]{'=' * level}]" in text + "]":  # a trailing "]" would close the bracket early
        level += 1
    return f"[{'=' * level}[{text}]{'=' * level}]"


lua_strings = st.one_of(
    st.tuples(st.binary(max_size=24), st.integers(0, 1)).map(lambda t: _byte_literal(*t)),
    st.lists(st.one_of(st.sampled_from(_SIMPLE_ESCAPES), st.sampled_from(list("ab %$/.{}[]()\\-é"))),
             max_size=10).map(lambda parts: '"' + "".join(p if p != "\\" else "\\\\" for p in parts) + '"'),
    st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\r"),
            max_size=12).map(_long_bracket),
    st.sampled_from(['""', '" "', '"\\n"', '"/etc/passwd"', '"../../../etc/passwd"', '"C:\\\\x"', '"env:HOME"',
                     '"${HOME}"', '"null"', '"{\\"a\\": 1}"', '"[1,2"', '"nan"', '"1e309"', '"-0"', '"wait=60"',
                     '"https://example.com/x?y=1"', '"http://127.0.0.1:1/"', '"owner/name"', '"owner/name:abc"',
                     '"a\\0b"', '"%s%d%n"', '"\'; DROP TABLE x; --"', '"\\u{202E}evil"',
                     'string.rep("ab", 30000)', 'string.rep("\\255", 5000)']),
)

lua_numbers = st.one_of(
    st.integers(-(2**63) + 1, 2**63 - 1).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["math.mininteger", "math.maxinteger", "math.huge", "-math.huge", "0/0", "-(0/0)", "1e308",
                     "-1e308", "1e308 * 10", "2^53", "2^53 + 1", "2^63", "-(2^63)", "-0.0", "0.1", "5e-324",
                     "0", "1", "-1", "3", "60", "4096", "0x7fffffffffffffff", "0xffffffffffffffff"]),
)

lua_specials = st.sampled_from([
    "nil", "true", "false", "json.null", "json.array({})", "json.array({1, 2})", "json.array({json.null})",
    "function() end", "function() error('user-boom') end", "function() return {} end",
    "function(m) return m and m[1] end", "function() return 1.5 end", "function() return true end",
    "coroutine.create(function() end)", "coroutine.running()", "print", "sleep", "app.integrations",
    "app.integrations.replicate", "json", "regex", "docs", "app", "_G", "string",
    "setmetatable({}, {__index = function() error('user-boom') end})",
    "setmetatable({}, {__len = function() error('user-boom') end})",
    "setmetatable({}, {__pairs = function() error('user-boom') end})",
    "setmetatable({1, 2}, {__tostring = function() error('user-boom') end})",
    "setmetatable({}, {__metatable = 'locked'})",
    "(function() local t = {} t.self = t return t end)()",
    "(function() local t = {} t[1] = t return t end)()",
    "(function() local t = {} for i = 1, 250 do t = {t} end return t end)()",
    "(function() local t = {} for i = 1, 5000 do t[i] = i end return t end)()",
    "(function() local t = {} for i = 1, 300 do t['k' .. i] = {i} end return t end)()",
    "{[1e9] = 1}", "{[1] = 1, [3] = 3}", "{1, nil, 3}", "{nil, nil, 1}", "{[0] = 'zero'}", "{[-1] = 1}",
    "{[1.5] = 1}", "{[2^53] = 1}", "{[0/0 ~= 0/0 and 1 or 2] = 1}", "{[true] = 1}", "{[{}] = 1}",
    "{[print] = 1}", "{n = 3}", "{{}}", "{json.null, json.null}", "{[''] = 1}", "{['\\0'] = 1}",
    "{['\\255'] = 1}", "{content = '\\137PNG\\r\\n', filename = '../x.png'}", "{path = '/etc/passwd'}",
    "{body_base64 = '!!!', content_type = 'image/png'}", "{body = 'x', content_type = 'text/plain'}",
])


def _key_source(key: str) -> str:
    if _IDENT.match(key) and key not in _LUA_KEYWORDS:
        return key
    return "[" + json.dumps(key) + "]"


def lua_values(keys: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    leaves = st.one_of(lua_specials, lua_numbers, lua_strings)

    def extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        arrays = st.lists(children, max_size=5).map(lambda xs: "{" + ", ".join(xs) + "}")
        records = st.lists(st.tuples(keys, children), max_size=5).map(
            lambda kvs: "{" + ", ".join(f"{_key_source(k)} = {v}" for k, v in kvs) + "}")
        odd_keys = st.lists(st.tuples(st.one_of(lua_numbers, lua_strings, st.just("true")), children),
                            max_size=3).map(lambda kvs: "{" + ", ".join(f"[ {k} ] = {v}" for k, v in kvs) + "}")
        return st.one_of(arrays, records, odd_keys)

    return st.recursive(leaves, extend, max_leaves=8)


# -- the script that probes every call and reports what happened --------------------------------------------------

PROBE = r"""
local R = {}
local function probe(label, f, ...)
  local args = table.pack(...)
  local ok, e = pcall(function() return f(table.unpack(args, 1, args.n)) end)
  local r = {label = label, ok = ok}
  if not ok then
    r.etype = type(e)
    if type(e) == "table" then
      r.message = e.message
      local okt, text = pcall(tostring, e)
      r.text = okt and text or nil
    else
      r.text = tostring(e)
    end
  end
  R[#R + 1] = r
end
local function value(make) local ok, v = pcall(make) if ok then return v end return nil end
"""

_BAD_TEXT = ("internal error", "Traceback", "object at 0x", "lupa.", "_lupa", "LuaError", "<Python", "python")


def _text(value: Any) -> Any:
    """A result string that was not UTF-8 comes back as {"base64": ...}: decode it for the checks."""
    if isinstance(value, dict) and "base64" in value:
        return base64.b64decode(value["base64"]).decode("utf-8", "replace")
    return value


def check_probes(data: Any, expected: int) -> None:
    """Every probed call succeeded or failed with a plain Lua error value carrying a message."""
    assert data.success, f"the script itself failed: {data.error}"
    (results,) = data.result
    assert len(results) == expected
    for r in results:
        label = _text(r["label"])
        if r["ok"]:
            continue
        text, message = _text(r.get("text")), _text(r.get("message"))
        assert r["etype"] in ("string", "table"), (label, r)
        if "user-boom" in str(text):
            continue  # the script's own function raised: its error travels through unchanged
        if r["etype"] == "table":
            assert isinstance(message, str) and message.strip(), (label, r)
        assert isinstance(text, str) and text.strip(), (label, r)
        for bad in _BAD_TEXT:
            assert bad not in text and bad not in str(message), (label, r)


# -- what gets called -------------------------------------------------------------------------------------------------

def _lua_literal(value: Any) -> str:
    """Lua source for plain Python data (enum values, plausible strings)."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, bytes):
        return _byte_literal(value, 1)
    if isinstance(value, str):
        return _byte_literal(value.encode(), 1)
    if isinstance(value, (list, tuple)):
        return "{" + ", ".join(_lua_literal(v) for v in value) + "}"
    return "{" + ", ".join(f"{_key_source(str(k))} = {_lua_literal(v)}" for k, v in value.items()) + "}"


def _plausible_strings() -> list[str]:
    """Names the emulators know (seed models, versions, hardware...): random calls get past a 404 often enough to
    reach the request builder, the emulator and the response parser with odd values in the other fields."""
    import hashlib

    from kosmo_lua.emulate.media import tiny_png

    refs = ["black-forest-labs/flux-schnell", "stability-ai/sdxl", "replicate/hello-world",
            "meta/meta-llama-3-8b-instruct"]
    words = ["black-forest-labs", "flux-schnell", "stability-ai", "sdxl", "replicate", "hello-world", "meta",
             "text-to-image", "official", "cpu", "gpu-t4", "wait", "wait=1", "90s", "5m", "png", "jpeg", "webp",
             "1:1", "16:9", "public", "private", "asc", "desc", "created_at", "application/json", "image/*",
             "video", "upscale", "result", "start", "completed", "a red bicycle", "https://example.com/hook",
             "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "v1,bad"]
    versions = [hashlib.sha256(f"{ref}:{n}".encode()).hexdigest() for ref in refs for n in (1, 2)]
    return [_lua_literal(w) for w in [*refs, *words, *versions, *(f"{r}:{v}" for r, v in zip(refs, versions))]] \
        + [_lua_literal({"content": tiny_png(b"abc"), "filename": "in.png"}), _lua_literal(tiny_png(b"xyz", 64, 64))]


PLAUSIBLE = st.sampled_from(_plausible_strings())


def _typed(type_: str, enum: tuple[Any, ...] = (), items_enum: tuple[Any, ...] = ()) -> st.SearchStrategy[str]:
    """Mostly a value of the declared type (often a plausible one), sometimes anything at all."""
    anything = lua_values(st.sampled_from(_ALL_KEYS))
    kind = type_.split("|")[0].split(" ")[0]
    typed = {
        "string": st.one_of(PLAUSIBLE, PLAUSIBLE, lua_strings),
        "integer": st.one_of(st.integers(-3, 70).map(str), lua_numbers),
        "number": st.one_of(st.floats(-10, 100).map(repr), lua_numbers),
        "boolean": st.sampled_from(["true", "false"]),
        "array": st.lists(st.one_of(PLAUSIBLE, lua_numbers, st.sampled_from([_lua_literal(e) for e in items_enum]
                                                                           or ['"x"'])), max_size=4).map(
            lambda xs: "{" + ", ".join(xs) + "}"),
        "object": st.one_of(st.just("{}"), st.lists(st.tuples(st.sampled_from(_ALL_KEYS), st.one_of(
            PLAUSIBLE, lua_numbers, anything)), max_size=4).map(
            lambda kvs: "{" + ", ".join(f"{_key_source(k)} = {v}" for k, v in kvs) + "}")),
        "table": anything,
        "binary": st.one_of(PLAUSIBLE, lua_strings),
    }.get(kind, anything)
    options = [typed, typed, typed, anything]
    if enum:
        options += [st.sampled_from([_lua_literal(e) for e in enum])] * 3
    return st.one_of(options)


def _targets() -> list[tuple[str, str, list[tuple[str, bool, st.SearchStrategy[str]]]]]:
    """(integration, function, [(argument, required, value strategy)]) for every operation and helper."""
    import yaml

    from kosmo_lua.ops.validate import ENGINE_ARGUMENTS, engine_argument_names

    out = []
    for name in sorted(discover()):
        loaded = get_loaded(name)
        for op in loaded.table.operations:
            args = [(p.lua_name, p.required, p.type, p.enum, ()) for p in op.params]
            if op.body is not None:
                args += [(f.name, f.required, f.type, f.enum, f.items_enum) for f in op.body.fields]
                args.append(("body", False, "any", (), ()))
            args += [(n, False, ENGINE_ARGUMENTS[n][0], (), ()) for n in engine_argument_names(op.response)]
            out.append((name, op.name, args))
        helpers = loaded.info.folder / "helpers.yaml"
        if helpers.is_file():
            for h in (yaml.safe_load(helpers.read_text()) or {}).get("helpers", []):
                out.append((name, h["name"], [(p["name"], bool(p.get("required")), str(p.get("type", "any")), (), ())
                                              for p in h.get("params", [])]))
        if loaded.info.pagination.style != "none":
            out.append((name, "paginate", []))
    return out


_RAW_TARGETS = _targets()
_ALL_KEYS = sorted({a[0] for _, _, args in _RAW_TARGETS for a in args} | {"input", "prompt", "x", "id", "url"})
TARGETS = [(i, f, [(n, req, _typed(t, enum, items)) for n, req, t, enum, items in args])
           for i, f, args in _RAW_TARGETS]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("props")


@pytest.fixture(scope="module")
def runner(workdir: Path) -> Iterator[ScriptRunner]:
    old = os.environ.get("KOSMO_HOME")
    os.environ["KOSMO_HOME"] = str(workdir / "home")  # no user configuration leaks into the runs
    options = RunOptions(force=True, offline=True, cwd=str(workdir / "cwd"), cpu_limit=60)
    (workdir / "cwd").mkdir(exist_ok=True)
    with ScriptRunner(options) as r:
        yield r
    if old is None:
        os.environ.pop("KOSMO_HOME", None)
    else:
        os.environ["KOSMO_HOME"] = old


@st.composite
def _named_args(draw: st.DrawFn, args: list[tuple[str, bool, st.SearchStrategy[str]]]) -> str:
    """A table with every required argument (usually), some optional ones, and now and then a stranger."""
    chosen = []
    for name, required, values in args:
        keep = draw(st.integers(0, 19)) > 0 if required else draw(st.integers(0, 3)) == 0
        if keep:
            chosen.append((name, draw(values)))
    if draw(st.integers(0, 4)) == 0:
        chosen.append((draw(st.sampled_from(_ALL_KEYS)), draw(lua_values(st.sampled_from(_ALL_KEYS)))))
    return "{" + ", ".join(f"{_key_source(k)} = {v}" for k, v in chosen) + "}"


def _args_for(args: list[tuple[str, bool, st.SearchStrategy[str]]]) -> st.SearchStrategy[list[str]]:
    named = _named_args(args)
    whole = lua_values(st.sampled_from(_ALL_KEYS))
    # Mostly one table of arguments; sometimes another value, none, or two arguments (arity is input too).
    shapes = [named.map(lambda a: [a]), whole.map(lambda a: [a]), st.just([]), st.tuples(named, whole).map(list)]
    return st.sampled_from([0] * 12 + [1, 2, 3]).flatmap(lambda i: shapes[i])


@examples
@given(data=st.data())
def test_every_integration_function_survives_random_arguments(runner: ScriptRunner, data: st.DataObject) -> None:
    lines = [PROBE]
    for integration, function, arguments in TARGETS:
        args = data.draw(_args_for(arguments), label=f"{integration}.{function}")
        label = json.dumps(f"{integration}.{function}")
        made = ", ".join(f"value(function() return {a} end)" for a in args)
        lines.append(f"probe({label}, function(...) return app.integrations.{integration}.{function}(...) end"
                     f"{', ' + made if made else ''})")
    lines.append("return R")
    check_probes(runner.run("\n".join(lines), "=(props)"), len(TARGETS))


REGEX_ATOMS = ["a", "b", "é", ".", "*", "+", "?", "*?", "+?", "{2}", "{1,3}", "{,", "{", "}", "(", ")", "(?:",
               "(?<n>", "(?P<n>", "(?'n'", "\\k<n>", "\\k'n'", "\\k{n}", "(?P=n)", "\\1", "\\9", "[", "]", "[^",
               "[[:alpha:]]", "[[:bogus:]]", "[:digit:]", "|", "^", "$", "\\d", "\\w", "\\s", "\\b", "\\z", "\\Z",
               "\\A", "\\", "\\p{L}", "\\x{41}", "\\Q", "\\E", "(?i)", "(?x)", "(?=", "(?!", "(?<=", "(?<!",
               "(?#c)", "\\255", "\\0", "#", " ", "\\n", "(?", "(*", "\\g<1>", "\\K", "(?R)", "(?|", "++", "*+",
               "(?>", "\\u{41}", "%", "%d", "$1", "(a|a)*", "(a*)*"]


def _pattern(atoms: list[str]) -> str:
    # Atoms are Lua string-literal content: the backslashes above are Lua escapes or regex escapes spelled for Lua.
    return '"' + "".join(a.replace("\\", "\\\\") if a not in ("\\255", "\\0", "\\n") else a for a in atoms) + '"'


regex_patterns = st.one_of(st.lists(st.sampled_from(REGEX_ATOMS), max_size=8).map(_pattern),
                           lua_values(st.sampled_from(["x"])))
regex_subjects = st.one_of(st.text(alphabet="ab \né", max_size=14).map(lambda t: _byte_literal(t.encode(), 1)),
                           st.sampled_from(['"\\255ab\\0"', '""', 'string.rep("a", 14)', '"aaaaaaaaaaaaab"']),
                           lua_values(st.sampled_from(["x"])))
regex_flags = st.one_of(st.just("nil"), st.text(alphabet="imsxuUg1 ", max_size=4).map(lambda t: f'"{t}"'),
                        lua_values(st.sampled_from(["pretty"])))
replacements = st.one_of(st.sampled_from(['"%1"', '"$1"', '"\\\\1"', '"${n}"', '"$0"', '"%%"', '"$"', '"\\\\g<n>"',
                                          '"$10"', '"\\\\"', '"$$"', '"${"', '"x"']),
                         lua_values(st.sampled_from(["x"])))
any_value = lua_values(st.sampled_from(["pretty", "x", "a", "n", "1"]))


@examples
@given(data=st.data())
def test_json_regex_and_docs_survive_random_arguments(runner: ScriptRunner, data: st.DataObject) -> None:
    calls: list[tuple[str, str, list[str]]] = []
    for _ in range(6):
        v = data.draw(any_value, label="json value")
        calls += [("json.encode", "json.encode", [v]),
                  ("json.encode(opts)", "json.encode", [v, data.draw(any_value, label="options")]),
                  ("json.decode", "json.decode", [data.draw(st.one_of(lua_strings, any_value), label="text")]),
                  ("json round trip", "function(v) return json.decode(json.encode(v)) end", [v])]
    calls.append(("json.decode(deep)", "json.decode", ['string.rep("[", 100000)']))
    calls.append(("json.decode(deep object)", "json.decode", ['string.rep("{\\"a\\":", 50000)']))
    for fn in ("match", "match_all", "test", "find", "split", "gsub", "escape"):
        for _ in range(3):
            subject, pattern = data.draw(regex_subjects, label="subject"), data.draw(regex_patterns, label="pattern")
            third = {"gsub": replacements, "find": regex_flags, "split": any_value}.get(fn, regex_flags)
            args = [subject, pattern, data.draw(third, label="arg3")]
            if fn in ("gsub", "find", "split"):
                args.append(data.draw(st.one_of(any_value, regex_flags), label="arg4"))
            if fn == "gsub":
                args.append(data.draw(regex_flags, label="flags"))
            args = args[:data.draw(st.integers(0, len(args) + 1), label="arity")] if fn != "escape" else [subject]
            calls.append((f"regex.{fn}", f"regex.{fn}", args))
    for _ in range(3):
        calls += [("docs.read", "docs.read", [data.draw(st.one_of(lua_strings, any_value), label="page")]),
                  ("docs.search", "docs.search", [data.draw(st.one_of(lua_strings, any_value), label="query"),
                                                  data.draw(st.one_of(lua_numbers, any_value), label="limit")]),
                  ("docs.list", "docs.list", [data.draw(st.one_of(lua_strings, any_value), label="namespace")])]
    lines = [PROBE]
    for label, fn, args in calls:
        made = ", ".join(f"value(function() return {a} end)" for a in args)
        lines.append(f"probe({json.dumps(label)}, {fn}{', ' + made if made else ''})")
    lines.append("return R")
    check_probes(runner.run("\n".join(lines), "=(props)"), len(calls))


def test_every_docs_page_reads_and_every_search_term_answers(runner: ScriptRunner) -> None:
    code = PROBE + """
for _, page in ipairs(docs.list()) do
  probe(page.name, docs.read, page.name)
  probe("search " .. page.name, docs.search, page.name, 3)
  probe("list " .. page.name, docs.list, page.name)
end
return R"""
    data = runner.run(code, "=(docs)")
    assert data.success, data.error
    check_probes(data, len(data.result[0]))
    assert all(r["ok"] for r in data.result[0] if not r["label"].startswith("list ")), data.result[0]


# -- random bytes as a whole script, through the CLI -------------------------------------------------------------

SCRIPT_BYTES = st.one_of(
    st.binary(max_size=200),
    st.lists(st.sampled_from([b"return ", b"local x = ", b"{", b"}", b"(", b")", b"'", b'"', b"[[", b"]]", b"--",
                              b"\xff", b"\x00", b"\x1bLua", b"\xef\xbb\xbf", b"#!", b"\n", b"error(", b"json.null",
                              b"app.integrations.", b"function", b"end", b"goto", b"::a::", b"1e999", b"0/0",
                              b"string.rep('x', 1e9)", b"while true do end", b"\\", b"\r\n", b"..", b"print("]),
             max_size=20).map(b"".join),
)


@pytest.fixture(scope="module")
def cli_env(workdir: Path) -> dict[str, str]:
    return clean_env({"KOSMO_HOME": str(workdir / "home")})


def _run_bytes(script: bytes, env: dict[str, str], cwd: Path) -> None:
    proc = kosmo("integrations:lua", "-", "--json", "--offline", "--cpu-limit", "2", "--memory-limit", "8MiB",
                 env=env, cwd=cwd, stdin=script, timeout=60)
    assert proc.returncode in (0, 1), (script, proc.returncode, proc.stderr)
    assert_no_crash(proc.stdout, proc.stderr)
    data = envelope(proc)
    assert data["success"] is (proc.returncode == 0)
    if not data["success"]:
        assert isinstance(data["error"], str) and data["error"].strip()


@pytest.mark.parametrize("script", [
    b"", b"\xff\xfe\x00", b"\x1bLua\x54\x00\x19\x93\r\n\x1a\n", b"\xef\xbb\xbfreturn 1",
    b"#!/usr/bin/env kosmo\nreturn 2",
    b"return '\xff\xc3\x28'", b"return \"\\u{7FFFFFFF}\"", b"\x00\x00\x00", b"return 1 --\xff",
    b"x = '" + bytes(range(256)).replace(b"'", b"").replace(b"\\", b"").replace(b"\n", b"").replace(b"\r", b"") + b"'",
], ids=lambda s: repr(s[:12]))
def test_fixed_odd_scripts_on_stdin(script: bytes, cli_env: dict[str, str], workdir: Path) -> None:
    _run_bytes(script, cli_env, workdir)


def test_a_script_file_that_is_not_utf8_runs(cli_env: dict[str, str], workdir: Path) -> None:
    """Lua source is bytes: a Latin-1 string literal is a valid script, read from a file as from stdin."""
    (workdir / "latin1.lua").write_bytes(b'local s = "caf\xe9"\nreturn #s, s == "caf\\233"')
    proc = kosmo("integrations:lua", "latin1.lua", "--json", env=cli_env, cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    assert envelope(proc)["result"] == [4, True]


@settings(_BASE, max_examples=8)
@given(script=SCRIPT_BYTES)
def test_random_bytes_on_stdin_give_an_envelope(script: bytes, cli_env: dict[str, str], workdir: Path) -> None:
    _run_bytes(script, cli_env, workdir)
