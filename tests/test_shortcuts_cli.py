"""`resnet-inspect shortcuts` from the command line: formats, files, the plot, errors, the docs."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from resnet_inspect.cli import app

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()
HAVE_MPL = importlib.util.find_spec("matplotlib") is not None


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_table_both_views() -> None:
    code, out, _ = run("shortcuts", "resnet34")
    assert code == 0
    for text in ("every shortcut option", "B (given)", "24.19", "28.54", "layer4.2", "5.6%", "█", "--explain answers"):
        assert text in out, text
    # The answers to the recurring questions are there on request, not on every run.
    answers = ("C against B: +0.92 M params and +0.17 G MACs for 0.33 points of top-1", "8,192 weights + 256 BN = 8,448 params")
    assert not any(a in out for a in answers)
    code, out, _ = run("shortcuts", "resnet34", "--explain")
    assert code == 0 and all(a in out for a in answers)


def test_resnet50_torchvision_has_no_paper_errors_but_1x1_does() -> None:
    code, out, _ = run("shortcuts", "resnet50", "--view", "network", "-f", "json")
    assert code == 0
    doc = json.loads(out)
    assert all(o["paper"] is None for o in doc["network"])
    assert any("--stride-in 1x1" in n for n in doc["notes"])
    code, out, _ = run("shortcuts", "resnet50", "--stride-in", "1x1", "--view", "network", "-f", "json")
    doc = json.loads(out)
    papers = {o["option"]: o["paper"] for o in doc["network"]}
    assert papers["B"]["top1"] == 22.85 and papers["B"]["top5"] == 6.71
    assert all(papers[o] is None for o in ("none", "A", "C", "D"))


def test_json_blocks_view() -> None:
    code, out, _ = run("shortcuts", "cifar_resnet20", "--view", "blocks", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert "network" not in doc and len(doc["blocks"]) == 9
    b = doc["blocks"][3]
    assert b["name"] == "layer2.0" and b["shortcut"] == "zero_pad"
    assert b["shortcut_cost"] == {"params": 0, "weights": 0, "macs": 0}
    assert b["alternatives"]["projection"]["params"] == 16 * 32 + 2 * 32
    assert b["ratio"]["weights"] == pytest.approx(16 * 32 / (16 * 32 * 9 + 32 * 32 * 9), abs=1e-6)


def test_csv_and_markdown() -> None:
    code, text, _ = run("shortcuts", "resnet34", "--format", "csv")
    assert code == 0
    parts = text.split("\n\n")
    assert len(parts) == 2
    options = list(csv.DictReader(io.StringIO(parts[0])))
    assert [r["option"] for r in options] == ["none", "A", "B", "C", "D"]
    c = next(r for r in options if r["option"] == "C")
    assert int(c["params"]) == 21_797_672 + 919_168 and int(c["projections"]) == 16
    assert float(c["paper_top1"]) == 24.19
    blocks = list(csv.DictReader(io.StringIO(parts[1])))
    assert len(blocks) == 16 and {r["row_kind"] for r in blocks} == {"block"}
    assert int(blocks[0]["projection_params"]) == 64 * 64 + 2 * 64
    code, md, _ = run("shortcuts", "resnet34", "--view", "network", "--format", "markdown")
    assert code == 0 and "| C | projection everywhere |" in md and "█" not in md


def test_collapse_runs() -> None:
    code, out, _ = run("shortcuts", "cifar_resnet110", "--view", "blocks", "-f", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    # 54 blocks: more than 24, so collapsed by default off a terminal.
    # layer1's 18 blocks are alike (16->16, stride 1); layers 2 and 3 start with a downsampling block
    assert [r["row_kind"] for r in rows] == ["run", "block", "run", "block", "run"]
    assert rows[0]["name"] == "layer1.0–17 ×18" and rows[2]["name"] == "layer2.1–17 ×17"
    code, out, _ = run("shortcuts", "cifar_resnet110", "--view", "blocks", "-f", "csv", "--all-blocks")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 54 and {r["row_kind"] for r in rows} == {"block"}
    code, out, _ = run("shortcuts", "cifar_resnet20", "--view", "blocks", "-f", "csv")  # 9 blocks: every one
    assert code == 0 and len(list(csv.DictReader(io.StringIO(out)))) == 9
    code, out, _ = run("shortcuts", "cifar_resnet1202", "--view", "blocks", "-f", "csv")  # 600 blocks: collapsed
    assert code == 0 and len(list(csv.DictReader(io.StringIO(out)))) == 5


def test_output_file(tmp_path: Path) -> None:
    target = tmp_path / "r34.json"
    code, out, _ = run("shortcuts", "resnet34", "-f", "json", "-o", str(target))
    assert code == 0 and out == ""
    assert json.loads(target.read_text())["network"][2]["shortcut_params"] == 173_824


@pytest.mark.skipif(not HAVE_MPL, reason="matplotlib not installed (pip install 'resnet-inspect[plot]')")
@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_plot(tmp_path: Path, suffix: str) -> None:
    target = tmp_path / f"r50{suffix}"
    code, _, err = run("shortcuts", "resnet50", "--view", "network", "--plot", str(target), "--metric", "macs")
    assert code == 0 and f"wrote {target}" in err
    data = target.read_bytes()
    if suffix == ".png":
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert b"<svg" in data and b"layer4.0" in data


def test_plot_without_matplotlib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")] + ["matplotlib"]:
        monkeypatch.setitem(sys.modules, name, None)
    target, report = tmp_path / "p.png", tmp_path / "r.json"
    code, out, err = run("shortcuts", "resnet34", "--plot", str(target), "-f", "json", "-o", str(report))
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and "pip install 'resnet-inspect[plot]'" in err
    assert out == "" and not target.exists() and not report.exists()
    assert list(tmp_path.iterdir()) == []


def test_bad_inputs() -> None:
    code, _, err = run("shortcuts", "resnet34", "--plot", "x.pdf")
    assert code == 2 and err.startswith("error: ") and ".svg or .png" in err
    code, _, err = run("shortcuts", "resnet35")
    assert code == 2 and "did you mean" in err and err.count("\n") == 1
    code, _, err = run("shortcuts", "resnet34", "--shortcut", "E")
    assert code == 2 and "shortcut" in err


def test_shortcuts_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from resnet_inspect.cli import app\n"
        "r = CliRunner().invoke(app, ['shortcuts', 'resnet50', '-f', 'json'])\n"
        "assert r.exit_code == 0, r.output\n"
        "assert 'torch' not in sys.modules and 'matplotlib' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def _docs_generator():  # type: ignore[no-untyped-def]
    path = ROOT / "scripts" / "gen_docs.py"
    spec = importlib.util.spec_from_file_location("gen_docs", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_match_the_tool() -> None:
    gen = _docs_generator()
    text = (ROOT / "docs" / "shortcuts.md").read_text(encoding="utf-8")
    assert gen.sections(text) == [
        "shortcuts resnet34 --view network",
        "shortcuts resnet50 --stride-in 1x1 --view blocks",
        "shortcuts cifar_resnet20 --view network",
    ]
    assert gen.render(text) == text, "docs/shortcuts.md is stale: run python scripts/gen_docs.py"
    assert "## Measured latency" in text
    # The generated table carries the paper's numbers beside the costs.
    assert "| C | projection everywhere | 22.72 M |" in text and "| 24.19 | 7.40 |" in text
