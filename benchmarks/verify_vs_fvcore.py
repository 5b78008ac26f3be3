"""How long ``verify resnet152`` takes next to fvcore's own analysis of the same module.

``verify`` builds the module, counts its parameters per block, runs fvcore's ``FlopCountAnalysis``
(per operator and per module) with forward hooks for the ops fvcore skips, and compares every
number with the analytic engine. The target (issue 3) is at most 1.3x fvcore's own analysis of the
built module, i.e. everything verify adds costs under a third of what fvcore itself costs.

Both are timed in this one process after a warm-up run of each (the first trace in a process pays
for oneDNN and the JIT tracer starting up), and the median of ``--repeat`` runs is reported.

    .venv/bin/python benchmarks/verify_vs_fvcore.py [SPEC] [--repeat N]

This is a benchmark, not a test: it prints numbers and exits 0 unless verification itself fails.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", nargs="?", default="resnet152")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import torch
    from fvcore.nn import FlopCountAnalysis

    from resnet_inspect import parse_spec
    from resnet_inspect.nn.builder import build_model
    from resnet_inspect.nn.verify import verify_spec

    logging.getLogger("fvcore").setLevel(logging.ERROR)
    spec = parse_spec(args.spec)
    model = build_model(spec, seed=0).eval()
    x = torch.zeros(1, spec.in_channels, spec.input_size, spec.input_size)

    def fvcore_only() -> None:
        (FlopCountAnalysis(model, x).unsupported_ops_warnings(False).uncalled_modules_warnings(False)
         .by_module_and_operator())

    def verify() -> None:
        report = verify_spec(spec)
        if not report.ok:
            raise SystemExit("verification failed:\n" + "\n".join(report.failure_lines()))

    fvcore_only()
    verify()  # warm-up of both
    fv_times: list[float] = []
    verify_times: list[float] = []
    for _ in range(args.repeat):  # interleaved, so machine noise hits both alike
        t = time.perf_counter()
        fvcore_only()
        fv_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        verify()
        verify_times.append(time.perf_counter() - t)
    fv, ver = statistics.median(fv_times), statistics.median(verify_times)
    print(f"spec:                       {spec.name} (input {spec.input_size}, torch threads {torch.get_num_threads()})")
    print(f"fvcore FlopCountAnalysis:   {fv:.3f} s (median of {args.repeat})")
    print(f"resnet-inspect verify:      {ver:.3f} s (median of {args.repeat}; build + params + fvcore + hooks + compare)")
    print(f"ratio verify / fvcore:      {ver / fv:.2f} (target <= 1.30)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
