"""Counts checked against independent closed-form counts written from the architecture, not from
the engine's plan (a second derivation of the same numbers)."""

from __future__ import annotations

import pytest

from resnet_inspect import summarize


def bn(c: int) -> int:
    return 2 * c


def conv(cin: int, cout: int, k: int, groups: int = 1) -> int:
    return cout * (cin // groups) * k * k


def torchvision_resnet_params(block: str, layers: list[int], groups: int = 1, wpg: int = 64, classes: int = 1000) -> int:
    """torchvision's ``ResNet`` parameter count, derived from its constructor arguments."""
    total = conv(3, 64, 7) + bn(64)
    inplanes = 64
    for i, n in enumerate(layers):
        planes = 64 * 2**i
        for j in range(n):
            stride = 2 if (i > 0 and j == 0) else 1
            if block == "basic":
                out = planes
                total += conv(inplanes, planes, 3) + bn(planes) + conv(planes, planes, 3) + bn(planes)
            else:
                out = planes * 4
                width = int(planes * wpg / 64) * groups
                total += conv(inplanes, width, 1) + bn(width) + conv(width, width, 3, groups) + bn(width)
                total += conv(width, out, 1) + bn(out)
            if stride != 1 or inplanes != out:
                total += conv(inplanes, out, 1) + bn(out)
            inplanes = out
    return total + inplanes * classes + classes


@pytest.mark.parametrize(
    ("name", "block", "layers", "groups", "wpg"),
    [
        ("resnet18", "basic", [2, 2, 2, 2], 1, 64),
        ("resnet34", "basic", [3, 4, 6, 3], 1, 64),
        ("resnet50", "bottleneck", [3, 4, 6, 3], 1, 64),
        ("resnet101", "bottleneck", [3, 4, 23, 3], 1, 64),
        ("resnet152", "bottleneck", [3, 8, 36, 3], 1, 64),
        ("resnext50_32x4d", "bottleneck", [3, 4, 6, 3], 32, 4),
        ("resnext101_32x8d", "bottleneck", [3, 4, 23, 3], 32, 8),
        ("wide_resnet50_2", "bottleneck", [3, 4, 6, 3], 1, 128),
    ],
)
def test_params_equal_closed_form(name: str, block: str, layers: list[int], groups: int, wpg: int) -> None:
    assert summarize(name).total.params == torchvision_resnet_params(block, layers, groups, wpg)


def test_256d_bottleneck_main_path_and_projection() -> None:
    """He et al. 2015 Fig. 5: the 256-d bottleneck (256->64->64->256) has 69,632 conv weights; a
    256x256 projection would add 65,536."""
    a = summarize("resnet50:shortcut=C")
    block = a.block("layer1.1")  # 256 in, 256 out, stride 1: a projection only under option C
    conv_weights_main = sum(
        layer.out_shape[0] * layer.in_shape[0] * layer.kernel**2 for layer in block.block.main if layer.op == "conv"
    )
    assert conv_weights_main == 256 * 64 + 64 * 64 * 9 + 64 * 256 == 69_632
    assert block.main.params == 69_632 + bn(64) + bn(64) + bn(256)
    assert block.shortcut.params == 256 * 256 + bn(256) == 65_536 + 512


def test_basic_block_64d_projection_is_small() -> None:
    a = summarize("resnet18:shortcut=C")
    block = a.block("layer1.0")
    assert block.main.params == 2 * 64 * 64 * 9 + 2 * bn(64) == 73_728 + 256
    assert block.shortcut.params == 64 * 64 + bn(64) == 4_096 + 128


def test_resnet50_layer2_0_shapes_and_macs() -> None:
    """torchvision layer2.0 (stride in the 3x3): 1x1 256->128 at 56x56, 3x3/2 128->128 to 28x28,
    1x1 128->512 at 28x28, projection 1x1/2 256->512 at 28x28."""
    b = summarize("resnet50").block("layer2.0")
    assert b.block.in_shape == (256, 56, 56) and b.block.out_shape == (512, 28, 28)
    main_macs = 256 * 128 * 56 * 56 + 128 * 128 * 9 * 28 * 28 + 128 * 512 * 28 * 28
    assert b.main.macs == main_macs
    assert b.shortcut.macs == 256 * 512 * 28 * 28
    assert b.block.shortcut == "projection"


def test_cifar_resnet20_exact_params() -> None:
    # 3x3 stem 16, three stages of 3 basic blocks at 16/32/64, option A (no shortcut weights), FC 64->10.
    expected = conv(3, 16, 3) + bn(16)
    cin = 16
    for width in (16, 32, 64):
        for _ in range(3):
            expected += conv(cin, width, 3) + bn(width) + conv(width, width, 3) + bn(width)
            cin = width
    expected += 64 * 10 + 10
    assert summarize("cifar_resnet20").total.params == expected == 269_722


def test_odd_input_size_uses_floor_arithmetic() -> None:
    a = summarize("resnet18:input_size=225")
    # conv 7x7/2 p3: floor((225+6-7)/2)+1 = 113; maxpool 3/2 p1: floor((113+2-3)/2)+1 = 57
    assert a.plan.stem[-1].out_shape == (64, 57, 57)
    assert a.blocks[-1].block.out_shape == (512, 8, 8)  # 57 -> 29 -> 15 -> 8
