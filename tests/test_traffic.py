"""Bytes moved, arithmetic intensity and the roofline (``resnet_inspect.traffic``, ``resnet-inspect roofline``).

Bytes are derived here by hand from the layer shapes of ResNet-50 and CIFAR ResNet-20 (He et al.
2015: a 64x56x56 map into layer1, 1x1 and 3x3 convs, a 2048-to-1000 classifier), never read
back from the module under test; sums are checked against a walk over the plan's own layers.
"""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

import resnet_inspect.cli.common as common
from resnet_inspect.cli import app
from resnet_inspect.cli.roofline import DEVICE_NAMES
from resnet_inspect.counts import OPS, analyze
from resnet_inspect.plan import Layer
from resnet_inspect.presets import get_preset
from resnet_inspect.specio import parse_spec
from resnet_inspect.traffic import (
    DEVICES,
    Device,
    Traffic,
    agreement,
    block_traffic,
    estimate,
    layer_rows,
    layer_traffic,
    match_cuda_device,
    named_device,
    network_traffic,
    parse_device_peak,
    roofline,
    spearman,
)

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()
R50 = analyze(get_preset("resnet50"))
R20 = analyze(get_preset("cifar_resnet20"))


def layer(a: object, name: str) -> Layer:
    for row in layer_rows(a):  # type: ignore[arg-type]
        if row.layer.name == name:
            return row.layer
    raise KeyError(name)


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def roofline_json(*args: str) -> dict:
    code, out, err = run("roofline", *args, "--format", "json")
    assert code == 0, err
    return json.loads(out)


# --- bytes and FLOPs of single layers, by hand ------------------------------------------------------


def test_a_1x1_conv_reads_its_input_and_weights_and_writes_its_output() -> None:
    ly = layer(R50, "layer1.0.conv1")  # 64x56x56 -> 64x56x56, 1x1, no bias
    t = layer_traffic(ly, "fp32")
    assert t.reads == 64 * 56 * 56 * 4 and t.weights == 64 * 64 * 4 and t.writes == 64 * 56 * 56 * 4
    assert t.bytes == (64 * 56 * 56 + 64 * 64 + 64 * 56 * 56) * 4 == 1_622_016
    assert t.flops == 2 * 64 * 64 * 56 * 56
    assert t.arithmetic_intensity == round(t.flops / t.bytes, 4) == 15.8384


def test_a_3x3_conv_and_the_projection() -> None:
    conv2 = layer_traffic(layer(R50, "layer1.0.conv2"), "fp32")
    assert conv2.bytes == (64 * 56 * 56 + 64 * 64 * 9 + 64 * 56 * 56) * 4
    assert conv2.flops == 2 * 64 * 64 * 9 * 56 * 56
    proj = layer_traffic(layer(R50, "layer2.0.downsample.0"), "fp32")  # 256x56x56 -> 512x28x28, 1x1 stride 2
    assert proj.bytes == (256 * 56 * 56 + 512 * 256 + 512 * 28 * 28) * 4
    assert proj.flops == 2 * 512 * 256 * 28 * 28


def test_eval_batch_norm_reads_four_vectors_per_channel() -> None:
    t = layer_traffic(layer(R50, "layer1.0.bn3"), "fp32")  # 256x56x56: weight, bias, running mean and var
    n = 256 * 56 * 56
    assert (t.reads, t.weights, t.writes) == (n * 4, 4 * 256 * 4, n * 4)
    assert t.flops == 2 * n  # one multiply and one add per element once folded
    no_affine = Layer("bn", "batch_norm", (8, 4, 4), (8, 4, 4), affine=False)
    assert layer_traffic(no_affine).weights == 2 * 8 * 4  # running statistics only


def test_the_addition_reads_both_operands() -> None:
    t = layer_traffic(layer(R50, "layer1.0.add"), "bf16")
    n = 256 * 56 * 56
    assert (t.reads, t.weights, t.writes, t.flops) == (2 * n * 2, 0, n * 2, n)
    assert t.arithmetic_intensity == round(1 / 6, 4)


def test_relu_pool_and_classifier() -> None:
    relu = layer_traffic(layer(R50, "layer1.0.relu1"))
    assert relu.bytes == 2 * 64 * 56 * 56 * 4 and relu.flops == 64 * 56 * 56  # in place still reads and writes
    pool = layer_traffic(layer(R50, "maxpool"))  # 64x112x112 -> 64x56x56, 3x3 windows
    assert pool.bytes == (64 * 112 * 112 + 64 * 56 * 56) * 4 and pool.flops == 64 * 56 * 56 * 9
    fc = layer_traffic(layer(R50, "fc"))
    assert fc.bytes == (2048 + 2048 * 1000 + 1000 + 1000) * 4 and fc.flops == 2 * 2048 * 1000


def test_zero_pad_reads_the_subsample_it_keeps_and_computes_nothing() -> None:
    t = layer_traffic(layer(R20, "layer2.0.shortcut"))  # 16x32x32 -> 32x16x16, stride 2
    assert (t.reads, t.weights, t.writes, t.flops) == (16 * 16 * 16 * 4, 0, 32 * 16 * 16 * 4, 0)


def test_a_gate_product_and_a_shared_module() -> None:
    gate = Layer("se.mul", "mul", (64, 8, 8), (64, 8, 8))
    assert layer_traffic(gate).reads == (64 * 8 * 8 + 64) * 4  # x and a per-channel gate
    conv = Layer("c", "conv", (8, 4, 4), (8, 4, 4), shared=True)
    assert layer_traffic(conv).weights == 8 * 8 * 4  # a module called again reads its weights again


def test_batch_scales_activations_and_flops_not_weights() -> None:
    ly = layer(R50, "layer1.0.conv1")
    one, eight = layer_traffic(ly, "fp32"), layer_traffic(ly, "fp32", batch=8)
    assert eight.weights == one.weights and eight.reads == 8 * one.reads and eight.writes == 8 * one.writes
    assert eight.flops == 8 * one.flops
    assert layer_traffic(ly, "bf16").bytes * 2 == one.bytes == layer_traffic(ly, "fp16").bytes * 2


# --- sums -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["resnet50", "cifar_resnet20", "resnet18:shortcut=C", "resnet50:shortcut=D", "preact_resnet18"])
def test_blocks_sum_their_layers_and_the_network_sums_everything(name: str) -> None:
    a = analyze(parse_spec(name))
    net = network_traffic(a, "bf16", 4)
    for blk, bt in zip(a.plan.blocks, net.blocks):
        main = [layer_traffic(ly, "bf16", 4) for ly in blk.main]
        short = [layer_traffic(ly, "bf16", 4) for ly in blk.shortcut_layers]
        assert bt.shortcut_bytes == sum(t.bytes for t in short) and bt.shortcut_flops == sum(t.flops for t in short)
        assert bt.bytes == sum(t.bytes for t in main + short) and bt.flops == sum(t.flops for t in main + short)
        assert bt.arithmetic_intensity == round(bt.flops / bt.bytes, 4)
        assert isinstance(bt.bytes, int) and isinstance(bt.arithmetic_intensity, float)
    every = [layer_traffic(ly, "bf16", 4) for ly in a.plan.stem + a.plan.head]
    every += [layer_traffic(ly, "bf16", 4) for blk in a.plan.blocks for ly in (*blk.main, *blk.shortcut_layers)]
    assert net.total.bytes == sum(t.bytes for t in every)
    assert [r.traffic for r in layer_rows(a, "bf16", 4)] and sum(r.traffic.bytes for r in layer_rows(a, "bf16", 4)) == net.total.bytes
    # Weights once: every parameter, plus 2 running statistics per BN channel.
    bn_channels = sum(ly.in_shape[0] for ly in (*a.plan.stem, *a.plan.head) if ly.op == "batch_norm") + sum(
        ly.in_shape[0] for blk in a.plan.blocks for ly in (*blk.main, *blk.shortcut_layers) if ly.op == "batch_norm")
    assert net.total.weights == (a.total.params + 2 * bn_channels) * 2
    assert block_traffic(a, "bf16", 4) == net.blocks


def test_flops_are_twice_the_macs_plus_the_elementwise_ops() -> None:
    t = network_traffic(R50).total
    other = sum(v for op, v in zip(OPS, R50.total.by_op) if op not in ("conv", "linear"))
    assert t.flops == 2 * R50.total.macs + other
    assert 1.0 < t.flops / (2 * R50.total.macs) < 1.01  # elementwise ops add under 1% for ResNet-50


def test_identity_shortcuts_move_nothing_of_their_own() -> None:
    for bt in block_traffic(R50):
        if bt.shortcut_kind == "identity":
            assert bt.shortcut_bytes == 0 and bt.shortcut_flops == 0 and bt.shortcut_arithmetic_intensity == 0.0


def test_alike_blocks_are_worked_out_once() -> None:
    a = analyze(parse_spec("resnet50:layers=3-4-2000-3"))
    blocks = block_traffic(a)
    assert len(blocks) == 2010
    assert blocks[10].main_layers is blocks[1500].main_layers  # shared, not recomputed per block


# --- roofline -------------------------------------------------------------------------------------


TINY = Device("tiny", 100.0, 10.0)  # ridge point: 10 FLOP per byte


def test_bound_switches_at_the_ridge_point() -> None:
    assert TINY.ridge == 10.0
    below, at, above = Traffic(99, 10), Traffic(100, 10), Traffic(101, 10)
    assert roofline(below, TINY).bound == "memory" and roofline(below, TINY).seconds == 1.0  # 10 bytes / 10 B/s
    assert roofline(at, TINY).bound == "compute" and roofline(at, TINY).seconds == 1.0
    assert roofline(above, TINY).bound == "compute" and roofline(above, TINY).seconds == 1.01
    assert roofline(Traffic(), TINY).bound == "none" and roofline(Traffic(0, 4), TINY).bound == "memory"


def test_a_sequence_of_kernels_adds_their_rooflines() -> None:
    conv, bn = Traffic(1000, 10), Traffic(10, 40)  # compute-bound 10 s, memory-bound 4 s
    e = estimate([conv, bn], TINY)
    assert e.seconds == 14.0 and e.compute_seconds == 10.1 and e.memory_seconds == 5.0
    assert e.memory_bound_seconds == 4.0 and e.bound == "compute"
    assert estimate([conv, bn, bn, bn], TINY).bound == "memory"  # 12 s of 22 memory-bound


def test_resnet50_on_an_a100_in_bf16() -> None:
    """BN, ReLU and the additions sit far below the ridge; the 1x1 convs of the early stages, and
    their projections, are memory-bound even at batch 256; layer4's blocks are compute-bound."""
    from resnet_inspect.report.roofline import RooflineReport, memory_bound_projections

    dev = named_device("a100", "bf16")
    assert round(dev.ridge) == 153
    net = network_traffic(R50, "bf16", 256)
    rows = list(layer_rows(R50, "bf16", 256))
    for row in rows:
        if row.layer.op in ("batch_norm", "relu", "add"):
            assert roofline(row.traffic, dev).bound == "memory", row.layer.name
    proj = {r.layer.name: roofline(r.traffic, dev).bound for r in rows if r.layer.name.endswith("downsample.0")}
    assert proj == {"layer1.0.downsample.0": "memory", "layer2.0.downsample.0": "memory",
                    "layer3.0.downsample.0": "compute", "layer4.0.downsample.0": "compute"}
    report = RooflineReport(R50, net, dev, "a100", "test")
    assert memory_bound_projections(report) == ["layer1.0", "layer2.0"]  # with their BN, the whole shortcut path
    bounds = {b.name: estimate(b.layers, dev).bound for b in net.blocks}
    assert bounds["layer1.1"] == "memory" and bounds["layer4.1"] == "compute"


def test_agreement_and_rank_correlation() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == 1.0
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == -1.0
    assert spearman([1, 1, 1], [1, 2, 3]) is None
    assert math.isclose(spearman([1, 2, 2, 3], [1, 2, 3, 4]) or 0, 0.9486832980505138)
    g = agreement([2.0, 8.0, 4.0], [1.0, 2.0, 1.0])
    assert g is not None and math.isclose(g.geomean_ratio, (2 * 4 * 4) ** (1 / 3))
    assert (g.min_ratio, g.max_ratio, g.n) == (2.0, 4.0, 3)
    assert agreement([1.0], [0.0]) is None


# --- devices --------------------------------------------------------------------------------------


def test_named_devices_pick_their_peak_by_dtype() -> None:
    a100 = DEVICES["a100"]
    assert named_device("a100", "bf16").peak_flops == 312e12 and named_device("a100", "fp32").peak_flops == 19.5e12
    assert a100.bandwidth == 2.039e12 and named_device("A100", "fp16").bandwidth == 2.039e12
    assert named_device("v100", "bf16").peak_flops == named_device("v100", "fp32").peak_flops  # no bf16 tensor cores
    assert named_device("h100-sxm", "bf16").peak_flops == 989.4e12 and named_device("h200").bandwidth == 4.8e12
    for d in DEVICES.values():
        assert d.source and d.bf16 >= d.fp32 and d.fp16 >= d.fp32 and d.bandwidth > 0
    assert ", ".join(DEVICES) == DEVICE_NAMES  # --help lists every device
    with pytest.raises(ValueError, match="not a known device"):
        named_device("b200")


@pytest.mark.parametrize(("cuda_name", "name"), [
    ("NVIDIA A100-SXM4-80GB", "a100"), ("NVIDIA A100-SXM4-40GB", "a100-40gb"), ("NVIDIA A100 80GB PCIe", None),
    ("NVIDIA H100 80GB HBM3", "h100-sxm"), ("NVIDIA H100 PCIe", None), ("NVIDIA H200", "h200"),
    ("Tesla V100-SXM2-16GB", "v100"), ("NVIDIA GeForce RTX 4090", "rtx4090"), ("NVIDIA L4", "l4"), ("Tesla T4", "t4"),
    ("NVIDIA L40S", None), ("NVIDIA GeForce RTX 3090", None),
])
def test_cuda_names_match_named_devices(cuda_name: str, name: str | None) -> None:
    assert match_cuda_device(cuda_name) == name


@pytest.mark.parametrize(("text", "peak", "bandwidth"), [
    ("312T,2.0TB/s", 312e12, 2.0e12), ("19.5T,900GB/s", 19.5e12, 900e9), ("312 TFLOPS, 2 TB/s", 312e12, 2e12),
    ("1.5e3G,80gb/s", 1.5e12, 80e9), ("2P,3.35TB/s", 2e15, 3.35e12), ("50 GFLOP/s,12.5GB/s", 50e9, 12.5e9),
])
def test_device_peak_parses(text: str, peak: float, bandwidth: float) -> None:
    d = parse_device_peak(text)
    assert math.isclose(d.peak_flops, peak) and math.isclose(d.bandwidth, bandwidth)


@pytest.mark.parametrize(("text", "fragment"), [
    ("312T", "is not PEAK,BANDWIDTH"), ("312T,2TB/s,1", "is not PEAK,BANDWIDTH"), (",2TB/s", "is not PEAK,BANDWIDTH"),
    ("312X,2TB/s", "is not a FLOP/s rate"), ("312T,2TB", "is not a bandwidth"), ("312T,2TiB/s", "is not a bandwidth"),
    ("0T,1GB/s", "above zero"), ("1T,0GB/s", "above zero"), ("1e999T,1GB/s", "that large"),
])
def test_bad_device_peak_is_one_line_exit_2(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_device_peak(text)
    code, out, err = run("roofline", "resnet18", "--device-peak", text)
    assert code == 2 and out == ""
    assert err.startswith("error: --device-peak: ") and fragment in err and err.count("\n") == 1


@pytest.mark.parametrize(("args", "fragment"), [
    (["--device", "b200"], "--device: 'b200' is not a known device; use one of a100"),
    (["--device", "a100", "--device-peak", "1T,1GB/s"], "not both"),
])
def test_bad_device_is_one_line_exit_2(args: list[str], fragment: str) -> None:
    code, _, err = run("roofline", "resnet18", *args)
    assert code == 2 and fragment in err and err.count("\n") == 1


# --- the command ----------------------------------------------------------------------------------


def test_json_has_integers_for_bytes_and_floats_for_times() -> None:
    doc = roofline_json("resnet50", "--device-peak", "312T,2.0TB/s", "--dtype", "bf16", "--batch", "8")
    assert doc["device"]["peak_flops"] == 312e12 and doc["device"]["bandwidth"] == 2e12 and doc["device"]["ridge"] == 156.0
    net = network_traffic(R50, "bf16", 8)
    assert [b["name"] for b in doc["blocks"]] == [b.name for b in net.blocks]
    dev = Device("custom", 312e12, 2e12)
    for got, want in zip(doc["blocks"], net.blocks):
        assert got["bytes"] == want.bytes and got["flops"] == want.flops and isinstance(got["bytes"], int)
        assert got["arithmetic_intensity"] == want.arithmetic_intensity and isinstance(got["arithmetic_intensity"], float)
        assert got["shortcut_bytes"] == want.shortcut_bytes and got["shortcut_flops"] == want.shortcut_flops
        assert math.isclose(got["estimate_ms"], estimate(want.layers, dev).ms, rel_tol=1e-5)
        assert got["bound"] in ("memory", "compute") and isinstance(got["estimate_ms"], float)
    t = doc["totals"]
    assert t["bytes"] == net.total.bytes and t["flops"] == net.total.flops and t["macs"] == 8 * R50.total.macs
    assert t["weight_bytes"] + t["activation_bytes"] == t["bytes"]
    parts = doc["stem"]["estimate_ms"] + sum(b["estimate_ms"] for b in doc["blocks"]) + doc["head"]["estimate_ms"]
    assert math.isclose(parts, t["estimate_ms"], rel_tol=1e-4)
    assert math.isclose(sum(b["time_share"] for b in doc["blocks"]), 1 - (doc["stem"]["estimate_ms"] + doc["head"]["estimate_ms"]) / t["estimate_ms"], abs_tol=1e-4)
    assert "layers" not in doc


def test_weights_do_not_grow_with_the_batch() -> None:
    one, four = roofline_json("resnet18"), roofline_json("resnet18", "--batch", "4")
    assert one["totals"]["weight_bytes"] == four["totals"]["weight_bytes"]
    assert four["totals"]["activation_bytes"] == 4 * one["totals"]["activation_bytes"]
    assert four["totals"]["flops"] == 4 * one["totals"]["flops"]
    assert one["device"]["name"] == "a100" and one["dtype"] == "fp32"  # the default device and dtype


def test_layers_mark_the_shortcut_path() -> None:
    doc = roofline_json("resnet50", "--layers", "--device", "t4", "--dtype", "fp16")
    layers = {ly["name"]: ly for ly in doc["layers"]}
    assert len(doc["layers"]) == sum(1 for _ in layer_rows(R50))
    assert layers["layer1.0.downsample.0"]["path"] == "shortcut" and layers["layer1.0.downsample.1"]["path"] == "shortcut"
    assert layers["layer1.0.add"]["path"] == "main" and layers["conv1"]["path"] == "stem" and layers["fc"]["path"] == "head"
    assert layers["layer1.0.conv1"]["bytes"] == (64 * 56 * 56 * 2 + 64 * 64) * 2
    assert layers["layer1.0.conv1"]["kernel"] == "1x1" and layers["layer1.0.conv1"]["macs"] == 64 * 64 * 56 * 56
    names = [ly["name"] for ly in doc["layers"] if ly["block"] == "layer1.0"]
    assert names.index("layer1.0.bn3") < names.index("layer1.0.downsample.0") < names.index("layer1.0.add")
    code, out, _ = run("roofline", "resnet50", "--layers", "--device", "t4")
    assert code == 0 and "per layer" in out and "shortcut" in out


def on_terminal(monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], width: int, height: int = 50) -> str:
    buf = io.StringIO()

    def fake() -> Console:
        return Console(file=buf, width=width, height=height, force_terminal=True, color_system=None,
                       legacy_windows=False, highlight=False, emoji=False, _environ={})

    monkeypatch.setattr(common, "console", fake)
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return buf.getvalue()


@pytest.mark.parametrize("args", [
    ("roofline", "resnet50", "--dtype", "bf16", "--batch", "256"),
    ("roofline", "resnet152", "--device", "h100-sxm"),
    ("roofline", "resnet50", "--layers", "--device", "t4", "--dtype", "fp16"),
    ("roofline", "cifar_resnet20", "--layers", "--device-peak", "1T,20GB/s", "--explain"),
])
def test_fits_80_columns(monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]) -> None:
    out = on_terminal(monkeypatch, args, 80)
    assert max(len(line) for line in out.splitlines()) <= 80
    words = " ".join(out.split())
    assert "ridge point" in words and "Memory-bound" in words
    assert "layer1.0" in out and "total" in out


def test_notes_name_the_memory_bound_blocks_and_shortcuts() -> None:
    code, out, _ = run("roofline", "resnet50", "--device", "a100", "--dtype", "bf16", "--batch", "256")
    assert code == 0
    assert "ridge point 153 FLOP/B" in out
    assert "Memory-bound projection shortcuts: 2 of 4: layer1.0, layer2.0" in out
    assert "batch norm 53/53" in out and "add 16/16" in out and "3x3 conv 0/16" in out
    assert "all but layer4.0, layer4.1, layer4.2" in out


def test_markdown_and_csv() -> None:
    code, out, _ = run("roofline", "cifar_resnet20", "--format", "markdown")
    assert code == 0 and out.startswith("### cifar_resnet20: roofline on NVIDIA A100 80GB SXM, fp32, batch 1")
    code, out, _ = run("roofline", "cifar_resnet20", "--format", "csv")
    assert code == 0 and out.splitlines()[0] == "row_kind,name,shortcut,macs,bytes,arithmetic_intensity,estimate_ms,bound,time_share"


def test_roofline_never_imports_torch() -> None:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "resnet_inspect", "roofline", "resnet152", "--batch", "64",
                           "--layers", "--format", "json"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = [line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")]
    assert "resnet_inspect.traffic" in imported  # the import log is read right
    assert not [m for m in imported if m == "torch" or m.startswith("torch.")]
    assert json.loads(proc.stdout)["totals"]["bytes"] == network_traffic(analyze(parse_spec("resnet152")), "fp32", 64).total.bytes
