"""`resnet-inspect counting` and `--convention` from the command line.

Each tool's number is held to the tool itself on the built module in tests/test_conventions.py;
here the ResNet-50 figures are the ones the tools print (issue 15's table, measured with fvcore,
ptflops 0.7.5, thop, torchinfo 1.8 and torch's FlopCounterMode), and the paper's stride placement
is held to He et al. (2015) Table 1 (../shared/reference/published.md).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from resnet_inspect.cli import app

runner = CliRunner()

#: What each tool prints for torchvision's ResNet-50 at 224x224, batch 1.
RESNET50 = {
    "torchvision": 4_089_184_256,
    "fvcore": 4_111_512_576,
    "ptflops_pytorch": 4_132_436_968,
    "ptflops_aten": 4_089_185_256,
    "thop": 4_133_742_592,
    "torchinfo": 4_089_238_376,
    "flop_counter_mode": 8_178_368_512,
}
#: He et al. 2015 Table 1, 10^9 multiply-adds with the stride on the first 1x1 conv.
PAPER_GMACS = {"resnet50": 3.8, "resnet101": 7.6, "resnet152": 11.3}


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def counting_json(*args: str) -> dict:
    code, out, err = run("counting", *args, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def test_resnet50_every_tool() -> None:
    doc = counting_json("resnet50")
    assert doc["conventions"] == RESNET50
    assert doc["ours"]["macs"] == RESNET50["torchvision"]
    for name, total in doc["conventions"].items():
        assert isinstance(total, int)
        assert sum(doc["breakdown"][name].values()) == total
        assert set(doc["breakdown"][name]) == {"conv", "linear", "batch_norm", "relu", "pooling", "add", "bias"}
        assert doc["differs"][name].endswith(".")


@pytest.mark.parametrize("spec", list(PAPER_GMACS))
def test_paper_stride_placement(spec: str) -> None:
    paper = counting_json(spec)["paper"]
    # The paper gives 10^9 MACs to one decimal (3.8 for ResNet-50's 3.86, 7.6 for 7.57, 11.3 for 11.28).
    assert abs(paper["v1_macs"] / 1e9 - PAPER_GMACS[spec]) < 0.07
    assert paper["stride_in"] == "3x3" and paper["difference"] == paper["v1_5_macs"] - paper["v1_macs"] > 0


def test_table_names_every_tool() -> None:
    code, out, _ = run("counting", "resnet50")
    assert code == 0
    for name in RESNET50:
        assert name in out, name
    assert "4,111,512,576" in out and "stride on the first 1x1 conv" in out
    code, out, _ = run("counting", "resnet50", "--explain")
    assert code == 0 and "FlopCounterMode" in out and "twice ours" in out


@pytest.mark.parametrize("convention", list(RESNET50))
def test_summary_in_a_convention(convention: str) -> None:
    code, out, _ = run("summary", "resnet50", "--convention", convention, "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["convention"] == convention
    assert doc["totals"]["macs"] == RESNET50[convention]
    assert doc["totals"]["params"] == 25_557_032  # params are not a convention
    parts = doc["stem"]["macs"] + sum(b["macs"]["total"] for b in doc["blocks"]) + doc["head"]["macs"]
    assert parts == RESNET50[convention]


def test_check_budget_in_fvcore_numbers() -> None:
    # 4.10 G: above torchvision's 4,089,184,256, below fvcore's 4,111,512,576.
    code, _, err = run("check", "resnet50", "--max-macs", "4.10G")
    assert code == 0 and err == ""
    code, out, err = run("check", "resnet50", "--max-macs", "4.10G", "--convention", "fvcore")
    assert code == 1 and "4,111,512,576" in err and "as fvcore counts them" in out
    code, out, _ = run("check", "resnet50", "--max-macs", "4.10G", "--convention", "fvcore", "--format", "json")
    doc = json.loads(out)
    assert doc["convention"] == "fvcore" and doc["results"][0]["values"]["macs"] == RESNET50["fvcore"]


def test_compare_in_a_convention() -> None:
    code, out, _ = run("compare", "resnet50", "resnet50:shortcut=C", "--convention", "thop", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    c = counting_json("resnet50:shortcut=C")["conventions"]["thop"]
    assert doc["convention"] == "thop"
    assert doc["totals"]["macs"]["a"] == RESNET50["thop"] and doc["totals"]["macs"]["b"] == c


@pytest.mark.parametrize("command", [("summary", "resnet50"), ("check", "resnet50", "--max-macs", "4G"),
                                     ("compare", "resnet18", "resnet34")])
def test_unknown_convention_is_one_line(command: tuple[str, ...]) -> None:
    code, out, err = run(*command, "--convention", "fvcor")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "did you mean fvcore?" in err


def test_counting_never_imports_torch() -> None:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "resnet_inspect", "counting", "resnet152",
                           "--format", "json"], capture_output=True, text=True, check=True)
    imported = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if "|" in line}
    assert "torch" not in imported and "resnet_inspect" in imported
    assert json.loads(proc.stdout)["conventions"]["flop_counter_mode"] > 0


def test_budget_file_names_its_convention(tmp_path) -> None:  # type: ignore[no-untyped-def]
    budget = tmp_path / "budget.toml"
    budget.write_text('convention = "fvcore"\nmax_macs = "4.10G"\n')
    code, _, err = run("check", "resnet50", "--budget", str(budget))
    assert code == 1 and "4,111,512,576" in err  # fvcore's number, over the limit
    code, _, _ = run("check", "resnet50", "--budget", str(budget), "--convention", "torchvision")
    assert code == 0  # the flag wins over the file
    budget.write_text('convention = "fvcor"\nmax_macs = "4.10G"\n')
    code, out, err = run("check", "resnet50", "--budget", str(budget))
    assert code == 2 and out == "" and f"{budget}:1:" in err and "did you mean fvcore?" in err
