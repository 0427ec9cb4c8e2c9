"""A command's options as data: an argparse parser for help and errors, and a fast scanner for the common case.

argparse costs ~9 ms to import (it pulls in ``re`` and ``gettext``), a large share of the few tens of
milliseconds `kosmo integrations:lua --eval ...` may take. So the commands that shell scripts call in a loop
describe their options once, here, and the dispatcher first tries ``scan``: it handles well-formed command lines
and returns ``None`` for anything else (``--help``, an unknown or abbreviated flag, a missing value, a value that
does not convert, ``--``, a value that starts with ``-``), so that argparse parses the same line and produces its
usual help or error text. A test checks that whenever ``scan`` answers, argparse gives the same namespace.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs milliseconds of start-up; type checkers read the names below anyway
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence
    from typing import Any

__all__ = ["Option", "Positional", "add_to_parser", "scan", "type_error"]


class Option:
    """One ``--flag`` (a switch), ``--name VALUE`` or ``--name [VALUE]`` (an optional value with ``const``)."""

    __slots__ = ("flags", "dest", "takes_value", "convert", "default", "metavar", "help", "choices", "const")

    def __init__(self, *flags: str, dest: str, takes_value: bool = False, convert: Callable[[str], Any] | None = None,
                 default: Any = None, metavar: str | None = None, help: str = "",
                 choices: Sequence[str] | None = None, const: str | None = None) -> None:
        self.flags = flags
        self.dest = dest
        self.takes_value = takes_value
        self.convert = convert
        self.default = False if not takes_value and const is None else default
        self.metavar = metavar
        self.help = help
        self.choices = tuple(choices) if choices is not None else None
        self.const = const  # set: the value is optional and this is what the bare flag means


class Positional:
    """An optional positional argument (``nargs="?"``)."""

    __slots__ = ("dest", "metavar", "help")

    def __init__(self, dest: str, *, metavar: str, help: str) -> None:
        self.dest = dest
        self.metavar = metavar
        self.help = help


def type_error(message: str) -> Exception:
    """The error a ``convert`` function raises: argparse shows its message verbatim (and ``scan`` defers)."""
    import argparse

    return argparse.ArgumentTypeError(message)


def add_to_parser(parser: argparse.ArgumentParser, positionals: Sequence[Positional],
                  options: Sequence[Option]) -> None:
    for pos in positionals:
        parser.add_argument(pos.dest, nargs="?", metavar=pos.metavar, help=pos.help)
    for opt in options:
        kwargs: dict[str, Any] = {"dest": opt.dest, "help": opt.help}
        if opt.const is not None:
            kwargs.update(nargs="?", const=opt.const, default=opt.default, choices=opt.choices)
        elif opt.takes_value:
            kwargs.update(default=opt.default, metavar=opt.metavar)
            if opt.convert is not None:
                kwargs["type"] = opt.convert
            if opt.choices is not None:
                kwargs["choices"] = opt.choices
        else:
            kwargs["action"] = "store_true"
        parser.add_argument(*opt.flags, **kwargs)


def scan(argv: Sequence[str], positionals: Sequence[Positional], options: Sequence[Option],
         defaults: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The parsed values when ``argv`` is a plain, valid command line; ``None`` when argparse must decide."""
    by_flag = {flag: opt for opt in options for flag in opt.flags}
    values: dict[str, Any] = {pos.dest: None for pos in positionals}
    values.update((opt.dest, opt.default) for opt in options)
    values.update(defaults or {})
    free = [pos.dest for pos in positionals]
    i = 0
    while i < len(argv):
        token = argv[i]
        i += 1
        if not token.startswith("-"):
            if not free:
                return None  # one positional too many: argparse says so
            values[free.pop(0)] = token
            continue
        name, eq, inline = token.partition("=")
        opt = by_flag.get(name) if name.startswith("--") else by_flag.get(token)
        if opt is None:
            return None  # -h, --help, --, '-', an abbreviation, a typo, -eCODE: all argparse's
        if not opt.takes_value and opt.const is None:
            if eq:
                return None
            values[opt.dest] = True
            continue
        if eq:
            raw: str | None = inline
        elif i < len(argv) and not argv[i].startswith("-"):
            raw = argv[i]
            i += 1
        else:
            raw = None
        if raw is None:
            if opt.const is None:
                return None  # a value is required
            values[opt.dest] = opt.const
            continue
        if opt.choices is not None and raw not in opt.choices:
            return None
        try:
            values[opt.dest] = opt.convert(raw) if opt.convert is not None else raw
        except Exception:  # noqa: BLE001 - whatever the converter refuses, argparse reports
            return None
    return values
