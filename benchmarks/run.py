"""`make bench`: how fast and small `resnet-inspect summary` is, against fvcore and torchinfo counting
the same built model, all measured in this one run on this machine.

Each case runs as a whole process (what a user or a CI job pays), timed by wall clock, with the peak
resident memory of that process from ``os.wait4``. Baselines:
- floor: ``python -c "import typer, rich"`` (any Typer + rich CLI pays this),
- fvcore: import torch, build our module for the same spec (no random init), ``FlopCountAnalysis(...).total()``,
- torchinfo: the same module through ``torchinfo.summary``.
Results go to stdout and to docs/performance.md (``--no-write`` to skip). torchinfo is installed by
`make bench` only (the ``bench`` extra), never by the tests.

Goals (issue 9): summary <= 0.25 s for resnet152; >= 6x faster than fvcore on the same net;
10,000 blocks within 1 s; peak RSS under 60 MB for summary.
Goal (issue 14): ``memory resnet152 --batch 256`` answers as fast as ``summary resnet152`` (at most
1.15x its time, the two run interleaved in this run) and never imports torch.
Goals (shell completion, ``benchmarks/startup_completion.py``): ``summary resnet50`` with completion
on costs at most 1.05x the same run with it off (copies of this tree differing in that one flag, run
in turns), and imports no module that it does not import without completion.
Goals (issue 12, ``benchmarks/trace_vs_fvcore.py``): tracing a user's ResNet-152 takes at most half
of fvcore's ``FlopCountAnalysis`` on the same module in the same process; its peak memory is the
same at input 224 and 2048.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable

CASES = {
    "resnet18": "resnet18",
    "resnet50": "resnet50",
    "resnet152": "resnet152",
    "cifar 1,000 blocks": "cifar_resnet20:layers=334-333-333",
    "cifar 10,000 blocks": "cifar_resnet20:layers=3334-3333-3333",
}

FVCORE = """
import sys, warnings, logging
logging.disable(logging.WARNING); warnings.filterwarnings("ignore")
import torch
from fvcore.nn import FlopCountAnalysis
from resnet_inspect import parse_spec
from resnet_inspect.nn.builder import build_for_counting
spec = parse_spec(sys.argv[1])
model = build_for_counting(spec).eval()
x = torch.zeros(1, spec.in_channels, spec.input_size, spec.input_size)
flops = FlopCountAnalysis(model, x)
flops.unsupported_ops_warnings(False); flops.uncalled_modules_warnings(False)
print(int(flops.total()))
"""

#: ``memory`` against ``summary`` on the same net: the prediction is arithmetic on the plan, no torch.
MEMORY_CMD = ["memory", "resnet152", "--batch", "256", "--format", "json"]
COUNTING_CMD = ["counting", "resnet152", "--format", "json"]
#: ``check --format github`` over budget on three limits: blaming a line recounts the network once
#: per key the config sets (exit 1, which is its success here).
CHECK_CMD = ["check", "benchmarks/deep_net.toml", "--max-params", "26M", "--max-macs", "4G", "--max-activations", "10M",
             "--format", "github"]
SUMMARY_CMD = ["summary", "resnet152", "--format", "json"]
#: A torch-free command (memory, counting) may cost this much more than summary on the same network.
TORCH_FREE_GOAL = 1.15

TORCHINFO = """
import sys, torch
from torchinfo import summary
from resnet_inspect import parse_spec
from resnet_inspect.nn.builder import build_for_counting
spec = parse_spec(sys.argv[1])
model = build_for_counting(spec).eval()
s = summary(model, input_size=(1, spec.in_channels, spec.input_size, spec.input_size), verbose=0, depth=3)
print(s.total_mult_adds)
"""


@dataclass(frozen=True)
class Result:
    seconds: float  # median wall time
    rss_mb: float  # peak resident set of the process
    ok: bool
    note: str = ""


#: Timed processes read and write cached bytecode, as an installed tool does: with
#: PYTHONDONTWRITEBYTECODE set (as on these machines) every run would compile each module again.
BYTECODE_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_once(cmd: list[str], timeout: float, ok_codes: tuple[int, ...] = (0,)) -> tuple[float, float, bool, str]:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT, env=BYTECODE_ENV)
    deadline = t0 + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            os.wait4(proc.pid, 0)
            return timeout, 0.0, False, f"over {timeout:.0f} s"
        time.sleep(0.002)
    elapsed = time.perf_counter() - t0
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    ok = os.waitstatus_to_exitcode(status) in ok_codes
    return elapsed, usage.ru_maxrss / 1024, ok, "" if ok else err.strip().splitlines()[-1][:120] if err.strip() else "failed"


def measure(cmd: list[str], repeat: int, timeout: float) -> Result:
    seconds, mb, ok, note = run_once(cmd, timeout)  # warms the file cache
    if not ok:  # a baseline that fails or times out once is reported as such, not retried
        return Result(seconds, mb, False, note)
    times, rss = [], []
    for _ in range(repeat):
        seconds, mb, ok, note = run_once(cmd, timeout)
        if not ok:
            return Result(seconds, mb, False, note)
        times.append(seconds)
        rss.append(mb)
    return Result(statistics.median(times), max(rss), True)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, torch {torch.__version__}"


def main() -> int:
    parser = argparse.ArgumentParser(description="resnet-inspect summary vs fvcore vs torchinfo")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per case (median)")
    parser.add_argument("--baseline-repeat", type=int, default=1, help="timed runs per fvcore/torchinfo case")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds before a baseline run is abandoned")
    parser.add_argument("--no-write", action="store_true", help="do not rewrite docs/performance.md")
    args = parser.parse_args()

    have_torchinfo = subprocess.run([PY, "-c", "import torchinfo"], capture_output=True).returncode == 0
    floor = measure([PY, "-c", "import typer, rich"], args.repeat, args.timeout)
    print(f"floor (import typer, rich): {floor.seconds:.3f} s, {floor.rss_mb:.0f} MB", flush=True)
    rows = []
    for label, spec in CASES.items():
        ours = measure([PY, "-m", "resnet_inspect", "summary", spec, "--format", "json"], args.repeat, args.timeout)
        fv = measure([PY, "-c", FVCORE, spec], args.baseline_repeat, args.timeout)
        ti = (measure([PY, "-c", TORCHINFO, spec], args.baseline_repeat, args.timeout)
              if have_torchinfo else Result(0, 0, False, "torchinfo not installed"))
        rows.append((label, spec, ours, fv, ti))
        print(f"{label:22s} summary {ours.seconds:6.3f} s {ours.rss_mb:5.0f} MB | "
              f"fvcore {_fmt(fv)} ({_ratio(fv, ours)}) | torchinfo {_fmt(ti)} ({_ratio(ti, ours)})", flush=True)

    goals = _goals(rows, floor)
    free = [_torch_free(cmd, args.repeat, args.timeout) for cmd in (MEMORY_CMD, COUNTING_CMD, CHECK_CMD)]
    for bench in free:
        goals += _torch_free_goals(bench)
    completion = _completion()
    goals += _completion_goals(completion)
    tracing = _tracing()
    goals += _trace_goals(tracing)
    print()
    for line in goals:
        print(line)
    if not args.no_write:
        text = (_markdown(rows, floor, goals, args) + _torch_free_markdown(free) + _completion_markdown(completion)
                + _trace_markdown(tracing))
        (ROOT / "docs" / "performance.md").write_text(text)
        print("\nwrote docs/performance.md")
    return 0


def _fmt(r: Result) -> str:
    return f"{r.seconds:6.2f} s {r.rss_mb:5.0f} MB" if r.ok else f"n/a ({r.note})"


def _ratio(base: Result, ours: Result) -> str:
    return f"{base.seconds / ours.seconds:.1f}x" if base.ok and ours.ok else "-"


def _goals(rows: list[tuple[str, str, Result, Result, Result]], floor: Result) -> list[str]:
    by = {label: (ours, fv) for label, _, ours, fv, _ in rows}
    r152, _ = by["resnet152"]
    deep, _ = by["cifar 10,000 blocks"]
    speedups = [fv.seconds / ours.seconds for _, _, ours, fv, _ in rows if fv.ok]

    def mark(ok: bool) -> str:
        return "met" if ok else "MISSED"

    return [
        f"- summary resnet152: {r152.seconds:.3f} s (goal <= 0.25 s): {mark(r152.seconds <= 0.25)}",
        f"- summary resnet152 / floor: {r152.seconds / floor.seconds:.2f}x (goal <= 2.5x): {mark(r152.seconds / floor.seconds <= 2.5)}",
        f"- fvcore / summary, smallest over the cases fvcore finished: {min(speedups):.1f}x (goal >= 6x): {mark(min(speedups) >= 6)}"
        if speedups else "- fvcore did not finish any case",
        f"- summary of 10,000 blocks: {deep.seconds:.3f} s (goal <= 1 s): {mark(deep.seconds <= 1.0)}",
        f"- peak RSS of summary, resnet152: {r152.rss_mb:.0f} MB; largest over all cases: "
        f"{max(ours.rss_mb for _, _, ours, _, _ in rows):.0f} MB (goal < 60 MB): "
        f"{mark(max(ours.rss_mb for _, _, ours, _, _ in rows) < 60)}",
    ]


def _markdown(rows: list[tuple[str, str, Result, Result, Result]], floor: Result, goals: list[str], args: argparse.Namespace) -> str:
    lines = [
        "# Performance",
        "",
        "<!-- written by `make bench` (benchmarks/run.py); edit the script, not this file -->",
        "",
        f"Measured {dt.date.today().isoformat()} on {machine()}.",
        f"Command: `make bench` (`python benchmarks/run.py --repeat {args.repeat} --baseline-repeat {args.baseline_repeat}`).",
        "Every figure is a whole process, wall clock (median of the runs) and its peak resident memory;",
        "fvcore and torchinfo count the module our builder makes for the same spec, in the same run.",
        "",
        f"Floor (`python -c \"import typer, rich\"`): {floor.seconds:.3f} s, {floor.rss_mb:.0f} MB.",
        "",
        "| network | SPEC | summary | summary RSS | fvcore | fvcore / summary | torchinfo | torchinfo / summary |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, spec, ours, fv, ti in rows:
        lines.append(
            f"| {label} | `{spec}` | {ours.seconds:.3f} s | {ours.rss_mb:.0f} MB | "
            f"{_cell(fv)} | {_ratio(fv, ours)} | {_cell(ti)} | {_ratio(ti, ours)} |"
        )
    lines += ["", "## Goals", "", *goals, "",
              "Why it is fast: the analytic engine never imports torch; a network is laid out and counted",
              "once per distinct block (ResNet-152's 35 identical `layer3` blocks are counted once), and",
              "JSON is encoded one block at a time. `benchmarks/startup.py` compares start-up with the floor and with `import torch`;",
              "`benchmarks/verify_vs_fvcore.py` times `verify` against fvcore's own analysis.", ""]
    return "\n".join(lines)


@dataclass(frozen=True)
class TorchFreeBench:
    """A torch-free command against ``summary resnet152``, timed in the same run."""

    cmd: list[str]
    summary: Result
    other: Result
    imports_torch: bool | None  # None: the command failed, so its imports were not read

    @property
    def label(self) -> str:
        return " ".join(a for a in self.cmd if a not in ("--format", "json"))

    @property
    def ratio(self) -> float | None:
        ok = self.summary.ok and self.other.ok
        return self.other.seconds / self.summary.seconds if ok else None


def _torch_free(cmd: list[str], repeat: int, timeout: float) -> TorchFreeBench:
    """``cmd`` and ``summary resnet152``, each a whole process, run in turns (one of each per round)
    so both see the same machine; and whether ``cmd`` imports torch."""
    summary, other = [PY, "-m", "resnet_inspect", *SUMMARY_CMD], [PY, "-m", "resnet_inspect", *cmd]
    runs: dict[str, list[tuple[float, float]]] = {"summary": [], "other": []}
    failed: dict[str, Result] = {}
    for round_ in range(repeat + 1):  # the first round warms the file cache
        for name, argv in (("summary", summary), ("other", other)):
            if name in failed:
                continue
            seconds, mb, ok, note = run_once(argv, timeout, (0, 1) if name == "other" and cmd is CHECK_CMD else (0,))
            if not ok:
                failed[name] = Result(seconds, mb, False, note)
            elif round_:
                runs[name].append((seconds, mb))

    def result(name: str) -> Result:
        if name in failed:
            return failed[name]
        return Result(statistics.median(t for t, _ in runs[name]), max(mb for _, mb in runs[name]), True)

    imports_torch = None
    if "other" not in failed:
        proc = subprocess.run([PY, "-X", "importtime", "-m", "resnet_inspect", *cmd], cwd=ROOT,
                              capture_output=True, text=True, timeout=timeout)
        names = [ln.rsplit("|", 1)[-1].strip() for ln in proc.stderr.splitlines() if ln.startswith("import time:")]
        imports_torch = any(n == "torch" or n.startswith("torch.") for n in names)
    bench = TorchFreeBench(cmd, result("summary"), result("other"), imports_torch)
    ratio = f"{bench.ratio:.2f}x" if bench.ratio is not None else "-"
    print(f"{bench.label}: {_fmt(bench.other)} vs summary resnet152 {_fmt(bench.summary)} "
          f"({ratio}); imports torch: {imports_torch}", flush=True)
    return bench


def _torch_free_goals(m: TorchFreeBench) -> list[str]:
    if m.ratio is None:
        return [f"- {m.label} did not run: {m.other.note or m.summary.note}"]
    name = m.cmd[0]
    return [
        f"- {m.label} / summary resnet152, same run: {m.ratio:.2f}x (goal <= {TORCH_FREE_GOAL}x): "
        f"{'met' if m.ratio <= TORCH_FREE_GOAL else 'MISSED'}",
        f"- {name} imports torch: {'yes' if m.imports_torch else 'no'} (goal: no): {'MISSED' if m.imports_torch else 'met'}",
    ]


def _torch_free_markdown(benches: list[TorchFreeBench]) -> str:
    done = [m for m in benches if m.ratio is not None]
    if not done:
        return ""
    lines = [
        "## Training memory, the peer tools' counts and CI annotations, without torch", "",
        "`memory` predicts what a training step keeps for backward, and `counting` reproduces what fvcore, ptflops,",
        "thop, torchinfo and FlopCounterMode print, both by arithmetic on the same plan `summary` counts, so they",
        "cost what `summary` costs. `check --format github` over budget counts the network again once per key its",
        "config sets, to find the line to blame. Each ran in turns with `summary resnet152` in this run (medians):", "",
        "| command | time | `summary resnet152` | ratio | imports torch |", "|---|---:|---:|---:|---|",
    ]
    lines += [f"| `{' '.join(m.cmd)}` | {m.other.seconds:.3f} s | {m.summary.seconds:.3f} s | {m.ratio:.2f}x | "
              f"{'yes' if m.imports_torch else 'no'} |" for m in done]
    lines += ["", "`memory --measure` is what builds the module and imports torch.", ""]
    return "\n".join(lines)


def _completion() -> dict[str, Any] | None:
    """benchmarks/startup_completion.py with this interpreter's typer, in a process of its own."""
    import json

    proc = subprocess.run([PY, str(ROOT / "benchmarks" / "startup_completion.py"), "--json", "--repeat", "15"],
                          cwd=ROOT, capture_output=True, text=True)
    if not proc.stdout.strip():
        print(f"completion benchmark failed: {proc.stderr.strip().splitlines()[-1:] or proc.returncode}")
        return None
    result: dict[str, Any] = json.loads(proc.stdout)[0]
    print(f"summary resnet50 with shell completion {result['on_s']:.3f} s, without {result['off_s']:.3f} s "
          f"({result['ratio']:.3f}x); modules imported only with completion: {result['imported_only_with_completion'] or 'none'}",
          flush=True)
    return result


def _completion_goals(c: dict[str, Any] | None) -> list[str]:
    if c is None:
        return ["- completion benchmark did not run"]
    extra = c["imported_only_with_completion"]
    return [
        f"- summary resnet50 with completion / without, same run: {c['ratio']:.3f}x (goal <= 1.05x): "
        f"{'met' if c['ratio'] <= 1.05 else 'MISSED'}",
        f"- modules imported only with completion: {', '.join(extra) or 'none'} (goal: none): {'MISSED' if extra else 'met'}",
    ]


def _completion_markdown(c: dict[str, Any] | None) -> str:
    if c is None:
        return ""
    return "\n".join([
        "## Shell completion", "",
        "`benchmarks/startup_completion.py`: `summary resnet50` from two copies of this tree, one with typer's completion",
        "options (as shipped), one without, run in turns (medians); completion requests as the bash script sends them.", "",
        "| measure | with completion | without |", "|---|---:|---:|",
        f"| `summary resnet50`, whole process | {c['on_s']:.3f} s | {c['off_s']:.3f} s |",
        f"| typer building the group, one process | {c['build_on_ms']:.2f} ms | {c['build_off_ms']:.2f} ms |", "",
        f"Completing a command name (`resnet-inspect s<TAB>`): {c['command_name_s']:.3f} s, importing "
        f"{', '.join(c['command_name_imports']) or 'no command module'}; completing `summary resnet50 --format <TAB>`: "
        f"{c['option_value_s']:.3f} s, importing {', '.join(c['option_value_imports']) or 'no command module'}.", "",
    ])


def _tracing() -> dict[str, float] | None:
    """benchmarks/trace_vs_fvcore.py, in a process of its own (it imports torch and fvcore)."""
    import json

    proc = subprocess.run([PY, str(ROOT / "benchmarks" / "trace_vs_fvcore.py"), "--json", "--repeat", "3"],
                          cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"tracing benchmark failed: {proc.stderr.strip().splitlines()[-1:] or proc.returncode}")
        return None
    result: dict[str, float] = json.loads(proc.stdout)
    print(f"trace resnet152 (same module, one process): {result['trace_s']:.3f} s vs fvcore {result['fvcore_s']:.3f} s "
          f"({result['ratio']:.2f}); peak RSS {result['summary_224_rss_mb']:.0f} MB at 224, "
          f"{result['summary_2048_rss_mb']:.0f} MB at 2048", flush=True)
    return result


def _trace_goals(t: dict[str, float] | None) -> list[str]:
    if t is None:
        return ["- tracing benchmark did not run"]
    ok_time, ok_mem = t["ratio"] <= 0.5, abs(t["rss_2048_over_224"] - 1) <= 0.05
    return [
        f"- trace resnet152 / fvcore on the same module: {t['ratio']:.2f} (goal <= 0.50): {'met' if ok_time else 'MISSED'}",
        f"- summary of a traced module, peak RSS at 2048 / at 224: {t['rss_2048_over_224']:.3f} (goal 1 within 5%): "
        f"{'met' if ok_mem else 'MISSED'}",
    ]


def _trace_markdown(t: dict[str, float] | None) -> str:
    if t is None:
        return ""
    return "\n".join([
        "## Tracing your own module", "",
        "`benchmarks/trace_vs_fvcore.py`: the torchvision-style ResNet-152 of `tests/usernets/torchvision_style.py`,",
        "built once with real weights; fvcore's `FlopCountAnalysis` (per module and operator) and resnet-inspect's",
        "trace (one pass on the meta device, units found and counted) analyse that same module in one process.", "",
        "| measure | resnet-inspect | fvcore | ratio |", "|---|---:|---:|---:|",
        f"| same module, one process (median of 3) | {t['trace_s']:.3f} s | {t['fvcore_s']:.3f} s | {t['ratio']:.2f} |",
        f"| first call in a fresh process | {t['trace_first_s']:.3f} s | {t['fvcore_first_s']:.3f} s | "
        f"{t['trace_first_s'] / t['fvcore_first_s']:.2f} |",
        f"| whole process (`summary FILE.py:resnet152` vs a fvcore script) | {t['summary_224_s']:.2f} s | "
        f"{t['fvcore_process_s']:.2f} s | {t['process_ratio']:.2f} |", "",
        f"Peak resident memory of `summary FILE.py:resnet152`: {t['summary_224_rss_mb']:.0f} MB at input 224, "
        f"{t['summary_2048_rss_mb']:.0f} MB at input 2048 (the pass runs on the meta device: no activation is allocated).",
        "Both whole processes pay for `import torch`, which is most of their time.", "",
    ])


def _cell(r: Result) -> str:
    return f"{r.seconds:.2f} s, {r.rss_mb:.0f} MB" if r.ok else f"n/a ({r.note})"


if __name__ == "__main__":
    raise SystemExit(main())
