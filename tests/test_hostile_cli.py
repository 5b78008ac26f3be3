"""The CLI's one error boundary and its lazy commands (issue 16, group 6).

Every usage error, whatever command or option it concerns, is one ``error:`` line on stderr and
exit 2, with nothing on stdout and no file written; only the invoked command's module is imported.
Run in real processes, as a user meets them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from resnet_inspect.cli.group import COMMANDS


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "resnet_inspect", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


USAGE_ERRORS = [
    ("summary",),  # missing argument
    ("summary", "resnet50", "--format", "xml"),  # bad choice
    ("summary", "resnet50", "--bogus"),  # unknown option
    ("summary", "resnet50", "--depth"),  # option without its value
    ("summary", "resnet50", "--input-size", "abc"),  # not an int
    ("sumary", "resnet50"),  # unknown command, near miss
    ("frobnicate",),  # unknown command
    ("memory", "resnet18", "--batch", "0"),  # below the range
    ("memory", "resnet18", "--dtype", "fp8"),
    ("shortcuts", "resnet18", "--view", "sideways"),
    ("compare", "resnet18"),  # missing SPEC_B
    ("check", "resnet18", "--max-params"),
    ("diagram", "resnet18", "--level", "galaxy", "-o", "x.dot"),
    ("bench", "resnet18", "--threads", "abc"),
    ("verify", "resnet18", "--module"),
    ("inspect",),
    ("roofline", "resnet18", "--dtype", "int4"),
    ("counting", "resnet18", "--explain=maybe"),
    ("presets", "--family"),
    ("spec", "resnet18", "--format", "ini"),
    ("summary", "resnet50", "--convention", "fvcor"),
    ("compare", "resnet5O", "resnet50"),
]


@pytest.mark.parametrize("args", USAGE_ERRORS, ids=" ".join)
def test_usage_errors_are_one_line(args: tuple[str, ...], tmp_path: Path) -> None:
    proc = cli(*args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and len(lines[0]) < 300, proc.stderr
    assert "Traceback" not in proc.stderr and "╭" not in proc.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_unknown_command_suggests() -> None:
    proc = cli("sumary", "resnet50")
    assert "did you mean summary?" in proc.stderr


def test_compare_names_the_side() -> None:
    proc = cli("compare", "resnet50", "resnet50:widths=-64-128-256-512")
    assert proc.returncode == 2 and proc.stderr.startswith("error: SPEC_B (resnet50:widths=-64-128-256-512): ")
    proc = cli("compare", "resnet5O", "resnet50")
    assert proc.stderr.startswith("error: SPEC_A (resnet5O): ")


def test_several_config_problems_one_line_each(tmp_path: Path) -> None:
    cfg = tmp_path / "net.toml"
    cfg.write_text('block = "bottlenek"\nlayers = [3, 4]\nwidths = [64, 128, 256, 512]\nshortcutt = "B"\n')
    proc = cli("summary", str(cfg))
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2 and len(lines) >= 2 and all(ln.startswith("error: ") for ln in lines)


def test_only_the_invoked_command_is_imported() -> None:
    code = ("import sys; from resnet_inspect.cli import app; from typer.testing import CliRunner; "
            "r = CliRunner().invoke(app, ['summary', 'resnet18', '--format', 'json']); assert r.exit_code == 0; "
            "print(sorted(m for m in sys.modules if m.startswith('resnet_inspect.cli.')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    loaded = set(eval(proc.stdout))
    assert "resnet_inspect.cli.summary" in loaded
    others = {f"resnet_inspect.cli.{m}" for m in COMMANDS.values()} - {"resnet_inspect.cli.summary"}
    assert not loaded & others


def test_commands_table_is_what_the_modules_register() -> None:
    """COMMANDS (which module builds which command) holds every command the modules register, and
    no other: a command added without it would never run."""
    import importlib

    import typer

    registered: dict[str, str] = {}
    for module in sorted(set(COMMANDS.values())):
        sub = typer.Typer()
        importlib.import_module(f"resnet_inspect.cli.{module}").register(sub)
        for info in sub.registered_commands:
            registered[info.name or info.callback.__name__] = module  # type: ignore[union-attr]
    assert registered == COMMANDS
    proc = cli("--help")
    assert proc.returncode == 0 and all(name in proc.stdout for name in COMMANDS)


def test_no_arguments_shows_help() -> None:
    proc = cli()
    assert proc.returncode == 2 and "Usage:" in proc.stdout and "summary" in proc.stdout and proc.stderr == ""
