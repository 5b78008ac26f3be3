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
    from resnet_inspect.bench import MIN_RUNS, run_bench
    from resnet_inspect.presets import get_preset

    report = run_bench(get_preset("cifar_resnet20"), options=("A",), min_run_time=0.001)
    assert report.network.runs >= MIN_RUNS
    assert all(b.block.runs >= MIN_RUNS for b in report.blocks)
