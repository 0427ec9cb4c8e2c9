"""Binds integrations into a sandbox: ``app.integrations.<name>[.<account>].<function>(args)``.

The Lua side (``lua/integrations.lua``) builds namespaces lazily and calls back into ``IntegrationBinder.call``,
which runs one operation through the pipeline every integration shares::

    validate -> permission -> account -> file inputs -> build request (pure) -> send (HTTP layer) -> parse

Nothing here names an integration: every difference between APIs comes from the operation table and
integration.yaml, plus the optional helpers.lua beside the data.
"""

from __future__ import annotations

import os
import time

from .errors import CallError, CpuLimitExceeded, KosmoError
from .sandbox.values import LuaArray

TYPE_CHECKING = False  # typing costs milliseconds of start-up; type checkers read the names below anyway
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from .registry import LoadedIntegration
    from .run.engine import Engine


__all__ = ["IntegrationBinder"]

_LUA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lua")


class IntegrationBinder:
    def __init__(self, engine: "Engine") -> None:
        self.engine = engine
        self.options = engine.options
        self._clients: dict[tuple[str, str], Any] = {}
        self._enabled: dict[str, bool] = {}  # per integration name, from the config (read once per binder)
        self._policies: dict[str, Any] = {}  # per integration name: its permission Policy
        self._emulators: dict[str, Any] = {}
        self._config: Any = None
        self._by_name: dict[str, "LoadedIntegration"] = {}
        self._pending: dict[int, Any] = {}  # I/O pool ticket -> paused call pipeline (calls inside parallel)

    # -- installation ------------------------------------------------------------------------------------------

    def install(self) -> None:
        from .stdlib import helper_lib

        sb = self.engine.sandbox
        sb.register("kosmo.integrations.list", self._list, visible=False)
        sb.register("kosmo.integrations.describe", self._describe, visible=False)
        sb.register("kosmo.integrations.call", self.call, visible=False)
        sb.register("kosmo.integrations.call_url", self.call_url, visible=False)
        # The same calls split in two for `parallel` tasks: begin sends on the I/O pool, finish parses the answer.
        sb.register("kosmo.integrations.begin", self.begin, visible=False)
        sb.register("kosmo.integrations.begin_url", self.begin_url, visible=False)
        sb.register("kosmo.integrations.finish", self.finish, visible=False)
        sb.register("kosmo.suggest", _suggest, visible=False)
        helper_lib.install(sb, self.engine)
        # Helpers read their integration's hand-written settings (poll intervals...) as lib.settings(name).
        sb.register("kosmo.lib.settings", self._settings, visible=False)
        with open(os.path.join(_LUA_DIR, "integrations.lua"), encoding="utf-8") as handle:
            source = handle.read()
        sb.install_lua("app.integrations", source, "=kosmo/integrations.lua")

    # -- host functions ----------------------------------------------------------------------------------------

    def _list(self) -> LuaArray:
        from .registry import discover

        return LuaArray(sorted(discover()))

    def _describe(self, name: Any) -> dict[str, Any] | None:
        from .registry import discover, get_loaded

        if not isinstance(name, str) or name not in discover():
            return None
        try:
            loaded = get_loaded(name)
        except KosmoError as exc:  # a broken integration folder: say what is wrong with it, not "internal error"
            raise CallError(f"app.integrations.{name}: {exc}") from None
        info = loaded.info
        desc: dict[str, Any] = {
            "functions": {n: op.name for n, op in loaded.by_name.items()},
            "accounts": LuaArray(self._accounts(loaded)),
        }
        if info.pagination.style != "none":
            desc["pagination"] = {"results_field": info.pagination.results_field,
                                  "next_field": info.pagination.next_field}
        if info.helpers:
            path = info.folder / info.helpers
            desc["helpers_source"] = path.read_text(encoding="utf-8")
            desc["helpers_chunkname"] = f"integrations/{name}/{info.helpers}"
        return desc

    def _accounts(self, loaded: "LoadedIntegration") -> list[str]:
        try:
            return [a for a in self.config().accounts(loaded.info.name) if a != "default"]
        except KosmoError:
            return []

    def config(self) -> Any:
        if self._config is None:
            from .config import load_config

            self._config = load_config(cwd=self._cwd)
        return self._config

    # -- the call pipeline -------------------------------------------------------------------------------------

    def call(self, name: str, account: str | None, function: str, args: Any = None) -> Any:
        loaded = self._loaded(name)
        op = loaded.by_name[function]
        return self._perform(loaded, op, account, args=args, next_url=None)

    def call_url(self, name: str, account: str | None, function: str, url: Any) -> Any:
        """Follow a pagination link. The HTTP layer refuses a URL on another origin, so a token never leaks."""
        loaded = self._loaded(name)
        op = loaded.by_name[function]
        if not isinstance(url, str) or not url:
            raise CallError(f"{name}.{function}: the page's next link is not a URL")
        return self._perform(loaded, op, account, args=None, next_url=url)

    def begin(self, name: str, account: str | None, function: str, args: Any = None) -> int:
        """``call`` inside a ``parallel`` task: everything up to the request here, the exchange on the I/O pool.
        Returns the pool's ticket; ``finish(ticket)`` gives the result once the driver sees the ticket ready."""
        loaded = self._loaded(name)
        return self._begin(self._steps(loaded, loaded.by_name[function], account, args=args, next_url=None))

    def begin_url(self, name: str, account: str | None, function: str, url: Any) -> int:
        loaded = self._loaded(name)
        if not isinstance(url, str) or not url:
            raise CallError(f"{name}.{function}: the page's next link is not a URL")
        return self._begin(self._steps(loaded, loaded.by_name[function], account, args=None, next_url=url))

    def _begin(self, steps: Any) -> int:
        send = next(steps)  # validation, permission, build: errors are raised here, at the task's call
        ticket = self.engine.io.submit(send, on_abandon=lambda: self._abandon(ticket))
        self._pending[ticket] = steps
        return ticket

    def _abandon(self, ticket: int) -> None:
        """The chunk ended with this call in flight: close its pipeline, which records it as unfinished."""
        steps = self._pending.pop(ticket, None)
        if steps is not None:
            steps.close()

    def finish(self, ticket: int) -> Any:
        steps = self._pending.pop(ticket)
        try:
            raw = self.engine.io.take(ticket)
        except BaseException as exc:  # noqa: BLE001 - the pipeline decides what a failed exchange becomes
            return _resume(steps, exc)
        return _resume(steps, raw)

    @property
    def _cwd(self) -> Path:
        cwd = self.__dict__.get("_cwd_path")
        if cwd is None:
            from pathlib import Path  # pathlib costs start-up time: only scripts that call something import it

            cwd = self.__dict__["_cwd_path"] = Path(self.options.cwd)  # a Path per call cost ~5 us of each call
        return cwd

    def _loaded(self, name: str) -> "LoadedIntegration":
        """The integration's data, kept per binder: the registry's lookup scans the integration folders each time,
        which was a quarter of a call's own overhead (bench/call_overhead.py)."""
        loaded = self._by_name.get(name)
        if loaded is None:
            from .registry import get_loaded

            loaded = self._by_name[name] = get_loaded(name)
        return loaded

    def _perform(self, loaded: "LoadedIntegration", op: Any, account: str | None, *, args: Any,
                 next_url: str | None) -> Any:
        steps = self._steps(loaded, op, account, args=args, next_url=next_url)
        send = next(steps)
        try:
            raw = send()
        except BaseException as exc:  # noqa: BLE001 - handled inside the pipeline, as before the split
            return _resume(steps, exc)
        return _resume(steps, raw)

    def _steps(self, loaded: "LoadedIntegration", op: Any, account: str | None, *, args: Any,
               next_url: str | None) -> Any:
        """The call pipeline as a generator: it yields the blocking exchange (a function of no arguments) and is
        resumed with its RawResponse, or with the exception it raised; its return value is the script's result.
        So the synchronous path and a ``parallel`` task share every step, the record included."""
        blocks = _pipeline()
        DeadlineReached = blocks.DeadlineReached
        info = loaded.info
        function = f"{info.name}.{op.name}"
        record: dict[str, Any] = {"path": function, "account": account or "default", "status": "error",
                                  "error": None, "duration_ms": 0.0}
        started = time.perf_counter()
        sink = None
        try:
            self._check_enabled(info)
            normalised = blocks.validate_args(op, {} if next_url else args, function=function)
            bypassed = blocks.check_permission(info, op.access, function=function, policy=self._policy(info),
                                               force=self.options.force, agent=self.options.agent)
            if bypassed:
                record["permission_bypassed"] = True
            client = self._client(loaded, account)
            if getattr(client, "emulated", False):
                record["emulated"] = True
            normalised = blocks.resolve_file_inputs(op, normalised, cwd=self._cwd, function=function)
            save = self._save_args(op, normalised)
            sink = self._check_save_target(op, save, function)
            spec = blocks.build_request(op, normalised, integration=info.name)
            if next_url:
                from dataclasses import replace

                spec = replace(spec, absolute_url=next_url, query=())
            deadline = self.engine.sandbox.deadline  # read now: a pool thread may start after the chunk ended
            raw = yield lambda: client.send(spec, deadline=deadline, rate_key=op.name, auth=op.auth, sink=sink)
            record["http_status"] = raw.status
            record["attempts"] = raw.attempts
            result = self._result(op, save, raw, info, function, sink)
            record["status"] = "ok"
            return result
        except DeadlineReached as exc:
            # The call ran into the script's time limit: that ends the script like any other time-out.
            record["error"] = str(exc)
            raise CpuLimitExceeded(self.engine.sandbox.cpu_limit) from None
        except CallError as exc:
            record["error"] = str(exc)
            status = exc.data.get("status")
            if status is not None:
                record["http_status"] = status
            raise
        except GeneratorExit:
            record["error"] = "unfinished: the script ended while the request was in flight"
            raise
        finally:
            if sink is not None:
                sink.discard()  # a half-written download never stays behind (a no-op once committed)
            record["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
            self.engine.record_call(record)

    @staticmethod
    def _save_args(op: Any, args: Any) -> tuple[str, bool] | None:
        """``(save_to, overwrite)`` when the call asked to write its file content to disk, else None."""
        engine_args = args.engine
        save_to = engine_args.get("save_to") if engine_args else None
        if not save_to or op.response.kind not in _pipeline().SAVE_TO_KINDS:
            return None
        return save_to, bool(engine_args.get("overwrite"))

    def _check_save_target(self, op: Any, save: tuple[str, bool] | None, function: str) -> Any:
        """Refuse a bad ``save_to`` before anything is sent, so a refused path never costs an API call. Returns the
        FileSink the answer streams into (None without save_to): a 2xx answer that is the file itself goes to disk
        as it arrives, never whole into memory; a JSON answer (a media file as base64, a running job's status) and
        an error stay in memory and are handled below as before."""
        if save is None:
            return None
        from .net.sink import FileSink
        from .ops.response import is_json_type
        from .ops.save import safe_target

        target = safe_target(save[0], cwd=self._cwd, overwrite=save[1], function=function)
        media = op.response.kind == "media"
        return FileSink(target, wants=lambda status, ctype: 200 <= status < 300 and status != 204
                        and not (media and is_json_type(ctype)))

    def _result(self, op: Any, save: tuple[str, bool] | None, raw: Any, info: Any, function: str,
                sink: Any = None) -> Any:
        """The script's result. With ``save_to`` the file content goes to disk as the raw bytes that arrived (no
        base64 copy in memory) and the script gets ``{path, content_type, bytes, ...}``; an answer that carries no
        file yet (a running job's ``{id, status}``) is returned as it came and nothing is written."""
        if sink is not None and sink.used:
            return self._commit_streamed(op, raw, sink, save, function)
        if save is None or not 200 <= raw.status < 300:
            return _pipeline().parse_response(op, raw, integration=info, function=function)
        from .ops.response import media_payload

        content, fields = media_payload(op, raw, function=function)
        if content is None or not isinstance(fields, dict):
            return fields
        from .ops.save import save_media

        return save_media(content, fields, save[0], cwd=self._cwd, overwrite=save[1],
                          function=function)

    def _commit_streamed(self, op: Any, raw: Any, sink: Any, save: tuple[str, bool], function: str) -> Any:
        """The answer went to disk while it arrived: move it into place and describe it like ``save_media``."""
        from dataclasses import replace

        from .ops.response import media_payload
        from .ops.save import finish_save, safe_target

        # The fields (content_type, header fields) from the first bytes, as for an answer held in memory.
        _, fields = media_payload(op, replace(raw, body=sink.prefix), function=function)
        cwd = self._cwd
        safe_target(save[0], cwd=cwd, overwrite=save[1], function=function)  # the folders may have changed
        return finish_save(lambda: sink.commit(overwrite=save[1]), sink.target, fields, save[0], cwd=cwd,
                           function=function)

    def _settings(self, name: Any) -> Any:
        """An integration's integration.yaml as plain data (hand-written, never secret), or nil."""
        from .registry import discover, get_loaded

        if not isinstance(name, str) or name not in discover():
            return None
        return _plain(get_loaded(name).info.raw)

    def _check_enabled(self, info: Any) -> None:
        enabled = self._enabled.get(info.name)
        if enabled is None:  # per integration, once: the config is read once per binder anyway
            try:
                enabled = self._enabled[info.name] = self.config().enabled(info.name)
            except KosmoError:
                enabled = True
        if not enabled:
            raise CallError(f"{info.name} is disabled in the configuration; enable it with `kosmo "
                            f"integrations:configure {info.name} --enable`", kind="disabled", integration=info.name)

    def _policy(self, info: Any) -> Any:
        policy = self._policies.get(info.name)
        if policy is None:
            from .config.permissions import as_policy

            try:
                settings = self.config().permissions(info)
            except KosmoError:
                settings = dict(info.permissions)
            policy = self._policies[info.name] = as_policy(settings)  # a Policy, checked once, not per call
        return policy

    def _client(self, loaded: "LoadedIntegration", alias: str | None) -> Any:
        key = (loaded.info.name, alias or "default")
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = self._new_client(loaded, alias)
        return client

    def _new_client(self, loaded: "LoadedIntegration", alias: str | None) -> Any:
        from .config import resolve_account
        from .net import HttpClient

        from .errors import CredentialsMissing

        info = loaded.info
        if self.options.offline is True:
            return self._emulated_client(loaded, alias)
        try:
            account = resolve_account(self.config(), info, alias)
        except CredentialsMissing:
            if self.options.offline != "auto":
                raise
            return self._emulated_client(loaded, alias)
        if account.secret is None and self.options.offline == "auto":
            # No credentials for this account: the emulator stands in, so a first run works without a token.
            return self._emulated_client(loaded, alias)
        return HttpClient(account, info)

    def _emulated_client(self, loaded: "LoadedIntegration", alias: str | None) -> Any:
        from .net import HttpClient

        emulator = self._emulator(loaded)
        client = HttpClient(_offline_account(loaded.info, alias), loaded.info, transport=emulator.transport())
        client.emulated = True  # shown in the call log, so nobody mistakes an emulated answer for the real API's
        return client

    def _emulator(self, loaded: "LoadedIntegration") -> Any:
        info = loaded.info
        emulator = self._emulators.get(info.name)
        if emulator is None:
            if not info.emulator:
                raise CallError(f"{info.name} has no built-in emulator, so it cannot run offline")
            from .emulate import load_emulator

            emulator = self._emulators[info.name] = load_emulator(info.folder, base_url=_offline_base(info))
        return emulator


class _Blocks:
    """The pipeline's building blocks, imported on the first call (a script that calls no API never loads them),
    then kept: function-level imports on every call were ~10 % of a call's own work."""

    def __init__(self) -> None:
        from .config.permissions import check
        from .net import DeadlineReached
        from .ops.files import resolve_file_inputs
        from .ops.request import build_request
        from .ops.response import parse_response
        from .ops.validate import SAVE_TO_KINDS, validate_args

        self.check_permission = check
        self.DeadlineReached = DeadlineReached
        self.resolve_file_inputs = resolve_file_inputs
        self.build_request = build_request
        self.parse_response = parse_response
        self.validate_args = validate_args
        self.SAVE_TO_KINDS = SAVE_TO_KINDS


_BLOCKS: _Blocks | None = None


def _pipeline() -> _Blocks:
    global _BLOCKS
    if _BLOCKS is None:
        _BLOCKS = _Blocks()
    return _BLOCKS


def _resume(steps: Any, outcome: Any) -> Any:
    """Hand the exchange's outcome (a RawResponse or the exception it raised) to a paused call pipeline and return
    the pipeline's result."""
    try:
        if isinstance(outcome, BaseException):
            steps.throw(outcome)
        else:
            steps.send(outcome)
    except StopIteration as done:
        return done.value
    raise RuntimeError("the call pipeline yielded more than once")


def _offline_base(info: Any) -> str:
    """The emulator answers under the real API's path prefix on a host that cannot exist."""
    from urllib.parse import urlsplit

    path = urlsplit(info.base_url).path.rstrip("/")
    return f"http://{info.name}.emulator.invalid{path}"


def _offline_account(info: Any, alias: str | None) -> Any:
    from .config import Account, Secret

    return Account(integration=info.name, name=alias or "default", base_url=_offline_base(info),
                   secret=Secret("offline-emulator-token"), fields={})


def _plain(value: Any) -> Any:
    """YAML data as the sandbox's plain data: lists become arrays at every depth."""
    if isinstance(value, list):
        return LuaArray(_plain(v) for v in value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _suggest(key: Any, names: Any) -> str:
    import difflib

    if not isinstance(key, str):
        return ""
    pool = [n for n in (names or []) if isinstance(n, str)]
    return ", ".join(difflib.get_close_matches(key, pool, n=3, cutoff=0.6))

