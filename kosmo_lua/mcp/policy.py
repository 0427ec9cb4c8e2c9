"""Permission policy for MCP tool calls: the integrations' read/write model, per server.

A tool is ``read`` when its annotations say ``readOnlyHint: true`` (a server's claim, but the only one MCP gives)
and ``write`` otherwise; reading a resource or getting a prompt is ``read``. Defaults: read allow, write ask.
``--force`` bypasses ask and deny and nothing else; runs never prompt, so ``ask`` refuses with the command that
allows it. Agent runs get a message meant for a model: it cannot override the policy, the user has to.
"""

from __future__ import annotations

from ..errors import PermissionRefused
from .config import ServerConfig

__all__ = ["allow_command", "check_access"]


def allow_command(server: str, access: str) -> str:
    return f"kosmo mcp:configure {server} --{access} allow"


def check_access(server: ServerConfig, access: str, *, function: str, force: bool, agent: bool = False) -> bool:
    """Allow the call or raise PermissionRefused (nothing is sent then). True when ``force`` let through a call
    the policy would have stopped, so the run can record the bypass."""
    decision = server.policy(access)
    if decision == "allow":
        return False
    if force:
        return True
    fix = allow_command(server.name, access)
    subject = f"{access} access to MCP server '{server.name}'"
    if agent:
        verdict = "is denied by its permission policy" if decision == "deny" else \
            "needs the user's approval (policy: ask)"
        message = (f"{function}: {subject} {verdict}. A script cannot override this: ask the user to allow it "
                   f"(`{fix}`) and then run the script again.")
    elif decision == "deny":
        message = (f"{function}: {subject} is denied by its permission policy. Re-run with --force to override "
                   f"once, or change the policy: {fix}")
    else:
        message = (f"{function}: {subject} needs approval (policy: ask) and this run cannot ask. Re-run with "
                   f"--force, or allow it: {fix}")
    error = PermissionRefused(message, operation=function, access=access, policy=decision)
    error.data["server"] = server.name
    error.data["allow_command"] = fix
    raise error
