"""Values crossing the Lua <-> Python boundary, in both directions, in every shape values.py names."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kosmo_lua.errors import LuaRuntimeError, UsageError
from kosmo_lua.sandbox.marshal import MAX_DEPTH, estimate_size
from kosmo_lua.sandbox.runtime import Sandbox
from kosmo_lua.sandbox.values import JSON_NULL, LuaArray

INT64_MAX = 2**63 - 1


class Box:
    """A sandbox with an echo host function that records exactly what Python received."""

    def __init__(self) -> None:
        self.sb = Sandbox(memory_limit=16 * 1024 * 1024)
        self.received: list[tuple[Any, ...]] = []
        self.reply: Any = None
        self.sb.register("t.echo", self._echo)
        self.sb.register("t.give", lambda: self.reply)

    def _echo(self, *args: Any) -> tuple[Any, ...]:
        self.received.append(args)
        return args

    def give(self, value: Any, lua: str = "return t.give()") -> list[Any]:
        """Python -> Lua (host result) -> Python (chunk result)."""
        self.reply = value
        return self.sb.execute(lua)

    def send(self, lua_args: str) -> tuple[Any, ...]:
        """Lua -> Python: what the host function received."""
        self.received.clear()
        self.sb.execute(f"t.echo({lua_args})")
        return self.received[-1]


@pytest.fixture
def box() -> Box:
    return Box()


# -- Lua -> Python -------------------------------------------------------------------------------------------------

def test_scalars_from_lua(box: Box) -> None:
    args = box.send("nil, true, false, 1, 1.0, -0.5, 'text', 'h\\u{e9}llo', math.maxinteger, math.mininteger")
    assert args == (None, True, False, 1, 1.0, -0.5, "text", "héllo", INT64_MAX, -(2**63))
    assert type(args[3]) is int and type(args[4]) is float


def test_bytes_vs_str(box: Box) -> None:
    valid, invalid, empty = box.send("'\\xe2\\x82\\xac', '\\xff\\xfe', ''")
    assert valid == "€" and type(valid) is str
    assert invalid == b"\xff\xfe" and type(invalid) is bytes
    assert empty == ""


def test_tables_from_lua(box: Box) -> None:
    (seq, obj, empty, marked_empty, mixed, null, holes, intkeys) = box.send(
        "{1, 2, 3}, {a = 1, b = {c = true}}, {}, json.array(), {1, 2, x = 3}, json.null, "
        "json.array({1, nil, 3}), {[2] = 'b', [3] = 'c'}")
    assert seq == [1, 2, 3] and type(seq) is LuaArray
    assert obj == {"a": 1, "b": {"c": True}} and type(obj) is dict
    assert empty == {} and type(empty) is dict
    assert marked_empty == [] and type(marked_empty) is LuaArray
    assert mixed == {1: 1, 2: 2, "x": 3}
    assert null is JSON_NULL
    assert holes == [1, JSON_NULL, 3]
    assert intkeys == {2: "b", 3: "c"}


def test_nested_and_null_inside_array(box: Box) -> None:
    (value,) = box.send("{list = {1, json.null, {deep = {json.array()}}}, name = 'n'}")
    assert value == {"list": [1, JSON_NULL, {"deep": [[]]}], "name": "n"}
    assert type(value["list"]) is LuaArray and type(value["list"][2]["deep"][0]) is LuaArray


def test_shared_subtable_is_expanded(box: Box) -> None:
    (value,) = box.send("(function() local s = {1} return {a = s, b = s} end)()")
    assert value == {"a": [1], "b": [1]}


def test_exponential_sharing_is_refused_cheaply() -> None:
    # 61 tables, 2^60 paths: the expansion budget (twice the memory limit) refuses it before Python memory
    # suffers; the work is what the largest legitimate value would cost.
    sb = Sandbox(memory_limit=1024 * 1024)
    sb.register("echo", lambda *a: len(a))
    with pytest.raises(LuaRuntimeError, match=r"echo: argument 1 \(at .*\): value too large to pass"):
        sb.execute("local x = {} for i = 1, 60 do x = {x, x} end echo(x)")
    assert sb.execute("local x = {} for i = 1, 5 do x = {x, x} end return echo(x)") == [1]


def test_repeated_long_string_is_refused_cheaply(box: Box) -> None:
    with pytest.raises(LuaRuntimeError, match="value too large to pass"):
        box.sb.execute("local s = ('x'):rep(1e6) local x = {} for i = 1, 1000 do x[i] = s end t.echo(x)")
    assert box.sb.execute("local s = ('x'):rep(1000) local x = {} for i = 1, 100 do x[i] = s end "
                          "return #t.echo(x)") == [100]


@pytest.mark.parametrize(("lua", "message"), [
    ("print", r"t\.echo: argument 1: cannot pass a function"),
    ("1, {x = {print}}", r"t\.echo: argument 2 \(at \.x\[1\]\): cannot pass a function"),
    ("coroutine.create(print)", r"t\.echo: argument 1: cannot pass a coroutine"),
    ("(function() local t = {} t.self = t return t end)()", r"argument 1 \(at \.self\): .*contains itself"),
    ("{[true] = 1}", r"unsupported table key true"),
    ("{[1.5] = 1}", r"unsupported table key 1\.5"),
    ("{[{}] = 1}", r"unsupported table key <table>"),
    ("json.array({x = 1})", r"an array has a key that is not a positive integer: 'x'"),
    ("json.array({[1000000] = 1})", r"an array is too sparse"),
])
def test_refused_from_lua(box: Box, lua: str, message: str) -> None:
    with pytest.raises(LuaRuntimeError, match=message) as info:
        box.sb.execute(f"t.echo({lua})")
    assert info.value.value["kind"] == "argument"
    assert info.value.value["function"] == "t.echo"


def test_refusal_is_catchable_and_names_function(box: Box) -> None:
    result = box.sb.execute("local ok, e = pcall(t.echo, print) return ok, e.message, e.problems[1]")
    assert result[0] is False
    assert result[1].startswith("t.echo: argument 1: cannot pass a function")
    assert result[2].startswith("argument 1: cannot pass a function")


def test_too_deep_from_lua(box: Box) -> None:
    code = f"local x = {{}} for i = 1, {MAX_DEPTH + 5} do x = {{x}} end t.echo(x)"
    with pytest.raises(LuaRuntimeError, match="nested more than 200 levels"):
        box.sb.execute(code)


# -- Python -> Lua -------------------------------------------------------------------------------------------------

def test_scalars_to_lua(box: Box) -> None:
    code = """
    local a, b, c, d, e, f = t.give()
    return math.type(a), math.type(b), type(c), type(d), d == json.null, e, f
    """
    box.reply = (1, 1.0, "s", JSON_NULL, True, None)
    assert box.sb.execute(code) == ["integer", "float", "string", "table", True, True, None]


def test_none_is_one_nil_and_empty_tuple_is_nothing(box: Box) -> None:
    assert box.give(None, "return select('#', t.give())") == [1]
    assert box.give((), "return select('#', t.give())") == [0]
    assert box.give((1, None, 3), "return select('#', t.give())") == [3]


def test_arrays_are_marked_and_empty_stays_array(box: Box) -> None:
    code = """
    local v = t.give()
    return getmetatable(v.list), getmetatable(v.empty_list), getmetatable(v.obj), getmetatable(v.empty_obj),
           #v.list, v.list[2] == json.null, v.missing
    """
    box.reply = {"list": [1, None, 3], "empty_list": [], "obj": {"a": 1}, "empty_obj": {}, "missing": None}
    assert box.sb.execute(code) == ["array", "array", None, None, 3, True, None]


def test_round_trip_keeps_empty_array_vs_object(box: Box) -> None:
    value = {"a": [], "b": {}, "c": LuaArray(), "d": [[], {}], "e": (1, 2)}
    (back,) = box.give(value)
    assert back == {"a": [], "b": {}, "c": [], "d": [[], {}], "e": [1, 2]}
    assert type(back["a"]) is LuaArray and type(back["b"]) is dict and type(back["d"][1]) is dict


def test_bytes_to_lua(box: Box) -> None:
    assert box.give(b"\x00\xffbin", "local s = t.give() return #s, s:byte(2), s") == [5, 255, b"\x00\xffbin"]
    assert box.give("é", "return #t.give()") == [2]


def test_big_ints_become_floats(box: Box) -> None:
    code = "local a, b, c = t.give() return math.type(a), math.type(b), math.type(c), b"
    box.reply = (INT64_MAX, 2**63, -(2**70))
    assert box.sb.execute(code) == ["integer", "float", "float", float(2**63)]


def test_int_too_large_for_float_is_internal_error(box: Box) -> None:
    box.reply = 10**400
    with pytest.raises(LuaRuntimeError, match=r"^t\.give: internal error \(ValueError\)$"):
        box.sb.execute("return t.give()")


@pytest.mark.parametrize("bad", [{1, 2}, object(), {(1, 2): 3}, {1.5: 2}, print])
def test_unsupported_python_values_are_internal_errors(box: Box, bad: Any) -> None:
    box.reply = {"x": bad}
    with pytest.raises(LuaRuntimeError, match=r"^t\.give: internal error \((TypeError|ValueError)\)$"):
        box.sb.execute("return t.give()")


def test_python_cycle_refused(box: Box) -> None:
    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    box.reply = cyclic
    with pytest.raises(LuaRuntimeError, match=r"internal error \(ValueError\)"):
        box.sb.execute("return t.give()")
    shared = [1]
    assert box.give({"a": shared, "b": shared}) == [{"a": [1], "b": [1]}]


def test_dict_int_keys(box: Box) -> None:
    assert box.give({1: "a", 5: "e"}, "local v = t.give() return v[1], v[5], v['1']") == ["a", "e", None]


def test_set_value_places_plain_data(box: Box) -> None:
    box.sb.set_value("config.nested.value", {"items": [1, 2], "none": None, "null": JSON_NULL})
    assert box.sb.execute("return config.nested.value.items[2], config.nested.value.none, "
                          "config.nested.value.null == json.null") == [2, None, True]
    with pytest.raises(UsageError, match="cannot pass a set"):
        box.sb.set_value("x", {1})
    with pytest.raises(UsageError, match="path: expected dotted Lua names"):
        box.sb.set_value("bad path", 1)


def test_results_are_lenient(box: Box) -> None:
    code = "local t = {} t.self = t return print, coroutine.create(print), t, {f = print}"
    assert box.sb.execute(code) == ["<function>", "<coroutine>", {"self": "<cycle>"}, {"f": "<function>"}]


def test_estimate_grows_with_size() -> None:
    small = estimate_size({"a": "x"})
    assert estimate_size({"a": "x" * 10_000}) >= small + 9_999
    assert estimate_size([{"i": i} for i in range(1000)]) > 1000 * 64


# -- property: any JSON-like value survives Python -> Lua -> Python ---------------------------------------------------

_scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=INT64_MAX),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.just(JSON_NULL),
)
_json = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5).map(LuaArray),
                            st.dictionaries(st.text(max_size=8), inner, max_size=5)),
    max_leaves=25,
)

_shared_box: Box | None = None


def _get_box() -> Box:
    global _shared_box
    if _shared_box is None:
        _shared_box = Box()
    return _shared_box


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


@settings(max_examples=150, deadline=None)
@given(_json)
def test_round_trip_property(value: Any) -> None:
    box = _get_box()
    (back,) = box.give(value)
    assert _same(back, value)
    # ... and back through a host function argument (Lua -> Python) too.
    box.reply = value
    box.received.clear()
    box.sb.execute("t.echo(t.give())")
    assert _same(box.received[-1][0], value)
