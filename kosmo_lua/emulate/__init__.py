"""Shared machinery for API emulators: an in-process httpx transport, a loopback server, faults, a request log.

An integration's ``emulator.py`` subclasses ``Emulator``, marks handlers with ``@route`` and defines
``create_emulator(**options)``; ``load_emulator(folder)`` loads it by file path. See ``emulator.py`` for the
pipeline and ``faults.py`` for what can be injected.
"""

from .clock import http_date, parse_rfc3339, rfc3339
from .emulator import CONTROL_PREFIX, DEFAULT_ORIGIN, Emulator
from .faults import FAULT_KINDS, Fault, FaultPlan, fault_from_data
from .ids import IdFactory
from .loader import load_emulator
from .log import REDACTED, LoggedRequest
from .media import tiny_png
from .messages import ApiError, Call, Reply
from .pages import paginate
from .routing import route
from .server import LoopbackServer
from .validate import Problem, check

__all__ = [
    "Emulator",
    "route",
    "Call",
    "Reply",
    "ApiError",
    "Fault",
    "FaultPlan",
    "FAULT_KINDS",
    "fault_from_data",
    "LoggedRequest",
    "REDACTED",
    "LoopbackServer",
    "load_emulator",
    "paginate",
    "IdFactory",
    "Problem",
    "check",
    "tiny_png",
    "rfc3339",
    "parse_rfc3339",
    "http_date",
    "DEFAULT_ORIGIN",
    "CONTROL_PREFIX",
]
