"""Escape attempts against the sandbox. Each one must fail: a script reaches nothing but its whitelist."""

from __future__ import annotations

from typing import Any

import pytest

from kosmo_lua.errors import CallError, CpuLimitExceeded, LuaRuntimeError, MemoryLimitExceeded, UsageError
from kosmo_lua.sandbox.runtime import Function, Namespace, Sandbox

SECRET = "sk-secret-9f8e7d"


def _boom(*args: Any) -> None:
    raise RuntimeError(f"token {SECRET} in /etc/passwd")


def _refuse(*args: Any) -> None:
    raise CallError("t.refuse: not today", code=7)


@pytest.fixture
def sb() -> Sandbox:
    lines: list[str] = []
    box = Sandbox(memory_limit=8 * 1024 * 1024, cpu_limit=2.0, output=lines.append)
    box.lines = lines  # type: ignore[attr-defined]
    box.register("t.echo", lambda *a: a)
    box.register("t.boom", _boom)
    box.register("t.refuse", _refuse)
    box.register("t.obj", lambda: {"nested": {"list": [1, 2]}, "flag": True})

    def demo(key: str) -> Function | None:
        return Function(lambda *a: "thing") if key == "get_thing" else None

    def root(key: str) -> Namespace | None:
        return Namespace(demo, lambda: ["get_thing"]) if key == "demo" else None

    box.lazy_namespace("app.integrations", root, lambda: ["demo"])
    box.install_lua("lib.use_echo", "local echo = host['t.echo'] return function(x) return echo(x) end", "=lib")
    box.install_lua("lib.fmt", "return function(x) return string.format('%d!', x) end", "=lib")
    return box


def run(sb: Sandbox, code: str) -> list[Any]:
    return sb.execute(code)


# -- no Python, no lupa ----------------------------------------------------------------------------------------------

def test_no_python_global(sb: Sandbox) -> None:
    assert run(sb, "return python, _G.python, rawget(_G, 'python')") == [None, None, None]


def test_python_eval_unreachable(sb: Sandbox) -> None:
    with pytest.raises(LuaRuntimeError, match="global 'python'"):
        run(sb, "return python.eval('1')")


def test_host_functions_are_lua_functions(sb: Sandbox) -> None:
    assert run(sb, "return type(t.echo), getmetatable(t.echo), tostring(t.echo):match('^function: ') ~= nil") == [
        "function", None, True]


def test_attribute_chain_on_host_function_fails(sb: Sandbox) -> None:
    with pytest.raises(LuaRuntimeError, match="attempt to index a function value"):
        run(sb, "return t.echo.__globals__")


def test_attribute_chains_on_returned_values_find_nothing(sb: Sandbox) -> None:
    code = """
    local o = t.obj()
    return type(o), getmetatable(o), o.__class__, o.nested.__dict__, type(o.nested.list),
           getmetatable(o.nested), rawget(o, '__init__')
    """
    assert run(sb, code) == ["table", None, None, None, "table", None, None]


def test_echoed_values_are_plain_lua(sb: Sandbox) -> None:
    code = """
    local a, b, c = t.echo('s', 1, {x = {1, 2}})
    return type(a), type(b), type(c), type(c.x), getmetatable(c.x)
    """
    assert run(sb, code) == ["string", "number", "table", "table", "array"]


def test_exception_object_never_reaches_lua(sb: Sandbox) -> None:
    code = "local ok, e = pcall(t.boom) return ok, type(e), e"
    ok, kind, message = run(sb, code)
    assert (ok, kind, message) == (False, "string", "t.boom: internal error (RuntimeError)")
    assert SECRET not in repr(run(sb, "local ok, e = pcall(t.boom, 1, 2) return e"))


def test_exception_traceback_unreachable(sb: Sandbox) -> None:
    # e is a string: indexing it reaches the (dump-less) string library and nothing else.
    assert run(sb, "local ok, e = pcall(t.boom) return e.__traceback__, e.__class__, e.dump") == [None] * 3


def test_call_error_is_plain_table_with_locked_metatable(sb: Sandbox) -> None:
    code = """
    local ok, e = pcall(t.refuse)
    local keys = {}
    for k, v in pairs(e) do keys[#keys + 1] = k .. '=' .. type(v) end
    table.sort(keys)
    return ok, type(e), tostring(e), e.message, e.code, getmetatable(e), table.concat(keys, ',')
    """
    assert run(sb, code) == [False, "table", "t.refuse: not today", "t.refuse: not today", 7, False,
                             "code=number,message=string"]


def test_setmetatable_on_error_value_refused(sb: Sandbox) -> None:
    with pytest.raises(LuaRuntimeError, match="protected metatable"):
        run(sb, "local ok, e = pcall(t.refuse) setmetatable(e, {})")


def test_nothing_reachable_is_userdata(sb: Sandbox) -> None:
    code = """
    local seen, count = {}, {}
    local function walk(v, depth)
      local kind = type(v)
      count[kind] = (count[kind] or 0) + 1
      if depth > 12 then return end
      if kind == 'table' then
        if seen[v] then return end
        seen[v] = true
        for k, x in pairs(v) do walk(k, depth + 1) walk(x, depth + 1) end
      end
      local mt = getmetatable(v)
      if mt ~= nil then walk(mt, depth + 1) end
    end
    local ok, e = pcall(t.refuse)
    walk(_G, 0) walk(e, 0) walk(t.obj(), 0) walk(app.integrations.demo, 0) walk('', 0) walk(json.null, 0)
    walk(app.integrations.demo.get_thing, 0) walk({t.echo({1}, {a = 1})}, 0)
    return count.userdata or 0, count.thread or 0, count.table > 10
    """
    assert run(sb, code) == [0, 0, True]


# -- metatables ------------------------------------------------------------------------------------------------------

def test_json_null_metatable_is_locked(sb: Sandbox) -> None:
    assert run(sb, "return getmetatable(json.null), tostring(json.null)") == ["null", "null"]
    with pytest.raises(LuaRuntimeError, match="attempt to index a nil value"):
        run(sb, "getmetatable(json.null).__index.x = 1")  # "null" is a string: no __index to reach
    with pytest.raises(LuaRuntimeError, match="protected metatable"):
        run(sb, "setmetatable(json.null, nil)")
    with pytest.raises(LuaRuntimeError, match="read-only"):
        run(sb, "json.null.x = 1")


def test_namespace_metatable_is_locked(sb: Sandbox) -> None:
    assert run(sb, "return getmetatable(app.integrations)") == ["namespace"]
    with pytest.raises(LuaRuntimeError, match="protected metatable"):
        run(sb, "setmetatable(app.integrations, {})")


def test_string_metatable_locked(sb: Sandbox) -> None:
    assert run(sb, "return getmetatable('')") == [False]
    with pytest.raises(LuaRuntimeError, match="attempt to index a boolean value"):
        run(sb, "getmetatable('').__index = {upper = function() return 'pwned' end}")
    with pytest.raises(LuaRuntimeError, match="table expected"):
        run(sb, "setmetatable('', {})")
    assert run(sb, "return ('x'):upper()") == ["X"]


def test_string_library_copy_cannot_change_methods(sb: Sandbox) -> None:
    assert run(sb, "string.upper = function() return 'pwned' end return ('x'):upper(), string.upper('x')") == [
        "X", "pwned"]


def test_string_dump_is_gone(sb: Sandbox) -> None:
    assert run(sb, "return string.dump, ('').dump, ('x').dump") == [None, None, None]
    with pytest.raises(LuaRuntimeError, match="attempt to call a nil value"):
        run(sb, "return string.dump(print)")


def test_gc_metamethod_refused(sb: Sandbox) -> None:
    with pytest.raises(LuaRuntimeError, match="__gc or __close are not allowed"):
        run(sb, "setmetatable({}, {__gc = function() while true do end end})")


def test_close_metamethod_refused(sb: Sandbox) -> None:
    with pytest.raises(LuaRuntimeError, match="__gc or __close are not allowed"):
        run(sb, "local x <close> = setmetatable({}, {__close = function() end})")
    with pytest.raises(LuaRuntimeError, match="non-closable value"):
        run(sb, "local x <close> = {}")


def test_getmetatable_of_host_values_never_a_lupa_table(sb: Sandbox) -> None:
    code = "return getmetatable(t.echo), getmetatable(t.obj), getmetatable(print), getmetatable(sleep)"
    assert run(sb, code) == [None, None, None, None]


# -- loading code --------------------------------------------------------------------------------------------------

def test_binary_chunk_refused(sb: Sandbox) -> None:
    code = r"""
    local bytecode = "\27Lua\84\0\25\147\13\10\26\10\4\8\8\120\86\0\0\0\0\0\0\0\0\0\0\0\40\119\64\1"
    local f1, e1 = load(bytecode)
    local f2, e2 = load(bytecode, "x", "b")
    local f3, e3 = load(bytecode, "x", "bt")
    return f1, e1, f2, e2, f3, e3
    """
    f1, e1, f2, e2, f3, e3 = run(sb, code)
    assert f1 is None and "binary chunk" in e1
    assert f2 is None and "only text chunks" in e2
    assert f3 is None and "binary chunk" in e3


def test_load_reader_function_refused(sb: Sandbox) -> None:
    with pytest.raises(LuaRuntimeError, match="load: chunk: expected a string"):
        run(sb, "load(function() return nil end)")


def test_load_custom_env_reaches_nothing_hidden(sb: Sandbox) -> None:
    code = """
    local f = load("return host, kosmo, python, debug, io, package, require, _G", "x", "t", {})
    return f()
    """
    result = run(sb, code)
    assert result[:7] == [None] * 7 and result[7] is None


def test_load_nil_env_has_no_globals(sb: Sandbox) -> None:
    with pytest.raises(LuaRuntimeError, match="upvalue '_ENV'"):
        run(sb, "local f = load('return print', 'x', 't', nil) return f()")


def test_load_default_env_is_the_script_env(sb: Sandbox) -> None:
    assert run(sb, "marker = 5 return load('return marker, host, kosmo')()") == [5, None, None]


def test_dofile_loadfile_require_gone(sb: Sandbox) -> None:
    assert run(sb, "return dofile, loadfile, require, package, module") == [None] * 5


# -- operating system ----------------------------------------------------------------------------------------------

def test_io_gone(sb: Sandbox) -> None:
    with pytest.raises(LuaRuntimeError, match="global 'io'"):
        run(sb, "return io.open('/etc/passwd')")


def test_os_only_has_time_functions(sb: Sandbox) -> None:
    code = """
    local names = {}
    for k in pairs(os) do names[#names + 1] = k end
    table.sort(names)
    return table.concat(names, ','), os.execute, os.getenv, os.exit, os.remove, os.rename, os.tmpname
    """
    assert run(sb, code) == ["clock,date,difftime,time", None, None, None, None, None, None]


def test_os_execute_fails(sb: Sandbox) -> None:
    with pytest.raises(LuaRuntimeError, match="attempt to call a nil value"):
        run(sb, "os.execute('touch /tmp/kosmo-escape')")


def test_package_loadlib_unreachable(sb: Sandbox) -> None:
    with pytest.raises(LuaRuntimeError, match="global 'package'"):
        run(sb, "return package.loadlib('libc.so.6', 'system')")


def test_debug_gone(sb: Sandbox) -> None:
    assert run(sb, "return debug, coroutine.sethook, string.sethook") == [None, None, None]
    with pytest.raises(LuaRuntimeError, match="global 'debug'"):
        run(sb, "return debug.getregistry()")


def test_collectgarbage_gone(sb: Sandbox) -> None:
    assert run(sb, "return collectgarbage") == [None]


# -- privileged tables and library code ------------------------------------------------------------------------------

def test_host_and_kosmo_unreachable(sb: Sandbox) -> None:
    assert run(sb, "return host, kosmo, _G.host, _G.kosmo, _ENV.host") == [None] * 5


def test_library_code_unaffected_by_rawset_on_script_tables(sb: Sandbox) -> None:
    code = """
    rawset(t, 'echo', function() return 'hijacked' end)
    string.format = function() return 'hijacked' end
    return t.echo('x'), lib.use_echo('real'), lib.fmt(7)
    """
    assert run(sb, code) == ["hijacked", "real", "7!"]


def test_rawset_on_namespace_stays_local(sb: Sandbox) -> None:
    code = """
    rawset(app.integrations.demo, 'get_thing', function() return 'fake' end)
    rawset(app.integrations, 'other', 1)
    return app.integrations.demo.get_thing()
    """
    assert run(sb, code) == ["fake"]
    # Library code reaches host functions through `host`, which scripts cannot touch.
    assert run(sb, "rawset(t, 'echo', nil) return lib.use_echo('still real')") == ["still real"]


def test_metatable_on_globals_intercepts_nothing_privileged(sb: Sandbox) -> None:
    code = """
    local seen = {}
    setmetatable(_G, {__index = function(_, k) seen[#seen + 1] = k end,
                      __newindex = function(_, k) seen[#seen + 1] = k end})
    print('hello')
    local echoed = t.echo(1)
    local used = lib.use_echo(2)
    local f = lib.fmt(3)
    local thing = app.integrations.demo.get_thing()
    return #seen, echoed, used, f, thing
    """
    assert run(sb, code) == [0, 1, 2, "3!", "thing"]
    assert sb.lines == ["hello"]  # type: ignore[attr-defined]


def test_env_tricks_reach_nothing(sb: Sandbox) -> None:
    code = """
    local results = {}
    do
      local _ENV = setmetatable({}, {__index = function(_, k) return nil end})
      results[1] = host
      results[2] = python
    end
    local function f() local _ENV = {print = print} return tostring end
    results[3] = f()
    return _ENV == _G, results[1], results[2], results[3], _G._G == _G
    """
    assert run(sb, code) == [True, None, None, None, True]


def test_coroutine_library_has_no_hook_control(sb: Sandbox) -> None:
    code = """
    local names = {}
    for k in pairs(coroutine) do names[#names + 1] = k end
    table.sort(names)
    return table.concat(names, ',')
    """
    assert run(sb, code) == ["close,create,isyieldable,resume,running,status,wrap,yield"]


def test_coroutine_loop_cannot_escape_hook() -> None:
    box = Sandbox(cpu_limit=0.3)
    with pytest.raises(CpuLimitExceeded):
        box.execute("local co = coroutine.create(function() while true do end end) coroutine.resume(co)")
    with pytest.raises(CpuLimitExceeded):
        box.execute("coroutine.wrap(function() local co = coroutine.create(function() while true do end end) "
                    "while true do coroutine.resume(co) end end)()")


def test_functions_refused_as_host_arguments(sb: Sandbox) -> None:
    with pytest.raises(LuaRuntimeError, match=r"t\.echo: argument 2 \(at \.f\): cannot pass a function"):
        run(sb, "t.echo(1, {f = print})")
    with pytest.raises(LuaRuntimeError, match=r"t\.echo: argument 1: cannot pass a coroutine"):
        run(sb, "t.echo(coroutine.create(print))")


def test_hostile_tostring_on_error_is_still_limited() -> None:
    box = Sandbox(cpu_limit=0.3)
    with pytest.raises(CpuLimitExceeded):
        box.execute("error(setmetatable({}, {__tostring = function() while true do end end}))")


def test_hostile_eq_metamethod_not_run_by_conversion(sb: Sandbox) -> None:
    code = """
    local hits = 0
    local mt = {__eq = function() hits = hits + 1 return true end}
    local a = setmetatable({1}, mt)
    t.echo(a, json.array(setmetatable({}, nil)))
    return hits
    """
    assert run(sb, code) == [0]


def test_memory_error_not_catchable() -> None:
    box = Sandbox(memory_limit=1024 * 1024)
    with pytest.raises(MemoryLimitExceeded):
        box.execute("local ok = pcall(string.rep, 'x', 1e8) while true do end")


# -- the runtime's contract: what library code and the engine rely on ------------------------------------------------

def _namespace_box() -> tuple[Sandbox, list[str]]:
    calls: list[str] = []
    box = Sandbox()

    def replicate(key: str) -> Function | Namespace | None:
        calls.append(key)
        if key == "get_account":
            return Function(lambda *a: {"username": "me", "args": list(a)})
        if key == "work":
            return Namespace(replicate, lambda: ["get_account"])
        if key == "refuse":
            raise CallError("replicate: no credentials", kind="credentials")
        if key == "broken":
            raise KeyError(SECRET)
        return None

    def root(key: str) -> Namespace | None:
        return Namespace(replicate, lambda: ["get_account", "list_models", "work"]) if key == "replicate" else None

    box.lazy_namespace("app.integrations", root, lambda: ["replicate", "stability"])
    return box, calls


def test_lazy_namespace_builds_once_and_caches() -> None:
    box, calls = _namespace_box()
    code = """
    local a = app.integrations.replicate.get_account
    local b = app.integrations.replicate.get_account
    return a == b, a(1, 'x'), app.integrations.replicate.work.get_account().username
    """
    assert box.execute(code) == [True, {"username": "me", "args": [1, "x"]}, "me"]
    assert calls == ["get_account", "work", "get_account"]
    assert box.execute("local n = 0 for k in pairs(app.integrations.replicate) do n = n + 1 end return n") == [2]


def test_unknown_function_message_names_full_path_and_suggests() -> None:
    box, _ = _namespace_box()
    with pytest.raises(LuaRuntimeError) as info:
        box.execute("local x = 1\nreturn app.integrations.replicate.get_acount()", "@workflow.lua")
    assert str(info.value) == ("workflow.lua:2: Unknown function: app.integrations.replicate.get_acount. "
                               "Did you mean: get_account?")
    with pytest.raises(LuaRuntimeError, match=r"^\(eval\):1: Unknown function: app\.integrations\.zzz\.$"):
        box.execute("return app.integrations.zzz")
    assert box.execute("local ok, e = pcall(function() return app.integrations.replicat end) return e") == [
        "(eval):1: Unknown function: app.integrations.replicat. Did you mean: replicate?"]


def test_namespace_resolver_errors() -> None:
    box, _ = _namespace_box()
    assert box.execute("local ok, e = pcall(function() return app.integrations.replicate.refuse end) "
                       "return tostring(e), e.kind") == ["replicate: no credentials", "credentials"]
    with pytest.raises(LuaRuntimeError) as info:
        box.execute("return app.integrations.replicate.broken")
    assert str(info.value) == "app.integrations.replicate: internal error (KeyError)"
    assert SECRET not in str(info.value)


def test_register_creates_parents_and_validates() -> None:
    box = Sandbox()
    box.register("a.b.c", lambda x: x * 2)
    assert box.execute("return a.b.c(21), type(a.b)") == [42, "table"]
    box.set_value("flat", 1)
    with pytest.raises(UsageError, match="below flat: it is a number"):
        box.register("flat.fn", print)
    with pytest.raises(UsageError, match="path: expected dotted Lua names"):
        box.register("a..b", print)
    with pytest.raises(UsageError, match="fn: expected a callable"):
        box.register("x", 3)  # type: ignore[arg-type]


def test_register_below_lazy_namespace_resolves_parents() -> None:
    box, calls = _namespace_box()
    box.register("app.integrations.replicate.extra", lambda: "extra")
    assert box.execute("return app.integrations.replicate.extra()") == ["extra"]
    with pytest.raises(UsageError, match="Unknown function: app.integrations.nope"):
        box.register("app.integrations.nope.fn", print)


def test_install_lua_private_environment() -> None:
    box = Sandbox()
    box.register("t.twice", lambda x: x * 2)
    box.install_lua("lib.helper", """
        local twice = host["t.twice"]
        return {
          run = function(x) return twice(x) + 1 end,
          fail = function() kosmo.error({message = "lib: nope", code = 3}) end,
          shapes = function(t) return kosmo.is_array(t), kosmo.is_null(kosmo.null), kosmo.array({}) end,
          safe = function() local g = kosmo.safe_globals() return g.host, g.kosmo, type(g.string) end,
        }
    """, "=lib.helper")
    assert box.execute("return lib.helper.run(20)") == [41]
    assert box.execute("local ok, e = pcall(lib.helper.fail) return tostring(e), e.code, e.message") == [
        "lib: nope", 3, "lib: nope"]
    assert box.execute("return lib.helper.shapes(json.array())") == [True, True, []]
    assert box.execute("return lib.helper.safe()") == [None, None, "table"]
    with pytest.raises(LuaRuntimeError, match=r"^lib\.bad:1: boom$"):
        box.install_lua("lib.bad", "error('boom')", "=lib.bad")
    with pytest.raises(LuaRuntimeError, match="unexpected symbol"):
        box.install_lua("lib.bad", "return )", "=lib.bad")
    with pytest.raises(UsageError, match="returned nothing"):
        box.install_lua("lib.bad", "local x = 1", "=lib.bad")


def test_print_capture() -> None:
    lines: list[str] = []
    box = Sandbox(output=lines.append)
    box.execute("print('a', 1, nil, true, 2.5) print() print(setmetatable({}, {__tostring = function() "
                "return 'custom' end})) print(json.null)")
    assert lines == ["a\t1\tnil\ttrue\t2.5", "", "custom", "null"]


def test_print_default_output_is_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    Sandbox().execute("print('to stdout')")
    assert capsys.readouterr().out == "to stdout\n"


def test_chunk_names_and_error_values() -> None:
    box = Sandbox()
    with pytest.raises(LuaRuntimeError, match=r"^workflow\.lua:3: boom$"):
        box.execute("local a = 1\nlocal b = 2\nerror('boom')", "@workflow.lua")
    with pytest.raises(LuaRuntimeError, match=r"^\(eval\):1: boom$"):
        box.execute("error('boom')")
    with pytest.raises(LuaRuntimeError, match=r"^\(eval\):1: .*near <eof>$"):
        box.execute("x =")
    with pytest.raises(LuaRuntimeError) as info:
        box.execute("error({message = 'plain table', code = 5})")
    assert str(info.value) == "plain table" and info.value.value == {"message": "plain table", "code": 5}
    with pytest.raises(LuaRuntimeError) as info:
        box.execute("error(setmetatable({code = 1}, {__tostring = function() return 'shown' end}))")
    assert str(info.value) == "shown" and info.value.value == {"code": 1}
    with pytest.raises(LuaRuntimeError, match=r"^\(error object is a nil value\)$"):
        box.execute("error()")


def test_state_persists_between_chunks() -> None:
    box = Sandbox()
    box.execute("counter = 1 function bump() counter = counter + 1 return counter end")
    assert box.execute("return bump(), bump()") == [2, 3]


def test_execute_is_not_reentrant() -> None:
    box = Sandbox()
    box.register("nested", lambda: box.execute("return 1"))
    with pytest.raises(LuaRuntimeError, match=r"^nested: internal error \(UsageError\)$"):
        box.execute("return nested()")


def test_json_array_marker() -> None:
    box = Sandbox()
    assert box.execute("local a = json.array({1, 2}) return getmetatable(a), #a, json.array(a) == a") == [
        "array", 2, True]
    with pytest.raises(LuaRuntimeError, match=r"^\(eval\):1: json\.array: argument 1: expected a table or nil, "
                                              r"got string$"):
        box.execute("json.array('x')")
    with pytest.raises(LuaRuntimeError, match="json.array: argument 1: the table already has a metatable"):
        box.execute("json.array(setmetatable({}, {}))")
