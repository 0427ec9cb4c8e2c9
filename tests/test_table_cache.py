"""The cache of parsed operation tables (``kosmo_lua.ops.table.load_table`` with ``cache_dir``) and the fast dataclass
construction used to build tables.

"Parsed" is counted by spying on ``table._parse_yaml``, the one place a table's YAML is parsed: a load that the cache
served parses nothing.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from kosmo_lua import registry
from kosmo_lua.ops import table as table_mod
from kosmo_lua.ops.table import load_table

ROOT = Path(__file__).resolve().parents[1]
REAL = {name: ROOT / "integrations" / name / "operations.yaml" for name in ("replicate", "stability")}


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every YAML text parsed from now on."""
    seen: list[str] = []
    real = table_mod._parse_yaml

    def spy(text: str) -> Any:
        seen.append(text)
        return real(text)

    monkeypatch.setattr(table_mod, "_parse_yaml", spy)
    return seen


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A private copy of Replicate's operations.yaml, free to change."""
    folder = tmp_path / "src" / "replicate"
    folder.mkdir(parents=True)
    return Path(shutil.copy(REAL["replicate"], folder / "operations.yaml"))


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "home" / "cache" / "tables"


def _entries(cache: Path) -> list[Path]:
    return sorted(cache.glob("*.json")) if cache.is_dir() else []


def _entry(cache: Path) -> Path:
    entries = _entries(cache)
    assert len(entries) == 1, entries
    return entries[0]


# -- written, used, invalidated ----------------------------------------------------------------------------------------

def test_first_load_writes_the_entry_and_the_second_uses_it(source: Path, cache: Path, parses: list[str]) -> None:
    first = load_table(source, cache)
    assert len(parses) == 1
    entry = _entry(cache)
    assert entry.name.startswith("replicate-")
    stored = json.loads(entry.read_text(encoding="utf-8"))
    assert stored["format"] == table_mod._CACHE_FORMAT
    assert stored["sha256"] == table_mod._digest(source.read_text(encoding="utf-8"))
    assert not [p for p in cache.iterdir() if p.suffix != ".json"], "a temporary file was left behind"

    second = load_table(source, cache)
    assert len(parses) == 1, "the second load parsed the YAML instead of using the cache"
    assert second == first


def test_the_table_is_built_from_the_entry(source: Path, cache: Path, parses: list[str]) -> None:
    """What the second load returns comes from the entry, not from the YAML: a title planted in it shows up."""
    load_table(source, cache)
    entry = _entry(cache)
    stored = json.loads(entry.read_text(encoding="utf-8"))
    stored["data"]["title"] = "planted in the cache"
    entry.write_text(json.dumps(stored), encoding="utf-8")
    assert load_table(source, cache).title == "planted in the cache"
    assert len(parses) == 1


@pytest.mark.parametrize("keep_mtime", [False, True], ids=["mtime-changed", "mtime-kept"])
def test_a_changed_yaml_invalidates_the_entry(source: Path, cache: Path, parses: list[str], keep_mtime: bool) -> None:
    """Same size, different content: the entry is keyed by the text's digest, so even a file whose mtime was kept
    (a copy with preserved times, a reproducible wheel) is never served stale."""
    before = load_table(source, cache)
    stat = source.stat()
    text = source.read_text(encoding="utf-8")
    assert "title: Replicate HTTP API" in text
    changed = text.replace("title: Replicate HTTP API", "title: Replicate HTTP APX", 1)
    source.write_text(changed, encoding="utf-8")
    if keep_mtime:
        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    else:
        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert source.stat().st_size == stat.st_size

    after = load_table(source, cache)
    assert len(parses) == 2
    assert (before.title, after.title) == ("Replicate HTTP API", "Replicate HTTP APX")
    assert after.operations == before.operations
    load_table(source, cache)  # the entry was rewritten for the new text (and is still the only one)
    assert len(parses) == 2
    assert json.loads(_entry(cache).read_text(encoding="utf-8"))["sha256"] == table_mod._digest(changed)


# -- a damaged, unreadable or unwritable cache only means parsing ------------------------------------------------------

def _valid_entry_with(source: Path, data: Any) -> str:
    digest = table_mod._digest(source.read_text(encoding="utf-8"))
    return json.dumps({"format": table_mod._CACHE_FORMAT, "sha256": digest, "data": data})


CORRUPTIONS = {
    "empty": lambda source, good: "",
    "truncated": lambda source, good: good[: len(good) // 2],
    "not-json": lambda source, good: "\x00\x01 garbage {",
    "bad-utf8": lambda source, good: b"\xff\xfe\xfa".decode("latin-1"),
    "a-list": lambda source, good: "[1, 2, 3]",
    "old-format": lambda source, good: good.replace('"format":1', '"format":0', 1),
    "no-data": lambda source, good: json.dumps({**json.loads(good), "data": None}),
    "data-that-does-not-build": lambda source, good: _valid_entry_with(source, {"integration": "replicate",
                                                                                "operations": [{"bogus": 1}]}),
    "deeply-nested": lambda source, good: "[" * 100_000,
}


@pytest.mark.parametrize("corrupt", list(CORRUPTIONS), ids=list(CORRUPTIONS))
def test_a_corrupt_entry_falls_back_to_parsing_and_is_rewritten(source: Path, cache: Path, parses: list[str],
                                                                corrupt: str) -> None:
    expected = load_table(source, cache)
    entry = _entry(cache)
    good = entry.read_text(encoding="utf-8")
    bad = CORRUPTIONS[corrupt](source, good)
    entry.write_bytes(bad.encode("latin-1") if corrupt == "bad-utf8" else bad.encode("utf-8"))

    assert load_table(source, cache) == expected
    assert len(parses) == 2
    assert entry.read_text(encoding="utf-8") == good, "the damaged entry was not rewritten"
    assert load_table(source, cache) == expected
    assert len(parses) == 2


def test_an_unreadable_entry_falls_back_to_parsing(source: Path, cache: Path, parses: list[str]) -> None:
    """A directory where the entry should be: neither readable nor replaceable (works when tests run as root)."""
    expected = load_table(source)
    entry = table_mod._cache_file(cache, source)
    (entry / "in-the-way").mkdir(parents=True)
    assert load_table(source, cache) == expected
    assert load_table(source, cache) == expected
    assert len(parses) == 3
    assert [p.name for p in cache.iterdir()] == [entry.name], "a temporary file was left behind"


def test_an_unwritable_cache_folder_still_loads(source: Path, tmp_path: Path, parses: list[str]) -> None:
    """The cache folder cannot be created (its parent is a file: this holds for root too)."""
    blocker = tmp_path / "home"
    blocker.write_text("not a folder", encoding="utf-8")
    expected = load_table(source)
    assert load_table(source, blocker / "cache" / "tables") == expected
    assert load_table(source, blocker / "cache" / "tables") == expected
    assert len(parses) == 3


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_cache_folder_still_loads(source: Path, cache: Path, parses: list[str]) -> None:
    cache.mkdir(parents=True)
    cache.chmod(0o500)
    try:
        assert load_table(source, cache) == load_table(source)
        assert _entries(cache) == []
    finally:
        cache.chmod(0o700)


def test_a_failed_write_leaves_no_temporary_file(source: Path, cache: Path, parses: list[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(src: Any, dst: Any) -> None:
        raise PermissionError("read-only file system")

    monkeypatch.setattr(os, "replace", refuse)
    assert load_table(source, cache) == load_table(source)
    assert list(cache.iterdir()) == []


# -- only what JSON holds exactly is cached ----------------------------------------------------------------------------

@pytest.mark.parametrize("source_yaml", [
    "{file: x.json, date: 2024-05-01}",  # a YAML timestamp: a datetime.date, which JSON cannot hold
    "{1: one, file: x.json}",  # an integer key, which json.dumps would silently turn into "1"
], ids=["date", "int-key"])
def test_data_json_cannot_hold_is_not_cached(tmp_path: Path, cache: Path, parses: list[str], source_yaml: str) -> None:
    path = tmp_path / "odd" / "operations.yaml"
    path.parent.mkdir()
    path.write_text(f"integration: odd\ntitle: Odd\nsource: {source_yaml}\noperations: []\n", encoding="utf-8")
    assert load_table(path, cache) == load_table(path)
    assert _entries(cache) == []
    assert len(parses) == 2


# -- the real integrations ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(REAL))
def test_the_cached_table_equals_the_parsed_one(name: str, cache: Path, parses: list[str]) -> None:
    parsed = load_table(REAL[name])
    load_table(REAL[name], cache)
    cached = load_table(REAL[name], cache)
    assert len(parses) == 2, "the third load did not come from the cache"
    assert cached == parsed
    assert repr(cached) == repr(parsed)
    assert table_mod.table_to_data(cached) == table_mod.table_to_data(parsed)
    assert cached.by_name().keys() == parsed.by_name().keys()


def test_the_registry_caches_under_kosmo_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              parses: list[str]) -> None:
    extra = tmp_path / "extra"
    shutil.copytree(REAL["stability"].parent, extra / "stability", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setenv("KOSMO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KOSMO_INTEGRATIONS_PATH", str(extra))
    registry.clear_cache()
    try:
        first = registry.get_loaded("stability")
        assert registry.table_cache_folder() == tmp_path / "home" / "cache" / "tables"
        assert _entry(registry.table_cache_folder()).name.startswith("stability-")
        registry.clear_cache()
        second = registry.get_loaded("stability")
        assert len(parses) == 1
        assert second.table == first.table and second.by_name == first.by_name
    finally:
        registry.clear_cache()
    assert not list(extra.glob("stability/*.json")), "the cache was written beside the integration"


# -- the garbage collector is paused while loading, and only then ------------------------------------------------------

def test_loading_restores_the_collector(source: Path, cache: Path) -> None:
    assert gc.isenabled()
    load_table(source, cache)
    assert gc.isenabled()
    with pytest.raises(FileNotFoundError):
        load_table(source.with_name("missing.yaml"), cache)
    assert gc.isenabled()
    gc.disable()
    try:
        load_table(source, cache)
        assert not gc.isenabled(), "loading turned on a collector its caller had turned off"
    finally:
        gc.enable()


