"""Two analyses -> their differences: totals, per stage, and per block where the layouts align.

Pure: reads ``counts.Analysis`` objects and returns frozen data; ``report.compare`` formats it.
Every difference is ``b - a`` (B is "the new one": a pull request against its base branch), and
relative differences are relative to A.

Blocks are compared one to one only when both networks have the same number of stages and the
same number of blocks in each stage (then ``layer3.4`` of A and of B play the same role). When the
layouts differ, a per-block pairing would be arbitrary, so only stages are compared and the
comparison says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .counts import Analysis, BlockCount, StageCount, Tally
from .plan import SHORTCUT_KINDS, Shape, ShortcutKind, count_projections


@dataclass(frozen=True)
class Delta:
    """One quantity in A and in B."""

    a: int
    b: int

    @property
    def diff(self) -> int:
        return self.b - self.a

    @property
    def relative(self) -> float | None:
        """``(b - a) / a``; ``None`` when A is 0 (no ratio exists: the quantity is new in B)."""
        if self.a == 0:
            return 0.0 if self.b == 0 else None
        return self.diff / self.a


@dataclass(frozen=True)
class Metrics:
    """The quantities compared at every level (network, stage, block)."""

    params: Delta
    macs: Delta
    activations: Delta
    shortcut_params: Delta
    shortcut_macs: Delta

    def changed(self) -> bool:
        return any(d.diff for d in (self.params, self.macs, self.activations, self.shortcut_params, self.shortcut_macs))


def _metrics(main_a: Tally, short_a: Tally, main_b: Tally, short_b: Tally) -> Metrics:
    ta, tb = main_a + short_a, main_b + short_b
    return Metrics(
        Delta(ta.params, tb.params), Delta(ta.macs, tb.macs), Delta(ta.activations, tb.activations),
        Delta(short_a.params, short_b.params), Delta(short_a.macs, short_b.macs),
    )


@dataclass(frozen=True)
class TotalsDiff:
    metrics: Metrics
    blocks: Delta
    depth: Delta
    #: Count of blocks with each shortcut kind, every kind present in A or B, in ``SHORTCUT_KINDS`` order.
    shortcuts: tuple[tuple[ShortcutKind, Delta], ...]
    projections: Delta


@dataclass(frozen=True)
class StageDiff:
    """Stage ``stage`` (from 1); a stage only one network has counts as zero in the other."""

    stage: int
    in_a: bool
    in_b: bool
    blocks: Delta
    metrics: Metrics
    shortcuts: tuple[tuple[ShortcutKind, Delta], ...]
    out_shape_a: Shape | None
    out_shape_b: Shape | None


@dataclass(frozen=True)
class BlockDiff:
    name: str
    stage: int
    index: int
    shortcut_a: ShortcutKind
    shortcut_b: ShortcutKind
    out_shape_a: Shape
    out_shape_b: Shape
    metrics: Metrics

    def changed(self) -> bool:
        return self.metrics.changed() or self.shortcut_a != self.shortcut_b or self.out_shape_a != self.out_shape_b


@dataclass(frozen=True)
class Comparison:
    a: Analysis
    b: Analysis
    label_a: str
    label_b: str
    totals: TotalsDiff
    stages: tuple[StageDiff, ...]
    #: Per-block differences, or ``None`` when the layouts do not align (see ``alignment``).
    blocks: tuple[BlockDiff, ...] | None
    #: Why blocks are or are not compared one to one, in a sentence.
    alignment: str

    @property
    def aligned(self) -> bool:
        return self.blocks is not None


def _kind_deltas(kinds_a: dict[ShortcutKind, int], kinds_b: dict[ShortcutKind, int]) -> tuple[tuple[ShortcutKind, Delta], ...]:
    return tuple(
        (k, Delta(kinds_a.get(k, 0), kinds_b.get(k, 0))) for k in SHORTCUT_KINDS if k in kinds_a or k in kinds_b
    )


_EMPTY: Final = Tally()


def _stage_diff(stage: int, sa: StageCount | None, sb: StageCount | None) -> StageDiff:
    kinds_a = dict(sa.shortcut_kinds) if sa else {}
    kinds_b = dict(sb.shortcut_kinds) if sb else {}
    return StageDiff(
        stage, sa is not None, sb is not None,
        Delta(len(sa.blocks) if sa else 0, len(sb.blocks) if sb else 0),
        _metrics(sa.main if sa else _EMPTY, sa.shortcut if sa else _EMPTY,
                 sb.main if sb else _EMPTY, sb.shortcut if sb else _EMPTY),
        _kind_deltas(kinds_a, kinds_b),
        sa.blocks[-1].block.out_shape if sa else None,
        sb.blocks[-1].block.out_shape if sb else None,
    )


def _block_diff(ba: BlockCount, bb: BlockCount) -> BlockDiff:
    return BlockDiff(
        ba.block.name, ba.block.stage, ba.block.index, ba.block.shortcut, bb.block.shortcut,
        ba.block.out_shape, bb.block.out_shape, _metrics(ba.main, ba.shortcut, bb.main, bb.shortcut),
    )


def _layout(a: Analysis) -> str:
    return "-".join(str(n) for n in a.plan.layout)


def compare(a: Analysis, b: Analysis, label_a: str | None = None, label_b: str | None = None) -> Comparison:
    """The differences B - A. Labels default to the specs' names."""
    kinds_a, kinds_b = a.shortcut_kinds(), b.shortcut_kinds()
    short_a, short_b = a.shortcut_total, b.shortcut_total
    totals = TotalsDiff(
        Metrics(
            Delta(a.total.params, b.total.params), Delta(a.total.macs, b.total.macs),
            Delta(a.total.activations, b.total.activations),
            Delta(short_a.params, short_b.params), Delta(short_a.macs, short_b.macs),
        ),
        Delta(len(a.blocks), len(b.blocks)),
        Delta(a.plan.depth, b.plan.depth),
        _kind_deltas(kinds_a, kinds_b),
        Delta(count_projections(kinds_a), count_projections(kinds_b)),
    )
    n = max(len(a.stages), len(b.stages))
    stages = tuple(
        _stage_diff(i + 1, a.stages[i] if i < len(a.stages) else None, b.stages[i] if i < len(b.stages) else None)
        for i in range(n)
    )
    blocks: tuple[BlockDiff, ...] | None
    if a.plan.layout == b.plan.layout:
        blocks = tuple(_block_diff(ba, bb) for ba, bb in zip(a.blocks, b.blocks))
        alignment = f"both have blocks {_layout(a)}: blocks are compared one to one"
    else:
        blocks = None
        if len(a.plan.layout) != len(b.plan.layout):
            why = f"{len(a.plan.layout)} stages vs {len(b.plan.layout)}"
        else:
            why = f"blocks per stage {_layout(a)} vs {_layout(b)}"
        alignment = f"the layouts differ ({why}): blocks cannot be paired, so they are compared per stage only"
    return Comparison(a, b, label_a or a.name, label_b or b.name, totals, stages, blocks, alignment)
