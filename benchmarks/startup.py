"""Start-up cost of `resnet-inspect summary` as a whole process, against two baselines run in the
same script: the floor (`python -c "import typer, rich"`, what any Typer+rich CLI pays) and
`python -c "import torch"` (what we would pay if the analytic path imported torch).

Goals (issue: the analytic engine): at most 2.5x the floor and at most 0.25 s.
Run: `.venv/bin/python benchmarks/startup.py [--repeat N] [--json FILE]`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def wall(cmd: list[str], repeat: int) -> list[float]:
    """Wall-clock seconds of ``cmd`` per run (after one warm-up run that fills the OS file cache)."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "0"}
    subprocess.run(cmd, capture_output=True, check=True, env=env, cwd=ROOT)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True, env=env, cwd=ROOT)
        times.append(time.perf_counter() - t0)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    args = parser.parse_args()
    py = sys.executable
    cases = {
        "floor: import typer, rich": [py, "-c", "import typer, rich"],
        "summary resnet152 --format json": [py, "-m", "resnet_inspect", "summary", "resnet152", "--format", "json"],
        "import torch": [py, "-c", "import torch"],
    }
    results = {}
    for label, cmd in cases.items():
        times = wall(cmd, args.repeat)
        results[label] = {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times)}
        print(f"{label:36s} median {results[label]['median_s']:.3f} s  (min {min(times):.3f}, max {max(times):.3f})")
    floor = results["floor: import typer, rich"]["median_s"]
    summary = results["summary resnet152 --format json"]["median_s"]
    torch_s = results["import torch"]["median_s"]
    ratio = summary / floor
    print(f"\nsummary / floor       = {ratio:.2f}x   (goal <= 2.5x)  {'OK' if ratio <= 2.5 else 'MISSED'}")
    print(f"summary absolute      = {summary:.3f} s (goal <= 0.25 s) {'OK' if summary <= 0.25 else 'MISSED'}")
    print(f"import torch / summary = {torch_s / summary:.1f}x slower than the whole summary")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, repeat {args.repeat}")
    if args.json:
        args.json.write_text(json.dumps({"results": results, "ratio_to_floor": ratio}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
