"""Training memory of a plan: what autograd saves for backward, and the weights, gradients and
optimizer state beside it. Pure arithmetic on a ``Plan``: no torch.

What a training-mode forward saves, op by op, as PyTorch's autograd formulas keep it (checked in
tests against ``torch.autograd.graph.saved_tensors_hooks`` on the built module):

- conv and linear: their input (the weight is a parameter, not an activation);
- batch norm: its input, and four per-channel vectors (running mean and variance, the batch's mean
  and inverse standard deviation);
- ReLU: its output, the very storage it rewrote in place;
- max-pool: its input and its int64 indices (one per output element); average pool: its input;
- global average pooling (a mean), additions, zero-padding and slicing: nothing;
- a squeeze-excitation or gate product ``x * gate``: both operands.

A storage is counted once however many ops save it: the output of a unit's last ReLU is saved by
that ReLU and again by the next unit's first conv (and by a projection's conv), and costs its
bytes once. It is charged to the unit that saves it first, in execution order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from math import prod
from typing import Final

from .counts import Analysis
from .plan import Block, Layer, Shape

DTYPE_BYTES: Final[dict[str, int]] = {"fp32": 4, "fp16": 2, "bf16": 2}
#: Tensors of state per parameter: SGD none, momentum one buffer, Adam/AdamW two moments.
OPTIMIZER_STATES: Final[dict[str, int]] = {"sgd": 0, "momentum": 1, "adam": 2, "adamw": 2}
INDEX_BYTES: Final = 8  # max-pool indices are int64
#: Per-channel vectors a training-mode batch norm saves (running mean, running var, mean, invstd).
BN_VECTORS: Final = 4


@dataclass(frozen=True, slots=True)
class Saved:
    """Bytes saved for backward: ``per_sample`` grows with the batch, ``fixed`` does not (batch-norm
    statistics)."""

    per_sample: int = 0
    fixed: int = 0

    def __add__(self, other: Saved) -> Saved:
        return Saved(self.per_sample + other.per_sample, self.fixed + other.fixed)

    def at(self, batch: int) -> int:
        return self.per_sample * batch + self.fixed


@dataclass(frozen=True, slots=True)
class UnitSaved:
    """What one unit saves, and how much of it its shortcut path's own ops save."""

    name: str
    saved: Saved
    shortcut: Saved


@dataclass(frozen=True, slots=True)
class SavedPlan:
    """Saved activations of a whole plan, at one dtype, per unit."""

    dtype: str
    stem: Saved
    blocks: tuple[UnitSaved, ...]
    head: Saved

    @property
    def total(self) -> Saved:
        out = self.stem + self.head
        for b in self.blocks:
            out = out + b.saved
        return out


@dataclass(frozen=True, slots=True)
class Memory:
    """Training memory at a batch size: the JSON keys of ``memory --format json``."""

    batch: int
    dtype: str
    optimizer: str
    params: int
    saved: SavedPlan

    @property
    def activations_bytes(self) -> int:
        return self.saved.total.at(self.batch)

    @property
    def params_bytes(self) -> int:
        return self.params * DTYPE_BYTES[self.dtype]

    @property
    def grads_bytes(self) -> int:
        return self.params_bytes

    @property
    def optimizer_bytes(self) -> int:
        return OPTIMIZER_STATES[self.optimizer] * self.params_bytes

    @property
    def total_bytes(self) -> int:
        return self.activations_bytes + self.params_bytes + self.grads_bytes + self.optimizer_bytes


class _Storages:
    """Which values (layer outputs) are saved, each counted once. A value is named by the layer
    that made it; an in-place ReLU's output is its input's value."""

    def __init__(self, nbytes: int) -> None:
        self.nbytes = nbytes
        self.counted: set[str] = set()

    def save(self, value: str, shape: Shape) -> int:
        if value in self.counted:
            return 0
        self.counted.add(value)
        return prod(shape) * self.nbytes


def _run(layers: Iterable[Layer], value: str, store: _Storages, branch: frozenset[str] = frozenset()) -> tuple[str, Saved]:
    """Walk ``layers`` from ``value``; the value they end on and what they save. Layers named in
    ``branch`` (a squeeze-excitation or gate) read the value before them, and the product that
    ends the branch saves both its operands: that value and the gate."""
    total = Saved()
    before: str | None = None
    gate_shape: Shape = (0, 0, 0)
    for ly in layers:
        if ly.name in branch and before is None:
            before = value
        if ly.op == "mul" and before is not None:
            saved = Saved(store.save(before, ly.out_shape) + store.save(value, gate_shape))
            value, before = ly.name, None
        else:
            saved, value = _layer(ly, value, store)
        gate_shape = ly.out_shape
        total = total + saved
    return value, total


def _layer(ly: Layer, value: str, store: _Storages) -> tuple[Saved, str]:
    op = ly.op
    if op in ("conv", "linear", "avg_pool"):
        return Saved(store.save(value, ly.in_shape)), ly.name
    if op in ("batch_norm", "norm"):
        fixed = BN_VECTORS * ly.in_shape[0] * store.nbytes if op == "batch_norm" else 0
        return Saved(store.save(value, ly.in_shape), fixed), ly.name
    if op == "relu":  # in place: its output is its input's storage
        return Saved(store.save(value, ly.out_shape)), value
    if op == "activation":
        return Saved(store.save(ly.name, ly.out_shape)), ly.name
    if op == "max_pool":
        return Saved(store.save(value, ly.in_shape) + prod(ly.out_shape) * INDEX_BYTES), ly.name
    if op == "adaptive_avg_pool2d" and ly.out_shape[1:] != (1, 1):
        return Saved(store.save(value, ly.in_shape)), ly.name
    return Saved(), ly.name  # mean, add, zero-pad, other: nothing kept for backward (dropout: see docs/memory.md)


def _block(block: Block, value: str, store: _Storages) -> tuple[str, UnitSaved]:
    main = block.main
    adds = [i for i, ly in enumerate(main) if ly.op == "add"]
    split = adds[-1] if adds else len(main)  # the shortcut runs before the addition
    before, after = main[:split], main[split:]
    branch = frozenset((block.name + "." if block.relative_names else "") + name
                       for e in block.extras if e.off_path for name in e.layers)
    out, saved = _run(before, value, store, branch)
    # The value a shortcut reads: the unit's input, or (pre-activation) a main-path layer's output.
    start = _run(main[: block.shortcut_source + 1], value, _Storages(store.nbytes))[0] if block.shortcut_source >= 0 else value
    _, shortcut = _run(block.shortcut_layers, start, store)
    out, rest = _run(after, out, store)
    return out, UnitSaved(block.name, saved + shortcut + rest, shortcut)


def saved_activations(a: Analysis, dtype: str = "fp32") -> SavedPlan:
    """What a training-mode forward of the plan saves for backward, per sample and fixed, per unit."""
    plan = a.plan
    store = _Storages(DTYPE_BYTES[dtype])
    value, stem = _run(plan.stem, "input", store)
    units: list[UnitSaved] = []
    for block in plan.blocks:
        value, unit = _block(block, value, store)
        units.append(unit)
    _, head = _run(plan.head, value, store)
    return SavedPlan(dtype, stem, tuple(units), head)


def training_memory(a: Analysis, batch: int = 1, dtype: str = "fp32", optimizer: str = "momentum") -> Memory:
    return Memory(batch, dtype, optimizer, a.total.params, saved_activations(a, dtype))


def largest_batch(a: Analysis, budget: int, dtype: str = "fp32", optimizer: str = "momentum") -> int:
    """The largest batch whose training memory fits ``budget`` bytes (0 if not even one sample)."""
    base = training_memory(a, 0, dtype, optimizer)
    per_sample = base.saved.total.per_sample
    room = budget - base.total_bytes
    if room < per_sample or per_sample <= 0:
        return 0
    return room // per_sample
