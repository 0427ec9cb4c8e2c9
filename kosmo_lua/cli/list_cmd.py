"""`kosmo integrations:list`: integrations, their accounts and how many functions each offers."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="List integrations, their accounts and function counts.")
    p.add_argument("--json", action="store_true", help="print JSON")
    return p


def collect() -> list[dict[str, Any]]:
    from ..config import load_config
    from ..errors import KosmoError
    from ..registry import discover, get_loaded

    try:
        config = load_config()
    except KosmoError:
        config = None
    rows = []
    for name, folder in sorted(discover().items()):
        loaded = get_loaded(name)
        accounts = config.accounts(name) if config is not None else []
        rows.append({
            "name": name,
            "title": loaded.info.title,
            "folder": str(folder),
            "functions": len(loaded.table.operations),
            "names": len(loaded.by_name),
            "accounts": accounts,
            "emulator": bool(loaded.info.emulator),
        })
    return rows


def run(ns: argparse.Namespace) -> int:
    rows = collect()
    if ns.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return 0
    if not rows:
        print("no integrations found")
        return 0
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        accounts = ", ".join(r["accounts"]) or "none configured"
        print(f"{r['name'].ljust(width)}  {r['functions']:>3} functions  accounts: {accounts}  ({r['title']})")
    return 0
