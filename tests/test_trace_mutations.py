"""Checks that could agree with themselves, each shown to fail when the network (or a count) is
changed: a unit without its addition disappears, a projection's kernel moves its parameters by
exactly the numel difference, and the fvcore comparison flags a module with one conv widened or
an analytic count made wrong on purpose."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest

pytest.importorskip("torch")
pytest.importorskip("fvcore")

import torch
from torch import nn

from resnet_inspect import counts
from resnet_inspect.counts import analyze, count_plan
from resnet_inspect.match import find_match
from resnet_inspect.nn.builder import ResNet, conv1x1
from resnet_inspect.nn.trace import record
from resnet_inspect.presets import PRESETS
from resnet_inspect.spec import ResNetSpec
from resnet_inspect.structure import NotResidual, plan_from_trace

from .tracing import count_mismatches, numel, real_model, trace_analysis, trace_plan, user_factory

pytestmark = pytest.mark.torch

TUTORIAL = "docs/examples/tutorial_resnet.py:ResNet"  # the worked example of docs/own-resnet.md
OPTION_B = "tests/usernets/cifar_option_b.py:ResNet18"
SHAPE = (3, 32, 32)


def tutorial() -> nn.Module:
    """A fresh copy of the tutorial network (the cached real one stays unmodified)."""
    return copy.deepcopy(real_model(TUTORIAL))


def without_addition(block: nn.Module) -> None:
    """Turn ``block`` into the tutorial's ``ResidualBlock`` with ``out += residual`` deleted."""
    base = type(block)

    class NoAdd(base):  # type: ignore[valid-type, misc]
        def forward(self, x):  # type: ignore[no-untyped-def]
            out = self.conv1(x)
            out = self.bn1(out)
            out = self.relu(out)
            out = self.conv2(out)
            out = self.bn2(out)
            return self.relu(out)

    block.__class__ = NoAdd


def residual_first(block: nn.Module) -> None:
    """The same block with its addition written ``residual + out``: nothing may change."""
    base = type(block)

    class Swapped(base):  # type: ignore[valid-type, misc]
        def forward(self, x):  # type: ignore[no-untyped-def]
            residual = self.downsample(x) if self.downsample else x
            out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
            return self.relu(residual + out)

    block.__class__ = Swapped


# ---------------------------------------------------------------------------------------- additions


def test_removing_the_addition_removes_the_unit() -> None:
    model = tutorial()
    before = trace_analysis(model, SHAPE)
    without_addition(model.layer2[1])
    after = trace_analysis(model, SHAPE)
    names = [b.block.name for b in after.blocks]
    assert names == [b.block.name for b in before.blocks if b.block.name != "layer2.1"]
    # Its layers now run between two units: they belong to the next unit, which says so.
    nxt = after.block("layer3.0")
    assert nxt.total.params == numel(model.layer2[1]) + numel(model.layer3[0])
    (between,) = [e for e in nxt.block.extras if e.kind == "between units"]
    assert "layer2.1.conv1" in between.layers and "layer2.1.conv2" in between.layers
    assert nxt.total.params != before.block("layer3.0").total.params
    assert after.total.params == before.total.params == numel(model)  # nothing is lost
    assert after.total.op("add") == before.total.op("add") - 32 * 16 * 16


def test_removing_every_addition_leaves_no_resnet() -> None:
    model = tutorial()
    for m in model.modules():
        if type(m).__name__ == "ResidualBlock" and m.downsample is None:
            without_addition(m)
    for m in (model.layer2[0], model.layer3[0]):
        m.downsample = None
        without_addition(m)
    convs = sum(isinstance(m, nn.Conv2d) for m in model.modules())
    assert convs == 1 + 6 * 2
    with pytest.raises(NotResidual, match=rf"\({convs} conv, 1 linear layers\)"):
        trace_plan(model, SHAPE)


def test_operand_order_changes_nothing() -> None:
    model = tutorial()
    before = trace_analysis(model, SHAPE)
    for m in model.modules():
        if type(m).__name__ == "ResidualBlock":
            residual_first(m)
    after = trace_analysis(model, SHAPE)
    assert [(b.block.name, b.block.shortcut, b.main, b.shortcut) for b in after.blocks] == [
        (b.block.name, b.block.shortcut, b.main, b.shortcut) for b in before.blocks]


# ---------------------------------------------------------------------------------------- projections


def test_projection_kernel_moves_the_shortcut_params_by_the_numel_difference() -> None:
    model = tutorial()
    before = trace_analysis(model, SHAPE)
    old = model.layer2[0].downsample[0]
    new = nn.Conv2d(16, 32, kernel_size=1, stride=2, bias=False)
    model.layer2[0].downsample[0] = new
    after = trace_analysis(model, SHAPE)
    b0, b1 = before.block("layer2.0"), after.block("layer2.0")
    assert (b0.block.projection_kernel(), b1.block.projection_kernel()) == ("3x3", "1x1")
    assert b0.shortcut.params - b1.shortcut.params == numel(old) - numel(new) == 16 * 32 * 8
    assert b0.main == b1.main
    assert b0.shortcut.macs - b1.shortcut.macs == 32 * 16 * 16 * 16 * 8
    assert count_mismatches(after, model, SHAPE) == []


def test_tutorial_with_1x1_projections_is_a_spec() -> None:
    """The tutorial's only difference from option B is its 3x3 projections: change both and it
    matches the spec written by hand from its code."""
    model = tutorial()
    assert find_match(trace_plan(model, SHAPE)).spec is None
    model.layer2[0].downsample[0] = nn.Conv2d(16, 32, 1, 2, bias=False)
    model.layer3[0].downsample[0] = nn.Conv2d(32, 64, 1, 2, bias=False)
    m = find_match(trace_plan(model, SHAPE))
    expected = ResNetSpec(block="basic", layers=(2, 2, 2), widths=(16, 32, 64), stem="cifar", stem_width=16,
                          shortcut="B", input_size=32, num_classes=10, name="x")
    assert m.spec is not None, m.reason
    assert replace(m.spec, name="x") == expected
    assert analyze(expected).total.params == numel(model)


# ---------------------------------------------------------------------------------------- the checks


def widened(model: nn.Module) -> nn.Module:
    """``model`` with ``layer1.1``'s first conv widened from 64 to 80 channels (and the BN and conv
    after it to match): same shapes in and out of every unit, different counts in one."""
    wide = copy.deepcopy(model)
    unit = wide.layer1[1]
    unit.conv1 = nn.Conv2d(64, 80, 3, 1, 1, bias=False)
    unit.bn1 = nn.BatchNorm2d(80)
    unit.conv2 = nn.Conv2d(80, 64, 3, 1, 1, bias=False)
    return wide.eval()


def test_fvcore_comparison_catches_a_widened_conv() -> None:
    model = real_model(OPTION_B)
    traced = trace_analysis(model, SHAPE)
    assert count_mismatches(traced, model, SHAPE) == []
    wide = widened(model)
    problems = count_mismatches(traced, wide, SHAPE)
    scopes = {p.split(" ")[0] for p in problems}
    assert scopes == {"layer1.1", "total"}, problems
    assert any(p.startswith("layer1.1 ops") for p in problems)
    assert any(p.startswith("layer1.1 macs") for p in problems)
    # Traced afresh, the widened module agrees with itself.
    assert count_mismatches(trace_analysis(wide, SHAPE), wide, SHAPE) == []


def test_fvcore_comparison_catches_a_wrong_analytic_count(monkeypatch: pytest.MonkeyPatch) -> None:
    """Count batch norm as fvcore does not (1 per element, affine or not): every unit is flagged."""
    model = real_model(OPTION_B)
    original = counts.layer_op_count

    def wrong(layer):  # type: ignore[no-untyped-def]
        n = original(layer)
        return n // 2 if layer.op == "batch_norm" and layer.affine else n

    monkeypatch.setattr(counts, "layer_op_count", wrong)
    problems = count_mismatches(trace_analysis(model, SHAPE), model, SHAPE)
    flagged = {p.split(" ")[0] for p in problems if " ops: " in p}
    assert flagged == {f"layer{s}.{i}" for s in (1, 2, 3, 4) for i in (0, 1)} | {"total"}


def test_preset_comparison_catches_one_changed_unit() -> None:
    """resnet18 built with one extra projection (option C in layer1.1 only): the trace and the
    spec's analysis differ there, and only there, and no spec matches."""
    spec = replace(PRESETS["resnet18"].spec, input_size=64)
    with torch.device("meta"):
        model = ResNet(spec)
        model.layer1[1].downsample = nn.Sequential(conv1x1(64, 64), nn.BatchNorm2d(64))
    plan = plan_from_trace(record(model, (3, 64, 64), "mutant"))
    got, want = count_plan(plan), analyze(spec)
    differ = [g.block.name for g, w in zip(got.blocks, want.blocks)
              if (g.block.shortcut, g.main, g.shortcut) != (w.block.shortcut, w.main, w.shortcut)]
    assert differ == ["layer1.1"]
    assert got.block("layer1.1").shortcut.params == 64 * 64 + 2 * 64
    m = find_match(plan)
    # Option C proposed (a projection where shapes match), refused at the first unit without one.
    assert m.spec is None and "shortcut is identity, the spec's is projection" in m.reason


def test_user_factory_builds_fresh_models() -> None:
    """The mutation tests copy the cached model; the factory itself gives new ones."""
    assert user_factory(TUTORIAL)() is not user_factory(TUTORIAL)()
