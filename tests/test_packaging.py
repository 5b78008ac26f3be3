"""The package as users get it: an sdist and a wheel built from this tree, ``twine check --strict``,
the version, the files they must carry, and the wheel installed into a clean venv, where the
console script answers from outside the source tree.

The version lives in one place, ``resnet_inspect.__version__``; setuptools reads it (``dynamic``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from resnet_inspect import __version__
from resnet_inspect.cli.group import COMMANDS

from .conftest import IN_CI

ROOT = Path(__file__).resolve().parent.parent
#: What the copy that is built leaves out: the caches, venvs and build outputs .gitignore names. A
#: stale resnet_inspect.egg-info in particular would add the files its SOURCES.txt lists to the sdist.
LEFT_OUT = shutil.ignore_patterns(".git", ".venv", ".bench", "build", "dist", "site", "*.egg-info", "__pycache__",
                                  ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis", "*.pyc")
#: Where else the version may be written: the release tags that the docs' examples pin (``uses:
#: OWNER/resnet-inspect@vX``, pre-commit's ``rev: vX``), literal so that users can copy them, and kept
#: equal to ``__version__`` by tests/test_action.py.
RELEASE_PINS = re.compile(r"resnet-inspect@v[\w.]+|^\s*rev: v[\w.]+")
#: pip's words when it cannot reach an index or find a distribution (no network, no torch wheel).
UNREACHABLE = re.compile(r"No matching distribution found|Could not find a version that satisfies|"
                         r"Failed to establish a new connection|Temporary failure in name resolution|NewConnectionError")


def _need(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        if IN_CI:
            pytest.fail(f"{module} is not installed in CI; it is in the dev extra")
        pytest.skip(f"{module} not installed (pip install -e '.[dev]')")


def _run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload,no-any-return]


def test_version_is_defined_once() -> None:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "resnet_inspect.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+([ab]|rc)?\d*", __version__)
    listed = _run(["git", "ls-files"], cwd=ROOT) if shutil.which("git") else None
    if listed is None or listed.returncode != 0:
        pytest.skip("not a git checkout: the tracked files cannot be listed")
    pattern = re.compile(r"(?<![\w.])v?" + re.escape(__version__) + r"(?![\w.])")
    named = []
    for name in listed.stdout.splitlines():
        path = ROOT / name
        if name == "resnet_inspect/__init__.py" or not path.is_file():
            continue
        try:
            text = path.read_text()
        except (UnicodeDecodeError, OSError):
            continue
        named += [f"{name}:{i}" for i, line in enumerate(text.splitlines(), 1) if pattern.search(RELEASE_PINS.sub("", line))]
    assert not named, f"the version {__version__} is written out in {named}: derive it from resnet_inspect.__version__"


def _build(tmp: Path) -> tuple[Path, Path]:
    """An sdist of a copy of this tree, and a wheel built from that sdist (``python -m build`` without
    --sdist/--wheel does exactly that, so the sdist is proven to build)."""
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=LEFT_OUT)
    out = tmp / "dist"
    cmd = [sys.executable, "-m", "build", "--outdir", str(out), str(src)]
    done = _run(cmd, timeout=600)
    if done.returncode != 0 and UNREACHABLE.search(done.stdout + done.stderr):
        # The isolated build (tried first, and what runs here and in CI) installs setuptools from the
        # package index into a fresh environment; with no index reachable it cannot, so build with
        # this environment's setuptools instead (skipped when it has none).
        _need("setuptools")
        done = _run([*cmd, "--no-isolation"], timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return sdist, wheel


def _check_wheel(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        info = f"resnet_inspect-{__version__}.dist-info"
        metadata = zf.read(f"{info}/METADATA").decode()
        entry_points = zf.read(f"{info}/entry_points.txt").decode()
    assert re.search(r"^Version: (.+)$", metadata, re.M)[1] == __version__  # type: ignore[index]
    assert re.search(r"^Name: resnet-inspect$", metadata, re.M)
    assert re.search(r"^\[console_scripts\]\s*\nresnet-inspect = resnet_inspect\.cli:main$", entry_points, re.M), entry_points
    schemas = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "resnet_inspect" / "schemas").glob("*.json"))
    if schemas:
        assert set(schemas) <= names, f"schemas missing from the wheel: {sorted(set(schemas) - names)}"
    else:  # the schemas are not written yet: at least the wheel is told to carry them
        assert '"resnet_inspect.schemas" = ["*.json"]' in (ROOT / "pyproject.toml").read_text()
    if (ROOT / "resnet_inspect" / "py.typed").exists():
        assert "resnet_inspect/py.typed" in names
    assert not any(n.startswith(("tests/", "benchmarks/", "scripts/")) for n in names)


def _check_sdist(sdist: Path) -> None:
    top = f"resnet_inspect-{__version__}/"
    with tarfile.open(sdist) as tf:
        names = {n.removeprefix(top) for n in tf.getnames()}
    assert {"pyproject.toml", "README.md", "PKG-INFO"} <= names
    schemas = {p.relative_to(ROOT).as_posix() for p in (ROOT / "resnet_inspect" / "schemas").glob("*.json")}
    assert schemas <= names, f"schemas missing from the sdist: {sorted(schemas - names)}"


def _install(wheel: Path, tmp: Path) -> Path:
    """A clean venv with the wheel and its dependencies, torch pinned by constraints.txt to the CPU
    build on this machine's disk (the pip configuration's find-links and indexes still apply)."""
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    constraints = " ".join(c for c in (str(ROOT / "constraints.txt"), os.environ.get("PIP_CONSTRAINT", "")) if c)
    env = {**os.environ, "PIP_CONSTRAINT": constraints, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)
    done = _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-c", str(ROOT / "constraints.txt"), str(wheel)],
                env=env, timeout=900)
    if done.returncode != 0:
        _skip_if_unreachable(venv, env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return venv


def _skip_if_unreachable(venv: Path, env: dict[str, str]) -> None:
    """Skip when the install failed because pip cannot get torch's pinned wheel or reach the package
    index (asked again for each alone, without dependencies); any other failure is the package's."""
    for requirement, what in (("torch", "the pinned torch wheel"), ("typer", "the package index")):
        probe = _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--dry-run", "--no-deps", "-q",
                      "-c", str(ROOT / "constraints.txt"), requirement], env=env, timeout=300)
        if probe.returncode != 0:
            reason = next((ln.strip() for ln in probe.stderr.splitlines() if ln.startswith("ERROR")), "pip failed")
            pytest.skip(f"{what} is not available here ({reason})")


@pytest.mark.slow
def test_build_check_install_and_run(tmp_path: Path) -> None:
    _need("build")
    _need("twine")
    sdist, wheel = _build(tmp_path)
    twine = _run([sys.executable, "-m", "twine", "check", "--strict", str(sdist), str(wheel)], timeout=300)
    assert twine.returncode == 0, twine.stdout + twine.stderr
    _check_wheel(wheel)
    _check_sdist(sdist)

    venv = _install(wheel, tmp_path)
    exe = venv / "bin" / "resnet-inspect"
    away = tmp_path / "elsewhere"  # not the source tree, so only the installed package can answer
    away.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return _run([str(exe), *args], cwd=away, env=env, timeout=300)

    where = _run([str(venv / "bin" / "python"), "-c", "import resnet_inspect; print(resnet_inspect.__file__)"], cwd=away, env=env)
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout + where.stderr
    version = cli("--version")
    assert version.returncode == 0 and version.stdout == f"resnet-inspect {__version__}\n", version.stdout + version.stderr
    summary = cli("summary", "resnet50")
    assert summary.returncode == 0, summary.stderr
    assert "25.56 M params, 4.09 G MACs" in summary.stdout, summary.stdout[-2000:]
    exact = cli("summary", "resnet50", "--format", "json")
    assert exact.returncode == 0, exact.stderr
    assert json.loads(exact.stdout)["totals"]["params"] == 25_557_032  # torchvision's ResNet-50
    if "schema" in COMMANDS:  # the schemas load from the installed package
        schema = cli("schema", "summary")
        assert schema.returncode == 0 and '"$schema"' in schema.stdout, schema.stderr
    verify = cli("verify", "cifar_resnet20")  # torch and fvcore came with the wheel's dependencies
    assert verify.returncode == 0, verify.stdout[-2000:] + verify.stderr[-2000:]
