"""The injected HTTP layer: one ``HttpClient`` per account (httpx, retries, deadline-capped timeouts), with
per-account rate pacing (``Pacer``). Importing this package does not import httpx; making a client does.
"""

from __future__ import annotations

from .client import DEFAULT_MAX_RESPONSE_BYTES, HttpClient, user_agent
from .errors import DeadlineReached
from .pacing import Pacer, shared_pacer

__all__ = ["HttpClient", "DeadlineReached", "Pacer", "shared_pacer", "DEFAULT_MAX_RESPONSE_BYTES", "user_agent"]
