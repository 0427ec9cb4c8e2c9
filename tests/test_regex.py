"""regex.*: every function and flag, PCRE spellings, bad patterns, byte offsets on non-ASCII text."""

from __future__ import annotations

import pytest

from kosmo_lua.errors import ArgumentError, LuaRuntimeError
from kosmo_lua.stdlib import core, regexlib
from kosmo_lua.stdlib.regexlib import escape, find, gsub, match, match_all, spans, split, translate
from kosmo_lua.stdlib.regexlib import test as regex_test


# -- match / match_all ---------------------------------------------------------------------------------------------


def test_match_table_shape() -> None:
    m = match("on 2024-05-17 at", r"(?<year>\d{4})-(\d\d)-(\d\d)(x)?")
    assert m == {0: "2024-05-17", 1: "2024", 2: "05", 3: "17", 4: False, "year": "2024"}


def test_match_none_and_search_anywhere() -> None:
    assert match("abc", r"\d") is None
    assert match("abc", "c")[0] == "c"


def test_match_all() -> None:
    assert match_all("a=1, b=22", r"(\w)=(\d+)") == [{0: "a=1", 1: "a", 2: "1"}, {0: "b=22", 1: "b", 2: "22"}]
    empty = match_all("abc", r"\d")
    assert empty == [] and isinstance(empty, regexlib.LuaArray)


@pytest.mark.parametrize(
    ("subject", "pattern", "flags", "expected"),
    [
        ("Hello", "^hello$", "i", True),
        ("Hello", "^hello$", None, False),
        ("a\nb", "^b$", "m", True),
        ("a\nb", "^b$", "", False),
        ("a\nb", "a.b", "s", True),
        ("a\nb", "a.b", None, False),
        ("abc", "a  b  c  # letters", "x", True),
        ("abc", "a b c", None, False),
        ("ABC\nx", "^abc$ # first line", "imx", True),
    ],
)
def test_flags(subject: str, pattern: str, flags: str | None, expected: bool) -> None:
    assert regex_test(subject, pattern, flags) is expected


def test_unknown_flag_is_a_clear_error() -> None:
    with pytest.raises(ArgumentError) as info:
        match("a", "a", "g")
    assert str(info.value).startswith("regex.match: flags: unknown flag 'g'")
    assert "expected a string of i, m, s, x" in str(info.value)
    with pytest.raises(ArgumentError, match="regex.test: flags: expected a string of i, m, s, x, got number"):
        regex_test("a", "a", 1)


# -- PCRE spellings --------------------------------------------------------------------------------------------


def test_pcre_named_groups_and_backreferences() -> None:
    assert match("abab", r"(?<pair>ab)\k<pair>")["pair"] == "ab"
    assert match("xyxy", r"(?'two'xy)\k{two}")["two"] == "xy"
    assert match("q-q", r"(?P<c>q)-(?P=c)")["c"] == "q"
    # Lookbehind keeps its meaning.
    assert match("price: $5", r"(?<=\$)\d")[0] == "5"
    assert match("a5", r"(?<!b)\d")[0] == "5"


def test_pcre_anchors_and_posix_classes() -> None:
    assert regex_test("abc\n", r"c\Z") is True
    assert regex_test("abc\n", r"c\z") is False
    assert regex_test("abc", r"c\z") is True
    assert match("ab12", "[[:alpha:]]+")[0] == "ab"
    assert match("ab12", "[[:digit:][:space:]]+")[0] == "12"


def test_translation_leaves_classes_and_escapes_alone() -> None:
    assert translate(r"[(?<x>]\(?<y>")[0] == r"[(?<x>]\(?<y>"
    assert translate(r"[]a](?<n>b)")[0] == r"[]a](?P<n>b)"
    # In verbose mode a comment is not translated.
    assert translate("a # (?<n>\n(?<m>b)", verbose=True)[0] == "a # (?<n>\n(?P<m>b)"


# -- bad patterns --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "args", "message"),
    [
        (match, ("x", "(abc"), 'regex.match: pattern: missing ), unterminated subpattern at character 1 of "(abc"'),
        (match_all, ("x", "a{2,1}"), "regex.match_all: pattern: min repeat greater than max repeat at character 3"),
        (regex_test, ("x", "ab)"), 'regex.test: pattern: unbalanced parenthesis at character 3 of "ab)"'),
        # Positions refer to what the user wrote, not the rewritten pattern.
        (find, ("x", "(?<n>a)(?<n>b)"), "regex.find: pattern: redefinition of group name 'n' as group 2; "
                                         "was group 1 at character 11"),
        (match, ("x", r"\K"), r'regex.match: pattern: bad escape \K at character 1 of "\K"'),
        (find, ("x", "x", None, 2.5), "regex.find: init: expected an integer, got 2.5"),
        (split, ("x", 5), "regex.split: pattern: expected a string, got number"),
        (match, (None, "a"), "regex.match: subject: expected a string, got nil"),
        (escape, ({},), "regex.escape: s: expected a string, got table"),
    ],
)
def test_bad_input_names_function_and_parameter(function, args, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ArgumentError) as info:
        function(*args)
    assert str(info.value).startswith(message)


# -- gsub ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("replacement", "expected"),
    [
        ("$2$1", "1a 2b"),
        (r"\2\1", "1a 2b"),
        ("${2}-${1}", "1-a 2-b"),
        ("<$0>", "<a1> <b2>"),
        (r"<\0>", "<a1> <b2>"),
        ("$$1", "$1 $1"),
        ("${l}", "a b"),
        (r"\\1", r"\1 \1"),
        ("$x", "$x $x"),
        (r"\q", r"\q \q"),
        ("$12", "a2 b2"),  # only two groups: group 1, then a literal "2"
    ],
)
def test_gsub_replacement_templates(replacement: str, expected: str) -> None:
    assert gsub("a1 b2", r"(?<l>\w)(\d)", replacement) == (expected, 2)


def test_gsub_two_digit_group() -> None:
    pattern = "".join(f"({c})" for c in "abcdefghijkl")
    assert gsub("abcdefghijkl", pattern, "$12$1")[0] == "la"


def test_gsub_limit_and_flags() -> None:
    assert gsub("a a a", "a", "b", 2) == ("b b a", 2)
    assert gsub("a a a", "a", "b", 0) == ("a a a", 0)
    assert gsub("A a", "a", "b", None, "i") == ("b b", 2)
    assert gsub("xyz", "q", "b") == ("xyz", 0)
    assert gsub("abc", "x*", "-") == ("-a-b-c-", 4)


def test_gsub_bad_replacements() -> None:
    with pytest.raises(ArgumentError, match=r"regex.gsub: replacement: \$3 refers to group 3 but the pattern has 2"):
        gsub("a", "(a)(b)?", "$3")
    with pytest.raises(ArgumentError, match=r"replacement: \$\{nope\} names no group of the pattern \(named groups: l\)"):
        gsub("a", "(?<l>a)", "${nope}")
    with pytest.raises(ArgumentError, match="replacement: expected a string or a function, got number"):
        gsub("a", "a", 5)
    with pytest.raises(ArgumentError, match="regex.gsub: limit: expected an integer >= 0, got -1"):
        gsub("a", "a", "b", -1)


def test_spans_are_byte_positions_for_the_lua_wrapper() -> None:
    assert spans("héllo héllo", "é(l)") == [[2, 4, {0: "él", 1: "l"}], [9, 11, {0: "él", 1: "l"}]]
    assert spans("aaa", "a", 2) == [[1, 1, {0: "a"}], [2, 2, {0: "a"}]]


# -- find and byte offsets -------------------------------------------------------------------------------------


def test_find_returns_byte_offsets_on_utf8() -> None:
    text = "héllo wörld 😀!"
    assert find(text, r"w(ö)r") == (8, 11, "ö")
    assert find(text, "😀") == (15, 18)
    assert find(text, "!") == (19, 19)
    assert text.encode()[14:18].decode() == "😀"


def test_find_init_like_string_find() -> None:
    text = "héllo héllo"  # 13 bytes
    assert find(text, "é") == (2, 3)
    assert find(text, "é", None, 4) == (9, 10)
    assert find(text, "é", None, 3) == (9, 10)  # inside the first é: starts at the next character
    assert find(text, "é", None, -5) == (9, 10)
    assert find(text, "é", None, -3) is None
    assert find(text, "é", None, -100) == (2, 3)
    assert find(text, "", None, 14) == (14, 13)
    assert find(text, "", None, 15) is None
    assert find("abc", "(x)?b") == (2, 2, False)


def test_invalid_utf8_subjects_round_trip_as_bytes() -> None:
    assert find(b"\xff\xc3\xa9b", "b") == (4, 4)
    assert gsub(b"\xffab\xfe", "a", "X") == (b"\xffXb\xfe", 1)
    assert match(b"\xffab", "(.)a") == {0: b"\xffa", 1: b"\xff"}
    assert split(b"x\xffy", b"\xff") == ["x", "y"]


# -- split, test, escape -----------------------------------------------------------------------------------------


def test_split() -> None:
    assert split("a, b,c", r",\s*") == ["a", "b", "c"]
    assert split("a1b2c", r"(\d)") == ["a", "b", "c"]  # captures are not included
    assert split("a,b,c", ",", 2) == ["a", "b,c"]
    assert split("a,b,c", ",", 1) == ["a,b,c"]
    assert split("", ",") == [""]
    assert split("abc", "") == ["", "a", "b", "c", ""]
    assert split("A1a2", "a", None, "i") == ["", "1", "2"]
    with pytest.raises(ArgumentError, match="regex.split: limit: expected an integer >= 1, got 0"):
        split("a", ",", 0)


def test_escape_matches_literally() -> None:
    special = "1+1=2? (yes) [x] {y} a.b*c ^$ | \\ # é"
    assert regex_test(special, "^" + escape(special) + "$")
    assert regex_test("a b", escape("a b"), "x")


def test_compile_cache_is_used() -> None:
    regexlib._compiled.cache_clear()
    for _ in range(5):
        regex_test("abc", "b+")
    info = regexlib._compiled.cache_info()
    assert info.misses == 1 and info.hits == 4


def test_too_many_arguments() -> None:
    with pytest.raises(ArgumentError, match=r"regex.match: too many arguments; expected \(subject, pattern"):
        match("a", "a", None, "extra")


# -- through the sandbox ---------------------------------------------------------------------------------------


@pytest.fixture
def lua():  # type: ignore[no-untyped-def]
    runtime = pytest.importorskip("kosmo_lua.sandbox.runtime", reason="kosmo_lua.sandbox.runtime not written yet")
    sandbox = runtime.Sandbox()
    core.install_regex(sandbox)
    return sandbox


def test_lua_match_table(lua) -> None:  # type: ignore[no-untyped-def]
    code = r"""
    local m = regex.match("on 2024-05-17", [[(?<year>\d{4})-(\d\d)-(\d\d)(x)?]])
    return m[0], m[1], m.year, m[4], #m
    """
    assert lua.execute(code) == ["2024-05-17", "2024", "2024", False, 4]
    assert lua.execute('return regex.match("abc", "x")') == [None]


def test_lua_match_all_and_empty(lua) -> None:  # type: ignore[no-untyped-def]
    code = r"""
    local all = regex.match_all("a=1 b=2", [[(\w)=(\d)]])
    local none = regex.match_all("", "x")
    return #all, all[2][1], #none, getmetatable(none)
    """
    # The empty result is a marked array, so json.encode gives [] for it.
    assert lua.execute(code) == [2, "b", 0, "array"]


def test_lua_find_offsets_work_with_string_sub(lua) -> None:  # type: ignore[no-untyped-def]
    code = r"""
    local s = "héllo wörld"
    local i, j, cap = regex.find(s, [[w(\S+)]])
    return i, j, cap, s:sub(i, j), string.find(s, "wörld", 1, true)
    """
    assert lua.execute(code) == [8, 13, "örld", "wörld", 8, 13]


def test_lua_gsub_string_and_function(lua) -> None:  # type: ignore[no-untyped-def]
    code = r"""
    local a, n = regex.gsub("a1 b2", [[(\w)(\d)]], "$2$1")
    local b, m = regex.gsub("héllo wörld", [[\w+]], function(t) return t[0]:upper() end)
    local c = regex.gsub("x1 y2", [[\d]], function(t) if t[0] == "1" then return false end return 9 end)
    local d, k = regex.gsub("aaa", "a", function() return "b" end, 2)
    return a, n, b, m, c, d, k
    """
    # string.upper is byte-based, so é/ö keep their case: the point is the positions stay right.
    assert lua.execute(code) == ["1a 2b", 2, "HéLLO WöRLD", 2, "x1 y9", "bba", 2]


def test_lua_gsub_function_errors(lua) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(LuaRuntimeError, match="regex.gsub: replacement: the function returned a table"):
        lua.execute('return regex.gsub("a", "a", function() return {} end)')
    with pytest.raises(LuaRuntimeError, match="boom"):
        lua.execute('return regex.gsub("a", "a", function() error("boom") end)')
    with pytest.raises(LuaRuntimeError, match=r"regex.gsub: pattern: missing \)"):
        lua.execute('return regex.gsub("a", "(", function() return "" end)')


def test_lua_split_test_escape(lua) -> None:  # type: ignore[no-untyped-def]
    code = r"""
    local parts = regex.split("a, b,c", [[,\s*]])
    return #parts, parts[3], regex.test("Hi", "^hi$", "i"), regex.escape("a.b")
    """
    assert lua.execute(code) == [3, "c", True, r"a\.b"]


def test_lua_errors_are_catchable_and_clear(lua) -> None:  # type: ignore[no-untyped-def]
    code = """
    local ok, err = pcall(regex.match, "x", "(abc")
    return ok, err.message, err.kind
    """
    assert lua.execute(code) == [False, 'regex.match: pattern: missing ), unterminated subpattern at character 1 '
                                        'of "(abc"', "argument"]


def test_lua_helpers_are_hidden_from_scripts(lua) -> None:  # type: ignore[no-untyped-def]
    assert lua.execute("return regex._gsub, regex._spans, type(regex.gsub)") == [None, None, "function"]


def test_lua_non_utf8_subject_positions_are_bytes(lua) -> None:  # type: ignore[no-untyped-def]
    code = r"""
    local s = "\255ab\254"
    local i, j = regex.find(s, "b")
    local replaced, n = regex.gsub(s, "a", "X")
    return i, j, replaced == "\255Xb\254", n
    """
    assert lua.execute(code) == [3, 3, True, 1]


def test_spans_offsets_stay_right_over_many_matches() -> None:
    subject = "é-" * 2000  # each "é-" is 3 bytes
    found = spans(subject, "-")
    assert len(found) == 2000
    assert all(first == last == 3 * i for i, (first, last, _) in enumerate(found, start=1))
