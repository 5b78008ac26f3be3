"""``resnet_inspect.conventions`` (no torch) against the tools themselves (``tests/peer_tools.py``):
every convention's number equals what fvcore, ptflops (both backends), thop, torchinfo and torch's
FlopCounterMode print for the built module, exactly, for 18 specs; the issue's ResNet-50 literals;
mutations of the rules (ReLU once per module, no functional double count, thop's BN at 2) fail.

The tool tests run on ``build_for_counting`` modules (``build_model``'s classes and shapes, without
the random initialisation); the ResNet-50 literals are also taken from a ``build_model`` module.
"""

from __future__ import annotations

import functools
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from resnet_inspect import conventions
from resnet_inspect.conventions import (
    CATEGORIES,
    CONVENTIONS,
    DIFFERS,
    SUPPORTED_OPS,
    TOOL_TEXT,
    ConventionCounts,
    all_conventions,
    convention_counts,
    layer_counts,
)
from resnet_inspect.counts import FVCORE_OPS, analyze
from resnet_inspect.errors import UsageError
from resnet_inspect.plan import Layer
from resnet_inspect.presets import PRESETS
from resnet_inspect.specio import parse_spec

from .conftest import IN_CI
from .reference import TORCHVISION

ROOT = Path(__file__).resolve().parent.parent

#: The issue's table: what each tool prints for torchvision's ResNet-50, 224x224, batch 1.
RESNET50 = {
    "torchvision": 4_089_184_256,  # published as 4.089 G
    "fvcore": 4_111_512_576,
    "ptflops_pytorch": 4_132_436_968,
    "ptflops_aten": 4_089_185_256,
    "thop": 4_133_742_592,
    "torchinfo": 4_089_238_376,
    "flop_counter_mode": 8_178_368_512,
}

#: The ten torchvision presets (the deep and wide ones at 64 px to keep the tools quick), CIFAR
#: nets with zero-padding (A) and projection (B) shortcuts, pre-activation nets (``out + x``,
#: a zero-padding variant), ResNet-D (deep stem, ceil-mode average-pool shortcut) and odd sizes.
SPECS = [
    "resnet18", "resnet34", "resnet50", "resnext50_32x4d",
    "resnet101:input_size=64", "resnet152:input_size=64", "resnext101_32x8d:input_size=64",
    "resnext101_64x4d:input_size=64", "wide_resnet50_2:input_size=64", "wide_resnet101_2:input_size=64",
    "cifar_resnet20", "cifar_resnet20:shortcut=B", "preact_resnet18", "preact_resnet50:shortcut=A,input_size=41",
    "resnet50d", "resnet50d:input_size=63", "resnet18:input_size=97", "resnet34:shortcut=C,input_size=45",
]


# --- torch-free ---------------------------------------------------------------------------------


def test_resnet50_literals() -> None:
    counted = {c.name: c.total for c in all_conventions(analyze(parse_spec("resnet50")))}
    assert counted == RESNET50


@pytest.mark.parametrize("name", list(TORCHVISION))
def test_torchvision_convention_is_the_published_gflops(name: str) -> None:
    assert round(convention_counts(analyze(PRESETS[name].spec), "torchvision").total / 1e9, 2) == TORCHVISION[name][1]


def test_resnet50_breakdown_by_category() -> None:
    """The parts, by hand: conv+linear 4,089,184,256; BN 11,113,984 elements; ReLU 9,608,704 output
    elements over 49 calls; the max-pool's input 64x112x112; the global pool's 2048x7x7; fc bias 1000."""
    a = analyze(parse_spec("resnet50"))
    conv, linear, bn, relu = 4_087_136_256, 2_048_000, 11_113_984, 9_608_704
    by = {c.name: c.by_category for c in all_conventions(a)}
    zero = dict.fromkeys(CATEGORIES, 0)
    assert by["torchvision"] == {**zero, "conv": conv, "linear": linear}
    assert by["fvcore"] == {**zero, "conv": conv, "linear": linear, "batch_norm": 2 * bn, "pooling": 2048 * 49}
    assert by["ptflops_pytorch"] == {**zero, "conv": conv, "linear": linear, "batch_norm": 2 * bn, "relu": 2 * relu,
                                     "pooling": 2 * (64 * 112 * 112 + 2048 * 49), "bias": 1000}
    assert by["ptflops_aten"] == {**zero, "conv": conv, "linear": linear, "bias": 1000}
    assert by["thop"] == {**zero, "conv": conv, "linear": linear, "batch_norm": 4 * bn, "pooling": 2048 * 50}
    assert by["torchinfo"] == {**zero, "conv": conv, "linear": linear, "batch_norm": 53_120, "bias": 1000}
    assert by["flop_counter_mode"] == {**zero, "conv": 2 * conv, "linear": 2 * linear}


@pytest.mark.parametrize("text", SPECS)
def test_parts_add_up_and_agree_with_counts(text: str) -> None:
    a = analyze(parse_spec(text))
    results = all_conventions(a)
    assert tuple(c.name for c in results) == CONVENTIONS
    for c in results:
        assert isinstance(c, ConventionCounts)
        assert tuple(c.by_category) == CATEGORIES
        assert c.total == sum(c.by_category.values()) == c.stem + sum(c.blocks) + c.head
        assert len(c.blocks) == len(a.plan.blocks)
        assert all(isinstance(v, int) for v in (c.stem, c.head, *c.blocks, *c.by_category.values()))
    by = {c.name: c.total for c in results}
    assert by["torchvision"] == a.total.macs
    assert by["flop_counter_mode"] == 2 * a.total.macs
    assert by["fvcore"] == sum(a.total.op(op) for op in FVCORE_OPS)
    blocks = {c.name: c.blocks for c in results}["torchvision"]
    assert blocks == tuple(b.total.macs for b in a.blocks)


def test_unknown_convention_names_the_valid_ones() -> None:
    a = analyze(parse_spec("cifar_resnet20"))
    with pytest.raises(UsageError, match=r"did you mean ptflops_aten\?.*valid: torchvision, fvcore, ptflops_pytorch"):
        convention_counts(a, "ptflops-aten")
    with pytest.raises(UsageError, match="unknown counting convention 'flops'"):
        layer_counts(a.plan.stem[0], "flops")


def test_ops_a_plan_cannot_pin_down_are_refused() -> None:
    sigmoid = Layer("layer1.0.se.gate", "activation", (64, 1, 1), (64, 1, 1), detail="sigmoid")
    with pytest.raises(UsageError, match=r"layer1\.0\.se\.gate: how each tool counts this activation \(sigmoid\)"):
        layer_counts(sigmoid, "ptflops_pytorch")
    a = analyze(parse_spec("resnet18:input_size=64"))
    blk = a.plan.blocks[3]
    odd = replace(blk, main_template=(*blk.main_template, Layer("mean", "mean", (64, 2, 2), (64, 1, 1))))
    plan = replace(a.plan, blocks=(*a.plan.blocks[:3], odd, *a.plan.blocks[4:]))
    with pytest.raises(UsageError, match=rf"^{blk.name}\.mean: how each tool counts this mean"):
        convention_counts(replace(a, plan=plan), "fvcore")
    assert {ly.op for ly in _all_layers("resnet50d")} | {"zero_pad"} <= SUPPORTED_OPS


def _all_layers(text: str) -> list[Layer]:
    plan = analyze(parse_spec(text)).plan
    return [*plan.stem, *(ly for b in plan.blocks for ly in (*b.main, *b.shortcut_layers)), *plan.head]


def test_every_convention_has_its_texts() -> None:
    assert set(TOOL_TEXT) == set(DIFFERS) == set(CONVENTIONS)
    for text in DIFFERS.values():
        assert text.endswith(".") and text.count(". ") == 0, text  # one sentence


def test_ten_thousand_units_are_counted_once_per_distinct_unit() -> None:
    a = analyze(parse_spec("cifar_resnet20:layers=3334-3333-3333"))
    start = time.perf_counter()
    results = all_conventions(a)
    assert time.perf_counter() - start < 2.0
    small = all_conventions(analyze(parse_spec("cifar_resnet20:layers=4-3-3")))
    for big, few in zip(results, small):
        # The 10,000-unit net is the 10-unit one with 3,330 more copies of each stage's repeated
        # unit: 3330 x 3 extra units, each counted as its stage's last.
        extra = 3330 * (few.blocks[-1] + few.blocks[-4] + few.blocks[-7])
        assert big.total == few.total + extra, big.name


def test_conventions_never_import_torch() -> None:
    code = "import sys, resnet_inspect.conventions as c; from resnet_inspect.specio import parse_spec; " \
           "from resnet_inspect.counts import analyze; c.all_conventions(analyze(parse_spec('resnet50'))); " \
           "assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# --- against the tools --------------------------------------------------------------------------

torch_only = pytest.mark.torch


@pytest.fixture
def _one_torch_thread() -> Iterator[None]:
    """pytest -n 2 runs two workers on two cores: one intra-op thread each avoids oversubscription."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _need(convention: str) -> Callable[..., int]:
    """The tool's runner; without its package, a skip here and a failure in CI."""
    pytest.importorskip("torch")
    from . import peer_tools

    absent = peer_tools.missing(convention)
    if absent:
        message = f"{absent} is not installed (needed for the {convention} convention)"
        if IN_CI:
            pytest.fail(f"{message}; CI must install the dev extras")
        pytest.skip(message)
    return peer_tools.RUNNERS[convention]


@functools.cache
def measured(text: str, convention: str) -> int:
    """What the tool prints for ``text``'s module, run on a fresh module (tools leave hooks behind)."""
    from resnet_inspect.nn.builder import build_for_counting

    spec = parse_spec(text)
    model = build_for_counting(spec).eval()
    return _need(convention)(model, (spec.in_channels, spec.input_size, spec.input_size))


@torch_only
@pytest.mark.usefixtures("_one_torch_thread")
@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("text", SPECS)
def test_convention_equals_the_tool(text: str, convention: str) -> None:
    _need(convention)
    ours = convention_counts(analyze(parse_spec(text)), convention).total
    assert ours == measured(text, convention), f"{text} {convention}: ours {ours:,} != tool {measured(text, convention):,}"


@torch_only
@pytest.mark.usefixtures("_one_torch_thread")
def test_the_issue_literals_from_the_tools_on_build_model() -> None:
    """All seven tools, in ``RUNNERS`` order, on one randomly initialised ``build_model`` ResNet-50:
    the issue's numbers, and so the weights' values play no part."""
    for convention in CONVENTIONS:
        _need(convention)
    from resnet_inspect.nn.builder import build_model

    from .peer_tools import RUNNERS

    model = build_model(parse_spec("resnet50"), seed=0).eval()
    assert {c: run(model, (3, 224, 224)) for c, run in RUNNERS.items()} == RESNET50


# --- the comparison can fail ---------------------------------------------------------------------


def _mutant(convention: str, rule: Callable[[Layer], tuple[int, ...]], monkeypatch: pytest.MonkeyPatch, text: str) -> int:
    monkeypatch.setitem(conventions._RULES, convention, rule)
    return convention_counts(analyze(parse_spec(text)), convention).total


@torch_only
@pytest.mark.usefixtures("_one_torch_thread")
def test_relu_once_per_module_does_not_match_ptflops(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each bottleneck calls its one ``relu`` module three times; ptflops' hook counts every call."""
    right = conventions._RULES["ptflops_pytorch"]

    def once_per_module(ly: Layer) -> tuple[int, ...]:
        return conventions._ZERO if ly.op == "relu" and ly.name in ("relu2", "relu3") else right(ly)

    tool = measured("resnet50", "ptflops_pytorch")
    wrong = _mutant("ptflops_pytorch", once_per_module, monkeypatch, "resnet50")
    later_calls = sum(ly.out_shape[0] * ly.out_shape[1] * ly.out_shape[2] for ly in _all_layers("resnet50")
                      if ly.op == "relu" and ly.name.endswith(("relu2", "relu3")))
    assert wrong != tool and tool - wrong == 2 * later_calls


@torch_only
@pytest.mark.usefixtures("_one_torch_thread")
def test_no_functional_double_count_does_not_match_ptflops(monkeypatch: pytest.MonkeyPatch) -> None:
    """Counting ReLU and the pools once per call (the module hook alone) misses ptflops' second count."""
    right = conventions._RULES["ptflops_pytorch"]

    def hook_only(ly: Layer) -> tuple[int, ...]:
        v = right(ly)
        return tuple(n // 2 for n in v) if ly.op in ("relu", "max_pool", "adaptive_avg_pool2d") else v

    assert _mutant("ptflops_pytorch", hook_only, monkeypatch, "resnet50") != measured("resnet50", "ptflops_pytorch")


@torch_only
@pytest.mark.usefixtures("_one_torch_thread")
def test_thop_batch_norm_at_two_does_not_match_thop(monkeypatch: pytest.MonkeyPatch) -> None:
    def bn_at_two(ly: Layer) -> tuple[int, ...]:
        return conventions._fvcore(ly) if ly.op == "batch_norm" else conventions._thop(ly)

    assert _mutant("thop", bn_at_two, monkeypatch, "cifar_resnet20") != measured("cifar_resnet20", "thop")


@torch_only
@pytest.mark.usefixtures("_one_torch_thread")
def test_biases_non_affine_norm_and_uneven_pools_match_the_tools() -> None:
    """Layers no preset has: a conv with a bias, BatchNorm without affine, an adaptive pool to 2x2
    of a 5x5 map (thop's fractional kernel 6.25), a ceil-mode average pool; Layers written by hand."""
    torch = pytest.importorskip("torch")
    from torch import nn

    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=True), nn.BatchNorm2d(8, affine=False), nn.ReLU(inplace=True),
        nn.MaxPool2d(3, 2, 1), nn.AvgPool2d(2, 2, ceil_mode=True, count_include_pad=False),
        nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(32, 5),
    ).eval()
    layers = [
        Layer("0", "conv", (3, 37, 37), (8, 19, 19), kernel=3, stride=2, padding=1, bias=True),
        Layer("1", "batch_norm", (8, 19, 19), (8, 19, 19), affine=False),
        Layer("2", "relu", (8, 19, 19), (8, 19, 19)),
        Layer("3", "max_pool", (8, 19, 19), (8, 10, 10), kernel=3, stride=2, padding=1),
        Layer("4", "avg_pool", (8, 10, 10), (8, 5, 5), kernel=2, stride=2),
        Layer("5", "adaptive_avg_pool2d", (8, 5, 5), (8, 2, 2)),
        Layer("7", "linear", (32, 1, 1), (5, 1, 1), bias=True),
    ]
    assert model(torch.zeros(1, 3, 37, 37)).shape == (1, 5)
    from .peer_tools import RUNNERS

    for convention in RUNNERS:  # the order that is safe on one module
        run = _need(convention)
        ours = sum(sum(layer_counts(ly, convention).values()) for ly in layers)
        assert ours == run(model, (3, 37, 37)), convention
    assert layer_counts(layers[5], "thop")["pooling"] == int((2.5 * 2.5 + 1) * 32)
