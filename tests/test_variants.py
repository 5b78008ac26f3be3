"""Variants (pre-activation, Wide ResNet, ResNeXt, Bag of Tricks, single-layer residual, free-form)
against published figures (../shared/reference/published.md) and hand counts."""

from __future__ import annotations

import pytest

from resnet_inspect import summarize
from resnet_inspect.presets import get_preset


def conv(cin: int, cout: int, k: int, groups: int = 1) -> int:
    return cout * (cin // groups) * k * k


def bn(c: int) -> int:
    return 2 * c


@pytest.mark.parametrize(
    ("name", "published_m", "digits"),
    [
        ("preact_resnet164", 1.7, 1),  # He et al. 2016: 1.7M
        ("wrn28_10", 36.5, 1),  # Zagoruyko & Komodakis 2016
        ("wrn40_4", 8.9, 1),
        ("wrn16_8", 11.0, 1),
        ("resnet50d", 25.6, 1),  # Bag of Tricks: about 25.6M
        ("resnext50_32x4d", 25.0, 1),  # Xie et al. 2017: 25.0M
    ],
)
def test_published_params(name: str, published_m: float, digits: int) -> None:
    assert round(summarize(name).total.params / 1e6, digits) == pytest.approx(published_m)


@pytest.mark.parametrize(("name", "gmacs"), [("resnet50d", 4.3), ("resnext50_32x4d", 4.2)])
def test_published_gmacs(name: str, gmacs: float) -> None:
    assert round(summarize(name).total.macs / 1e9, 1) == pytest.approx(gmacs)


def test_preact_resnet1001_with_and_without_batchnorm() -> None:
    """The paper's 10.2M matches a count without BatchNorm parameters (about 10.18M); our policy
    counts them (about 10.33M). Both are computed here by hand from the architecture."""
    a = summarize("preact_resnet1001")
    n = 111  # (1001 - 2) / 9 bottleneck units per stage
    weights = conv(3, 16, 3)
    bn_params = 0
    cin = 16
    for planes in (16, 32, 64):
        out = planes * 4
        for j in range(n):
            weights += conv(cin, planes, 1) + conv(planes, planes, 3) + conv(planes, out, 1)
            bn_params += bn(cin) + bn(planes) + bn(planes)
            if j == 0:  # shapes change (16->64, 64->128/2, 128->256/2): a 1x1 conv, no BN in v2
                weights += conv(cin, out, 1)
            cin = out
    bn_params += bn(cin)  # the final BN before pooling
    weights += cin * 10 + 10
    assert a.batch_norm_params == bn_params
    assert a.total.params == weights + bn_params
    assert round((a.total.params - a.batch_norm_params) / 1e6, 2) == 10.18
    assert round(a.total.params / 1e6, 2) == 10.33


def test_resnet50d_differs_from_resnet50_only_in_stem_and_shortcuts() -> None:
    """ResNet-D = ResNet-C deep stem (3x3 convs 3->32->32->64) + avg-pool before the projection."""
    r50, r50d = summarize("resnet50"), summarize("resnet50d")
    stem_c = conv(3, 32, 3) + bn(32) + conv(32, 32, 3) + bn(32) + conv(32, 64, 3) + bn(64)
    assert r50d.stem.params == stem_c
    assert r50d.total.params - r50.total.params == stem_c - (conv(3, 64, 7) + bn(64))
    kinds = r50d.shortcut_kinds()
    # layer1.0 changes channels at stride 1 (no pool: a plain projection); layers 2-4 pool first.
    assert kinds == {"projection": 1, "avgpool_projection": 3, "identity": 12}
    blk = r50d.block("layer2.0")
    assert [ly.op for ly in blk.block.shortcut_layers] == ["avg_pool", "conv", "batch_norm"]
    # the 1x1 conv now runs at stride 1 on the pooled 28x28 map: same MACs as the strided conv
    assert blk.shortcut.macs == 256 * 512 * 28 * 28 == r50.block("layer2.0").shortcut.macs


def test_preact_block_structure() -> None:
    blk = summarize("preact_resnet18").block("layer2.0").block
    assert [ly.name.rsplit(".", 1)[1] for ly in blk.main] == ["bn1", "relu1", "conv1", "bn2", "relu2", "conv2", "add"]
    assert [ly.op for ly in blk.shortcut_layers] == ["conv"]  # projection without BN in v2
    v1 = summarize("resnet18").block("layer2.0").block
    assert [ly.op for ly in v1.main][-2:] == ["add", "relu"]  # v1: ReLU after the addition


def test_single_layer_residual_block() -> None:
    """Block kind ``single``: y = ReLU(BN(conv3x3(x)) + x), one weighted layer per block."""
    spec = get_preset("cifar_resnet20")
    a = summarize("cifar_resnet20:block=single,layers=6-6-6")
    assert a.spec.depth == 1 + 18 + 1
    blk = a.block("layer1.1").block
    assert [ly.op for ly in blk.main] == ["conv", "batch_norm", "add", "relu"]
    assert a.block("layer1.1").main.params == conv(16, 16, 3) + bn(16)
    assert spec.block == "basic"


def test_free_form_spec_odd_input_and_one_channel() -> None:
    a = summarize("resnet18:layers=1-2-3-2-1,widths=8-16-24-32-40,input_size=97,in_channels=1,num_classes=7")
    assert a.plan.stem[0].in_shape == (1, 97, 97)
    # 97 -> conv7/2: 49 -> pool: 25 -> 25, 13, 7, 4, 2
    assert [s.blocks[-1].block.out_shape[1] for s in a.stages] == [25, 13, 7, 4, 2]
    assert a.plan.head[-1].out_shape == (7, 1, 1)
    assert a.stem.params == conv(1, 64, 7) + bn(64)


@pytest.mark.parametrize("depth", [18, 34, 50, 101, 152, 200])
def test_preact_imagenet_presets(depth: int) -> None:
    spec = get_preset(f"preact_resnet{depth}")
    assert spec.preact and spec.depth == depth
