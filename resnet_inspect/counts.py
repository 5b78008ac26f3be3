"""Plan -> counts: parameters, multiply-adds by op, and activations, per layer, block, stage, total.

Pure functions of shapes, written after fvcore's ``jit_handles`` so ``verify`` can compare them op by
op with fvcore's own analysis of the built module:

| op                   | count                                             | convention |
|----------------------|---------------------------------------------------|------------|
| conv                 | out elements x (in channels / groups) x kh x kw   | fvcore     |
| linear               | in features x out features (x positions)          | fvcore     |
| batch_norm           | 2 x elements (eval mode; 1 x without affine)      | fvcore     |
| norm (group, layer)  | 5 x elements (4 x without affine)                 | fvcore     |
| adaptive_avg_pool2d  | input elements                                    | fvcore     |
| max_pool, avg_pool   | out elements x kh x kw                            | ours       |
| mean (x.mean((2,3))) | input elements                                    | ours       |
| add                  | out elements (the residual addition)              | ours       |
| mul                  | out elements (a gate: squeeze-excitation)         | ours       |
| relu, activation     | out elements                                      | ours       |

``macs`` is conv + linear only (He et al. 2015 Table 1, torchvision's GFLOPS). Ops the tool does not
know (``other``) count nothing, and reports name them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Final

from .plan import Block, BlockKey, Extra, Layer, Plan, ShortcutKind, make_plan, numel
from .receptive import ReceptiveFields, receptive_fields
from .spec import ResNetSpec

#: The keys of ``macs_by_op`` in the JSON report, in report order.
OPS: Final = (
    "conv", "linear", "batch_norm", "adaptive_avg_pool2d", "max_pool", "avg_pool", "add", "relu",
    "norm", "mean", "mul", "activation",
)
#: Ops that fvcore counts, so ``verify`` can compare them one by one.
FVCORE_OPS: Final = ("conv", "linear", "batch_norm", "adaptive_avg_pool2d", "norm")
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



def layer_params(layer: Layer) -> int:
    """Trainable parameters the layer holds (none when an earlier layer shares them)."""
    if layer.shared:
        return 0
    op, n = layer.op, layer.other_params
    if op == "conv":
        c_out = layer.out_shape[0]
        n += c_out * (layer.in_shape[0] // layer.groups) * layer.kernel_area + (c_out if layer.bias else 0)
    elif op in ("batch_norm", "norm"):
        n += 2 * layer.in_shape[0] if layer.affine else 0
    elif op == "linear":
        n += layer.in_shape[0] * layer.out_shape[0] + (layer.out_shape[0] if layer.bias else 0)
    return n


def layer_op_count(layer: Layer) -> int:
    """The layer's count in its op's convention (the table in this module's docstring)."""
    op = layer.op
    out = numel(layer.out_shape)
    if op == "conv":
        return out * (layer.in_shape[0] // layer.groups) * layer.kernel_area
    if op == "linear":  # a classifier sees one position; a linear layer over a map sees H x W
        return layer.in_shape[0] * out
    if op == "batch_norm":
        return (2 if layer.affine else 1) * out
    if op == "norm":
        return (5 if layer.affine else 4) * numel(layer.in_shape)
    if op in ("adaptive_avg_pool2d", "mean"):
        return numel(layer.in_shape)
    if op in ("max_pool", "avg_pool"):
        return out * layer.kernel_area
    if op in ("add", "relu", "mul", "activation"):
        return out
    return 0  # zero_pad moves data and computes nothing; ``other`` ops are named, not counted


def count_layer(layer: Layer) -> Tally:
    count = layer_op_count(layer)
    ops = list(_ZERO_OPS)
    if layer.op in _OP_INDEX:
        ops[_OP_INDEX[layer.op]] = count
    macs = count if layer.op in ("conv", "linear") else 0
    return Tally(layer_params(layer), macs, numel(layer.out_shape), tuple(ops))


def count_layers(layers: Iterable[Layer]) -> Tally:
    return total(count_layer(layer) for layer in layers)


def extra_tally(block: Block, extra: Extra) -> Tally:
    """What one extra of a unit (its squeeze-excitation, say) counts; already part of the main path."""
    wanted = set(extra.layers)
    return count_layers(ly for ly in block.main_template if ly.name in wanted)


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
    """Everything ``summary`` reports, computed once; reports only read it.

    ``spec`` is the plan's spec (None for a traced module or checkpoint that no spec describes).
    """

    spec: ResNetSpec | None
    plan: Plan
    stem: Tally
    blocks: tuple[BlockCount, ...]
    stages: tuple[StageCount, ...]
    head: Tally
    total: Tally

    @property
    def name(self) -> str:
        return self.plan.name

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
        memo: dict[BlockKey, int] = {}
        n = _bn_params(self.plan.stem) + _bn_params(self.plan.head)
        for b in self.plan.blocks:
            if b.key not in memo:
                memo[b.key] = _bn_params(b.main_template) + _bn_params(b.shortcut_template)
            n += memo[b.key]
        return n

    @property
    def shortcut_total(self) -> Tally:
        return total(s.shortcut for s in self.stages)

    def receptive_fields(self) -> ReceptiveFields:
        """Every unit's receptive field and effective stride (``resnet_inspect.receptive``)."""
        return receptive_fields(self.plan)


def _bn_params(layers: Iterable[Layer]) -> int:
    return sum(layer_params(ly) for ly in layers if ly.op == "batch_norm")


def _same_block(a: BlockCount, b: BlockCount) -> bool:
    """Alike (``Block.signature``) and counted alike: one run."""
    return a.block.signature == b.block.signature and a.main == b.main and a.shortcut == b.shortcut


def _times(t: Tally, n: int) -> Tally:
    return Tally(t.params * n, t.macs * n, t.activations * n, tuple(v * n for v in t.by_op))


def count_plan(plan: Plan, macs: Callable[[Sequence[Layer]], int] | None = None) -> Analysis:
    """Counts of every layer, block, stage and the whole network: the one counting path, for
    plans from specs, traced modules and checkpoints alike. ``macs`` recounts the multiply-adds of
    each group of layers in another tool's convention (``conventions.macs_counter``); params and
    the rest stay ours."""
    # Blocks that share their layer templates (alike but for their names) are counted once:
    # 10,000-block nets stay fast.
    def tally(layers: Sequence[Layer]) -> Tally:
        t = count_layers(layers)
        return t if macs is None else replace(t, macs=macs(layers))

    memo: dict[BlockKey, tuple[Tally, Tally]] = {}
    counted: list[BlockCount] = []
    for blk in plan.blocks:
        key = blk.key
        if key not in memo:
            memo[key] = (tally(blk.main_template), tally(blk.shortcut_template))
        main, short = memo[key]
        counted.append(BlockCount(blk, main, short))
    blocks = tuple(counted)
    stages: list[StageCount] = []
    by_stage: dict[int, list[BlockCount]] = {}
    for b in blocks:
        by_stage.setdefault(b.block.stage, []).append(b)
    for stage in range(1, plan.num_stages + 1):
        members = tuple(by_stage.get(stage, ()))
        kinds: dict[ShortcutKind, int] = {}
        for b in members:
            kinds[b.block.shortcut] = kinds.get(b.block.shortcut, 0) + 1
        stages.append(
            StageCount(stage, members, total(b.main for b in members), total(b.shortcut for b in members), kinds)
        )
    stem = tally(plan.stem)
    head = tally(plan.head)
    grand = total([stem, *(s.total for s in stages), head])
    return Analysis(plan.spec, plan, stem, blocks, tuple(stages), head, grand)


def analyze(spec: ResNetSpec) -> Analysis:
    """Counts for ``spec``: the analytic engine's entry point for specs."""
    return count_plan(make_plan(spec))
