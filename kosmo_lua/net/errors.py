"""Errors of the HTTP layer that the engine treats specially."""

from __future__ import annotations

from ..errors import TransportError

__all__ = ["DeadlineReached"]


class DeadlineReached(TransportError):
    """The run's time limit passed (or would pass) while waiting on the API: pacing, back-off or the response.

    The engine turns it into its time-limit error; the message says what was being waited for.
    """

    def __init__(self, operation: str, waiting_for: str = "a response") -> None:
        super().__init__(operation, f"time limit reached while waiting for {waiting_for}", deadline=True)
