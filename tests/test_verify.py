"""``verify``: analytic counts == module parameters == fvcore per op, for every preset; mismatches are
caught and named; the ``verify`` command and ``summary --verify``."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import replace

import pytest
from typer.testing import CliRunner

pytest.importorskip("torch")
pytest.importorskip("fvcore")

import torch
from fvcore.nn import FlopCountAnalysis

import resnet_inspect
from resnet_inspect.cli import app
from resnet_inspect.counts import FVCORE_OPS, analyze
from resnet_inspect.errors import CheckFailed
from resnet_inspect.nn import verify as verification
from resnet_inspect.nn.builder import build_model
from resnet_inspect.nn.verify import verify_or_raise, verify_spec
from resnet_inspect.presets import PRESETS
from resnet_inspect.specio import parse_spec

from .reference import TORCHVISION

pytestmark = pytest.mark.torch
runner = CliRunner()


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """pytest -n 2 runs two workers on two cores: one intra-op thread each avoids oversubscription."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

#: Deep presets are traced at a small input: fvcore's per-op counts then stay exact but cheap.
#: Parameters do not depend on the input size, so test_build checks them at full size.
SMALL_INPUT = {"resnet101": 64, "resnet152": 64, "resnext101_32x8d": 64, "resnext101_64x4d": 64,
               "wide_resnet101_2": 64, "resnet200": 64, "preact_resnet101": 64, "preact_resnet152": 64,
               "preact_resnet200": 64, "resnet101d": 64}


def preset_for_test(name: str):  # type: ignore[no-untyped-def]
    spec = PRESETS[name].spec
    return replace(spec, input_size=SMALL_INPUT[name]) if name in SMALL_INPUT else spec


@pytest.mark.parametrize("name", [n for n in PRESETS if n not in ("cifar_resnet1202", "preact_resnet1001")])
def test_every_preset_verifies(name: str) -> None:
    report = verify_spec(preset_for_test(name))
    assert report.ok, report.failure_lines()
    assert report.output_shape == (1, report.spec.num_classes)
    blocks = {c.scope for c in report.checks if c.scope.startswith("layer")}
    assert len(blocks) == report.spec.num_blocks


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cifar_resnet1202", "preact_resnet1001"])
def test_thousand_layer_presets_verify(name: str) -> None:
    report = verify_spec(PRESETS[name].spec)
    assert report.ok, report.failure_lines()[:5]
    assert report.check("total", "params").measured == analyze(PRESETS[name].spec).total.params


@pytest.mark.parametrize("name", ["resnet50", "resnext50_32x4d", "resnet50d", "cifar_resnet20", "preact_resnet164", "wrn16_8"])
def test_fvcore_by_operator_equals_macs_by_op(name: str) -> None:
    """fvcore run here directly (not through nn/verify.py) agrees op by op with the engine."""
    spec = PRESETS[name].spec
    model = build_model(spec, seed=0).eval()
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    fv = FlopCountAnalysis(model, torch.zeros(1, spec.in_channels, spec.input_size, spec.input_size))
    by_op = fv.unsupported_ops_warnings(False).uncalled_modules_warnings(False).by_operator()
    analytic = analyze(spec).total.macs_by_op()
    assert set(by_op) <= set(FVCORE_OPS)
    for op in FVCORE_OPS:
        assert by_op.get(op, 0) == analytic[op], op
    if name == "resnet50":  # torchvision's published 4.09 GFLOPS is fvcore's conv + linear count
        assert round((by_op["conv"] + by_op["linear"]) / 1e9, 2) == TORCHVISION["resnet50"][1]


def test_per_block_checks_cover_params_shortcut_and_ops() -> None:
    report = verify_spec(parse_spec("resnet50"))
    first = {c.quantity: c for c in report.checks if c.scope == "layer2.0"}
    assert {"params", "params.shortcut", "conv", "batch_norm", "relu", "add"} <= set(first)
    # layer2.0's projection, counted by hand: 1x1 conv 256->512 + BN(512).
    assert first["params.shortcut"].measured == 256 * 512 + 2 * 512
    assert first["conv"].source == "fvcore" and first["relu"].source == "hooks"
    assert report.check("total", "linear").measured == 2048 * 1000


def test_odd_input_sizes_and_every_shortcut() -> None:
    for text in ("resnet18:shortcut=A,input_size=97", "resnet50:shortcut=C,input_size=75",
                 "resnet50d:input_size=63", "preact_resnet18:shortcut=D,input_size=45",
                 "resnet34:shortcut=none,input_size=33", "preact_resnet50:shortcut=A,input_size=41"):
        report = verify_spec(parse_spec(text))
        assert report.ok, (text, report.failure_lines())


def test_a_wrong_analysis_is_caught_and_named() -> None:
    spec = parse_spec("resnet18:input_size=64")
    wrong = analyze(replace(spec, shortcut="A"))  # counts without the projections
    report = verify_spec(spec, analysis=wrong)
    assert not report.ok
    failed = {(c.scope, c.quantity) for c in report.failures}
    for stage in (2, 3, 4):
        assert (f"layer{stage}.0", "params.shortcut") in failed
        assert (f"layer{stage}.0", "conv") in failed
    assert ("layer1.0", "params") not in failed
    assert any(line.startswith("mismatch: layer2.0 params.shortcut: analytic 0 != module 8,448") for line in report.failure_lines())


def test_verify_or_raise() -> None:
    assert verify_or_raise(parse_spec("cifar_resnet20")) is None


def test_python_api_verify() -> None:
    report = resnet_inspect.verify("resnet34:shortcut=A,input_size=64")
    assert report.ok and report.check("total", "params").analytic == report.check("total", "params").measured


# --- the commands ----------------------------------------------------------------------------------


def test_verify_command_table() -> None:
    result = runner.invoke(app, ["verify", "resnet18"])
    assert result.exit_code == 0, result.stderr
    for text in ("11,689,512", "1,813,561,344", "layer4.1", "✓", "checks agree", "fvcore"):
        assert text in result.stdout
    assert "✗" not in result.stdout


def test_verify_command_json() -> None:
    result = runner.invoke(app, ["verify", "cifar_resnet20", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["schema_version"] == 1 and doc["ok"] is True
    assert doc["spec"]["name"] == "cifar_resnet20"
    assert doc["output_shape"] == {"expected": [1, 10], "measured": [1, 10], "ok": True}
    total = {c["quantity"]: c for c in doc["checks"] if c["scope"] == "total"}
    assert total["params"]["measured"] == 269_722  # about 0.27 M in He et al. 2015, Table 6
    assert set(FVCORE_OPS) <= set(total)
    assert all(set(c) == {"scope", "quantity", "source", "analytic", "measured", "ok"} for c in doc["checks"])


def _break_analysis(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the analytic side wrong (as a bug in the engine would): it counts option A shortcuts."""
    real = verification.analyze
    monkeypatch.setattr(verification, "analyze", lambda spec: real(replace(spec, shortcut="A")))


def test_verify_command_exits_1_naming_each_mismatch(monkeypatch: pytest.MonkeyPatch) -> None:
    _break_analysis(monkeypatch)
    result = runner.invoke(app, ["verify", "resnet18", "--input-size", "64"])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines and all(line.startswith("mismatch: ") for line in lines)
    assert any(line.startswith("mismatch: layer3.0 params.shortcut:") for line in lines)
    assert any(line.startswith("mismatch: total conv:") for line in lines)
    assert "✗" in result.stdout and "checks differ" in result.stdout


def test_summary_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    ok = runner.invoke(app, ["summary", "resnet18", "--verify"])
    assert ok.exit_code == 0, ok.stderr
    assert "layer4.1" in ok.stdout
    _break_analysis(monkeypatch)
    bad = runner.invoke(app, ["summary", "resnet18", "--verify"])
    assert bad.exit_code == 1
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: verification failed") and "layer2.0 params.shortcut" in lines[0]
    assert bad.stdout == ""


def test_verify_or_raise_message(monkeypatch: pytest.MonkeyPatch) -> None:
    _break_analysis(monkeypatch)
    with pytest.raises(CheckFailed, match=re.escape("layer2.0 params.shortcut: analytic 0 != module 8,448")):
        verify_or_raise(parse_spec("resnet18:input_size=64"))


def test_verify_command_bad_spec_exits_2() -> None:
    result = runner.invoke(app, ["verify", "resnet50:widths=1-2"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
