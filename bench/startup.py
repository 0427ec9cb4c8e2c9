"""Start-up: `kosmo integrations:lua --eval 'print(1)'` against `python -c pass`, and the same start-up with a
synthesised integration of 5,000 operations on KOSMO_INTEGRATIONS_PATH (which must cost nothing until a script
touches it), plus that integration's first-use cost.

    python bench/startup.py [--runs 21]

Every figure is the median wall time of --runs process runs, measured in this one run, runs of the different
commands taking turns. `kosmo` is the installed command (the script next to this interpreter), as a shell runs it;
the package's bytecode is compiled first, as pip does at install, so a PYTHONDONTWRITEBYTECODE environment does not
measure compiling. The second line is a floor for comparison: a bare interpreter importing the Lua engine.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import KOSMO, ROOT, clean_env, header, median

OPERATIONS = 5000


def synthesise(folder: Path, count: int) -> None:
    """An integration named `synth` whose operations.yaml holds `count` operations made from Replicate's."""
    import yaml

    source = yaml.safe_load((ROOT / "integrations" / "replicate" / "operations.yaml").read_text(encoding="utf-8"))
    templates = source["operations"]
    operations = []
    for i in range(count):
        op = dict(templates[i % len(templates)])
        op.update(name=f"op_{i:05d}", aliases=[], full_name=f"synth.op_{i:05d}", operation_id=f"synth.op{i}",
                  example=None)
        operations.append({k: v for k, v in op.items() if v is not None})
    table = {"integration": "synth", "title": "Synthesised", "source": source["source"],
             "operations": operations, **{k: v for k, v in source.items()
                                          if k not in ("integration", "title", "source", "operations")}}
    target = folder / "synth"
    target.mkdir(parents=True)
    (target / "operations.yaml").write_text(yaml.safe_dump(table, sort_keys=False), encoding="utf-8")
    (target / "integration.yaml").write_text(
        "name: synth\ntitle: Synthesised\nsummary: 5,000 operations made up for the start-up benchmark.\n"
        "base_url: http://127.0.0.1:9/v1\nauth: {scheme: bearer, credential: api_key}\n"
        "default_account: {env: {api_key: SYNTH_API_TOKEN}}\npagination: {style: none}\n", encoding="utf-8")


def timed(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, env=env, cwd=tempfile.gettempdir())
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{args} failed: {proc.stderr[-2000:]!r}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=21)
    ns = parser.parse_args()
    header("start-up")
    with tempfile.TemporaryDirectory() as tmp:
        home, extra = Path(tmp) / "home", Path(tmp) / "extra"
        synthesise(extra, OPERATIONS)
        env = clean_env({"KOSMO_HOME": str(home)})
        env_big = {**env, "KOSMO_INTEGRATIONS_PATH": str(extra)}
        script = Path(sys.executable).parent / "kosmo"
        lua = [str(script), "integrations:lua", "--eval"]
        if not script.is_file():
            lua = [*KOSMO, "integrations:lua", "--eval"]
            print(f"note: {script} is not installed; measuring `python -m kosmo_lua` instead")
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "kosmo_lua")], check=True,
                       capture_output=True)
        commands = {
            "python -c pass": ([sys.executable, "-c", "pass"], env),
            # The floor: the Lua engine alone, which every run needs (in its worker).
            "python -c 'import lupa.lua54'": ([sys.executable, "-c", "import lupa.lua54"], env),
            "kosmo print(1)": ([*lua, "print(1)"], env),
            "kosmo --json print(1)": ([*lua, "print(1)", "--json"], env),
            "kosmo print(1), +5,000-op integration": ([*lua, "print(1)"], env_big),
            "kosmo first use of the 5,000-op integration": (
                [*lua, "print(type(app.integrations.synth.op_04999))"], env_big),
        }
        for args, e in commands.values():  # warm the file cache and .pyc files
            timed(args, e)
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(ns.runs):
            for name, (args, e) in commands.items():
                samples[name].append(timed(args, e))
    result = {name: median(values) for name, values in samples.items()}
    base = result["python -c pass"]
    plain = result["kosmo print(1)"]
    for name, value in result.items():
        print(f"{name:46s} {value * 1000:7.1f} ms  {value / base:5.2f}x python")
    print(f"kosmo / python: {plain / base:.2f}x (target < 3x)")
    print(f"5,000-op integration present, unused: {(result['kosmo print(1), +5,000-op integration'] - plain) * 1000:+.1f}"
          f" ms; first use: {(result['kosmo first use of the 5,000-op integration'] - plain) * 1000:+.1f} ms")


if __name__ == "__main__":
    main()
