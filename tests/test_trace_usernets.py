"""The tracer on ResNets written as users write them (``tests/usernets``), unit by unit.

Every expected number comes from the same module run for real on the CPU, never from the tool:
parameters are ``sum(p.numel())`` of the module at the unit's path (and of the submodule that holds
the shortcut), op counts are fvcore's ``by_module_and_operator()`` at that path, shapes are what
forward hooks see, unit names are the paths of the block class's instances, and shortcut kinds and
hyperparameters (kernel, stride, groups, bias) are read off the real submodules. Matches name the
spec written by hand from reading each file.
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, replace

import pytest

pytest.importorskip("torch")
pytest.importorskip("fvcore")

from torch import nn

from resnet_inspect.counts import Analysis, count_plan
from resnet_inspect.errors import UsageError
from resnet_inspect.nn.trace import TraceError
from resnet_inspect.nn.usercode import trace_target
from resnet_inspect.sources import load_analysis
from resnet_inspect.specio import parse_spec
from resnet_inspect.structure import NotResidual
from resnet_inspect.target import parse_target

from .tracing import (
    count_mismatches,
    fvcore_by_module,
    fvcore_sum,
    io_shapes,
    numel,
    our_fvcore_ops,
    real_model,
    theirs,
)

pytestmark = pytest.mark.torch
NETS = "tests/usernets/"
#: The tutorial ResNet is the worked example of docs/own-resnet.md, so it lives with the docs.
TUTORIAL = "docs/examples/tutorial_resnet.py:ResNet"


@dataclass(frozen=True)
class Case:
    """One user network and what its code says: block classes, where the shortcut lives, which
    top-level modules make the stem and the head, and the spec it is (None: none)."""

    target: str
    size: int
    blocks: tuple[str, ...]
    shortcut_attr: str
    stem: tuple[str, ...]
    head: tuple[str, ...]
    spec: str | None
    no_match_reason: str = ""


CASES = {
    "tutorial": Case(TUTORIAL, 32, ("ResidualBlock",), "downsample", ("conv", "bn"), ("fc",),
                     None, "3x3/2 conv"),
    "option_a": Case(NETS + "cifar_option_a.py:resnet20", 32, ("BasicBlock",), "shortcut", ("conv1", "bn1"), ("linear",),
                     "cifar_resnet20"),
    "option_b18": Case(NETS + "cifar_option_b.py:ResNet18", 32, ("BasicBlock",), "shortcut", ("conv1", "bn1"), ("linear",),
                       "resnet18:stem=cifar,input_size=32,num_classes=10"),
    "option_b50": Case(NETS + "cifar_option_b.py:ResNet50", 32, ("Bottleneck",), "shortcut", ("conv1", "bn1"), ("linear",),
                       "resnet50:stem=cifar,input_size=32,num_classes=10"),
    "preact": Case(NETS + "preact.py:PreActResNet18", 32, ("PreActBlock",), "shortcut", ("conv1",), ("bn", "linear"),
                   "preact_resnet18:stem=cifar,input_size=32,num_classes=10"),
    "se": Case(NETS + "se_bottleneck.py:se_resnet_small", 64, ("SEBottleneck",), "downsample", ("conv1", "bn1"),
               ("fc",), None, "squeeze-excitation"),
    "resnext": Case(NETS + "resnext.py:ResNeXt", 32, ("Block",), "shortcut", ("conv1", "bn1"), ("linear",), None, "stem"),
    "torchvision18": Case(NETS + "torchvision_style.py:resnet18", 64, ("BasicBlock",), "downsample", ("conv1", "bn1"),
                          ("fc",), "resnet18:input_size=64"),
    "torchvision50": Case(NETS + "torchvision_style.py:resnet50", 64, ("Bottleneck",), "downsample", ("conv1", "bn1"),
                          ("fc",), "resnet50:input_size=64"),
}


@functools.cache
def analysis_of(case: Case) -> Analysis:
    return load_analysis(case.target, {"input_size": case.size})


@functools.cache
def fvcore_of(case: Case) -> dict[str, Counter[str]]:
    return fvcore_by_module(real_model(case.target), shape_of(case))


def shape_of(case: Case) -> tuple[int, int, int]:
    return (3, case.size, case.size)


def unit_paths(model: nn.Module, case: Case) -> list[str]:
    return [name for name, m in model.named_modules() if type(m).__name__ in case.blocks]


def expected_shortcut(unit: nn.Module, attr: str) -> tuple[str, str | None]:
    """The shortcut kind (and projection kernel) that the unit's code builds."""
    sc = getattr(unit, attr, None)
    if sc is None:
        return "identity", None
    convs = [m for m in sc.modules() if isinstance(m, nn.Conv2d)]
    if convs:
        kh, kw = convs[0].kernel_size
        return "projection", f"{kh}x{kw}"
    if type(sc).__name__ == "LambdaLayer":  # option A: F.pad of x[:, :, ::2, ::2]
        return "zero_pad", None
    return "identity", None  # empty nn.Sequential, nn.Identity


# ---------------------------------------------------------------------------------------- per unit


@pytest.mark.parametrize("key", list(CASES))
def test_units_are_the_block_modules(key: str) -> None:
    case = CASES[key]
    model = real_model(case.target)
    a = analysis_of(case)
    paths = unit_paths(model, case)
    assert [b.block.name for b in a.blocks] == paths
    shapes = io_shapes(model, paths, shape_of(case))
    for b in a.blocks:
        blk = b.block
        assert (blk.in_shape, blk.out_shape) == shapes[blk.name], blk.name
        assert blk.stride == blk.in_shape[1] // blk.out_shape[1]
        # Stages: units whose output resolution is the same, numbered from 1, as the module's layerN.
        assert blk.stage == int(blk.name.split(".")[0].removeprefix("layer"))
        assert blk.index == int(blk.name.split(".")[1])


@pytest.mark.parametrize("key", list(CASES))
def test_params_per_unit_equal_the_modules(key: str) -> None:
    case = CASES[key]
    model = real_model(case.target)
    a = analysis_of(case)
    for b in a.blocks:
        unit = model.get_submodule(b.block.name)
        assert b.total.params == numel(unit), b.block.name
        assert b.shortcut.params == numel(getattr(unit, case.shortcut_attr, None)), b.block.name
        assert b.main.params == numel(unit) - numel(getattr(unit, case.shortcut_attr, None)), b.block.name
    assert a.stem.params == sum(numel(model.get_submodule(n)) for n in case.stem)
    assert a.head.params == sum(numel(model.get_submodule(n)) for n in case.head)
    assert a.total.params == numel(model)


@pytest.mark.parametrize("key", list(CASES))
def test_op_counts_per_unit_equal_fvcore(key: str) -> None:
    case = CASES[key]
    a = analysis_of(case)
    fv = fvcore_of(case)
    for b in a.blocks:
        theirs_here = theirs(fv[b.block.name])
        assert our_fvcore_ops(b.total) == theirs_here, b.block.name
        assert b.total.macs == theirs_here.get("conv", 0) + theirs_here.get("linear", 0), b.block.name
        if b.block.shortcut == "projection":  # the shortcut alone: fvcore at the shortcut's module
            path = f"{b.block.name}.{case.shortcut_attr}"
            assert our_fvcore_ops(b.shortcut) == theirs(fv[path]), path
    stem = fvcore_sum(fv, case.stem)
    assert our_fvcore_ops(a.stem) == theirs(stem)
    units = fvcore_sum(fv, (b.block.name for b in a.blocks))
    head = fv[""] - stem - units  # the rest: the head's modules and functional ops in forward
    assert our_fvcore_ops(a.head) == theirs(head)
    assert our_fvcore_ops(a.total) == theirs(fv[""])
    assert a.total.macs == fv[""]["conv"] + fv[""]["linear"]


@pytest.mark.parametrize("key", list(CASES))
def test_shortcut_kinds_come_from_the_code(key: str) -> None:
    case = CASES[key]
    model = real_model(case.target)
    a = analysis_of(case)
    for b in a.blocks:
        kind, kernel = expected_shortcut(model.get_submodule(b.block.name), case.shortcut_attr)
        assert b.block.shortcut == kind, b.block.name
        assert b.block.projection_kernel() == kernel, b.block.name
        if kind == "projection":
            assert all(ly.name.startswith(f"{b.block.name}.{case.shortcut_attr}.") for ly in b.block.shortcut_layers)


@pytest.mark.parametrize("key", list(CASES))
def test_every_layer_names_a_module_with_the_same_hyperparameters(key: str) -> None:
    """conv, batch-norm and linear layers carry the module path of the real module that ran them,
    with its kernel, stride, groups and bias."""
    case = CASES[key]
    model = real_model(case.target)
    a = analysis_of(case)
    layers = [*a.plan.stem, *a.plan.head]
    for b in a.blocks:
        layers += [*b.block.main, *b.block.shortcut_layers]
    checked = 0
    for ly in layers:
        if ly.op == "conv":
            m = model.get_submodule(ly.name)
            assert isinstance(m, nn.Conv2d), ly.name
            assert (ly.kernel, ly.kernel_w or ly.kernel) == m.kernel_size, ly.name
            assert (ly.stride, ly.groups, ly.padding, ly.bias) == (m.stride[0], m.groups, m.padding[0], m.bias is not None), ly.name
            assert (ly.in_shape[0], ly.out_shape[0]) == (m.in_channels, m.out_channels), ly.name
        elif ly.op == "batch_norm":
            m = model.get_submodule(ly.name)
            assert isinstance(m, nn.BatchNorm2d) and m.affine == ly.affine and m.num_features == ly.in_shape[0], ly.name
        elif ly.op == "linear":
            m = model.get_submodule(ly.name)
            assert isinstance(m, nn.Linear), ly.name
            assert (ly.in_shape[0], ly.out_shape[0], ly.bias) == (m.in_features, m.out_features, m.bias is not None), ly.name
        else:
            continue
        checked += 1
    convs = sum(1 for m in model.modules() if isinstance(m, (nn.Conv2d, nn.BatchNorm2d, nn.Linear)))
    assert checked == convs  # every such module ran once and is one layer


def test_shared_checker_finds_nothing_on_the_real_modules() -> None:
    """The helper the mutation tests rely on agrees on every unmodified network."""
    for case in CASES.values():
        assert count_mismatches(analysis_of(case), real_model(case.target), shape_of(case)) == [], case.target


# ---------------------------------------------------------------------------------------- per network


def test_tutorial_3x3_projections() -> None:
    a = analysis_of(CASES["tutorial"])
    kinds = {b.block.name: (b.block.shortcut, b.block.projection_kernel()) for b in a.blocks}
    assert kinds == {
        "layer1.0": ("identity", None), "layer1.1": ("identity", None),
        "layer2.0": ("projection", "3x3"), "layer2.1": ("identity", None),
        "layer3.0": ("projection", "3x3"), "layer3.1": ("identity", None),
    }
    # 3x3 conv 16->32 + BN(32), by hand: 16*32*9 + 2*32.
    assert a.block("layer2.0").shortcut.params == 16 * 32 * 9 + 64
    assert [ly.op for ly in a.plan.head] == ["avg_pool", "linear"]


def test_option_a_zero_pads_where_shapes_change() -> None:
    a = analysis_of(CASES["option_a"])
    for b in a.blocks:
        changes = b.block.in_shape != b.block.out_shape
        assert b.block.shortcut == ("zero_pad" if changes else "identity"), b.block.name
        assert b.shortcut.params == 0 and b.shortcut.macs == 0
        if changes:
            (pad,) = b.block.shortcut_layers
            assert (pad.op, pad.in_shape, pad.out_shape, pad.stride) == ("zero_pad", b.block.in_shape, b.block.out_shape, 2)
    # He et al. (2015) Table 6: ResNet-20 has 0.27M parameters.
    assert round(a.total.params / 1e6, 2) == 0.27


def test_preact_shortcut_reads_after_the_first_bn_relu() -> None:
    a = analysis_of(CASES["preact"])
    for b in a.blocks:
        blk = b.block
        assert blk.preact
        main = blk.main
        assert [ly.op for ly in main[:2]] == ["batch_norm", "relu"] and main[-1].op == "add"
        if blk.shortcut == "projection":
            assert blk.shortcut_source >= 0
            assert main[blk.shortcut_source].op == "relu" and main[blk.shortcut_source - 1].op == "batch_norm"
            assert [ly.op for ly in blk.shortcut_layers] == ["conv"]  # no BN: the next unit normalises
        else:
            assert blk.shortcut_source == -1


def test_se_units_name_their_squeeze_excitation() -> None:
    case = CASES["se"]
    model = real_model(case.target)
    a = analysis_of(case)
    for b in a.blocks:
        (extra,) = b.block.extras
        assert (extra.label, extra.kind) == (f"{b.block.name}.se", "squeeze-excitation")
        ops = {ly.name: ly.op for ly in b.block.main}
        members = [f"{b.block.name}.{n}" for n in extra.layers]
        assert [ops[n] for n in members] == ["adaptive_avg_pool2d", "linear", "relu", "linear", "activation", "mul"]
        se = model.get_submodule(f"{b.block.name}.se")
        linears = [ly for ly in b.block.main if ly.op == "linear"]
        assert sum(ly.in_shape[0] * ly.out_shape[0] for ly in linears) == numel(se)  # bias-free FCs
    # The SE's two FC layers are weighted layers but not depth: 1 stem conv + 3 per unit + fc.
    assert a.plan.depth == 1 + 3 * len(a.blocks) + 1


def test_resnext_keeps_groups_and_bias() -> None:
    case = CASES["resnext"]
    model = real_model(case.target)
    a = analysis_of(case)
    for b in a.blocks:
        convs = [ly for ly in b.block.main if ly.op == "conv"]
        real = [model.get_submodule(ly.name) for ly in convs]
        assert [c.groups for c in convs] == [m.groups for m in real] == [1, 8, 1]
        assert [c.bias for c in convs] == [False, False, True]
        assert b.block.kind == "bottleneck"
    assert a.block("layer1.0").block.shortcut == "identity"  # nn.Identity: 64 == 2 * 8 * 4


def test_torchvision_resnet50_at_224_is_resnet50() -> None:
    a = load_analysis(NETS + "torchvision_style.py:resnet50", {"input_size": 224})
    assert a.plan.spec is not None
    assert replace(a.plan.spec, name="x") == replace(parse_spec("resnet50"), name="x")
    assert a.plan.spec.name == "resnet50"
    # torchvision's published ResNet-50: 25,557,032 parameters, 4.09 GMACs.
    assert a.total.params == 25_557_032
    assert round(a.total.macs / 1e9, 2) == 4.09


# ---------------------------------------------------------------------------------------- matches


@pytest.mark.parametrize("key", [k for k, c in CASES.items() if c.spec is not None])
def test_matched_spec(key: str) -> None:
    case = CASES[key]
    a = analysis_of(case)
    assert a.plan.spec is not None, a.plan.notes
    expected = parse_spec(case.spec)  # type: ignore[arg-type]
    assert replace(a.plan.spec, name="x") == replace(expected, name="x")
    assert a.plan.spec.name == case.spec
    assert parse_spec(a.plan.spec.name) == a.plan.spec  # the name reads back to the same spec


@pytest.mark.parametrize("key", [k for k, c in CASES.items() if c.spec is None])
def test_no_match_says_why(key: str) -> None:
    case = CASES[key]
    a = analysis_of(case)
    assert a.plan.spec is None
    (note,) = [n for n in a.plan.notes if n.startswith("no spec describes it exactly")]
    assert case.no_match_reason in note


def test_not_resnets_are_refused_with_what_they_are() -> None:
    for target, convs, linears in ((NETS + "not_resnets.py:mlp", 0, 3), (NETS + "not_resnets.py:VGG16", 13, 3)):
        model = real_model(target)
        assert sum(isinstance(m, nn.Conv2d) for m in model.modules()) == convs
        assert sum(isinstance(m, nn.Linear) for m in model.modules()) == linears
        with pytest.raises(NotResidual, match=rf"no residual additions \({convs} conv, {linears} linear layers\)"):
            load_analysis(target, {"input_size": 32})


def test_spec_only_overrides_refused_for_modules() -> None:
    with pytest.raises(UsageError, match="--shortcut"):
        load_analysis(TUTORIAL, {"shortcut": "A"})


def test_trace_error_names_the_module() -> None:
    """The tutorial's ``nn.AvgPool2d(8)`` then ``fc(64)`` only fits an 8x8 map: at 64 the fc fails."""
    with pytest.raises(TraceError, match=r"fails at input 3x64x64 in fc \(Linear\).*--input-size 32"):
        load_analysis(TUTORIAL, {"input_size": 64})


def test_counts_do_not_depend_on_the_route() -> None:
    """``trace_target`` (no match) and ``load_analysis`` (matched) count the same units alike."""
    case = CASES["option_b18"]
    via_sources = analysis_of(case)
    direct = count_plan(trace_target(parse_target(case.target), shape_of(case)))
    assert direct.plan.spec is None and via_sources.plan.spec is not None
    assert [(b.block.name, b.main, b.shortcut) for b in direct.blocks] == [
        (b.block.name, b.main, b.shortcut) for b in via_sources.blocks]
    assert (direct.stem, direct.head, direct.total) == (via_sources.stem, via_sources.head, via_sources.total)
    first = via_sources
    assert Counter(b.block.shortcut for b in first.blocks) == {"identity": 5, "projection": 3}
