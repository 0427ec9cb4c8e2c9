"""The one docs index: core pages plus every integration's generated pages (loaded lazily, per integration)."""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs milliseconds of start-up; type checkers read the names below anyway
if TYPE_CHECKING:
    from typing import Any, Callable

    from .stdlib.docs import DocPage, DocsIndex


__all__ = ["build_index", "LazyDocsIndex"]


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
        from .registry import discover, get_loaded

        def pages_of(name: str) -> list["DocPage"]:
            from .ops.docgen import integration_pages

            return integration_pages(get_loaded(name))

        for name in discover():
            index.add_provider(name, names=lambda n=name: [n], load=lambda n=name: pages_of(n))
    for namespace, (names, load) in (extra_providers or {}).items():
        index.add_provider(namespace, names=names, load=load)
    return index


class LazyDocsIndex:
    """A DocsIndex built on first use. A script that never calls ``docs.*`` pays nothing for the pages, and
    contributions made at set-up (``add_provider``, ``defer``) are applied when the index is built."""

    def __init__(self, build: Callable[[], "DocsIndex"]) -> None:
        self._build = build
        self._index: "DocsIndex | None" = None
        self._pending: list[Callable[["DocsIndex"], None]] = []

    def defer(self, contribute: Callable[["DocsIndex"], None]) -> None:
        """Run ``contribute(index)`` once the index exists (at once, if it does already)."""
        if self._index is not None:
            contribute(self._index)
        else:
            self._pending.append(contribute)

    def add_provider(self, namespace: str, **kwargs: Any) -> None:
        self.defer(lambda index: index.add_provider(namespace, **kwargs))

    @property
    def index(self) -> "DocsIndex":
        if self._index is None:
            index = self._build()
            for contribute in self._pending:
                contribute(index)
            self._pending.clear()
            self._index = index
        return self._index

    def __getattr__(self, name: str) -> Any:
        return getattr(self.index, name)
