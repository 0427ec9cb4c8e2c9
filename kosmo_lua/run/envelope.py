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

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Envelope", "ENVELOPE_KEYS"]

ENVELOPE_KEYS = ("success", "output", "error", "result", "execution_time_ms", "memory_usage", "integration_calls",
                 "meta")


@dataclass
class Envelope:
    success: bool
    output_lines: list[str] = field(default_factory=list)
    error: str | None = None
    result: list[Any] = field(default_factory=list)
    execution_time_ms: float = 0.0
    memory_usage: int = 0
    integration_calls: list[dict[str, Any]] = field(default_factory=list)
    permission_bypassed: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

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
