"""Plan -> counts: parameters, multiply-adds by op, and activations, per layer, block, stage, total.

Pure functions of shapes, written after fvcore's ``jit_handles`` so ``verify`` can compare them op by
op with fvcore's own analysis of the built module:

| op                   | count                                             | convention |
|----------------------|---------------------------------------------------|------------|
| conv                 | out elements x (in channels / groups) x k x k     | fvcore     |
| linear               | in features x out features                        | fvcore     |
| batch_norm           | 2 x elements (eval mode, affine)                  | fvcore     |
| adaptive_avg_pool2d  | input elements                                    | fvcore     |
| max_pool, avg_pool   | out elements x k x k                              | ours       |
| add                  | out elements (the residual addition)              | ours       |
| relu                 | out elements                                      | ours       |

``macs`` is conv + linear only (He et al. 2015 Table 1, torchvision's GFLOPS).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from .plan import Block, Layer, Plan, ShortcutKind, make_plan
from .spec import ResNetSpec

#: The keys of ``macs_by_op`` in the JSON report, in report order.
OPS: Final = ("conv", "linear", "batch_norm", "adaptive_avg_pool2d", "max_pool", "avg_pool", "add", "relu")
#: Ops that fvcore counts, so ``verify`` can compare them one by one.
FVCORE_OPS: Final = ("conv", "linear", "batch_norm", "adaptive_avg_pool2d")
_OP_INDEX: Final = {op: i for i, op in enumerate(OPS)}
_ZERO_OPS: Final = (0,) * len(OPS)


@dataclass(frozen=True, slots=True)
class Tally:
    """Counts of any part of a network; ``by_op`` follows ``OPS``."""

    params: int = 0
    macs: int = 0
    activations: int = 0
    by_op: tuple[int, ...] = _ZERO_OPS

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            self.params + other.params,
            self.macs + other.macs,
            self.activations + other.activations,
            tuple(a + b for a, b in zip(self.by_op, other.by_op)),
        )

    @property
    def flops(self) -> int:
        return 2 * self.macs

    def macs_by_op(self) -> dict[str, int]:
        return dict(zip(OPS, self.by_op))

    def op(self, name: str) -> int:
        return self.by_op[_OP_INDEX[name]]


def total(tallies: Iterable[Tally]) -> Tally:
    params = macs = acts = 0
    ops = [0] * len(OPS)
    for t in tallies:
        params += t.params
        macs += t.macs
        acts += t.activations
        for i, v in enumerate(t.by_op):
            ops[i] += v
    return Tally(params, macs, acts, tuple(ops))


def _numel(shape: tuple[int, int, int]) -> int:
    return shape[0] * shape[1] * shape[2]


def layer_params(layer: Layer) -> int:
    if layer.op == "conv":
        return layer.out_shape[0] * (layer.in_shape[0] // layer.groups) * layer.kernel * layer.kernel
    if layer.op == "batch_norm":
        return 2 * layer.in_shape[0]
    if layer.op == "linear":
        return layer.in_shape[0] * layer.out_shape[0] + layer.out_shape[0]
    return 0


def layer_op_count(layer: Layer) -> int:
    """The layer's count in its op's convention (the table in this module's docstring)."""
    op = layer.op
    out = _numel(layer.out_shape)
    if op == "conv":
        return out * (layer.in_shape[0] // layer.groups) * layer.kernel * layer.kernel
    if op == "linear":
        return layer.in_shape[0] * layer.out_shape[0]
    if op == "batch_norm":
        return 2 * out
    if op == "adaptive_avg_pool2d":
        return _numel(layer.in_shape)
    if op in ("max_pool", "avg_pool"):
        return out * layer.kernel * layer.kernel
    if op in ("add", "relu"):
        return out
    return 0  # zero_pad moves data and computes nothing


def count_layer(layer: Layer) -> Tally:
    count = layer_op_count(layer)
    ops = list(_ZERO_OPS)
    if layer.op in _OP_INDEX:
        ops[_OP_INDEX[layer.op]] = count
    macs = count if layer.op in ("conv", "linear") else 0
    return Tally(layer_params(layer), macs, _numel(layer.out_shape), tuple(ops))


def count_layers(layers: Iterable[Layer]) -> Tally:
    return total(count_layer(layer) for layer in layers)


@dataclass(frozen=True, slots=True)
class BlockCount:
    block: Block
    main: Tally
    shortcut: Tally

    @property
    def total(self) -> Tally:
        return self.main + self.shortcut


@dataclass(frozen=True, slots=True)
class BlockRun:
    """Consecutive blocks of one stage that are identical but for their names (same shapes, stride,
    shortcut and counts): ResNet-152's ``layer3.1`` ... ``layer3.35`` is one run of 35."""

    blocks: tuple[BlockCount, ...]
    main: Tally
    shortcut: Tally

    @property
    def first(self) -> BlockCount:
        return self.blocks[0]

    @property
    def last(self) -> BlockCount:
        return self.blocks[-1]

    @property
    def total(self) -> Tally:
        return self.main + self.shortcut


@dataclass(frozen=True, slots=True)
class StageCount:
    stage: int
    blocks: tuple[BlockCount, ...]
    main: Tally
    shortcut: Tally
    shortcut_kinds: Mapping[ShortcutKind, int]

    @property
    def total(self) -> Tally:
        return self.main + self.shortcut


@dataclass(frozen=True, slots=True)
class Analysis:
    """Everything ``summary`` reports, computed once; reports only read it."""

    spec: ResNetSpec
    plan: Plan
    stem: Tally
    blocks: tuple[BlockCount, ...]
    stages: tuple[StageCount, ...]
    head: Tally
    total: Tally

    def block(self, name: str) -> BlockCount:
        for b in self.blocks:
            if b.block.name == name:
                return b
        raise KeyError(name)

    def runs(self) -> tuple[BlockRun, ...]:
        """The blocks grouped into runs of identical consecutive blocks within each stage."""
        runs: list[BlockRun] = []
        group: list[BlockCount] = []

        def close() -> None:
            if group:
                n = len(group)
                runs.append(BlockRun(tuple(group), _times(group[0].main, n), _times(group[0].shortcut, n)))

        for b in self.blocks:
            if group and not _same_block(group[-1], b):
                close()
                group = []
            group.append(b)
        close()
        return tuple(runs)

    def shortcut_kinds(self) -> dict[ShortcutKind, int]:
        out: dict[ShortcutKind, int] = {}
        for b in self.blocks:
            out[b.block.shortcut] = out.get(b.block.shortcut, 0) + 1
        return out

    @property
    def batch_norm_params(self) -> int:
        """Parameters in BatchNorm layers. Some papers (pre-activation ResNet-1001's 10.2M) count
        only conv and FC weights; ``total.params - batch_norm_params`` is that figure."""
        memo: dict[tuple[int, tuple[int, int, int], int], int] = {}
        n = _bn_params(self.plan.stem) + _bn_params(self.plan.head)
        for b in self.plan.blocks:
            key = (b.stage, b.in_shape, b.stride)
            if key not in memo:
                memo[key] = _bn_params(b.main_template) + _bn_params(b.shortcut_template)
            n += memo[key]
        return n

    @property
    def shortcut_total(self) -> Tally:
        return total(s.shortcut for s in self.stages)


def _bn_params(layers: Iterable[Layer]) -> int:
    return sum(layer_params(ly) for ly in layers if ly.op == "batch_norm")


def _same_block(a: BlockCount, b: BlockCount) -> bool:
    x, y = a.block, b.block
    return (x.stage, x.in_shape, x.out_shape, x.stride, x.shortcut) == (y.stage, y.in_shape, y.out_shape, y.stride, y.shortcut) and (
        a.main == b.main and a.shortcut == b.shortcut
    )


def _times(t: Tally, n: int) -> Tally:
    return Tally(t.params * n, t.macs * n, t.activations * n, tuple(v * n for v in t.by_op))


def count_plan(plan: Plan) -> Analysis:
    # In one plan, blocks with the same (stage, input shape, stride) have identical layers (only
    # the names differ), so each distinct block is counted once: 10,000-block nets stay fast.
    memo: dict[tuple[int, tuple[int, int, int], int], tuple[Tally, Tally]] = {}
    counted: list[BlockCount] = []
    for blk in plan.blocks:
        key = (blk.stage, blk.in_shape, blk.stride)
        if key not in memo:
            memo[key] = (count_layers(blk.main_template), count_layers(blk.shortcut_template))
        main, short = memo[key]
        counted.append(BlockCount(blk, main, short))
    blocks = tuple(counted)
    stages: list[StageCount] = []
    for stage in range(1, len(plan.spec.layers) + 1):
        members = tuple(b for b in blocks if b.block.stage == stage)
        kinds: dict[ShortcutKind, int] = {}
        for b in members:
            kinds[b.block.shortcut] = kinds.get(b.block.shortcut, 0) + 1
        stages.append(
            StageCount(stage, members, total(b.main for b in members), total(b.shortcut for b in members), kinds)
        )
    stem = count_layers(plan.stem)
    head = count_layers(plan.head)
    grand = total([stem, *(s.total for s in stages), head])
    return Analysis(plan.spec, plan, stem, blocks, tuple(stages), head, grand)


def analyze(spec: ResNetSpec) -> Analysis:
    """Counts for ``spec``: the analytic engine's one entry point."""
    return count_plan(make_plan(spec))
