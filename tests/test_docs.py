"""The docs machinery: resolution, lazy providers, listing, search, core pages, and their Lua examples."""

from __future__ import annotations

import re

import pytest

from kosmo_lua.errors import DocNotFound, LuaRuntimeError
from kosmo_lua.stdlib import core
from kosmo_lua.stdlib.docs import DocPage, DocsIndex, core_pages, parse_page

# The pages this part of the engine owns; other parts may add core pages of their own (mcp.md).
OWN = {"overview", "json", "regex", "output", "errors", "examples", "limits"}
CORE = {p.name for p in core_pages()}


class CountingProvider:
    """A provider that records how often it was asked for its pages."""

    def __init__(self, namespace: str, functions: list[str]) -> None:
        self.namespace = namespace
        self.functions = functions
        self.loads = 0

    def names(self) -> list[str]:
        return [self.namespace]

    def load(self) -> list[DocPage]:
        self.loads += 1
        pages = [DocPage(name=self.namespace, title=self.namespace.title(), summary=f"The {self.namespace} API",
                         body=f"# {self.namespace.title()}\n\nCall functions of {self.namespace}.\n",
                         aliases=(f"integrations.{self.namespace}",), namespace=self.namespace)]
        for fn in self.functions:
            pages.append(DocPage(name=f"{self.namespace}.{fn}", title=f"{self.namespace}.{fn}",
                                 summary=f"{fn.replace('_', ' ').capitalize()}.",
                                 body=f"# {self.namespace}.{fn}\n\nThis function will {fn.replace('_', ' ')}.\n",
                                 aliases=(f"{self.namespace}.{fn}_alias",), namespace=self.namespace))
        return pages


@pytest.fixture
def replicate() -> CountingProvider:
    return CountingProvider("replicate", ["get_account", "create_prediction", "list_predictions", "cancel_prediction"])


@pytest.fixture
def index(replicate: CountingProvider) -> DocsIndex:
    idx = DocsIndex()
    for page in core_pages():
        idx.add(page)
    idx.add_provider("replicate", names=replicate.names, load=replicate.load)
    return idx


# -- core pages ----------------------------------------------------------------------------------------------------


def test_core_pages_exist_with_titles_and_summaries() -> None:
    pages = {p.name: p for p in core_pages()}
    assert OWN <= set(pages)
    for page in pages.values():
        assert page.title and page.summary and page.namespace == "core"
        assert not page.body.startswith("---")
    for name in OWN:
        assert pages[name].body.startswith(f"# {pages[name].title}\n"), name
    assert "json.decode" in pages["json"].aliases
    assert "sleep" in pages["limits"].aliases


def test_parse_page_without_front_matter() -> None:
    page = parse_page("guide", "# A Guide\n\nFirst paragraph\nwraps here.\n\nSecond.\n")
    assert (page.title, page.summary, page.aliases) == ("A Guide", "First paragraph wraps here.", ())
    page = parse_page("x", "---\ntitle: T\naliases: a, b\n---\n# Heading\n\nBody.\n")
    assert (page.title, page.summary, page.aliases, page.body) == ("T", "Body.", ("a", "b"), "# Heading\n\nBody.\n")


# -- resolution ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asked", "page"),
    [
        ("json", "json"),
        ("JSON", "json"),
        ("json.decode", "json"),
        ("Regex.Gsub", "regex"),
        ("print", "output"),
        ("help", "overview"),
        ("  limits ", "limits"),
    ],
)
def test_core_resolution(index: DocsIndex, replicate: CountingProvider, asked: str, page: str) -> None:
    assert index.resolve(asked).name == page
    assert replicate.loads == 0


@pytest.mark.parametrize(
    ("asked", "page"),
    [
        ("replicate", "replicate"),
        ("integrations.replicate", "replicate"),
        ("app.integrations.replicate", "replicate"),
        ("replicate.get_account", "replicate.get_account"),
        ("integrations.replicate.get_account", "replicate.get_account"),
        ("app.integrations.replicate.get_account", "replicate.get_account"),
        ("APP.Integrations.Replicate.Get_Account", "replicate.get_account"),
        ("replicate.get_account_alias", "replicate.get_account"),
        ("app.integrations.replicate.work.get_account", "replicate.get_account"),  # account segment
    ],
)
def test_provider_resolution(index: DocsIndex, replicate: CountingProvider, asked: str, page: str) -> None:
    assert index.resolve(asked).name == page
    assert replicate.loads == 1


def test_read_returns_markdown(index: DocsIndex) -> None:
    text = index.read("replicate.create_prediction")
    assert text.startswith("# replicate.create_prediction\n")
    assert "create prediction" in text
    idx = DocsIndex()
    idx.add(DocPage(name="bare", title="Bare Page", summary="s", body="No heading here."))
    assert idx.read("bare") == "# Bare Page\n\nNo heading here."


def test_unknown_page_lists_the_closest(index: DocsIndex) -> None:
    with pytest.raises(DocNotFound) as info:
        index.resolve("jsn")
    assert "json" in info.value.suggestions
    assert str(info.value).startswith("Unknown docs page: jsn. Did you mean: ")
    with pytest.raises(DocNotFound) as info:
        index.resolve("replicate.get_acount")
    assert info.value.suggestions[0] == "replicate.get_account"
    with pytest.raises(DocNotFound) as info:
        index.resolve("zzzzzzzz")
    assert info.value.suggestions == [] and str(info.value) == "Unknown docs page: zzzzzzzz."


def test_unknown_page_suggests_unloaded_namespaces(index: DocsIndex, replicate: CountingProvider) -> None:
    with pytest.raises(DocNotFound) as info:
        index.resolve("replicat")
    assert "replicate" in info.value.suggestions
    assert replicate.loads == 0


def test_namespace_without_overview_gets_a_listing() -> None:
    idx = DocsIndex()
    idx.add_provider("tools", names=lambda: ["tools"], load=lambda: [
        DocPage(name="tools.b", title="tools.b", summary="Second", body="b", namespace="tools"),
        DocPage(name="tools.a", title="tools.a", summary="First", body="a", namespace="tools"),
    ])
    assert idx.read("tools") == "# tools\n\n- `tools.a`: First\n- `tools.b`: Second\n"
    assert idx.read("integrations.tools") == idx.read("tools")


def test_names_beat_aliases() -> None:
    idx = DocsIndex()
    idx.add(DocPage(name="a", title="A", summary="", body="", aliases=("b",)))
    idx.add(DocPage(name="b", title="B", summary="", body=""))
    idx.add(DocPage(name="c", title="C", summary="", body="", aliases=("a",)))
    assert idx.resolve("b").title == "B"
    assert idx.resolve("a").title == "A"


# -- listing -------------------------------------------------------------------------------------------------------


def test_list_all_is_sorted_and_does_not_load_providers(index: DocsIndex, replicate: CountingProvider) -> None:
    entries = index.list()
    assert [e["name"] for e in entries] == sorted(CORE | {"replicate"})
    assert all(set(e) == {"name", "title", "summary"} for e in entries)
    assert 'docs.list("replicate")' in next(e for e in entries if e["name"] == "replicate")["summary"]
    assert replicate.loads == 0
    # The same answer after the provider has loaded: listing does not depend on history.
    index.read("replicate")
    assert index.list() == entries


def test_list_namespace_loads_it_once(index: DocsIndex, replicate: CountingProvider) -> None:
    core = index.list("core")
    assert [e["name"] for e in core] == sorted(CORE)
    assert replicate.loads == 0
    names = [e["name"] for e in index.list("replicate")]
    assert names == sorted(["replicate", "replicate.get_account", "replicate.create_prediction",
                            "replicate.list_predictions", "replicate.cancel_prediction"])
    assert index.list("integrations.Replicate") == index.list("replicate")
    assert replicate.loads == 1


def test_list_unknown_namespace(index: DocsIndex) -> None:
    with pytest.raises(DocNotFound) as info:
        index.list("replicat")
    assert info.value.suggestions == ["replicate"]


# -- search --------------------------------------------------------------------------------------------------------


def test_search_ranks_names_first_and_loads_providers(index: DocsIndex, replicate: CountingProvider) -> None:
    hits = index.search("cancel prediction")
    assert replicate.loads == 1
    assert hits[0]["name"] == "replicate.cancel_prediction"
    assert set(hits[0]) == {"name", "title", "summary", "snippet", "score"}
    assert all(a["score"] >= b["score"] for a, b in zip(hits, hits[1:]))
    # Pages with both words outrank pages with one; ties are broken by name.
    assert [h["name"] for h in hits[:3]] == ["replicate.cancel_prediction", "replicate.create_prediction",
                                             "replicate.list_predictions"]
    assert hits[0]["score"] > hits[1]["score"] == hits[2]["score"] > hits[3]["score"]


def test_search_exact_name_wins(index: DocsIndex) -> None:
    assert index.search("list predictions")[0]["name"] == "replicate.list_predictions"
    assert index.search("regex")[0]["name"] == "regex"
    assert index.search("json.decode")[0]["name"] == "json"
    assert index.search("get_account")[0]["name"] == "replicate.get_account"


def test_search_finds_body_terms_with_snippet(index: DocsIndex) -> None:
    hits = index.search("catastrophic")
    assert hits and hits[0]["name"] in {"regex", "limits"}
    assert "catastrophic" in hits[0]["snippet"].lower()
    # The title line is not repeated in the snippet.
    assert not index.search("cancel prediction")[0]["snippet"].startswith("#")
    assert index.search("cancel prediction")[0]["snippet"] == "This function will cancel prediction."


def test_search_prefixes_plurals_limit_and_stopwords(index: DocsIndex) -> None:
    three = ["replicate.cancel_prediction", "replicate.create_prediction", "replicate.list_predictions"]
    assert [h["name"] for h in index.search("predict", 3)] == three  # a prefix of "prediction"
    assert [h["name"] for h in index.search("predictions", 3)] == three  # plural finds the singular
    assert len(index.search("the json", 2)) == 2
    assert index.search("the json")[0]["name"] == "json"
    assert index.search("   ") == []
    assert index.search("qqqqqqqq") == []


def test_search_is_deterministic(index: DocsIndex) -> None:
    first = index.search("error table pcall", 20)
    second = index.search("error table pcall", 20)
    assert first == second
    assert first[0]["name"] == "errors"


def test_search_index_is_rebuilt_after_add(index: DocsIndex) -> None:
    assert index.search("zebra") == []
    index.add(DocPage(name="zoo", title="Zoo", summary="animals", body="A zebra lives here."))
    assert index.search("zebra")[0]["name"] == "zoo"


def test_five_thousand_pages() -> None:
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
    idx = DocsIndex()
    loads = []

    def load(ns: str) -> list[DocPage]:
        loads.append(ns)
        return [DocPage(name=f"{ns}.op_{i}", title=f"{ns}.op_{i}", summary=f"{words[i % 10]} operation {i}",
                        body=" ".join(words[(i + k) % 10] for k in range(200)) + f" unique{ns}{i}",
                        namespace=ns) for i in range(500)]

    for n in range(10):
        idx.add_provider(f"api{n}", names=lambda n=n: [f"api{n}"], load=lambda n=n: load(f"api{n}"))
    assert idx.resolve("api3.op_7").name == "api3.op_7"
    assert loads == ["api3"]
    hits = idx.search("unique api7 42")
    assert hits[0]["name"] == "api7.op_42"
    assert len(loads) == 10
    hits = idx.search("golf hotel", 5)
    assert len(hits) == 5
    assert idx.search("golf hotel", 5) == hits


# -- the Lua side ----------------------------------------------------------------------------------------------


def _sandbox():  # type: ignore[no-untyped-def]
    runtime = pytest.importorskip("kosmo_lua.sandbox.runtime", reason="kosmo_lua.sandbox.runtime not written yet")
    return runtime.Sandbox()


@pytest.fixture
def lua(index: DocsIndex):  # type: ignore[no-untyped-def]
    sandbox = _sandbox()
    core.install_docs(sandbox, index)
    return sandbox


def test_lua_list_search_read(lua, replicate: CountingProvider) -> None:  # type: ignore[no-untyped-def]
    code = """
    local all = docs.list()
    local names = {}
    for _, e in ipairs(all) do names[#names + 1] = e.name end
    local rep = docs.list("replicate")
    local hits = docs.search("cancel prediction", 2)
    return table.concat(names, ","), #rep, #hits, hits[1].name, docs.read("app.integrations.replicate")
    """
    listed, count, n_hits, top, text = lua.execute(code)
    assert listed == ",".join(sorted(CORE | {"replicate"}))
    assert (count, n_hits, top) == (5, 2, "replicate.cancel_prediction")
    assert text.startswith("# Replicate")
    assert replicate.loads == 1


def test_lua_errors(lua) -> None:  # type: ignore[no-untyped-def]
    code = """
    local ok, err = pcall(docs.read, "jsn")
    return ok, err.message, err.kind, err.suggestions[1]
    """
    assert lua.execute(code) == [False, "Unknown docs page: jsn. Did you mean: json?", "docs", "json"]
    for call, fragment in [
        ("docs.read()", "docs.read: page: expected a page name"),
        ("docs.read(5)", "got number"),
        ("docs.search('')", "docs.search: query: expected a non-empty string"),
        ("docs.search('x', 0)", "docs.search: limit: expected an integer >= 1, got 0"),
        ("docs.list(5)", "docs.list: namespace: expected a string, got number"),
        ("docs.list('nope')", "docs.list: namespace: unknown namespace 'nope' (known: core, replicate)"),
    ]:
        with pytest.raises(LuaRuntimeError) as info:
            lua.execute(call)
        assert fragment in str(info.value), call


def _lua_blocks() -> list[tuple[str, int, str]]:
    """Every ```lua block of the core pages (``lua norun`` blocks need integrations and are skipped)."""
    blocks = []
    for page in core_pages():
        for number, found in enumerate(re.finditer(r"```lua([^\n]*)\n(.*?)```", page.body, re.S), start=1):
            if "norun" not in found.group(1):
                blocks.append((page.name, number, found.group(2)))
    return blocks


def test_pages_have_runnable_examples() -> None:
    pages_with_examples = {name for name, _, _ in _lua_blocks()}
    assert OWN <= pages_with_examples


@pytest.mark.parametrize(("page", "number", "code"), _lua_blocks(), ids=lambda v: str(v)[:20])
def test_page_examples_run(page: str, number: int, code: str) -> None:
    runtime = pytest.importorskip("kosmo_lua.sandbox.runtime", reason="kosmo_lua.sandbox.runtime not written yet")
    lines: list[str] = []
    sandbox = runtime.Sandbox(output=lines.append)
    index = DocsIndex()
    for p in core_pages():
        index.add(p)
    core.install_all(sandbox, index)
    sandbox.execute(code, f"={page}.md block {number}")
    # "--> text" comments show the output, one comment per line, in order (a trailing "..." cuts the line short).
    shown = [m.group(1) for m in re.finditer(r"--> ?(.*)$", code, re.M)]
    printed = "\n".join(lines).split("\n")
    assert len(printed) >= len(shown)
    for expected, actual in zip(shown, printed):
        if expected.endswith("..."):
            assert actual.startswith(expected[:-3].rstrip()), (expected, actual)
        else:
            assert actual == expected
