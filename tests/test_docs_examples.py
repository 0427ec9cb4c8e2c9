"""Every Lua example in docs/ runs, against the built-in emulators, as written.

A block fenced ```lua runs; ```lua norun is shown only (examples needing an MCP server, or ones that end in a limit on
purpose). Generated reference pages (docs/reference/) are checked for staleness here too, so the examples that run
are the ones users read.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from kosmo_lua.run.runner import RunOptions, run_script

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```lua([^\n]*)\n(.*?)^```", re.S | re.M)


def lua_blocks() -> list[tuple[str, str]]:
    found = []
    for path in sorted(DOCS.rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        for n, match in enumerate(FENCE.finditer(text), 1):
            if "norun" in match.group(1):
                continue
            found.append((f"{path.relative_to(DOCS)}#{n}", match.group(2)))
    return found


BLOCKS = lua_blocks()


def test_docs_have_examples() -> None:
    assert len(BLOCKS) > 40


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder holding the input images the examples name, with a private KOSMO_HOME."""
    from kosmo_lua.emulate import media

    (tmp_path / "product.png").write_bytes(media.png_image(256, 256, b"\x30\x60\x90"))
    (tmp_path / "hero.png").write_bytes(media.png_image(1024, 576, b"\x90\x60\x30"))
    (tmp_path / "photo.png").write_bytes(media.png_image(512, 512, b"\x60\x90\x30"))
    monkeypatch.setenv("KOSMO_HOME", str(tmp_path / "home"))
    # Stability jobs finish on their first poll, so `wait` examples need no real 10 s pause.
    monkeypatch.setenv("STABILITY_EMULATOR_JOB_POLLS", "0")
    for var in ("REPLICATE_API_TOKEN", "STABILITY_API_KEY", "KOSMO_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


@pytest.mark.parametrize("where,code", BLOCKS, ids=[b[0] for b in BLOCKS])
def test_example_runs(where: str, code: str, workdir: Path) -> None:
    env = run_script(code, f"={where}",
                     options=RunOptions(offline=True, force=True, cpu_limit=60, cwd=str(workdir)))
    assert env.success, f"{where}: {env.error}\n--- code ---\n{code}\n--- output ---\n{env.output}"


def test_reference_pages_are_fresh() -> None:
    proc = subprocess.run([sys.executable, "-m", "kosmo_lua", "integrations:render-docs", "--check"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr + "\nrun `kosmo integrations:render-docs` and commit docs/reference/"
