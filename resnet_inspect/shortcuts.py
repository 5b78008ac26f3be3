"""What the shortcuts of a network cost: the options side by side, and every block's alternatives.

Pure analysis on top of the engine; no new counting formula lives here.

- Network view: the spec re-analysed under every shortcut option (``none``, ``A``, ``B``, ``C``,
  ``D``) with ``dataclasses.replace``, so each row is exactly what ``summary`` reports for that
  option; an option the spec cannot take (``A`` where a stage narrows) carries the validation
  message instead of numbers. A traced module or checkpoint has this view only when it equals a
  spec (``Plan.spec``): options of a network no spec describes would be guesses.
- Block view: for each block, the main path as built (a traced one included), and what an
  identity, a zero-pad, a 1x1 projection and (where the block downsamples) an avg-pool projection
  would cost *there*. The hypothetical shortcuts are laid out by ``plan.shortcut_path`` and counted
  by ``counts.count_layers``, so a hypothetical projection costs exactly what a spec's real one
  does.

``weights`` (conv kernels only, no BatchNorm) sits beside ``params`` because that is what He et al.
(2015) count when they say a bottleneck's projection "doubles" the block: 65,536 against 69,632 in
the 256-d bottleneck. MACs are conv multiply-adds, so their ratio is the same kind of number.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Final

from .counts import Analysis, analyze, count_layers
from .errors import SpecError
from .memory import saved_activations, training_memory
from .paper import PaperResult, paper_result
from .plan import Block, BlockKey, Layer, ShortcutKind, count_projections, shortcut_path
from .spec import ResNetSpec

#: The options of the network view, in report order (plain first, then the paper's A/B/C, then D).
OPTIONS: Final = ("none", "A", "B", "C", "D")


@dataclass(frozen=True, slots=True)
class Cost:
    """Parameters (conv + BN), conv weights alone, and multiply-adds of one path."""

    params: int = 0
    weights: int = 0
    macs: int = 0

    def get(self, metric: str) -> int:
        return int(getattr(self, metric))


ZERO: Final = Cost()


def cost_of(layers: Iterable[Layer]) -> Cost:
    """Counts of ``layers`` through the engine: params and MACs from ``count_layers``, weights from
    the conv layers alone."""
    layers = tuple(layers)
    t = count_layers(layers)
    w = count_layers(layer for layer in layers if layer.op == "conv")
    return Cost(t.params, w.params, t.macs)


@dataclass(frozen=True, slots=True)
class OptionCost:
    """The network under one shortcut option (``analysis`` None when the spec cannot take it)."""

    option: str
    analysis: Analysis | None
    reason: str | None  # why the option is impossible here
    paper: PaperResult | None

    @property
    def available(self) -> bool:
        return self.analysis is not None

    def _a(self) -> Analysis:
        if self.analysis is None:
            raise ValueError(f"option {self.option} is not available: {self.reason}")
        return self.analysis

    @property
    def params(self) -> int:
        return self._a().total.params

    @property
    def macs(self) -> int:
        return self._a().total.macs

    @property
    def shortcut_params(self) -> int:
        return self._a().shortcut_total.params

    @property
    def shortcut_macs(self) -> int:
        return self._a().shortcut_total.macs

    @property
    def activations_bytes(self) -> int:
        """What a training-mode forward saves for backward, batch 1, fp32 (``memory``): a
        projection's conv and BN save their inputs too."""
        return saved_activations(self._a(), "fp32").total.at(1)

    @property
    def training_bytes(self) -> int:
        """A training step's memory at batch 1, fp32, SGD with momentum: saved activations,
        weights, gradients and the momentum buffer (``memory``)."""
        return training_memory(self._a(), 1, "fp32", "momentum").total_bytes

    @property
    def kinds(self) -> dict[ShortcutKind, int]:
        return self._a().shortcut_kinds()

    @property
    def projections(self) -> int:
        """Shortcuts with weights (1x1 projections, with or without the ResNet-D pool)."""
        return count_projections(self.kinds)


@dataclass(frozen=True, slots=True)
class BlockShortcuts:
    """One block: its main path and the cost of each shortcut it could have.

    ``identity`` is None where the shapes change (an identity cannot add tensors of different
    shapes); ``zero_pad`` is None where the channels shrink (nothing to pad; option A cannot be
    used); ``avgpool_projection`` is None where the block does not downsample. A zero-pad where the
    shapes already match is the identity.
    """

    block: Block
    main: Cost
    actual: Cost
    identity: Cost | None
    zero_pad: Cost | None
    projection: Cost
    avgpool_projection: Cost | None

    @property
    def shapes_change(self) -> bool:
        return self.block.in_shape != self.block.out_shape

    def ratio(self, metric: str = "params") -> float:
        """Projection / main path for ``metric`` (params, weights or macs)."""
        main = self.main.get(metric)
        return self.projection.get(metric) / main if main else 0.0


@dataclass(frozen=True, slots=True)
class ShortcutStudy:
    """Everything ``resnet-inspect shortcuts`` reports, computed once.

    ``spec`` is None (and ``options`` empty) for a traced module or checkpoint no spec describes.
    """

    spec: ResNetSpec | None
    analysis: Analysis  # the network as given
    options: tuple[OptionCost, ...]
    blocks: tuple[BlockShortcuts, ...]

    @property
    def name(self) -> str:
        return self.analysis.name

    @property
    def has_options(self) -> bool:
        return bool(self.options)

    def option(self, name: str) -> OptionCost:
        for o in self.options:
            if o.option == name:
                return o
        raise KeyError(name)

    @property
    def baseline(self) -> str:
        """What differences are taken against: A (the free option) where the spec allows it, else B."""
        return "A" if self.option("A").available else "B"

    def delta(self, name: str, metric: str = "params") -> int:
        """``name`` minus the baseline, for ``params``, ``macs``, ``shortcut_params``, ``shortcut_macs``."""
        o, base = self.option(name), self.option(self.baseline)
        return int(getattr(o, metric)) - int(getattr(base, metric))

    def block(self, name: str) -> BlockShortcuts:
        for b in self.blocks:
            if b.block.name == name:
                return b
        raise KeyError(name)


def option_cost(spec: ResNetSpec, option: str) -> OptionCost:
    try:
        variant = replace(spec, shortcut=option)
    except SpecError as exc:
        return OptionCost(option, None, str(exc), None)
    return OptionCost(option, analyze(variant), None, paper_result(variant))


def _hypothetical(block: Block, kind: ShortcutKind) -> Cost | None:
    """What shortcut ``kind`` would cost on ``block``, laid out by ``plan.shortcut_path``; None when
    it cannot produce the block's output shape there."""
    layers, shape = shortcut_path(block.in_shape, kind, block.out_shape[0], block.stride, preact=block.preact)
    if shape != block.out_shape:
        return None
    return cost_of(layers)


def _alternatives(blk: Block) -> BlockShortcuts:
    same = blk.in_shape == blk.out_shape
    projection = _hypothetical(blk, "projection")
    if projection is None:
        # A spec's 1x1 conv at the block's stride always fits; a traced unit that shrinks its map
        # another way (unpadded convs) gets a 1x1 projection straight to its output shape.
        layers = (Layer("downsample.0", "conv", blk.in_shape, blk.out_shape),
                  *(() if blk.preact else (Layer("downsample.1", "batch_norm", blk.out_shape, blk.out_shape),)))
        projection = cost_of(layers)
    return BlockShortcuts(
        block=blk,
        main=cost_of(blk.main_template),
        actual=cost_of(blk.shortcut_template),
        identity=ZERO if same else None,
        zero_pad=None if blk.out_shape[0] < blk.in_shape[0] else _hypothetical(blk, "zero_pad"),
        projection=projection,
        avgpool_projection=_hypothetical(blk, "avgpool_projection") if blk.stride > 1 else None,
    )


def block_shortcuts(a: Analysis) -> tuple[BlockShortcuts, ...]:
    """Every block's alternatives. Blocks alike but for their names (``Block.key``: the same layer
    templates) are worked out once, so 10,000-block networks stay fast."""
    memo: dict[BlockKey, BlockShortcuts] = {}
    out: list[BlockShortcuts] = []
    for bc in a.blocks:
        blk = bc.block
        if blk.key not in memo:
            memo[blk.key] = _alternatives(blk)
        out.append(replace(memo[blk.key], block=blk))
    return tuple(out)


def study(network: ResNetSpec | Analysis) -> ShortcutStudy:
    """The network view (every option, when a spec describes the network) and the block view
    (every block) of a spec or of an analysed plan."""
    a = analyze(network) if isinstance(network, ResNetSpec) else network
    spec = a.spec
    options = tuple(option_cost(spec, o) for o in OPTIONS) if spec is not None else ()
    return ShortcutStudy(spec, a, options, block_shortcuts(a))
