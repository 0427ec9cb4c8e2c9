"""json.encode / json.decode: the pure functions, then the same through a sandbox (when the runtime is present)."""

from __future__ import annotations

import json as pyjson
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kosmo_lua.errors import ArgumentError, LuaRuntimeError
from kosmo_lua.sandbox.values import JSON_NULL, LuaArray
from kosmo_lua.stdlib import core, jsonlib
from kosmo_lua.stdlib.jsonlib import decode, encode


# -- encode --------------------------------------------------------------------------------------------------------


def test_encode_is_compact_with_sorted_keys() -> None:
    assert encode({"b": 1, "a": [1, 2], "c": {"z": True, "y": None}}) == '{"a":[1,2],"b":1,"c":{"y":null,"z":true}}'


def test_encode_pretty_exact_text() -> None:
    value = {"name": "ada", "tags": LuaArray(["x"]), "empty": {}, "none": LuaArray(), "n": 1.0}
    assert encode(value, pretty=True) == (
        "{\n"
        '  "empty": {},\n'
        '  "n": 1.0,\n'
        '  "name": "ada",\n'
        '  "none": [],\n'
        '  "tags": [\n'
        '    "x"\n'
        "  ]\n"
        "}"
    )


def test_empty_object_versus_marked_array() -> None:
    assert encode({}) == "{}"
    assert encode(LuaArray()) == "[]"
    assert encode([]) == "[]"


def test_ints_stay_ints_and_floats_keep_a_point() -> None:
    assert encode(LuaArray([1, 1.0, -0.5, 2**62, 1e20])) == "[1,1.0,-0.5,4611686018427387904,1e+20]"


def test_json_null_and_nil() -> None:
    assert encode(LuaArray([1, JSON_NULL, 3])) == "[1,null,3]"
    assert encode(None) == "null"
    assert encode({"a": JSON_NULL}) == '{"a":null}'


def test_unicode_is_written_as_utf8_not_escaped() -> None:
    assert encode({"s": "é 😀 \u2028"}) == '{"s":"é 😀 \u2028"}'
    assert encode("tab\tquote\"") == '"tab\\tquote\\""'


def test_integer_keys_become_strings() -> None:
    assert encode({10: "a", 2: "b", "x": 1}) == '{"10":"a","2":"b","x":1}'


def test_utf8_bytes_are_text() -> None:
    assert encode(b"caf\xc3\xa9") == '"café"'


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ({"a": LuaArray([1, float("nan")])}, "value.a[2]: nan cannot be represented in JSON"),
        ({"a": float("inf")}, "value.a: inf cannot be represented"),
        ({"bin": b"\xff\x00"}, "value.bin: string is not valid UTF-8 (byte 0xff at byte 1)"),
        ({1.5: "x"}, "cannot use a number key (1.5)"),
        ({True: "x"}, "cannot use a boolean key"),
        ({1: "a", "1": "b"}, 'the keys 1 and "1" would both be "1"'),
        ({"weird key": {"x": object()}}, 'value["weird key"].x: cannot encode a value of type object'),
    ],
)
def test_encode_refusals_name_the_path(value: object, fragment: str) -> None:
    with pytest.raises(ArgumentError) as info:
        encode(value)
    assert str(info.value).startswith("json.encode: ")
    assert fragment in str(info.value)


def test_encode_refuses_absurd_nesting() -> None:
    deep: object = 1
    for _ in range(jsonlib.MAX_DEPTH + 5):
        deep = LuaArray([deep])
    with pytest.raises(ArgumentError, match="nested 200 or more levels deep"):
        encode(deep)


# -- decode --------------------------------------------------------------------------------------------------------


def test_decode_null_convention() -> None:
    value = decode('{"a": null, "b": [1, null, {"c": null, "d": 2}]}')
    assert value == {"b": [1, JSON_NULL, {"d": 2}]}
    assert isinstance(value["b"], LuaArray)
    assert value["b"][1] is JSON_NULL
    assert decode("null") is None


def test_decode_marks_arrays_even_empty() -> None:
    value = decode('{"list": [], "obj": {}}')
    assert isinstance(value["list"], LuaArray) and value["list"] == []
    assert value["obj"] == {} and not isinstance(value["obj"], list)
    assert encode(value) == '{"list":[],"obj":{}}'


def test_decode_numbers() -> None:
    value = decode("[1, 1.0, -3, 9223372036854775807, 9223372036854775808, -9223372036854775809, 1e400]")
    assert value[:3] == [1, 1.0, -3]
    assert type(value[0]) is int and type(value[1]) is float
    assert value[3] == 2**63 - 1 and type(value[3]) is int
    assert type(value[4]) is float and value[4] == 9.223372036854776e18
    assert type(value[5]) is float
    assert value[6] == math.inf


def test_decode_huge_integer_does_not_hit_pythons_digit_limit() -> None:
    assert decode("1" * 5000) == math.inf
    assert type(decode("12345678901234567890123")) is float


def test_decode_unicode_and_astral_escapes() -> None:
    assert decode('"\\ud83d\\ude00 é \\u00e9"') == "😀 é é"
    assert decode('"😀"') == "😀"
    assert decode(b'"caf\xc3\xa9"') == "café"
    # A lone surrogate cannot travel as UTF-8; it is replaced rather than breaking the script.
    assert decode('"a\\ud800b"') == "a\ufffdb"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": 1 "b"}', "json.decode: expected ',' or '}' at line 1 column 9 (char 8)"),
        ("[1 2]", "json.decode: expected ',' or ']' at line 1 column 4 (char 3)"),
        ('{"a" 1}', "json.decode: expected ':' at line 1 column 6 (char 5)"),
        ("", "json.decode: unexpected end of input, expected a value at line 1 column 1 (char 0)"),
        ("[1, 2", "json.decode: unexpected end of input, expected ',' or ']' at line 1 column 6 (char 5)"),
        ('{"a":\n  [1,\n   x]}', "json.decode: expected a value at line 3 column 4 (char 15)"),
        ('{"a": 1,}', "json.decode: expected a key in double quotes at line 1 column 9 (char 8)"),
        ('[1] 2', "json.decode: unexpected text after the JSON value at line 1 column 5 (char 4)"),
        ('"abc', "json.decode: unterminated string starting at line 1 column 1 (char 0)"),
        ('["{", NaN]', "json.decode: NaN is not valid JSON at line 1 column 7 (char 6)"),
        ("[-Infinity]", "json.decode: -Infinity is not valid JSON at line 1 column 2 (char 1)"),
    ],
)
def test_decode_errors_name_the_position(text: str, message: str) -> None:
    with pytest.raises(ArgumentError) as info:
        decode(text)
    assert str(info.value) == message


def test_decode_refuses_bad_utf8_and_non_strings() -> None:
    with pytest.raises(ArgumentError, match=r"not valid UTF-8 \(byte 0xff at byte 2\)"):
        decode(b'"\xff"')
    with pytest.raises(ArgumentError, match="text: expected a string, got number"):
        decode(12)  # type: ignore[arg-type]


def test_decode_refuses_deep_nesting_cleanly() -> None:
    with pytest.raises(ArgumentError, match="nested"):
        decode("[" * 5000 + "]" * 5000)


# -- round trips -------------------------------------------------------------------------------------------------

_scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),  # includes astral characters; lone surrogates are excluded below
)
_keys = st.text().filter(lambda s: not any("\ud800" <= c <= "\udfff" for c in s))
_values = st.recursive(
    _scalars.filter(lambda v: not isinstance(v, str) or not any("\ud800" <= c <= "\udfff" for c in v)),
    lambda inner: st.one_of(
        st.lists(st.one_of(inner, st.just(JSON_NULL))).map(LuaArray),
        st.dictionaries(_keys, inner),
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(_values)
def test_round_trip(value: object) -> None:
    for pretty in (False, True):
        text = encode(value, pretty=pretty)
        assert decode(text) == value
        # Our output is standard JSON, readable by another parser.
        pyjson.loads(text)


# -- through the sandbox ---------------------------------------------------------------------------------------


@pytest.fixture
def lua():  # type: ignore[no-untyped-def]
    runtime = pytest.importorskip("kosmo_lua.sandbox.runtime", reason="kosmo_lua.sandbox.runtime not written yet")
    sandbox = runtime.Sandbox()
    core.install_json(sandbox)
    return sandbox


def test_lua_encode_decode(lua) -> None:  # type: ignore[no-untyped-def]
    assert lua.execute('return json.encode({b = 1, a = {1, 2.5, "x"}})') == ['{"a":[1,2.5,"x"],"b":1}']
    assert lua.execute("return json.encode({})") == ["{}"]
    assert lua.execute("return json.encode(json.array({}))") == ["[]"]
    assert lua.execute("return json.encode({1, json.null})") == ["[1,null]"]
    assert lua.execute('return json.encode({a = {}}, {pretty = true})') == ['{\n  "a": {}\n}']


def test_lua_decode_null_convention_and_arrays(lua) -> None:  # type: ignore[no-untyped-def]
    code = """
    local v = json.decode('{"a": null, "list": [1, null, 3], "empty": []}')
    return v.a == nil, #v.list, v.list[2] == json.null, json.encode(v.empty), math.type(v.list[1])
    """
    assert lua.execute(code) == [True, 3, True, "[]", "integer"]


def test_lua_round_trip_keeps_empty_arrays(lua) -> None:  # type: ignore[no-untyped-def]
    code = """
    local text = '{"a":[],"b":{},"c":[{"d":[]}],"e":1.0,"f":"😀"}'
    return json.encode(json.decode(text)) == text
    """
    assert lua.execute(code) == [True]


def test_lua_errors_are_catchable_tables(lua) -> None:  # type: ignore[no-untyped-def]
    code = """
    local ok, err = pcall(json.decode, '{"a": 1 "b"}')
    return ok, err.message, err.kind, err["function"]
    """
    assert lua.execute(code) == [False, "json.decode: expected ',' or '}' at line 1 column 9 (char 8)",
                                 "argument", "json.decode"]


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("json.decode(42)", "json.decode: text: expected a string, got number"),
        ("json.decode()", "json.decode: text: expected a string, got nil"),
        ("json.encode({}, 'pretty')", "json.encode: options: expected a table like {pretty = true}, got string"),
        ("json.encode({}, {pretty = 1})", "json.encode: options.pretty: expected a boolean, got number"),
        ("json.encode({}, {indent = 2})", "json.encode: options: unknown option indent"),
        ("json.encode({x = 0/0})", "json.encode: value.x: nan cannot be represented in JSON"),
        ("json.encode({x = '\\255'})", "value.x: string is not valid UTF-8"),
    ],
)
def test_lua_bad_arguments_give_clear_errors(lua, code: str, fragment: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(LuaRuntimeError) as info:
        lua.execute(code)
    assert fragment in str(info.value)
    assert "Traceback" not in str(info.value)


def test_lua_encode_refuses_functions(lua) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(LuaRuntimeError) as info:
        lua.execute("return json.encode({f = print})")
    assert "json.encode" in str(info.value) and "function" in str(info.value)


def test_lua_decode_too_large_for_the_memory_limit_ends_cleanly() -> None:
    runtime = pytest.importorskip("kosmo_lua.sandbox.runtime", reason="kosmo_lua.sandbox.runtime not written yet")
    from kosmo_lua.errors import MemoryLimitExceeded

    sandbox = runtime.Sandbox(memory_limit=2 * 1024 * 1024)
    core.install_json(sandbox)
    # A 400 KB document fits as a string, but 200,000 decoded elements do not fit in 2 MiB.
    with pytest.raises(MemoryLimitExceeded):
        sandbox.execute('local s = "[" .. string.rep("1,", 200000) .. "1]"; local t = json.decode(s); return #t')
    # The sandbox stays usable afterwards.
    assert sandbox.execute('return #json.decode("[1,2,3]")') == [3]


def test_lua_nesting_limit_is_a_clear_error(lua) -> None:  # type: ignore[no-untyped-def]
    depth = jsonlib.MAX_DEPTH
    ok = lua.execute(f'local t = json.decode(string.rep("[", {depth}) .. string.rep("]", {depth})); return type(t)')
    assert ok == ["table"]
    with pytest.raises(LuaRuntimeError, match=f"json.decode: text: nested {depth} or more levels deep"):
        lua.execute(f'return json.decode(string.rep("[", {depth + 1}) .. string.rep("]", {depth + 1}))')
