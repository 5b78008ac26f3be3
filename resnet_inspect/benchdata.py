"""What ``bench`` measures and reports, without torch: the timings, the device peak behind the
roofline estimates, and the checks of the settings (``--batch``, ``--min-time``, ``--threads``,
``--device-peak``, ``--shortcut-options``) made before torch is imported. The measuring itself is
``nn.bench``; the report is ``report.bench``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Final

from .counts import Analysis
from .errors import UsageError
from .spec import ResNetSpec
from .traffic import Device, parse_device_peak


@dataclass(frozen=True)
class Timing:
    """Milliseconds per call: median and interquartile range over ``runs`` timed blocks."""

    median_ms: float
    iqr_ms: float
    runs: int

    def to_json(self) -> dict[str, float | int]:
        return {"median_ms": round(self.median_ms, 6), "iqr_ms": round(self.iqr_ms, 6), "runs": self.runs}


@dataclass(frozen=True)
class BlockTiming:
    name: str
    shortcut: str
    macs_main: int
    macs_shortcut: int
    block: Timing
    shortcut_module: Timing | None  # the downsample / zero-pad module alone; None for identity

    @property
    def shortcut_share(self) -> float | None:
        """Share of the block's time spent in its shortcut module."""
        if self.shortcut_module is None or self.block.median_ms <= 0:
            return None
        return self.shortcut_module.median_ms / self.block.median_ms


@dataclass(frozen=True)
class OptionTiming:
    option: str
    params: int
    macs: int
    forward: Timing
    backward: Timing | None  # forward + backward


@dataclass(frozen=True)
class Peak:
    """The device's peak FLOP/s and memory bandwidth (bytes/s) behind the roofline estimates, and
    where they come from: measured here, ``--device-peak``, or a named device's datasheet."""

    flops: float
    bandwidth: float
    source: str  # "measured", "--device-peak", or a named device ("a100")
    detail: str

    @property
    def device(self) -> Device:
        return Device(self.source, self.flops, self.bandwidth)

    def to_json(self) -> dict[str, float | str]:
        return {"flops_per_s": self.flops, "bandwidth_bytes_per_s": self.bandwidth,
                "ridge_flop_per_byte": round(self.flops / self.bandwidth, 4), "source": self.source, "detail": self.detail}


@dataclass(frozen=True)
class BenchReport:
    spec: ResNetSpec | None  # None for a traced module no spec describes
    device: str
    device_name: str
    torch_version: str
    threads: int
    batch: int
    backward: bool
    network: Timing
    blocks: tuple[BlockTiming, ...]
    options: tuple[OptionTiming, ...]
    analysis: Analysis
    peak: Peak | None = None  # for the roofline estimates beside the block timings


#: The largest batch: far above what fits any device at 224 px, so a typo is refused in words
#: rather than by an allocation that fails (or swaps) later.
MAX_BATCH: Final = 1 << 20
#: Seconds of timed runs per measurement: finite, and at most an hour (a bench times several).
MIN_TIME_RANGE: Final = (0.01, 3600.0)


def max_threads() -> int:
    """Most CPU threads ``--threads`` may ask for: four per core. torch crashes (a segfault, not
    an exception) when asked for 100,000, and more threads than cores only measure contention."""
    return 4 * (os.cpu_count() or 1)


def check_settings(batch: int, min_time: float, threads: int | None) -> None:
    """Refuse, in one line and before torch is imported, settings that would run forever
    (``--min-time inf`` or ``nan``), crash torch (``--threads 100000``) or mean nothing."""
    low, high = MIN_TIME_RANGE
    if not (math.isfinite(min_time) and low <= min_time <= high):
        raise UsageError(f"--min-time {min_time}: give seconds from {low} to {high:g}")
    if threads is not None and not 1 <= threads <= max_threads():
        raise UsageError(f"--threads {threads}: give 1 to {max_threads()} (four per CPU core of this machine)")
    _check_batch(batch)


def _check_batch(batch: int) -> None:
    if not 1 <= batch <= MAX_BATCH:
        raise UsageError(f"--batch {batch} must be from 1 to {MAX_BATCH:,}")


def check_run(batch: int, min_run_time: float) -> None:
    """The Python API's bounds (tests time for a millisecond; only endless or absurd runs are refused)."""
    _check_batch(batch)
    if not (math.isfinite(min_run_time) and min_run_time >= 0):
        raise UsageError(f"min_run_time {min_run_time} must be a finite number of seconds")


def parse_peak(text: str | None) -> Peak | None:
    """``--device-peak 312T,2.0TB/s`` as a ``Peak`` (None without one); ``UsageError`` in one line."""
    if text is None:
        return None
    try:
        dev = parse_device_peak(text)
    except ValueError as exc:
        raise UsageError(f"--device-peak: {exc}") from None
    return Peak(dev.peak_flops, dev.bandwidth, "--device-peak", f"--device-peak {text.strip()}")


def parse_options(text: str | None, spec: ResNetSpec) -> tuple[str, ...]:
    """``"A,B,C"`` -> options to time the whole network under (default: the spec's own)."""
    if not text:
        return (spec.shortcut,)
    from .specio import coerce_field

    options: list[str] = []
    for part in text.split(","):
        if not part.strip():
            continue
        value = coerce_field("shortcut", part.strip())
        if value not in ("A", "B", "C", "D", "none"):
            raise UsageError(f"--shortcut-options: {part.strip()!r} is not a shortcut option; use A, B, C, D or none")
        if value not in options:
            options.append(value)
    if not options:
        raise UsageError("--shortcut-options is empty; give e.g. A,B,C")
    return tuple(options)
