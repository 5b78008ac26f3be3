"""``resnet-inspect bench``: measured latency beside MACs."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from .common import (
    Device,
    Format,
    FormatOpt,
    InChannelsOpt,
    InputSizeOpt,
    NumClassesOpt,
    OutputOpt,
    ShortcutOpt,
    SpecArg,
    StrideInOpt,
    emit,
    guard_outputs,
    input_files,
    load_analysis,
    load_spec,
)
from .model import MaxMemoryOpt
from .progress import Silent, progress

if TYPE_CHECKING:
    from ..benchdata import BenchReport, Peak
    from ..counts import Analysis
    from ..spec import ResNetSpec


DeviceOpt = Annotated[Device, typer.Option("--device", case_sensitive=False, help="Where to run: cpu or cuda.")]
BatchOpt = Annotated[int, typer.Option("--batch", help="Batch size (1 to 1,048,576; its memory is estimated first).")]
ShortcutOptionsOpt = Annotated[Optional[str], typer.Option(
    "--shortcut-options", help="Also time the whole network under these shortcut options, e.g. A,B,C.")]
BackwardOpt = Annotated[bool, typer.Option("--backward", help="Also time forward + backward (training step without optimizer).")]
BlocksOpt = Annotated[bool, typer.Option("--blocks/--no-blocks", help="Time every block and its shortcut module.")]
MinTimeOpt = Annotated[float, typer.Option(
    "--min-time", help="Least seconds of timed runs per network measurement (at least 7 runs; 0.01 to 3600).")]
ThreadsOpt = Annotated[Optional[int], typer.Option(
    "--threads", help="torch CPU threads (default: torch's; at most four per CPU core).")]
BenchPeakOpt = Annotated[Optional[str], typer.Option(
    "--device-peak", metavar="FLOPS,BANDWIDTH",
    help="Peak FLOP/s and memory bandwidth behind the roofline estimates, e.g. 312T,2.0TB/s (default: measured at "
         "the start with a matmul and a copy; on cuda, a named GPU's fp32 datasheet figures when it is one).")]


@dataclasses.dataclass(frozen=True)
class _Settings:
    """How every measurement of one ``bench`` runs: the options, checked, that ``run_bench`` and
    ``run_bench_module`` both take."""

    device: str
    batch: int
    backward: bool
    blocks: bool
    min_run_time: float
    threads: int | None
    peak: Peak | None


def bench(
    spec: SpecArg,
    device: DeviceOpt = Device.cpu,
    batch: BatchOpt = 1,
    shortcut_options: ShortcutOptionsOpt = None,
    backward: BackwardOpt = False,
    blocks: BlocksOpt = True,
    min_time: MinTimeOpt = 0.5,
    threads: ThreadsOpt = None,
    device_peak: BenchPeakOpt = None,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    shortcut: ShortcutOpt = None,
    stride_in: StrideInOpt = None,
    input_size: InputSizeOpt = None,
    num_classes: NumClassesOpt = None,
    in_channels: InChannelsOpt = None,
    max_memory: MaxMemoryOpt = None,
) -> None:
    """Measure forward latency of the built model, of every block and of every shortcut module.

    FLOPs are not time: this puts milliseconds beside MACs and beside a roofline estimate from the
    device's peak FLOP/s and bandwidth (measured first unless --device-peak gives them), and shows
    what projection shortcuts cost in time against identity. Needs torch; timings vary between
    machines and runs. Your own module (FILE.py:CALLABLE) is built for real and timed as written:
    this runs your code. The memory needed (two models, the forward at --batch, with --backward
    the gradients and saved activations) is estimated first: above --max-memory, bench exits 2
    before allocating anything.

    Examples:

      resnet-inspect bench resnet50 --shortcut-options A,B,C

      resnet-inspect bench cifar_resnet56 --batch 32 --backward --no-blocks

      resnet-inspect bench resnet18 --device cuda --format json -o r18-gpu.json

      resnet-inspect bench resnet18 --device-peak 1.5T,80GB/s

      resnet-inspect bench models.py:ResNet18 --input-size 32 --batch 64
    """
    guard_outputs(input_files(spec), output=output)
    from ..benchdata import check_settings, parse_peak
    from ..report import bench as report
    from ..resources import memory_limit
    from ..sources import is_module_spec

    check_settings(batch, min_time, threads)
    peak = parse_peak(device_peak)
    limit = memory_limit(max_memory)
    fits = functools.partial(_require_memory, limit=limit, batch=batch, backward=backward, probe=peak is None)
    run = _Settings(device.value, batch, backward, blocks, min_time, threads, peak)
    flags = (shortcut, stride_in, input_size, num_classes, in_channels)
    measure = _bench_module if is_module_spec(spec) else _bench_spec
    result = measure(spec, flags, shortcut_options, fits, run)
    emit(fmt, output, data=lambda: report.to_json(result), docs=lambda: report.tables(result))


#: The spec overrides of ``bench``: --shortcut, --stride-in, --input-size, --num-classes, --in-channels.
Flags = tuple[Optional[str], Optional[str], Optional[int], Optional[int], Optional[int]]


def _bench_module(spec: str, flags: Flags, shortcut_options: str | None, fits: Callable[..., None],
                  run: _Settings) -> BenchReport:
    """``bench FILE.py:CALLABLE``: the user's module, traced for its memory, then built and timed as written."""
    from ..nn.bench import run_bench_module

    if shortcut_options:
        from ..errors import UsageError

        raise UsageError("--shortcut-options rebuilds a spec under each option; your module is timed as written: drop it")
    analysis = load_analysis(spec, *flags)
    fits((analysis,), models=1)
    with progress(f"bench {analysis.name}", total=(len(analysis.blocks) if run.blocks else 0) + 1) as shown:
        say = _timing(shown, run.threads)
        return run_bench_module(spec, analysis, run.device, run.batch, run.backward, run.blocks,
                                min_run_time=run.min_run_time, progress=say, peak=run.peak)


def _bench_spec(spec: str, flags: Flags, shortcut_options: str | None, fits: Callable[..., None],
                run: _Settings) -> BenchReport:
    """``bench SPEC``: the spec's module, and the whole network under each of ``--shortcut-options``."""
    from ..benchdata import parse_options
    from ..counts import analyze
    from ..nn.bench import run_bench

    resolved = load_spec(spec, *flags, command="bench")
    options = parse_options(shortcut_options, resolved)
    fits(tuple(analyze(dataclasses.replace(resolved, shortcut=opt)) for opt in {*options, resolved.shortcut}), models=2)
    with progress(f"bench {resolved.name}", total=_phases(options, resolved, run.blocks)) as shown:
        say = _timing(shown, run.threads)
        return run_bench(resolved, run.device, run.batch, options, run.backward, run.blocks,
                         min_run_time=run.min_run_time, progress=say, peak=run.peak)


def _require_memory(analyses: tuple[Analysis, ...], *, limit: tuple[int, str], batch: int, backward: bool,
                    probe: bool, models: int) -> None:
    """Refuse, before torch is imported, a bench whose largest network (among the shortcut options
    timed) would not fit ``limit`` at ``batch``: an absurd --batch is a one-line error, not a swap storm."""
    from ..resources import bench_estimate, require, short_name

    largest = max(analyses, key=lambda a: a.total.params)
    what = f"bench {short_name(largest.name)} at batch {batch:,}" + (" with --backward" if backward else "")
    require(bench_estimate(largest, what, batch, backward, probe, models), limit, "try a smaller --batch or --input-size")


def _phases(options: tuple[str, ...], resolved: ResNetSpec, blocks: bool) -> int:
    """How many phases ``run_bench`` announces: each option, the spec's own if not among them, each block."""
    return len(options) + (resolved.shortcut not in options) + (resolved.num_blocks if blocks else 0)


def _timing(shown: Silent, threads: int | None) -> Callable[[str], None]:
    """Load torch under the spinner, set its threads, and return the bench's progress callback:
    each phase it announces ("block layer2.0") is shown with the count of phases done before it."""
    shown.load("torch")
    if threads:
        import torch

        torch.set_num_threads(threads)
    shown.update("preparing…")
    done = -1

    def say(message: str) -> None:
        nonlocal done
        done += 1
        shown.update(f"timing {message}…", completed=done)

    return say


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)
