"""The result of running one chunk, as every caller sees it (CLI `--json`, agent tools, MCP).

Shape (exactly these top-level keys)::

    {
      "success": true,
      "output": "line 1\\nline 2",          # everything print/dump captured, one line per call
      "error": null,                        # the error message when success is false
      "result": [42],                       # the chunk's return values, as a list
      "execution_time_ms": 3.1,
      "memory_usage": 52431,                # peak Lua memory of the chunk, in bytes
      "integration_calls": [{"path": "replicate.get_prediction", "account": "default", "duration_ms": 12.0,
                             "status": "ok", "error": null, "http_status": 200, "attempts": 1}],
      "meta": {"permission_bypassed": false, ...}
    }

``meta`` is open for additions (``error_value`` holds a thrown table as data; ``state_reset`` tells a session
that its earlier state was lost to a hard limit).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs milliseconds of start-up; type checkers read the names below anyway
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Envelope", "ENVELOPE_KEYS"]

ENVELOPE_KEYS = ("success", "output", "error", "result", "execution_time_ms", "memory_usage", "integration_calls",
                 "meta")


class Envelope:
    """Filled in as a run goes (a plain class: dataclasses cost start-up time, see RunOptions)."""

    __slots__ = ("success", "output_lines", "error", "result", "execution_time_ms", "memory_usage",
                 "integration_calls", "permission_bypassed", "meta")

    def __init__(self, success: bool, output_lines: list[str] | None = None, error: str | None = None,
                 result: list[Any] | None = None, execution_time_ms: float = 0.0, memory_usage: int = 0,
                 integration_calls: list[dict[str, Any]] | None = None, permission_bypassed: bool = False,
                 meta: dict[str, Any] | None = None) -> None:
        self.success = success
        self.output_lines: list[str] = output_lines if output_lines is not None else []
        self.error = error
        self.result: list[Any] = result if result is not None else []
        self.execution_time_ms = execution_time_ms
        self.memory_usage = memory_usage
        self.integration_calls: list[dict[str, Any]] = integration_calls if integration_calls is not None else []
        self.permission_bypassed = permission_bypassed
        self.meta: dict[str, Any] = meta if meta is not None else {}

    def __repr__(self) -> str:
        return f"Envelope({self.to_dict()!r})"
    @property
    def output(self) -> str:
        return "\n".join(self.output_lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "success": self.success,
            "output": self.output,
            "error": self.error,
            "result": self.result,
            "execution_time_ms": round(self.execution_time_ms, 3),
            "memory_usage": self.memory_usage,
            "integration_calls": self.integration_calls,
            "meta": {"permission_bypassed": self.permission_bypassed, **self.meta},
        }

    @property
    def exit_code(self) -> int:
        return 0 if self.success else 1
