"""Every command on the user's own module (``FILE.py:CALLABLE``): exit codes, one-line errors, JSON,
matching, ``verify --module`` and the trace-based addition check of ``verify``.

Expected numbers come from the modules themselves (``sum(p.numel())``, counting their layers), not
from the tool's output.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import shutil
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from typer.testing import CliRunner

from resnet_inspect.cli import app

torch = pytest.importorskip("torch")
nn = torch.nn
runner = CliRunner()
NETS = Path(__file__).resolve().parent / "usernets"
TUTORIAL = Path(__file__).resolve().parent.parent / "docs" / "examples" / "tutorial_resnet.py"


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@functools.cache
def module(name: str) -> ModuleType:
    path = TUTORIAL if name == "tutorial" else NETS / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"test_cli_{name}", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def numel(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())


def one_line(err: str) -> str:
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert "Traceback" not in err
    return err


# --- summary ------------------------------------------------------------------------------------------


def test_summary_json_of_a_module_counts_its_parameters() -> None:
    code, out, _ = run("summary", f"{NETS}/cifar_option_b.py:ResNet18", "--input-size", "32", "-f", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["totals"]["params"] == numel(module("cifar_option_b").ResNet18()) == 11_173_962
    assert doc["source"]["kind"] == "module"
    assert doc["source"]["matches"] == "resnet18:stem=cifar,input_size=32,num_classes=10"
    assert doc["spec"]["stem"] == "cifar" and doc["spec"]["input_size"] == 32
    assert [b["shortcut"] for b in doc["blocks"]].count("projection") == 3  # layer2/3/4.0 change shape


def test_tutorial_reports_its_3x3_projections_and_no_match() -> None:
    code, out, _ = run("summary", f"{TUTORIAL}:ResNet", "--input-size", "32", "-f", "json")
    assert code == 0
    doc = json.loads(out)
    model = module("tutorial").ResNet()
    assert doc["totals"]["params"] == numel(model)
    kernels = {b["name"]: b.get("shortcut_kernel") for b in doc["blocks"]}
    assert kernels == {"layer1.0": None, "layer1.1": None, "layer2.0": "3x3", "layer2.1": None,
                       "layer3.0": "3x3", "layer3.1": None}
    assert doc["source"]["matches"] is None
    assert any("3x3" in n for n in doc["source"]["notes"])
    for b in doc["blocks"]:
        sub = model.get_submodule(b["name"])
        assert b["params"]["total"] == numel(sub)
        assert b["params"]["shortcut"] == (numel(sub.downsample) if sub.downsample is not None else 0)


def test_literal_arguments_reach_the_constructor() -> None:
    code, out, _ = run("summary", f"{TUTORIAL}:ResNet(layers=(1, 1, 1), num_classes=100)", "--input-size", "32", "-f", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["totals"]["params"] == numel(module("tutorial").ResNet(layers=(1, 1, 1), num_classes=100))
    assert [s["blocks"] for s in doc["stages"]] == [1, 1, 1] and doc["spec"]["num_classes"] == 100


def test_a_module_spec_refuses_spec_only_flags(tmp_path: Path) -> None:
    out_file = tmp_path / "r.json"
    code, _, err = run("summary", f"{NETS}/cifar_option_b.py:ResNet18", "--shortcut", "A", "-o", str(out_file))
    assert code == 2 and "--shortcut" in one_line(err) and not out_file.exists()


def test_not_a_resnet_says_what_it_found() -> None:
    vgg = module("not_resnets").VGG16()
    convs = sum(isinstance(m, nn.Conv2d) for m in vgg.modules())
    linears = sum(isinstance(m, nn.Linear) for m in vgg.modules())
    code, _, err = run("summary", f"{NETS}/not_resnets.py:VGG16", "--input-size", "32")
    assert code == 2 and f"no residual additions ({convs} conv, {linears} linear layers)" in one_line(err)


def test_a_forward_that_fails_names_the_module_and_a_size_that_works() -> None:
    code, _, err = run("summary", f"{NETS}/cifar_option_b.py:ResNet18")
    line = one_line(err)
    assert code == 2 and "fails at input 3x224x224 in linear (Linear)" in line and "--input-size 32" in line


@pytest.mark.parametrize(("spec", "expected"), [
    ("no_such_file.py:Net", "no such file"),
    ("{tutorial}:Nope", "has no 'Nope'"),
    ("{tutorial}:ResNet(layers=x)", "not a literal"),
    ("{tutorial}:ResNet(bogus=1)", "unexpected keyword argument"),
    ("no_such_pkg_xyz.models:resnet", "cannot import"),
    ("{nets}/not_resnets.py:_vgg_features", "missing 1 required positional argument"),
])
def test_bad_module_specs_are_one_line(spec: str, expected: str) -> None:
    code, _, err = run("summary", spec.format(nets=NETS, tutorial=TUTORIAL), "--input-size", "32")
    assert code == 2 and expected in one_line(err)


def test_arguments_are_never_evaluated(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    code, _, err = run("summary", f"{TUTORIAL}:ResNet(num_classes=__import__('os').system('touch {marker}'))")
    assert code == 2 and "not a literal" in one_line(err) and not marker.exists()


def test_escape_sequences_in_a_spec_do_not_reach_the_terminal() -> None:
    code, _, err = run("summary", "evil\x1b[31m.py:Net")
    assert code == 2 and "\x1b" not in one_line(err)


# --- shortcuts, diagram, compare, check, spec ------------------------------------------------------


def test_shortcuts_of_a_module() -> None:
    code, out, _ = run("shortcuts", f"{TUTORIAL}:ResNet", "--input-size", "32", "-f", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["network"] == [] and "network_unavailable" in doc  # no spec describes it
    layer2 = next(b for b in doc["blocks"] if b["name"] == "layer2.0")
    conv = module("tutorial").ResNet().layer2[0].downsample[0]
    assert layer2["shortcut_cost"]["weights"] == conv.weight.numel() == 32 * 16 * 9
    assert layer2["alternatives"]["projection"]["weights"] == 32 * 16  # what a 1x1 would have
    code, _, err = run("shortcuts", f"{TUTORIAL}:ResNet", "--input-size", "32", "--view", "network")
    assert code == 2 and "--view blocks" in one_line(err)
    code, out, _ = run("shortcuts", f"{NETS}/cifar_option_a.py:resnet20", "--input-size", "32", "-f", "json")
    assert code == 0 and [o["option"] for o in json.loads(out)["network"]] == ["none", "A", "B", "C", "D"]


def test_diagrams_of_a_module() -> None:
    code, out, _ = run("diagram", f"{TUTORIAL}:ResNet", "--input-size", "32", "--level", "block", "-b", "layer2.0")
    assert code == 0 and "3x3/2 conv 16→32" in out
    code, out, _ = run("diagram", f"{NETS}/cifar_option_a.py:resnet20", "--input-size", "32", "--level", "compare",
                       "-b", "layer2.0")
    assert code == 0 and "zero-pad" in out and "projection" in out
    code, _, err = run("diagram", f"{TUTORIAL}:ResNet", "--input-size", "32", "--level", "compare", "-b", "layer2.0")
    assert code == 2 and "--level block" in one_line(err)


def test_compare_a_spec_with_the_module_that_is_it() -> None:
    code, out, _ = run("compare", "resnet18:stem=cifar,input_size=32,num_classes=10", f"{NETS}/cifar_option_b.py:ResNet18",
                       "-f", "json")
    assert code == 0  # the module is traced at the spec's input without --input-size
    doc = json.loads(out)
    assert doc["totals"]["params"]["diff"] == 0 and doc["totals"]["macs"]["diff"] == 0
    assert all(not b["changed"] for b in doc["blocks"])


def test_check_and_budget_files_take_modules(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    shutil.copy(NETS / "cifar_option_b.py", tmp_path / "models" / "net.py")
    limit = numel(module("cifar_option_b").ResNet18())
    (tmp_path / "budget.toml").write_text(textwrap.dedent(f"""
        [specs.mine]
        spec = "models/net.py:ResNet18"
        max_params = {limit}
    """))
    code, _, _ = run("check", "--budget", str(tmp_path / "budget.toml"), "--input-size", "32")
    assert code == 0
    code, _, err = run("check", f"{tmp_path}/models/net.py:ResNet18", "--input-size", "32", "--max-params", str(limit - 1))
    assert code == 1 and "exceeds max_params" in err


def test_spec_writes_the_matched_spec(tmp_path: Path) -> None:
    from resnet_inspect.counts import analyze
    from resnet_inspect.presets import get_preset
    from resnet_inspect.specio import parse_spec

    target = tmp_path / "r20.toml"
    code, _, _ = run("spec", f"{NETS}/cifar_option_a.py:resnet20", "--input-size", "32", "-o", str(target))
    assert code == 0
    loaded = parse_spec(str(target))
    assert loaded.to_dict() | {"name": ""} == get_preset("cifar_resnet20").to_dict() | {"name": ""}
    assert analyze(loaded).total.params == numel(module("cifar_option_a").resnet20()) == 269_722
    nothing = tmp_path / "t.toml"
    code, _, err = run("spec", f"{TUTORIAL}:ResNet", "--input-size", "32", "-o", str(nothing))
    assert code == 2 and "3x3" in one_line(err) and not nothing.exists()


def test_inspect_traces_a_live_module() -> None:
    code, out, _ = run("inspect", f"{NETS}/cifar_option_b.py:ResNet18", "--input-size", "32", "-f", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["source_kind"] == "module" and doc["summary"]["totals"]["params"] == 11_173_962
    assert doc["recovered"]["stem"] == "cifar"


def test_help_says_it_runs_your_code() -> None:
    for command in ("summary", "verify", "inspect"):
        code, out, _ = run(command, "--help")
        assert code == 0 and "runs your code" in " ".join(out.lower().split())


def test_build_refuses_a_module(tmp_path: Path) -> None:
    code, _, err = run("build", f"{TUTORIAL}:ResNet", "-o", str(tmp_path / "w.pt"))
    assert code == 2 and "preset or a config file" in one_line(err) and not (tmp_path / "w.pt").exists()


# --- verify --------------------------------------------------------------------------------------------


MUTANTS = '''
import importlib.util
import torch.nn as nn
import torch.nn.functional as F

_s = importlib.util.spec_from_file_location("cb_mutants", {path!r})
cb = importlib.util.module_from_spec(_s)
_s.loader.exec_module(cb)


class NoAdd(cb.BasicBlock):
    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)))


class Wide(cb.BasicBlock):
    def __init__(self, i, p, stride=1):
        super().__init__(i, p, stride)
        if stride != 1 or i != p:
            self.shortcut = nn.Sequential(nn.Conv2d(i, p, 3, stride, 1, bias=False), nn.BatchNorm2d(p))


def missing_add():
    m = cb.ResNet18()
    m.layer3[1].__class__ = NoAdd
    return m


def wide_shortcuts():
    return cb.ResNet(Wide, [2, 2, 2, 2])
'''
SPEC18 = "resnet18:stem=cifar,input_size=32,num_classes=10"


@pytest.fixture
def mutants(tmp_path: Path) -> Path:
    path = tmp_path / "mutants.py"
    path.write_text(MUTANTS.format(path=str(NETS / "cifar_option_b.py")))
    return path


def test_verify_module_against_the_spec_it_is() -> None:
    code, out, err = run("verify", SPEC18, "--module", f"{NETS}/cifar_option_b.py:ResNet18", "-f", "json")
    assert code == 0 and err == ""
    doc = json.loads(out)
    assert doc["ok"] and [b["module_block"] for b in doc["blocks"]] == [b["name"] for b in doc["blocks"]]


def test_verify_module_names_a_missing_addition(mutants: Path) -> None:
    code, out, err = run("verify", SPEC18, "--module", f"{mutants}:missing_add", "-f", "json")
    assert code == 1
    doc = json.loads(out)
    bad = {b["name"]: b["differences"] for b in doc["blocks"] if not b["ok"]}
    assert list(bad) == ["layer3.1"] and "no residual addition" in bad["layer3.1"][0]
    assert "mismatch: layer3.1: no residual addition" in err


def test_verify_module_names_a_different_projection(mutants: Path) -> None:
    code, _, err = run("verify", SPEC18, "--module", f"{mutants}:wide_shortcuts")
    assert code == 1
    lines = [ln for ln in err.splitlines() if "3x3 projection shortcut where the spec has a 1x1 projection" in ln]
    assert [ln.split(":")[1].strip() for ln in lines] == ["layer2.0", "layer3.0", "layer4.0"]
    spec = importlib.util.spec_from_file_location("mutants_for_test", mutants)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    real = numel(mod.wide_shortcuts().layer2[0].shortcut)  # the module's own count, not ours
    assert f"mismatch: layer2.0: shortcut params {real:,}" in err


def test_verify_of_a_module_spec_checks_numel_and_fvcore() -> None:
    pytest.importorskip("fvcore")
    code, out, _ = run("verify", f"{TUTORIAL}:ResNet", "--input-size", "32", "-f", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["ok"] and doc["output_shape"]["measured"] == [1, 10]
    sources = {c["source"] for c in doc["checks"]}
    assert sources == {"module", "fvcore"}
    scoped = {(c["scope"], c["quantity"]) for c in doc["checks"]}
    assert ("layer2.0", "params.shortcut") in scoped and ("layer3.0", "conv") in scoped


def test_verify_of_a_spec_fails_when_a_block_loses_its_addition(monkeypatch: pytest.MonkeyPatch) -> None:
    """A forward hook on each unit would see its output size whether or not it adds anything; the
    trace counts the additions the ops make, so this mutation must fail verification."""
    pytest.importorskip("fvcore")
    from resnet_inspect.nn import builder
    from resnet_inspect.nn.verify import verify_spec
    from resnet_inspect.specio import parse_spec

    spec = parse_spec("cifar_resnet20:layers=1-1-1")
    assert verify_spec(spec).ok

    def no_add(self: Any, x: Any) -> Any:
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)))

    monkeypatch.setattr(builder.BasicBlock, "forward", no_add)
    report = verify_spec(spec)
    assert not report.ok
    failed = {(c.scope, c.quantity) for c in report.failures}
    assert ("layer1.0", "add") in failed and ("total", "add") in failed


def test_bench_times_a_module_as_written() -> None:
    code, out, _ = run("bench", f"{TUTORIAL}:ResNet", "--input-size", "32", "--min-time", "0.01", "-f", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["options"][0]["shortcut"] == "as written"
    assert doc["network"]["params"] == numel(module("tutorial").ResNet())
    shortcuts = {b["name"]: b["shortcut_module"] is not None for b in doc["blocks"]}
    assert shortcuts["layer2.0"] and not shortcuts["layer1.0"]
    code, _, err = run("bench", f"{TUTORIAL}:ResNet", "--input-size", "32", "--shortcut-options", "A,B")
    assert code == 2 and "--shortcut-options" in one_line(err)


# --- Python API ------------------------------------------------------------------------------------------


def test_trace_a_module_in_hand_keeps_its_weights_and_mode() -> None:
    import resnet_inspect as ri

    model = module("se_bottleneck").se_resnet_small()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    analysis = ri.trace(model, input_size=64)
    assert analysis.total.params == numel(model)
    assert model.training and all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.device.type == "cpu" for p in model.parameters())
    extras = {e.kind for b in analysis.blocks for e in b.block.extras}
    assert "squeeze-excitation" in extras and analysis.spec is None


def test_summarize_takes_module_specs() -> None:
    import resnet_inspect as ri

    a = ri.summarize(f"{NETS}/cifar_option_a.py:resnet20", input_size=32)
    assert a.total.params == 269_722 and a.spec is not None and a.spec.shortcut == "A"


def test_summary_verify_of_a_module() -> None:
    pytest.importorskip("fvcore")
    code, out, _ = run("summary", f"{NETS}/cifar_option_a.py:resnet20", "--input-size", "32", "--verify", "-f", "json")
    assert code == 0 and json.loads(out)["totals"]["params"] == 269_722


def test_markup_in_a_path_is_printed_not_obeyed(tmp_path: Path) -> None:
    folder = tmp_path / "x[bold red]"
    folder.mkdir()
    shutil.copy(NETS / "cifar_option_a.py", folder / "net[blink].py")
    code, out, _ = run("summary", f"{folder}/net[blink].py:resnet20", "--input-size", "32", "--depth", "stage")
    assert code == 0 and "x[bold red]/net[blink].py:resnet20" in out


# --- outputs that would destroy something ------------------------------------------------------------------


def test_an_output_never_replaces_the_model_code(tmp_path: Path) -> None:
    code_file = tmp_path / "net.py"
    shutil.copy(NETS / "cifar_option_a.py", code_file)
    before = code_file.read_bytes()
    for command in (["spec"], ["summary"], ["shortcuts"], ["diagram"]):
        code, _, err = run(*command, f"{code_file}:resnet20", "--input-size", "32", "-o", str(code_file))
        assert code == 2 and "input of this command" in one_line(err)
    code, _, err = run("verify", SPEC18, "--module", f"{code_file}:resnet20", "-o", str(code_file))
    assert code == 2 and "input of this command" in one_line(err)
    assert code_file.read_bytes() == before


def test_an_output_never_replaces_a_fifo_and_writes_through_a_link(tmp_path: Path) -> None:
    import os
    import stat

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    code, _, err = run("spec", f"{NETS}/cifar_option_a.py:resnet20", "--input-size", "32", "-o", str(fifo))
    assert code == 2 and "not a regular file" in one_line(err) and stat.S_ISFIFO(fifo.stat().st_mode)
    target, link = tmp_path / "real.toml", tmp_path / "link.toml"
    target.write_text("old")
    target.chmod(0o600)
    link.symlink_to(target)
    code, _, _ = run("spec", f"{NETS}/cifar_option_a.py:resnet20", "--input-size", "32", "-o", str(link))
    assert code == 0 and link.is_symlink() and 'shortcut = "A"' in target.read_text()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # the existing file keeps its permission bits


def test_real_weights_are_bounded_before_they_are_allocated() -> None:
    code, _, err = run("verify", f"{TUTORIAL}:ResNet(num_classes=2000000000)", "--input-size", "32")
    assert code == 2 and "above the limit" in one_line(err)


def test_a_path_that_is_not_a_spec_file_says_so() -> None:
    code, _, err = run("summary", str(NETS / "README.md"))
    assert code == 2 and "not a config file" in one_line(err)
