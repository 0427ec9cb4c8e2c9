"""The one docs index: core pages plus every integration's generated pages (loaded lazily, per integration)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from .stdlib.docs import DocPage, DocsIndex

__all__ = ["build_index"]


def build_index(*, integrations: bool = True,
                extra_providers: dict[str, tuple[Callable[[], list[str]], Callable[[], list["DocPage"]]]] | None = None,
                ) -> "DocsIndex":
    """Core pages always; integration pages when ``integrations`` (their tables load only when a page of theirs is
    read or searched); ``extra_providers`` adds lazy namespaces (MCP servers' tool pages)."""
    from .stdlib.docs import DocsIndex, core_pages

    index = DocsIndex()
    for page in core_pages():
        index.add(page)
    if integrations:
        from .ops.docgen import integration_pages
        from .registry import discover, get_loaded

        for name in discover():
            index.add_provider(name, names=lambda n=name: [n],
                               load=lambda n=name: integration_pages(get_loaded(n)))
    for namespace, (names, load) in (extra_providers or {}).items():
        index.add_provider(namespace, names=names, load=load)
    return index
