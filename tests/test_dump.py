"""dump(...): exact renderings through a real sandbox (output captured from its print channel)."""

from __future__ import annotations

from typing import Any

import pytest

from kosmo_lua.stdlib import core


class Harness:
    def __init__(self) -> None:
        runtime = pytest.importorskip("kosmo_lua.sandbox.runtime",
                                      reason="kosmo_lua.sandbox.runtime not written yet")
        self.lines: list[str] = []
        self.sandbox = runtime.Sandbox(output=self.lines.append)
        core.install_json(self.sandbox)
        core.install_dump(self.sandbox)

    def render(self, expression: str) -> str:
        """What dump prints for one Lua expression."""
        self.lines.clear()
        self.sandbox.execute(f"dump({expression})")
        assert len(self.lines) == 1, self.lines
        return self.lines[0]

    def execute(self, code: str) -> list[Any]:
        return self.sandbox.execute(code)


@pytest.fixture
def lua() -> Harness:
    return Harness()


@pytest.mark.parametrize(
    ("expression", "text"),
    [
        ("nil", "nil"),
        ("true", "true"),
        ("42", "42"),
        ("1.0", "1.0"),
        ("-0.5", "-0.5"),
        ("1e100", "1e+100"),
        ("0/0", "nan"),
        ("math.huge", "inf"),
        ("-math.huge", "-inf"),
        ('"plain"', '"plain"'),
        ('"a\\nb\\t\\"q\\" \\\\ \\r"', '"a\\nb\\t\\"q\\" \\\\ \\r"'),
        ('"\\0\\27x"', '"\\x00\\x1bx"'),
        ('"héllo 😀"', '"héllo 😀"'),
        ('"\\255ok\\195"', '"\\xffok\\xc3"'),  # not UTF-8: every high byte escaped
        ("print", "<function>"),
        ("coroutine.create(print)", "<thread>"),
        ("json.null", "null"),
        ("{}", "{}"),
        ("json.array({})", "{}"),
        ("{ 1, 2, 3 }", "{ 1, 2, 3 }"),
        ('{ "a", json.null, true }', '{ "a", null, true }'),
        ("{ b = 2, a = 1 }", "{ a = 1, b = 2 }"),
        ('{ [3] = "c", [1] = "a" }', '{ "a", [3] = "c" }'),
        ('{ 10, 20, x = 1, [-1] = 0, [2.5] = 1 }', "{ 10, 20, [-1] = 0, [2.5] = 1, x = 1 }"),
        ('{ ["a b"] = 1, ["end"] = 2, _ok = 3, ["1x"] = 4 }', '{ ["1x"] = 4, _ok = 3, ["a b"] = 1, ["end"] = 2 }'),
        ("{ [true] = 1, [false] = 0, z = 2, [1] = 9 }", "{ 9, z = 2, [false] = 0, [true] = 1 }"),
        ("{ {} }", "{ {} }"),
        ("{ f = print }", "{ f = <function> }"),
    ],
)
def test_exact_renderings(lua: Harness, expression: str, text: str) -> None:
    assert lua.render(expression) == text


def test_nesting_is_indented_two_spaces(lua: Harness) -> None:
    text = lua.render('{ name = "ada", tags = { "x", "y" }, meta = { deep = { 1, { z = true } } }, n = 1 }')
    assert text == (
        "{\n"
        "  meta = {\n"
        "    deep = {\n"
        "      1,\n"
        "      { z = true },\n"
        "    },\n"
        "  },\n"
        "  n = 1,\n"
        '  name = "ada",\n'
        '  tags = { "x", "y" },\n'
        "}"
    )


def test_long_flat_tables_break_lines(lua: Harness) -> None:
    text = lua.render("{ " + ", ".join(f'"item number {i}"' for i in range(8)) + " }")
    assert text.splitlines()[0] == "{"
    assert text.splitlines()[1] == '  "item number 0",'
    assert text.splitlines()[-1] == "}"
    assert len(text.splitlines()) == 10


def test_cycles_are_marked(lua: Harness) -> None:
    lua.lines.clear()
    lua.execute("local t = { name = 'loop' }; t.self = t; t.list = { t }; dump(t)")
    assert lua.lines == ['{\n  list = { <cycle> },\n  name = "loop",\n  self = <cycle>,\n}']


def test_shared_tables_are_not_cycles(lua: Harness) -> None:
    lua.lines.clear()
    lua.execute("local s = { 1 }; dump({ a = s, b = s })")
    assert lua.lines == ["{\n  a = { 1 },\n  b = { 1 },\n}"]


def test_deep_nesting_is_cut(lua: Harness) -> None:
    lua.lines.clear()
    lua.execute("local t = {}; local c = t; for i = 1, 100 do c.x = {}; c = c.x end; dump(t)")
    text = lua.lines[0]
    assert "<too deep>" in text
    assert text.count("\n") < 140


def test_metatables_are_not_consulted(lua: Harness) -> None:
    lua.lines.clear()
    lua.execute("""
    local t = setmetatable({ a = 1 }, { __tostring = function() return "X" end,
                                        __index = function() return "ghost" end,
                                        __pairs = function() error("must not run") end })
    dump(t)
    """)
    assert lua.lines == ["{ a = 1 }"]


def test_a_scripts_eq_metamethod_cannot_fake_null(lua: Harness) -> None:
    lua.lines.clear()
    lua.execute("local liar = setmetatable({ 1 }, { __eq = function() return true end }); dump(liar)")
    assert lua.lines == ["{ 1 }"]


def test_returns_all_arguments_and_renders_each(lua: Harness) -> None:
    lua.lines.clear()
    result = lua.execute("return dump(1, nil, 'x')")
    assert result[:1] == [1] and result[-1] == "x" and len(result) == 3
    assert lua.lines == ["1", "nil", '"x"']
    lua.lines.clear()
    assert lua.execute("return select('#', dump())") == [0]
    assert lua.lines == []


def test_output_is_deterministic(lua: Harness) -> None:
    code = "local t = {}; for i = 1, 50 do t['k' .. i] = { i, tostring(i) } end; t[1] = print; dump(t)"
    lua.lines.clear()
    lua.execute(code)
    first = list(lua.lines)
    other = Harness()
    other.execute(code)
    assert other.lines == first
    assert "0x" not in first[0]


def test_script_cannot_change_dump_by_replacing_print(lua: Harness) -> None:
    lua.lines.clear()
    lua.execute("print = function() error('hijacked') end; json = nil; dump({ v = 1 })")
    assert lua.lines == ["{ v = 1 }"]
