"""`resnet-inspect bench`: structure and pairing with the analytic counts (timings themselves are
measurements, so no assertion is made on their size beyond being positive)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from resnet_inspect import summarize
from resnet_inspect.cli import app

torch = pytest.importorskip("torch")
runner = CliRunner()


def test_bench_json_pairs_timings_with_macs() -> None:
    result = runner.invoke(app, ["bench", "cifar_resnet20", "--shortcut-options", "A,B", "--min-time", "0.02",
                                 "--threads", "1", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    a = summarize("cifar_resnet20")
    assert doc["environment"]["device"] == "cpu" and doc["environment"]["torch"] == torch.__version__
    assert [o["shortcut"] for o in doc["options"]] == ["A", "B"]
    assert doc["options"][1]["params"] == summarize("cifar_resnet20:shortcut=B").total.params
    assert [b["name"] for b in doc["blocks"]] == [b.block.name for b in a.blocks]
    for got, want in zip(doc["blocks"], a.blocks):
        assert got["macs"] == {"main": want.main.macs, "shortcut": want.shortcut.macs}
        assert got["block"]["median_ms"] > 0 and got["block"]["runs"] >= 1
        # option A's zero-pad blocks have a (parameter-free) shortcut module to time; identity none
        assert (got["shortcut_module"] is None) == (want.block.shortcut == "identity")
    assert doc["network"]["forward"]["median_ms"] > 0
    # The roofline beside the timings, from a peak measured at the start (values vary; the structure does not).
    peak = doc["peak"]
    assert peak["source"] == "measured" and peak["flops_per_s"] > 0 and peak["bandwidth_bytes_per_s"] > 0
    assert "matmul" in peak["detail"] and "copy of" in peak["detail"]
    assert all(b["estimate"]["ms"] > 0 and b["measured_vs_estimate"] > 0 for b in doc["blocks"])
    assert doc["agreement"]["blocks"] == len(doc["blocks"]) and doc["agreement"]["geomean_ratio"] > 0


def test_bench_backward_and_table() -> None:
    result = runner.invoke(app, ["bench", "cifar_resnet20:layers=1-1-1", "--backward", "--no-blocks",
                                 "--min-time", "0.02", "--shortcut-options", "B"])
    assert result.exit_code == 0, result.stderr
    assert "fwd+bwd ms" in result.stdout and "per block" not in result.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on machines without CUDA")
def test_bench_cuda_without_cuda_is_a_clear_error() -> None:
    result = runner.invoke(app, ["bench", "resnet18", "--device", "cuda"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --device cuda: no CUDA device is available") and result.stderr.count("\n") == 1


@pytest.mark.parametrize(("args", "fragment"), [
    (["--shortcut-options", "A,Q"], "is not a shortcut option"),
    (["--batch", "0"], "0"),
])
def test_bench_bad_input(args: list[str], fragment: str) -> None:
    result = runner.invoke(app, ["bench", "cifar_resnet20", *args])
    assert result.exit_code == 2
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr


def test_every_timing_has_several_runs() -> None:
    from resnet_inspect.nn.bench import MIN_RUNS, run_bench
    from resnet_inspect.presets import get_preset

    report = run_bench(get_preset("cifar_resnet20"), options=("A",), min_run_time=0.001)
    assert report.network.runs >= MIN_RUNS
    assert all(b.block.runs >= MIN_RUNS for b in report.blocks)


def test_bench_estimate_is_computed_from_the_given_peak() -> None:
    from resnet_inspect.traffic import Device, estimate, network_traffic

    result = runner.invoke(app, ["bench", "cifar_resnet20", "--device-peak", "1T,10GB/s", "--min-time", "0.02",
                                 "--threads", "1", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["peak"] == {"flops_per_s": 1e12, "bandwidth_bytes_per_s": 1e10, "ridge_flop_per_byte": 100.0,
                           "source": "--device-peak", "detail": "--device-peak 1T,10GB/s"}
    dev = Device("given", 1e12, 1e10)
    net = network_traffic(summarize("cifar_resnet20"), "fp32", 1)
    by_name = {b.name: b for b in net.blocks}
    measured, estimated = [], []
    for b in doc["blocks"]:
        bt = by_name[b["name"]]
        want = estimate(bt.layers, dev)
        assert b["estimate"]["ms"] == pytest.approx(want.ms, rel=1e-5) and b["estimate"]["bound"] == want.bound
        assert b["estimate"]["shortcut_ms"] == pytest.approx(estimate(bt.shortcut_layers, dev).ms, rel=1e-5)
        assert b["measured_vs_estimate"] == pytest.approx(b["block"]["median_ms"] / want.ms, rel=1e-3)
        measured.append(b["block"]["median_ms"])
        estimated.append(want.ms)
    assert doc["network"]["estimate_ms"] == pytest.approx(estimate(net.layers(), dev).ms, rel=1e-5)
    from resnet_inspect.traffic import agreement

    g = agreement(measured, estimated)
    assert g is not None and doc["agreement"]["blocks"] == 9
    assert doc["agreement"]["geomean_ratio"] == pytest.approx(g.geomean_ratio, rel=1e-3)


def test_bench_table_puts_the_estimate_beside_the_timing() -> None:
    result = runner.invoke(app, ["bench", "cifar_resnet20:layers=1-1-1", "--device-peak", "50G,10GB/s", "--min-time", "0.02",
                                 "--threads", "1"])
    assert result.exit_code == 0, result.stderr
    out = " ".join(result.stdout.split())
    assert "est. ms" in out and "× est." in out
    assert "peak 50.00 GFLOP/s, bandwidth 10.00 GB/s, ridge 5.0 FLOP/B; --device-peak 50G,10GB/s" in out
    assert "over 3 blocks geometric mean" in out and "rank correlation" in out and "Network forward:" in out


@pytest.mark.parametrize("text", ["312T", "312T,2TB", "0T,1GB/s"])
def test_bench_bad_device_peak(text: str) -> None:
    result = runner.invoke(app, ["bench", "cifar_resnet20", "--device-peak", text])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --device-peak: ") and result.stderr.count("\n") == 1
