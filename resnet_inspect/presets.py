"""The registry of named networks.

Names follow torchvision where torchvision has the model, and those presets use torchvision's
architecture (stride in the 3x3 conv, option B shortcuts), so their counts equal torchvision's
published ones. The CIFAR presets follow He et al. (2015) Section 4.2 (option A everywhere).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .errors import SpecError
from .spec import ResNetSpec
from .suggest import did_you_mean


@dataclass(frozen=True)
class Preset:
    name: str
    spec: ResNetSpec
    description: str
    family: str


_IMAGENET_LAYERS: Final = {
    18: ("basic", (2, 2, 2, 2)),
    26: ("bottleneck", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
    200: ("bottleneck", (3, 24, 36, 3)),
}
_CIFAR: Final = dict(stem="cifar", stem_width=16, input_size=32, num_classes=10)


def _imagenet(name: str, depth: int, **kw: object) -> ResNetSpec:
    block, layers = _IMAGENET_LAYERS[depth]
    return ResNetSpec(block=block, layers=layers, name=name, **kw)  # type: ignore[arg-type]


def _cifar(name: str, block: str, n: int, widths: tuple[int, ...], **kw: object) -> ResNetSpec:
    return ResNetSpec(
        block=block, layers=(n,) * 3, widths=widths, name=name, **_CIFAR, **kw  # type: ignore[arg-type]
    )


def _build_registry() -> dict[str, Preset]:
    presets: list[Preset] = []

    def add(spec: ResNetSpec, description: str, family: str) -> None:
        presets.append(Preset(spec.name, spec, description, family))

    for depth in (18, 34, 50, 101, 152):
        add(_imagenet(f"resnet{depth}", depth), f"ResNet-{depth} (torchvision)", "torchvision")
    for name, depth, groups, wpg in (
        ("resnext50_32x4d", 50, 32, 4),
        ("resnext101_32x8d", 101, 32, 8),
        ("resnext101_64x4d", 101, 64, 4),
    ):
        add(_imagenet(name, depth, groups=groups, width_per_group=wpg), f"ResNeXt-{depth} {groups}x{wpg}d (torchvision)", "torchvision")
    for depth in (50, 101):
        add(_imagenet(f"wide_resnet{depth}_2", depth, width_per_group=128), f"Wide ResNet-{depth}-2 (torchvision)", "torchvision")

    for depth in (18, 34):
        add(_imagenet(f"plain{depth}", depth, shortcut="none"), f"plain-{depth}: ResNet-{depth} without shortcuts (He et al. 2015)", "paper")
    for depth in (20, 32, 44, 56, 110, 1202):
        n = (depth - 2) // 6
        add(_cifar(f"cifar_resnet{depth}", "basic", n, (16, 32, 64), shortcut="A"), f"CIFAR ResNet-{depth}, n={n}, option A (He et al. 2015)", "cifar")

    # Variants (He et al. 2016 pre-activation; Zagoruyko & Komodakis 2016; He et al. 2019 tricks).
    for depth in (18, 34, 50, 101, 152, 200):
        add(_imagenet(f"preact_resnet{depth}", depth, preact=True), f"pre-activation ResNet-{depth} (He et al. 2016)", "preact")
    add(_cifar("preact_resnet110", "basic", 18, (16, 32, 64), preact=True), "CIFAR pre-activation ResNet-110", "preact")
    add(_cifar("preact_resnet164", "bottleneck", 18, (16, 32, 64), preact=True), "CIFAR pre-activation ResNet-164 (bottleneck)", "preact")
    add(_cifar("preact_resnet1001", "bottleneck", 111, (16, 32, 64), preact=True), "CIFAR pre-activation ResNet-1001 (bottleneck)", "preact")
    for depth, k in ((16, 8), (28, 10), (40, 4)):
        n = (depth - 4) // 6
        add(
            _cifar(f"wrn{depth}_{k}", "basic", n, (16 * k, 32 * k, 64 * k), preact=True),
            f"WRN-{depth}-{k}, CIFAR wide pre-activation ResNet", "wide",
        )
    for depth in (26, 200):
        add(_imagenet(f"resnet{depth}", depth), f"ResNet-{depth} (timm)", "timm")
    for depth in (18, 26, 34, 50, 101):
        add(_imagenet(f"resnet{depth}d", depth, stem="deep", shortcut="D"), f"ResNet-{depth}-D: deep stem + avg-pool shortcut (Bag of Tricks, timm)", "timm")
    return {p.name: p for p in presets}


PRESETS: Final[dict[str, Preset]] = _build_registry()


def preset_names() -> list[str]:
    return list(PRESETS)


def get_preset(name: str) -> ResNetSpec:
    """The spec of preset ``name``; an unknown name raises with the closest names."""
    try:
        return PRESETS[name].spec
    except KeyError:
        raise SpecError(unknown_preset_message(name)) from None


def unknown_preset_message(name: str) -> str:
    hint = did_you_mean(name.lower(), PRESETS, n=3).rstrip() or "run 'resnet-inspect presets' to list them"
    return f"unknown preset {name!r}: {hint}"
