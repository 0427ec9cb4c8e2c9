"""Read/write permission policies: may this run call this operation?

Each integration has a policy per access kind (``read`` for GET/HEAD/QUERY operations, ``write`` for the rest):
``allow`` calls go out, ``ask`` calls need a yes from a person (or ``--force``), ``deny`` calls are refused unless
``--force`` is given. Defaults come from integration.yaml; ``permissions`` in config overrides them per key.
``--force`` bypasses the policy and nothing else; ``check`` reports when it did, so the run can record it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..errors import PermissionRefused, UsageError
from ..integration import Integration
from .settings import POLICIES, Config

__all__ = ["Policy", "load_policy", "as_policy", "check", "ask_on_terminal"]

#: Asks a person a yes/no question; True means yes.
Prompt = Callable[[str], bool]


@dataclass(frozen=True)
class Policy:
    read: str = "allow"
    write: str = "ask"

    def __post_init__(self) -> None:
        for access in ("read", "write"):
            value = getattr(self, access)
            if value not in POLICIES:
                raise UsageError(f"permission {access} must be allow, ask or deny, not {value!r}")

    def for_access(self, access: str) -> str:
        if access not in ("read", "write"):
            raise UsageError(f"operation access must be read or write, not {access!r}")
        return str(getattr(self, access))


def load_policy(config: Config, integration: Integration) -> Policy:
    """integration.yaml's defaults with the config's overrides on top."""
    return as_policy(config.permissions(integration))


def as_policy(policy: Policy | Mapping[str, str]) -> Policy:
    if isinstance(policy, Policy):
        return policy
    return Policy(read=policy.get("read", "allow"), write=policy.get("write", "ask"))


def ask_on_terminal(question: str) -> bool:
    """Ask on the controlling terminal (not stdin, which may carry the script); anything but y/yes is a no."""
    try:
        with open("/dev/tty", "r+", encoding="utf-8") as tty:
            tty.write(f"{question} [y/N] ")
            tty.flush()
            answer = tty.readline()
    except OSError:
        return False
    return answer.strip().lower() in ("y", "yes")


def check(integration: Integration | str, operation_access: str, *, function: str,
          policy: Policy | Mapping[str, str], force: bool, interactive: bool = False, agent: bool = False,
          prompt: Prompt | None = None) -> bool:
    """Allow the call or raise PermissionRefused (nothing is sent then).

    Returns True when ``force`` let through a call the policy would have stopped (the run records the bypass),
    False otherwise. ``interactive`` runs ask a person through ``prompt`` (default: the terminal) for ``ask``;
    ``agent`` runs never prompt (the agent's tool call was the approval point), whatever ``interactive`` says.
    """
    name = integration if isinstance(integration, str) else integration.name
    decision = as_policy(policy).for_access(operation_access)
    if decision == "allow":
        return False
    if force:
        return True
    fix = f"kosmo integrations:configure {name} --{operation_access} allow"
    if decision == "deny":
        raise PermissionRefused(
            f"{function}: {operation_access} access to {name} is denied by its permission policy. "
            f"Re-run with --force to override once, or change the policy: {fix}",
            operation=function, access=operation_access, policy=decision)
    if interactive and not agent:
        if (prompt or ask_on_terminal)(f"Allow {function} ({operation_access} access to {name})?"):
            return False
        raise PermissionRefused(f"{function}: {operation_access} access to {name} was refused at the prompt",
                                operation=function, access=operation_access, policy=decision)
    raise PermissionRefused(
        f"{function}: {operation_access} access to {name} needs approval (policy: ask) and this run cannot ask. "
        f"Re-run with --force, or allow it: {fix}",
        operation=function, access=operation_access, policy=decision)
