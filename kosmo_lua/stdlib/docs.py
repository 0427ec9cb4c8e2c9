"""Docs pages for scripts, agents and the CLI: ``docs.list``, ``docs.search`` and ``docs.read``.

``DocsIndex`` holds pages by name. Core pages (``pages/*.md``) are added up front; whole namespaces of pages (an
integration's overview and one page per function) come from *providers* that load only when one of their pages is
read, searched or listed, so a script that never opens the docs never pays for building them.

Names resolve leniently because agents guess: exact name, alias, any case, and the ``integrations.`` /
``app.integrations.`` prefixes are dropped (``app.integrations.replicate.get_account`` is
``replicate.get_account``). An unknown name raises ``DocNotFound`` with the closest names.
"""

from __future__ import annotations

import functools
import math
import re
from bisect import bisect_left
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from kosmo_lua.errors import ArgumentError, CallError, DocNotFound, KosmoError
from kosmo_lua.sandbox.values import LuaArray
from kosmo_lua.stdlib.jsonlib import lua_type_name

__all__ = ["DocPage", "DocsIndex", "core_pages", "parse_page", "host_functions"]

_PAGES_DIR = Path(__file__).resolve().parent / "pages"
_PREFIXES = ("app.integrations.", "integrations.")


@dataclass(frozen=True)
class DocPage:
    name: str
    title: str
    summary: str
    body: str  # markdown
    aliases: tuple[str, ...] = ()
    namespace: str = "core"


@dataclass
class _Provider:
    namespace: str
    names: Callable[[], list[str]]
    load: Callable[[], list[DocPage]]
    loaded: bool = False


def _strip_prefix(name: str) -> str:
    lowered = name.lower()
    for prefix in _PREFIXES:
        if lowered.startswith(prefix):
            return name[len(prefix):]
    return name


class DocsIndex:
    """Pages by name, with lazy providers and a search index built on first search."""

    def __init__(self) -> None:
        self._pages: dict[str, DocPage] = {}
        # Lookup keys -> page name. Names win over aliases; exact spelling over folded case.
        self._exact: dict[str, str] = {}
        self._folded: dict[str, str] = {}
        self._providers: dict[str, _Provider] = {}
        self._search: _SearchIndex | None = None

    # -- building ----------------------------------------------------------------------------------------------

    def add(self, page: DocPage) -> None:
        self._pages[page.name] = page
        self._exact[page.name] = page.name
        self._folded[page.name.lower()] = page.name
        for alias in page.aliases:
            self._exact.setdefault(alias, page.name)
            self._folded.setdefault(alias.lower(), page.name)
        self._search = None

    def add_provider(self, namespace: str, names: Callable[[], list[str]],
                     load: Callable[[], list[DocPage]]) -> None:
        """Register a namespace whose pages are built by ``load()`` on first need; ``names()`` must be cheap."""
        self._providers[namespace.lower()] = _Provider(namespace, names, load)

    def _load(self, provider: _Provider) -> None:
        if provider.loaded:
            return
        pages = provider.load()
        provider.loaded = True
        for page in pages:
            self.add(page)

    def _load_all(self) -> None:
        for provider in list(self._providers.values()):
            self._load(provider)

    # -- reading -----------------------------------------------------------------------------------------------

    def _lookup(self, name: str) -> DocPage | None:
        key = self._exact.get(name) or self._folded.get(name.lower())
        return self._pages[key] if key is not None else None

    def resolve(self, name: str) -> DocPage:
        """The page ``name`` means (see the module docstring), or ``DocNotFound`` with the closest names."""
        wanted = name.strip()
        page = self._lookup(wanted)
        if page is not None:
            return page
        short = _strip_prefix(wanted)
        page = self._lookup(short)
        if page is not None:
            return page
        provider = self._providers.get(short.split(".", 1)[0].lower())
        if provider is not None and not provider.loaded:
            self._load(provider)
            page = self._lookup(wanted) or self._lookup(short)
            if page is not None:
                return page
        parts = short.split(".")
        if provider is not None and len(parts) >= 3:
            # integrations.<name>.<account>.<function>: the account does not change the docs.
            page = self._lookup(".".join([parts[0], *parts[2:]]))
            if page is not None:
                return page
        if provider is not None and len(parts) == 1:
            return self._namespace_page(provider)
        raise DocNotFound(name, self._closest(short))

    def read(self, name: str) -> str:
        """The page's markdown, starting with its title as a heading."""
        page = self.resolve(name)
        if page.body.lstrip().startswith("# "):
            return page.body
        return f"# {page.title}\n\n{page.body}"

    def _namespace_page(self, provider: _Provider) -> DocPage:
        """A listing for a namespace that has no overview page of its own."""
        entries = self._entries(provider.namespace)
        lines = [f"- `{e['name']}`: {e['summary']}" if e["summary"] else f"- `{e['name']}`" for e in entries]
        return DocPage(name=provider.namespace, title=provider.namespace,
                       summary=f"Pages of {provider.namespace}",
                       body=f"# {provider.namespace}\n\n" + "\n".join(lines) + "\n",
                       namespace=provider.namespace)

    def _closest(self, name: str) -> list[str]:
        known = set(self._pages)
        for provider in self._providers.values():
            if not provider.loaded:
                known.update(provider.names())
        by_folded = {k.lower(): k for k in sorted(known)}
        import difflib  # only for a page that does not exist: not worth its import at every start

        close = difflib.get_close_matches(name.lower(), list(by_folded), n=5, cutoff=0.5)
        if not close and "." in name:
            # "replicate.get_acount" -> compare against the last segment of each name too.
            tail = name.lower().rsplit(".", 1)[1]
            tails = {k.rsplit(".", 1)[-1]: k for k in sorted(by_folded, reverse=True)}
            close = [tails[t] for t in difflib.get_close_matches(tail, list(tails), n=5, cutoff=0.6)]
        return [by_folded[c] for c in close]

    # -- listing -----------------------------------------------------------------------------------------------

    def namespaces(self) -> list[str]:
        found = {p.namespace for p in self._pages.values()} | {p.namespace for p in self._providers.values()}
        return sorted(found)

    def _entries(self, namespace: str) -> list[dict[str, str]]:
        pages = [p for p in self._pages.values() if p.namespace.lower() == namespace.lower()]
        return [{"name": p.name, "title": p.title, "summary": p.summary}
                for p in sorted(pages, key=lambda p: p.name)]

    def list(self, namespace: str | None = None) -> list[dict[str, str]]:
        """[{name, title, summary}] sorted by name.

        Without a namespace: every page outside providers, plus one entry per name a provider announces (its
        pages are not loaded for this, so the entry points to ``docs.list(<namespace>)``). With a namespace: all of
        that namespace's pages, loading its provider if needed.
        """
        if namespace is None:
            provided = {p.namespace.lower() for p in self._providers.values()}
            entries = {p.name: {"name": p.name, "title": p.title, "summary": p.summary}
                       for p in self._pages.values() if p.namespace.lower() not in provided}
            for provider in self._providers.values():
                for name in provider.names():
                    entries.setdefault(name, {
                        "name": name, "title": name,
                        "summary": f'Pages of {provider.namespace}: docs.list("{provider.namespace}") lists them'})
            return [entries[k] for k in sorted(entries)]
        wanted = _strip_prefix(namespace.strip()).lower()
        provider = self._providers.get(wanted)
        if provider is not None:
            self._load(provider)
        elif wanted not in {n.lower() for n in self.namespaces()}:
            import difflib

            raise DocNotFound(namespace, difflib.get_close_matches(wanted, self.namespaces(), n=5, cutoff=0.5))
        return self._entries(wanted)

    # -- searching ---------------------------------------------------------------------------------------------

    def search(self, query: str, limit: int = 10) -> list[dict[str, Any]]:
        """[{name, title, summary, snippet, score}] best first (ties by name). Loads every provider."""
        self._load_all()
        if self._search is None:
            self._search = _SearchIndex(sorted(self._pages.values(), key=lambda p: p.name))
        return self._search.search(query, limit)


# -- search ------------------------------------------------------------------------------------------------------

# Every ASCII character that is not a letter or digit separates words ("create_prediction" is two words).
_SEPARATORS = str.maketrans({chr(c): " " for c in range(128) if not chr(c).isalnum()})
# Words that say nothing about which page is meant; dropped from queries that have other words.
_STOPWORDS = frozenset("a an and are as at be by do does for from how i in is it of on or the to what with".split())
_NAME_WEIGHT, _TITLE_WEIGHT, _SUMMARY_WEIGHT = 10.0, 5.0, 3.0
#: A short query word may begin many field words; only this many (in sorted order) are looked at.
_MAX_EXPANSIONS = 64
_MAX_CACHED_TERMS = 1024


def _words(text: str) -> list[str]:
    return text.lower().translate(_SEPARATORS).split()


def _stem(word: str) -> str:
    # Enough to let "predictions" find "prediction" without a real stemmer.
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


class _SearchIndex:
    """Search over a fixed list of pages.

    Names, titles and summaries are short: they get a small inverted index (word -> {page: weight}). Bodies are
    long, and tokenising thousands of them word by word in Python is what makes an index slow to build; instead
    each body is kept as ``" word  word  word "`` (lower case, two spaces around every word) so whole-word and
    word-prefix occurrences are counted with ``str.count`` at C speed when a query asks for a word.
    """

    def __init__(self, pages: list[DocPage]) -> None:
        self.pages = pages
        self.texts = [" " + p.body.lower().translate(_SEPARATORS).replace(" ", "  ") + " " for p in pages]
        self.fields: dict[str, dict[int, float]] = {}
        for number, page in enumerate(pages):
            for text, weight in ((" ".join((page.name, *page.aliases)), _NAME_WEIGHT), (page.title, _TITLE_WEIGHT),
                                 (page.summary, _SUMMARY_WEIGHT)):
                for word in set(_words(text)):
                    row = self.fields.setdefault(word, {})
                    row[number] = row.get(number, 0.0) + weight
        self.field_words = sorted(self.fields)
        self._terms: dict[str, dict[int, float]] = {}

    def _field_weights(self, stem: str, forms: set[str]) -> dict[int, float]:
        best: dict[int, float] = {}
        for form in forms:
            for number, weight in self.fields.get(form, {}).items():
                best[number] = max(best.get(number, 0.0), weight)
        if len(stem) >= 3:
            start = bisect_left(self.field_words, stem)
            for word in self.field_words[start:start + _MAX_EXPANSIONS]:
                if not word.startswith(stem):
                    break
                if word not in forms:
                    for number, weight in self.fields[word].items():
                        best[number] = max(best.get(number, 0.0), weight / 2)
        return best

    def _body_weights(self, stem: str, forms: set[str]) -> dict[int, float]:
        """tf-idf of the word in each body: its own forms fully, longer words it begins (3+ letters) at half."""
        whole = [f" {form} " for form in forms]
        begins = f" {stem}"
        counts: dict[int, tuple[int, int]] = {}
        for number, text in enumerate(self.texts):
            if begins not in text:  # every form begins with the stem: one scan rules most pages out
                continue
            exact = sum(text.count(w) for w in whole)
            longer = text.count(begins) - exact if len(stem) >= 3 else 0
            if exact or longer:
                counts[number] = (exact, longer)
        if not counts:
            return {}
        idf = math.log(1 + len(self.pages) / len(counts))
        return {n: idf * max(1 + math.log(exact) if exact else 0.0, (1 + math.log(longer)) / 2 if longer else 0.0)
                for n, (exact, longer) in counts.items()}

    def _term_weights(self, term: str) -> dict[int, float]:
        weights = self._terms.get(term)
        if weights is None:
            stem = _stem(term)
            forms = {term, stem, stem + "s"}
            weights = self._body_weights(stem, forms)
            for number, weight in self._field_weights(stem, forms).items():
                weights[number] = weights.get(number, 0.0) + weight
            if len(self._terms) >= _MAX_CACHED_TERMS:
                self._terms.clear()
            self._terms[term] = weights
        return weights

    def search(self, query: str, limit: int) -> list[dict[str, Any]]:
        terms = list(dict.fromkeys(_words(query)))
        terms = [t for t in terms if t not in _STOPWORDS] or terms
        if not terms or limit <= 0:
            return []
        scores: dict[int, float] = {}
        matched: dict[int, int] = {}
        for term in terms:
            for number, weight in self._term_weights(term).items():
                scores[number] = scores.get(number, 0.0) + weight
                matched[number] = matched.get(number, 0) + 1
        phrase = _words(query)
        for number in scores:
            page = self.pages[number]
            # Pages that match every word first; a query that is the page's name (or its last part: "list models"
            # for replicate.list_models) beats everything.
            scores[number] *= matched[number] / len(terms)
            names = (page.name, *page.aliases, page.name.rsplit(".", 1)[-1])
            if any(_words(name) == phrase for name in names):
                scores[number] += 50.0
        ranked = sorted(scores, key=lambda n: (-scores[n], self.pages[n].name))[:limit]
        return [{"name": self.pages[n].name, "title": self.pages[n].title, "summary": self.pages[n].summary,
                 "snippet": _snippet(self.pages[n], terms), "score": round(scores[n], 3)} for n in ranked]


def _snippet(page: DocPage, terms: list[str], width: int = 160) -> str:
    body = page.body
    if body.startswith("# "):  # the title is shown on its own already
        body = body.partition("\n")[2]
    text = " ".join(body.split())
    lowered = text.lower()
    hits = [i for i in (lowered.find(t) for t in terms) if i >= 0]
    if not hits:
        return page.summary
    first = min(hits)
    start = max(0, first - width // 3)
    if start > 0:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < first else start
    end = min(len(text), start + width)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > first else end
    return ("..." if start > 0 else "") + text[start:end] + ("..." if end < len(text) else "")


# -- core pages --------------------------------------------------------------------------------------------------


def parse_page(name: str, text: str, namespace: str = "core") -> DocPage:
    """A markdown file -> DocPage. Optional front matter (``---`` lines with ``title:``, ``summary:``,
    ``aliases: a, b``); without it the title is the first ``# `` heading and the summary the first paragraph."""
    meta: dict[str, str] = {}
    body = text
    if text.startswith("---\n"):
        end = text.find("\n---\n", 4)
        if end > 0:
            for line in text[4:end].splitlines():
                key, sep, value = line.partition(":")
                if sep:
                    meta[key.strip()] = value.strip()
            body = text[end + 5:].lstrip("\n")
    lines = body.splitlines()
    heading = next((ln[2:].strip() for ln in lines if ln.startswith("# ")), name)
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", body) if p.strip() and not p.lstrip().startswith("#")]
    summary = meta.get("summary") or (" ".join(paragraphs[0].split()) if paragraphs else "")
    aliases = tuple(a.strip() for a in meta.get("aliases", "").split(",") if a.strip())
    return DocPage(name=name, title=meta.get("title") or heading, summary=summary, body=body,
                   aliases=aliases, namespace=namespace)


@functools.lru_cache(maxsize=1)
def _core_pages() -> tuple[DocPage, ...]:
    return tuple(parse_page(path.stem, path.read_text(encoding="utf-8"))
                 for path in sorted(_PAGES_DIR.glob("*.md")))


def core_pages() -> list[DocPage]:
    """The engine's own guides: overview, json, regex, output, errors, examples, limits."""
    return list(_core_pages())


# -- Lua bindings --------------------------------------------------------------------------------------------------


def _not_found(exc: DocNotFound) -> CallError:
    return CallError(str(exc), kind="docs", page=exc.page, suggestions=LuaArray(exc.suggestions))


def host_functions(index: DocsIndex) -> dict[str, Callable[..., Any]]:
    """``docs.list([namespace])``, ``docs.search(query [, limit])`` and ``docs.read(page)`` over ``index``, by
    name (stdlib/core.py installs them)."""

    def docs_list(namespace: Any = None, *extra: Any) -> LuaArray:
        if extra:
            raise ArgumentError("docs.list", ["too many arguments; expected ([namespace])"])
        if namespace is not None and not isinstance(namespace, str):
            raise ArgumentError("docs.list", [f"namespace: expected a string, got {lua_type_name(namespace)}"])
        try:
            return LuaArray(index.list(namespace))
        except DocNotFound:
            known = ", ".join(index.namespaces())
            raise ArgumentError("docs.list", [f"namespace: unknown namespace {namespace!r} (known: {known})"]) from None
        except KosmoError as exc:
            raise CallError(f"docs.list: {exc}") from None

    def docs_search(query: Any = None, limit: Any = 10, *extra: Any) -> LuaArray:
        if extra:
            raise ArgumentError("docs.search", ["too many arguments; expected (query [, limit])"])
        problems = []
        if not isinstance(query, str) or not query.strip():
            problems.append(f"query: expected a non-empty string, got {lua_type_name(query)}")
        if limit is None:
            limit = 10
        if isinstance(limit, float) and limit.is_integer():
            limit = int(limit)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            problems.append(f"limit: expected an integer >= 1, got {limit!r}")
        if problems:
            raise ArgumentError("docs.search", problems)
        try:
            return LuaArray(index.search(query, limit))
        except KosmoError as exc:
            raise CallError(f"docs.search: {exc}") from None

    def docs_read(page: Any = None, *extra: Any) -> str:
        if extra:
            raise ArgumentError("docs.read", ["too many arguments; expected (page)"])
        if not isinstance(page, str) or not page.strip():
            raise ArgumentError("docs.read", [
                f"page: expected a page name like \"overview\" or \"replicate.get_account\", "
                f"got {lua_type_name(page)}"])
        try:
            return index.read(page)
        except DocNotFound as exc:
            raise _not_found(exc) from None
        except KosmoError as exc:
            raise CallError(f"docs.read: {exc}") from None

    return {"list": docs_list, "search": docs_search, "read": docs_read}
