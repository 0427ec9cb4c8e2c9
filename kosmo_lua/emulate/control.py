"""The emulator's own endpoints under ``/_emulator/``: health, the request log, reset and fault control.

They need no credential, are never logged and never faulted, so a test can always inspect and steer the emulator.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .faults import fault_from_data
from .messages import Incoming, Reply

if TYPE_CHECKING:
    from .emulator import Emulator

__all__ = ["control_reply"]


def _problem(status: int, title: str, detail: str) -> Reply:
    return Reply.json({"title": title, "detail": detail, "status": status}, status,
                      content_type="application/problem+json")


def control_reply(emulator: "Emulator", incoming: Incoming, base_url: str) -> Reply:
    name = incoming.path[len("/_emulator/"):].rstrip("/")
    method = incoming.method
    if name == "health" and method == "GET":
        return Reply.json({"status": "ok", "emulator": emulator.title, "base_url": base_url,
                           "requests": len(emulator.requests), "faults": len(emulator.faults)})
    if name == "requests" and method == "GET":
        return Reply.json([r.to_data() for r in emulator.requests])
    if name == "reset" and method == "POST":
        emulator.reset()
        return Reply.json({"status": "reset"})
    if name == "faults":
        if method == "GET":
            return Reply.json([f.to_data() for f in emulator.faults.active()])
        if method == "DELETE":
            emulator.faults.clear()
            return Reply.empty(204)
        if method == "POST":
            return _add_faults(emulator, incoming.body)
    known = {"health": "GET", "requests": "GET", "reset": "POST", "faults": "GET, POST, DELETE"}
    if name in known:
        reply = _problem(405, "Method Not Allowed", f"{method} is not allowed on /_emulator/{name}")
        reply.headers.append(("Allow", known[name]))
        return reply
    return _problem(404, "Not Found", f"No control endpoint /_emulator/{name}; "
                                      f"expected one of: {', '.join('/_emulator/' + k for k in known)}")


def _add_faults(emulator: "Emulator", body: bytes) -> Reply:
    try:
        data: Any = json.loads(body or b"null")
    except ValueError as exc:
        return _problem(400, "Malformed JSON", f"POST /_emulator/faults: the body is not JSON ({exc})")
    items = data if isinstance(data, list) else [data]
    faults = []
    for i, item in enumerate(items):
        try:
            faults.append(fault_from_data(item))
        except ValueError as exc:
            return _problem(400, "Invalid fault", f"POST /_emulator/faults: fault {i}: {exc}")
    emulator.faults.extend(faults)  # all or nothing: one bad fault adds none
    return Reply.json({"added": len(faults), "faults": [f.to_data() for f in emulator.faults.active()]}, 201)
