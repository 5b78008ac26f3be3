"""Tracing a user's ResNet against fvcore's ``FlopCountAnalysis`` of the same module, and the
tracer's memory at two input sizes.

1. **Same module, same process.** One ``nn.Module`` (the torchvision-style ResNet-152 written in
   tests/usernets/torchvision_style.py, built with real CPU weights so fvcore can run it) is
   analysed by fvcore (``FlopCountAnalysis(...).by_module_and_operator()``, its JIT trace and
   per-module counts) and by resnet-inspect's tracer (one pass on the meta device, then the units
   found and counted: ``record`` + ``plan_from_trace`` + ``count_plan``). Each is run once to
   warm up, then ``--repeat`` times interleaved; medians are compared. Goal (issue 12): the
   tracer takes at most half of fvcore's time.
2. **Whole process**, for the record: ``resnet-inspect summary FILE.py:resnet152`` against a
   script that imports torch, builds the same model and runs fvcore, as a user would.
3. **Memory against input size.** Peak resident memory of ``resnet-inspect summary
   FILE.py:resnet152`` at input 224 and at 2048: the pass runs on the meta device, so the
   activations of a 2048x2048 input (gigabytes on a real device) are never allocated. Goal: the
   same peak (within 5%).

    .venv/bin/python benchmarks/trace_vs_fvcore.py [--repeat N] [--json]

A benchmark, not a test: it prints numbers (and JSON with --json) and exits 0.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET = "tests/usernets/torchvision_style.py:resnet152"
FVCORE_PROCESS = """
import logging, sys, warnings
logging.disable(logging.WARNING); warnings.filterwarnings("ignore")
import importlib.util, torch
from fvcore.nn import FlopCountAnalysis
spec = importlib.util.spec_from_file_location("tv", "tests/usernets/torchvision_style.py")
tv = importlib.util.module_from_spec(spec); spec.loader.exec_module(tv)
model = tv.resnet152().eval()
with torch.no_grad():
    f = FlopCountAnalysis(model, torch.zeros(1, 3, 224, 224))
    f.unsupported_ops_warnings(False); f.uncalled_modules_warnings(False)
    print(int(f.total()))
"""


def in_process(repeat: int) -> dict[str, float]:
    import torch
    from fvcore.nn import FlopCountAnalysis

    from resnet_inspect.counts import count_plan
    from resnet_inspect.nn.trace import record
    from resnet_inspect.nn.usercode import build_real
    from resnet_inspect.structure import plan_from_trace
    from resnet_inspect.target import parse_target

    logging.getLogger("fvcore").setLevel(logging.ERROR)
    model = build_real(parse_target(TARGET)).eval()
    x = torch.zeros(1, 3, 224, 224)

    def fvcore() -> None:
        with torch.no_grad():
            (FlopCountAnalysis(model, x).unsupported_ops_warnings(False).uncalled_modules_warnings(False)
             .tracer_warnings("none").by_module_and_operator())

    def ours() -> None:
        count_plan(plan_from_trace(record(model, (3, 224, 224), TARGET)))

    first = {}
    for name, fn in (("fvcore", fvcore), ("trace", ours)):
        t = time.perf_counter()
        fn()
        first[name] = time.perf_counter() - t
    times: dict[str, list[float]] = {"fvcore": [], "trace": []}
    for _ in range(repeat):  # interleaved, so machine noise hits both alike
        for name, fn in (("fvcore", fvcore), ("trace", ours)):
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    fv, tr = statistics.median(times["fvcore"]), statistics.median(times["trace"])
    return {"fvcore_s": fv, "trace_s": tr, "ratio": tr / fv, "fvcore_first_s": first["fvcore"],
            "trace_first_s": first["trace"]}


def _process(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one whole process."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        err = proc.stderr.read().decode(errors="replace").strip().splitlines() if proc.stderr else []
        raise SystemExit(f"{' '.join(cmd[:4])} failed: {err[-1] if err else status}")
    return time.perf_counter() - t, usage.ru_maxrss / 1024


def processes(repeat: int) -> dict[str, float]:
    py = sys.executable
    summary = [py, "-m", "resnet_inspect", "summary", TARGET, "--format", "json"]
    runs: dict[str, list[tuple[float, float]]] = {"summary_224": [], "summary_2048": [], "fvcore_process": []}
    for _ in range(repeat + 1):
        runs["summary_224"].append(_process([*summary, "--input-size", "224"]))
        runs["summary_2048"].append(_process([*summary, "--input-size", "2048"]))
        runs["fvcore_process"].append(_process([py, "-c", FVCORE_PROCESS]))
    out: dict[str, float] = {}
    for name, values in runs.items():
        kept = values[1:]  # the first run warms the file cache
        out[f"{name}_s"] = statistics.median(v[0] for v in kept)
        out[f"{name}_rss_mb"] = max(v[1] for v in kept)
    out["rss_2048_over_224"] = out["summary_2048_rss_mb"] / out["summary_224_rss_mb"]
    out["process_ratio"] = out["summary_224_s"] / out["fvcore_process_s"]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of lines")
    args = parser.parse_args()
    # Processes first: a child's peak RSS counts the parent's memory it was forked from, so the
    # parent must not hold torch and a real ResNet-152 yet.
    result: dict[str, Any] = {"target": TARGET, **processes(max(1, args.repeat // 2))}
    result.update(in_process(args.repeat))
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"module: {TARGET} (ResNet-152, 224x224)")
    print(f"in one process, same module: fvcore {result['fvcore_s']:.3f} s, trace {result['trace_s']:.3f} s, "
          f"trace / fvcore {result['ratio']:.2f} (goal <= 0.50); first calls {result['fvcore_first_s']:.3f} s / "
          f"{result['trace_first_s']:.3f} s")
    print(f"whole processes: summary {result['summary_224_s']:.2f} s vs fvcore script {result['fvcore_process_s']:.2f} s "
          f"({result['process_ratio']:.2f})")
    print(f"peak RSS of summary: {result['summary_224_rss_mb']:.0f} MB at 224, {result['summary_2048_rss_mb']:.0f} MB at 2048 "
          f"(ratio {result['rss_2048_over_224']:.3f}, goal within 5%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
