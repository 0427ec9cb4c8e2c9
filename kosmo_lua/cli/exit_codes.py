"""How a command reports an error it caught: one line on stderr and the exit code `kosmo --help` promises."""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing costs milliseconds of start-up; type checkers read the names below anyway
if TYPE_CHECKING:
    from ..errors import KosmoError

__all__ = ["report_error"]


def report_error(prog: str, exc: KosmoError) -> int:
    """Write ``prog: message`` to stderr; 2 for a usage error (the command line was wrong), else 1."""
    from ..errors import UsageError

    sys.stderr.write(f"{prog}: {exc}\n")
    return 2 if isinstance(exc, UsageError) else 1
