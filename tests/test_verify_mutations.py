"""``verify`` can fail: a built module with one fault each, handed to ``verify_spec(spec, model=...)``,
must fail and name the faulty block, and the same module unmutated must pass.

Each fault is one a builder bug could make and a count could miss if it were read from the plan's
flags rather than from what the module runs: an addition removed from ``forward``, a BN dropped, a
stride moved, a projection replaced by a parameter-free shortcut or its conv by a pooling, and
option A's zero channels padded in front of the input's instead of after them. That last one costs
exactly what the right one costs (parameters, MACs, additions), so only the check of where the
shortcut puts the input's channels (``shortcut.offset``, followed on the trace) can see it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

pytest.importorskip("torch")
pytest.importorskip("fvcore")

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from typer.testing import CliRunner

from resnet_inspect.cli import app
from resnet_inspect.nn import builder
from resnet_inspect.nn.builder import ZeroPadShortcut, build_for_counting, build_model
from resnet_inspect.nn.verify import VerifyReport, verify_spec
from resnet_inspect.spec import ResNetSpec
from resnet_inspect.specio import parse_spec

pytestmark = pytest.mark.torch

#: Small inputs keep fvcore's real forward cheap; the structure checked is the same at any size.
BOTTLENECK = "resnet50:input_size=64"
BASIC = "resnet18:input_size=64"
OPTION_A = "resnet34:shortcut=A,input_size=64"
OPTION_C = "resnet50:shortcut=C,input_size=64"
CIFAR_A = "cifar_resnet20"


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ---------------------------------------------------------------------------------------- faults


def no_addition(model: nn.Module, block: str) -> None:
    """The unit's ``forward`` without ``out += identity`` (its ``residual`` flag left True: the
    check must read what runs, not the flag)."""
    unit = model.get_submodule(block)
    base = type(unit)

    class NoAdd(base):  # type: ignore[valid-type, misc]
        def forward(self, x: Tensor) -> Tensor:
            out = self.relu(self.bn1(self.conv1(x)))
            if hasattr(self, "conv3"):
                out = self.relu(self.bn2(self.conv2(out)))
                return self.relu(self.bn3(self.conv3(out)))  # type: ignore[no-any-return]
            return self.relu(self.bn2(self.conv2(out)))  # type: ignore[no-any-return]

    unit.__class__ = NoAdd
    assert unit.residual  # the flag still says residual


def bn_dropped(model: nn.Module, block: str) -> None:
    model.get_submodule(block).bn2 = nn.Identity()


def stride_conv2_to_conv1(model: nn.Module, block: str) -> None:
    """A bottleneck's stride moved from the 3x3 to the first 1x1: same shapes, other MACs."""
    unit = model.get_submodule(block)
    assert unit.conv2.stride == (2, 2) and unit.conv1.stride == (1, 1)
    unit.conv1.stride, unit.conv2.stride = (2, 2), (1, 1)


def stride_conv1_to_conv2(model: nn.Module, block: str) -> None:
    """A basic block's stride moved from its first 3x3 to its second: same shapes, other MACs."""
    unit = model.get_submodule(block)
    unit.conv1.stride, unit.conv2.stride = (1, 1), (2, 2)


def stride_out_of_projection(model: nn.Module, block: str) -> None:
    """The projection's 1x1 conv at stride 1 after a pooling that takes the stride instead."""
    unit = model.get_submodule(block)
    conv, bn = unit.downsample[0], unit.downsample[1]
    conv.stride = (1, 1)
    unit.downsample = nn.Sequential(nn.MaxPool2d(1, 2), conv, bn)


def projection_to_zero_pad(model: nn.Module, block: str) -> None:
    unit = model.get_submodule(block)
    conv = unit.downsample[0]
    unit.downsample = ZeroPadShortcut(conv.stride[0], conv.out_channels - conv.in_channels)


def projection_to_identity(model: nn.Module, block: str) -> None:
    """Option C's projection where shapes allow an identity: the shortcut becomes the input."""
    unit = model.get_submodule(block)
    assert unit.downsample is not None
    unit.downsample = None


def projection_conv_to_pool(model: nn.Module, block: str) -> None:
    """The projection's conv swapped for a pooling (same shape where channels do not change)."""
    unit = model.get_submodule(block)
    unit.downsample[0] = nn.AvgPool2d(1, unit.downsample[0].stride)


class FrontPad(nn.Module):
    """Option A with the zero channels padded in front of the input's: the same cost, another net."""

    def __init__(self, stride: int, extra: int) -> None:
        super().__init__()
        self.stride, self.extra = stride, extra

    def forward(self, x: Tensor) -> Tensor:
        return F.pad(x[:, :, :: self.stride, :: self.stride], (0, 0, 0, 0, self.extra, 0))


class FrontCat(FrontPad):
    """The same fault written with ``torch.cat`` and a zeros tensor, as CIFAR code often does."""

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        zeros = torch.zeros(x.shape[0], self.extra, x.shape[2], x.shape[3], dtype=x.dtype, device=x.device)
        return torch.cat([zeros, x], dim=1)


def pad_in_front(model: nn.Module, block: str) -> None:
    unit = model.get_submodule(block)
    unit.downsample = FrontPad(unit.downsample.stride, unit.downsample.extra_channels)


def cat_in_front(model: nn.Module, block: str) -> None:
    unit = model.get_submodule(block)
    unit.downsample = FrontCat(unit.downsample.stride, unit.downsample.extra_channels)


Fault = Callable[[nn.Module, str], None]

#: (spec, faulty block, fault): every case must fail naming its block.
CASES: list[tuple[str, str, Fault]] = [
    (BOTTLENECK, "layer2.1", no_addition),
    (BASIC, "layer3.0", no_addition),
    (BASIC, "layer2.1", bn_dropped),
    (BOTTLENECK, "layer3.0", stride_conv2_to_conv1),
    (BASIC, "layer4.0", stride_conv1_to_conv2),
    (BOTTLENECK, "layer2.0", stride_out_of_projection),
    (BOTTLENECK, "layer2.0", projection_to_zero_pad),
    (OPTION_C, "layer1.1", projection_to_identity),
    (OPTION_C, "layer3.2", projection_conv_to_pool),
    (OPTION_A, "layer2.0", pad_in_front),
    (OPTION_A, "layer4.0", cat_in_front),
    (CIFAR_A, "layer3.0", pad_in_front),
]


def mutated(text: str, block: str, fault: Fault) -> tuple[ResNetSpec, nn.Module]:
    spec = parse_spec(text)
    model = build_for_counting(spec)
    fault(model, block)
    return spec, model


def blamed(report: VerifyReport) -> set[str]:
    """The blocks (not total, stem or head) that failing checks name."""
    return {c.scope for c in report.failures if c.scope not in ("total", "stem", "head")}


# ---------------------------------------------------------------------------------------- the suite


@pytest.mark.parametrize("text", sorted({text for text, _, _ in CASES}))
def test_the_unmutated_module_passes(text: str) -> None:
    spec = parse_spec(text)
    report = verify_spec(spec, model=build_for_counting(spec))
    assert report.ok, report.failure_lines()


@pytest.mark.parametrize(("text", "block", "fault"), CASES, ids=[f"{t}-{b}-{f.__name__}" for t, b, f in CASES])
def test_one_fault_fails_naming_its_block(text: str, block: str, fault: Fault) -> None:
    spec, model = mutated(text, block, fault)
    report = verify_spec(spec, model=model)
    assert not report.ok
    lines = report.failure_lines()
    assert lines and all(line.startswith("mismatch: ") for line in lines)
    assert any(f" {block} " in f" {line} " or f"{block} (" in line for line in lines), lines
    assert blamed(report) <= {block}, lines  # no other block is blamed for this one's fault


@pytest.mark.parametrize("fault", [pad_in_front, cat_in_front])
def test_padding_on_the_wrong_side_is_seen_only_where_the_channels_go(fault: Fault) -> None:
    """The counts agree exactly; the one failure is the channel placement, with the offset the
    zeros push the input to (64 zero channels in front in resnet34's layer2.0)."""
    spec, model = mutated(OPTION_A, "layer2.0", fault)
    report = verify_spec(spec, model=model)
    assert [(c.scope, c.quantity, c.source, c.analytic, c.measured) for c in report.failures] == [
        ("layer2.0", "shortcut.offset", "trace", 0, 64)]


def test_a_missing_addition_is_read_from_the_trace_not_the_flag() -> None:
    spec, model = mutated(BOTTLENECK, "layer2.1", no_addition)
    report = verify_spec(spec, model=model)
    add = report.check("layer2.1", "add")
    assert add.source == "trace" and add.analytic > 0 and add.measured == 0


def test_the_stride_moved_in_a_bottleneck_is_a_macs_difference() -> None:
    spec, model = mutated(BOTTLENECK, "layer3.0", stride_conv2_to_conv1)
    report = verify_spec(spec, model=model)
    assert {c.quantity for c in report.failures if c.scope == "layer3.0"} == {"conv", "batch_norm", "relu"}
    assert report.check("layer3.0", "params").ok  # same weights: only what they cost differs


def test_a_forward_that_fails_is_a_failure_naming_the_block() -> None:
    """A projection whose stride is lost cannot add its output to the main path: the trace stops
    in that block, and verify reports it as a failed check, not a crash."""
    spec = parse_spec(BOTTLENECK)
    model = build_for_counting(spec)
    model.layer2[0].downsample[0].stride = (1, 1)
    report = verify_spec(spec, model=model)
    assert not report.ok and not report.checks
    (line,) = report.failure_lines()
    assert line.startswith("mismatch: the forward pass fails") and "layer2.0" in line
    assert report.to_json()["problems"] == [line.removeprefix("mismatch: ")]


def test_real_weights_work_as_the_seam_too() -> None:
    """A module with torchvision's initialisation (not the counting one) passes, and its fault is
    found the same way: the checks read shapes and ops, never values."""
    spec = parse_spec(CIFAR_A)
    assert verify_spec(spec, model=build_model(spec, seed=0)).ok
    model = build_model(spec, seed=0)
    pad_in_front(model, "layer2.0")
    assert blamed(verify_spec(spec, model=model)) == {"layer2.0"}


def test_the_command_exits_1_naming_the_block(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same fault reaching ``resnet-inspect verify`` through the builder."""
    real = builder.build_for_counting

    def faulty(spec: ResNetSpec) -> nn.Module:
        model = real(spec)
        pad_in_front(model, "layer2.0")
        return model

    monkeypatch.setattr(builder, "build_for_counting", faulty)
    result = CliRunner().invoke(app, ["verify", OPTION_A])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == ["mismatch: layer2.0 shortcut.offset: analytic 0 != trace 64"]
