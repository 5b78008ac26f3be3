"""`compare`: differences derived by hand, alignment of layouts, and the Markdown/JSON reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from resnet_inspect.cli import app
from resnet_inspect.compare import compare
from resnet_inspect.counts import analyze
from resnet_inspect.presets import PRESETS
from resnet_inspect.specio import parse_spec

from .reference import TORCHVISION

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


# ResNet-34 with option A (identity everywhere, zero-padding where shapes change: layer2.0,
# layer3.0, layer4.0) against option C (a 1x1 conv + BN projection on all 16 blocks).
# A projection Cin -> Cout at output resolution HxW adds
#   params      Cin*Cout (1x1 conv, no bias) + 2*Cout (BN weight and bias)
#   MACs        Cin*Cout*H*W
#   activations 2*Cout*H*W (conv and BN outputs); where it replaces option A's zero-padding, whose
#               output (Cout*H*W elements) is counted as a layer output too, it adds Cout*H*W.
# Stage resolutions at 224x224 input: 56, 28, 14, 7.
def _proj(cin: int, cout: int, hw: int) -> tuple[int, int]:
    return cin * cout + 2 * cout, cin * cout * hw * hw


STAGES = {  # stage: [(Cin, Cout, HW, replaces zero_pad)] per block
    1: [(64, 64, 56, False)] * 3,
    2: [(64, 128, 28, True)] + [(128, 128, 28, False)] * 3,
    3: [(128, 256, 14, True)] + [(256, 256, 14, False)] * 5,
    4: [(256, 512, 7, True)] + [(512, 512, 7, False)] * 2,
}


def _stage_delta(stage: int) -> tuple[int, int, int]:
    params = macs = acts = 0
    for cin, cout, hw, was_pad in STAGES[stage]:
        p, m = _proj(cin, cout, hw)
        params += p
        macs += m
        acts += cout * hw * hw * (1 if was_pad else 2)
    return params, macs, acts


def test_hand_arithmetic() -> None:
    """The per-stage numbers written out, so the table above can be checked by eye."""
    assert _stage_delta(1) == (3 * (64 * 64 + 128), 3 * 64 * 64 * 56 * 56, 3 * 2 * 64 * 56 * 56)
    assert _stage_delta(1) == (12_672, 38_535_168, 1_204_224)
    assert _stage_delta(2) == (8_448 + 3 * 16_640, 6_422_528 + 3 * 12_845_056, 7 * 100_352)
    assert _stage_delta(3) == (33_280 + 5 * 66_048, 6_422_528 + 5 * 12_845_056, 11 * 50_176)
    assert _stage_delta(4) == (132_096 + 2 * 263_168, 6_422_528 + 2 * 12_845_056, 5 * 25_088)


PARAMS_DELTA = 1_092_992  # 12,672 + 58,368 + 363,520 + 658,432
MACS_DELTA = 186_253_312  # 38,535,168 + 44,957,696 + 70,647,808 + 32,112,640
ACTS_DELTA = 2_584_064  # 1,204,224 + 702,464 + 551,936 + 125,440
# Option B (torchvision) has the three stage-changing projections; option A has none of them.
OPTION_B_ONLY = 8_448 + 33_280 + 132_096


def test_shortcut_a_vs_c_exact() -> None:
    a = analyze(parse_spec("resnet34:shortcut=A"))
    c = analyze(parse_spec("resnet34:shortcut=C"))
    cmp = compare(a, c)
    assert sum(_stage_delta(s)[0] for s in STAGES) == PARAMS_DELTA
    assert sum(_stage_delta(s)[1] for s in STAGES) == MACS_DELTA
    assert sum(_stage_delta(s)[2] for s in STAGES) == ACTS_DELTA

    m = cmp.totals.metrics
    assert m.params.a == TORCHVISION["resnet34"][0] - OPTION_B_ONLY
    assert m.params.diff == PARAMS_DELTA
    assert m.params.b == TORCHVISION["resnet34"][0] - OPTION_B_ONLY + PARAMS_DELTA
    assert m.macs.diff == MACS_DELTA
    assert m.activations.diff == ACTS_DELTA
    assert (m.shortcut_params.a, m.shortcut_params.b) == (0, PARAMS_DELTA)
    assert (m.shortcut_macs.a, m.shortcut_macs.b) == (0, MACS_DELTA)
    assert m.params.relative == pytest.approx(PARAMS_DELTA / m.params.a)
    assert m.shortcut_params.relative is None  # new in B: no ratio
    kinds = {k: (d.a, d.b) for k, d in cmp.totals.shortcuts}
    assert kinds == {"identity": (13, 0), "zero_pad": (3, 0), "projection": (0, 16)}
    assert (cmp.totals.projections.a, cmp.totals.projections.b) == (0, 16)
    assert cmp.totals.blocks.diff == 0 and cmp.totals.depth.diff == 0

    for s in cmp.stages:
        assert (s.metrics.params.diff, s.metrics.macs.diff, s.metrics.activations.diff) == _stage_delta(s.stage)

    assert cmp.aligned and cmp.blocks is not None and len(cmp.blocks) == 16
    by_name = {b.name: b for b in cmp.blocks}
    assert by_name["layer2.0"].metrics.params.diff == 64 * 128 + 2 * 128
    assert by_name["layer2.0"].metrics.macs.diff == 64 * 128 * 28 * 28
    assert (by_name["layer2.0"].shortcut_a, by_name["layer2.0"].shortcut_b) == ("zero_pad", "projection")
    assert by_name["layer4.2"].metrics.params.diff == 512 * 512 + 2 * 512
    assert by_name["layer1.1"].metrics.macs.diff == 64 * 64 * 56 * 56
    assert all(b.changed() for b in cmp.blocks)


def test_shortcut_a_vs_c_cli_json_and_markdown() -> None:
    code, out, _ = run("compare", "resnet34:shortcut=A", "resnet34:shortcut=C", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["totals"]["params"]["diff"] == PARAMS_DELTA
    assert doc["totals"]["macs"]["diff"] == MACS_DELTA
    assert doc["totals"]["flops"]["diff"] == 2 * MACS_DELTA
    assert doc["totals"]["activations"]["diff"] == ACTS_DELTA
    assert doc["totals"]["shortcuts"]["projection"] == {"a": 0, "b": 16, "diff": 16, "relative": None}
    assert [s["params"]["diff"] for s in doc["stages"]] == [_stage_delta(s)[0] for s in (1, 2, 3, 4)]
    assert doc["blocks_aligned"] is True and len(doc["blocks"]) == 16
    assert doc["a"]["spec"]["shortcut"] == "A" and doc["b"]["spec"]["shortcut"] == "C"

    code, md, _ = run("compare", "resnet34:shortcut=A", "resnet34:shortcut=C", "--format", "markdown")
    assert code == 0
    assert "### resnet-inspect compare: resnet34:shortcut=A → resnet34:shortcut=C" in md
    assert "| params | 21.62 M | 22.72 M | +1.09 M | +5.1% |" in md
    assert "| shortcuts: projection | 0 | 16 | +16 | new |" in md
    assert "| layer2.0 | zero-pad → projection |" in md
    assert md.count("\n| layer") == 4 + 16  # four stage rows, sixteen block rows


def test_same_network_has_no_differences() -> None:
    code, md, _ = run("compare", "resnet50", "resnet50", "--format", "markdown")
    assert code == 0
    assert "All 16 blocks are the same in A and B." in md
    assert "| params | 25.56 M | 25.56 M | 0 | 0.0% |" in md


def test_num_classes_changes_only_the_head() -> None:
    """1000 -> 1001 classes: one more FC row of 512 weights and one bias; every block unchanged."""
    cmp = compare(analyze(PRESETS["resnet18"].spec), analyze(parse_spec("resnet18:num_classes=1001")))
    assert cmp.totals.metrics.params.diff == 513
    assert cmp.totals.metrics.macs.diff == 512
    assert cmp.blocks is not None and not any(b.changed() for b in cmp.blocks)
    assert all(s.metrics.params.diff == 0 for s in cmp.stages)


def test_different_layouts_compare_per_stage() -> None:
    cmp = compare(analyze(PRESETS["resnet50"].spec), analyze(PRESETS["resnet101"].spec))
    assert cmp.blocks is None and not cmp.aligned
    assert "3-4-6-3 vs 3-4-23-3" in cmp.alignment
    # ResNet-101 adds 17 identical bottlenecks to stage 3 (1024 -> 256 -> 256 -> 1024 at 14x14):
    per_block_params = 1024 * 256 + 2 * 256 + 256 * 256 * 9 + 2 * 256 + 256 * 1024 + 2 * 1024
    per_block_macs = (1024 * 256 + 256 * 256 * 9 + 256 * 1024) * 14 * 14
    stage3 = cmp.stages[2]
    assert (stage3.blocks.a, stage3.blocks.b) == (6, 23)
    assert stage3.metrics.params.diff == 17 * per_block_params
    assert stage3.metrics.macs.diff == 17 * per_block_macs
    assert cmp.totals.metrics.params.diff == TORCHVISION["resnet101"][0] - TORCHVISION["resnet50"][0] == 17 * per_block_params
    assert [s.metrics.params.diff for s in cmp.stages if s.stage != 3] == [0, 0, 0]

    code, md, _ = run("compare", "resnet50", "resnet101", "-f", "markdown")
    assert code == 0 and "compared per stage only" in md and "per block" not in md


def test_different_stage_counts() -> None:
    cmp = compare(analyze(PRESETS["cifar_resnet20"].spec), analyze(PRESETS["resnet18"].spec))
    assert cmp.blocks is None and "3 stages vs 4" in cmp.alignment
    last = cmp.stages[-1]
    assert (last.stage, last.in_a, last.in_b, last.blocks.a, last.blocks.b) == (4, False, True, 0, 2)
    assert last.metrics.params.a == 0 and last.metrics.params.relative is None


def test_config_files_with_the_same_name_are_labelled_by_path(tmp_path: Path) -> None:
    d = tmp_path
    (d / "base").mkdir()
    (d / "pr").mkdir()
    (d / "base" / "net.toml").write_text('base = "resnet50"\n')
    (d / "pr" / "net.toml").write_text('base = "resnet50"\nstride_in = "1x1"\n')
    code, out, _ = run("compare", str(d / "base" / "net.toml"), str(d / "pr" / "net.toml"), "-f", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["a"]["label"].endswith("base/net.toml") and doc["b"]["label"].endswith("pr/net.toml")
    assert doc["totals"]["params"]["diff"] == 0  # moving the stride changes MACs, not parameters
    # Striding in the 1x1 conv moves conv1 (1x1, Cin -> w) of each downsampling bottleneck from the
    # input resolution (2hw)^2 to the output resolution hw^2; its 3x3 conv runs at hw^2 either way.
    macs_saved = sum(cin * w * ((2 * hw) ** 2 - hw**2) for cin, w, hw in ((256, 128, 28), (512, 256, 14), (1024, 512, 7)))
    assert doc["totals"]["macs"]["diff"] == -macs_saved


def test_bad_spec_reports_both_sides() -> None:
    code, out, err = run("compare", "resnet5", "resnet34:shortcut=E")
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert len(lines) == 2 and "did you mean resnet50" in lines[0] and "A, B, C, D, none" in lines[1]


@settings(max_examples=30, deadline=None)
@given(
    a=st.sampled_from(sorted(PRESETS)),
    b=st.sampled_from(sorted(PRESETS)),
    size=st.sampled_from([32, 64, 224]),
)
def test_parts_add_up(a: str, b: str, size: int) -> None:
    """Stage differences plus stem and head differences make the total difference; where blocks
    align, block differences make each stage's."""
    sa, sb = parse_spec(f"{a}:input_size={size}"), parse_spec(f"{b}:input_size={size}")
    xa, xb = analyze(sa), analyze(sb)
    cmp = compare(xa, xb)
    for metric in ("params", "macs", "activations"):
        stages = sum(getattr(s.metrics, metric).diff for s in cmp.stages)
        ends = getattr(xb.stem, metric) + getattr(xb.head, metric) - getattr(xa.stem, metric) - getattr(xa.head, metric)
        assert stages + ends == getattr(cmp.totals.metrics, metric).diff
        if cmp.blocks is not None:
            for s in cmp.stages:
                assert sum(getattr(bd.metrics, metric).diff for bd in cmp.blocks if bd.stage == s.stage) == getattr(s.metrics, metric).diff
    assert cmp.aligned == (sa.layers == sb.layers)
