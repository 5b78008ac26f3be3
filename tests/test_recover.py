"""Recovering a spec from parameter shapes (pure: no torch).

The torchvision and timm layouts come from tests/fixtures/checkpoints/*.txt, written by
make_fixtures.py from those libraries' module structure (not from our builder or plan); expected
counts come from torchvision's published metadata, published.md and the fixtures' own tensor sizes.
Recovery reads shapes and registration order, not names: every layout is also read back with its
keys renamed to opaque ``m<i>.<field>`` names.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resnet_inspect.counts import analyze
from resnet_inspect.errors import SpecError
from resnet_inspect.presets import get_preset
from resnet_inspect.recover import NotAResNet, expected_shapes, recover
from resnet_inspect.spec import ResNetSpec

from .reference import TORCHVISION

FIXTURES = Path(__file__).parent / "fixtures" / "checkpoints"
_spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES / "make_fixtures.py")
assert _spec is not None and _spec.loader is not None
make_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_fixtures)


def fixture(name: str) -> dict[str, tuple[int, ...]]:
    return dict(make_fixtures.read_fixture(FIXTURES / f"{name}.txt"))


def param_numel(shapes: dict[str, tuple[int, ...]]) -> int:
    """Independent count: every weight/bias tensor of the fixture."""
    return sum(math.prod(s) for k, s in shapes.items() if k.endswith((".weight", ".bias")))


def same(spec: ResNetSpec, expected: ResNetSpec) -> bool:
    return replace(spec, name="x") == replace(expected, name="x")


def opaque(shapes: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    """Every key renamed ``m<i>.<field>``: only the registration order and the field survive."""
    modules: dict[str, str] = {}
    out = {}
    for key, shape in shapes.items():
        path, _, last = key.rpartition(".")
        out[f"{modules.setdefault(path, f'm{len(modules)}')}.{last}"] = shape
    return out


def test_committed_fixtures_are_current() -> None:
    """The committed text files are what make_fixtures.py writes (nobody edited them by hand)."""
    for name, (_, make) in make_fixtures.FIXTURES.items():
        assert fixture(name) == {k: s for k, s in make()}, name


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "resnext50_32x4d", "wide_resnet50_2"])
def test_torchvision_layouts(name: str) -> None:
    shapes = fixture(f"torchvision_{name}")
    rec = recover(shapes)
    assert rec.layout == "torchvision" and rec.exact
    assert same(rec.spec, get_preset(name))
    assert param_numel(shapes) == TORCHVISION[name][0]
    assert rec.checkpoint_params == analyze(rec.spec).total.params == TORCHVISION[name][0]
    assert round(analyze(rec.spec).total.macs / 1e9, 2) == TORCHVISION[name][1]


def test_timm_resnet_d_layouts() -> None:
    for name, preset in (("timm_resnet50d", "resnet50d"), ("timm_resnet34d", "resnet34d")):
        shapes = fixture(name)
        rec = recover(shapes)
        assert rec.layout == "timm-resnet-deep" and rec.exact, name
        assert same(rec.spec, get_preset(preset)), name
        assert rec.spec.shortcut == "D" and rec.spec.stem == "deep" and rec.spec.stem_width == 64
        assert analyze(rec.spec).total.params == param_numel(shapes)
    # Bag of Tricks / published.md: ResNet-50-D has about 25.6M parameters and 4.3 GMACs.
    a = analyze(recover(fixture("timm_resnet50d")).spec)
    assert round(a.total.params / 1e6, 1) == 25.6 and round(a.total.macs / 1e9, 1) == 4.3
    kinds = [b.label for b in recover(fixture("timm_resnet50d")).shortcuts if b.seen != "no weights"]
    assert kinds == ["avg-pool projection"] * 4


@pytest.mark.parametrize(("name", "preset"), [
    ("timm_resnetv2_50", "preact_resnet50"),
    ("timm_resnetv2_50x1_bit", "preact_resnet50"),  # GroupNorm: no running statistics at all
    ("timm_resnetv2_18", "preact_resnet18"),
])
def test_timm_resnetv2_layouts(name: str, preset: str) -> None:
    shapes = fixture(name)
    rec = recover(shapes)
    assert rec.layout == "timm-resnetv2" and rec.exact
    assert same(rec.spec, get_preset(preset))
    assert analyze(rec.spec).total.params == param_numel(shapes)


def test_timm_resnetv2_d_needs_the_user_for_the_pool() -> None:
    shapes = fixture("timm_resnetv2_50d")
    rec = recover(shapes)
    assert rec.exact and same(rec.spec, replace(get_preset("resnet50d"), preact=True, shortcut="B"))
    assert any("--shortcut D" in n for n in rec.notes)
    told = recover(shapes, shortcut="D")
    assert told.exact and same(told.spec, replace(get_preset("resnet50d"), preact=True))
    assert analyze(told.spec).total.params == param_numel(shapes)


@pytest.mark.parametrize(("name", "preset"), [
    ("torchvision_resnet18", "resnet18"), ("torchvision_resnet50", "resnet50"),
    ("torchvision_resnext50_32x4d", "resnext50_32x4d"), ("torchvision_wide_resnet50_2", "wide_resnet50_2"),
    ("timm_resnet34d", "resnet34d"), ("timm_resnet50d", "resnet50d"),
    ("timm_resnetv2_50", "preact_resnet50"), ("timm_resnetv2_18", "preact_resnet18"),
    ("timm_resnetv2_50x1_bit", "preact_resnet50"),
])
def test_layouts_read_back_without_names(name: str, preset: str) -> None:
    """The same architecture from opaque keys. Only the average pool in front of ResNet-D's
    projections has no weights: without the name's ``downsample.1`` it reads as B (the same
    parameters, reported with a note) and ``--shortcut D`` settles it."""
    shapes = opaque(fixture(name))
    rec = recover(shapes)
    want = get_preset(preset)
    assert rec.exact and rec.layout == "custom"
    assert rec.checkpoint_params == analyze(rec.spec).total.params == param_numel(fixture(name))
    if want.shortcut == "D":
        assert same(rec.spec, replace(want, shortcut="B")) and any("--shortcut D" in n for n in rec.notes)
        assert same(recover(shapes, shortcut="D").spec, want)
    else:
        assert same(rec.spec, want)


def test_expected_shapes_match_torchvision_layout() -> None:
    """Our plan names and shapes every torchvision parameter exactly as torchvision does."""
    params = {k: s for k, s in fixture("torchvision_resnet50").items() if k.endswith((".weight", ".bias"))}
    assert expected_shapes(get_preset("resnet50")) == params


def test_prefixes_and_unmapped_keys_are_reported() -> None:
    shapes = {f"module.{k}": s for k, s in fixture("torchvision_resnet18").items()}
    shapes["module.layer1.0.se.fc1.weight"] = (4, 64, 1, 1)  # a squeeze-excitation module
    shapes["module.layer1.0.conv1.bias"] = (64,)
    rec = recover(shapes)
    assert same(rec.spec, get_preset("resnet18")) and not rec.exact
    assert any("module." in n for n in rec.notes)
    reasons = {u.key: u.reason for u in rec.unmapped}
    assert set(reasons) == {"module.layer1.0.se.fc1.weight", "module.layer1.0.conv1.bias"}
    assert "conv bias" in reasons["module.layer1.0.conv1.bias"]
    assert rec.checkpoint_params == TORCHVISION["resnet18"][0] + 4 * 64 + 64
    assert rec.mapped_params == rec.spec_params == TORCHVISION["resnet18"][0]
    # both extras belong to layer1.0 by name, although the SE conv was registered after fc
    assert [(d.block, d.params) for d in rec.differences] == [("layer1.0", 4 * 64 + 64)]


def test_lightning_prefix() -> None:
    rec = recover({f"model.{k}": s for k, s in fixture("torchvision_resnet18").items()})
    assert rec.exact and any("'model.'" in n for n in rec.notes)


def test_headless_backbone_lists_missing_fc() -> None:
    shapes = {k: s for k, s in fixture("torchvision_resnet50").items() if not k.startswith("fc.")}
    rec = recover(shapes)
    assert set(rec.missing) == {"fc.weight", "fc.bias"} and not rec.unmapped
    assert any("headless" in n for n in rec.notes)
    assert rec.difference == -(2048 * 1000 + 1000) and [d.block for d in rec.differences] == ["head"]


def test_classes_and_input_channels_come_from_the_weights() -> None:
    shapes = fixture("torchvision_resnet18")
    shapes["conv1.weight"] = (64, 1, 7, 7)
    shapes["fc.weight"], shapes["fc.bias"] = (10, 512), (10,)
    rec = recover(shapes)
    assert rec.exact and rec.spec.in_channels == 1 and rec.spec.num_classes == 10


def test_no_projections_is_option_a_or_plain() -> None:
    shapes = {k: s for k, s in fixture("torchvision_resnet18").items() if ".downsample." not in k}
    rec = recover(shapes)
    assert rec.exact and rec.spec.shortcut == "A"
    assert any("plain" in n for n in rec.notes)
    labels = {b.name: b.label for b in rec.shortcuts if b.shapes_change}
    assert labels == {"layer2.0": "identity or zero-pad", "layer3.0": "identity or zero-pad", "layer4.0": "identity or zero-pad"}
    plain = recover(shapes, shortcut="none")
    assert plain.exact and same(plain.spec, get_preset("plain18"))


def test_projection_on_every_block_is_option_c() -> None:
    shapes = fixture("torchvision_resnet18")
    for stage, c in ((1, 64), (2, 128), (3, 256), (4, 512)):
        for b in (0, 1):
            shapes.setdefault(f"layer{stage}.{b}.downsample.0.weight", (c, c, 1, 1))
            for f in ("weight", "bias"):
                shapes.setdefault(f"layer{stage}.{b}.downsample.1.{f}", (c,))
    rec = recover(shapes)
    assert rec.exact and same(rec.spec, replace(get_preset("resnet18"), shortcut="C"))


def test_projections_that_fit_no_option_are_reported() -> None:
    shapes = {k: s for k, s in fixture("torchvision_resnet18").items() if not k.startswith("layer3.0.downsample")}
    rec = recover(shapes)
    assert rec.spec.shortcut == "B" and not rec.exact
    assert {"layer3.0.downsample.0.weight"} <= set(rec.missing)
    assert "do not match" in dict(rec.evidence)["shortcut"]


def test_unrepresentable_stem_is_not_silently_dropped() -> None:
    """timm's tiered stem (24, 32, 64) has no spec: the mismatching tensors are listed."""
    shapes = fixture("timm_resnet50d")
    shapes["conv1.0.weight"] = (24, 3, 3, 3)
    for f in ("weight", "bias", "running_mean", "running_var"):
        shapes[f"conv1.1.{f}"] = (24,)
    shapes["conv1.3.weight"] = (32, 24, 3, 3)
    rec = recover(shapes)
    assert not rec.exact
    bad = {u.key for u in rec.unmapped}
    assert {"conv1.0.weight", "conv1.1.weight", "conv1.3.weight"} <= bad


def test_not_a_resnet() -> None:
    mlp = {"0.weight": (256, 784), "0.bias": (256,), "2.weight": (10, 256), "2.bias": (10,)}
    with pytest.raises(NotAResNet, match="not a ResNet: no residual units: 0 conv, 2 linear layers"):
        recover(mlp)
    with pytest.raises(NotAResNet):
        recover({})
    with pytest.raises(NotAResNet, match=r"no residual units: 1 conv, 0 linear layers; nothing chains after the first \(stem\) conv"):
        recover({"layer1.0.conv1.weight": (64, 64, 3, 3)})
    assert issubclass(NotAResNet, SpecError)  # exit 2 through the CLI


@settings(max_examples=40, deadline=None)
@given(
    block=st.sampled_from(["basic", "bottleneck", "single"]),
    layers=st.lists(st.integers(1, 3), min_size=1, max_size=4),
    stem=st.sampled_from(["imagenet", "cifar", "deep"]),
    shortcut=st.sampled_from(["B", "C", "D"]),
    preact=st.booleans(),
    groups=st.sampled_from([1, 2, 4]),
    classes=st.integers(1, 50),
)
def test_expected_shapes_round_trip(block: str, layers: list[int], stem: str, shortcut: str, preact: bool,
                                    groups: int, classes: int) -> None:
    """Whatever the spec, its own parameter names and shapes recover it (up to what weights hide)."""
    n = len(layers)
    widths = tuple(8 * 2**i for i in range(n))
    kw = {"groups": groups, "width_per_group": 16} if block == "bottleneck" else {}
    spec = ResNetSpec(block=block, layers=tuple(layers), widths=widths, stem=stem, stem_width=8,
                      shortcut=shortcut, preact=preact, num_classes=classes, **kw)  # type: ignore[arg-type]
    shapes = expected_shapes(spec)
    assert sum(math.prod(s) for s in shapes.values()) == analyze(spec).total.params  # names what counts counts
    rec = recover(shapes, input_size=spec.input_size)
    assert rec.exact and not rec.differences
    assert analyze(rec.spec).total.params == analyze(spec).total.params == rec.checkpoint_params
    every_unit_changes = all(b.shapes_change for b in rec.shortcuts)
    no_change = not any(b.shapes_change for b in rec.shortcuts)
    # Weights cannot tell C from B/D when every unit changes shape, nor D from B without any change.
    assert same(rec.spec, spec) or (shortcut == "C" and every_unit_changes) or (shortcut == "D" and no_change)
