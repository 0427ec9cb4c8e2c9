"""Any OpenAPI 3.0/3.1 document becomes an integration: ``kosmo integrations:import --spec FILE --name NAME``.

The importer writes the same folder of data a bundled integration has, into ``$KOSMO_HOME/integrations/NAME/``
(which the registry already searches):

* ``openapi.json`` / ``openapi.yaml``: a copy of the document, so ``kosmo integrations:generate NAME --spec ...``
  can regenerate after ``names.yaml`` is edited;
* ``integration.yaml``: base URL and auth from the options, else from the document's ``servers`` and
  ``securitySchemes``; the default account reads ``<NAME>_API_KEY`` / ``<NAME>_BASE_URL``;
* ``names.yaml``: one explicit Lua name per operation (its operationId in snake_case, else its title), so the names
  are data a user can change; the parameter that carries the credential is dropped (the engine supplies it);
* ``operations.yaml``: made by the same generator as the bundled tables (``kosmo_lua.ops.generate``);
* ``overview.md``: the integration's docs page.

Nothing is half-written: the folder is built beside its target and moved into place at the end. An existing folder
is replaced only with ``force``; names of bundled integrations and of the library's docs pages are refused.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError, UsageError

__all__ = ["ImportResult", "import_spec", "check_name", "derive_names", "base_url_of", "auth_of", "credential_fields"]

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
#: Names a script or the docs already use for something else.
_RESERVED = frozenset({"kosmo", "app", "mcp", "json", "regex", "docs", "dump", "sleep", "parallel", "print",
                       "overview", "errors", "examples", "limits", "output"})


@dataclass(frozen=True)
class ImportResult:
    name: str
    folder: Path
    operations: int
    functions: tuple[str, ...]  # canonical names, in document order
    base_url: str
    auth: str  # as integration.yaml spells it: bearer | basic | header:<Name> | query:<name> | cookie:<name>
    notes: tuple[str, ...] = ()  # things the user should know (no server URL, an unsupported auth scheme...)


def check_name(name: str) -> None:
    """Refuse names that cannot be an integration, or that belong to something else."""
    from .registry import bundled_folder

    if not _NAME.match(name):
        raise UsageError(f"--name must be lower case letters, digits and _ (starting with a letter, at most 40), "
                         f"not {name!r}")
    if name in _RESERVED:
        raise UsageError(f"--name {name!r} is taken by the library ({', '.join(sorted(_RESERVED))} are reserved)")
    if (bundled_folder() / name / "integration.yaml").is_file():
        raise UsageError(f"--name {name!r} is a bundled integration; pick another name")


# -- reading the document -----------------------------------------------------------------------------------------------

def base_url_of(spec: dict[str, Any]) -> str | None:
    """The first server's URL with its variables at their defaults, when it is absolute; else None."""
    for server in spec.get("servers") or ():
        if not isinstance(server, dict) or not isinstance(server.get("url"), str):
            continue
        url = server["url"]
        for var, info in (server.get("variables") or {}).items():
            default = info.get("default") if isinstance(info, dict) else None
            if default is not None:
                url = url.replace("{" + str(var) + "}", str(default))
        if re.match(r"^https?://[^/{}]+", url) and "{" not in url:
            return url.rstrip("/")
    return None


def _schemes(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = ((spec.get("components") or {}).get("securitySchemes") or {})
    return {str(k): v for k, v in found.items() if isinstance(v, dict)}


def _used_scheme_names(spec: dict[str, Any]) -> list[str]:
    """Security scheme names in the order the document requires them (top level first, then operations)."""
    order: list[str] = []
    requirements = list(spec.get("security") or ())
    from .ops.generate import HTTP_METHODS

    for item in (spec.get("paths") or {}).values():
        for method in HTTP_METHODS:
            op = item.get(method) if isinstance(item, dict) else None
            if isinstance(op, dict):
                requirements += list(op.get("security") or ())
    for req in requirements:
        for key in (req or {}):
            if key not in order:
                order.append(str(key))
    return order


def auth_of(spec: dict[str, Any]) -> tuple[str, str | None]:
    """(auth scheme as integration.yaml spells it, a note when the document's scheme needed a guess)."""
    schemes = _schemes(spec)
    candidates = [n for n in _used_scheme_names(spec) if n in schemes] or list(schemes)
    skipped: list[str] = []
    for name in candidates:
        s = schemes[name]
        kind = str(s.get("type", "")).lower()
        if kind == "http" and str(s.get("scheme", "")).lower() in ("bearer", "basic"):
            return str(s["scheme"]).lower(), None
        if kind == "apikey" and s.get("in") in ("header", "query", "cookie") and s.get("name"):
            return f"{s['in']}:{s['name']}", None
        if kind in ("oauth2", "openidconnect"):
            # The engine does not run an OAuth flow; a token obtained elsewhere is sent as a bearer token.
            return "bearer", f"the document's {name!r} scheme is {s.get('type')}: get a token elsewhere and store it " \
                             "as api_key (it is sent as a bearer token)"
        skipped.append(f"{name} ({kind}{' ' + str(s.get('scheme')) if s.get('scheme') else ''})")
    if skipped:
        return "bearer", (f"no supported auth scheme in the document ({', '.join(skipped)}); assumed bearer: "
                          "pass --auth to choose another")
    return "bearer", None


def _parse_auth(text: str) -> str:
    kind, _, name = text.partition(":")
    if text in ("bearer", "basic") or (kind in ("header", "query", "cookie") and name.strip()):
        return text if text in ("bearer", "basic") else f"{kind}:{name.strip()}"
    raise UsageError(f"--auth must be bearer, basic, header:NAME, query:NAME or cookie:NAME, not {text!r}")


def credential_fields(auth: str) -> tuple[str, ...]:
    """The account fields that hold the credential of an imported integration with this auth."""
    return ("username", "password") if auth == "basic" else ("api_key",)


def _op_key(method: str, path: str, raw_op: dict[str, Any]) -> str:
    from .ops.naming import snake_case

    # The generator's key for an operation without an operationId; names.yaml must use the same one.
    return str(raw_op.get("operationId") or f"{method}_{snake_case(path)}")


def _lua_name(text: str) -> str:
    from .ops.naming import LUA_KEYWORDS, snake_case

    name = snake_case(text)
    if name and name[0].isdigit():
        name = "op_" + name
    if name in LUA_KEYWORDS:
        name += "_"
    return name


def derive_names(spec: dict[str, Any]) -> dict[str, str]:
    """operationId (or the generator's key) -> Lua name: the operationId in snake_case, else the title, else the
    method and path; a name already taken gets _2, _3..."""
    from .ops.generate import HTTP_METHODS
    from .ops.naming import is_lua_identifier, title_alias

    out: dict[str, str] = {}
    # "default" names the default account and "paginate" the list iterator in every namespace.
    taken: set[str] = {"default", "paginate"}
    for path, item in (spec.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        for method in HTTP_METHODS:
            raw = item.get(method)
            if not isinstance(raw, dict):
                continue
            key = _op_key(method, str(path), raw)
            candidates = []
            if raw.get("operationId"):
                candidates.append(_lua_name(str(raw["operationId"])))
            if raw.get("summary"):
                candidates.append(title_alias(str(raw["summary"])))
            candidates.append(_lua_name(f"{method} {path}"))
            base = next((c for c in candidates if c and is_lua_identifier(c)), "operation")
            name, n = base, 1
            while name in taken:
                n += 1
                name = f"{base}_{n}"
            taken.add(name)
            out[key] = name
    return out


# -- writing the folder -------------------------------------------------------------------------------------------------

def _yaml_dump(data: Any) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110, default_flow_style=False)


def _summary(spec: dict[str, Any], spec_name: str) -> str:
    info = spec.get("info") or {}
    text = str(info.get("summary") or "").strip()
    if not text:
        first = str(info.get("description") or "").strip().split("\n\n")[0]
        text = " ".join(first.split())
        if len(text) > 200:
            text = text[:197].rstrip() + "..."
    return text or f"Imported from {spec_name}."


def _integration_yaml(name: str, title: str, summary: str, spec_file: str, digest: str, base_url: str,
                      auth: str) -> str:
    env = name.upper()
    data = {
        "name": name,
        "title": title,
        "summary": summary,
        "spec": {"file": spec_file, "sha256": digest},
        "base_url": base_url,
        "auth": ({"scheme": "basic", "credential": "password", "username": "username"} if auth == "basic"
                 else {"scheme": auth, "credential": "api_key"}),
        "default_account": {"env": {**{f: f"{env}_{f.upper()}" for f in credential_fields(auth)},
                                    "url": f"{env}_BASE_URL"}},
        "permissions": {"read": "allow", "write": "ask"},
        "timeouts": {"connect": 5, "read": 60},
        "retry": {"max_attempts": 3, "backoff_base": 0.25, "backoff_cap": 4},
        "errors": {"message_fields": ["detail", "message", "error", "title"]},
        "pagination": {"style": "none"},
    }
    head = (f"# Written by `kosmo integrations:import` from {spec_file}; edit freely (base URL, auth, permissions,\n"
            "# errors). Account settings belong in `kosmo integrations:configure`, not here.\n")
    return head + _yaml_dump(data)


def _names_yaml(name: str, title: str, names: dict[str, str], auth: str, skip: tuple[str, ...]) -> str:
    data: dict[str, Any] = {"integration": name, "title": title, "spec_text": True}
    kind, _, param = auth.partition(":")
    if kind in ("header", "query", "cookie") and param:
        data["drop_params"] = [param]  # the engine puts the credential there; scripts never pass it
    data["operations"] = {key: ({"skip": True} if key in skip else {"name": lua}) for key, lua in names.items()}
    for key in skip:
        # An id the document does not have stays in, so the generator names it instead of ignoring a typo.
        data["operations"].setdefault(key, {"skip": True})
    head = ("# Lua names for the operations, keyed by operationId. Written by `kosmo integrations:import`; edit the\n"
            "# names (or add aliases, descriptions, examples: see kosmo_lua/ops/generate.py), then regenerate with\n"
            f"# `kosmo integrations:generate {name} --spec <this folder>/<the openapi file>`.\n")
    return head + _yaml_dump(data)


def _overview(name: str, title: str, summary: str, spec_file: str, base_url: str, auth: str) -> str:
    env = name.upper()
    kind, _, param = auth.partition(":")
    how = {"bearer": "the key is sent in an `Authorization: Bearer` header",
           "basic": "the user name and password are sent in an `Authorization: Basic` header",
           "header": f"the key is sent in the `{param}` header",
           "query": f"the key is sent in the `{param}` query parameter",
           "cookie": f"the key is sent in the `{param}` cookie"}[kind]
    fields = credential_fields(auth)
    lines = [
        f"# {title}", "", summary, "",
        f"Imported from `{spec_file}` with `kosmo integrations:import`. Every operation of the document is a function "
        f"under `app.integrations.{name}`, taking one table of arguments.", "",
        "## Set-up", "",
        "```sh",
        f"kosmo integrations:configure {name} " + " ".join(f"--set {f}=env:{env}_{f.upper()}" for f in fields),
        f"kosmo integrations:configure {name} --set url=https://...   # when the API lives elsewhere",
        "```", "",
        f"Requests go to `{base_url or '(no URL in the document: configure one)'}`; {how}. "
        f"With nothing configured the default account reads "
        + ", ".join(f"`{env}_{f.upper()}`" for f in fields) + f" and `{env}_BASE_URL`. Reads are "
        "allowed and writes ask by default (`--read` / `--write` change that).",
    ]
    return "\n".join(lines) + "\n"


def _spec_file_name(raw: bytes) -> str:
    return "openapi.json" if raw.decode("utf-8-sig", errors="replace").lstrip().startswith("{") else "openapi.yaml"


def _build(folder: Path, name: str, spec: dict[str, Any], raw: bytes, source_name: str, base_url: str,
           auth: str, skip: tuple[str, ...]) -> tuple[Any, str]:
    """Write every file into ``folder``; returns (the table, the spec copy's file name)."""
    from .ops.generate import generate_integration, spec_sha256

    info = spec.get("info") or {}
    title = str(info.get("title") or name).strip()
    summary = _summary(spec, source_name)
    spec_file = _spec_file_name(raw)
    (folder / spec_file).write_bytes(raw)
    names_text = _names_yaml(name, title, derive_names(spec), auth, skip)
    (folder / "names.yaml").write_text(names_text, encoding="utf-8")
    table = generate_integration(folder, folder / spec_file)
    (folder / "integration.yaml").write_text(
        _integration_yaml(name, title, summary, spec_file, spec_sha256(raw), base_url, auth), encoding="utf-8")
    (folder / "overview.md").write_text(_overview(name, title, summary, source_name, base_url, auth),
                                        encoding="utf-8")
    return table, spec_file


def import_spec(spec_path: Path, name: str, *, base_url: str | None = None, auth: str | None = None,
                force: bool = False, skip: tuple[str, ...] = (), home: Path | None = None) -> ImportResult:
    """Make ``$KOSMO_HOME/integrations/<name>/`` from an OpenAPI document. UsageError / ConfigError say why not.

    ``skip``: operationIds to leave out (``skip: true`` in names.yaml), for operations the generator cannot read.
    """
    from .ops.generate import load_spec
    from .registry import clear_cache, home_folder

    check_name(name)
    if base_url is not None and not re.match(r"^https?://[^/]+", base_url):
        raise UsageError(f"--base-url must be an absolute http(s) URL, not {base_url!r}")
    auth_text = _parse_auth(auth) if auth else None
    spec, raw = load_spec(spec_path)
    version = str(spec.get("openapi") or "")
    if not re.match(r"^3\.[01]\.", version):
        raise ConfigError(f"{spec_path}: only OpenAPI 3.0 and 3.1 documents can be imported (openapi: {version!r})")
    notes: list[str] = []
    url = (base_url or base_url_of(spec) or "").rstrip("/")
    if not url:
        notes.append(f"the document names no absolute server URL: set one with `kosmo integrations:configure {name} "
                     "--set url=https://...` (or import again with --base-url)")
    if auth_text is None:
        auth_text, note = auth_of(spec)
        if note:
            notes.append(note)

    root = (home or home_folder()) / "integrations"
    target = root / name
    if target.exists() and not force:
        raise UsageError(f"{target} already exists; pass --force to replace it")
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".{name}.import-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        table, _ = _build(staging, name, spec, raw, spec_path.name, url, auth_text, tuple(skip))
        if target.exists():
            old = root / f".{name}.replaced-{os.getpid()}"
            os.replace(target, old)
            os.replace(staging, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    clear_cache()
    return ImportResult(name=name, folder=target, operations=len(table.operations),
                        functions=tuple(op.name for op in table.operations), base_url=url, auth=auth_text,
                        notes=tuple(notes))
