"""The pre-commit hook (.pre-commit-hooks.yaml), run for real with ``pre-commit try-repo`` in a
temporary git repository: pre-commit installs this checkout into its own virtualenv, as it would
for a user, and runs the hook on the files given.

Slow (pre-commit builds a virtualenv with torch, a dependency, about 1.5 min once); the
environment is kept for the session in one folder, and pip takes torch 2.13.0 CPU from this
machine through constraints.txt, as `make` does.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .reference import TORCHVISION

ROOT = Path(__file__).resolve().parent.parent
HOOKS = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
R50, R101 = TORCHVISION["resnet50"][0], TORCHVISION["resnet101"][0]
NET = 'base = "resnet50"\nname = "backbone"\n'
BUDGET = 'max_params = "26M"\n\n[specs.backbone]\nspec = "configs/net.toml"\n'

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("git") is None, reason="needs git"),
]


def test_hook_manifest() -> None:
    (hook,) = HOOKS
    assert hook["id"] == "resnet-inspect-check" and hook["language"] == "python"
    assert hook["entry"] == "resnet-inspect check" and hook["args"] == ["--budget", "budget.toml"]
    files = re.compile(hook["files"])
    assert [f for f in ("configs/net.toml", "budget.toml", "models/configs/a.yaml", "pyproject.toml", "setup.json",
                        ".pre-commit-config.yaml") if files.search(f)] == ["configs/net.toml", "budget.toml", "models/configs/a.yaml"]


def _git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e.x", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@e.x", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """This checkout's files (committed or not, as git lists them) committed into a scratch
    repository, and a PRE_COMMIT_HOME: try-repo on a fixed commit installs its environment once
    (on a checkout with changes it would make a new shadow commit, and a new environment, per run)."""
    snapshot = tmp_path_factory.mktemp("hook-repo")
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, snapshot / name)
    _git(snapshot, "init", "-q")
    _git(snapshot, "add", ".")
    _git(snapshot, "commit", "-qm", "snapshot")
    return snapshot, tmp_path_factory.mktemp("pre-commit-home")


def try_repo(repo: Path, hooks: tuple[Path, Path], *files: str) -> subprocess.CompletedProcess[str]:
    source, home = hooks
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PIP_CONSTRAINT": str(ROOT / "constraints.txt"),
           "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "PRE_COMMIT_COLOR": "never"}
    return subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(source), "resnet-inspect-check",
                           "--verbose", "--files", *files],
                          cwd=repo, env=env, capture_output=True, text=True, timeout=900)


def test_hook_fails_over_budget_and_passes_within(tmp_path: Path, hook_repo: tuple[Path, Path]) -> None:
    repo = tmp_path / "repo"
    (repo / "configs").mkdir(parents=True)
    (repo / "configs" / "net.toml").write_text(NET + "layers = [3, 4, 23, 3]\n")
    (repo / "budget.toml").write_text(BUDGET)
    (repo / "pyproject.toml").write_text('[project]\nname = "x"\n')  # not a network: the hook's files leave it out
    _git(repo, "init", "-q")
    _git(repo, "add", ".")

    done = try_repo(repo, hook_repo, "configs/net.toml", "pyproject.toml")
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert re.search(r"resnet-inspect check \(network budget\)\.+Failed", out), out
    assert f"over budget: backbone: params {R101:,} (44.55 M) exceeds max_params 26,000,000 (26.00 M)" in out
    assert "unknown key" not in out  # pyproject.toml was not given to check (it would be refused as a config)

    (repo / "configs" / "net.toml").write_text(NET)
    _git(repo, "add", ".")
    done = try_repo(repo, hook_repo, "configs/net.toml", "budget.toml")
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert re.search(r"resnet-inspect check \(network budget\)\.+Passed", out), out
    assert "within budget" in out and re.search(r"backbone\s+max_params\s+25\.56 M\s+26\.00 M", out), out
