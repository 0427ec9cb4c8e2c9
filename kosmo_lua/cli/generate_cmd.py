"""`kosmo integrations:generate NAME --spec PATH`: regenerate an integration's operations.yaml.

Reads the integration's names.yaml and the OpenAPI document, writes operations.yaml. With ``--check`` nothing is
written: the exit code says whether the committed file is current (1 when stale), for CI.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Regenerate an integration's operation table "
                                "(operations.yaml) from its OpenAPI document and names.yaml.")
    p.add_argument("name", help="integration name, e.g. replicate")
    p.add_argument("--spec", metavar="PATH", help="the OpenAPI document (JSON or YAML)")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 when operations.yaml differs from what would be generated")
    return p


def _folder(name: str) -> tuple[Path | None, str]:
    """The integration's folder (the registry's, else a bundled folder with names.yaml), or why there is none."""
    from ..errors import UsageError

    problem = f"unknown integration '{name}'"
    try:
        from ..registry import integration_folder

        return integration_folder(name), ""
    except UsageError as exc:
        problem = str(exc)
    except ImportError:  # pragma: no cover - the registry is part of the package
        pass
    import kosmo_lua

    bundled = Path(kosmo_lua.__file__).resolve().parents[1] / "integrations" / name
    return (bundled, "") if (bundled / "names.yaml").is_file() else (None, problem)


def _fail(message: str) -> int:
    sys.stderr.write(f"kosmo integrations:generate: {message}\n")
    return 2


def run(ns: argparse.Namespace) -> int:
    from ..errors import KosmoError
    from ..ops.generate import generate_integration, render_table

    folder, problem = _folder(ns.name)
    if folder is None:
        return _fail(problem)
    if not ns.spec:
        return _fail(f"no OpenAPI document given: pass --spec PATH (for example --spec "
                     f"../shared/specs/{ns.name}-openapi.json)")
    spec_path = Path(ns.spec)
    if not spec_path.is_file():
        return _fail(f"no such spec file '{ns.spec}'")
    try:
        table = generate_integration(folder, spec_path, write=not ns.check)
    except KosmoError as exc:
        return _fail(str(exc))
    target = folder / "operations.yaml"
    if ns.check:
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != render_table(table):
            sys.stderr.write(f"{target} is stale: run `kosmo integrations:generate {ns.name} --spec {ns.spec}`\n")
            return 1
        print(f"{target}: up to date ({len(table.operations)} operations)")
        return 0
    names = sum(len(op.names) for op in table.operations)
    print(f"wrote {target}: {len(table.operations)} operations, {names} names, "
          f"from {spec_path.name} (sha256 {table.source.get('sha256', '?')[:12]})")
    _warn_on_recorded_digest(folder, table.source.get("sha256"))
    return 0


def _warn_on_recorded_digest(folder: Path, digest: str | None) -> None:
    """integration.yaml may record which document it was written against; say when this one differs."""
    path = folder / "integration.yaml"
    if digest is None or not path.is_file():
        return
    try:
        import yaml

        recorded = ((yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("spec") or {}).get("sha256")
    except Exception:  # noqa: BLE001 - a note, never a failure
        return
    if recorded and recorded != digest:
        sys.stderr.write(f"note: {path} records spec sha256 {recorded[:12]}..., this document is {digest[:12]}...; "
                         "update integration.yaml if the new document is intended\n")
