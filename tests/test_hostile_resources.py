"""Resources, checked before any allocation: ``verify``, ``build`` and ``bench`` estimate their memory
from the plan and refuse, in one line with the estimate and the limit, work above ``--max-memory``;
``bench`` refuses thread counts that crash torch and run times that never end; a ``dot`` that hangs
is stopped.

Each case runs the real CLI in a subprocess (``python -m resnet_inspect``) from a wrapper process,
so its time and its peak memory (``RUSAGE_CHILDREN`` of the wrapper: that one command alone) are
measured, and asserts exit 2, exactly one stderr line under 300 characters, no traceback, nothing
written. Before this, ``verify resnet50:input_size=16384`` grew past 6 GiB in its first minute,
``build resnet18:widths=4096-4096-4096-4096`` reached 15 GiB and a traceback after 84 s, and
``bench --threads 100000`` crashed torch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: A refusal is arithmetic on the plan before torch is imported: well under torch's own 300 MB.
MAX_RSS_MB = 250
#: Start-up of the CLI on a loaded CI machine, with room to spare.
MAX_SECONDS = 30.0

_WRAPPER = """
import json, resource, subprocess, sys, time
argv, timeout = json.loads(sys.argv[1]), float(sys.argv[2])
start = time.perf_counter()
try:
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    rc, out, err = p.returncode, p.stdout, p.stderr
except subprocess.TimeoutExpired as exc:
    rc, out, err = "timeout", str(exc.stdout or ""), str(exc.stderr or "")
print(json.dumps({"rc": rc, "out": out, "err": err, "seconds": time.perf_counter() - start,
                  "rss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


@dataclass(frozen=True)
class Run:
    code: int | str
    out: str
    err: str
    seconds: float
    rss_mb: float


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120) -> Run:
    """``resnet-inspect ARGS`` in a fresh process, with its exit code, output, time and peak RSS."""
    argv = [sys.executable, "-m", "resnet_inspect", *args]
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "120", **(env or {})}
    proc = subprocess.run([sys.executable, "-c", _WRAPPER, json.dumps(argv), str(timeout)], capture_output=True,
                          text=True, cwd=cwd, env=full_env, timeout=timeout + 30)
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    return Run(doc["rc"], doc["out"], doc["err"], doc["seconds"], doc["rss_kb"] / 1024)


def assert_refused(run: Run, folder: Path, *fragments: str) -> str:
    """Exit 2, one ``error:`` line under 300 characters with ``fragments``, no traceback, nothing
    in ``folder``, fast and small."""
    assert run.code == 2, (run.code, run.err[-2000:])
    lines = run.err.splitlines()
    assert len(lines) == 1, run.err
    line = lines[0]
    assert line.startswith("error: ") and len(line) < 300, line
    assert "Traceback" not in run.err + run.out
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    assert sorted(p.name for p in folder.iterdir()) == [], "a refused command left a file behind"
    assert run.seconds < MAX_SECONDS, run.seconds
    assert run.rss_mb < MAX_RSS_MB, run.rss_mb
    return line


@pytest.fixture
def empty(tmp_path: Path) -> Path:
    """An empty working folder: whatever a refused command writes would show up here."""
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


# ---------------------------------------------------------------------------------------- verify


def test_verify_at_16384_pixels_is_refused_with_its_estimate(empty: Path) -> None:
    """ResNet-50's first feature map at 16384 px is 16 GiB: fvcore's real forward cannot fit, so
    the refusal comes first, naming the estimate, the limit and an input size that fits."""
    line = assert_refused(cli("verify", "resnet50:input_size=16384", "-o", "v.json", cwd=empty), empty,
                          "verify resnet50:input_size=16384", "needs about", "GiB", "--max-memory", "try --input-size")
    assert "default: half of available" in line


def test_verify_over_an_explicit_limit(empty: Path) -> None:
    assert_refused(cli("verify", "resnet50", "--input-size", "4096", "--max-memory", "1GiB", cwd=empty), empty,
                   "above the limit (--max-memory 1.00 GiB)", "forward")


def test_verify_within_the_limit_still_runs(empty: Path) -> None:
    """The same limit lets a small check through: the estimate refuses only what does not fit."""
    run = cli("verify", "cifar_resnet20", "--max-memory", "1GiB", "--format", "json", cwd=empty)
    assert run.code == 0, run.err
    assert json.loads(run.out)["ok"] is True


# ---------------------------------------------------------------------------------------- build


def test_build_with_huge_widths_is_refused_up_front(empty: Path) -> None:
    """2.3 G parameters: 8.65 GiB of weights and as much again for the file."""
    assert_refused(cli("build", "resnet18:widths=4096-4096-4096-4096", "-o", "w.pt", "--max-memory", "4GiB", cwd=empty),
                   empty, "build resnet18:widths=4096-4096-4096-4096 (2.32 G params)", "needs about 17.30 GiB",
                   "weights 8.65 GiB", "--max-memory 4.00 GiB")


def test_build_beyond_any_machine_is_refused_by_default(empty: Path) -> None:
    assert_refused(cli("build", "resnet18:widths=65536-65536-65536-65536", "-o", "w.safetensors", cwd=empty), empty,
                   "needs about", "TiB", "default: half of available")


# ---------------------------------------------------------------------------------------- bench


@pytest.mark.parametrize(("args", "fragment"), [
    (["--threads", "100000"], "--threads 100000: give 1 to"),
    (["--threads", "0"], "--threads 0: give 1 to"),
    (["--min-time", "inf"], "--min-time inf"),
    (["--min-time", "nan"], "--min-time nan"),
    (["--min-time", "-1"], "--min-time -1"),
    (["--min-time", "1e9"], "--min-time 1000000000"),
    (["--batch", "1000000000000"], "--batch 1000000000000 must be from 1 to"),
    (["--batch", "0"], "--batch 0 must be from 1 to"),
    (["--batch", "100000"], "bench resnet18 at batch 100,000 needs about"),
    (["--batch", "64", "--backward", "--max-memory", "1GiB"], "saved activations"),
], ids=["threads-huge", "threads-zero", "min-time-inf", "min-time-nan", "min-time-negative", "min-time-huge",
        "batch-absurd", "batch-zero", "batch-over-memory", "backward-over-limit"])
def test_bench_refuses_settings_that_crash_or_never_end(empty: Path, args: list[str], fragment: str) -> None:
    assert_refused(cli("bench", "resnet18", *args, "-o", "b.json", cwd=empty), empty, fragment)


@pytest.mark.parametrize(("value", "fragment"), [
    ("0", "give a size above zero"), ("lots", "is not a size"), ("150%", "at most 100%"), ("0%", "above 0%"),
])
def test_a_bad_max_memory_is_one_line(empty: Path, value: str, fragment: str) -> None:
    assert_refused(cli("verify", "cifar_resnet20", "--max-memory", value, cwd=empty), empty, "--max-memory", fragment)


# ---------------------------------------------------------------------------------------- dot


def _fake_dot(folder: Path, pid_file: Path) -> Path:
    """A ``dot`` that never answers: it starts a child that sleeps and waits for it (a wrapper
    script's shape), writing the child's pid so the test can see it was stopped too."""
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    script = bin_dir / "dot"
    script.write_text(f"#!/bin/sh\nsleep 120 &\necho $! > {pid_file}\nwait\n", encoding="utf-8")
    script.chmod(0o755)
    return bin_dir


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"  # a zombie has stopped
    except FileNotFoundError:
        return True


@pytest.mark.skipif(sys.platform == "win32", reason="a shell script stands in for dot")
def test_a_dot_that_hangs_is_stopped(tmp_path: Path, empty: Path) -> None:
    pid_file = tmp_path / "sleep.pid"
    bin_dir = _fake_dot(tmp_path, pid_file)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "RESNET_INSPECT_DOT_TIMEOUT": "2"}
    run = cli("diagram", "resnet18", "-o", "r18.png", cwd=empty, env=env)
    assert_refused(run, empty, "Graphviz 'dot' did not finish rendering .png within 2 s", "RESNET_INSPECT_DOT_TIMEOUT")
    assert run.seconds < 2 + MAX_SECONDS
    pid = int(pid_file.read_text().strip())
    deadline = time.monotonic() + 10
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _gone(pid), "dot's own child was left running"


def test_a_bad_dot_timeout_is_one_line(tmp_path: Path, empty: Path) -> None:
    bin_dir = _fake_dot(tmp_path, tmp_path / "sleep.pid")
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "RESNET_INSPECT_DOT_TIMEOUT": "soon"}
    assert_refused(cli("diagram", "resnet18", "-o", "r18.svg", cwd=empty, env=env), empty,
                   "RESNET_INSPECT_DOT_TIMEOUT='soon' is not a number of seconds")
