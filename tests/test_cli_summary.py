"""`resnet-inspect summary` and `presets` from the command line."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from resnet_inspect.cli import app

from .reference import TORCHVISION

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_summary_table() -> None:
    code, out, _ = run("summary", "resnet50")
    assert code == 0
    for text in ("layer1.0", "layer4.2", "projection", "identity", "25.56 M", "4.09 G", "stem", "head", "359.66 M"):
        assert text in out
    # The counting convention is an explanation: behind --explain, not on every run.
    assert "multiply-adds" not in out
    code, out, _ = run("summary", "resnet50", "--explain")
    assert code == 0 and "multiply-adds" in out and "% of all MACs: the row's share" in out


def test_summary_stage_depth() -> None:
    code, out, _ = run("summary", "resnet152", "--depth", "stage")
    assert code == 0
    assert "layer3 (36 blocks)" in out
    assert "layer3.5" not in out


def test_summary_json_matches_published() -> None:
    code, out, _ = run("summary", "resnet50", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["totals"]["params"] == TORCHVISION["resnet50"][0]
    assert doc["totals"]["flops"] == 2 * doc["totals"]["macs"]
    assert doc["spec"]["stride_in"] == "3x3"
    assert [b["shortcut"] for b in doc["blocks"]].count("projection") == 4


def test_flags_override_spec() -> None:
    code, out, _ = run("summary", "resnet34", "--shortcut", "A", "--input-size", "112", "--num-classes", "10", "-f", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["spec"]["shortcut"] == "A" and doc["spec"]["input_size"] == 112 and doc["spec"]["num_classes"] == 10
    assert doc["head"]["params"] == 512 * 10 + 10


def test_markdown_and_csv() -> None:
    code, md, _ = run("summary", "resnet18", "--format", "markdown")
    assert code == 0 and md.count("| layer") >= 8 and "---:" in md
    code, text, _ = run("summary", "resnet18", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(text)))
    blocks = [r for r in rows if r["row_kind"] == "block"]
    assert len(blocks) == 8
    total = next(r for r in rows if r["row_kind"] == "total")
    assert int(total["macs"]) == 1_814_073_344 or round(int(total["macs"]) / 1e9, 2) == TORCHVISION["resnet18"][1]


def test_output_file(tmp_path: Path) -> None:
    target = tmp_path / "r50.json"
    code, out, _ = run("summary", "resnet50", "-f", "json", "-o", str(target))
    assert code == 0 and out == ""
    assert json.loads(target.read_text())["totals"]["params"] == TORCHVISION["resnet50"][0]
    table = tmp_path / "r50.txt"
    assert run("summary", "resnet50", "-o", str(table))[0] == 0
    assert "\x1b[" not in table.read_text() and "layer4.2" in table.read_text()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["summary", "resnet5"], "did you mean resnet50"),
        (["summary", "resnet34:shortcuts=A"], "valid keys are"),
        (["summary", "resnet34", "--shortcut", "E"], "A, B, C, D, none"),
        (["summary", "resnet34", "--input-size", "0"], "at least 1"),
        (["presets", "--family", "nope"], "no preset family"),
    ],
)
def test_bad_input_is_one_line_exit_2(args: list[str], fragment: str, tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    code, out, err = run(*args, "-o", str(target))
    assert code == 2
    assert fragment in err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "Traceback" not in err + out
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_output_into_missing_folder(tmp_path: Path) -> None:
    code, _, err = run("summary", "resnet18", "-o", str(tmp_path / "no" / "such.json"), "-f", "json")
    assert code == 2 and "does not exist" in err


def test_presets_lists_all() -> None:
    code, out, _ = run("presets", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    names = {p["name"] for p in doc["presets"]}
    assert set(TORCHVISION) <= names
    assert {"plain18", "plain34", "cifar_resnet20", "cifar_resnet1202"} <= names
    r50 = next(p for p in doc["presets"] if p["name"] == "resnet50")
    assert r50["params"] == TORCHVISION["resnet50"][0]


def test_version() -> None:
    code, out, _ = run("--version")
    assert code == 0 and out.startswith("resnet-inspect ")


def test_summary_never_imports_torch() -> None:
    """The analytic path must not import torch: checked in a fresh interpreter running the CLI."""
    code = (
        "import sys\n"
        "from resnet_inspect.cli import app\n"
        "try:\n"
        "    app(['summary', 'resnet152', '--format', 'json'])\n"
        "except SystemExit as e:\n"
        "    assert e.code in (0, None), e.code\n"
        "heavy = [m for m in ('torch', 'fvcore', 'graphviz', 'numpy') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "print('no-torch-ok', file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "no-torch-ok" in proc.stderr
    assert json.loads(proc.stdout)["totals"]["params"] == TORCHVISION["resnet152"][0]


def test_console_script_and_module_entry_points() -> None:
    proc = subprocess.run([sys.executable, "-m", "resnet_inspect", "summary", "cifar_resnet20", "-f", "json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["totals"]["params"] == 269_722
    proc = subprocess.run([sys.executable, "-m", "resnet_inspect", "summary", "nope"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.strip().startswith("error: unknown preset") and "Traceback" not in proc.stderr


def test_collapse_runs_of_identical_blocks() -> None:
    # ResNet-152's layer3 is one projection block and 35 identical identity blocks (3-8-36-3).
    code, out, _ = run("summary", "resnet152", "--collapse")
    assert code == 0
    assert "layer3.1–35 ×35" in out and "layer3.7 " not in out
    code, out, _ = run("summary", "resnet152", "--all-blocks")
    assert code == 0 and "layer3.35" in out and "×35" not in out


def test_deep_network_collapses_by_default() -> None:
    code, out, _ = run("summary", "cifar_resnet1202")  # 200 blocks per stage
    assert code == 0
    assert "layer1.0–199 ×200" in out
    assert "layer2.1–199 ×199" in out


@pytest.mark.parametrize("spec", ["resnet18", "cifar_resnet110", "cifar_resnet20:layers=40-40-40"])
def test_json_text_is_json_dumps(spec: str) -> None:
    from resnet_inspect import summary_json
    from resnet_inspect.report.output import json_text

    doc = summary_json(spec)
    assert json_text(doc) == json.dumps(doc, indent=2) + "\n"
    code, out, _ = run("summary", spec, "-f", "json")
    assert code == 0 and out == json.dumps(doc, indent=2) + "\n"
