"""`kosmo integrations:stubs --out DIR`: write LuaCATS annotation files for editors (lua-language-server)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DESCRIPTION = """\
Write editor annotations (LuaCATS, read by lua-language-server) for the integrations and the library: one
<name>.gen.lua per integration, kosmo.gen.lua for json, regex, docs, dump, sleep, parallel, mcp and app, and
luarc.example.json. An editor then completes app.integrations.<name>.<function>({...}), shows each argument and
its allowed values, and flags wrong types. Accounts configured now get their own sub-namespace (run it again after
adding one).
"""

EPILOG = """\
Examples:
  kosmo integrations:stubs --out .kosmo/stubs --luarc .luarc.json
  kosmo integrations:stubs --out docs/stubs --bundled          (what the repository commits)
  kosmo integrations:stubs --out docs/stubs --bundled --check  (exit 1 when the folder is stale)
"""

_PROG = "kosmo integrations:stubs"


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write the annotation files into")
    p.add_argument("--bundled", action="store_true",
                   help="only the bundled integrations and no account names: the same output on every machine")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 when DIR is not up to date")
    p.add_argument("--luarc", metavar="PATH",
                   help="also write a ready .luarc.json at PATH (its library entry points at DIR)")
    p.add_argument("--force", action="store_true", help="replace an existing --luarc file")
    return p


def _library_path(out: Path, base: Path) -> str:
    """DIR as a .luarc.json in ``base`` should name it: relative to ``base`` where possible, so the folder can
    move with the project."""
    try:
        return Path(os.path.relpath(out.resolve(), base.resolve())).as_posix()
    except ValueError:  # another drive (Windows): only an absolute path reaches it
        return out.resolve().as_posix()


def run(ns: argparse.Namespace) -> int:
    from ..errors import KosmoError
    from ..stubs import LUARC_EXAMPLE, collect, luarc_text, render_files, stale_files, write_files

    out = Path(ns.out)
    if out.exists() and not out.is_dir():
        sys.stderr.write(f"{_PROG}: {ns.out} exists and is not a folder\n")
        return 2
    try:
        found = collect(bundled_only=ns.bundled, with_accounts=not ns.bundled)
    except KosmoError as exc:
        sys.stderr.write(f"{_PROG}: {exc}\n")
        return 1
    for problem in found.problems:
        sys.stderr.write(f"{_PROG}: left out {problem}\n")
    # As typed when relative, so the example reads the same on every machine that runs the same command.
    library = out.as_posix() if not out.is_absolute() else _library_path(out, Path.cwd())
    files = render_files(found.stubs, library)
    if ns.check:
        stale = stale_files(out, files)
        if stale:
            flags = " --bundled" if ns.bundled else ""
            sys.stderr.write(f"{_PROG}: {ns.out} is stale ({', '.join(stale)}): run `kosmo integrations:stubs "
                             f"--out {ns.out}{flags}`\n")
            return 1
        print(f"{ns.out}: up to date ({len(files)} files)")
        return 0 if not found.problems else 1
    try:
        changed = write_files(out, files)
        if ns.luarc:
            luarc = Path(ns.luarc)
            if luarc.exists() and not ns.force:
                sys.stderr.write(f"{_PROG}: {ns.luarc} exists; merge {out / LUARC_EXAMPLE} into it by hand, or "
                                 "pass --force to replace it\n")
                return 1
            luarc.parent.mkdir(parents=True, exist_ok=True)
            luarc.write_text(luarc_text(_library_path(out, luarc.parent)), encoding="utf-8")
    except OSError as exc:
        sys.stderr.write(f"{_PROG}: cannot write: {exc}\n")
        return 1
    summary = ", ".join(f"{s.name} ({sum(len(op.names) for op in s.table.operations)} functions)"
                        for s in found.stubs) or "no integrations"
    print(f"wrote {ns.out}: {summary}; {len(changed)} file(s) changed")
    if ns.luarc:
        print(f"wrote {ns.luarc}")
    else:
        print(f"editor set-up: copy {out / LUARC_EXAMPLE} to your workflow folder as .luarc.json "
              f"(or pass --luarc .luarc.json)")
    return 0 if not found.problems else 1
