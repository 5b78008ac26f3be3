"""``receptive.py`` against autograd: every analytic receptive field is the span of the input gradient
of one output pixel of the built module.

The measure: all conv weights positive (``1 / fan_in``), BN the identity, max pools swapped for
average pools of the same geometry (a max pool passes gradient to one input, an average pool to the
whole window it could pick from), float64 and an all-ones input, so every ReLU passes gradient and
no path's product underflows. Then an input pixel gets a non-zero gradient from an output pixel iff
some path joins them, and the rows from the first to the last such pixel are the window the
formulas track. The tests compare the window's two ends, not only its size (a shifted window of the
right size is a wrong formula too), for one output pixel and its neighbour one row down (which must
move the window by the effective stride), at the end of several units per network, along the height
(and, for a few, the width). Mutations of the plan (no max pool, a stem conv padded differently,
strides dropped) must fail the same comparison.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

import pytest

pytest.importorskip("torch")

import torch
from torch import nn

from resnet_inspect.counts import analyze
from resnet_inspect.nn.builder import build_model
from resnet_inspect.nn.usercode import resolve
from resnet_inspect.plan import Plan
from resnet_inspect.receptive import Field, Window, block_field, receptive_fields, through
from resnet_inspect.sources import load_analysis
from resnet_inspect.specio import parse_spec
from resnet_inspect.target import parse_target

pytestmark = pytest.mark.torch


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """pytest -n 2 runs two workers on two cores: one intra-op thread each avoids oversubscription."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --- the measure ------------------------------------------------------------------------------------


def positive(model: nn.Module) -> nn.Module:
    """``model`` made for the measure, in place: max pools -> average pools of the same kernel, stride,
    padding and ceil mode; conv/linear weights ``1 / fan_in``, biases 0; BN the identity in eval mode;
    float64."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.MaxPool2d):
                setattr(parent, name, nn.AvgPool2d(child.kernel_size, child.stride, child.padding, ceil_mode=child.ceil_mode))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.fill_(1.0 / m.weight[0].numel())
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.BatchNorm2d):
                m.running_mean.zero_()
                m.running_var.fill_(1.0)
                if m.affine:
                    m.weight.fill_(1.0)
                    m.bias.zero_()
    return model.double().eval()


#: The input's size across the measured axis. Windows along one axis do not depend on the other (every
#: kernel here is square and the support of a positive conv's gradient is a product of the two axes'),
#: and 8 keeps every map at least one pixel wide (a 224-style net's last map is 8 / 32 -> 1 across).
NARROW = 8


class _Stop(Exception):
    """Raised by the hook on the last unit wanted: the rest of the network (and its head, which
    may expect the training input size) is never run."""


def unit_maps(model: nn.Module, x: torch.Tensor, units: Sequence[str]) -> dict[str, torch.Tensor]:
    """Output maps of the modules at ``units`` (paths, in forward order) for input ``x``."""
    maps: dict[str, torch.Tensor] = {}

    def hook(name: str) -> Callable[[nn.Module, object, torch.Tensor], None]:
        def grab(_m: nn.Module, _i: object, out: torch.Tensor) -> None:
            maps[name] = out
            if len(maps) == len(units):
                raise _Stop

        return grab

    handles = [model.get_submodule(u).register_forward_hook(hook(u)) for u in units]
    try:
        model(x)
    except _Stop:
        pass
    finally:
        for h in handles:
            h.remove()
    assert list(maps) == list(units), f"hooks saw {list(maps)}, wanted {list(units)}"
    return maps


@dataclass(frozen=True)
class Seen:
    """What autograd measures at one unit along one axis (``h``: rows, ``w``: columns): the output
    pixel at ``index`` (the map's centre) sees input indices ``first``..``last``; its neighbour one
    further along sees ``first_next``..``last_next``."""

    axis: str
    index: int
    first: int
    last: int
    first_next: int
    last_next: int

    @property
    def span(self) -> int:
        return self.last - self.first + 1

    @property
    def stride(self) -> int:
        return self.first_next - self.first


def seen_along(grad: torch.Tensor, axis: str) -> tuple[int, int]:
    """First and last input index along ``axis`` with a non-zero gradient (exactly non-zero: float64
    does not underflow), summed over channels and the other axis."""
    line = grad.abs().sum(dim=(0, 2) if axis == "h" else (0, 1))
    hit = (line != 0).nonzero().flatten()
    assert hit.numel(), "no input pixel reaches the output pixel"
    first, last = int(hit[0]), int(hit[-1])
    assert first > 0 and last < line.numel() - 1, f"the window {first}..{last} touches the border: clipped, make the input longer"
    return first, last


def measure(model: nn.Module, units: Sequence[str], length: int, axis: str = "h", in_channels: int = 3) -> dict[str, Seen]:
    """Autograd's window along ``axis`` for the centre output pixel of every unit in ``units`` and its
    neighbour one further along ``axis``, on an input ``length`` long along ``axis`` and ``NARROW``
    across: a batch of two identical inputs, the first sample's gradient for the centre, the second's
    for the neighbour, one backward pass per unit."""
    shape = (length, NARROW) if axis == "h" else (NARROW, length)
    x = torch.ones(2, in_channels, *shape, dtype=torch.float64, requires_grad=True)
    maps = unit_maps(model, x, units)
    seen: dict[str, Seen] = {}
    for name in units:
        out = maps[name]
        r, c = out.shape[2] // 2, out.shape[3] // 2
        nr, nc = (r + 1, c) if axis == "h" else (r, c + 1)
        assert nr < out.shape[2] and nc < out.shape[3], f"{name}: map {tuple(out.shape[2:])} is too small"
        (grad,) = torch.autograd.grad(out[0, :, r, c].sum() + out[1, :, nr, nc].sum(), x, retain_graph=True)
        seen[name] = Seen(axis, r if axis == "h" else c, *seen_along(grad[0], axis), *seen_along(grad[1], axis))
    return seen


def analytic_fields(plan: Plan) -> dict[str, Field]:
    """Each unit's output field as ``receptive.py`` computes it (both ends of the window)."""
    f = through(Field(), plan.stem)
    fields: dict[str, Field] = {}
    for block in plan.blocks:
        f, _ = block_field(f, block)
        fields[block.name] = f
    return fields


def mismatches(plan: Plan, seen: dict[str, Seen]) -> list[str]:
    """Where the plan's windows (placed at the measured output pixel) are not what autograd saw."""
    fields = analytic_fields(plan)
    sizes = {b.name: (b.receptive_field, b.effective_stride) for b in receptive_fields(plan).blocks}
    bad: list[str] = []
    for name, s in seen.items():
        win: Window = fields[name].h if s.axis == "h" else fields[name].w
        lo, hi = win.lo + s.index * win.jump, win.hi + s.index * win.jump
        rf, stride = sizes[name]
        got = (s.first, s.last, s.span, s.stride, s.first_next, s.last_next)
        want = (lo, hi, rf, stride, lo + stride, hi + stride)
        if got != want:
            bad.append(f"{name}: autograd {s.first}..{s.last} (span {s.span}, stride {s.stride}, next "
                       f"{s.first_next}..{s.last_next}); analytic {lo}..{hi} (RF {rf}, stride {stride})")
    return bad


def input_length(rf: int, stride: int) -> int:
    """Enough input that the centre pixel's window and its neighbour's fit with a margin: RF + two
    strides + 32, rounded up to a multiple of the total stride (every map then halves evenly)."""
    return -(-(rf + 2 * stride + 32) // stride) * stride


def chosen_units(plan: Plan, every: bool) -> list[str]:
    """All units, or each stage's first (where the stride and the shortcut projection are) and last."""
    if every:
        return [b.name for b in plan.blocks]
    n = len(plan.blocks)
    return [b.name for i, b in enumerate(plan.blocks)
            if i in (0, n - 1) or b.stage != plan.blocks[i - 1].stage or b.stage != plan.blocks[i + 1].stage]


@functools.cache
def spec_measure(text: str, every: bool, axis: str = "h") -> tuple[Plan, dict[str, Seen]]:
    """The plan of spec ``text`` and autograd's windows on its built module."""
    spec = parse_spec(text)
    plan = analyze(spec).plan
    rf = receptive_fields(plan)
    model = positive(build_model(spec, seed=0))
    return plan, measure(model, chosen_units(plan, every), input_length(rf.total, rf.total_stride), axis, spec.in_channels)


# --- presets and variants ---------------------------------------------------------------------------

#: spec -> (RF of the last unit, total stride, check every unit, not only each stage's first and last).
#: 435 and 427 are the values published for torchvision's ResNet-18 and ResNet-50 (v1.5: the stride
#: in the 3x3); the others are what autograd confirms here.
CASES: dict[str, tuple[int, int, bool]] = {
    "resnet18": (435, 32, True),
    "resnet50": (427, 32, False),
    "resnet50:stride_in=1x1": (483, 32, False),  # v1: the stride in the first 1x1
    "resnext50_32x4d": (427, 32, False),
    "resnet34:shortcut=A": (899, 32, False),  # zero-padding shortcuts that subsample
    "resnet18:stem=deep": (439, 32, True),
    "resnet50d": (431, 32, False),  # deep stem, average-pool shortcuts not centred like the main path
    "plain18": (435, 32, True),  # no shortcuts at all
    "preact_resnet18": (435, 32, True),
    "preact_resnet50": (427, 32, False),
    "preact_resnet164": (249, 4, False),  # CIFAR bottleneck, 54 units: a long chain of products
    "cifar_resnet20": (81, 4, True),
    "cifar_resnet20:block=single,layers=6-6-6": (81, 4, True),
    "wrn16_8": (53, 4, True),
}


@pytest.mark.parametrize("text", list(CASES))
def test_analytic_windows_equal_autograd(text: str) -> None:
    """Every checked unit's window (both ends), receptive field and effective stride is autograd's."""
    total, stride, every = CASES[text]
    plan, seen = spec_measure(text, every)
    rf = receptive_fields(plan)
    assert (rf.total, rf.total_stride) == (total, stride)
    last = seen[plan.blocks[-1].name]
    assert (last.span, last.stride) == (total, stride)
    assert mismatches(plan, seen) == []


@pytest.mark.parametrize("text", ["resnet18", "resnet50d", "cifar_resnet20"])
def test_width_axis_too(text: str) -> None:
    """The same along the width (a long, narrow input turned on its side)."""
    total, stride, every = CASES[text]
    plan, seen = spec_measure(text, every, "w")
    assert (seen[plan.blocks[-1].name].span, seen[plan.blocks[-1].name].stride) == (total, stride)
    assert mismatches(plan, seen) == []


def test_published_values() -> None:
    """torchvision's ResNet-18 and ResNet-50 see 435 and 427 input pixels at stride 32 (autograd
    confirms both above); the first unit to see more than the 224-pixel input is layer4.0 in the
    first and layer3.4 in the second."""
    r18 = receptive_fields(analyze(parse_spec("resnet18")).plan)
    r50 = receptive_fields(analyze(parse_spec("resnet50")).plan)
    assert (r18.total, r18.total_stride, r50.total, r50.total_stride) == (435, 32, 427, 32)
    assert (r18.covers, r50.covers) == ("layer4.0", "layer3.4")


# --- mutations: the comparison catches wrong formulas ----------------------------------------------


def test_mutation_without_the_max_pool_fails() -> None:
    """A formula that forgets the stem's max pool gives resnet18 a 219-pixel field: autograd disagrees
    at every unit."""
    plan, seen = spec_measure("resnet18", True)
    wrong = replace(plan, stem=tuple(layer for layer in plan.stem if layer.op != "max_pool"))
    assert receptive_fields(wrong).total == 219
    bad = mismatches(wrong, seen)
    assert len(bad) == len(seen) and bad[-1].startswith("layer4.1: autograd") and "RF 219" in bad[-1]


def test_mutation_shifted_window_fails() -> None:
    """A stem conv padded by 2 instead of 3 keeps every size (435) but moves every window: only the
    ends catch it, which is why the comparison places the window, not only its width."""
    plan, seen = spec_measure("resnet18", True)
    stem = tuple(replace(layer, padding=2) if layer.name == "conv1" else layer for layer in plan.stem)
    wrong = receptive_fields(replace(plan, stem=stem))
    assert [b.receptive_field for b in wrong.blocks] == [s.span for s in seen.values()]
    assert len(mismatches(replace(plan, stem=stem), seen)) == len(seen)


def test_mutation_wrong_stride_fails() -> None:
    """Strides dropped from every unit: layer1 (stride 1 already) still agrees, every later unit not."""
    plan, seen = spec_measure("cifar_resnet20", True)
    blocks = tuple(replace(b, main_template=tuple(replace(layer, stride=1) for layer in b.main_template),
                           shortcut_template=tuple(replace(layer, stride=1) for layer in b.shortcut_template))
                   for b in plan.blocks)
    wrong = replace(plan, blocks=blocks)
    assert receptive_fields(wrong).total_stride == 1
    failing = [line.split(":")[0] for line in mismatches(wrong, seen)]
    assert failing == [b.name for b in plan.blocks if b.stage > 1]


# --- ResNet-D: a shortcut not centred like its main path --------------------------------------------


def branch_windows(plan: Plan, unit: str) -> tuple[Window, Window]:
    """The analytic windows (height) of unit ``unit``'s main path and shortcut path alone."""
    f = through(Field(), plan.stem)
    for block in plan.blocks:
        if block.name == unit:
            main = through(f, block.main)
            start = through(f, block.main[: block.shortcut_source + 1]) if block.shortcut_source >= 0 else f
            return main.h, through(start, block.shortcut_layers).h
        f, _ = block_field(f, block)
    raise AssertionError(unit)


@pytest.mark.parametrize(("unit", "offset"), [("layer2.0", 2.0), ("layer3.0", 4.0), ("layer4.0", 8.0)])
def test_resnet_d_shortcut_is_off_centre(unit: str, offset: float) -> None:
    """The 2x2 average pool before the shortcut's 1x1 conv shifts that path by half the unit's input
    jump. Each branch measured alone (the other's last conv multiplied by 0 through a forward hook)
    has the analytic window, so the offset and both branch fields are autograd's, and the unit's
    field is their union."""
    plan = analyze(parse_spec("resnet50d")).plan
    fields = {b.name: b for b in receptive_fields(plan).blocks}
    bf = fields[unit]
    assert bf.centred is False and bf.offset == offset
    assert [name for name, b in fields.items() if not b.centred] == ["layer2.0", "layer3.0", "layer4.0"]
    main_w, sc_w = branch_windows(plan, unit)
    assert (main_w.size, sc_w.size) == (bf.main, bf.shortcut)
    model = positive(build_model(parse_spec("resnet50d"), seed=0))
    block = model.get_submodule(unit)
    length, j = input_length(bf.receptive_field, bf.effective_stride), bf.effective_stride
    ends: dict[str, tuple[int, int]] = {}
    for branch, silenced in (("main", block.downsample[1]), ("shortcut", block.conv3), ("both", None)):
        handle = silenced.register_forward_hook(lambda _m, _i, out: out * 0) if silenced is not None else None
        try:
            s = measure(model, [unit], length)[unit]
        finally:
            if handle is not None:
                handle.remove()
        ends[branch] = (s.first - s.index * j, s.last - s.index * j)
    assert ends["main"] == (main_w.lo, main_w.hi)
    assert ends["shortcut"] == (sc_w.lo, sc_w.hi)
    assert (sum(ends["shortcut"]) - sum(ends["main"])) / 2 == offset
    assert ends["both"] == (min(main_w.lo, sc_w.lo), max(main_w.hi, sc_w.hi))
    assert ends["both"][1] - ends["both"][0] + 1 == bf.receptive_field


# --- modules written by users, traced ---------------------------------------------------------------


@pytest.mark.parametrize(("target", "total", "same_as"), [
    ("tests/usernets/cifar_option_b.py:ResNet18", 109, None),
    ("tests/usernets/cifar_option_a.py:resnet20", 81, "cifar_resnet20"),
    ("tests/usernets/preact.py:PreActResNet18", 109, None),
])
def test_traced_user_module(target: str, total: int, same_as: str | None) -> None:
    """A traced plan's windows are autograd's on the user's own module (its own forward and names);
    the option-A CIFAR net sees what the cifar_resnet20 preset sees, unit by unit."""
    plan = load_analysis(target, {"input_size": 32}).plan
    rf = receptive_fields(plan)
    assert rf.total == total
    if same_as is not None:
        preset = receptive_fields(analyze(parse_spec(same_as)).plan)
        assert [(b.name, b.receptive_field) for b in rf.blocks] == [(b.name, b.receptive_field) for b in preset.blocks]
    torch.manual_seed(0)
    model = positive(resolve(parse_target(target))())
    seen = measure(model, [b.name for b in plan.blocks], input_length(rf.total, rf.total_stride))
    assert seen[plan.blocks[-1].name].span == total
    assert mismatches(plan, seen) == []
