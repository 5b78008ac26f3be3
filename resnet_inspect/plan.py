"""Network plans: every layer with its input and output shape, grouped into stem, units, head.

A ``Plan`` is the one description of a network that counting and every report read, whatever the
source: a spec (laid out here by pure shape arithmetic, no torch), a traced ``nn.Module``
(``resnet_inspect.nn.trace``) or a checkpoint. Spec plans use the same floor arithmetic as
``nn.Conv2d`` / ``nn.MaxPool2d`` (and ceil mode for the ResNet-D average pool), so odd input sizes
come out exactly as the real module computes them.

Layer names are module paths in torchvision's style (``layer2.0.conv1``, ``layer2.0.downsample.0``)
so a report row can be matched to a ``state_dict`` key by eye. Activations and additions, which
have no module of their own in torchvision, get names of their own (``relu1``, ``add``).

This module is the home of the shortcut vocabulary (``SHORTCUT_KINDS``, ``PROJECTION_KINDS``,
``FREE_KINDS``, ``is_projection``, ``count_projections``), of the one predicate that decides a spec
block's shortcut (``shortcut_kind``) and of a block's identity (``Block.key`` for work done once per
distinct unit, ``Block.signature`` for collapsing runs of alike units). Report labels for the kinds
live in ``report.style``, keyed by ``SHORTCUT_KINDS``.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Literal

from .spec import ResNetSpec

Shape = tuple[int, int, int]


def numel(shape: Shape) -> int:
    """Elements of a (C, H, W) activation at batch 1: what every count per element multiplies."""
    return shape[0] * shape[1] * shape[2]


Op = Literal[
    "conv", "batch_norm", "norm", "relu", "activation", "max_pool", "avg_pool", "adaptive_avg_pool2d", "mean",
    "linear", "add", "mul", "zero_pad", "other",
]
ShortcutKind = Literal["identity", "zero_pad", "projection", "avgpool_projection", "none", "other"]
SHORTCUT_KINDS: Final[tuple[ShortcutKind, ...]] = (
    "identity", "zero_pad", "projection", "avgpool_projection", "none", "other"
)
#: Shortcut kinds that carry weights (a conv, with the ResNet-D pool or without): "projections"
#: in every report, and what ``check --max-projections`` counts.
PROJECTION_KINDS: Final[frozenset[str]] = frozenset({"projection", "avgpool_projection"})
#: Shortcut kinds that add the input with no weights (option A's): the identity and zero-padding.
FREE_KINDS: Final[frozenset[str]] = frozenset({"identity", "zero_pad"})
#: Plan sources: laid out from a spec, traced from a module, recovered from a checkpoint.
SOURCES: Final = ("spec", "module", "checkpoint")


#: ``Block.key``: equal for blocks that share their layer templates (memo keys of per-unit work).
BlockKey = tuple[int, int]


def is_projection(kind: str) -> bool:
    """A shortcut with weights (``PROJECTION_KINDS``): a 1x1 conv, with the ResNet-D pool or without."""
    return kind in PROJECTION_KINDS


def count_projections(kinds: Mapping[ShortcutKind, int]) -> int:
    """Shortcuts with weights among ``kinds`` (blocks per shortcut kind, as ``Analysis.shortcut_kinds``
    gives them): the number ``check --max-projections`` limits and every report calls projections."""
    return sum(n for k, n in kinds.items() if is_projection(k))


@dataclass(frozen=True, slots=True)
class Layer:
    """One operation. ``kernel``/``stride``/``groups`` matter for convs and pools only.

    ``kernel_w`` is the kernel's width where it differs from its height (0: square). ``bias`` is a
    conv's or linear layer's bias, ``affine`` a norm layer's weight and bias. ``shared`` marks a
    layer whose parameters an earlier layer already holds (one module called twice), so they are
    counted once. ``detail`` names what an ``activation``, ``norm`` or ``other`` op is (``sigmoid``,
    ``group_norm``, ``aten.matmul``).
    """

    name: str
    op: Op
    in_shape: Shape
    out_shape: Shape
    kernel: int = 1
    stride: int = 1
    groups: int = 1
    padding: int = 0
    bias: bool = False
    affine: bool = True
    shared: bool = False
    kernel_w: int = 0
    detail: str = ""
    #: Parameters the op reads that no shape formula covers (a PReLU slope, a learned scale).
    other_params: int = 0

    @property
    def kernel_area(self) -> int:
        return self.kernel * (self.kernel_w or self.kernel)

    @property
    def kernel_text(self) -> str:
        """``3x3``, or ``1x7`` for a non-square kernel."""
        return f"{self.kernel}x{self.kernel_w or self.kernel}"


@dataclass(frozen=True, slots=True)
class Extra:
    """A part of a unit that is neither its convolutions nor its shortcut: squeeze-excitation, an
    attention gate, dropout, stochastic depth. ``layers`` are names within the block's layers."""

    label: str  # where it is: a module path, or the op's name
    kind: str  # what it does: "squeeze-excitation", "gate", "dropout", ...
    layers: tuple[str, ...] = ()

    @property
    def off_path(self) -> bool:
        """A side computation (a gate's branch) rather than layers on the way from input to output."""
        return self.kind in ("squeeze-excitation", "gate")


@dataclass(frozen=True, slots=True)
class Block:
    """A residual unit: the main path (with the addition and any activation after it) and the
    shortcut path, kept apart so their costs can be reported apart."""

    name: str
    stage: int
    index: int
    kind: str
    preact: bool
    in_shape: Shape
    out_shape: Shape
    stride: int
    shortcut: ShortcutKind
    #: Layers named relative to the block (``conv1``); identical blocks share these tuples.
    main_template: tuple[Layer, ...]
    shortcut_template: tuple[Layer, ...]
    #: Index of the main-path layer whose output the shortcut reads (a pre-activation projection
    #: reads after the first BN-ReLU), or -1 for the block's input.
    shortcut_source: int = -1
    extras: tuple[Extra, ...] = ()
    #: False when the template names are already full module paths (a traced unit whose layers do
    #: not all live under one module).
    relative_names: bool = True

    @property
    def main(self) -> tuple[Layer, ...]:
        """Main-path layers (with the addition and any ReLU after it), full module paths."""
        return _renamed(self.main_template, self.name + ".") if self.relative_names else self.main_template

    @property
    def shortcut_layers(self) -> tuple[Layer, ...]:
        """Shortcut-path layers (empty for identity and none), full module paths."""
        return _renamed(self.shortcut_template, self.name + ".") if self.relative_names else self.shortcut_template

    @property
    def key(self) -> BlockKey:
        """Equal for blocks whose layers are the same objects: within one plan, blocks alike but
        for their names share their templates, so counting can work each one out once. The one
        memo key of per-unit work (counts, traffic, receptive fields, shortcut alternatives)."""
        return (id(self.main_template), id(self.shortcut_template))

    @property
    def signature(self) -> tuple[object, ...]:
        """What consecutive blocks must share to be shown as one run (``layer3.1 … layer3.35``):
        stage, kind, shapes, stride, shortcut and extras, names and index aside. ``Analysis.runs``
        also requires equal counts; ``key`` is the stricter identity (the very same layers)."""
        return (self.stage, self.kind, self.in_shape, self.out_shape, self.stride, self.shortcut, self.extras)

    def shortcut_module(self, modules: Container[str]) -> str | None:
        """The path, among ``modules``, of the module that computes this block's whole shortcut
        (``layer2.0.downsample``, a lambda layer, a ``shortcut`` Sequential): the longest prefix
        shared by the shortcut's layers, an index into a Sequential dropped, that is a module and
        not the block itself. None for identity or a shortcut written inline in the block."""
        names = [ly.name for ly in self.shortcut_layers]
        if not names:
            return None
        parts = common_path(names).split(".")
        while parts and parts[-1].isdigit():
            parts.pop()
        while parts:
            path = ".".join(parts)
            if path == self.name or not path.startswith(self.name + "."):
                return None
            if path in modules:
                return path
            parts.pop()
        return None

    def projection_kernel(self) -> str | None:
        """``1x1``, ``3x3``...: the kernel of the shortcut's conv, if it has one."""
        return next((ly.kernel_text for ly in self.shortcut_template if ly.op == "conv"), None)


@dataclass(frozen=True, slots=True)
class Plan:
    """A network as layers: stem, residual units, head.

    ``spec`` is the spec this plan equals: the one it was laid out from, or, for a traced module
    or a checkpoint, the spec found to match it exactly; None when no spec describes it.
    ``source`` says where the layers came from and ``notes`` what the source could not show.
    """

    name: str
    input_shape: Shape
    stem: tuple[Layer, ...]
    blocks: tuple[Block, ...]
    head: tuple[Layer, ...]
    spec: ResNetSpec | None = None
    source: str = "spec"
    notes: tuple[str, ...] = ()

    @property
    def num_stages(self) -> int:
        return max((b.stage for b in self.blocks), default=0)

    @property
    def layout(self) -> tuple[int, ...]:
        """Units per stage (the spec's ``layers``)."""
        counts = [0] * self.num_stages
        for b in self.blocks:
            counts[b.stage - 1] += 1
        return tuple(counts)

    @property
    def stem_out(self) -> Shape:
        return self.stem[-1].out_shape if self.stem else self.input_shape

    @property
    def num_classes(self) -> int:
        """Outputs of the last layer (the classifier)."""
        if self.head:
            return self.head[-1].out_shape[0]
        return self.blocks[-1].out_shape[0] if self.blocks else self.stem_out[0]

    @property
    def depth(self) -> int:
        """Weighted layers as papers count them: the convs and FC layers on the way from input to
        output (stem, main paths, head), not shortcuts and not the extras inside units."""
        weighted = ("conv", "linear")
        n = sum(1 for ly in (*self.stem, *self.head) if ly.op in weighted)
        memo: dict[BlockKey, int] = {}
        for b in self.blocks:
            if b.key not in memo:
                extra = {name for e in b.extras if e.off_path for name in e.layers}
                memo[b.key] = sum(1 for ly in b.main_template if ly.op in weighted and ly.name not in extra)
            n += memo[b.key]
        return n

    @property
    def stem_label(self) -> str:
        """The spec's stem name, or what a traced stem does (``3x3 conv``, ``7x7/2 conv + max-pool``)."""
        if self.spec is not None:
            return self.spec.stem
        convs = [ly for ly in self.stem if ly.op == "conv"]
        if not convs:
            return "none"
        first = convs[0]
        text = f"{first.kernel_text}{'/' + str(first.stride) if first.stride != 1 else ''} conv"
        if len(convs) > 1:
            text = f"{len(convs)} convs"
        if any(ly.op == "max_pool" for ly in self.stem):
            text += " + max-pool"
        return text


def common_path(paths: Iterable[str]) -> str:
    """The longest dotted prefix every path shares: ``layer1.0.se`` for ``layer1.0.se.fc.0`` and
    ``layer1.0.se.fc.2``."""
    common: list[str] | None = None
    for p in paths:
        parts = p.split(".") if p else []
        if common is None:
            common = parts
            continue
        n = 0
        while n < min(len(common), len(parts)) and common[n] == parts[n]:
            n += 1
        common = common[:n]
    return ".".join(common or [])


def conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def ceil_pool_out(size: int, kernel: int, stride: int) -> int:
    """``nn.AvgPool2d(kernel, stride, ceil_mode=True)`` without padding: the last window must start
    inside the input, as PyTorch's ``pooling_output_shape`` requires."""
    out = -(-(size - kernel) // stride) + 1
    if (out - 1) * stride >= size:
        out -= 1
    return max(out, 1)


def shortcut_kind(option: str, in_shape: Shape, out_shape: Shape, stride: int) -> ShortcutKind:
    """The shortcut a block gets under shortcut ``option`` (He et al. 2015 A/B/C, ResNet-D, none)."""
    if option == "none":
        return "none"
    shapes_match = stride == 1 and in_shape[0] == out_shape[0]
    if shapes_match:
        return "projection" if option == "C" else "identity"
    if option == "A":
        return "zero_pad"
    if option == "D" and stride > 1:
        return "avgpool_projection"
    return "projection"


class _Builder:
    """Accumulates layers while tracking the current shape."""

    def __init__(self, prefix: str, shape: Shape) -> None:
        self.prefix = prefix
        self.shape = shape
        self.layers: list[Layer] = []

    def _add(self, name: str, op: Op, out: Shape, kernel: int = 1, stride: int = 1, groups: int = 1,
             padding: int = 0, bias: bool = False) -> None:
        self.layers.append(Layer(self.prefix + name, op, self.shape, out, kernel, stride, groups, padding, bias))
        self.shape = out

    def conv(self, name: str, out_c: int, kernel: int, stride: int = 1, groups: int = 1) -> None:
        _, h, w = self.shape
        pad = kernel // 2
        out = (out_c, conv_out(h, kernel, stride, pad), conv_out(w, kernel, stride, pad))
        self._add(name, "conv", out, kernel, stride, groups, pad)

    def bn(self, name: str) -> None:
        self._add(name, "batch_norm", self.shape)

    def relu(self, name: str) -> None:
        self._add(name, "relu", self.shape)

    def max_pool(self, name: str) -> None:
        c, h, w = self.shape
        self._add(name, "max_pool", (c, conv_out(h, 3, 2, 1), conv_out(w, 3, 2, 1)), 3, 2, 1, 1)

    def avg_pool(self, name: str, stride: int) -> None:
        c, h, w = self.shape
        self._add(name, "avg_pool", (c, ceil_pool_out(h, 2, stride), ceil_pool_out(w, 2, stride)), 2, stride)

    def zero_pad(self, name: str, out_c: int, stride: int) -> None:
        _, h, w = self.shape
        self._add(name, "zero_pad", (out_c, conv_out(h, 1, stride, 0), conv_out(w, 1, stride, 0)), 1, stride)

    def add(self, name: str) -> None:
        self._add(name, "add", self.shape)

    def global_avg_pool(self, name: str) -> None:
        self._add(name, "adaptive_avg_pool2d", (self.shape[0], 1, 1))

    def linear(self, name: str, out_features: int) -> None:
        self._add(name, "linear", (out_features, 1, 1), bias=True)


def _stem(spec: ResNetSpec) -> tuple[tuple[Layer, ...], Shape]:
    b = _Builder("", (spec.in_channels, spec.input_size, spec.input_size))
    w = spec.stem_width
    if spec.stem == "cifar":
        b.conv("conv1", w, 3, 1)
    elif spec.stem == "deep":
        # timm's deep stem (ResNet-C): three 3x3 convs, w/2 -> w/2 -> w, as ``conv1`` Sequential.
        b.conv("conv1.0", w // 2, 3, 2)
        b.bn("conv1.1")
        b.relu("conv1.2")
        b.conv("conv1.3", w // 2, 3, 1)
        b.bn("conv1.4")
        b.relu("conv1.5")
        b.conv("conv1.6", w, 3, 1)
    else:
        b.conv("conv1", w, 7, 2)
    if not spec.preact:  # pre-activation nets normalise at the start of the first unit instead
        b.bn("bn1")
        b.relu("relu")
    if spec.stem != "cifar":
        b.max_pool("maxpool")
    return tuple(b.layers), b.shape


def _main_path(b: _Builder, spec: ResNetSpec, stage: int, stride: int) -> None:
    out_c = spec.out_channels(stage)
    inner = spec.inner_width(stage)
    if spec.block == "bottleneck":
        s1, s3 = (stride, 1) if spec.stride_in == "1x1" else (1, stride)
        convs = [("conv1", inner, 1, s1, 1), ("conv2", inner, 3, s3, spec.groups), ("conv3", out_c, 1, 1, 1)]
    elif spec.block == "basic":
        convs = [("conv1", out_c, 3, stride, 1), ("conv2", out_c, 3, 1, 1)]
    else:
        convs = [("conv1", out_c, 3, stride, 1)]
    last = len(convs)
    for i, (name, c, k, s, g) in enumerate(convs, start=1):
        if spec.preact:
            b.bn(f"bn{i}")
            b.relu(f"relu{i}")
            b.conv(name, c, k, s, g)
        else:
            b.conv(name, c, k, s, g)
            b.bn(f"bn{i}")
            if i < last:
                b.relu(f"relu{i}")


def shortcut_path(in_shape: Shape, kind: ShortcutKind, out_c: int, stride: int, *, preact: bool,
                  pool_slot: bool = False) -> tuple[tuple[Layer, ...], Shape]:
    """The layers of a ``kind`` shortcut from ``in_shape`` to ``out_c`` channels at ``stride``
    (named relative to the block), and the shape it ends in.

    Pre-activation projections have no BN (the next unit normalises). ``pool_slot`` names a
    projection's conv ``downsample.1``, as timm does in ResNet-D networks, whose index 0 holds the
    average pool (absent where the block keeps its resolution). Used for the spec's own shortcuts
    and for the hypothetical ones ``shortcuts`` prices, so both cost exactly the same.
    """
    b = _Builder("", in_shape)
    if kind == "zero_pad":
        b.zero_pad("shortcut", out_c, stride)
    elif kind == "projection":
        base = 1 if pool_slot else 0
        b.conv(f"downsample.{base}", out_c, 1, stride)
        if not preact:
            b.bn(f"downsample.{base + 1}")
    elif kind == "avgpool_projection":
        b.avg_pool("downsample.0", stride)
        b.conv("downsample.1", out_c, 1, 1)
        if not preact:
            b.bn("downsample.2")
    return tuple(b.layers), b.shape


_LAST_RELU: Final = {"bottleneck": "relu3", "basic": "relu2", "single": "relu1"}


def _blocks(spec: ResNetSpec, shape: Shape) -> tuple[tuple[Block, ...], Shape]:
    blocks: list[Block] = []
    # Within one spec a block's layers depend only on (stage, input shape, stride): deep nets repeat
    # the same few blocks thousands of times, so each distinct one is laid out once and renamed.
    templates: dict[tuple[int, Shape, int], Block] = {}
    for stage, (count, stage_stride) in enumerate(zip(spec.layers, spec.stage_strides())):
        for index in range(count):
            stride = stage_stride if index == 0 else 1
            key = (stage, shape, stride)
            if key not in templates:
                templates[key] = _layout_block(spec, stage, shape, stride)
            t = templates[key]
            blocks.append(Block(f"layer{stage + 1}.{index}", t.stage, index, t.kind, t.preact, t.in_shape, t.out_shape,
                                t.stride, t.shortcut, t.main_template, t.shortcut_template, t.shortcut_source))
            shape = t.out_shape
    return tuple(blocks), shape


def _renamed(layers: tuple[Layer, ...], prefix: str) -> tuple[Layer, ...]:
    # Direct construction: ``dataclasses.replace`` costs several times more, per layer of every
    # block of a 10,000-block network.
    return tuple(
        Layer(prefix + ly.name, ly.op, ly.in_shape, ly.out_shape, ly.kernel, ly.stride, ly.groups, ly.padding,
              ly.bias, ly.affine, ly.shared, ly.kernel_w, ly.detail, ly.other_params)
        for ly in layers
    )


def _layout_block(spec: ResNetSpec, stage: int, shape: Shape, stride: int) -> Block:
    """One block's main-path and shortcut layers, named relative to the block (name and index
    are the caller's)."""
    main = _Builder("", shape)
    _main_path(main, spec, stage, stride)
    out_shape = main.shape
    kind = shortcut_kind(spec.shortcut, shape, out_shape, stride)
    short, sc_shape = shortcut_path(shape, kind, spec.out_channels(stage), stride, preact=spec.preact,
                                    pool_slot=spec.shortcut == "D")
    if short and sc_shape != out_shape:  # the spec's validation should make this impossible
        raise AssertionError(f"layer{stage + 1}: shortcut gives {sc_shape}, main path {out_shape}")
    if kind != "none":
        main.add("add")
    if not spec.preact:  # v1: ReLU after the addition; v2: the addition is last
        main.relu(_LAST_RELU[spec.block])
    # He et al. (2016) share the first BN-ReLU between both paths when the shortcut projects; an
    # identity or zero-pad shortcut takes the raw input.
    source = 1 if spec.preact and is_projection(kind) else -1
    return Block("", stage + 1, 0, spec.block, spec.preact, shape, out_shape, stride, kind,
                 tuple(main.layers), short, source)


def _head(spec: ResNetSpec, shape: Shape) -> tuple[Layer, ...]:
    b = _Builder("", shape)
    if spec.preact:  # v2 ends with BN-ReLU since its units end with the bare addition
        b.bn("bn_final")
        b.relu("relu_final")
    b.global_avg_pool("avgpool")
    b.linear("fc", spec.num_classes)
    return tuple(b.layers)


def make_plan(spec: ResNetSpec) -> Plan:
    stem, shape = _stem(spec)
    blocks, shape = _blocks(spec, shape)
    input_shape = (spec.in_channels, spec.input_size, spec.input_size)
    return Plan(spec.name, input_shape, stem, blocks, _head(spec, shape), spec=spec)
