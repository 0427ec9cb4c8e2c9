"""The script-facing ``regex`` library: PCRE-style regular expressions on top of Python's ``re``.

Patterns are plain strings without delimiters; flags are a string of ``i``, ``m``, ``s``, ``x``. The few PCRE
spellings ``re`` lacks are rewritten before compiling (``(?<name>...)``, ``(?'name'...)``, ``\\k<name>``, ``\\z``,
``\\Z``, POSIX classes like ``[[:alpha:]]``). Matching is on text (``.`` is one character), but every position a
script sees is a 1-based **byte** offset into the UTF-8 string, so it works with ``string.sub``.

Lua strings that are not valid UTF-8 arrive as ``bytes``; they are decoded with ``surrogateescape`` so each stray
byte is one character, and results containing such bytes go back as ``bytes`` (the same Lua string bytes).

``regex.gsub`` with a function replacement is a Lua wrapper (``regex_gsub.lua``) over ``spans``: host functions cannot
call back into Lua, and running the callback in Lua keeps it under the sandbox's limits.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from kosmo_lua.errors import ArgumentError
from kosmo_lua.sandbox.values import LuaArray, PlainData
from kosmo_lua.stdlib.jsonlib import lua_type_name

__all__ = [
    "compile_pattern",
    "translate",
    "match",
    "match_all",
    "gsub",
    "spans",
    "find",
    "split",
    "test",
    "escape",
]

_FLAG_BITS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}

# POSIX bracket classes (PCRE accepts them inside [...]; re does not).
_POSIX_CLASSES = {
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "alnum": "a-zA-Z0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "space": r"\s",
    "blank": r" \t",
    "punct": r"!-/:-@\[-`{-~",
    "xdigit": "0-9A-Fa-f",
    "word": r"\w",
    "cntrl": r"\x00-\x1f\x7f",
    "print": r" -~",
    "graph": r"!-~",
}

_BACKREF = re.compile(r"k(?:<(\w+)>|'(\w+)'|\{(\w+)\})")
_POSIX = re.compile(r"\[:(\w+):\]")


# -- pattern translation and compilation -----------------------------------------------------------------------


def translate(pattern: str, verbose: bool = False) -> tuple[str, list[int]]:
    """Rewrite PCRE-only spellings for ``re``. Returns the new pattern and, for each of its characters, the index
    of the character it came from in ``pattern`` (so error positions point into what the user wrote)."""
    out: list[str] = []
    origin: list[int] = []

    def emit(text: str, at: int) -> None:
        out.append(text)
        origin.extend([at] * len(text))

    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            nxt = pattern[i + 1:i + 2]
            ref = _BACKREF.match(pattern, i + 1) if not in_class and nxt == "k" else None
            if ref:
                emit(f"(?P={ref.group(1) or ref.group(2) or ref.group(3)})", i)
                i = ref.end()
                continue
            if not in_class and nxt == "z":
                emit(r"\Z", i)
            elif not in_class and nxt == "Z":
                # PCRE's \Z also matches before a final newline.
                emit(r"(?=\n?\Z)", i)
            else:
                emit(ch + nxt, i)
            i += 2
            continue
        if in_class:
            posix = _POSIX.match(pattern, i) if ch == "[" else None
            if posix and posix.group(1) in _POSIX_CLASSES:
                emit(_POSIX_CLASSES[posix.group(1)], i)
                i = posix.end()
                continue
            if ch == "]":
                in_class = False
            emit(ch, i)
            i += 1
            continue
        if ch == "[":
            # A ']' right after '[' or '[^' is a literal member, not the end of the class.
            start = i + 1 + (pattern[i + 1:i + 2] == "^")
            head = pattern[i:start + (pattern[start:start + 1] == "]")]
            emit(head, i)
            i += len(head)
            in_class = True
            continue
        if verbose and ch == "#":
            end = pattern.find("\n", i)
            end = n if end < 0 else end
            emit(pattern[i:end], i)
            i = end
            continue
        if pattern.startswith("(?<", i) and pattern[i + 3:i + 4] not in ("=", "!"):
            emit("(?P<", i)
            i += 3
            continue
        if pattern.startswith("(?'", i):
            close = pattern.find("'", i + 3)
            if close > 0:
                emit(f"(?P<{pattern[i + 3:close]}>", i)
                i = close + 1
                continue
        emit(ch, i)
        i += 1
    return "".join(out), origin


def _flag_bits(function: str, flags: PlainData) -> int:
    if flags is None:
        return 0
    if not isinstance(flags, str):
        raise ArgumentError(function, [f"flags: expected a string of i, m, s, x, got {lua_type_name(flags)}"])
    bits = 0
    for letter in flags:
        if letter not in _FLAG_BITS:
            hint = " (match_all and gsub already work on every match)" if letter == "g" else ""
            raise ArgumentError(function, [
                f"flags: unknown flag {letter!r}{hint}; expected a string of i, m, s, x"])
        bits |= _FLAG_BITS[letter]
    return bits


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str, bits: int) -> re.Pattern[str] | tuple[str, int]:
    """Compile once per (pattern, flags). A bad pattern caches its (message, position) too."""
    translated, origin = translate(pattern, verbose=bool(bits & re.VERBOSE))
    try:
        return re.compile(translated, bits)
    except re.error as exc:
        pos = exc.pos if exc.pos is not None else len(translated)
        return exc.msg, origin[pos] if pos < len(origin) else len(pattern)


def compile_pattern(function: str, pattern: PlainData, flags: PlainData = None) -> re.Pattern[str]:
    """The compiled pattern, or an ArgumentError naming ``function``, the parameter and where the problem is."""
    if isinstance(pattern, bytes):
        pattern = pattern.decode("utf-8", "surrogateescape")
    if not isinstance(pattern, str):
        raise ArgumentError(function, [f"pattern: expected a string, got {lua_type_name(pattern)}"])
    bits = _flag_bits(function, flags)
    result = _compiled(pattern, bits)
    if isinstance(result, tuple):
        message, position = result
        shown = pattern if len(pattern) <= 80 else pattern[:77] + "..."
        raise ArgumentError(function, [
            f"pattern: {message} at character {position + 1} of {_quote(shown)}"])
    return result


def _quote(pattern: str) -> str:
    # Shown as the script author wrote it (backslashes untouched); only line breaks are made visible.
    return '"' + pattern.replace("\n", "\\n") + '"'


# -- subjects, positions and results ---------------------------------------------------------------------------


class _Subject:
    """A Lua string as text, with the conversions between character indices and Lua's byte offsets."""

    __slots__ = ("text", "binary", "ascii")

    def __init__(self, text: str, binary: bool) -> None:
        self.text = text
        self.binary = binary  # came as bytes (not valid UTF-8): results must go back as bytes
        self.ascii = text.isascii()  # then characters are bytes and no conversion is needed

    def out(self, piece: str) -> str | bytes:
        if not self.binary:
            return piece
        try:
            piece.encode("utf-8")
            return piece
        except UnicodeEncodeError:
            return piece.encode("utf-8", "surrogateescape")

    def byte_offsets(self) -> Callable[[int], int]:
        """Character index -> byte offset, for indices that never decrease: one pass over the text in total,
        however many matches there are."""
        if self.ascii:
            return lambda index: index
        done_index = done_offset = 0

        def offset(index: int) -> int:
            nonlocal done_index, done_offset
            done_offset += len(self.text[done_index:index].encode("utf-8", "surrogateescape"))
            done_index = index
            return done_offset

        return offset

    def char_index(self, offset: int) -> int:
        """Byte offset -> index of the first character that starts at or after it."""
        if self.ascii:
            return offset
        data = self.text.encode("utf-8", "surrogateescape")
        # An offset inside a multi-byte character moves on to the next character boundary.
        while True:
            index = len(data[:offset].decode("utf-8", "surrogateescape"))
            if offset >= len(data) or len(self.text[:index].encode("utf-8", "surrogateescape")) == offset:
                return index
            offset += 1

    def byte_length(self) -> int:
        return len(self.text) if self.ascii else len(self.text.encode("utf-8", "surrogateescape"))


def _subject(function: str, value: PlainData, name: str = "subject") -> _Subject:
    if isinstance(value, str):
        return _Subject(value, False)
    if isinstance(value, bytes):
        return _Subject(value.decode("utf-8", "surrogateescape"), True)
    raise ArgumentError(function, [f"{name}: expected a string, got {lua_type_name(value)}"])


def _integer(function: str, name: str, value: PlainData, minimum: int | None = None) -> int | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        shown = repr(value) if isinstance(value, float) else lua_type_name(value)
        raise ArgumentError(function, [f"{name}: expected an integer, got {shown}"])
    if minimum is not None and value < minimum:
        raise ArgumentError(function, [f"{name}: expected an integer >= {minimum}, got {value}"])
    return value


def _no_extra(function: str, extra: tuple[Any, ...], signature: str) -> None:
    if extra:
        raise ArgumentError(function, [f"too many arguments; expected {signature}"])


def _match_table(m: re.Match[str], subject: _Subject) -> dict[Any, Any]:
    """[0] = whole match, [1..n] = groups (false when a group took no part), plus named groups by name."""
    table: dict[Any, Any] = {0: subject.out(m.group(0))}
    for number, group in enumerate(m.groups(), start=1):
        table[number] = False if group is None else subject.out(group)
    for name, number in m.re.groupindex.items():
        table[name] = table[number]
    return table


# -- the functions -------------------------------------------------------------------------------------------------


def match(subject: PlainData = None, pattern: PlainData = None, flags: PlainData = None,
          *extra: PlainData) -> dict[Any, Any] | None:
    """The first match anywhere in ``subject`` as a match table, or None."""
    _no_extra("regex.match", extra, "(subject, pattern [, flags])")
    text = _subject("regex.match", subject)
    found = compile_pattern("regex.match", pattern, flags).search(text.text)
    return None if found is None else _match_table(found, text)


def match_all(subject: PlainData = None, pattern: PlainData = None, flags: PlainData = None,
              *extra: PlainData) -> LuaArray:
    """Every non-overlapping match, as an array of match tables (empty when none)."""
    _no_extra("regex.match_all", extra, "(subject, pattern [, flags])")
    text = _subject("regex.match_all", subject)
    compiled = compile_pattern("regex.match_all", pattern, flags)
    return LuaArray(_match_table(m, text) for m in compiled.finditer(text.text))


def test(subject: PlainData = None, pattern: PlainData = None, flags: PlainData = None, *extra: PlainData) -> bool:
    """True when ``pattern`` matches anywhere in ``subject``."""
    _no_extra("regex.test", extra, "(subject, pattern [, flags])")
    text = _subject("regex.test", subject)
    return compile_pattern("regex.test", pattern, flags).search(text.text) is not None


def find(subject: PlainData = None, pattern: PlainData = None, flags: PlainData = None, init: PlainData = None,
         *extra: PlainData) -> tuple[Any, ...] | None:
    """Like ``string.find``: 1-based inclusive byte positions of the first match at or after byte ``init``, then the
    captures (false for a group that took no part). ``init`` may be negative (counts from the end)."""
    _no_extra("regex.find", extra, "(subject, pattern [, flags [, init]])")
    text = _subject("regex.find", subject)
    compiled = compile_pattern("regex.find", pattern, flags)
    start = _integer("regex.find", "init", init)
    size = text.byte_length()
    if start is None:
        start = 1
    elif start < 0:
        start = max(size + start + 1, 1)
    elif start == 0:
        start = 1
    if start > size + 1:
        return None
    found = compiled.search(text.text, text.char_index(start - 1))
    if found is None:
        return None
    offset = text.byte_offsets()
    first = offset(found.start()) + 1
    last = offset(found.end())
    groups = tuple(False if g is None else text.out(g) for g in found.groups())
    return (first, last, *groups)


def split(subject: PlainData = None, pattern: PlainData = None, limit: PlainData = None, flags: PlainData = None,
          *extra: PlainData) -> LuaArray:
    """Pieces of ``subject`` between matches; captures are not included. ``limit`` caps the number of pieces (the
    last piece keeps the rest of the subject)."""
    _no_extra("regex.split", extra, "(subject, pattern [, limit [, flags]])")
    text = _subject("regex.split", subject)
    compiled = compile_pattern("regex.split", pattern, flags)
    most = _integer("regex.split", "limit", limit, minimum=1)
    pieces = LuaArray()
    last = 0
    for m in compiled.finditer(text.text):
        if most is not None and len(pieces) == most - 1:
            break
        pieces.append(text.out(text.text[last:m.start()]))
        last = m.end()
    pieces.append(text.out(text.text[last:]))
    return pieces


def escape(value: PlainData = None, *extra: PlainData) -> str | bytes:
    """``value`` with every pattern metacharacter escaped, so it matches itself literally."""
    _no_extra("regex.escape", extra, "(s)")
    text = _subject("regex.escape", value, "s")
    return text.out(re.escape(text.text))


# -- gsub ------------------------------------------------------------------------------------------------------

# A replacement template compiles to literal text (str) and group numbers (int).
_Template = list[str | int]

_TEMPLATE_TOKEN = re.compile(r"\$\$|\\\\|\$\{(\w+)\}|\$(\d\d?)|\\(\d\d?)")


def _template(replacement: str, compiled: re.Pattern[str]) -> _Template:
    parts: _Template = []
    pos = 0
    for token in _TEMPLATE_TOKEN.finditer(replacement):
        parts.append(replacement[pos:token.start()])
        pos = token.end()
        text = token.group(0)
        if text in ("$$", "\\\\"):
            parts.append(text[0])
            continue
        name = token.group(1)
        if name is not None:
            if name.isdigit():
                parts.append(_group_number(int(name), compiled, text))
            elif name in compiled.groupindex:
                parts.append(compiled.groupindex[name])
            else:
                known = ", ".join(compiled.groupindex) or "none"
                raise ArgumentError("regex.gsub", [
                    f"replacement: {text} names no group of the pattern (named groups: {known})"])
            continue
        digits = token.group(2) or token.group(3)
        if len(digits) == 2 and int(digits) > compiled.groups:
            # "$12" with fewer than 12 groups means group 1 followed by a literal "2".
            parts.append(_group_number(int(digits[0]), compiled, text[:-1]))
            parts.append(digits[1])
        else:
            parts.append(_group_number(int(digits), compiled, text))
    parts.append(replacement[pos:])
    return [p for p in parts if p != ""]


def _group_number(number: int, compiled: re.Pattern[str], text: str) -> int:
    if number > compiled.groups:
        raise ArgumentError("regex.gsub", [
            f"replacement: {text} refers to group {number} but the pattern has {compiled.groups} group(s)"])
    return number


def _expand(template: _Template, m: re.Match[str]) -> str:
    return "".join(p if isinstance(p, str) else (m.group(p) or "") for p in template)


def _gsub_common(subject: PlainData, pattern: PlainData, limit: PlainData,
                 flags: PlainData) -> tuple[_Subject, re.Pattern[str], int | None]:
    text = _subject("regex.gsub", subject)
    compiled = compile_pattern("regex.gsub", pattern, flags)
    return text, compiled, _integer("regex.gsub", "limit", limit, minimum=0)


def gsub(subject: PlainData = None, pattern: PlainData = None, replacement: PlainData = None,
         limit: PlainData = None, flags: PlainData = None, *extra: PlainData) -> tuple[str | bytes, int]:
    """Replace matches (all, or the first ``limit``) using a template string; returns the new string and the
    number of replacements."""
    _no_extra("regex.gsub", extra, "(subject, pattern, replacement [, limit [, flags]])")
    text, compiled, most = _gsub_common(subject, pattern, limit, flags)
    if isinstance(replacement, bytes):
        replacement = replacement.decode("utf-8", "surrogateescape")
        text = _Subject(text.text, True)
    if not isinstance(replacement, str):
        raise ArgumentError("regex.gsub", [
            f"replacement: expected a string or a function, got {lua_type_name(replacement)}"])
    if most == 0:
        return text.out(text.text), 0
    template = _template(replacement, compiled)
    result, count = compiled.subn(lambda m: _expand(template, m), text.text, count=most or 0)
    return text.out(result), count


def spans(subject: PlainData = None, pattern: PlainData = None, limit: PlainData = None,
          flags: PlainData = None) -> LuaArray:
    """For the Lua side of ``regex.gsub`` with a function: each match as {first byte, last byte, match table}."""
    text, compiled, most = _gsub_common(subject, pattern, limit, flags)
    found = LuaArray()
    if most == 0:
        return found
    offset = text.byte_offsets()
    for m in compiled.finditer(text.text):
        found.append(LuaArray([offset(m.start()) + 1, offset(m.end()), _match_table(m, text)]))
        if most is not None and len(found) == most:
            break
    return found
