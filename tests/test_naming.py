"""timm's resnetv2 key layout for pre-activation networks: built weights under `--names timm` have
exactly the keys and shapes of timm's models (fixtures written from timm's module structure)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from resnet_inspect.cli import app
from resnet_inspect.naming import from_timm_resnetv2, to_timm_resnetv2
from resnet_inspect.presets import PRESETS

torch = pytest.importorskip("torch")
safetensors = pytest.importorskip("safetensors.torch")
FIXTURES = Path(__file__).parent / "fixtures" / "checkpoints"


def fixture_shapes(name: str) -> dict[str, tuple[int, ...]]:
    shapes = {}
    for line in (FIXTURES / f"{name}.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        key, shape = line.split("\t")
        shapes[key] = () if shape == "-" else tuple(int(v) for v in shape.split("x"))
    return shapes


@pytest.mark.parametrize(
    ("spec", "fixture"),
    [
        ("preact_resnet50", "timm_resnetv2_50"),
        ("preact_resnet50:stem=deep,shortcut=D", "timm_resnetv2_50d"),
        ("preact_resnet18", "timm_resnetv2_18"),
    ],
)
def test_build_with_timm_names_matches_timm(spec: str, fixture: str, tmp_path: Path) -> None:
    out = tmp_path / "w.safetensors"
    result = CliRunner().invoke(app, ["build", spec, "--names", "timm", "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    state = safetensors.load_file(str(out))
    got = {k: tuple(v.shape) for k, v in state.items()}
    assert got == fixture_shapes(fixture)


@pytest.mark.parametrize("name", sorted(n for n, p in PRESETS.items() if p.spec.preact))
def test_names_round_trip(name: str) -> None:
    from resnet_inspect.nn.builder import build_for_counting

    spec = PRESETS[name].spec
    for variant in (spec, spec.__class__(**{**spec.to_dict(), "layers": tuple(spec.layers), "widths": tuple(spec.widths),
                                               "stem": "deep", "shortcut": "D"})):
        keys = list(build_for_counting(variant).state_dict())
        timm = [to_timm_resnetv2(k, deep_stem=variant.stem == "deep", avg_down=variant.shortcut == "D") for k in keys]
        assert len(set(timm)) == len(keys)
        back = [from_timm_resnetv2(k) for k in timm]
        if variant.shortcut != "D":
            assert back == keys
        else:  # timm names the pool-then-conv projection like a plain one: indices shift by the pool
            assert all(b is not None for b in back)


def test_torchvision_names_unchanged_for_v1(tmp_path: Path) -> None:
    out = tmp_path / "r18.pt"
    result = CliRunner().invoke(app, ["build", "resnet18", "--names", "timm", "-o", str(out)])
    assert result.exit_code == 0
    keys = set(torch.load(out, weights_only=True, map_location="cpu"))
    assert "layer2.0.downsample.0.weight" in keys and "fc.weight" in keys
