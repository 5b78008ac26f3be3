"""The GitHub Action (action.yml and action/run.py), run for real in temporary git repositories
with a base commit and a pull-request commit.

``action/run.py`` runs as the runner would start it: a subprocess in the checkout, with the
Action's inputs in INPUT_* variables, GITHUB_STEP_SUMMARY and GITHUB_OUTPUT files, and
``resnet-inspect`` on PATH. ``action.yml`` itself is run by a small composite-action runner that
substitutes its ``${{ }}`` expressions and runs each step's bash as GitHub does.

Expected numbers are torchvision's published parameter counts and shape arithmetic.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from .reference import TORCHVISION

pytestmark = pytest.mark.skipif(shutil.which("git") is None or shutil.which("bash") is None, reason="needs git and bash")

ROOT = Path(__file__).resolve().parent.parent
R50, R101 = TORCHVISION["resnet50"][0], TORCHVISION["resnet101"][0]
NET = '# Our backbone: ResNet-50 with the paper\'s stride placement.\nbase = "resnet50"\nstride_in = "1x1"\nname = "backbone"\n'
BUDGET = 'max_params = "26M"\nmax_macs = "4.2G"\n\n[specs.backbone]\nspec = "configs/net.toml"\n'


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e.x", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@e.x", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout.strip()


def make_repo(tmp_path: Path, head_net: str | None, base_net: str | None = NET, budget: str = BUDGET) -> tuple[Path, str]:
    """A repository whose ``main`` holds ``base_net`` and whose checked-out ``pr`` branch holds
    ``head_net`` (None: unchanged); returns it and the base commit."""
    repo = tmp_path / "repo"
    (repo / "configs").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "budget.toml").write_text(budget)
    if base_net is not None:
        (repo / "configs" / "net.toml").write_text(base_net)
    (repo / "README").write_text("a project\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "base")
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-qb", "pr")
    if head_net is not None:
        (repo / "configs" / "net.toml").write_text(head_net)
        git(repo, "add", ".")
        git(repo, "commit", "-qm", "change the network")
    return repo, base


def shim(tmp_path: Path) -> Path:
    """A ``resnet-inspect`` on PATH that runs this checkout."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    exe = bin_dir / "resnet-inspect"
    exe.write_text(f'#!/bin/sh\nPYTHONPATH="{ROOT}" exec "{sys.executable}" -m resnet_inspect "$@"\n')
    exe.chmod(0o755)
    return bin_dir


def runner_env(tmp_path: Path, **inputs: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INPUT_", "GITHUB_"))}
    env.update({
        "PATH": f"{shim(tmp_path)}{os.pathsep}{os.environ.get('PATH', '')}",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"), "GITHUB_OUTPUT": str(tmp_path / "output.txt"),
        "RUNNER_TEMP": str(tmp_path), "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
    })
    env.update({f"INPUT_{k.upper()}": v for k, v in inputs.items()})
    return env


def run_script(tmp_path: Path, repo: Path, **inputs: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "action" / "run.py")], cwd=repo, env=runner_env(tmp_path, **inputs),
                          capture_output=True, text=True, timeout=120)


def outputs(tmp_path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in (tmp_path / "output.txt").read_text().splitlines())


DEEPER = NET.replace('stride_in = "1x1"\n', 'stride_in = "1x1"\nlayers = [3, 4, 23, 3]\n')


def test_over_budget_annotates_summarises_and_fails(tmp_path: Path) -> None:
    repo, base = make_repo(tmp_path, DEEPER)
    done = run_script(tmp_path, repo, budget="budget.toml", base_ref=base)
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stdout.splitlines() if line.startswith("::error ")]
    assert len(errors) == 2
    assert all(line.startswith("::error file=configs/net.toml,line=4,") for line in errors)
    assert f"params {R101:,}" in errors[0] and f"going back saves {R101 - R50:,} params" in errors[0]
    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith("## resnet-inspect\n\n**Over budget: 2 limits exceeded.**")
    assert "| backbone | max_params | 44.55 M | 26.00 M | -18.55 M | 171.3% | OVER |" in summary
    assert "### resnet-inspect compare: base/configs/net.toml → head/configs/net.toml" in summary
    assert "| params | 25.56 M | 44.55 M | +18.99 M | +74.3% |" in summary
    assert outputs(tmp_path)["ok"] == "false"
    assert Path(outputs(tmp_path)["report"]).read_text() == summary
    assert "over budget: backbone: params" in done.stderr


def test_within_budget_compares_with_the_base(tmp_path: Path) -> None:
    repo, base = make_repo(tmp_path, NET.replace('stride_in = "1x1"', 'stride_in = "3x3"'))
    done = run_script(tmp_path, repo, specs="configs/net.toml", budget="budget.toml", base_ref=base)
    assert done.returncode == 0, done.stderr
    assert "::error" not in done.stdout and "::notice title=resnet-inspect check%3A within budget::backbone" in done.stdout
    summary = (tmp_path / "summary.md").read_text()
    assert "**Within budget.**" in summary
    # Striding in the 3x3 conv costs Cin*w*((2hw)^2 - hw^2)... the other way: the 1x1 sees 4x the pixels.
    moved = 256 * 128 * (56**2 - 28**2) + 512 * 256 * (28**2 - 14**2) + 1024 * 512 * (14**2 - 7**2)
    assert moved == 231_211_008
    assert "| MACs | 3.86 G | 4.09 G | +231.21 M | +6.0% |" in summary
    assert outputs(tmp_path)["ok"] == "true"


def test_new_config_and_no_base_ref(tmp_path: Path) -> None:
    repo, base = make_repo(tmp_path, NET, base_net=None)
    done = run_script(tmp_path, repo, budget="budget.toml", base_ref=base)
    assert done.returncode == 0, done.stderr
    assert "`configs/net.toml` is new in this pull request" in (tmp_path / "summary.md").read_text()
    (tmp_path / "summary.md").unlink()
    done = run_script(tmp_path, repo, budget="budget.toml")  # a push: nothing to compare with
    assert done.returncode == 0 and "compare" not in (tmp_path / "summary.md").read_text()


def test_bad_input_exits_2_and_says_so(tmp_path: Path) -> None:
    repo, base = make_repo(tmp_path, NET.replace('"1x1"', '"2x2"'))
    done = run_script(tmp_path, repo, budget="budget.toml", base_ref=base)
    assert done.returncode == 2
    summary = (tmp_path / "summary.md").read_text()
    assert "**Bad input**" in summary and "stride_in='2x2' is not allowed" in summary
    assert outputs(tmp_path)["ok"] == "false"


def test_fail_on_violation_false_reports_without_failing(tmp_path: Path) -> None:
    repo, base = make_repo(tmp_path, DEEPER)
    done = run_script(tmp_path, repo, budget="budget.toml", base_ref=base, fail_on_violation="false")
    assert done.returncode == 0 and outputs(tmp_path)["ok"] == "false" and "::error " in done.stdout


def test_shallow_clone_without_the_base_warns(tmp_path: Path) -> None:
    repo, _ = make_repo(tmp_path, DEEPER)
    done = run_script(tmp_path, repo, budget="budget.toml", base_ref="0" * 40)
    assert done.returncode == 1
    assert any(line.startswith("::warning title=resnet-inspect::the base ref 000") for line in done.stdout.splitlines())
    assert "_No comparison: the base ref" in (tmp_path / "summary.md").read_text()


def test_convention_input_counts_as_that_tool(tmp_path: Path) -> None:
    repo, base = make_repo(tmp_path, NET.replace('stride_in = "1x1"', 'stride_in = "3x3"'),
                           budget='max_macs = "4.10G"\n[specs.backbone]\nspec = "configs/net.toml"\n')
    assert run_script(tmp_path, repo, budget="budget.toml", base_ref=base).returncode == 0
    # fvcore counts ResNet-50 at 4,111,512,576 (docs/counting.md; tests/test_conventions.py checks it against fvcore).
    done = run_script(tmp_path, repo, budget="budget.toml", base_ref=base, convention="fvcore")
    assert done.returncode == 1 and "macs 4,111,512,576" in done.stdout


# ----------------------------------------------------------------------------------------------
# action.yml, run step by step like GitHub's composite-action runner.

ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def _value(expr: str, ctx: dict[str, Any]) -> str:
    if expr.startswith("inputs."):
        return str(ctx["inputs"][expr.removeprefix("inputs.")])
    if expr == "github.event.pull_request.base.sha":
        return str(ctx["base_sha"])
    raise AssertionError(f"this test's runner does not know {expr!r}")


def _substitute(text: str, ctx: dict[str, Any]) -> str:
    return EXPR.sub(lambda m: _value(m.group(1), ctx), text)


def _condition(expr: str, ctx: dict[str, Any]) -> bool:
    """The ``if:`` expressions action.yml uses: ``inputs.X != 'v'`` and ``inputs.X != ''``, joined by ``&&``."""
    results = []
    for part in expr.split("&&"):
        m = re.fullmatch(r"\s*inputs\.([\w-]+)\s*(!=|==)\s*'([^']*)'\s*", part)
        assert m, f"unsupported condition {part!r}"
        value = str(ctx["inputs"][m.group(1)])
        results.append((value != m.group(3)) if m.group(2) == "!=" else (value == m.group(3)))
    return all(results)


def run_action(tmp_path: Path, repo: Path, base_sha: str, **given: str) -> tuple[int, list[str], str]:
    inputs: dict[str, str] = {}
    ctx: dict[str, Any] = {"inputs": inputs, "base_sha": base_sha}
    for name, spec in ACTION["inputs"].items():  # defaults are expressions too (base-ref's is the PR's base)
        inputs[name] = given[name] if name in given else _substitute(str(spec.get("default", "")), ctx)
    env = runner_env(tmp_path)
    env["GITHUB_ACTION_PATH"] = str(ROOT)
    ran, stdout = [], ""
    for step in ACTION["runs"]["steps"]:
        if "if" in step and not _condition(step["if"], ctx):
            continue
        assert "run" in step, f"step {step.get('name')} would run an action, which this runner cannot"
        assert step["shell"] == "bash"
        step_env = {**env, **{k: _substitute(str(v), ctx) for k, v in step.get("env", {}).items()}}
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", _substitute(step["run"], ctx)],
                              cwd=repo, env=step_env, capture_output=True, text=True, timeout=120)
        ran.append(step["name"])
        stdout += proc.stdout
        if proc.returncode != 0:
            return proc.returncode, ran, stdout
    return 0, ran, stdout


def test_action_yml_runs_its_steps(tmp_path: Path) -> None:
    repo, base = make_repo(tmp_path, DEEPER)
    code, ran, stdout = run_action(tmp_path, repo, base, budget="budget.toml", version="none")
    assert ran == ["Check the budget and compare with the base"]
    assert code == 1 and "::error file=configs/net.toml,line=4," in stdout
    assert "| params | 25.56 M | 44.55 M | +18.99 M | +74.3% |" in (tmp_path / "summary.md").read_text()
    assert outputs(tmp_path)["ok"] == "false"


def test_action_yml_inputs_and_outputs_are_wired() -> None:
    steps = ACTION["runs"]["steps"]
    text = yaml.safe_dump(steps)
    for name in ACTION["inputs"]:
        assert f"inputs.{name}" in text, f"input {name} is never used"
    run_step = next(s for s in steps if s.get("id") == "run")
    script = (ROOT / "action" / "run.py").read_text()
    for var in run_step["env"]:
        assert f'get("{var.removeprefix("INPUT_")}")' in script, f"{var} is set but run.py never reads it"
    for name, spec in ACTION["outputs"].items():
        assert spec["value"] == f"${{{{ steps.run.outputs.{name} }}}}" and f"{name}=" in script
    install = next(s for s in steps if s["name"] == "Install resnet-inspect")
    assert '"$GITHUB_ACTION_PATH"' in install["run"] and "download.pytorch.org/whl/cpu" in install["run"]
    assert ACTION["runs"]["using"] == "composite"


def test_docs_pin_the_current_version() -> None:
    """The version lives in resnet_inspect.__version__; the docs' `uses: …@vX` and `rev: vX` follow it."""
    from resnet_inspect import __version__

    pins = []
    for page in (ROOT / "docs" / "ci.md", ROOT / "docs" / "examples" / "ci-workflow.yml", ROOT / "README.md"):
        text = page.read_text()
        pins += re.findall(r"resnet-inspect@v([\w.]+)", text) + re.findall(r"^\s*rev: v([\w.]+)", text, re.MULTILINE)
    assert len(pins) >= 4 and set(pins) == {__version__}


@pytest.mark.parametrize(("specs", "said"), [
    ("configs/net.toml 'unclosed", "the specs input cannot be split into SPECs (No closing quotation)"),
    ("--max-params 1", "unknown preset '--max-params'"),  # a SPEC, never an option of check
])
def test_bad_specs_input_is_one_line_and_exit_2(tmp_path: Path, specs: str, said: str) -> None:
    repo, base = make_repo(tmp_path, DEEPER)
    done = run_script(tmp_path, repo, specs=specs, budget="budget.toml", base_ref=base)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert said in done.stderr.splitlines()[0]
    assert said in (tmp_path / "summary.md").read_text() and outputs(tmp_path)["ok"] == "false"
