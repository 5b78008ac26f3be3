"""Spec -> network plan: every layer with its input and output shape, grouped into stem, blocks, head.

Pure shape arithmetic, no torch. Shapes are ``(C, H, W)`` for batch 1 and use the same floor
arithmetic as ``nn.Conv2d`` / ``nn.MaxPool2d`` (and ceil mode for the ResNet-D average pool), so
odd input sizes come out exactly as the real module computes them.

Layer names are module paths in torchvision's style (``layer2.0.conv1``, ``layer2.0.downsample.0``)
so a report row can be matched to a ``state_dict`` key by eye. Activations and additions, which
have no module of their own in torchvision, get names of their own (``relu1``, ``add``).

``shortcut_kind`` is the one place that decides what a block's shortcut is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from .spec import ResNetSpec

Shape = tuple[int, int, int]
Op = Literal[
    "conv", "batch_norm", "relu", "max_pool", "avg_pool", "adaptive_avg_pool2d", "linear", "add", "zero_pad"
]
ShortcutKind = Literal["identity", "zero_pad", "projection", "avgpool_projection", "none"]
SHORTCUT_KINDS: Final[tuple[ShortcutKind, ...]] = (
    "identity", "zero_pad", "projection", "avgpool_projection", "none"
)


@dataclass(frozen=True, slots=True)
class Layer:
    """One operation. ``kernel``/``stride``/``groups`` matter for convs and pools only."""

    name: str
    op: Op
    in_shape: Shape
    out_shape: Shape
    kernel: int = 1
    stride: int = 1
    groups: int = 1
    padding: int = 0


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

    @property
    def main(self) -> tuple[Layer, ...]:
        """Main-path layers (with the addition and any ReLU after it), full module paths."""
        return _renamed(self.main_template, self.name + ".")

    @property
    def shortcut_layers(self) -> tuple[Layer, ...]:
        """Shortcut-path layers (empty for identity and none), full module paths."""
        return _renamed(self.shortcut_template, self.name + ".")


@dataclass(frozen=True, slots=True)
class Plan:
    spec: ResNetSpec
    stem: tuple[Layer, ...]
    blocks: tuple[Block, ...]
    head: tuple[Layer, ...]

    @property
    def input_shape(self) -> Shape:
        return (self.spec.in_channels, self.spec.input_size, self.spec.input_size)


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

    def _add(self, name: str, op: Op, out: Shape, kernel: int = 1, stride: int = 1, groups: int = 1, padding: int = 0) -> None:
        self.layers.append(Layer(self.prefix + name, op, self.shape, out, kernel, stride, groups, padding))
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


def _shortcut_path(b: _Builder, spec: ResNetSpec, kind: ShortcutKind, out_c: int, stride: int) -> None:
    if kind == "zero_pad":
        b.zero_pad("shortcut", out_c, stride)
    elif kind == "projection":
        # timm keeps index 0 for the (here absent) pool of ResNet-D, so its conv sits at index 1.
        base = 1 if spec.shortcut == "D" else 0
        b.conv(f"downsample.{base}", out_c, 1, stride)
        if not spec.preact:
            b.bn(f"downsample.{base + 1}")
    elif kind == "avgpool_projection":
        b.avg_pool("downsample.0", stride)
        b.conv("downsample.1", out_c, 1, 1)
        if not spec.preact:
            b.bn("downsample.2")


_LAST_RELU: Final = {"bottleneck": "relu3", "basic": "relu2", "single": "relu1"}


def _blocks(spec: ResNetSpec, shape: Shape) -> tuple[tuple[Block, ...], Shape]:
    blocks: list[Block] = []
    # Within one spec a block's layers depend only on (stage, input shape, stride): deep nets repeat
    # the same few blocks thousands of times, so each distinct one is laid out once and renamed.
    templates: dict[tuple[int, Shape, int], tuple[tuple[Layer, ...], tuple[Layer, ...], Shape, ShortcutKind]] = {}
    for stage, (count, stage_stride) in enumerate(zip(spec.layers, spec.stage_strides())):
        for index in range(count):
            stride = stage_stride if index == 0 else 1
            name = f"layer{stage + 1}.{index}"
            key = (stage, shape, stride)
            if key not in templates:
                templates[key] = _layout_block(spec, stage, shape, stride)
            main, short, out_shape, kind = templates[key]
            blocks.append(Block(name, stage + 1, index, spec.block, spec.preact, shape, out_shape, stride, kind, main, short))
            shape = out_shape
    return tuple(blocks), shape


def _renamed(layers: tuple[Layer, ...], prefix: str) -> tuple[Layer, ...]:
    return tuple(
        Layer(prefix + ly.name, ly.op, ly.in_shape, ly.out_shape, ly.kernel, ly.stride, ly.groups, ly.padding)
        for ly in layers
    )


def _layout_block(
    spec: ResNetSpec, stage: int, shape: Shape, stride: int
) -> tuple[tuple[Layer, ...], tuple[Layer, ...], Shape, ShortcutKind]:
    """One block's main-path and shortcut layers, named relative to the block."""
    main = _Builder("", shape)
    _main_path(main, spec, stage, stride)
    out_shape = main.shape
    kind = shortcut_kind(spec.shortcut, shape, out_shape, stride)
    sc = _Builder("", shape)
    _shortcut_path(sc, spec, kind, spec.out_channels(stage), stride)
    if sc.layers and sc.shape != out_shape:  # the spec's validation should make this impossible
        raise AssertionError(f"layer{stage + 1}: shortcut gives {sc.shape}, main path {out_shape}")
    if kind != "none":
        main.add("add")
    if not spec.preact:  # v1: ReLU after the addition; v2: the addition is last
        main.relu(_LAST_RELU[spec.block])
    return tuple(main.layers), tuple(sc.layers), out_shape, kind


def _head(spec: ResNetSpec, shape: Shape) -> tuple[Layer, ...]:
    b = _Builder("", shape)
    if spec.preact:  # v2 ends with BN-ReLU since its units end with the bare addition
        b.bn("bn_final")
        b.relu("relu_final")
    c = b.shape[0]
    b._add("avgpool", "adaptive_avg_pool2d", (c, 1, 1))
    b._add("fc", "linear", (spec.num_classes, 1, 1))
    return tuple(b.layers)


def make_plan(spec: ResNetSpec) -> Plan:
    stem, shape = _stem(spec)
    blocks, shape = _blocks(spec, shape)
    return Plan(spec, stem, blocks, _head(spec, shape))
