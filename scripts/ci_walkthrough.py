"""The pull request that docs/ci.md walks through, made for real: a scratch git repository whose
``main`` holds a ResNet-50 config and a budget, and whose ``pr`` branch makes layer3 deeper. The
Action's script (action/run.py) runs on it as a runner would start it, and scripts/gen_docs.py
pastes what it printed into the guide (``<!-- BEGIN generated: ci-walkthrough PART -->``), so the
walkthrough shows the tool's real output and tests/test_docs.py notices when it changes.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

NET = """\
# The backbone: ResNet-50 with the paper's stride placement (stride 2 in the first 1x1 conv).
base = "resnet50"
stride_in = "1x1"
name = "backbone"
"""
DEEPER = NET.replace('stride_in = "1x1"\n', 'stride_in = "1x1"\nlayers = [3, 4, 23, 3]  # a deeper layer3\n')
BUDGET = """\
# Limits for every spec below (each [specs.NAME] may override them).
max_params = "26M"
max_macs = "4.2G"
max_projections = 4

[specs.backbone]
spec = "configs/net.toml"
"""
PARTS = ("net", "budget", "diff", "annotations", "log", "summary", "summary-source", "outputs")


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "dev", "GIT_AUTHOR_EMAIL": "dev@example.com", "GIT_COMMITTER_NAME": "dev",
           "GIT_COMMITTER_EMAIL": "dev@example.com", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout


@functools.cache
def walkthrough() -> dict[str, str]:
    """Every part the guide shows, by name (``PARTS``)."""
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        (repo / "configs").mkdir(parents=True)
        _git(repo, "init", "-q", "-b", "main")
        (repo / "configs" / "net.toml").write_text(NET)
        (repo / "budget.toml").write_text(BUDGET)
        _git(repo, "add", ".")
        _git(repo, "commit", "-qm", "ResNet-50 backbone and its budget")
        base = _git(repo, "rev-parse", "HEAD").strip()
        _git(repo, "checkout", "-qb", "pr")
        (repo / "configs" / "net.toml").write_text(DEEPER)
        _git(repo, "commit", "-qam", "Deeper layer3")
        diff = _git(repo, "diff", "main", "--", "configs/net.toml")

        shim = Path(tmp) / "bin"
        shim.mkdir()
        (shim / "resnet-inspect").write_text(f'#!/bin/sh\nPYTHONPATH="{ROOT}" exec "{sys.executable}" -m resnet_inspect "$@"\n')
        (shim / "resnet-inspect").chmod(0o755)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("INPUT_", "GITHUB_"))}
        env.update({"PATH": f"{shim}{os.pathsep}{os.environ.get('PATH', '')}", "INPUT_BUDGET": "budget.toml",
                    "INPUT_BASE_REF": base, "GITHUB_STEP_SUMMARY": str(Path(tmp) / "summary.md"),
                    "GITHUB_OUTPUT": str(Path(tmp) / "output.txt"), "RUNNER_TEMP": tmp, "COLUMNS": "100"})
        done = subprocess.run([sys.executable, str(ROOT / "action" / "run.py")], cwd=repo, env=env,
                              capture_output=True, text=True, timeout=300)
        summary = (Path(tmp) / "summary.md").read_text()
        outputs = (Path(tmp) / "output.txt").read_text().replace(tmp, "$RUNNER_TEMP")
    outputs = "\n".join(line if not line.startswith("report=") else "report=$RUNNER_TEMP/resnet-inspect-…/report.md"
                        for line in outputs.splitlines())
    annotations = [line for line in done.stdout.splitlines() if line.startswith("::")]
    log = done.stdout + done.stderr + f"Error: Process completed with exit code {done.returncode}.\n"
    return {
        "net": _code("toml", NET), "budget": _code("toml", BUDGET), "diff": _code("diff", diff),
        "annotations": _code("text", "\n".join(annotations)), "log": _code("text", log),
        "summary": _demoted(summary), "summary-source": _code("markdown", summary), "outputs": _code("text", outputs),
    }


def _demoted(markdown: str) -> str:
    """The job summary for the guide's page: its headings two levels down (so they do not join the
    page's table of contents), inside a box; everything else exactly as printed."""
    lines = [f"##{line}" if line.startswith("#") else line for line in markdown.splitlines()]
    return '<div class="job-summary" markdown="1">\n\n' + "\n".join(lines).rstrip() + "\n\n</div>\n"


def _code(lang: str, text: str) -> str:
    return f"```{lang}\n{text.rstrip()}\n```\n"


def part(name: str) -> str:
    if name not in PARTS:
        raise ValueError(f"ci-walkthrough has no part {name!r}; parts: {', '.join(PARTS)}")
    return walkthrough()[name]
