"""A small MCP server for the tests, built on the official SDK's MCPServer and run over stdio.

Tools cover each case the Lua bridge must handle: read-only (readOnlyHint) and write tools, structured and text
results, a tool that reports an error, one that raises, one that sleeps past any test's time limit, one that kills
the server, and one that says whether an environment variable arrived (without ever showing its value).
Every call is appended to the file named by DEMO_CALL_LOG, when set, so tests can check what reached the server.
"""

from __future__ import annotations

import os
import sys

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel

server = MCPServer("demo", instructions="Test server for kosmo-lua")
READ_ONLY = ToolAnnotations(read_only_hint=True)


def _log(name: str) -> None:
    path = os.environ.get("DEMO_CALL_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(name + "\n")


@server.tool(annotations=READ_ONLY)
def add(a: int, b: int) -> int:
    """Add two integers."""
    _log("add")
    return a + b


@server.tool(annotations=READ_ONLY)
def shout(text: str, times: int = 1) -> str:
    """Upper-case a text, repeated `times` times (1 to 5)."""
    _log("shout")
    if not 1 <= times <= 5:
        raise ToolError("times must be between 1 and 5")
    return " ".join([text.upper()] * times)


@server.tool(annotations=READ_ONLY, structured_output=False)
def plain_text(text: str) -> str:
    """Return the text as a plain text block (no structured content)."""
    _log("plain_text")
    return text


class Saved(BaseModel):
    saved: bool
    title: str
    length: int


class EnvStatus(BaseModel):
    set: bool
    length: int


@server.tool()
def save_note(title: str, body: str = "") -> Saved:
    """Store a note (a write: changes the server's state)."""
    _log("save_note")
    return Saved(saved=True, title=title, length=len(body))


@server.tool(annotations=READ_ONLY)
def fail(reason: str = "it went wrong") -> str:
    """Always reports an error to the caller."""
    _log("fail")
    raise ToolError(f"failed on purpose: {reason}")


@server.tool(annotations=READ_ONLY)
def crash() -> str:
    """Raises an unexpected exception inside the server."""
    _log("crash")
    raise RuntimeError("unexpected failure inside the tool")


@server.tool(annotations=READ_ONLY)
async def slow(seconds: float = 30.0) -> str:
    """Sleeps, then answers."""
    _log("slow")
    await anyio.sleep(seconds)
    return "done"


@server.tool()
def exit_now() -> str:
    """Ends the server process at once, without answering."""
    _log("exit_now")
    sys.stderr.write("demo server: exiting on request\n")
    sys.stderr.flush()
    os._exit(3)


@server.tool(annotations=READ_ONLY)
def env_status(name: str) -> EnvStatus:
    """Whether an environment variable is set, and its length (never its value)."""
    _log("env_status")
    value = os.environ.get(name)
    return EnvStatus(set=value is not None, length=len(value or ""))


@server.tool(annotations=READ_ONLY)
def where() -> str:
    """The server's working directory."""
    return os.getcwd()


@server.resource("demo://readme", name="readme", description="What the demo server is", mime_type="text/plain")
def readme() -> str:
    return "The demo server answers tests."


@server.prompt()
def greet(name: str) -> str:
    """Ask for a greeting."""
    return f"Please greet {name} warmly."


if __name__ == "__main__":
    server.run()
