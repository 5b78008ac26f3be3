"""Measured latency of the built model, per network, per block and per shortcut module: the torch
side of ``bench`` (what it reports and the checks of its settings, torch-free, are ``benchdata``).

FLOPs are not time: a projection shortcut's 1x1 conv is cheap in MACs but is a separate kernel
launch and memory pass. This module times the real module with ``torch.utils.benchmark.Timer``:
``warmup`` untimed calls, then timed runs (``Timer.timeit``), each repeating the call as often as
makes it last about 10 ms (sized from one timed call), until there are at least ``MIN_RUNS`` runs
and ``min_run_time`` seconds of them (a quarter of that per block and shortcut module), at most
``MAX_RUNS``; a timing is the median time per call over the runs and their interquartile range.
Every timing is paired with the analytic MACs and with a roofline estimate
(``resnet_inspect.traffic``) from the device's peak FLOP/s and bandwidth, measured at the start
unless given, so the three can be read side by side. torch is imported inside the functions.
"""

from __future__ import annotations

import dataclasses
import functools
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..benchdata import BenchReport, BlockTiming, OptionTiming, Peak, Timing, check_run
from ..counts import Analysis, analyze
from ..errors import UsageError
from ..spec import ResNetSpec
from ..traffic import DEVICES, match_cuda_device

Progress = Callable[[str], None]

#: Fewest and most timed runs behind a median (each run may repeat the call several times).
MIN_RUNS = 7
MAX_RUNS = 1000


def _torch() -> Any:
    try:
        import torch
    except ModuleNotFoundError:
        from ..errors import MissingDependency

        raise MissingDependency("bench needs torch; install resnet-inspect with its dependencies") from None
    return torch


def resolve_device(device: str) -> Any:
    torch = _torch()
    if device == "cpu":
        return torch.device("cpu")
    if device == "cuda":
        if not torch.cuda.is_available():
            build = f"torch {torch.__version__}" + ("" if torch.version.cuda else ", a CPU-only build")
            raise UsageError(f"--device cuda: no CUDA device is available here ({build}); use --device cpu")
        return torch.device("cuda")
    raise UsageError(f"--device {device!r} is not supported; use cpu or cuda")


#: Seconds of repeats behind each of the two peak measurements (after sizing and a warm-up).
PEAK_SECONDS = 0.2
#: Bytes copied to measure bandwidth: well above a CPU's last-level cache or a GPU's L2.
COPY_BYTES = {"cpu": 128 * 2**20, "cuda": 512 * 2**20}
#: The largest side of the peak matmul (a 4096 fp32 product is 137 GFLOP: 20 ms at 7 TFLOP/s).
MATMUL_LARGEST = {"cpu": 4096, "cuda": 8192}


def device_peak(dev: Any, given: Peak | None = None, seconds: float = PEAK_SECONDS) -> Peak:
    """The peak behind the estimates: ``given`` (``--device-peak``), else the named device that
    ``torch.cuda.get_device_name`` matches (fp32 datasheet figures), else measured here."""
    if given is not None:
        return given
    torch = _torch()
    if dev.type == "cuda":
        cuda_name = torch.cuda.get_device_name(dev)
        named = match_cuda_device(cuda_name)
        if named is not None:
            d = DEVICES[named]
            return Peak(d.fp32, d.bandwidth, named, f"{cuda_name}: {d.source}")
    return measure_peak(dev, seconds)


def measure_peak(dev: Any, seconds: float = PEAK_SECONDS) -> Peak:
    """Peak fp32 FLOP/s from a square matmul (from 1024, its size doubled until one product takes
    20 ms, at most ``MATMUL_LARGEST``) and bandwidth from copying ``COPY_BYTES`` (read + write): the
    best of repeated runs over ``seconds`` each, so about a second in all. A small matmul would
    measure thread wake-ups and call overhead rather than the peak."""
    torch = _torch()
    from ..units import human, human_bytes

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def once(fn: Callable[[], Any]) -> float:
        start = time.perf_counter()
        fn()
        sync()
        return time.perf_counter() - start

    def best(fn: Callable[[], Any], first: float, budget: float) -> tuple[float, int]:
        """The least of ``first`` and repeated timings of ``fn`` (at least 3 in all) over ``budget`` seconds."""
        times = [first]
        deadline = time.perf_counter() + budget
        while (len(times) < 3 or time.perf_counter() < deadline) and len(times) < 100:
            times.append(once(fn))
        return min(times), len(times)

    with torch.inference_mode():
        n, largest = 1024, MATMUL_LARGEST.get(dev.type, 4096)
        while True:  # a warm-up and one timed product per size, until one takes 20 ms
            a = torch.randn(n, n, device=dev)
            b = torch.randn(n, n, device=dev)
            product = functools.partial(torch.mm, a, b)
            once(product)
            first = once(product)
            if first >= 0.02 or n >= largest:
                break
            n *= 2
        t_mm, runs_mm = best(product, first, seconds)
        del a, b, product
        numel = COPY_BYTES.get(dev.type, COPY_BYTES["cpu"]) // 4
        src = torch.ones(numel, device=dev)
        dst = torch.empty_like(src)
        copy = functools.partial(dst.copy_, src)
        once(copy)
        t_copy, runs_copy = best(copy, once(copy), seconds)
        del src, dst, copy
    nbytes = numel * 4
    flops = 2 * n**3 / t_mm
    bandwidth = 2 * nbytes / t_copy
    detail = (f"measured here: fp32 matmul {n}x{n}, best of {runs_mm}: {human(flops)}FLOP/s; "
              f"copy of {human_bytes(nbytes)} (read + write), best of {runs_copy}: {human(bandwidth)}B/s")
    return Peak(flops, bandwidth, "measured", detail)


def _measure(fn: Callable[[], Any], device: Any, min_run_time: float, warmup: int) -> Timing:
    torch = _torch()
    from torch.utils import benchmark

    for _ in range(warmup):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    timer = benchmark.Timer(stmt="fn()", globals={"fn": fn})
    # Each timed run repeats the call until it lasts ~10 ms (timer resolution), and there are at
    # least MIN_RUNS runs and min_run_time seconds of them: a median and a spread need several
    # runs even for a 200 ms network, which a time budget alone would give one or two.
    once = timer.timeit(1).median
    number = max(1, int(0.01 / once)) if once > 0 else 1000
    per_call: list[float] = []
    deadline = time.perf_counter() + min_run_time
    while (len(per_call) < MIN_RUNS or time.perf_counter() < deadline) and len(per_call) < MAX_RUNS:
        per_call.append(timer.timeit(number).median)
    q1, _, q3 = statistics.quantiles(per_call, n=4, method="inclusive")
    return Timing(statistics.median(per_call) * 1e3, (q3 - q1) * 1e3, len(per_call))


def run_bench(
    spec: ResNetSpec,
    device: str = "cpu",
    batch: int = 1,
    options: Sequence[str] | None = None,
    backward: bool = False,
    blocks: bool = True,
    min_run_time: float = 0.2,
    warmup: int = 3,
    seed: int = 0,
    progress: Progress | None = None,
    peak: Peak | None = None,
) -> BenchReport:
    """Time ``spec``'s module (eval mode, no grad unless ``backward``), each block, each shortcut
    module, and the whole network under each shortcut option in ``options``. The device's peak
    behind the roofline estimates is ``peak`` (``--device-peak``), or found first (``device_peak``)."""
    torch = _torch()
    from .builder import build_model

    check_run(batch, min_run_time)
    dev = resolve_device(device)
    say = progress or (lambda _msg: None)
    options = tuple(options or (spec.shortcut,))
    analyses = {opt: analyze(dataclasses.replace(spec, shortcut=opt)) for opt in options}
    analysis = analyze(spec)
    timer = _Timer(dev, batch, analysis.plan.input_shape, min_run_time, warmup)
    found = device_peak(dev, peak)  # under the caller's "preparing…", not a phase of its own

    option_timings: list[OptionTiming] = []
    network: Timing | None = None
    for opt in options:
        say(f"network, shortcut {opt}")
        model = build_model(dataclasses.replace(spec, shortcut=opt), seed=seed).to(dev)
        fwd = timer.forward(model, train=False)
        bwd = timer.forward(model, train=True) if backward else None
        a = analyses[opt]
        option_timings.append(OptionTiming(opt, a.total.params, a.total.macs, fwd, bwd))
        if opt == spec.shortcut:
            network = fwd
    model = build_model(spec, seed=seed).to(dev).eval()
    if network is None:
        say(f"network, shortcut {spec.shortcut}")
        network = timer.forward(model, train=False)
    block_timings = timer.blocks(model, analysis, say) if blocks else []
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else _cpu_name()
    return BenchReport(
        spec, dev.type, name, torch.__version__, torch.get_num_threads(), batch, backward, network,
        tuple(block_timings), tuple(option_timings), analysis, found,
    )


def run_bench_module(
    text: str,
    analysis: Analysis,
    device: str = "cpu",
    batch: int = 1,
    backward: bool = False,
    blocks: bool = True,
    min_run_time: float = 0.2,
    warmup: int = 3,
    progress: Progress | None = None,
    peak: Peak | None = None,
) -> BenchReport:
    """Time the user's own module (built for real from ``text``: this runs their code) as written,
    and each of its units that is a module of its own, with its shortcut module."""
    torch = _torch()
    from ..target import parse_target
    from .usercode import build_real

    check_run(batch, min_run_time)
    dev = resolve_device(device)
    say = progress or (lambda _msg: None)
    timer = _Timer(dev, batch, analysis.plan.input_shape, min_run_time, warmup)
    found = device_peak(dev, peak)  # under the caller's "preparing…", not a phase of its own
    say("network, as written")
    model = build_real(parse_target(text), analysis.total.params).to(dev)
    fwd = timer.forward(model, train=False)
    bwd = timer.forward(model, train=True) if backward else None
    option = OptionTiming("as written", analysis.total.params, analysis.total.macs, fwd, bwd)
    block_timings = timer.blocks(model.eval(), analysis, say) if blocks else []
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else _cpu_name()
    return BenchReport(
        analysis.spec, dev.type, name, torch.__version__, torch.get_num_threads(), batch, backward, fwd,
        tuple(block_timings), (option,), analysis, found,
    )


class _Timer:
    """Times whole networks and their blocks on one device, batch and input size."""

    def __init__(self, dev: Any, batch: int, input_shape: tuple[int, int, int], min_run_time: float, warmup: int) -> None:
        self.dev, self.batch, self.input_shape = dev, batch, input_shape
        self.min_run_time, self.warmup = min_run_time, warmup

    def forward(self, model: Any, train: bool) -> Timing:
        torch = _torch()
        x = torch.randn(self.batch, *self.input_shape, device=self.dev)
        if not train:
            model.eval()
            with torch.inference_mode():
                return _measure(lambda: model(x), self.dev, self.min_run_time, self.warmup)
        model.train()

        def step() -> None:
            model.zero_grad(set_to_none=True)
            out = model(x)
            (out[0] if isinstance(out, (tuple, list)) else out).sum().backward()

        return _measure(step, self.dev, self.min_run_time, self.warmup)

    def blocks(self, model: Any, analysis: Analysis, say: Progress) -> list[BlockTiming]:
        """Each unit that is a module of its own (its module path is its name), and its shortcut
        module where one module holds the whole shortcut."""
        torch = _torch()
        modules = dict(model.named_modules())
        out: list[BlockTiming] = []
        with torch.inference_mode():
            for bc in analysis.blocks:
                blk = bc.block
                module = modules.get(blk.name)
                if module is None:
                    continue
                say(f"block {blk.name}")
                x = torch.randn(self.batch, *blk.in_shape, device=self.dev)
                t_block = _measure(_call(module, x), self.dev, self.min_run_time / 4, self.warmup)
                # The builder keeps every shortcut module at ``downsample``, where a spec plan's
                # zero-pad layer is named ``shortcut``; a traced plan names its real modules.
                own = f"{blk.name}.downsample"
                path = blk.shortcut_module(modules) or (own if blk.shortcut_layers and own in modules else None)
                short = modules[path] if path is not None else None
                t_short = _measure(_call(short, x), self.dev, self.min_run_time / 4, self.warmup) if short is not None else None
                out.append(BlockTiming(blk.name, blk.shortcut, bc.main.macs, bc.shortcut.macs, t_block, t_short))
        return out


def _call(module: Any, x: Any) -> Callable[[], Any]:
    return lambda: module(x)


def _cpu_name() -> str:
    import platform

    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
