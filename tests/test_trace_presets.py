"""Every preset, built as a torch module and traced, counts exactly as the analytic engine lays it out.

Two derivations that share no code path meet here: ``counts.analyze(spec)`` (pure shape arithmetic
from the spec) and the trace of ``builder.ResNet(spec)`` (the module, written after torchvision and
checked against fvcore and ``sum(numel)`` in ``test_verify``), run on the meta device and turned into
units by data flow alone. They must agree unit by unit in every field, and the traced plan must
match the preset's own spec.
"""

from __future__ import annotations

import functools
from dataclasses import replace

import pytest

pytest.importorskip("torch")

import torch
from torch import nn

from resnet_inspect.counts import Analysis, analyze, count_plan
from resnet_inspect.match import find_match
from resnet_inspect.nn.builder import ResNet
from resnet_inspect.nn.trace import record
from resnet_inspect.plan import Layer
from resnet_inspect.presets import PRESETS
from resnet_inspect.spec import ResNetSpec
from resnet_inspect.specio import parse_spec
from resnet_inspect.structure import NotResidual, plan_from_trace

pytestmark = pytest.mark.torch

RESIDUAL = [n for n, p in PRESETS.items() if p.spec.shortcut != "none"]
PLAIN = [n for n, p in PRESETS.items() if p.spec.shortcut == "none"]
#: He et al. (2015) Table 1: an N-layer plain net is N - 1 convs and one fc.
PLAIN_LAYERS = {"plain18": (17, 1), "plain34": (33, 1)}


def small(name: str) -> ResNetSpec:
    """The preset at input 64 where it has many units (counts per unit scale, structure does not)."""
    spec = PRESETS[name].spec
    return replace(spec, input_size=64) if spec.input_size > 64 and sum(spec.layers) > 8 else spec


def meta_model(spec: ResNetSpec) -> nn.Module:
    with torch.device("meta"):
        return ResNet(spec)


@functools.cache
def traced(name: str) -> Analysis:
    spec = small(name)
    trace = record(meta_model(spec), (spec.in_channels, spec.input_size, spec.input_size), name)
    return count_plan(plan_from_trace(trace))


def signature(layer: Layer) -> tuple[object, ...]:
    """A layer without its name: what it computes."""
    return (layer.op, layer.in_shape, layer.out_shape, layer.kernel_text, layer.stride, layer.groups, layer.padding,
            layer.bias, layer.affine, layer.shared, layer.other_params)


@pytest.mark.parametrize("name", RESIDUAL)
def test_traced_preset_equals_the_analytic_counts(name: str) -> None:
    got, want = traced(name), analyze(small(name))
    assert [b.block.name for b in got.blocks] == [b.block.name for b in want.blocks]
    compared: set[tuple[object, object]] = set()
    for g, w in zip(got.blocks, want.blocks):
        gb, wb = g.block, w.block
        fields = ("name", "stage", "index", "kind", "preact", "in_shape", "out_shape", "stride", "shortcut",
                  "shortcut_source", "extras")
        assert {f: getattr(gb, f) for f in fields} == {f: getattr(wb, f) for f in fields}, gb.name
        assert g.main == w.main, gb.name  # params, macs, activations, by_op
        assert g.shortcut == w.shortcut, gb.name
        if (gb.key, wb.key) not in compared:  # alike blocks share their layers: compare each pair once
            compared.add((gb.key, wb.key))
            assert [signature(ly) for ly in gb.main_template] == [signature(ly) for ly in wb.main_template], gb.name
            assert [signature(ly) for ly in gb.shortcut_template] == [signature(ly) for ly in wb.shortcut_template], gb.name
        assert gb.projection_kernel() == wb.projection_kernel()
    assert got.stem == want.stem
    assert got.head == want.head
    assert got.total == want.total
    assert [(s.stage, s.main, s.shortcut, dict(s.shortcut_kinds)) for s in got.stages] == [
        (s.stage, s.main, s.shortcut, dict(s.shortcut_kinds)) for s in want.stages]
    assert got.plan.depth == want.plan.depth == small(name).depth
    assert got.plan.layout == small(name).layers
    assert got.plan.num_classes == small(name).num_classes
    assert got.batch_norm_params == want.batch_norm_params


@pytest.mark.parametrize("name", RESIDUAL)
def test_traced_preset_matches_its_spec(name: str) -> None:
    spec = small(name)
    m = find_match(traced(name).plan)
    assert m.spec is not None, m.reason
    assert replace(m.spec, name="x") == replace(spec, name="x")
    assert parse_spec(m.spec.name) == m.spec  # the SPEC text names this very spec
    if spec == PRESETS[name].spec:
        assert m.spec.name == name


@pytest.mark.parametrize("name", PLAIN)
def test_plain_presets_are_not_residual(name: str) -> None:
    spec = small(name)
    model = meta_model(spec)
    convs = sum(isinstance(m, nn.Conv2d) for m in model.modules())
    linears = sum(isinstance(m, nn.Linear) for m in model.modules())
    assert (convs, linears) == PLAIN_LAYERS[name]
    trace = record(model, (spec.in_channels, spec.input_size, spec.input_size), name)
    with pytest.raises(NotResidual, match=rf"^{name}: .*no residual additions \({convs} conv, {linears} linear layers\)"):
        plan_from_trace(trace)


def test_builder_variants_trace_like_their_specs() -> None:
    """Beyond the presets: every block kind x shortcut option x pre-activation x stride placement,
    tiny, including single-conv units (whose main path has no more convs than a projection)."""
    failures = []
    for block in ("single", "basic", "bottleneck"):
        for option in "ABCD":
            for preact in (False, True):
                for stride_in in (("1x1", "3x3") if block == "bottleneck" else ("3x3",)):
                    spec = ResNetSpec(block=block, layers=(2, 1, 1), widths=(4, 8, 16), stem="cifar", stem_width=4,
                                      shortcut=option, preact=preact, stride_in=stride_in, input_size=16, num_classes=3)
                    plan = plan_from_trace(record(meta_model(spec), (3, 16, 16), "variant"))
                    got, want = count_plan(plan), analyze(spec)
                    same = [(b.block.shortcut, b.block.shortcut_source, b.block.kind, b.main, b.shortcut) for b in got.blocks] == [
                        (b.block.shortcut, b.block.shortcut_source, b.block.kind, b.main, b.shortcut) for b in want.blocks]
                    m = find_match(plan)
                    if not same or m.spec is None or replace(m.spec, name="x") != replace(spec, name="x"):
                        failures.append((block, option, preact, stride_in, m.reason))
    assert failures == []
