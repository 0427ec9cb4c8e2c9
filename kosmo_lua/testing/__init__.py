"""A pytest plugin for testing your own kosmo workflows against the bundled API emulators.

Registered through the ``pytest11`` entry point (name ``kosmo_lua``), so installing kosmo-lua is enough; without
the entry point, load it with ``pytest -p kosmo_lua.testing``. Fixtures:

``kosmo_env``
    the test's world: ``home`` (a temporary KOSMO_HOME), ``workdir`` (the folder runs start in), the emulators.
``kosmo_emulator``
    a factory: ``kosmo_emulator("replicate", page_size=2)`` starts that integration's emulator on a loopback port
    (once per test) and returns its handle: ``.emulator`` (faults, state), ``.base_url``, ``.requests``.
``replicate_emulator``, ``stability_emulator``
    the same for the two bundled integrations (skipped when the integration has no emulator).
``run_workflow``
    ``run_workflow(path_or_code, *, force=True, env=None, accounts=None, cwd=None, timeout=120)`` runs
    ``kosmo integrations:lua ... --json`` in a subprocess and returns a ``WorkflowRun``: ``.success``, ``.error``,
    ``.result``, ``.output`` / ``.lines``, ``.calls``, ``.envelope``, and ``.requests`` (what the emulators
    received during that run). Every started emulator backs its integration's default account; ``accounts`` adds
    or overrides some (``{"replicate.work": replicate_emulator}`` or ``{"replicate": {"url": ..., "api_key": ...}}``).
    Tokens and URLs from the environment are never passed on, so a test cannot reach a real API by accident.

See docs/testing-workflows.md for a worked example.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterator, Mapping

import pytest

from ..errors import UsageError
from .env import TEST_TOKEN, EmulatorHandle, KosmoTestEnv
from .workflow import WorkflowRun, run_workflow as _run_workflow

__all__ = [
    "EmulatorHandle",
    "KosmoTestEnv",
    "WorkflowRun",
    "TEST_TOKEN",
    "kosmo_env",
    "kosmo_emulator",
    "replicate_emulator",
    "stability_emulator",
    "run_workflow",
]


@pytest.fixture
def kosmo_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KosmoTestEnv]:
    base = tmp_path_factory.mktemp("kosmo")
    env = KosmoTestEnv(home=base / "home", workdir=base / "work")
    env.home.mkdir()
    env.workdir.mkdir()
    try:
        yield env
    finally:
        env.close()


@pytest.fixture
def kosmo_emulator(kosmo_env: KosmoTestEnv) -> Callable[..., EmulatorHandle]:
    def start(name: str, **options: Any) -> EmulatorHandle:
        return kosmo_env.start_emulator(name, **options)

    return start


def _bundled_emulator(kosmo_env: KosmoTestEnv, name: str) -> EmulatorHandle:
    try:
        return kosmo_env.start_emulator(name)
    except UsageError as exc:
        if "has no emulator" in str(exc):
            pytest.skip(str(exc))
        raise


@pytest.fixture
def replicate_emulator(kosmo_env: KosmoTestEnv) -> EmulatorHandle:
    return _bundled_emulator(kosmo_env, "replicate")


@pytest.fixture
def stability_emulator(kosmo_env: KosmoTestEnv) -> EmulatorHandle:
    return _bundled_emulator(kosmo_env, "stability")


@pytest.fixture
def run_workflow(kosmo_env: KosmoTestEnv) -> Callable[..., WorkflowRun]:
    def run(path_or_code: str | os.PathLike[str], *, force: bool = True, env: Mapping[str, str] | None = None,
            accounts: Mapping[str, Any] | None = None, cwd: str | os.PathLike[str] | None = None,
            timeout: float = 120) -> WorkflowRun:
        return _run_workflow(kosmo_env, path_or_code, force=force, environ=env, accounts=accounts, cwd=cwd,
                             timeout=timeout)

    return run
