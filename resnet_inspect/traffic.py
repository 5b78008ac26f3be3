"""Bytes moved, arithmetic intensity and a roofline estimate of time, per layer and per unit.
Pure arithmetic on a ``Plan``: no torch.

FLOPs are not time. A layer that does little arithmetic per byte it moves (a 1x1 conv on a large
map, a batch norm, a ReLU, the residual addition, a projection shortcut) is limited by memory
bandwidth, not by the device's peak FLOP/s. For an inference forward (eval mode, each layer a
kernel of its own, as eager PyTorch runs them) this module counts, per layer, at a dtype:

- **bytes moved** = the activations it reads + the weights it reads + the output it writes. Reads:
  the layer's input (an ``add`` reads both operands, each of the output's size; a gate product
  ``x * g`` reads ``x`` and a per-channel gate of C values; a zero-pad shortcut reads the strided
  subsample it keeps, C_in x H_out x W_out, since the slice before it is a view). An identity
  shortcut has no layer and moves nothing of its own: the addition reads its operand. Weights: the
  layer's parameters (conv and linear weight and bias), and for an eval-mode batch norm its weight,
  bias, running mean and running variance (4 per channel; 2 without affine). A module called twice
  reads its weights twice. Writes: the output, once (an in-place ReLU still reads and writes its
  tensor).
- **FLOPs** = 2 x the multiply-adds of conv and linear layers, plus the count of every other op in
  ``counts.layer_op_count``'s convention: a batch norm 2 per element (eval mode folds it to one
  multiply and one add), an addition, ReLU or product 1 per element, a pooling window 1 per element
  read. A zero-pad computes nothing. So a network's FLOPs here are ``2 x MACs`` plus its
  elementwise ops (about 1% more for ResNet-50).
- **arithmetic intensity** = FLOPs / bytes (FLOP per byte).

Weights are read once per forward whatever the batch; activations, and FLOPs, grow with it.

A device is its peak FLOP/s at the dtype and its memory bandwidth; its **ridge point** is
peak / bandwidth. The roofline time of one kernel is ``max(FLOPs / peak, bytes / bandwidth)``, and
it is memory-bound when its intensity is below the ridge point. A unit's estimate is the sum of
its layers' (each layer one kernel, nothing fused), and it is memory-bound when its memory-bound
layers take more than half of that time.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Final, Literal

from .counts import Analysis, layer_op_count, layer_params
from .memory import DTYPE_BYTES
from .plan import Block, BlockKey, Layer, numel
from .units import SI_PREFIXES

Bound = Literal["memory", "compute", "none"]
Part = Literal["stem", "main", "shortcut", "head"]

#: Decimal places of an arithmetic intensity (FLOP per byte) in reports and JSON.
INTENSITY_DIGITS: Final = 4
#: Ops whose count is multiply-adds (two FLOPs each); every other op's count is its FLOPs.
MAC_OPS: Final = frozenset({"conv", "linear"})


@dataclass(frozen=True, slots=True)
class Traffic:
    """FLOPs and bytes moved by a layer or a group of layers: activation bytes read, weight bytes
    read and bytes written."""

    flops: int = 0
    reads: int = 0
    weights: int = 0
    writes: int = 0

    def __add__(self, other: Traffic) -> Traffic:
        return Traffic(self.flops + other.flops, self.reads + other.reads, self.weights + other.weights,
                       self.writes + other.writes)

    @property
    def bytes(self) -> int:
        return self.reads + self.weights + self.writes

    @property
    def activation_bytes(self) -> int:
        """Bytes that grow with the batch: activations read and written."""
        return self.reads + self.writes

    @property
    def arithmetic_intensity(self) -> float:
        return intensity(self.flops, self.bytes)

    def at(self, batch: int) -> Traffic:
        """This batch-1 traffic at ``batch`` samples: FLOPs and activations scale, weights do not."""
        if batch == 1:
            return self
        return Traffic(self.flops * batch, self.reads * batch, self.weights, self.writes * batch)


def intensity(flops: int, nbytes: int) -> float:
    """FLOPs per byte, rounded to ``INTENSITY_DIGITS`` decimals (0.0 for no bytes)."""
    return round(flops / nbytes, INTENSITY_DIGITS) if nbytes else 0.0


def sum_traffic(parts: Iterable[Traffic]) -> Traffic:
    flops = reads = weights = writes = 0
    for t in parts:
        flops += t.flops
        reads += t.reads
        weights += t.weights
        writes += t.writes
    return Traffic(flops, reads, weights, writes)



def layer_flops(layer: Layer) -> int:
    """The layer's FLOPs at batch 1: 2 x multiply-adds for conv and linear, the op count otherwise."""
    count = layer_op_count(layer)
    return 2 * count if layer.op in MAC_OPS else count


def weight_elements(layer: Layer) -> int:
    """Parameters and buffers the layer reads: its parameters (read again by a module called twice),
    and an eval-mode batch norm's running mean and variance."""
    n = layer_params(replace(layer, shared=False) if layer.shared else layer)
    if layer.op == "batch_norm":
        n += 2 * layer.in_shape[0]
    return n


def read_elements(layer: Layer) -> int:
    """Activation elements the layer reads (the module docstring's rules)."""
    op = layer.op
    out = numel(layer.out_shape)
    if op == "add":
        return 2 * out
    if op == "mul":  # x * gate: the full-size operand and a per-channel gate
        return out + (numel(layer.in_shape) if layer.in_shape != layer.out_shape else layer.out_shape[0])
    if op == "zero_pad":  # the strided subsample of the input channels (the slice is a view)
        return layer.in_shape[0] * layer.out_shape[1] * layer.out_shape[2]
    return numel(layer.in_shape)


def layer_traffic(layer: Layer, dtype: str = "fp32", batch: int = 1) -> Traffic:
    """FLOPs and bytes moved by one layer at ``dtype`` and ``batch``."""
    return _layer1(layer, DTYPE_BYTES[dtype]).at(batch)


def _layer1(layer: Layer, nbytes: int) -> Traffic:
    return Traffic(layer_flops(layer), read_elements(layer) * nbytes, weight_elements(layer) * nbytes,
                   numel(layer.out_shape) * nbytes)


@dataclass(frozen=True, slots=True)
class BlockTraffic:
    """A unit's traffic: its main path (with the addition and any activation after it) and its
    shortcut path, with each layer's traffic in order (for the roofline estimate)."""

    name: str
    stage: int
    index: int
    shortcut_kind: str
    main: Traffic
    shortcut: Traffic
    main_layers: tuple[Traffic, ...]
    shortcut_layers: tuple[Traffic, ...]

    @property
    def total(self) -> Traffic:
        return self.main + self.shortcut

    @property
    def bytes(self) -> int:
        return self.main.bytes + self.shortcut.bytes

    @property
    def flops(self) -> int:
        return self.main.flops + self.shortcut.flops

    @property
    def arithmetic_intensity(self) -> float:
        return intensity(self.flops, self.bytes)

    @property
    def shortcut_bytes(self) -> int:
        return self.shortcut.bytes

    @property
    def shortcut_flops(self) -> int:
        return self.shortcut.flops

    @property
    def shortcut_arithmetic_intensity(self) -> float:
        return self.shortcut.arithmetic_intensity

    @property
    def layers(self) -> tuple[Traffic, ...]:
        """Every layer's traffic: the main path's and the shortcut's."""
        return (*self.main_layers, *self.shortcut_layers)


@dataclass(frozen=True, slots=True)
class PartTraffic:
    """The stem or the head: its traffic and its layers'."""

    traffic: Traffic
    layers: tuple[Traffic, ...]

    @property
    def bytes(self) -> int:
        return self.traffic.bytes

    @property
    def flops(self) -> int:
        return self.traffic.flops

    @property
    def arithmetic_intensity(self) -> float:
        return self.traffic.arithmetic_intensity


@dataclass(frozen=True, slots=True)
class NetworkTraffic:
    """Traffic of a whole plan at one dtype and batch: stem, every unit, head."""

    dtype: str
    batch: int
    stem: PartTraffic
    blocks: tuple[BlockTraffic, ...]
    head: PartTraffic

    @property
    def total(self) -> Traffic:
        return self.stem.traffic + sum_traffic(b.total for b in self.blocks) + self.head.traffic

    def layers(self) -> tuple[Traffic, ...]:
        """Every layer's traffic: stem, each unit's main path and shortcut, head."""
        out = list(self.stem.layers)
        for b in self.blocks:
            out += b.layers
        out += self.head.layers
        return tuple(out)


def _part(layers: Sequence[Layer], nbytes: int, batch: int) -> tuple[Traffic, tuple[Traffic, ...]]:
    each = tuple(_layer1(ly, nbytes).at(batch) for ly in layers)
    return sum_traffic(each), each


def network_traffic(a: Analysis, dtype: str = "fp32", batch: int = 1) -> NetworkTraffic:
    """FLOPs and bytes moved of every layer, unit, the stem and the head of ``a``'s plan, at
    ``dtype`` (fp32, fp16, bf16) and ``batch``. Units that share their layer templates are worked
    out once, so 10,000-unit networks stay fast."""
    if dtype not in DTYPE_BYTES:
        raise ValueError(f"dtype {dtype!r} is not one of {', '.join(DTYPE_BYTES)}")
    if batch < 1:
        raise ValueError(f"batch {batch} must be at least 1")
    nbytes = DTYPE_BYTES[dtype]
    plan = a.plan
    memo: dict[BlockKey, tuple[Traffic, Traffic, tuple[Traffic, ...], tuple[Traffic, ...]]] = {}
    blocks: list[BlockTraffic] = []
    for blk in plan.blocks:
        key = blk.key
        if key not in memo:
            main, main_layers = _part(blk.main_template, nbytes, batch)
            short, short_layers = _part(blk.shortcut_template, nbytes, batch)
            memo[key] = (main, short, main_layers, short_layers)
        main, short, main_layers, short_layers = memo[key]
        blocks.append(BlockTraffic(blk.name, blk.stage, blk.index, blk.shortcut, main, short, main_layers, short_layers))
    stem = PartTraffic(*_part(plan.stem, nbytes, batch))
    head = PartTraffic(*_part(plan.head, nbytes, batch))
    return NetworkTraffic(dtype, batch, stem, tuple(blocks), head)


def block_traffic(a: Analysis, dtype: str = "fp32", batch: int = 1) -> tuple[BlockTraffic, ...]:
    """Every unit's traffic (``network_traffic(a, dtype, batch).blocks``)."""
    return network_traffic(a, dtype, batch).blocks


@dataclass(frozen=True, slots=True)
class LayerTraffic:
    """One layer of the plan with its traffic: where it is (stem, a unit's main or shortcut path,
    head) and which unit."""

    layer: Layer
    part: Part
    block: str
    traffic: Traffic


def layer_rows(a: Analysis, dtype: str = "fp32", batch: int = 1) -> Iterator[LayerTraffic]:
    """Every layer with its traffic, in the order torchvision runs them: within a unit, the main
    path up to the addition, the shortcut, then the addition and what follows it."""
    net = network_traffic(a, dtype, batch)
    plan = a.plan
    for ly, t in zip(plan.stem, net.stem.layers):
        yield LayerTraffic(ly, "stem", "", t)
    for blk, bt in zip(plan.blocks, net.blocks):
        yield from _block_rows(blk, bt)
    for ly, t in zip(plan.head, net.head.layers):
        yield LayerTraffic(ly, "head", "", t)


def _block_rows(blk: Block, bt: BlockTraffic) -> Iterator[LayerTraffic]:
    main = list(zip(blk.main, bt.main_layers))
    adds = [i for i, (ly, _) in enumerate(main) if ly.op == "add"]
    split = adds[-1] if adds else len(main)
    for ly, t in main[:split]:
        yield LayerTraffic(ly, "main", blk.name, t)
    for ly, t in zip(blk.shortcut_layers, bt.shortcut_layers):
        yield LayerTraffic(ly, "shortcut", blk.name, t)
    for ly, t in main[split:]:
        yield LayerTraffic(ly, "main", blk.name, t)


# ------------------------------------------------------------------------------------ devices


@dataclass(frozen=True, slots=True)
class Device:
    """A device as the roofline sees it: peak FLOP/s (at one dtype) and memory bandwidth in bytes/s."""

    name: str
    peak_flops: float
    bandwidth: float

    @property
    def ridge(self) -> float:
        """FLOP per byte at which a kernel stops waiting on memory: peak / bandwidth."""
        return self.peak_flops / self.bandwidth


@dataclass(frozen=True, slots=True)
class NamedDevice:
    """A device from its vendor's datasheet: dense peaks (no structured sparsity) per dtype, memory
    bandwidth, and where the numbers come from."""

    name: str
    label: str
    fp32: float
    fp16: float
    bf16: float
    bandwidth: float
    source: str
    note: str = ""

    def at(self, dtype: str) -> Device:
        peak = {"fp32": self.fp32, "fp16": self.fp16, "bf16": self.bf16}[dtype]
        return Device(self.name, peak, self.bandwidth)


T: Final = 1e12
#: Named devices. fp32 is the plain FP32 rate (not TF32); fp16/bf16 the dense tensor-core rate
#: with FP32 accumulation (half the "with sparsity" figure the datasheets print first). A device
#: without bf16 tensor cores runs bf16 at its FP32 rate here.
DEVICES: Final[dict[str, NamedDevice]] = {
    d.name: d for d in (
        # NVIDIA A100 Tensor Core GPU datasheet (2021): FP32 19.5 TF, BF16/FP16 tensor 312 TF
        # (624 sparse); 80GB SXM 2,039 GB/s, 40GB 1,555 GB/s.
        NamedDevice("a100", "NVIDIA A100 80GB SXM", 19.5 * T, 312 * T, 312 * T, 2.039e12,
                    "NVIDIA A100 datasheet: FP32 19.5 TFLOPS, BF16/FP16 tensor 312 TFLOPS dense, 2,039 GB/s (80GB SXM)",
                    "fp32 convs run as TF32 (156 TFLOPS) unless torch.backends.cudnn.allow_tf32 is off"),
        NamedDevice("a100-40gb", "NVIDIA A100 40GB", 19.5 * T, 312 * T, 312 * T, 1.555e12,
                    "NVIDIA A100 datasheet: FP32 19.5 TFLOPS, BF16/FP16 tensor 312 TFLOPS dense, 1,555 GB/s (40GB)"),
        # NVIDIA H100 Tensor Core GPU datasheet: SXM FP32 67 TF, BF16/FP16 tensor 1,979 TF with
        # sparsity (989.4 dense, H100 whitepaper), 3.35 TB/s.
        NamedDevice("h100-sxm", "NVIDIA H100 SXM", 67 * T, 989.4 * T, 989.4 * T, 3.35e12,
                    "NVIDIA H100 datasheet and whitepaper: FP32 67 TFLOPS, BF16/FP16 tensor 989.4 TFLOPS dense, 3.35 TB/s (SXM5)"),
        # NVIDIA H200 datasheet: FP32 67 TF, BF16/FP16 tensor 1,979 TF with sparsity, 4.8 TB/s.
        NamedDevice("h200", "NVIDIA H200 SXM", 67 * T, 989.4 * T, 989.4 * T, 4.8e12,
                    "NVIDIA H200 datasheet: FP32 67 TFLOPS, BF16/FP16 tensor 1,979 TFLOPS with sparsity (989.4 dense), 4.8 TB/s"),
        # NVIDIA V100 datasheet: SXM2 FP32 15.7 TF, tensor (FP16) 125 TF, 900 GB/s; no BF16.
        NamedDevice("v100", "NVIDIA V100 SXM2", 15.7 * T, 125 * T, 15.7 * T, 0.9e12,
                    "NVIDIA V100 datasheet: FP32 15.7 TFLOPS, FP16 tensor 125 TFLOPS, 900 GB/s (SXM2); no BF16 tensor cores",
                    "bf16 at the FP32 rate: no bf16 tensor cores"),
        # NVIDIA Ada GPU architecture whitepaper, RTX 4090: FP32 82.6 TF, FP16/BF16 tensor with FP32
        # accumulate 165.2 TF dense, 1,008 GB/s.
        NamedDevice("rtx4090", "NVIDIA GeForce RTX 4090", 82.6 * T, 165.2 * T, 165.2 * T, 1.008e12,
                    "NVIDIA Ada whitepaper: FP32 82.6 TFLOPS, FP16/BF16 tensor (FP32 accumulate) 165.2 TFLOPS dense, 1,008 GB/s"),
        # NVIDIA L4 datasheet: FP32 30.3 TF, BF16/FP16 tensor 242 TF with sparsity (121 dense), 300 GB/s.
        NamedDevice("l4", "NVIDIA L4", 30.3 * T, 121 * T, 121 * T, 0.3e12,
                    "NVIDIA L4 datasheet: FP32 30.3 TFLOPS, BF16/FP16 tensor 242 TFLOPS with sparsity (121 dense), 300 GB/s"),
        # NVIDIA T4 datasheet: FP32 8.1 TF, mixed precision FP16/FP32 65 TF, 320 GB/s; no BF16.
        NamedDevice("t4", "NVIDIA T4", 8.1 * T, 65 * T, 8.1 * T, 0.32e12,
                    "NVIDIA T4 datasheet: FP32 8.1 TFLOPS, FP16 tensor 65 TFLOPS, 320 GB/s; no BF16 tensor cores",
                    "bf16 at the FP32 rate: no bf16 tensor cores"),
    )
}


def named_device(name: str, dtype: str = "fp32") -> Device:
    """The named device at ``dtype``; ``ValueError`` listing the names for an unknown one."""
    found = DEVICES.get(name.strip().lower())
    if found is None:
        shown = name[:40]
        raise ValueError(f"{shown!r} is not a known device; use one of {', '.join(DEVICES)}, or --device-peak FLOPS,BANDWIDTH")
    return found.at(dtype)


def match_cuda_device(cuda_name: str) -> str | None:
    """The named device ``torch.cuda.get_device_name`` describes (``NVIDIA A100-SXM4-80GB`` ->
    ``a100``), or None when none matches it exactly enough (a PCIe H100 or A100 80GB differs)."""
    n = cuda_name.upper()
    if "H200" in n:
        return "h200"
    if "H100" in n:
        return None if "PCIE" in n or "NVL" in n else "h100-sxm"
    if "A100" in n:
        if "40GB" in n:
            return "a100-40gb"
        return "a100" if "80GB" in n and "PCIE" not in n else None
    if "V100" in n:
        return "v100" if "SXM2" in n else None
    if "RTX 4090" in n:
        return "rtx4090"
    if re.search(r"\bL4\b", n):
        return "l4"
    if re.search(r"\bT4\b", n):
        return "t4"
    return None


_FLOPS: Final = re.compile(r"^\s*([0-9][0-9_]*(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|\.[0-9]+)\s*([kKmMgGtTpP]?)\s*(?:FLOP/S|FLOPS|FLOP)?\s*$",
                           re.IGNORECASE)
_RATE: Final = re.compile(r"^\s*([0-9][0-9_]*(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|\.[0-9]+)\s*([kKmMgGtT]?)B/S\s*$", re.IGNORECASE)
_SCALE: Final = {"": 1, **SI_PREFIXES}


def parse_flops(text: str) -> float:
    """``'312T' -> 3.12e14`` FLOP/s (K, M, G, T, P; an optional ``FLOPS``/``FLOP/s`` after)."""
    m = _FLOPS.match(text[:64])
    if not m:
        raise ValueError(f"{text[:40]!r} is not a FLOP/s rate; write a number with K, M, G, T or P (e.g. 312T, 19.5T)")
    return _positive(float(m.group(1).replace("_", "")) * _SCALE[m.group(2).upper()], text, "FLOP/s rate")


def parse_bandwidth(text: str) -> float:
    """``'2.0TB/s' -> 2e12`` bytes/s (decimal units, as vendors quote them: KB/s ... TB/s)."""
    m = _RATE.match(text[:64])
    if not m:
        raise ValueError(f"{text[:40]!r} is not a bandwidth; write a number with GB/s or TB/s (e.g. 2.0TB/s, 900GB/s)")
    return _positive(float(m.group(1).replace("_", "")) * _SCALE[m.group(2).upper()], text, "bandwidth")


def _positive(value: float, text: str, what: str) -> float:
    if not value > 0:
        raise ValueError(f"{text[:40]!r}: a {what} must be above zero")
    if not math.isfinite(value) or value >= 1e30:
        raise ValueError(f"{text[:40]!r}: a {what} that large is not a device")
    return value


def parse_device_peak(text: str) -> Device:
    """``'312T,2.0TB/s'`` -> a device of peak 312e12 FLOP/s and 2.0e12 bytes/s. ``ValueError``
    (one line) names what is wrong."""
    parts = str(text).split(",")
    if len(parts) != 2 or not all(p.strip() for p in parts):
        raise ValueError(f"{str(text)[:40]!r} is not PEAK,BANDWIDTH; write e.g. 312T,2.0TB/s (FLOP/s, then bytes/s)")
    peak, bandwidth = parse_flops(parts[0]), parse_bandwidth(parts[1])
    return Device("custom", peak, bandwidth)


# ------------------------------------------------------------------------------------ roofline


@dataclass(frozen=True, slots=True)
class Estimate:
    """Roofline time of one kernel or a sequence of them. ``compute_seconds`` and
    ``memory_seconds`` are the sums of FLOPs / peak and bytes / bandwidth; ``memory_bound_seconds``
    the estimated time of the kernels that are memory-bound."""

    seconds: float = 0.0
    compute_seconds: float = 0.0
    memory_seconds: float = 0.0
    memory_bound_seconds: float = 0.0

    def __add__(self, other: Estimate) -> Estimate:
        return Estimate(self.seconds + other.seconds, self.compute_seconds + other.compute_seconds,
                        self.memory_seconds + other.memory_seconds, self.memory_bound_seconds + other.memory_bound_seconds)

    @property
    def bound(self) -> Bound:
        """``memory`` when memory-bound kernels take more than half the time, ``compute`` otherwise,
        ``none`` when there is nothing to do (an identity shortcut)."""
        if self.seconds <= 0:
            return "none"
        return "memory" if 2 * self.memory_bound_seconds > self.seconds else "compute"

    @property
    def ms(self) -> float:
        return self.seconds * 1e3


def roofline(t: Traffic, device: Device) -> Estimate:
    """One kernel: ``max(FLOPs / peak, bytes / bandwidth)``; memory-bound when its intensity is
    below the ridge point (``FLOPs x bandwidth < bytes x peak``; at the ridge, compute-bound)."""
    compute = t.flops / device.peak_flops
    memory = t.bytes / device.bandwidth
    seconds = max(compute, memory)
    memory_bound = t.flops * device.bandwidth < t.bytes * device.peak_flops
    return Estimate(seconds, compute, memory, seconds if memory_bound else 0.0)


def estimate(layers: Iterable[Traffic], device: Device) -> Estimate:
    """Layers run one after another, each a kernel of its own: the sum of their rooflines."""
    total = Estimate()
    for t in layers:
        total = total + roofline(t, device)
    return total


# ------------------------------------------------------------------------------------ agreement


@dataclass(frozen=True, slots=True)
class Agreement:
    """How measured times compare with estimates over ``n`` pairs: the geometric mean, least and
    largest of measured / estimate, and Spearman's rank correlation (None for fewer than 2 pairs
    or no spread)."""

    n: int
    geomean_ratio: float
    min_ratio: float
    max_ratio: float
    spearman: float | None


def agreement(measured: Sequence[float], estimated: Sequence[float]) -> Agreement | None:
    """Agreement of positive ``measured`` and ``estimated`` times (pairs with a zero are left out)."""
    pairs = [(m, e) for m, e in zip(measured, estimated) if m > 0 and e > 0]
    if not pairs:
        return None
    ratios = [m / e for m, e in pairs]
    geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    rho = spearman([m for m, _ in pairs], [e for _, e in pairs])
    return Agreement(len(pairs), geo, min(ratios), max(ratios), rho)


def _ranks(values: Sequence[float]) -> list[float]:
    """Ranks from 1, ties sharing their average rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Spearman's rank correlation (Pearson's on the ranks, ties averaged); None without spread."""
    if len(xs) != len(ys) or len(xs) < 2:
        return None
    rx, ry = _ranks(xs), _ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    vx = sum((a - mx) ** 2 for a in rx)
    vy = sum((b - my) ** 2 for b in ry)
    if vx == 0 or vy == 0:
        return None
    return cov / math.sqrt(vx * vy)
