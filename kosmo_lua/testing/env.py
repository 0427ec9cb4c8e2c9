"""The world a workflow test runs in: a throw-away kosmo home, a work folder, and emulators on loopback ports.

``KosmoTestEnv`` owns all three for one test. Emulators run in the test's own process (a thread per server), so a
test can read their request logs and inject faults directly; the workflow itself runs in a real ``kosmo``
subprocess whose accounts point at them. Nothing here imports pytest: the plugin module wires it to fixtures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from ..errors import KosmoError, UsageError

if TYPE_CHECKING:
    from ..emulate import Emulator, LoggedRequest, LoopbackServer

__all__ = ["EmulatorHandle", "KosmoTestEnv", "TEST_TOKEN"]

#: The credential test accounts carry. Emulators accept any non-empty token; this one is easy to spot in logs.
TEST_TOKEN = "kosmo-test-token"


@dataclass
class EmulatorHandle:
    """One integration's emulator, serving on a loopback port for the length of a test."""

    name: str
    emulator: "Emulator"
    server: "LoopbackServer"
    token: str = TEST_TOKEN

    @property
    def base_url(self) -> str:
        """What an account's ``url`` should be: the server's address plus the API's path prefix."""
        return self.server.base_url

    @property
    def requests(self) -> list["LoggedRequest"]:
        """Every API request the emulator has answered so far (credentials redacted)."""
        return self.emulator.requests

    def reset(self) -> None:
        """Forget requests, faults and created objects: the emulator starts over."""
        self.emulator.reset()


def _command() -> list[str]:
    return [sys.executable, "-m", "kosmo_lua"]


@dataclass
class KosmoTestEnv:
    home: Path  # KOSMO_HOME of every kosmo run
    workdir: Path  # the working folder runs use unless told otherwise (save_to writes land here)
    emulators: dict[str, EmulatorHandle] = field(default_factory=dict)
    _applied: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)

    # -- emulators -------------------------------------------------------------------------------------------------

    def start_emulator(self, name: str, **options: Any) -> EmulatorHandle:
        """Start ``name``'s emulator (once per test; asking again returns the same one)."""
        from ..emulate import load_emulator
        from ..integration import load_integration
        from ..registry import integration_folder

        if name in self.emulators:
            if options:
                raise UsageError(f"the {name} emulator is already running; pass options on first use only")
            return self.emulators[name]
        folder = integration_folder(name)
        info = load_integration(folder)
        if not info.emulator or not (folder / info.emulator).is_file():
            raise UsageError(f"integration '{name}' has no emulator ({folder} holds no "
                             f"{info.emulator or 'emulator.py'})")
        emulator = load_emulator(folder, **options)
        handle = EmulatorHandle(name, emulator, emulator.serve("127.0.0.1", 0))
        self.emulators[name] = handle
        return handle

    def close(self) -> None:
        for handle in self.emulators.values():
            handle.server.stop()
        self.emulators.clear()

    # -- the environment of a run ----------------------------------------------------------------------------------

    def environ(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The test process's environment without anything that could reach a real account, plus ``extra``."""
        from ..integration import load_integration
        from ..registry import discover

        env = {k: v for k, v in os.environ.items() if not k.startswith("KOSMO_") or k == "KOSMO_INTEGRATIONS_PATH"}
        for name, folder in discover().items():
            try:
                info = load_integration(folder)
            except KosmoError as exc:
                # Not knowing which variables hold its token, the run could leak one: refuse instead.
                raise UsageError(f"cannot prepare a workflow run: {name}: {exc}") from None
            # The default account reads tokens and URLs from these variables; a test must never use a real one.
            for var in info.default_env.values():
                env.pop(var, None)
        env["KOSMO_HOME"] = str(self.home)
        env.update(extra or {})
        return env

    def configure(self, accounts: Mapping[str, Any]) -> None:
        """Point accounts at emulators or give them fields: ``{"replicate": handle, "replicate.work": {...}}``.

        Every started emulator also backs its integration's default account unless ``accounts`` says otherwise.
        Each account is written with ``kosmo integrations:configure`` (only when it changed since the last run).
        """
        wanted: dict[tuple[str, str], dict[str, str]] = {}
        for name, handle in self.emulators.items():
            wanted[(name, "default")] = {"url": handle.base_url, "api_key": handle.token}
        for key, spec in accounts.items():
            integration, _, alias = str(key).partition(".")
            if isinstance(spec, EmulatorHandle):
                fields = {"url": spec.base_url, "api_key": spec.token}
            elif isinstance(spec, Mapping):
                fields = {str(k): str(v) for k, v in spec.items()}
            else:
                raise UsageError(f"accounts[{key!r}] must be an emulator fixture or a mapping of account fields "
                                 f"(url, api_key...), not {type(spec).__name__}")
            wanted[(integration, alias or "default")] = fields
        for (integration, alias), fields in wanted.items():
            if self._applied.get((integration, alias)) == fields:
                continue
            self._configure_one(integration, alias, fields)
            self._applied[(integration, alias)] = dict(fields)

    def _configure_one(self, integration: str, alias: str, fields: dict[str, str]) -> None:
        # Through stdin, as a user would pass a secret: it never appears on a command line.
        payload = json.dumps({"account": None if alias == "default" else alias, "set": fields})
        proc = subprocess.run([*_command(), "integrations:configure", integration, "--stdin-json"],
                              input=payload, capture_output=True, text=True, env=self.environ(), cwd=self.workdir,
                              timeout=60)
        if proc.returncode != 0:
            raise UsageError(f"configuring {integration} account '{alias}' failed: {proc.stderr.strip()}")
