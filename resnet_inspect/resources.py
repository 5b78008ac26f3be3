"""Memory a command will need, estimated from the plan before anything is allocated.

Why up front: ``build``, ``verify`` and ``bench`` allocate real tensors, and a spec can ask for far
more than any machine holds (``resnet18:widths=4096-4096-4096-4096`` has 2.3 G parameters, ResNet-50
at 16384 px has a 16 GiB first feature map). Allocating first and failing later swaps the machine
out for minutes and ends in a traceback or a killed process. The numbers here are pure arithmetic
on the analytic plan (no torch), so a refusal costs milliseconds and leaves nothing behind.

Every estimate is an upper bound of what the command keeps alive at once, in fp32:

* ``build``: the weights, plus one serialised copy of them (the file is written whole), two for
  safetensors (which also copies each tensor's bytes on the way);
* ``verify``: two buffers as large as the largest weight tensor (``nn.builder.build_for_counting``
  shares them among all parameters) and fvcore's real forward at batch 1: the input and a few of the
  largest feature maps at once (``LIVE_MAPS``; measured: ResNet-50's peak grows by under five of its
  largest map as the input grows). The tracer's pass runs on the meta device and needs no data;
* ``bench``: two models at once (the next is built before the last is freed), the forward's live
  feature maps at the batch, with ``--backward`` the weights' gradients and every activation
  autograd saves (``memory.saved_activations``), and the peak measurement's matmul and copy.

The limit is ``--max-memory``, by default half of the memory available now (``MemAvailable``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from math import isqrt, prod
from typing import Final

from .counts import Analysis, layer_params
from .errors import UsageError
from .plan import Layer
from .units import human_bytes, parse_bytes

FP32: Final = 4
#: Share of the available memory a command may plan to use when ``--max-memory`` is not given.
DEFAULT_SHARE: Final = 0.5
#: Feature maps of the largest size held at once by a forward pass (input, shortcut, main path,
#: the batch norm's output beside its input, and slack for the tracer's bookkeeping).
LIVE_MAPS: Final = 6
#: What the bench's peak measurement holds on the CPU: two 128 MiB copy buffers and three
#: 4096 x 4096 fp32 matrices (``bench.COPY_BYTES``, ``bench.MATMUL_LARGEST``).
PEAK_PROBE_BYTES: Final = 2 * 128 * 2**20 + 3 * 4096 * 4096 * FP32
#: Used when the available memory cannot be read (not Linux, no /proc).
FALLBACK_AVAILABLE: Final = 8 * 2**30


class ResourceLimit(UsageError):
    """A command would need more memory than ``--max-memory`` allows; refused before allocating."""


@dataclass(frozen=True)
class Estimate:
    """Bytes a command needs, as named parts (``weights``, ``activations``...)."""

    what: str
    parts: tuple[tuple[str, int], ...]

    @property
    def total(self) -> int:
        return sum(n for _, n in self.parts)

    def text(self) -> str:
        """``weights 8.65 GiB + serialised copy 8.65 GiB``: the two largest parts (one line stays short)."""
        shown = sorted((p for p in self.parts if p[1] > 0), key=lambda p: -p[1])[:2]
        return " + ".join(f"{label} {human_bytes(n)}" for label, n in shown)


def available_memory() -> int:
    """Bytes the kernel says can be allocated now without swapping (``MemAvailable``), else the
    machine's physical memory, else 8 GiB."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return FALLBACK_AVAILABLE


def memory_limit(text: str | None) -> tuple[int, str]:
    """``--max-memory`` as bytes and as the words a refusal shows: a size (``8GiB``, ``500M``), a
    share of the available memory (``25%``), or by default half of it."""
    if text is None:
        limit = int(available_memory() * DEFAULT_SHARE)
        return limit, f"--max-memory {human_bytes(limit)}, the default: half of available"
    shown = str(text).strip()[:40]
    if shown.endswith("%"):
        try:
            share = float(shown[:-1])
        except ValueError:
            share = float("nan")
        if not 0 < share <= 100:
            raise UsageError(f"--max-memory {shown!r}: a share of the available memory is above 0% and at most 100%")
        limit = int(available_memory() * share / 100)
        return limit, f"--max-memory {shown} ({human_bytes(limit)})"
    try:
        limit = parse_bytes(shown)
    except ValueError as exc:
        raise UsageError(f"--max-memory: {exc}, or a share such as 50%") from None
    if limit <= 0:
        raise UsageError("--max-memory: give a size above zero (e.g. 4GiB) or a share such as 50%")
    return limit, f"--max-memory {human_bytes(limit)}"


def require(estimate: Estimate, limit: tuple[int, str], hint: str = "") -> None:
    """Raise ``ResourceLimit`` (one line: the estimate, its parts and the limit) when the estimate
    is over the limit; ``hint`` says what to change."""
    bytes_limit, words = limit
    if estimate.total <= bytes_limit:
        return
    advice = hint or "raise --max-memory if this machine really has the room"
    raise ResourceLimit(
        f"{estimate.what} needs about {human_bytes(estimate.total)} ({estimate.text()}), above the limit ({words}); "
        f"refused before allocating; {advice}"
    )


def short_name(name: str, limit: int = 60) -> str:
    """A network's name short enough for a one-line refusal (config paths and overrides run long)."""
    return name if len(name) <= limit else name[: limit - 1] + "…"


# ---------------------------------------------------------------------------------------- the plan


def _layers(a: Analysis) -> Iterator[Layer]:
    plan = a.plan
    yield from plan.stem
    for b in plan.blocks:
        yield from b.main
        yield from b.shortcut_layers
    yield from plan.head


def largest_map(a: Analysis) -> int:
    """Elements of the largest tensor a forward pass makes at batch 1 (the input included)."""
    return max((prod(ly.out_shape) for ly in _layers(a)), default=0) or prod(a.plan.input_shape)


def largest_weight(a: Analysis) -> int:
    """Elements of the largest parameter tensor (a conv's or the classifier's weight)."""
    return max((layer_params(ly) for ly in _layers(a)), default=0)


def _forward(a: Analysis, batch: int) -> int:
    return FP32 * batch * (prod(a.plan.input_shape) + LIVE_MAPS * max(largest_map(a), 1))


def verify_estimate(a: Analysis, what: str) -> Estimate:
    """``verify``: shared zero/one weight buffers and fvcore's real forward at batch 1."""
    return Estimate(what, (("weights", 2 * FP32 * largest_weight(a)), ("forward", _forward(a, 1))))


def verify_module_estimate(a: Analysis, what: str) -> Estimate:
    """``verify`` of the user's module: its real weights and fvcore's forward at batch 1."""
    return Estimate(what, (("weights", FP32 * a.total.params), ("forward", _forward(a, 1))))


def build_estimate(a: Analysis, what: str, kind: str = "torch") -> Estimate:
    """``build``: the weights and the serialised file, held whole before it is written; safetensors
    also holds every tensor's bytes on the way (measured: 3.0x the weights at the peak, torch 2.0x)."""
    weights = FP32 * a.total.params
    copies = 2 if kind == "safetensors" else 1
    return Estimate(what, (("weights", weights), ("serialised copies" if copies > 1 else "serialised copy", copies * weights)))


def bench_estimate(a: Analysis, what: str, batch: int, backward: bool, probe: bool, models: int = 2) -> Estimate:
    """``bench``: ``models`` models alive at once, the forward at ``batch``, with ``backward`` the
    gradients and the saved activations, and with ``probe`` the peak measurement's buffers."""
    from .memory import saved_activations

    weights = FP32 * a.total.params
    parts = [("weights", models * weights), ("forward", _forward(a, batch))]
    if backward:
        parts += [("gradients", weights), ("saved activations", saved_activations(a).total.at(batch))]
    if probe:
        parts.append(("peak probe", PEAK_PROBE_BYTES))
    return Estimate(what, tuple(parts))


def fitting_input_size(a: Analysis, room: int) -> int:
    """The largest input side (a multiple of 32, at least 32) whose forward at batch 1 fits ``room``
    bytes, assuming feature maps scale with the input's area: the hint of a refused ``verify``."""
    side = a.plan.input_shape[1]
    need = _forward(a, 1)
    if room <= 0 or need <= 0:
        return 32
    fit = isqrt(side * side * room // need)
    return max(32, fit // 32 * 32)
