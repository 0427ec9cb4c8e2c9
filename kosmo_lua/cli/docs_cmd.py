"""`kosmo integrations:docs [PAGE] [--search QUERY] [--list [NAMESPACE]]`: the docs pages scripts read."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Read, list or search the docs pages (the same pages "
                                "docs.read / docs.list / docs.search return inside Lua).")
    p.add_argument("page", nargs="?", help="page to read, e.g. overview, replicate, replicate.create_prediction")
    p.add_argument("--search", metavar="QUERY", help="search the pages")
    p.add_argument("--list", nargs="?", const="", metavar="NAMESPACE", help="list pages (optionally of one namespace)")
    p.add_argument("--limit", type=int, default=10, help="number of search results (default 10)")
    p.add_argument("--json", action="store_true", help="print JSON")
    return p


def _print_pages(pages: Sequence[Mapping[str, Any]], as_json: bool) -> None:
    """Search hits and listings alike: one `name: summary` line a page, or the JSON array."""
    if as_json:
        print(json.dumps(pages, indent=2))
    else:
        for page in pages:
            print(f"{page['name']}: {page['summary']}")


def run(ns: argparse.Namespace) -> int:
    from ..doc_index import build_index
    from ..errors import DocNotFound

    index = build_index()
    if ns.search is not None:
        _print_pages(index.search(ns.search, ns.limit), ns.json)
        return 0
    if ns.list is not None or ns.page is None:
        _print_pages(index.list(ns.list or None), ns.json)
        return 0
    try:
        text = index.read(ns.page)
    except DocNotFound as exc:
        sys.stderr.write(f"kosmo: {exc}\n")
        return 2
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0
