"""Invariants over every preset and over random specs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from resnet_inspect import summarize
from resnet_inspect.counts import OPS, count_layers, total
from resnet_inspect.presets import PRESETS
from resnet_inspect.report.summary import to_json
from resnet_inspect.spec import ResNetSpec

ALL = sorted(PRESETS)


def check_invariants(spec: ResNetSpec) -> None:
    a = summarize(spec)
    # totals equal stem + blocks + head
    assert a.total == total([a.stem, *(b.total for b in a.blocks), a.head])
    assert a.total == total([a.stem, *(s.total for s in a.stages), a.head])
    for b in a.blocks:
        # block params equal main + shortcut, and each part equals its layers
        assert b.total.params == b.main.params + b.shortcut.params
        assert b.main == count_layers(b.block.main)
        assert b.shortcut == count_layers(b.block.shortcut_layers)
        if b.block.shortcut in ("identity", "zero_pad", "none"):
            assert b.shortcut.params == 0 and b.shortcut.macs == 0
        else:
            assert b.shortcut.params > 0
    # shapes chain: every layer's input is the previous layer's output
    shape = a.plan.input_shape
    for layer in a.plan.stem:
        assert layer.in_shape == shape
        shape = layer.out_shape
    for b in a.blocks:
        assert b.block.in_shape == shape
        main_shape = shape
        for layer in b.block.main:
            if layer.op != "add":
                assert layer.in_shape == main_shape
            main_shape = layer.out_shape
        assert main_shape == b.block.out_shape
        shape = b.block.out_shape
    assert a.plan.head[-1].out_shape == (spec.num_classes, 1, 1)
    # MACs are conv + linear; FLOPs twice that
    assert a.total.macs == a.total.op("conv") + a.total.op("linear")
    assert a.total.flops == 2 * a.total.macs
    assert len(a.blocks) == sum(spec.layers)


@pytest.mark.parametrize("name", ALL)
def test_preset_invariants(name: str) -> None:
    check_invariants(PRESETS[name].spec)


@pytest.mark.parametrize("name", ALL)
def test_json_document_keys(name: str) -> None:
    doc = to_json(summarize(name))
    assert doc["schema_version"] == 1
    assert set(doc) >= {"schema_version", "spec", "totals", "stem", "blocks", "head"}
    assert set(doc["totals"]) >= {"params", "macs", "flops", "activations", "macs_by_op"}
    assert set(doc["totals"]["macs_by_op"]) >= {"conv", "linear", "batch_norm", "adaptive_avg_pool2d", "max_pool", "add", "relu"}
    assert set(doc["totals"]["macs_by_op"]) == set(OPS)
    assert set(doc["stem"]) >= {"params", "macs", "out_shape"}
    block_keys = {"name", "stage", "index", "kind", "in_shape", "out_shape", "stride", "shortcut", "params", "macs"}
    for blk in doc["blocks"]:
        assert set(blk) >= block_keys
        assert set(blk["params"]) == {"main", "shortcut", "total"} == set(blk["macs"])
        assert blk["shortcut"] in {"identity", "zero_pad", "projection", "avgpool_projection", "none"}
    assert doc["blocks"][0]["name"] == "layer1.0" and doc["blocks"][0]["stage"] == 1
    assert doc["totals"]["params"] == doc["stem"]["params"] + sum(b["params"]["total"] for b in doc["blocks"]) + doc["head"]["params"]


def test_shortcut_kinds_per_option() -> None:
    kinds = {opt: summarize(f"resnet34:shortcut={opt}").shortcut_kinds() for opt in ("A", "B", "C", "none")}
    assert kinds["A"] == {"identity": 13, "zero_pad": 3}
    assert kinds["B"] == {"identity": 13, "projection": 3}
    assert kinds["C"] == {"projection": 16}
    assert kinds["none"] == {"none": 16}


@st.composite
def specs(draw: st.DrawFn) -> ResNetSpec:
    block = draw(st.sampled_from(["basic", "bottleneck", "single"]))
    n = draw(st.integers(1, 6))
    layers = tuple(draw(st.lists(st.integers(1, 4), min_size=n, max_size=n)))
    widths = tuple(draw(st.lists(st.integers(1, 96), min_size=n, max_size=n)))
    stem = draw(st.sampled_from(["imagenet", "cifar", "deep"]))
    shortcut = draw(st.sampled_from(["A", "B", "C", "D", "none"]))
    if shortcut == "A":  # zero-padding needs widths that never narrow
        widths = tuple(sorted(widths))
    groups, wpg = 1, 64
    if block == "bottleneck" and draw(st.booleans()):
        groups = draw(st.integers(1, 8))
        wpg = draw(st.integers(4, 64))
        widths = tuple(max(w, 64) for w in widths)
    stem_width = draw(st.integers(2, 64))
    if shortcut == "A":
        stem_width = min(stem_width, widths[0] * (4 if block == "bottleneck" else 1))
    return ResNetSpec(
        block=block, layers=layers, widths=widths, stem=stem, stem_width=stem_width,
        stride_in=draw(st.sampled_from(["1x1", "3x3"])), shortcut=shortcut, groups=groups,
        width_per_group=wpg, preact=draw(st.booleans()), input_size=draw(st.integers(1, 300)),
        in_channels=draw(st.integers(1, 4)), num_classes=draw(st.integers(1, 1000)),
    )


@given(specs())
def test_random_spec_invariants(spec: ResNetSpec) -> None:
    check_invariants(spec)


@pytest.mark.parametrize("name", ["resnet152", "cifar_resnet110", "resnet50d", "wrn28_10"])
def test_runs_partition_the_blocks(name: str) -> None:
    a = summarize(name)
    runs = a.runs()
    assert [b for r in runs for b in r.blocks] == list(a.blocks)
    assert total(r.total for r in runs) == total(b.total for b in a.blocks)
    for r in runs:
        assert len({(b.block.in_shape, b.block.stride, b.block.shortcut, b.main, b.shortcut) for b in r.blocks}) == 1
    if name == "resnet152":
        assert [len(r.blocks) for r in runs] == [1, 2, 1, 7, 1, 35, 1, 2]
