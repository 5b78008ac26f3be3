"""Recovery by structure: user-written ResNets (tests/usernets), whatever their names and files.

Every expected number comes from the user's module itself, never from resnet-inspect: the
checkpoint's parameter count is ``sum(p.numel() for p in model.parameters())``, stages and widths
are read off the module's ``layerN`` Sequentials, and where the spec cannot be exact the expected
difference is summed from the module's own offending parameters (3x3 projections, SE layers,
conv biases). Checkpoints are real files (torch.save zip and legacy pickle, safetensors) under
the names users give them (``.th``, ``.pth.tar``, ``.tar``, no extension ...), with and without
``module.`` prefixes and wrapper dicts, and with every key renamed to an opaque ``m<i>.<field>``.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import math
import struct
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from resnet_inspect.cli import app
from resnet_inspect.counts import analyze
from resnet_inspect.errors import SpecError
from resnet_inspect.inspect_ckpt import load
from resnet_inspect.recover import NotAResNet, Recovery, expected_shapes, recover
from resnet_inspect.spec import ResNetSpec
from resnet_inspect.units import human

torch = pytest.importorskip("torch")
nn = torch.nn
runner = CliRunner()
USERNETS = Path(__file__).parent / "usernets"
TUTORIAL = Path(__file__).parent.parent / "docs" / "examples" / "tutorial_resnet.py"  # docs/own-resnet.md's example
FIXTURES = Path(__file__).parent / "fixtures" / "checkpoints"
Shapes = dict[str, tuple[int, ...]]


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def starts_with(out: str, text: str) -> bool:
    """``out`` begins with ``text``, however the terminal table wrapped it."""
    return "".join(out.split()).startswith("".join(text.split()))


@functools.cache
def usernet_module(name: str) -> ModuleType:
    path = TUTORIAL if name == "tutorial" else USERNETS / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"usernet_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.cache
def build(name: str, factory: str) -> Any:
    """The user's model on the meta device (shapes only, no memory)."""
    with torch.device("meta"):
        return getattr(usernet_module(name), factory)()


def shapes_of(model: Any) -> Shapes:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def param_count(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())


def stages_of(model: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(units per stage, output channels per stage) read off the module's ``layerN`` Sequentials:
    the last conv of each stage's last unit that is not in its shortcut."""
    layers, outs = [], []
    i = 1
    while hasattr(model, f"layer{i}"):
        stage = getattr(model, f"layer{i}")
        layers.append(len(stage))
        convs = [m for n, m in stage[-1].named_modules() if isinstance(m, nn.Conv2d)
                 and not n.startswith(("shortcut", "downsample"))]
        outs.append(convs[-1].out_channels)
        i += 1
    return tuple(layers), tuple(outs)


def opaque(shapes: Shapes) -> Shapes:
    """Every key renamed ``m<i>.<field>``: only the registration order and the field survive."""
    modules: dict[str, str] = {}
    out: Shapes = {}
    for key, shape in shapes.items():
        path, _, last = key.rpartition(".")
        out[f"{modules.setdefault(path, f'm{len(modules)}')}.{last}"] = shape
    return out


def zeros(shapes: Shapes) -> dict[str, Any]:
    """Real tensors of these shapes that store one element each (a broadcast zero)."""
    return {k: torch.zeros((), dtype=torch.float16).expand(s) for k, s in shapes.items()}


def save_safetensors(path: Path, shapes: Shapes) -> None:
    """The documented layout: u64 header length, JSON header, data (left as a sparse hole)."""
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for k, s in shapes.items():
        n = 2 * math.prod(s)
        header[k] = {"dtype": "F16", "shape": list(s), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with path.open("wb") as fh:
        fh.write(struct.pack("<Q", len(raw)) + raw)
        fh.truncate(8 + len(raw) + offset)


#: How users save checkpoints: (file name, writer). Each writer gets the state_dict shapes.
def _write_th(path: Path, s: Shapes) -> None:  # the pretrained CIFAR ResNet-20's own layout
    torch.save({"state_dict": zeros({f"module.{k}": v for k, v in s.items()}), "best_prec1": 91.7}, path)


def _write_pth_tar(path: Path, s: Shapes) -> None:
    torch.save({"model": zeros(s), "epoch": 3}, path)


def _write_legacy(path: Path, s: Shapes) -> None:
    torch.save(zeros(s), path, _use_new_zipfile_serialization=False)


def _write_opaque_tar(path: Path, s: Shapes) -> None:
    torch.save(zeros({f"module.{k}": v for k, v in opaque(s).items()}), path)


def _write_pt(path: Path, s: Shapes) -> None:
    torch.save(zeros(s), path)


def _write_opaque_st(path: Path, s: Shapes) -> None:
    save_safetensors(path, opaque(s))


WRITERS: dict[str, tuple[str, Callable[[Path, Shapes], None]]] = {
    "th_wrapped_module_prefix": ("resnet20-12fca82f.th", _write_th),
    "pth_tar_model_epoch": ("checkpoint.pth.tar", _write_pth_tar),
    "no_extension_legacy_pickle": ("model_best", _write_legacy),
    "tar_opaque_names": ("weights.tar", _write_opaque_tar),
    "pt_plain": ("net.pt", _write_pt),
    "safetensors_opaque_names": ("net.safetensors", _write_opaque_st),
}

#: Networks the spec describes exactly: (file, factory, --shortcut to give (weights cannot show A
#: vs plain, see the docs), the count printed by the original projects where they publish one).
EXACT = {
    "cifar_resnet20": ("cifar_option_a", "resnet20", "A", 269_722),
    "cifar_resnet56": ("cifar_option_a", "resnet56", "A", None),
    "community_resnet18": ("cifar_option_b", "ResNet18", None, 11_173_962),
    "community_resnet50": ("cifar_option_b", "ResNet50", None, None),
    "torchvision_resnet18": ("torchvision_style", "resnet18", None, 11_689_512),
    "torchvision_resnet50": ("torchvision_style", "resnet50", None, 25_557_032),
    "preact_resnet18": ("preact", "PreActResNet18", None, None),
}


def check_exact(rec: Recovery, model: Any) -> None:
    """The recovered spec is the module: same count, same stages, same widths, nothing left over."""
    n = param_count(model)
    layers, outs = stages_of(model)
    assert rec.exact, (rec.unmapped[:3], rec.missing[:3])
    assert rec.checkpoint_params == n
    assert analyze(rec.spec).total.params == n == rec.spec_params
    assert rec.spec.layers == layers
    assert tuple(rec.spec.out_channels(i) for i in range(len(layers))) == outs
    assert rec.differences == ()


@pytest.mark.parametrize("case", list(EXACT))
def test_exact_recovery_by_structure(case: str) -> None:
    file, factory, shortcut, published = EXACT[case]
    model = build(file, factory)
    shapes = shapes_of(model)
    if published is not None:
        assert param_count(model) == published  # the module really is the network users know
    for variant in (shapes, opaque(shapes), {f"module.{k}": v for k, v in opaque(shapes).items()}):
        rec = recover(variant, shortcut=shortcut)
        check_exact(rec, model)
        assert rec.spec.preact == (file == "preact")
    named, hidden = recover(shapes, shortcut=shortcut), recover(opaque(shapes), shortcut=shortcut)
    assert replace(named.spec, name="x") == replace(hidden.spec, name="x")
    assert recover(opaque(shapes)).layout == "custom"


def test_cifar_resnet20_without_the_shortcut_flag_is_option_a() -> None:
    """Weights show no shortcut where shapes change: option A is the reading, with the plain-net caveat."""
    rec = recover(shapes_of(build("cifar_option_a", "resnet20")))
    assert rec.spec.shortcut == "A" and rec.spec.num_classes == 10 and rec.spec.stem == "cifar"
    assert rec.checkpoint_params == analyze(rec.spec).total.params == 269_722
    assert any("--shortcut none" in n for n in rec.notes)


@pytest.mark.parametrize("variant", list(WRITERS))
@pytest.mark.parametrize("case", list(EXACT))
def test_exact_files_through_the_cli(case: str, variant: str, tmp_path: Path) -> None:
    file, factory, shortcut, _ = EXACT[case]
    model = build(file, factory)
    name, write = WRITERS[variant]
    path = tmp_path / name
    write(path, shapes_of(model))
    args = ["inspect", str(path), "-f", "json"] + (["--shortcut", shortcut] if shortcut else [])
    code, out, err = run(*args)
    assert code == 0, err
    doc = json.loads(out)
    n = param_count(model)
    assert doc["params"] == n == doc["spec_params"] == doc["summary"]["totals"]["params"]
    assert doc["difference"] == {"params": 0, "exact": True, "blocks": []}
    assert doc["headline"].endswith("exactly those of the recovered spec")
    layers, _ = stages_of(model)
    assert tuple(doc["recovered"]["layers"]) == layers
    code, out, _ = run("inspect", str(path), "--strict", *args[4:])
    assert code == 0 and starts_with(out, f"{path}: {n:,} parameters")


# --- where the spec cannot be exact ---------------------------------------------------------------


def _tutorial_extra(model: Any) -> dict[str, int]:
    """Per block: a 3x3 projection's weights minus a 1x1 projection's (what the spec has)."""
    out = {}
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d) and ".downsample." in name:
            out[name.split(".downsample")[0]] = m.weight.numel() - m.out_channels * m.in_channels
    return out


def _se_extra(model: Any) -> dict[str, int]:
    """Per block: every parameter of its squeeze-excitation layer."""
    out: dict[str, int] = {}
    for name, p in model.named_parameters():
        if ".se." in name:
            block = name.split(".se.")[0]
            out[block] = out.get(block, 0) + p.numel()
    return out


def _resnext_extra(model: Any) -> dict[str, int]:
    """Per block: conv biases (the spec's convs have none); the stem: its 1x1 conv against the
    CIFAR stem's 3x3."""
    out: dict[str, int] = {}
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d) and m.bias is not None:
            block = name.rsplit(".", 1)[0]
            out[block] = out.get(block, 0) + m.bias.numel()
    stem = model.conv1
    out["stem"] = stem.weight.numel() - stem.out_channels * stem.in_channels * 3 * 3
    return out


INEXACT = {
    "tutorial": ("tutorial", "ResNet", _tutorial_extra),
    "se_resnet": ("se_bottleneck", "se_resnet_small", _se_extra),
    "resnext": ("resnext", "ResNeXt", _resnext_extra),
}


@pytest.mark.parametrize("case", list(INEXACT))
def test_difference_is_the_headline(case: str, tmp_path: Path) -> None:
    file, factory, extra_of = INEXACT[case]
    model = build(file, factory)
    n, extra = param_count(model), extra_of(model)
    diff = sum(extra.values())
    assert diff != 0
    for shapes in (shapes_of(model), opaque(shapes_of(model))):
        rec = recover(shapes)
        assert not rec.exact
        assert rec.checkpoint_params == n
        assert analyze(rec.spec).total.params == n - diff
        assert {d.block: d.params for d in rec.differences} == extra
    layers, outs = stages_of(model)
    rec = recover(shapes_of(model))
    assert rec.spec.layers == layers and tuple(rec.spec.out_channels(i) for i in range(len(layers))) == outs
    path = tmp_path / f"{case}.pth.tar"
    _write_pth_tar(path, shapes_of(model))
    code, out, err = run("inspect", str(path), "-f", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["params"] == n and doc["spec_params"] == n - diff and doc["difference"]["params"] == diff
    assert {b["block"]: b["params"] for b in doc["difference"]["blocks"]} == extra
    assert doc["headline"].startswith(f"{path}: {n:,} parameters")
    code, out, _ = run("inspect", str(path))
    assert code == 0 and starts_with(out, f"{path}: {n:,} parameters ({human(n)}); the recovered spec has {n - diff:,}")
    assert f"{diff:+,}" in out and "summary of the recovered spec (not the checkpoint" in out
    code, _, err = run("inspect", str(path), "--strict")
    assert code == 1 and err.startswith("error:") and err.count("\n") == 1


def test_tutorial_projection_kernel_is_named() -> None:
    rec = recover(opaque(shapes_of(build("tutorial", "ResNet"))))
    labels = {b.name: b.label for b in rec.shortcuts if b.seen != "no weights"}
    assert labels == {"layer2.0": "projection (3x3)", "layer3.0": "projection (3x3)"}
    why = {d.block: d.why for d in rec.differences}
    assert "a 3x3 kernel where the spec's is 1x1" in why["layer2.0"]


# --- registration order and mutations ---------------------------------------------------------------


def _reordered(shapes: Shapes, first: bool) -> Shapes:
    """Each unit's projection moved before its first tensor (timm's resnetv2 order) or kept after."""
    units: dict[str, list[str]] = {}
    head, tail = [], []
    for k in shapes:
        parts = k.split(".")
        if parts[0].startswith("layer"):
            units.setdefault(".".join(parts[:2]), []).append(k)
        elif units:
            tail.append(k)
        else:
            head.append(k)
    order = list(head)
    for keys in units.values():
        proj = [k for k in keys if ".downsample." in k]
        main = [k for k in keys if ".downsample." not in k]
        order += (proj + main) if first else (main + proj)
    return {k: shapes[k] for k in order + tail}


def test_projection_registered_first_or_last_reads_the_same() -> None:
    model = build("torchvision_style", "resnet50")
    shapes = shapes_of(model)
    for variant in (_reordered(shapes, True), opaque(_reordered(shapes, True)), opaque(_reordered(shapes, False))):
        check_exact(recover(variant), model)


def test_projections_on_every_unit_registered_first_without_names() -> None:
    """Option C with each projection registered before its unit's convs, keys opaque: only the
    shape chain can say which 1x1 conv is beside which unit (every unit is c -> c here)."""
    model = build("torchvision_style", "resnet18")
    shapes = shapes_of(model)
    added = 0
    for stage in range(1, 5):
        for b, unit in enumerate(getattr(model, f"layer{stage}")):
            if unit.downsample is None:
                c = unit.conv2.out_channels
                shapes[f"layer{stage}.{b}.downsample.0.weight"] = (c, unit.conv1.in_channels, 1, 1)
                shapes[f"layer{stage}.{b}.downsample.1.weight"] = shapes[f"layer{stage}.{b}.downsample.1.bias"] = (c,)
                added += c * unit.conv1.in_channels + 2 * c
    ordered = opaque(_reordered(shapes, True))
    rec = recover(ordered)
    assert rec.exact and rec.spec.shortcut == "C"
    assert rec.checkpoint_params == analyze(rec.spec).total.params == param_count(model) + added
    assert [b.seen for b in rec.shortcuts] == ["projection"] * 8


def test_shortcut_renamed_as_a_main_conv_changes_nothing() -> None:
    """A check that trusted names would now see a third main conv in a basic block."""
    model = build("torchvision_style", "resnet18")
    renamed = {k.replace("layer2.0.downsample.0.", "layer2.0.conv3.").replace("layer2.0.downsample.1.", "layer2.0.bn3."): s
               for k, s in shapes_of(model).items()}
    assert "layer2.0.conv3.weight" in renamed
    rec = recover(renamed)
    check_exact(rec, model)
    assert rec.spec.block == "basic" and rec.spec.shortcut == "B"
    assert [b.name for b in rec.shortcuts if b.seen == "projection"] == ["layer2.0", "layer3.0", "layer4.0"]
    main_named = {k.replace("layer1.0.conv1.", "layer1.0.downsample.0."): s for k, s in shapes_of(model).items()}
    check_exact(recover(main_named), model)


def test_a_removed_projection_is_reported() -> None:
    model = build("cifar_option_b", "ResNet18")
    removed = {k: v.numel() for k, v in model.state_dict().items()
               if k.startswith("layer3.0.shortcut.") and not k.endswith(("running_mean", "running_var", "num_batches_tracked"))}
    assert removed  # conv weight + BN weight and bias
    for shapes in ({k: s for k, s in shapes_of(model).items() if not k.startswith("layer3.0.shortcut.")},):
        for variant in (shapes, opaque(shapes)):
            rec = recover(variant)
            assert not rec.exact and rec.spec.shortcut == "B"
            assert rec.checkpoint_params == param_count(model) - sum(removed.values())
            assert rec.spec_params == param_count(model)
            assert {d.block: d.params for d in rec.differences} == {"layer3.0": -sum(removed.values())}
            assert "do not match" in dict(rec.evidence)["shortcut"]
            assert {b.name: b.label for b in rec.shortcuts}["layer3.0"] == "identity or zero-pad"


def test_projection_registered_away_from_its_unit_still_belongs_to_it() -> None:
    model = build("torchvision_style", "resnet18")
    shapes = shapes_of(model)
    moved = {k: s for k, s in shapes.items() if ".downsample." not in k}
    moved.update({k: s for k, s in shapes.items() if ".downsample." in k})  # after the classifier
    check_exact(recover(moved), model)


def test_classifier_is_found_by_shape_whatever_its_name() -> None:
    model = build("torchvision_style", "resnet18")
    for name in ("linear", "classifier", "head", "logits.proj"):
        shapes = {k.replace("fc.", f"{name}."): s for k, s in shapes_of(model).items()}
        rec = recover(shapes)
        check_exact(rec, model)
        assert rec.spec.num_classes == model.fc.out_features


def test_classifier_registered_first_and_headless_se() -> None:
    """The classifier is the last 2-D weight reading the last unit's channels wherever it was
    registered; a squeeze-excitation pair's first linear layer reads them too but is never taken."""
    model = build("se_bottleneck", "se_resnet_small")
    shapes = shapes_of(model)
    fc = {k: shapes.pop(k) for k in ("fc.weight", "fc.bias")}
    se = sum(extra for extra in _se_extra(model).values())
    rec = recover({**fc, **shapes})
    assert rec.spec.num_classes == model.fc.out_features and rec.difference == se
    headless = recover(opaque(shapes))
    fc_numel = model.fc.weight.numel() + model.fc.bias.numel()
    assert headless.spec.num_classes == 1000 and headless.checkpoint_params == param_count(model) - fc_numel
    spec_fc = 1000 * model.fc.in_features + 1000
    assert {d.block: d.params for d in headless.differences}["head"] == -spec_fc
    assert headless.difference == se - spec_fc


# --- not ResNets --------------------------------------------------------------------------------------


@pytest.mark.parametrize("factory", ["mlp", "VGG16"])
def test_not_a_resnet_says_what_it_found(factory: str, tmp_path: Path) -> None:
    model = build("not_resnets", factory)
    convs = sum(isinstance(m, nn.Conv2d) for m in model.modules())
    linears = sum(isinstance(m, nn.Linear) for m in model.modules())
    with pytest.raises(NotAResNet, match=f"no residual units: {convs} conv, {linears} linear layers"):
        recover(opaque(shapes_of(model)))
    path = tmp_path / f"{factory}.pth"
    report = tmp_path / "report.json"
    _write_pt(path, shapes_of(model))
    code, out, err = run("inspect", str(path), "-f", "json", "-o", str(report), "--emit-spec", str(tmp_path / "s.toml"))
    assert code == 2 and out == "" and "Traceback" not in err
    assert err.count("\n") == 1 and err.startswith("error: not a ResNet: no residual units: ")
    assert f"{convs} conv, {linears} linear layers" in err
    assert not report.exists() and not (tmp_path / "s.toml").exists()


def test_absurd_tensor_counts_are_refused_before_work() -> None:
    with pytest.raises(SpecError, match="above the limit"):
        recover({f"m{i}.weight": (1,) for i in range(250_001)})


# --- file formats by content ------------------------------------------------------------------------


def test_format_comes_from_content_not_name(tmp_path: Path) -> None:
    model = build("cifar_option_a", "resnet20")
    shapes = shapes_of(model)
    st_as_pt = tmp_path / "weights.pt"
    save_safetensors(st_as_pt, shapes)
    zip_as_st = tmp_path / "weights.safetensors"
    torch.save(zeros(shapes), zip_as_st)
    legacy_as_tar = tmp_path / "old.tar"
    _write_legacy(legacy_as_tar, shapes)
    for path, fmt in ((st_as_pt, "safetensors"), (zip_as_st, "zip"), (legacy_as_tar, "pickle")):
        loaded = load(str(path))
        assert loaded.format == fmt and loaded.shapes == shapes
        code, out, err = run("inspect", str(path), "-f", "json", "--shortcut", "A")
        assert code == 0, err
        assert json.loads(out)["params"] == param_count(model)
    assert any("by its content" in n for n in load(str(st_as_pt)).notes)
    assert load(str(tmp_path / "old.tar")).label == "old"
    assert load(str(zip_as_st)).label == "weights"


def test_file_labels_drop_checkpoint_suffixes(tmp_path: Path) -> None:
    shapes = shapes_of(build("cifar_option_a", "resnet20"))
    for name, label in (("resnet20-12fca82f.th", "resnet20-12fca82f"), ("ckpt.pth.tar", "ckpt"),
                        ("best", "best"), ("a b[red].pt", "a_b_red")):
        _write_pt(tmp_path / name, shapes)
        assert load(str(tmp_path / name)).label == label


def test_zip_that_is_not_a_torch_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "arrays.pt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("x.npy", b"\x93NUMPY")
    code, out, err = run("inspect", str(path))
    assert code == 2 and out == "" and err.count("\n") == 1 and "not a torch.save checkpoint" in err


@pytest.mark.parametrize("name", ["evil.th", "evil", "evil.pth.tar"])
def test_malicious_pickles_are_refused_whatever_the_name(name: str, tmp_path: Path) -> None:
    import os
    import pickle

    victim = tmp_path / "pwned.txt"

    class Payload:
        def __reduce__(self) -> tuple[Any, ...]:
            return (os.system, (f"touch {victim}",))

    path = tmp_path / name
    path.write_bytes(pickle.dumps({"state_dict": {"conv1.weight": Payload()}}))
    code, out, err = run("inspect", str(path))
    assert code == 2 and out == "" and err.count("\n") == 1 and "refused" in err and "system" in err
    assert not victim.exists()


# --- untrusted names ----------------------------------------------------------------------------------


def test_checkpoint_names_cannot_reach_the_terminal(tmp_path: Path) -> None:
    model = build("torchvision_style", "resnet18")
    shapes = shapes_of(model)
    shapes["layer1.0.\x1b[2Jevil[/bold]\u202e.weight"] = (4, 64)  # an extra 2-D layer with a crafted name
    path = tmp_path / "bad\x1b[31mname.pt"
    _write_pt(path, shapes)
    for fmt in ("table", "markdown", "csv", "json"):
        code, out, err = run("inspect", str(path), "-f", fmt)
        assert code == 0, err
        assert "\x1b" not in out and "\u202e" not in out
    code, out, _ = run("inspect", str(path))
    assert "evil[/bold]" in out  # markup shown as text, not interpreted
    assert f"{param_count(model) + 4 * 64:,} parameters" in " ".join(out.split()[:3])
    bad = tmp_path / "missing\x1b[31m.pt"
    code, _, err = run("inspect", str(bad))
    assert code == 2 and "\x1b" not in err and err.count("\n") == 1


# --- the spec's own parameters --------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    block=st.sampled_from(["basic", "bottleneck"]),
    layers=st.lists(st.integers(1, 3), min_size=1, max_size=4),
    stem=st.sampled_from(["imagenet", "cifar", "deep"]),
    shortcut=st.sampled_from(["A", "B", "C", "D", "none"]),
    preact=st.booleans(),
    groups=st.sampled_from([1, 2, 4]),
    classes=st.integers(1, 50),
)
def test_opaque_names_recover_the_same_counts(block: str, layers: list[int], stem: str, shortcut: str, preact: bool,
                                              groups: int, classes: int) -> None:
    """Any spec's parameters, renamed to opaque names, read back to a spec with the same count and
    layout; the only freedoms are what weights cannot show (A vs none vs identity-only B, D vs B
    without names, C vs B where every unit changes shape, pre- vs post-activation without a
    projection to tell them apart)."""
    n = len(layers)
    widths = tuple(8 * 2**i for i in range(n))
    kw = {"groups": groups, "width_per_group": 16} if block == "bottleneck" else {}
    spec = ResNetSpec(block=block, layers=tuple(layers), widths=widths, stem=stem, stem_width=8,
                      shortcut=shortcut, preact=preact, num_classes=classes, **kw)  # type: ignore[arg-type]
    shapes = expected_shapes(spec)
    total = analyze(spec).total.params
    assert sum(math.prod(s) for s in shapes.values()) == total
    rec = recover(opaque(shapes), input_size=spec.input_size, stride_in=spec.stride_in)
    assert rec.exact and rec.checkpoint_params == total == analyze(rec.spec).total.params
    got = rec.spec
    assert (got.block, got.layers, got.widths, got.stem, got.stem_width, got.groups, got.num_classes) == (
        spec.block, spec.layers, spec.widths, spec.stem, spec.stem_width, spec.groups, spec.num_classes)
    assert got.width_per_group == spec.width_per_group
    if any(b.seen != "no weights" for b in rec.shortcuts) and shortcut != "C":
        assert got.preact == preact
