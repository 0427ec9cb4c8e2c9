"""What `kosmo integrations:configure` and `kosmo mcp:configure` share on the command line.

Both take secrets as option values, so both parse options without echoing a value, split ``KEY=VALUE`` items
without quoting a malformed one, and report the change as the store describes it (secrets already hidden) followed
by the files written.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable
from pathlib import Path
from typing import NoReturn

from ..errors import UsageError

__all__ = ["SecretSafeParser", "parse_assignments", "print_change"]


class SecretSafeParser(argparse.ArgumentParser):
    """argparse echoes bad arguments; a mistyped `--sett api_key=r8_...` must not print the token."""

    def error(self, message: str) -> NoReturn:
        message = re.sub(r"=\S+", "=***", message)
        # A value argparse could not place may be a secret typed without its KEY= (`--set api_key r8_...`), or
        # given to the wrong option (`--read r8_...`): name the options it saw, never the values.
        message = re.sub(r"(unrecognized arguments: )(.*)", lambda m: m.group(1) + " ".join(
            word if word.startswith("-") else "***" for word in m.group(2).split()), message)
        message = re.sub(r"invalid choice: '[^']*'", "invalid choice: '***'", message)
        super().error(message)


def parse_assignments(items: Iterable[str], error: str) -> dict[str, str]:
    """``KEY=VALUE`` items as a mapping (later items win); a malformed item raises UsageError(error).

    The error is the caller's fixed text and never quotes the item: a forgotten "api_key=" would put the secret
    itself in the message.
    """
    pairs: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(error)
        pairs[key.strip()] = value
    return pairs


def _home_relative(path: Path) -> str:
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)


def print_change(heading: str, lines: Iterable[str], written: Iterable[Path]) -> None:
    """The heading, one indented line a setting changed, then the files saved (or that none changed)."""
    print(heading)
    for line in lines:
        print(f"  {line}")
    shown = [_home_relative(p) for p in written]
    print("saved: " + ", ".join(shown) if shown else "no file changed")
