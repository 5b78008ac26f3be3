"""Residual units found by data flow, on small modules written inside the tests to hit one idiom each:
inline additions, ``x + x``, zero-padding by ``torch.cat`` or ``F.pad``, control flow on shapes,
identity modules, odd shortcuts, a module called twice, unused modules, dropout, nested residuals,
forwards that only run at some input sizes, and memory that must not grow with the input.

Expected numbers come from the real modules (``sum(p.numel())``, fvcore, forward hooks) or by hand
from the module's code, never from the tool.
"""

from __future__ import annotations

import resource
import tracemalloc
from collections import Counter

import pytest

pytest.importorskip("torch")
pytest.importorskip("fvcore")

import torch
import torch.nn.functional as F
from torch import nn

from resnet_inspect.counts import count_plan
from resnet_inspect.nn import trace as trace_module
from resnet_inspect.nn.shapes import SHAPES
from resnet_inspect.nn.trace import TraceError, record
from resnet_inspect.nn.usercode import builder
from resnet_inspect.sources import load_plan
from resnet_inspect.structure import NotResidual, plan_from_trace
from resnet_inspect.target import parse_target

from .tracing import count_mismatches, fvcore_by_module, fvcore_sum, numel, our_fvcore_ops, theirs, trace_analysis, trace_plan

pytestmark = pytest.mark.torch


def conv_bn(cin: int, cout: int, stride: int = 1, k: int = 3) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout)]


class Basic(nn.Module):
    """A v1 basic unit whose shortcut is whatever module it is given (None: the input itself)."""

    def __init__(self, cin: int, cout: int, stride: int = 1, shortcut: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1, self.bn1 = conv_bn(cin, cout, stride)
        self.conv2, self.bn2 = conv_bn(cout, cout)
        if shortcut is not None:
            self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        sc = self.shortcut(x) if hasattr(self, "shortcut") else x
        return F.relu(out + sc)


class Single(nn.Module):
    """A unit with ONE 3x3 conv on its main path: as many convs as a projection shortcut."""

    def __init__(self, cin: int, cout: int, stride: int, shortcut: nn.Module) -> None:
        super().__init__()
        self.conv1, self.bn1 = conv_bn(cin, cout, stride)
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn1(self.conv1(x)) + self.shortcut(x))


class Net(nn.Module):
    """Stem conv-BN-ReLU, ``layer1`` with the given units, global pool, classifier."""

    def __init__(self, *units: nn.Module, stem: int = 16, classes: int = 10) -> None:
        super().__init__()
        self.conv1, self.bn1 = conv_bn(3, stem)
        self.layer1 = nn.Sequential(*units)
        width = [m for m in self.layer1.modules() if isinstance(m, nn.Conv2d)][-1].out_channels
        self.fc = nn.Linear(width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer1(F.relu(self.bn1(self.conv1(x))))
        x = F.avg_pool2d(x, x.size(2))
        return self.fc(x.view(x.size(0), -1))


def unit_params_match_modules(model: nn.Module, shape: tuple[int, int, int] = (3, 32, 32)) -> None:
    """Every traced unit's parameters and fvcore-convention ops equal the real module's."""
    assert count_mismatches(trace_analysis(model, shape), model, shape) == []


# ---------------------------------------------------------------------------------------- additions


class Flat(nn.Module):
    """Two residual units written inline in one forward: no block modules at all."""

    def __init__(self) -> None:
        super().__init__()
        self.conv0, self.bn0 = conv_bn(3, 8)
        self.c1, self.b1 = conv_bn(8, 8)
        self.c2, self.b2 = conv_bn(8, 8)
        self.c3, self.b3 = conv_bn(8, 8)
        self.c4, self.b4 = conv_bn(8, 8)
        self.fc = nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn0(self.conv0(x)))
        y = self.b2(self.c2(F.relu(self.b1(self.c1(x)))))
        x = F.relu(x + y)
        y = self.b4(self.c4(F.relu(self.b3(self.c3(x)))))
        x = F.relu(y + x)  # operands the other way round
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


def test_flat_forward_units() -> None:
    model = Flat()
    a = trace_analysis(model)
    assert [b.block.name for b in a.blocks] == ["unit1", "unit2"]
    fv = fvcore_by_module(model, (3, 32, 32))
    for b, mods in zip(a.blocks, (("c1", "b1", "c2", "b2"), ("c3", "b3", "c4", "b4"))):
        assert b.block.shortcut == "identity" and b.block.kind == "basic"
        assert [ly.name for ly in b.block.main if ly.op in ("conv", "batch_norm")] == list(mods)
        assert [ly.op for ly in b.block.main][-2:] == ["add", "relu"]  # the ReLU after the addition is the unit's
        assert b.total.params == sum(numel(model.get_submodule(m)) for m in mods)
        assert our_fvcore_ops(b.total) == theirs(fvcore_sum(fv, mods))
        assert b.total.op("add") == 8 * 32 * 32
    assert a.stem.params == numel(model.conv0) + numel(model.bn0)
    assert [ly.op for ly in a.plan.head] == ["adaptive_avg_pool2d", "linear"]
    assert a.total.params == numel(model)
    assert our_fvcore_ops(a.total) == theirs(fv[""])


class Doubling(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.fc = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        x = x + x
        return self.fc(x.mean((2, 3)))


def test_x_plus_x_is_not_a_unit() -> None:
    with pytest.raises(NotResidual, match=r"\(1 conv, 1 linear layers, 1 additions but none of two branches"):
        trace_plan(Doubling())


# ---------------------------------------------------------------------------------------- zero padding


class PadUnit(nn.Module):
    """Option A written four ways, chosen by ``how``; identity when the shapes already agree."""

    def __init__(self, cin: int, cout: int, stride: int, how: str) -> None:
        super().__init__()
        self.how, self.stride = how, stride
        self.conv1, self.bn1 = conv_bn(cin, cout, stride)
        self.conv2, self.bn2 = conv_bn(cout, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        if x.size(1) != out.size(1):
            sc = x[:, :, :: self.stride, :: self.stride] if self.stride > 1 else x
            missing = out.size(1) - sc.size(1)
            if self.how == "cat_zeros":
                sc = torch.cat([sc, torch.zeros(sc.size(0), missing, sc.size(2), sc.size(3), device=sc.device)], 1)
            elif self.how == "cat_mul0":
                sc = torch.cat([sc, sc.mul(0)], 1)
            elif self.how == "pad_both":
                sc = F.pad(sc, (0, 0, 0, 0, missing // 2, missing - missing // 2))
            else:  # zeros_like, padding after
                sc = torch.cat((sc, torch.zeros_like(sc)), dim=1)
        else:
            sc = x
        return F.relu(out + sc)


@pytest.mark.parametrize("how", ["cat_zeros", "cat_mul0", "pad_both", "zeros_like"])
@pytest.mark.parametrize("stride", [1, 2])
def test_zero_padding_idioms(how: str, stride: int) -> None:
    model = Net(PadUnit(16, 16, 1, how), PadUnit(16, 32, stride, how))
    a = trace_analysis(model)
    first, second = a.blocks
    assert (first.block.name, first.block.shortcut) == ("layer1.0", "identity")
    assert (second.block.name, second.block.shortcut) == ("layer1.1", "zero_pad")
    side = 32 // stride
    (pad,) = second.block.shortcut_layers
    assert (pad.op, pad.in_shape, pad.out_shape, pad.stride) == ("zero_pad", (16, 32, 32), (32, side, side), stride)
    assert second.shortcut.params == second.shortcut.macs == 0
    assert second.block.stride == stride and second.block.out_shape == (32, side, side)
    unit_params_match_modules(model)


def test_head_pool_of_the_whole_map_follows_the_input() -> None:
    """``F.avg_pool2d(out, out.size(2))`` and ``.view(out.size(0), -1)`` run with real ints."""
    model = Net(Basic(16, 16))
    for size in (32, 48):
        plan = trace_plan(model, (3, size, size))
        pool, fc = plan.head
        assert (pool.op, pool.kernel, pool.in_shape, pool.out_shape) == ("avg_pool", size, (16, size, size), (16, 1, 1))
        assert (fc.op, fc.in_shape, fc.out_shape) == ("linear", (16, 1, 1), (10, 1, 1))


# ---------------------------------------------------------------------------------------- shortcuts


def test_identity_modules_and_empty_sequential_are_identity() -> None:
    model = Net(Basic(16, 16, shortcut=nn.Identity()), Basic(16, 16, shortcut=nn.Sequential()), Basic(16, 16))
    a = trace_analysis(model)
    assert [(b.block.shortcut, b.block.shortcut_layers, b.shortcut.params) for b in a.blocks] == [("identity", (), 0)] * 3
    unit_params_match_modules(model)


def test_conv_bn_relu_shortcut_is_other_with_its_ops() -> None:
    shortcut = nn.Sequential(*conv_bn(16, 32, 2, k=1), nn.ReLU())
    model = Net(Basic(16, 32, 2, shortcut))
    (b,) = trace_analysis(model).blocks
    assert b.block.shortcut == "other"
    assert [(ly.name, ly.op) for ly in b.block.shortcut_layers] == [
        ("layer1.0.shortcut.0", "conv"), ("layer1.0.shortcut.1", "batch_norm"), ("layer1.0.shortcut.2", "relu")]
    assert b.shortcut.params == numel(shortcut)
    unit_params_match_modules(model)


def test_avgpool_then_1x1_conv_is_avgpool_projection() -> None:
    shortcut = nn.Sequential(nn.AvgPool2d(2, 2, ceil_mode=True, count_include_pad=False), *conv_bn(16, 32, k=1))
    model = Net(Basic(16, 32, 2, shortcut))
    (b,) = trace_analysis(model).blocks
    assert b.block.shortcut == "avgpool_projection"
    assert [ly.op for ly in b.block.shortcut_layers] == ["avg_pool", "conv", "batch_norm"]
    assert b.block.projection_kernel() == "1x1"
    assert b.shortcut.params == numel(shortcut) == 16 * 32 + 2 * 32
    # The pool: 2x2 windows over a 16x16x16 output.
    assert b.shortcut.op("avg_pool") == 16 * 16 * 16 * 4
    unit_params_match_modules(model)


@pytest.mark.parametrize("kind", ["avgpool_projection", "projection", "other"])
def test_single_conv_units_keep_the_3x3_on_the_main_path(kind: str) -> None:
    """A one-conv main path (conv-BN) against a shortcut with as many convs and more ops: the main
    path is the branch that computes more."""
    shortcut = {
        "avgpool_projection": nn.Sequential(nn.AvgPool2d(2, 2), *conv_bn(16, 32, k=1)),
        "projection": nn.Sequential(*conv_bn(16, 32, 2, k=1)),
        "other": nn.Sequential(*conv_bn(16, 32, 2, k=1), nn.ReLU()),
    }[kind]
    model = Net(Single(16, 32, 2, shortcut))
    (b,) = trace_analysis(model).blocks
    assert b.block.shortcut == kind
    assert b.block.kind == "single"
    assert [ly.name for ly in b.block.main if ly.op == "conv"] == ["layer1.0.conv1"]
    assert b.shortcut.params == numel(shortcut)
    unit_params_match_modules(model)


def test_projection_kernel_of_any_size() -> None:
    for k in (1, 3, 5):
        model = Net(Basic(16, 32, 2, nn.Sequential(*conv_bn(16, 32, 2, k=k))))
        (b,) = trace_analysis(model).blocks
        assert (b.block.shortcut, b.block.projection_kernel()) == ("projection", f"{k}x{k}")
        assert b.shortcut.params == 16 * 32 * k * k + 64


# ---------------------------------------------------------------------------------------- parameters


class CalledTwice(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.blk = Basic(8, 8)
        self.unused = nn.Linear(100, 100)
        self.fc = nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blk(self.blk(self.conv1(x)))
        x = x + x  # not a unit: both operands are the same tensor
        return self.fc(x.mean((2, 3)))


def test_module_called_twice_counts_its_parameters_once() -> None:
    model = CalledTwice()
    a = trace_analysis(model)
    assert [b.block.name for b in a.blocks] == ["blk", "blk#2"]  # two units, two names
    first, second = a.blocks
    assert first.total.params == numel(model.blk)
    assert second.total.params == 0 and all(ly.shared for ly in second.block.main if ly.op in ("conv", "batch_norm"))
    assert first.total.macs == second.total.macs > 0  # the work is done twice
    assert a.total.params == numel(model) - numel(model.unused)
    # fvcore attributes both calls to the one module "blk".
    fv = fvcore_by_module(model, (3, 32, 32))
    assert our_fvcore_ops(first.total + second.total) == theirs(fv["blk"])
    assert [ly.op for ly in a.plan.head] == ["add", "mean", "linear"]


def test_unused_module_is_not_counted_and_noted() -> None:
    model = CalledTwice()
    plan = trace_plan(model)
    assert count_plan(plan).total.params == numel(model) - 100 * 100 - 100
    (note,) = [n for n in plan.notes if "never used" in n]
    assert note.startswith(f"{100 * 100 + 100:,} parameters are never used")
    assert "unused.weight" in note and "unused.bias" in note


class BiasAffine(nn.Module):
    """Biased convs and BN without affine parameters, in the stem and the unit."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=True)
        self.bn1 = nn.BatchNorm2d(8, affine=False)
        self.layer1 = nn.Sequential(BiasUnit())
        self.fc = nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.layer1(self.bn1(self.conv1(x))).mean((2, 3)))


class BiasUnit(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(8, 8, 3, padding=1, bias=True)
        self.bn1 = nn.BatchNorm2d(8, affine=False)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, bias=True)
        self.bn2 = nn.BatchNorm2d(8, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))) + x)


def test_conv_bias_and_bn_without_affine() -> None:
    model = BiasAffine()
    a = trace_analysis(model)
    (b,) = a.blocks
    # By hand: two 3x3 8->8 convs with bias, one affine BN(8).
    assert b.total.params == numel(model.layer1[0]) == 2 * (8 * 8 * 9 + 8) + 2 * 8
    assert a.stem.params == 3 * 8 * 9 + 8
    # fvcore: 1 per element for BN without affine, 2 with.
    fv = fvcore_by_module(model, (3, 32, 32))
    assert b.total.op("batch_norm") == fv["layer1.0"]["batch_norm"] == (1 + 2) * 8 * 32 * 32
    assert a.stem.op("batch_norm") == fv["bn1"]["batch_norm"] == 8 * 32 * 32
    unit_params_match_modules(model)


# ---------------------------------------------------------------------------------------- extras


class DropPath(nn.Module):
    """Stochastic depth as timm writes it: nothing in eval mode."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        keep = torch.rand(x.shape[0], 1, 1, 1, device=x.device) > 0.1
        return x * keep / 0.9


class ExtrasUnit(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.bn1 = conv_bn(16, 16)
        self.drop = nn.Dropout(0.2)
        self.conv2, self.bn2 = conv_bn(16, 16)
        self.gate = nn.Conv2d(16, 16, 1)
        self.drop_path = DropPath()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.drop(F.relu(self.bn1(self.conv1(x))))
        out = self.bn2(self.conv2(out))
        out = out * torch.sigmoid(self.gate(out))  # a gate without pooling: not squeeze-excitation
        return F.relu(self.drop_path(out) + x)


def test_dropout_stochastic_depth_and_gate_are_named() -> None:
    model = Net(ExtrasUnit())
    (b,) = trace_analysis(model).blocks
    extras = {(e.label, e.kind) for e in b.block.extras}
    assert extras == {("layer1.0.drop", "dropout"), ("layer1.0.drop_path", "stochastic depth"), ("layer1.0", "gate")}
    gate = next(e for e in b.block.extras if e.kind == "gate")
    assert [dict((ly.name, ly.op) for ly in b.block.main)[f"layer1.0.{n}"] for n in gate.layers] == ["conv", "activation", "mul"]
    assert b.block.shortcut == "identity"
    unit_params_match_modules(model)


class Nested(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(16, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 16, 3, padding=1)
        self.conv3 = nn.Conv2d(16, 16, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.conv1(x))
        y = y + self.conv2(y)  # a residual inside the unit's main path
        y = self.conv3(F.relu(y))
        return F.relu(x + y)


def test_nested_residual_is_one_unit_with_an_inner_residual() -> None:
    model = Net(Nested(), Nested())
    a = trace_analysis(model)
    assert [b.block.name for b in a.blocks] == ["layer1.0", "layer1.1"]
    for b in a.blocks:
        assert [(e.label, e.kind) for e in b.block.extras] == [(f"{b.block.name}.add", "inner residual")]
        assert [ly.op for ly in b.block.main].count("add") == 2
        assert b.block.shortcut == "identity"
        assert b.total.op("add") == 2 * 16 * 32 * 32
    unit_params_match_modules(model)


# ---------------------------------------------------------------------------------------- failures


FAILS_AT_224 = '''
import torch.nn as nn
import torch.nn.functional as F


class Unit(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(16, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 16, 3, padding=1)

    def forward(self, x):
        return F.relu(self.conv2(F.relu(self.conv1(x))) + x)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.layer1 = nn.Sequential(Unit())
        self.classifier = nn.Linear(16 * 8 * 8, 10)  # assumes 32x32 inputs

    def forward(self, x):
        x = F.avg_pool2d(self.layer1(self.conv1(x)), 4)
        return self.classifier(x.view(x.size(0), -1))
'''


def test_forward_that_fails_at_224_names_the_module_and_the_size_that_works(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "fixed_size.py"
    path.write_text(FAILS_AT_224)
    with pytest.raises(TraceError) as info:
        load_plan(f"{path}:Net", {"input_size": 224})
    message = str(info.value)
    assert "\n" not in message
    assert "fails at input 3x224x224 in classifier (Linear)" in message
    assert "1x50176 and 1024x10" in message  # torch's own words for the mismatch
    assert message.endswith("it runs at --input-size 32")
    plan = load_plan(f"{path}:Net", {"input_size": 32})
    assert [b.name for b in plan.blocks] == ["layer1.0"]


def test_trace_error_inside_a_unit_names_the_unit_module() -> None:
    model = Net(Basic(16, 32, 2))  # no shortcut: 32x16x16 + 16x32x32 cannot be added
    with pytest.raises(TraceError, match=r"fails at input 3x32x32 in layer1\.0 \(Basic\): RuntimeError: The size of tensor a"):
        trace_plan(model)


# ---------------------------------------------------------------------------------------- memory


OPTION_A = "tests/usernets/cifar_option_a.py:resnet20"


def test_memory_does_not_grow_with_the_input(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every tensor of the pass is a meta tensor, so tracing at 2048x2048 allocates no more than at
    224: no activation (16x2048x2048 floats = 256 MiB) is ever materialised."""
    build = builder(parse_target(OPTION_A))
    devices: Counter[str] = Counter()
    original = trace_module._Recorder.new_value

    def spy(self, t):  # type: ignore[no-untyped-def]
        devices[t.device.type] += 1
        return original(self, t)

    monkeypatch.setattr(trace_module._Recorder, "new_value", spy)
    record(build(), (3, 32, 32), "warm-up")  # first-use imports and caches out of the measurement
    peaks = {}
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for size in (224, 2048):
        model = build()
        assert all(p.device.type == "meta" for p in model.parameters())
        tracemalloc.start()
        try:
            trace = record(model, (3, size, size), "big")
            peaks[size] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert trace.ops[-1].out_shapes[-1] == (1, 10)
    rss_growth_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    assert set(devices) == {"meta"}
    assert peaks[2048] <= peaks[224] * 1.25 + 512 * 1024
    assert rss_growth_kib < 128 * 1024  # far below one materialised 2048x2048 activation


# ---------------------------------------------------------------------------------------- shapes


def _cases() -> list[tuple[str, object, tuple[object, ...]]]:
    aten = torch.ops.aten
    x = torch.zeros(1, 6, 17, 13)
    return [
        ("convolution", aten.convolution.default,
         (x, torch.zeros(4, 3, 3, 2), None, [2, 1], [1, 0], [1, 2], False, [0, 0], 2)),
        ("convolution", aten.convolution.default, (x, torch.zeros(8, 6, 7, 7), None, [2, 2], [3, 3], [1, 1], False, [0, 0], 1)),
        ("max_pool2d_with_indices", aten.max_pool2d_with_indices.default, (x, [3, 3], [2, 2], [1, 1], [1, 1], True)),
        ("avg_pool2d", aten.avg_pool2d.default, (x, [2, 2], [2, 2], [0, 0], True, False)),
        ("avg_pool2d", aten.avg_pool2d.default, (x, [3, 3], [2, 2], [1, 1], False, True)),
        ("_adaptive_avg_pool2d", aten._adaptive_avg_pool2d.default, (x, [3, 2])),
        ("mean", aten.mean.dim, (x, [2, 3], True)),
        ("mean", aten.mean.dim, (x, [-1], False)),
        ("constant_pad_nd", aten.constant_pad_nd.default, (x, [0, 0, 0, 0, 3, 5], 0.0)),
        ("addmm", aten.addmm.default, (torch.zeros(10), torch.zeros(2, 6), torch.zeros(6, 10))),
        ("mm", aten.mm.default, (torch.zeros(2, 6), torch.zeros(6, 10))),
        ("add", aten.add.Tensor, (x, torch.zeros(6, 1, 1))),
        ("mul", aten.mul.Tensor, (torch.zeros(1, 6, 1, 1), x)),
        ("relu", aten.relu.default, (x,)),
    ]


def _meta(value: object) -> object:
    if isinstance(value, torch.Tensor):
        return value.to("meta")
    return value


@pytest.mark.parametrize("index", range(len(_cases())))
def test_shape_functions_equal_torch_on_the_cpu(index: int) -> None:
    """``nn.shapes`` replaces torch's meta kernels: each gives the shapes the real CPU kernel gives."""
    name, op, args = _cases()[index]
    real = op(*args)
    mine = SHAPES[name]([_meta(a) for a in args])
    reals = real if isinstance(real, tuple) else (real,)
    mines = mine if isinstance(mine, tuple) else (mine,)
    assert [tuple(t.shape) for t in mines] == [tuple(t.shape) for t in reals]
    assert all(t.device.type == "meta" for t in mines)


def test_shape_functions_refuse_what_torch_refuses() -> None:
    x = torch.zeros(1, 6, 8, 8, device="meta")
    with pytest.raises(RuntimeError, match="expected input"):
        SHAPES["convolution"]((x, torch.zeros(4, 4, 3, 3, device="meta"), None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1))
    with pytest.raises(RuntimeError, match="must match"):
        SHAPES["add"]((x, torch.zeros(1, 5, 8, 8, device="meta")))
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        SHAPES["mm"]((torch.zeros(2, 6, device="meta"), torch.zeros(5, 3, device="meta")))


def test_plan_from_trace_needs_no_torch_objects() -> None:
    """The recorded trace is plain data: ``structure`` reads it without touching torch."""
    trace = record(Net(Basic(16, 16)).to("meta"), (3, 32, 32), "data")
    for op in trace.ops:
        assert not any(isinstance(v, torch.Tensor) for v in (*op.inputs, *op.outputs, *op.attrs.values()))
    assert plan_from_trace(trace).blocks[0].name == "layer1.0"
