"""A run's envelope as the agent sees it: readable text for the model, and the structured envelope beside it.

A refused call gets special wording. The permission module's message tells a person to re-run with ``--force``;
a model cannot do that (agent runs never bypass policies), so the refusal is rewritten to say what the *user*
must allow, and the structured envelope says the same in ``meta.permission_required``.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["permission_required", "agent_refusal", "apply_refusal", "envelope_text", "MAX_TEXT"]

#: The text for the model is cut here (the structured envelope keeps everything); long output wastes context.
MAX_TEXT = 60_000


def permission_required(envelope: dict[str, Any]) -> dict[str, Any] | None:
    """What the user must allow, when the run ended on a permission refusal: {operation, access, policy,
    allow_command}."""
    value = (envelope.get("meta") or {}).get("error_value")
    if not isinstance(value, dict) or value.get("kind") != "permission":
        return None
    operation = str(value.get("operation") or "")
    access = str(value.get("access") or "write")
    command = value.get("allow_command")
    if not command:
        target = operation.split(".", 1)[0] if operation else "<integration>"
        command = f"kosmo integrations:configure {target} --{access} allow"
    return {"operation": operation, "access": access, "policy": str(value.get("policy") or "ask"),
            "allow_command": command}


def agent_refusal(required: dict[str, Any]) -> str:
    how = "the user's policy denies it" if required["policy"] == "deny" else "the user has not allowed it"
    return (f"Permission refused: {required['operation']} needs {required['access']} access and {how} "
            f"(policy: {required['policy']}). Nothing was sent. A script cannot override this and retrying will "
            f"fail the same way: ask the user to allow it (`{required['allow_command']}`), then run it again.")


def apply_refusal(envelope: dict[str, Any]) -> None:
    """Rewrite a permission refusal in place for a model: the error, the refused call's record, and
    ``meta.permission_required``."""
    required = permission_required(envelope)
    if required is None:
        return
    value = envelope["meta"].get("error_value") or {}
    original = {envelope.get("error"), value.get("message")}
    message = agent_refusal(required)
    envelope["error"] = message
    envelope["meta"]["permission_required"] = required
    for call in envelope.get("integration_calls") or []:
        if call.get("error") in original:
            call["error"] = f"permission refused ({required['access']} access not allowed; see the error)"


def _value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)


def _call_line(call: dict[str, Any]) -> str:
    bits = [str(call.get("status", "?"))]
    if call.get("http_status") is not None:
        bits.append(f"HTTP {call['http_status']}")
    if call.get("duration_ms") is not None:
        bits.append(f"{float(call['duration_ms']):.0f} ms")
    if call.get("permission_bypassed"):
        bits.append("permission bypassed")
    line = f"- {call.get('path', '?')}: {', '.join(bits)}"
    if call.get("error"):
        line += f": {call['error']}"
    return line


def envelope_text(envelope: dict[str, Any], *, title: str = "Lua script") -> str:
    """Readable summary: status, printed output, return values, error, calls, time and memory."""
    lines = [f"{title}: {'succeeded' if envelope.get('success') else 'failed'}"]
    if envelope.get("output"):
        lines += ["", "Output:", envelope["output"]]
    result = envelope.get("result") or []
    if result:
        lines += ["", "Returned:" if len(result) == 1 else f"Returned {len(result)} values:"]
        lines += [_value(v) for v in result]
    if envelope.get("error"):
        lines += ["", f"Error: {envelope['error']}"]
        value = (envelope.get("meta") or {}).get("error_value")
        if isinstance(value, dict) and "permission_required" not in (envelope.get("meta") or {}):
            lines.append("Error value: " + json.dumps(value, ensure_ascii=False, sort_keys=True))
    calls = envelope.get("integration_calls") or []
    if calls:
        lines += ["", f"Calls ({len(calls)}):"] + [_call_line(c) for c in calls]
    meta = envelope.get("meta") or {}
    notes = []
    if meta.get("state_reset"):
        notes.append("the session's earlier state was lost (a hard limit stopped the worker); globals are gone")
    if meta.get("killed"):
        notes.append("the script was stopped at the time limit")
    lines += ["", f"Time: {float(envelope.get('execution_time_ms') or 0):.1f} ms; peak Lua memory: "
                  f"{int(envelope.get('memory_usage') or 0)} bytes"]
    if notes:
        lines.append("Note: " + "; ".join(notes) + ".")
    text = "\n".join(lines)
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT] + f"\n[... cut at {MAX_TEXT} characters; the structured result has everything]"
    return text
