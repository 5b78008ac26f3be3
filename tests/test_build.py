"""The torch builder: parameter counts of every preset, torchvision's names and shapes, option A,
pre-activation wiring, initialisation, seeds, and the ``build`` command."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("torch")

import torch
import torch.nn.functional as F
from torch import nn

import resnet_inspect
from resnet_inspect.cli import app
from resnet_inspect.counts import analyze
from resnet_inspect.nn.builder import ZeroPadShortcut, build_for_counting, build_model
from resnet_inspect.presets import PRESETS
from resnet_inspect.specio import parse_spec

from .reference import TORCHVISION

pytestmark = pytest.mark.torch
FIXTURES = Path(__file__).parent / "fixtures"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """pytest -n 2 runs two workers on two cores: one intra-op thread each avoids oversubscription."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def numel(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_params_equal_analytic(name: str) -> None:
    spec = PRESETS[name].spec
    model = build_for_counting(spec)
    assert numel(model) == analyze(spec).total.params


@pytest.mark.parametrize("name", list(TORCHVISION))
def test_torchvision_presets_params_equal_published(name: str) -> None:
    """The built module, counted by torch itself, has torchvision's published parameter count."""
    assert numel(build_for_counting(PRESETS[name].spec)) == TORCHVISION[name][0]


def test_counting_module_has_the_real_modules_shapes() -> None:
    for name in ("resnet50", "preact_resnet18", "resnet26d", "cifar_resnet20"):
        spec = PRESETS[name].spec
        real = {k: tuple(v.shape) for k, v in build_model(spec).state_dict().items()}
        counting = {k: tuple(v.shape) for k, v in build_for_counting(spec).state_dict().items()}
        assert real == counting, name


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "cifar_resnet20", "preact_resnet18", "resnet18d", "wrn16_8", "plain18"])
def test_forward_gives_batch_by_classes(name: str) -> None:
    spec = replace(PRESETS[name].spec, input_size=min(PRESETS[name].spec.input_size, 64))
    model = build_model(spec, seed=0).eval()
    with torch.no_grad():
        out = model(torch.randn(2, spec.in_channels, spec.input_size, spec.input_size))
    assert tuple(out.shape) == (2, spec.num_classes)
    assert torch.isfinite(out).all()


def _fixture_shapes() -> list[tuple[str, tuple[int, ...]]]:
    rows = []
    for line in (FIXTURES / "torchvision_resnet50_state_dict.txt").read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        key, shape = line.split()
        rows.append((key, () if shape == "-" else tuple(int(v) for v in shape.split(","))))
    return rows


def test_resnet50_state_dict_matches_torchvision_structure() -> None:
    expected = _fixture_shapes()
    assert len(expected) == 320  # 161 parameters + 3 buffers for each of the 53 BNs
    got = [(k, tuple(v.shape)) for k, v in build_model(PRESETS["resnet50"].spec).state_dict().items()]
    assert got == expected


def test_torchvision_style_state_dict_round_trips_strictly() -> None:
    spec = replace(PRESETS["resnet18"].spec, input_size=64)
    source = build_model(spec, seed=1).eval()
    target = build_model(spec, seed=2).eval()
    target.load_state_dict(source.state_dict(), strict=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(source(x), target(x))


def test_loading_with_a_missing_key_fails_loudly() -> None:
    model = build_model(PRESETS["resnet50"].spec)
    state = build_model(PRESETS["resnet50"].spec).state_dict()
    del state["layer2.0.downsample.0.weight"]
    with pytest.raises(RuntimeError, match=r"Missing key\(s\).*layer2\.0\.downsample\.0\.weight"):
        model.load_state_dict(state, strict=True)


def test_resnet_d_and_deep_stem_use_timm_names() -> None:
    keys = build_for_counting(PRESETS["resnet50d"].spec).state_dict()
    for key, shape in (
        ("conv1.0.weight", (32, 3, 3, 3)), ("conv1.1.weight", (32,)), ("conv1.3.weight", (32, 32, 3, 3)),
        ("conv1.4.weight", (32,)), ("conv1.6.weight", (64, 32, 3, 3)), ("bn1.weight", (64,)),
        ("layer1.0.downsample.1.weight", (256, 64, 1, 1)), ("layer1.0.downsample.2.weight", (256,)),
        ("layer2.0.downsample.1.weight", (512, 256, 1, 1)), ("layer2.0.downsample.2.running_var", (512,)),
    ):
        assert tuple(keys[key].shape) == shape, key
    model = build_for_counting(PRESETS["resnet50d"].spec)
    assert isinstance(model.get_submodule("layer1.0.downsample.0"), nn.Identity)
    pool = model.get_submodule("layer2.0.downsample.0")
    assert isinstance(pool, nn.AvgPool2d) and pool.ceil_mode and not pool.count_include_pad


def test_preact_names_and_head() -> None:
    keys = build_for_counting(PRESETS["preact_resnet50"].spec).state_dict()
    assert "bn1.weight" not in keys  # the stem of a v2 network has no BN
    assert tuple(keys["layer1.0.bn1.weight"].shape) == (64,)  # BN on the unit's input
    assert tuple(keys["layer1.0.downsample.0.weight"].shape) == (256, 64, 1, 1)
    assert not any(k.startswith("layer1.0.downsample.1") for k in keys)  # bare conv projection
    assert tuple(keys["bn_final.weight"].shape) == (2048,)


def test_zero_pad_shortcut_subsamples_and_pads() -> None:
    x = torch.arange(2 * 5 * 5, dtype=torch.float32).reshape(1, 2, 5, 5)
    out = ZeroPadShortcut(stride=2, extra_channels=3)(x)
    assert tuple(out.shape) == (1, 5, 3, 3)
    assert torch.equal(out[:, :2], x[:, :, ::2, ::2])
    assert not out[:, 2:].any()
    assert tuple(ZeroPadShortcut(stride=1, extra_channels=192)(torch.ones(1, 64, 7, 7)).shape) == (1, 256, 7, 7)


def test_option_a_has_no_shortcut_parameters() -> None:
    model = build_for_counting(parse_spec("resnet50:shortcut=A"))
    for stage in range(1, 5):
        shortcut = model.get_submodule(f"layer{stage}.0.downsample")
        assert isinstance(shortcut, ZeroPadShortcut) and numel(shortcut) == 0
    assert shortcut.stride == 2 and shortcut.extra_channels == 1024


def test_option_c_projects_every_block_and_none_adds_nothing() -> None:
    c = build_for_counting(parse_spec("resnet18:shortcut=C"))
    assert all(getattr(c.get_submodule(f"layer{s}.{i}"), "downsample", None) is not None for s in range(1, 5) for i in range(2))
    plain = build_for_counting(PRESETS["plain18"].spec)
    assert all(not u.residual and u.downsample is None for s in range(1, 5) for u in plain.get_submodule(f"layer{s}"))


def test_stride_placement() -> None:
    paper = build_for_counting(parse_spec("resnet50:stride_in=1x1"))
    tv = build_for_counting(PRESETS["resnet50"].spec)
    assert paper.get_submodule("layer2.0.conv1").stride == (2, 2) and paper.get_submodule("layer2.0.conv2").stride == (1, 1)
    assert tv.get_submodule("layer2.0.conv1").stride == (1, 1) and tv.get_submodule("layer2.0.conv2").stride == (2, 2)


def test_preact_unit_wiring() -> None:
    """A v2 unit computes conv2(relu(bn2(conv1(relu(bn1(x)))))) + proj(relu(bn1(x))), with no ReLU
    after the addition (He et al. 2016); the projection sees the pre-activated input."""
    spec = parse_spec("preact_resnet18:input_size=32")
    unit = build_model(spec, seed=3).get_submodule("layer2.0").eval()
    for bn in (unit.bn1, unit.bn2):
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
    x = torch.randn(1, 64, 8, 8)

    def bn(m: nn.BatchNorm2d, t: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(t, m.running_mean, m.running_var, m.weight, m.bias, False, 0.0, m.eps)

    pre = F.relu(bn(unit.bn1, x))
    main = F.conv2d(F.relu(bn(unit.bn2, F.conv2d(pre, unit.conv1.weight, stride=2, padding=1))), unit.conv2.weight, padding=1)
    expected = main + F.conv2d(pre, unit.downsample[0].weight, stride=2)
    with torch.no_grad():
        got = unit(x)
    assert torch.allclose(got, expected, atol=1e-5)
    assert (got < 0).any()  # no ReLU after the addition


def test_v1_unit_wiring() -> None:
    """A torchvision basic unit: relu(bn2(conv2(relu(bn1(conv1 x)))) + bn(proj x))."""
    unit = build_model(parse_spec("resnet18"), seed=4).get_submodule("layer3.0").eval()
    x = torch.randn(1, 128, 8, 8)

    def bn(m: nn.BatchNorm2d, t: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(t, m.running_mean, m.running_var, m.weight, m.bias, False, 0.0, m.eps)

    h = F.relu(bn(unit.bn1, F.conv2d(x, unit.conv1.weight, stride=2, padding=1)))
    h = bn(unit.bn2, F.conv2d(h, unit.conv2.weight, padding=1))
    expected = F.relu(h + bn(unit.downsample[1], F.conv2d(x, unit.downsample[0].weight, stride=2)))
    with torch.no_grad():
        assert torch.allclose(unit(x), expected, atol=1e-5)


def test_torchvision_initialisation() -> None:
    model = build_model(PRESETS["resnet50"].spec, seed=0)
    conv = model.get_submodule("layer4.0.conv2")  # 512 x 512 x 3 x 3: 2.4M samples
    fan_out = conv.weight.shape[0] * 9
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2.0 / fan_out), rel=0.01)
    assert conv.weight.mean().item() == pytest.approx(0.0, abs=1e-4)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            assert torch.all(m.weight == 1) and torch.all(m.bias == 0)
    bound = 1 / math.sqrt(2048)  # nn.Linear's default: U(-1/sqrt(in), 1/sqrt(in))
    assert model.fc.weight.abs().max().item() <= bound and model.fc.weight.abs().max().item() > 0.9 * bound


def test_seed_reproduces_weights_and_leaves_global_rng_alone() -> None:
    spec = PRESETS["cifar_resnet20"].spec
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a = build_model(spec, seed=7).state_dict()
    assert torch.equal(torch.random.get_rng_state(), before)
    b = build_model(spec, seed=7).state_dict()
    c = build_model(spec, seed=8).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["conv1.weight"], c["conv1.weight"])


def test_python_api_build_accepts_spec_strings() -> None:
    model = resnet_inspect.build("resnet34:shortcut=A", seed=0)
    assert isinstance(model, nn.Module)
    assert numel(model) == analyze(parse_spec("resnet34:shortcut=A")).total.params


# --- the build command -----------------------------------------------------------------------------


def test_build_writes_a_loadable_state_dict(tmp_path: Path) -> None:
    out = tmp_path / "r18.pt"
    result = runner.invoke(app, ["build", "resnet18", "-o", str(out), "--seed", "0"])
    assert result.exit_code == 0, result.stderr
    assert "11,689,512 parameters" in result.stderr
    state = torch.load(out, weights_only=True)
    model = build_model(PRESETS["resnet18"].spec, seed=1)
    model.load_state_dict(state, strict=True)
    assert torch.equal(state["conv1.weight"], build_model(PRESETS["resnet18"].spec, seed=0).state_dict()["conv1.weight"])


def test_build_safetensors_with_overrides(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    out = tmp_path / "r20.safetensors"
    result = runner.invoke(app, ["build", "cifar_resnet20", "--num-classes", "100", "-o", str(out), "--seed", "5"])
    assert result.exit_code == 0, result.stderr
    tensors = load_file(str(out))
    assert tuple(tensors["fc.weight"].shape) == (100, 64)
    assert sum(t.numel() for k, t in tensors.items() if "running" not in k and "num_batches" not in k) == 269_722 - 650 + 6500
    expected = build_model(parse_spec("cifar_resnet20:num_classes=100"), seed=5).state_dict()
    assert torch.equal(tensors["layer3.2.conv2.weight"], expected["layer3.2.conv2.weight"])


def test_build_same_seed_same_file(tmp_path: Path) -> None:
    paths = [tmp_path / "a.pt", tmp_path / "b.pt"]
    for p in paths:
        assert runner.invoke(app, ["build", "cifar_resnet20", "-o", str(p), "--seed", "11"]).exit_code == 0
    a, b = (torch.load(p, weights_only=True) for p in paths)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(("args", "needle"), [
    (["resnet18", "-o", "model.bin"], "unknown weights format '.bin'"),
    (["resnet18", "-o", "model"], "unknown weights format '(no extension)'"),
    (["resnet18", "-o", "missing/model.pt"], "does not exist"),
    (["resnet19", "-o", "model.pt"], "unknown preset 'resnet19'"),
    (["resnet18:shortcut=E", "-o", "model.pt"], "shortcut='E'"),
])
def test_build_bad_input_exits_2_and_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], needle: str) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["build", *args])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0]
    assert list(tmp_path.iterdir()) == []
