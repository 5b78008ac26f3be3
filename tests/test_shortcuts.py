"""The shortcut analysis against numbers derived by hand from layer shapes (the arithmetic is written
out in each test), published totals, and the built torch module."""

from __future__ import annotations

import importlib.util
from dataclasses import replace

import pytest

from resnet_inspect.paper import RESULTS, paper_result
from resnet_inspect.presets import PRESETS
from resnet_inspect.report.shortcuts import comparisons, notes, to_json, verdict
from resnet_inspect.shortcuts import OPTIONS, ShortcutStudy, study
from resnet_inspect.specio import parse_spec
from resnet_inspect.units import in_unit_of

from .reference import TORCHVISION


def bn(c: int) -> int:
    return 2 * c


def proj(cin: int, cout: int) -> int:
    """A 1x1 conv + BN projection's parameters."""
    return cin * cout + bn(cout)


def S(text: str) -> ShortcutStudy:
    return study(parse_spec(text))


# ResNet-34 (torchvision shapes, 224 input): stages at 56, 28, 14, 7 pixels, widths 64..512.
# B's projections sit in layer2.0, layer3.0, layer4.0, each 1x1 at the stage's output resolution:
R34_B_PROJ_PARAMS = proj(64, 128) + proj(128, 256) + proj(256, 512)  # 8,448 + 33,280 + 132,096
R34_B_PROJ_MACS = 64 * 128 * 28 * 28 + 128 * 256 * 14 * 14 + 256 * 512 * 7 * 7  # 3 x 6,422,528
# C adds one on each of the 13 other blocks (3 + 3 + 5 + 2), where shapes match:
R34_C_EXTRA_PARAMS = 3 * proj(64, 64) + 3 * proj(128, 128) + 5 * proj(256, 256) + 2 * proj(512, 512)
R34_C_EXTRA_MACS = 3 * 64 * 64 * 56 * 56 + 3 * 128 * 128 * 28 * 28 + 5 * 256 * 256 * 14 * 14 + 2 * 512 * 512 * 7 * 7


def resnet34_macs_without_shortcuts() -> int:
    """Conv + FC multiply-adds of ResNet-34's stem, main paths and head, from Table 1's shapes."""
    macs = 3 * 64 * 7 * 7 * 112 * 112  # 7x7/2 stem conv to 112x112
    cin, size = 64, 56
    for i, (n, width) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512))):
        for j in range(n):
            out = size // 2 if (i > 0 and j == 0) else size
            macs += cin * width * 9 * out * out + width * width * 9 * out * out  # two 3x3 convs
            cin, size = width, out
    return macs + 512 * 1000  # FC


def test_resnet34_projection_arithmetic() -> None:
    assert R34_B_PROJ_PARAMS == 173_824
    assert R34_B_PROJ_MACS == 19_267_584
    assert R34_C_EXTRA_PARAMS == 919_168  # the "+0.92 M params"
    assert R34_C_EXTRA_MACS == 13 * 12_845_056 == 166_985_728  # "+0.17 GMACs"


def test_resnet34_a_b_c_network_view() -> None:
    s = S("resnet34")
    a, b, c, plain = s.option("A"), s.option("B"), s.option("C"), s.option("none")
    tv_params = TORCHVISION["resnet34"][0]  # torchvision's resnet34 is option B
    main_macs = resnet34_macs_without_shortcuts()
    assert b.params == tv_params
    assert round(b.macs / 1e9, 2) == TORCHVISION["resnet34"][1]
    assert a.params == plain.params == tv_params - R34_B_PROJ_PARAMS == 21_623_848
    assert a.macs == plain.macs == main_macs
    assert b.macs == main_macs + R34_B_PROJ_MACS
    assert c.params == tv_params + R34_C_EXTRA_PARAMS
    assert c.macs == b.macs + R34_C_EXTRA_MACS
    assert (a.shortcut_params, b.shortcut_params, c.shortcut_params) == (0, R34_B_PROJ_PARAMS, R34_B_PROJ_PARAMS + R34_C_EXTRA_PARAMS)
    assert (a.projections, b.projections, c.projections) == (0, 3, 16)
    assert a.kinds == {"identity": 13, "zero_pad": 3}
    assert s.baseline == "A"
    assert s.delta("B", "params") == R34_B_PROJ_PARAMS and s.delta("C", "macs") == R34_B_PROJ_MACS + R34_C_EXTRA_MACS
    # C's 16 projections include B's 3: the shape-changing blocks.
    b_blocks = {x.block.name for x in S("resnet34").blocks if x.block.shortcut == "projection"}
    c_blocks = {x.block.name for x in S("resnet34:shortcut=C").blocks if x.block.shortcut == "projection"}
    assert b_blocks == {"layer2.0", "layer3.0", "layer4.0"} and b_blocks < c_blocks and len(c_blocks) == 16


def test_resnet34_paper_comparisons() -> None:
    by_pair = {(c["from"], c["to"]): c for c in comparisons(S("resnet34"))}
    assert set(by_pair) == {("none", "A"), ("A", "B"), ("B", "C")}
    cb = by_pair["B", "C"]
    assert (cb["params"], cb["macs"]) == (R34_C_EXTRA_PARAMS, R34_C_EXTRA_MACS)
    assert cb["top1_gain"] == pytest.approx(24.52 - 24.19) and cb["top5_gain"] == pytest.approx(7.46 - 7.40)
    assert "C against B: +0.92 M params and +0.17 G MACs for 0.33 points of top-1" in cb["text"]
    na = by_pair["none", "A"]
    assert (na["params"], na["macs"]) == (0, 0) and na["top1_gain"] == pytest.approx(28.54 - 25.03)


def test_resnet50_projection_share() -> None:
    # layer1.0 64->256 (stride 1), layer2.0 256->512, layer3.0 512->1024, layer4.0 1024->2048.
    expected = proj(64, 256) + proj(256, 512) + proj(512, 1024) + proj(1024, 2048)
    assert expected == 16_896 + 132_096 + 526_336 + 2_101_248 == 2_776_576
    b = S("resnet50").option("B")
    assert b.shortcut_params == expected and b.projections == 4
    assert b.params == TORCHVISION["resnet50"][0]
    assert b.shortcut_params / b.params == pytest.approx(2_776_576 / 25_557_032)  # 10.86 %
    # MACs: each projection at its output map: 64*256*56², 256*512*28², 512*1024*14², 1024*2048*7².
    assert b.shortcut_macs == 64 * 256 * 56**2 + 256 * 512 * 28**2 + 512 * 1024 * 14**2 + 1024 * 2048 * 7**2


def test_256d_bottleneck_ratio() -> None:
    """He et al. 2015 Fig. 5: 256->64->64->256 has 256*64 + 9*64*64 + 64*256 = 69,632 weights; a
    256x256 projection has 65,536, 'doubling' the block."""
    blk = S("resnet50").block("layer1.1")
    assert blk.block.in_shape == blk.block.out_shape == (256, 56, 56)
    assert blk.main.weights == 256 * 64 + 9 * 64 * 64 + 64 * 256 == 69_632
    assert blk.projection.weights == 256 * 256 == 65_536
    assert blk.ratio("weights") == pytest.approx(65_536 / 69_632)
    assert blk.ratio("macs") == pytest.approx(65_536 / 69_632)  # both paths run at 56x56
    assert blk.main.params == 69_632 + bn(64) + bn(64) + bn(256)
    assert blk.projection.params == 65_536 + bn(256)
    assert blk.projection.macs == 65_536 * 56 * 56
    assert (blk.identity is not None and blk.identity.params == 0)
    assert any("69,632" in n and "65,536" in n for n in notes(S("resnet50")))


def test_64d_basic_block_ratio() -> None:
    blk = S("resnet34").block("layer1.0")
    assert blk.main.weights == 2 * 64 * 64 * 9 == 73_728
    assert blk.projection.weights == 64 * 64 == 4_096
    assert blk.ratio("weights") == pytest.approx(4_096 / 73_728)  # under 6 %
    assert blk.ratio("weights") < 0.06


def test_cifar_resnet20_a_vs_b() -> None:
    # B's projections: layer2.0 16->32 at 16x16, layer3.0 32->64 at 8x8.
    params = proj(16, 32) + proj(32, 64)
    macs = 16 * 32 * 16 * 16 + 32 * 64 * 8 * 8
    assert params == 576 + 2_176 == 2_752 and macs == 262_144
    s = S("cifar_resnet20")
    assert s.spec.shortcut == "A" and s.option("A").params == 269_722
    assert s.delta("B", "params") == params and s.delta("B", "macs") == macs
    assert s.option("B").projections == 2
    # C: a projection on all 9 blocks; the 7 others are 16->16 (x3 at 32x32), 32->32 (x2 at 16x16), 64->64 (x2 at 8x8).
    c_extra = 3 * proj(16, 16) + 2 * proj(32, 32) + 2 * proj(64, 64)
    assert s.delta("C", "params") == params + c_extra


def test_block_alternatives_follow_shapes() -> None:
    s = S("resnet50")
    l20 = s.block("layer2.0")
    assert l20.identity is None  # 256x56x56 -> 512x28x28: an identity cannot be added
    assert l20.zero_pad is not None and l20.zero_pad.params == 0 == l20.zero_pad.macs
    assert l20.avgpool_projection is not None
    # ResNet-D: pool then a stride-1 1x1 conv at 28x28, same weights and conv MACs as B's projection.
    assert l20.avgpool_projection == l20.projection == l20.actual
    assert l20.projection.params == proj(256, 512) and l20.projection.macs == 256 * 512 * 28 * 28
    assert s.block("layer1.0").avgpool_projection is None  # stride 1
    narrowing = S("resnet50:widths=64-32-256-512")  # stage 2 narrows 256 -> 128
    assert narrowing.block("layer2.0").zero_pad is None
    assert not narrowing.option("A").available and narrowing.baseline == "B"
    assert "narrows 256->128" in (narrowing.option("A").reason or "")
    assert to_json(narrowing)["network"][1]["params"] is None


def test_hypothetical_projection_equals_real_one() -> None:
    """What the block view says a projection would cost is what the engine counts when it is there."""
    for spec in ("resnet50:shortcut=C", "preact_resnet18:shortcut=C", "resnext50_32x4d:shortcut=C", "cifar_resnet20:shortcut=C"):
        for b in S(spec).blocks:
            assert b.block.shortcut == "projection"
            assert b.projection == b.actual, (spec, b.block.name)


def test_preact_projection_has_no_bn() -> None:
    blk = S("preact_resnet18").block("layer2.0")
    assert blk.projection.params == blk.projection.weights == 64 * 128


def test_paper_errors_only_where_measured() -> None:
    expected = {
        "plain34": "plain-34", "resnet34:shortcut=A": "ResNet-34 A", "resnet34": "ResNet-34 B",
        "resnet34:shortcut=C": "ResNet-34 C", "resnet34:shortcut=none": "plain-34",
        "resnet50:stride_in=1x1": "ResNet-50", "resnet101:stride_in=1x1": "ResNet-101",
        "resnet152:stride_in=1x1": "ResNet-152", "plain18": "plain-18", "resnet18:shortcut=A": "ResNet-18 A",
        # stride placement does not exist for basic blocks: resnet34 with either value is the paper's
        "resnet34:stride_in=1x1,shortcut=C": "ResNet-34 C",
    }
    for text, label in expected.items():
        found = paper_result(parse_spec(text))
        assert found is not None and found.label == label, text
    for text in (
        "resnet50", "resnet50:stride_in=1x1,shortcut=C", "resnet50:stride_in=1x1,shortcut=A",
        "resnet34:shortcut=D", "resnet34:num_classes=10", "resnet34:input_size=320", "resnet18",
        "preact_resnet34", "resnet34d", "resnext50_32x4d:stride_in=1x1", "wide_resnet50_2:stride_in=1x1",
        "cifar_resnet20", "resnet34:in_channels=1", "resnet34:stem_width=32",
    ):
        assert paper_result(parse_spec(text)) is None, text
    # Matching reads the architecture, not the name.
    renamed = replace(parse_spec("resnet34:shortcut=C"), name="my_net")
    assert paper_result(renamed) is not None
    # The published values, as in ../shared/reference/published.md (Tables 2 and 3).
    table = {r.label: (r.top1, r.top5) for r in RESULTS}
    assert table["ResNet-34 A"] == (25.03, 7.76) and table["ResNet-34 B"] == (24.52, 7.46)
    assert table["ResNet-34 C"] == (24.19, 7.40) and table["plain-34"] == (28.54, 10.02)
    assert table["ResNet-50"] == (22.85, 6.71) and table["ResNet-152"] == (21.43, 5.71)
    assert table["ResNet-18 A"] == (27.88, None) and table["plain-18"] == (27.94, None)


def test_no_preset_gets_errors_except_the_papers() -> None:
    """Across every preset and every option, only the paper's networks ever carry errors."""
    measured = set()
    for name, p in PRESETS.items():
        for opt in OPTIONS:
            try:
                spec = replace(p.spec, shortcut=opt)
            except Exception:
                continue
            r = paper_result(spec)
            if r is not None:
                measured.add((name, opt, r.label))
    assert measured == {
        ("resnet18", "A", "ResNet-18 A"), ("resnet18", "none", "plain-18"),
        ("plain18", "A", "ResNet-18 A"), ("plain18", "none", "plain-18"),
        ("resnet34", "A", "ResNet-34 A"), ("resnet34", "B", "ResNet-34 B"), ("resnet34", "C", "ResNet-34 C"),
        ("resnet34", "none", "plain-34"),
        ("plain34", "A", "ResNet-34 A"), ("plain34", "B", "ResNet-34 B"), ("plain34", "C", "ResNet-34 C"),
        ("plain34", "none", "plain-34"),
    }


def test_json_document_shape() -> None:
    doc = to_json(S("resnet34"))
    assert doc["schema_version"] == 1 and doc["given"] == "B" and doc["baseline"] == "A"
    assert [o["option"] for o in doc["network"]] == list(OPTIONS)
    c = next(o for o in doc["network"] if o["option"] == "C")
    assert c["delta"]["params"] == R34_B_PROJ_PARAMS + R34_C_EXTRA_PARAMS
    assert c["paper"]["top1"] == 24.19 and "Table 3" in c["paper"]["source"]
    assert next(o for o in doc["network"] if o["option"] == "D")["paper"] is None
    assert len(doc["blocks"]) == 16
    l20 = doc["blocks"][3]
    assert l20["name"] == "layer2.0" and l20["alternatives"]["identity"] is None
    assert l20["alternatives"]["projection"] == {"params": proj(64, 128), "weights": 64 * 128, "macs": 64 * 128 * 28 * 28}
    view = to_json(S("resnet34"), "network")
    assert "blocks" not in view and "verdict" not in view and "network" in view


def test_verdict_names_where_it_matters() -> None:
    v50 = verdict(S("resnet50"))
    assert "15 of 16 blocks" in v50 and "layer1.0, layer2.0, layer3.0, layer4.0" in v50
    v34 = verdict(S("resnet34"))
    assert "no block would grow by half" in v34 and "+0.92 M params" in v34


def test_in_unit_of() -> None:
    assert in_unit_of(919_168, 21_797_672) == "+0.92 M"
    assert in_unit_of(166_985_728, 3_663_761_408) == "+0.17 G"
    assert in_unit_of(-2_752, 272_474) == "-2.75 K"
    assert in_unit_of(0, 10**9) == "0"


BUILDER = importlib.util.find_spec("resnet_inspect.nn.builder") is not None and importlib.util.find_spec("torch") is not None


@pytest.mark.torch
@pytest.mark.skipif(not BUILDER, reason="resnet_inspect.nn.builder or torch not available")
def test_built_module_projection_params() -> None:
    """The real module's shortcut weights (``downsample`` submodules) equal the hand counts."""
    from resnet_inspect.nn.builder import build_model

    for text, expected, count in (
        ("resnet34", R34_B_PROJ_PARAMS, 3),
        ("resnet34:shortcut=C", R34_B_PROJ_PARAMS + R34_C_EXTRA_PARAMS, 16),
        ("resnet34:shortcut=A", 0, 0),
    ):
        model = build_model(parse_spec(text), seed=0)
        shortcut = sum(p.numel() for n, p in model.named_parameters() if ".downsample." in n)
        convs = {n.rsplit(".", 1)[0] for n, p in model.named_parameters() if ".downsample." in n and p.dim() == 4}
        assert shortcut == expected, text
        assert len(convs) == count, text
        assert shortcut == S(text).option(parse_spec(text).shortcut).shortcut_params
