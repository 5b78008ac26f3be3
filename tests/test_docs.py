"""The docs cannot drift from the tool: the CLI reference and the generated tables are rebuilt and
compared, and the site builds with ``mkdocs build --strict``."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from .conftest import IN_CI

ROOT = Path(__file__).resolve().parent.parent


def load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_is_current() -> None:
    gen = load_script("gen_cli_docs")
    assert (ROOT / "docs" / "cli.md").read_text() == gen.render(), "docs/cli.md is stale: run python scripts/gen_cli_docs.py"


def test_cli_reference_covers_every_command() -> None:
    text = (ROOT / "docs" / "cli.md").read_text()
    for command in ("summary", "presets", "shortcuts", "memory", "counting", "roofline", "compare", "check", "spec",
                    "diagram", "build", "verify", "inspect", "bench"):
        assert f"## `resnet-inspect {command}`" in text


@pytest.mark.parametrize("page", ["docs/variants.md", "docs/index.md", "docs/shortcuts.md", "README.md", "docs/own-resnet.md", "docs/ci.md",
                                  "docs/memory.md", "docs/counting.md", "docs/roofline.md"])
def test_generated_sections_are_current(page: str) -> None:
    gen = load_script("gen_docs")
    text = (ROOT / page).read_text()
    assert gen.sections(text), f"{page} has no generated section"
    assert gen.render(text) == text, f"{page} is stale: run python scripts/gen_docs.py"


def test_docs_site_builds_strictly(tmp_path: Path) -> None:
    if importlib.util.find_spec("mkdocs") is None:
        if IN_CI:
            pytest.fail("mkdocs is not installed in CI; it is in the dev extra")
        pytest.skip("mkdocs not installed")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "site" / "index.html").exists()


def test_readme_commands_are_real() -> None:
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert "make demo" in readme and "make test" in readme
    assert "demo:" in makefile and "summary resnet50" in makefile
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("make test")
    assert shutil.which("make") is not None
