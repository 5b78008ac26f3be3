"""What shell completion costs a run that does not complete: ``summary resnet50`` as a whole
process with completion on (``add_completion=True``, as shipped) and off, measured in this one run.

typer adds ``--install-completion`` and ``--show-completion`` to the group on every run; ``import
typer`` already imports its completion modules and shellingham (typer 0.28 and 0.29 alike), so
the two options should cost a fraction of a millisecond and no import. Both sides are copies of
the same working tree under .bench/ (``completion-on``, ``completion-off``), the second with the one
``add_completion=True`` in cli/common.py turned off: nothing but the flag differs, and nothing is
stashed or checked out. Runs alternate (on, off, off, on, ...) so both see the same machine.

Goals: on / off at most 1.05x (median of the runs); no module imported with completion on that is
not imported with it off. Also printed, without a goal: the time typer takes to build the group in
one process, with and without the two options (the whole difference, free of process noise), and
what completing a command name (``resnet-inspect s<TAB>``) and an option's value (``summary
resnet50 --format <TAB>``) cost, and which command modules each imports (the first: none).

Run: ``.venv/bin/python benchmarks/startup_completion.py [--repeat N] [--typer 0.29.2] [--json]``
(``--typer`` also measures in the venvs of benchmarks/startup_typer.py, made under .bench/).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL = 1.05
FLAG_ON, FLAG_OFF = "add_completion=True,", "add_completion=False,"
SUMMARY = ["-m", "resnet_inspect", "summary", "resnet50"]
#: The CLI run as its console script runs it, printing the names in sys.modules at exit (``-X importtime``
#: does not see ``importlib.import_module``, which loads the command modules); argv after it as usual.
CLI = ["-c", "import atexit, sys; atexit.register(lambda: sys.stderr.write('\\nMODULES ' + ' '.join(sorted(sys.modules)) + '\\n')); "
              "sys.argv[0] = 'resnet-inspect'; from resnet_inspect.cli import main; main()"]
#: Completion requests, as typer's bash script sends them on <TAB>.
COMMAND_NAME = {"_RESNET_INSPECT_COMPLETE": "complete_bash", "COMP_WORDS": "resnet-inspect s", "COMP_CWORD": "1"}
OPTION_VALUE = {"_RESNET_INSPECT_COMPLETE": "complete_bash", "COMP_WORDS": "resnet-inspect summary resnet50 --format ",
                "COMP_CWORD": "4"}
#: Bytecode is written (round 0 writes it) and read, as for an installed package.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
SHARED = {"resnet_inspect.cli", "resnet_inspect.cli.common", "resnet_inspect.cli.group", "resnet_inspect.cli.coerce"}


def trees() -> dict[str, Path]:
    """Fresh copies of the package under .bench/: ``on`` as it is, ``off`` with the flag turned off."""
    made = {}
    for side in ("on", "off"):
        home = ROOT / ".bench" / f"completion-{side}"
        shutil.rmtree(home, ignore_errors=True)
        shutil.copytree(ROOT / "resnet_inspect", home / "resnet_inspect", ignore=shutil.ignore_patterns("__pycache__"))
        common = home / "resnet_inspect" / "cli" / "common.py"
        text = common.read_text()
        if text.count(FLAG_ON) != 1:
            raise SystemExit(f"expected one {FLAG_ON!r} in resnet_inspect/cli/common.py, found {text.count(FLAG_ON)}")
        if side == "off":
            common.write_text(text.replace(FLAG_ON, FLAG_OFF))
        made[side] = home
    return made


def run(py: Path, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, str]:
    """Seconds of one whole process and its stderr; ``cwd`` decides which copy ``resnet_inspect`` is."""
    t0 = time.perf_counter()
    done = subprocess.run([str(py), *args], cwd=cwd, capture_output=True, text=True, env={**ENV, **(env or {})})
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{args} in {cwd} failed: {done.stderr[-400:]}")
    return elapsed, done.stderr


def modules(py: Path, cwd: Path, args: list[str], env: dict[str, str] | None = None) -> set[str]:
    """The modules loaded by the end of a CLI run."""
    _, err = run(py, [*CLI, *args], cwd, env)
    return set(next(ln for ln in err.splitlines() if ln.startswith("MODULES ")).split()[1:])


def command_modules(py: Path, cwd: Path, env: dict[str, str]) -> list[str]:
    """The command modules (``resnet_inspect.cli.summary`` ...) a completion request imports."""
    return sorted(n for n in modules(py, cwd, [], env) if n.startswith("resnet_inspect.cli.") and n not in SHARED)


#: In one process: the median time typer takes to build the group from the app (what each run does once), in ms.
BUILD = ["-c", "import statistics, time, typer.main; from resnet_inspect.cli import app\n"
               "def once():\n t = time.perf_counter(); typer.main.get_command(app); return time.perf_counter() - t\n"
               "once(); print(statistics.median(once() for _ in range(300)) * 1000)"]


def build_ms(py: Path, cwd: Path) -> float:
    out = subprocess.run([str(py), *BUILD], cwd=cwd, capture_output=True, text=True, check=True, env=ENV)
    return float(out.stdout)


@dataclass(frozen=True)
class Completion:
    """One interpreter's results (seconds are medians of whole processes)."""

    typer: str
    on_s: float  # summary resnet50, completion on
    off_s: float  # the same, completion off
    build_on_ms: float  # typer building the group in one process, completion on
    build_off_ms: float
    command_name_s: float  # completing ``resnet-inspect s``
    option_value_s: float  # completing ``summary resnet50 --format ``
    imported_only_with_completion: list[str]
    command_name_imports: list[str]
    option_value_imports: list[str]

    @property
    def ratio(self) -> float:
        return self.on_s / self.off_s

    @property
    def met(self) -> bool:
        return self.ratio <= GOAL and not self.imported_only_with_completion

    def lines(self) -> list[str]:
        return [
            f"typer {self.typer}: summary resnet50 with completion {self.on_s:.3f} s, without {self.off_s:.3f} s: "
            f"{self.ratio:.3f}x (goal <= {GOAL}x) {'met' if self.ratio <= GOAL else 'MISSED'}",
            f"  typer building the group, in one process: {self.build_on_ms:.2f} ms with completion, {self.build_off_ms:.2f} ms without",
            f"  modules imported only with completion: {', '.join(self.imported_only_with_completion) or 'none'} (goal: none)",
            f"  completing a command name: {self.command_name_s:.3f} s, command modules imported: "
            f"{', '.join(self.command_name_imports) or 'none'}",
            f"  completing --format's value: {self.option_value_s:.3f} s, command modules imported: "
            f"{', '.join(self.option_value_imports) or 'none'}",
        ]


def measure(py: Path, homes: dict[str, Path], repeat: int) -> Completion:
    runs: dict[str, list[float]] = {"on": [], "off": [], "command_name": [], "option_value": []}
    for i in range(repeat + 1):  # round 0 warms the file cache and writes the bytecode of both copies
        for side in (("on", "off") if i % 2 else ("off", "on")):
            t, _ = run(py, SUMMARY, homes[side])
            if i:
                runs[side].append(t)
        for name, env in (("command_name", COMMAND_NAME), ("option_value", OPTION_VALUE)):
            t, _ = run(py, CLI, homes["on"], env)
            if i:
                runs[name].append(t)
    med = {k: statistics.median(v) for k, v in runs.items()}
    plain = ["summary", "resnet50"]
    return Completion(
        typer=typer_version(py), on_s=med["on"], off_s=med["off"],
        build_on_ms=build_ms(py, homes["on"]), build_off_ms=build_ms(py, homes["off"]),
        command_name_s=med["command_name"], option_value_s=med["option_value"],
        imported_only_with_completion=sorted(modules(py, homes["on"], plain) - modules(py, homes["off"], plain)),
        command_name_imports=command_modules(py, homes["on"], COMMAND_NAME),
        option_value_imports=command_modules(py, homes["on"], OPTION_VALUE),
    )


def typer_version(py: Path) -> str:
    out = subprocess.run([str(py), "-c", "import importlib.metadata as m; print(m.version('typer'))"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="timed runs of each side (median)")
    parser.add_argument("--typer", nargs="*", default=[], help="also measure with these typer versions (benchmarks/startup_typer.py venvs)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of lines")
    args = parser.parse_args()
    pythons = [Path(sys.executable)]
    if args.typer:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from startup_typer import venv_for

        pythons += [venv_for(v) for v in args.typer]
    homes = trees()
    results = [measure(py, homes, args.repeat) for py in pythons]
    if args.json:
        print(json.dumps([{**asdict(r), "ratio": r.ratio, "met": r.met} for r in results]))
    else:
        for r in results:
            print("\n".join(r.lines()))
        print(f"repeat {args.repeat}, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    return 0 if all(r.met for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
