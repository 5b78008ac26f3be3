"""Start-up with the pinned typer and with the newest one, each in its own venv, in one run.

A fresh ``pip install resnet-inspect`` gets the newest typer, not the one constraints.txt pins for
CI. typer 0.29 converts option values through pydantic adapters, which doubled the start-up of
``summary`` until cli/coerce.py converted our plain options itself. This benchmark holds the line:
``summary resnet152 --format json`` may cost at most 1.6x ``python -c "import typer, rich.table,
rich.console"`` (the floor of any typer + rich CLI) with either typer, measured in the same run,
pairs interleaved so both see the same machine.

Each venv gets typer, rich and pyyaml from the package index and resnet-inspect itself without
dependencies (summary needs no torch); they live under .bench/ and are reused.

Run: ``.venv/bin/python benchmarks/startup_typer.py [--typer 0.28.0 0.29.2] [--repeat N] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL = 1.6
SUMMARY = ["-m", "resnet_inspect", "summary", "resnet152", "--format", "json"]
FLOOR = ["-c", "import typer, rich.table, rich.console"]


def venv_for(version: str) -> Path:
    """A venv with ``typer==version`` and resnet-inspect (no torch), made once under .bench/."""
    home = ROOT / ".bench" / f"typer-{version}"
    py = home / "bin" / "python"
    if not (home / ".ok").exists():
        subprocess.run([sys.executable, "-m", "venv", str(home)], check=True)
        pip = [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, f"typer=={version}", "rich", "pyyaml"], check=True)
        subprocess.run([*pip, "--no-deps", "-e", str(ROOT)], check=True)
        (home / ".ok").touch()
    return py


def wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, capture_output=True, check=True, cwd=ROOT)
    return time.perf_counter() - t0


def measure(py: Path, repeat: int) -> dict[str, float]:
    """Median seconds of summary and of the floor, run in turns (one warm-up pair first)."""
    runs: dict[str, list[float]] = {"summary": [], "floor": []}
    for i in range(repeat + 1):
        for name, args in (("summary", SUMMARY), ("floor", FLOOR)):
            t = wall([str(py), *args])
            if i:
                runs[name].append(t)
    s, f = statistics.median(runs["summary"]), statistics.median(runs["floor"])
    return {"summary_s": s, "floor_s": f, "ratio": s / f}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--typer", nargs="+", default=["0.28.0", "0.29.2"], help="typer versions to compare")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    args = parser.parse_args()
    results = {}
    for version in args.typer:
        r = measure(venv_for(version), args.repeat)
        results[version] = r
        verdict = "met" if r["ratio"] <= GOAL else "MISSED"
        print(f"typer {version:8s} summary {r['summary_s']:.3f} s, floor {r['floor_s']:.3f} s: "
              f"{r['ratio']:.2f}x (goal <= {GOAL}x) {verdict}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0 if all(r["ratio"] <= GOAL for r in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
