"""`kosmo integrations:render-docs [--check]`: write docs/reference/<name>.md for each bundled integration."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Render each bundled integration's docs pages into "
                                "docs/reference/<name>.md (generated files, committed).")
    p.add_argument("--out", type=Path, default=None, help="docs folder (default: the repository's docs/)")
    p.add_argument("--check", action="store_true", help="only report stale files; exit 1 if any")
    return p


def run(ns: argparse.Namespace) -> int:
    from ..ops.docgen import reference_path, render_reference
    from ..registry import bundled_folder, discover, get_loaded

    out = ns.out or bundled_folder().parent / "docs"
    stale = []
    for name, folder in sorted(discover().items()):
        if folder.parent != bundled_folder():
            continue
        target = reference_path(out, name)
        text = render_reference(get_loaded(name))
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current == text:
            continue
        stale.append(target)
        if not ns.check:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target}")
    if ns.check and stale:
        for t in stale:
            sys.stderr.write(f"stale: {t} (run `kosmo integrations:render-docs`)\n")
        return 1
    return 0
