"""MCP SDK results -> the plain data a Lua script receives (``kosmo_lua.sandbox.values``).

Field names are the SDK's snake_case ones (``mime_type``, ``input_schema``), which read naturally in Lua. Binary
content (images, audio, blobs) stays base64 text, as MCP sends it, so it can go straight into JSON.
"""

from __future__ import annotations


from ..sandbox.values import LuaArray

TYPE_CHECKING = False  # typing costs milliseconds of start-up; type checkers read the names below anyway
if TYPE_CHECKING:
    from typing import Any

__all__ = ["tool_access", "tool_info", "tool_result", "content_text", "resource_info", "read_result",
           "prompt_info", "prompt_result", "plain"]


def plain(model: Any) -> Any:
    """A pydantic model (or list of them) as plain data without null fields."""
    if isinstance(model, list):
        return LuaArray(plain(m) for m in model)
    if hasattr(model, "model_dump"):
        return model.model_dump(mode="json", exclude_none=True)
    return model


def tool_access(tool: Any) -> str:
    """``read`` when the server marks the tool read-only (annotations.readOnlyHint = true), else ``write``."""
    annotations = getattr(tool, "annotations", None)
    return "read" if annotations is not None and annotations.read_only_hint is True else "write"


def tool_info(server: str, tool: Any) -> dict[str, Any]:
    info: dict[str, Any] = {"server": server, "name": tool.name, "access": tool_access(tool),
                            "description": tool.description or ""}
    if getattr(tool, "title", None):
        info["title"] = tool.title
    return info


def content_text(blocks: list[Any]) -> str:
    """The text of every text block, one per line (what a person or a model reads of a result)."""
    return "\n".join(b.text for b in blocks if getattr(b, "type", None) == "text")


def tool_result(result: Any) -> Any:
    """What ``app.mcp.<server>.<tool>(...)`` returns: the structured content when the server sends it; else the
    text when every block is text; else the content blocks as an array of tables."""
    if result.structured_content is not None:
        return result.structured_content
    blocks = list(result.content or [])
    if all(getattr(b, "type", None) == "text" for b in blocks):
        return content_text(blocks)
    return plain(blocks)


def resource_info(resource: Any) -> dict[str, Any]:
    return plain(resource)


def read_result(uri: str, result: Any) -> dict[str, Any]:
    """``{uri, contents = {...}, text = ...}``; ``text`` joins the text contents when there are any."""
    contents = plain(list(result.contents))
    out: dict[str, Any] = {"uri": uri, "contents": contents}
    texts = [c.text for c in result.contents if getattr(c, "text", None) is not None]
    if texts:
        out["text"] = "\n".join(texts)
    return out


def prompt_info(prompt: Any) -> dict[str, Any]:
    info = plain(prompt)
    info.setdefault("arguments", LuaArray())
    return info


def prompt_result(result: Any) -> dict[str, Any]:
    """``{description, messages = {{role, content}, ...}, text = ...}``; ``text`` joins the text messages."""
    out: dict[str, Any] = {"messages": plain(list(result.messages))}
    if result.description:
        out["description"] = result.description
    texts = [m.content.text for m in result.messages if getattr(m.content, "type", None) == "text"]
    if texts:
        out["text"] = "\n".join(texts)
    return out
