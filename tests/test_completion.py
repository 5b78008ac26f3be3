"""Shell completion: typer's ``--install-completion`` / ``--show-completion`` (a shell may be named),
completions as bash, zsh and fish ask for them (typer's protocol, in a subprocess), and no cost to a
run that does not complete: command names complete without importing a command's module, and a
plain ``summary`` imports nothing for completion that ``import typer`` does not already import."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from resnet_inspect.cli import app
from resnet_inspect.cli.group import COMMANDS

#: The CLI as its console script runs it (program name resnet-inspect, so the completion variable is
#: _RESNET_INSPECT_COMPLETE), printing the modules loaded by its end on stderr; ``-X importtime``
#: would not see the command modules, which ``importlib.import_module`` loads.
CLI = ("import atexit, sys\n"
       "atexit.register(lambda: sys.stderr.write('\\nMODULES ' + ' '.join(sorted(sys.modules)) + '\\n'))\n"
       "sys.argv[0] = 'resnet-inspect'\n"
       "from resnet_inspect.cli import main\n"
       "main()\n")
#: The modules under resnet_inspect.cli that define commands (each imported only when one of its commands runs).
COMMAND_MODULES = {f"resnet_inspect.cli.{m}" for m in COMMANDS.values()}
SHELLS = ("bash", "zsh", "fish")


def cli(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    proc = subprocess.run([sys.executable, "-c", CLI, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})
    lines = proc.stderr.splitlines()
    modules = next((ln for ln in lines if ln.startswith("MODULES ")), "MODULES").split()[1:]
    proc.stderr = "\n".join(ln for ln in lines if ln and not ln.startswith("MODULES "))
    return proc, set(modules)


def complete(shell: str, line: str) -> tuple[list[str], set[str]]:
    """What the completion script of ``shell`` gets for the command line ``line`` (the cursor at its
    end), and the command modules that answering imported."""
    env = {"_RESNET_INSPECT_COMPLETE": f"complete_{shell}"}
    if shell == "bash":
        words = line.split()
        env |= {"COMP_WORDS": line, "COMP_CWORD": str(len(words) if line.endswith(" ") else len(words) - 1)}
    else:
        env["_TYPER_COMPLETE_ARGS"] = line
        if shell == "fish":
            env["_TYPER_COMPLETE_FISH_ACTION"] = "get-args"
    proc, modules = cli(env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", proc.stderr
    out = proc.stdout.strip()
    if shell == "bash":
        values = out.splitlines()
    elif shell == "zsh":  # _arguments '*: :(("value":"help"\n"value"))', or _files for nothing
        values = [] if out == "_files" else re.findall(r'^"((?:[^"]|"")*)"', out.removeprefix("_arguments '*: :(("), re.M)
    else:  # value<TAB>help per line
        values = [ln.split("\t", 1)[0] for ln in out.splitlines()]
    return values, modules & COMMAND_MODULES


def test_help_lists_completion_options() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "--install-completion" in result.stdout and "--show-completion" in result.stdout
    assert "bash, zsh, fish" in result.stdout


@pytest.mark.parametrize("shell", SHELLS)
def test_show_completion_for_a_named_shell(shell: str) -> None:
    for args in (("--show-completion", shell), (f"--show-completion={shell}",)):
        proc, _ = cli(*args)
        assert proc.returncode == 0, proc.stderr
        assert "_RESNET_INSPECT_COMPLETE" in proc.stdout and f"complete_{shell}" in proc.stdout
        assert "resnet-inspect" in proc.stdout


def test_show_completion_for_an_unknown_shell_is_one_line() -> None:
    proc, _ = cli("--show-completion", "tcsh")
    assert proc.returncode == 2 and proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert line.startswith("error:") and "'tcsh'" in line and "bash, zsh, fish" in line


@pytest.mark.parametrize(("shell", "written"), [
    ("bash", ".bash_completions/resnet-inspect.sh"),
    ("zsh", ".zfunc/_resnet-inspect"),
    ("fish", ".config/fish/completions/resnet-inspect.fish"),
])
def test_install_completion_writes_the_file_it_names(shell: str, written: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc, _ = cli("--install-completion", shell, env={"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")})
    assert proc.returncode == 0, proc.stderr
    path = home / written
    assert f"{shell} completion installed in {path}" in proc.stdout
    assert "_RESNET_INSPECT_COMPLETE" in path.read_text()
    if shell == "bash":
        assert f"source '{path}'" in (home / ".bashrc").read_text()
    if shell == "zsh":
        assert "fpath+=~/.zfunc" in (home / ".zshrc").read_text()
    assert all(p.is_relative_to(home) for p in tmp_path.rglob("*"))


@pytest.mark.parametrize("shell", SHELLS)
def test_command_names_complete_without_importing_a_command(shell: str) -> None:
    values, imported = complete(shell, "resnet-inspect s")
    assert values == [c for c in COMMANDS if c.startswith("s")]
    assert imported == set()
    values, imported = complete(shell, "resnet-inspect ")
    assert values[:len(COMMANDS)] == list(COMMANDS) and imported == set()


@pytest.mark.parametrize("shell", SHELLS)
def test_option_names_of_a_command(shell: str) -> None:
    values, imported = complete(shell, "resnet-inspect summary resnet50 --f")
    assert values == ["--format"]
    assert imported == {"resnet_inspect.cli.summary"}  # the command completed, and no other
    values, _ = complete(shell, "resnet-inspect memory resnet50 --")
    assert {"--batch", "--format", "--shortcut", "--help"} <= set(values)
    assert all(v.startswith("-") for v in values), values  # a long description is one line (fish reads lines)
    values, _ = complete(shell, "resnet-inspect --")
    assert {"--version", "--install-completion", "--show-completion", "--help"} == set(values)


@pytest.mark.parametrize("shell", SHELLS)
def test_values_of_choice_options(shell: str) -> None:
    assert complete(shell, "resnet-inspect summary resnet50 --format ")[0] == ["table", "json", "markdown", "csv"]
    assert complete(shell, "resnet-inspect summary resnet50 --format m")[0] == ["markdown"]
    assert complete(shell, "resnet-inspect summary resnet50 --shortcut ")[0] == ["A", "B", "C", "D", "none"]
    assert complete(shell, "resnet-inspect summary resnet50 --stride-in ")[0] == ["1x1", "3x3"]
    assert complete(shell, "resnet-inspect summary resnet50 --convention f")[0] == ["fvcore", "flop_counter_mode"]


@pytest.mark.parametrize("shell", SHELLS)
def test_spec_completes_preset_names(shell: str) -> None:
    from resnet_inspect.presets import PRESETS

    values, _ = complete(shell, "resnet-inspect summary resnet5")
    assert values == [p for p in PRESETS if p.startswith("resnet5")] and "resnet50" in values
    assert complete(shell, "resnet-inspect summary ./my_net")[0] == []  # the shell completes a file name


def test_nothing_to_complete_after_an_unknown_command() -> None:
    values, imported = complete("bash", "resnet-inspect bogus --fo")
    assert values == [] and imported == set()


def test_plain_run_imports_nothing_for_completion() -> None:
    """typer's own import brings its completion modules (and shellingham, in 0.28 and 0.29): a plain
    ``summary`` may import those, and nothing else completion-only; the shell is never detected."""

    def completion_only(modules: set[str]) -> set[str]:
        return {m for m in modules if "complet" in m or m.split(".")[0] == "shellingham"}

    baseline = subprocess.run([sys.executable, "-c", "import sys, typer; print(' '.join(sys.modules))"],
                              capture_output=True, text=True, check=True, timeout=120).stdout.split()
    proc, modules = cli("summary", "resnet50")
    assert proc.returncode == 0, proc.stderr
    assert "ResNet" in proc.stdout or "layer4" in proc.stdout
    assert completion_only(modules) <= completion_only(set(baseline))
    assert modules & COMMAND_MODULES == {"resnet_inspect.cli.summary"}
    guard = ("try:\n    import shellingham\nexcept ImportError:\n    pass\nelse:\n"
             "    def detect_shell(*a, **k):\n        raise SystemExit('shell detected on a plain run')\n"
             "    shellingham.detect_shell = detect_shell\n")
    done = subprocess.run([sys.executable, "-c", guard + CLI, "summary", "resnet50"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
