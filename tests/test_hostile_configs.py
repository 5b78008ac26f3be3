"""Hostile config and budget files (issue 16, groups 1, 2 and 5).

A YAML alias bomb, values nested a hundred thousand deep, a 900 KB value, a flood of keys: each is
refused in one short ``error:`` line (exit 2, no traceback, nothing written), in bounded time and
memory. Strings with control characters or rich markup are shown, never interpreted.

The CLI runs in a real process, as a user meets it: ``run_cli`` measures its wall time and peak
resident memory (through a fresh wrapper process, whose only child is the CLI, so no other test's
child is counted) and caps its address space, so a regression fails the test instead of the machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from resnet_inspect.config import load_config
from resnet_inspect.document import MAX_DEPTH, MAX_VALUES
from resnet_inspect.errors import SpecError

#: Address space the CLI may take (a bomb used to grow past 20 GB).
MEMORY_CAP = 2 * 1024**3
#: Peak resident memory a refused bomb may take (the interpreter and its imports are about 25 MB).
MAX_RSS_MB = 100

_WRAPPER = textwrap.dedent("""
    import resource, subprocess, sys
    cap = int(sys.argv[1])
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    proc = subprocess.run(sys.argv[3:], preexec_fn=limit, timeout=60)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(sys.argv[2], "w") as fh:
        fh.write(f"{usage.ru_maxrss} {usage.ru_utime + usage.ru_stime}")
    sys.exit(proc.returncode)
""")


@dataclass
class Run:
    code: int
    out: str
    err: str
    #: CPU time (user + system) of the CLI: steadier than wall time on a busy machine.
    seconds: float
    peak_mb: float

    def one_error_line(self) -> str:
        """The single stderr line of a refusal, after checking everything a refusal must be."""
        assert self.code == 2, self.err[-2000:]
        assert "Traceback" not in self.err, self.err[-2000:]
        lines = self.err.splitlines()
        assert len(lines) == 1, f"{len(lines)} lines: {self.err[:1000]}"
        assert lines[0].startswith("error: ") and len(lines[0]) < 300, lines[0][:1000]
        assert self.out == ""
        return lines[0]


def run_cli(*args: str, cwd: Path) -> Run:
    """``resnet-inspect ARGS`` in ``cwd``, with its CPU time and peak RSS (MB)."""
    rss_file = cwd.parent / f"rss-{os.getpid()}-{time.monotonic_ns()}"
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", _WRAPPER, str(MEMORY_CAP), str(rss_file), sys.executable, "-m", "resnet_inspect", *args],
        capture_output=True, text=True, timeout=90, cwd=cwd, env=env,
    )
    peak_kb, seconds = rss_file.read_text().split() if rss_file.exists() else ("0", "0")
    rss_file.unlink(missing_ok=True)
    return Run(proc.returncode, proc.stdout, proc.stderr, float(seconds), int(peak_kb) / 1024)


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` with its size and modification time."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def refused(*args: str, cwd: Path) -> tuple[str, Run]:
    """Run a command that must be refused: one line, exit 2, and no file created or changed."""
    before = snapshot(cwd)
    run = run_cli(*args, cwd=cwd)
    line = run.one_error_line()
    assert snapshot(cwd) == before
    return line, run


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> float:
    """CPU time of a small config refused for an ordinary mistake: start-up and imports."""
    folder = tmp_path_factory.mktemp("baseline")
    (folder / "net.yaml").write_text("base: resnet50\nstem: bogus\n")
    return min(run_cli("summary", "net.yaml", cwd=folder).seconds for _ in range(2))


# ----------------------------------------------------------------------------------------------
# Group 1: alias bombs


def bomb(levels: int, key: str = "layers", width: int = 9, base: bool = True) -> str:
    """``levels`` lists, each holding ``width`` aliases of the one before: width**levels strings."""
    lines = ["base: resnet50"] if base else []
    lines += ["x:", '  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    prev = "a"
    for name in "bcdefghijklmnop"[:levels]:
        lines.append(f"  {name}: &{name} [" + ",".join([f"*{prev}"] * width) + "]")
        prev = name
    lines.append(f"{key}: *{prev}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(("levels", "key"), [(6, "layers"), (8, "layers"), (9, "name"), (12, "widths"), (9, "bogus")])
def test_alias_bomb_is_refused_fast_and_small(levels: int, key: str, tmp_path: Path, baseline: float) -> None:
    text = bomb(levels, key)
    assert len(text) < 600  # a few hundred bytes standing for up to 9**13 strings
    (tmp_path / "bomb.yaml").write_text(text)
    line, run = refused("summary", "bomb.yaml", cwd=tmp_path)
    assert f"more than {MAX_VALUES:,} values" in line and "alias" in line
    assert run.peak_mb < MAX_RSS_MB, run.peak_mb
    assert run.seconds < baseline + 1.0, (run.seconds, baseline)


def test_alias_bomb_in_a_budget_file(tmp_path: Path, baseline: float) -> None:
    (tmp_path / "budget.yaml").write_text(bomb(9, "max_params", base=False))
    line, run = refused("check", "resnet50", "--budget", "budget.yaml", cwd=tmp_path)
    assert f"more than {MAX_VALUES:,} values" in line
    assert run.peak_mb < MAX_RSS_MB and run.seconds < baseline + 1.0


def test_alias_bomb_as_the_whole_document(tmp_path: Path) -> None:
    lines = ['- &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefghi", "bcdefghij"):
        lines.append(f"- &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    (tmp_path / "bomb.yaml").write_text("\n".join(lines) + "\n")
    line, run = refused("summary", "bomb.yaml", cwd=tmp_path)
    assert f"more than {MAX_VALUES:,} values" in line
    assert run.peak_mb < MAX_RSS_MB


def test_bomb_refused_in_process_within_a_second(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(bomb(12))
    start = time.perf_counter()
    with pytest.raises(SpecError, match="values"):
        load_config(path)
    assert time.perf_counter() - start < 1.0


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    (tmp_path / "net.yaml").write_text("base: resnet50\nlayers: &a [1, *a]\n")
    line, _ = refused("summary", "net.yaml", cwd=tmp_path)
    assert "alias *a is used inside the value it names" in line and "net.yaml:2" in line


def test_modest_aliases_still_work(tmp_path: Path) -> None:
    (tmp_path / "budget.yaml").write_text(textwrap.dedent("""\
        specs:
          small: &limits {spec: resnet18, max_params: 26M}
          medium:
            <<: *limits
            spec: resnet34
    """))
    run = run_cli("check", "--budget", "budget.yaml", cwd=tmp_path)
    assert run.code == 0, run.err
    assert "within budget" in run.out


# ----------------------------------------------------------------------------------------------
# Group 2: depth, size, floods of keys and problems


def nested(depth: int, fmt: str, key: str = "layers") -> str:
    inner = "[" * depth + "]" * depth
    if fmt == "json":
        return json.dumps({"base": "resnet50"})[:-1] + f', "{key}": {inner}}}'
    if fmt == "toml":
        return f'base = "resnet50"\n{key} = {inner}\n'
    return f"base: resnet50\n{key}: {inner}\n"


@pytest.mark.parametrize("fmt", ["json", "toml", "yaml"])
@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 900, 100_000])
def test_deep_nesting_in_a_config_is_refused(fmt: str, depth: int, tmp_path: Path) -> None:
    (tmp_path / f"net.{fmt}").write_text(nested(depth, fmt))
    line, run = refused("summary", f"net.{fmt}", cwd=tmp_path)
    assert "nested too deeply" in line
    assert run.peak_mb < MAX_RSS_MB


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_deep_nesting_in_a_budget_is_refused(fmt: str, tmp_path: Path) -> None:
    (tmp_path / f"budget.{fmt}").write_text(nested(100_000, fmt, "max_params").replace("base", "max_macs"))
    line, _ = refused("check", "resnet50", "--budget", f"budget.{fmt}", cwd=tmp_path)
    assert "nested too deeply" in line


def test_shallow_nesting_is_an_ordinary_problem(tmp_path: Path) -> None:
    (tmp_path / "net.json").write_text(nested(3, "json"))
    line, _ = refused("summary", "net.json", cwd=tmp_path)
    assert "layers[0]=[[]] is not an integer" in line


@pytest.mark.parametrize("fmt", ["json", "toml", "yaml"])
def test_a_huge_flat_list_is_refused(fmt: str, tmp_path: Path, baseline: float) -> None:
    items = ",".join(["1"] * 50_000)
    text = {"json": f'{{"layers": [{items}]}}', "toml": f"layers = [{items}]\n", "yaml": f"layers: [{items}]\n"}[fmt]
    (tmp_path / f"net.{fmt}").write_text(text)
    line, run = refused("summary", f"net.{fmt}", cwd=tmp_path)
    assert f"more than {MAX_VALUES:,} values" in line
    assert run.seconds < baseline + 5.0 and run.peak_mb < MAX_RSS_MB


def test_a_flood_of_keys_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "net.toml").write_text("".join(f"k{i} = 1\n" for i in range(1000)))
    line, _ = refused("summary", "net.toml", cwd=tmp_path)
    assert "1,000 keys at the top level" in line


def test_many_problems_are_capped(tmp_path: Path) -> None:
    (tmp_path / "net.toml").write_text('base = "resnet50"\n' + "".join(f"k{i} = 1\n" for i in range(30)))
    run = run_cli("summary", "net.toml", cwd=tmp_path)
    lines = run.err.splitlines()
    assert run.code == 2 and len(lines) == 11 and all(ln.startswith("error: ") and len(ln) < 300 for ln in lines)
    assert lines[-1].endswith("20 more problems not listed")


def test_an_oversized_budget_file_is_refused_unread(tmp_path: Path) -> None:
    (tmp_path / "budget.toml").write_text('max_params = "26M"\n' + "# padding\n" * 200_000)
    line, _ = refused("check", "resnet50", "--budget", "budget.toml", cwd=tmp_path)
    assert "byte limit for a budget file" in line


@pytest.mark.parametrize(("name", "body"), [
    ("net.toml", 'base = "resnet50"\nstem = "' + "x" * 900_000 + '"\n'),
    ("net.yaml", "base: resnet50\nblock: " + "y" * 900_000 + "\n"),
    ("net.json", '{"base": "resnet50", "' + "k" * 900_000 + '": 1}'),
    ("net.toml", 'base = "' + "r" * 900_000 + '"\n'),
    ("net.toml", 'base = "resnet50"\nlayers = ["' + "z" * 900_000 + '"]\n'),
])
def test_a_900kb_value_is_not_echoed(name: str, body: str, tmp_path: Path) -> None:
    (tmp_path / name).write_text(body)
    line, _ = refused("summary", name, cwd=tmp_path)
    assert line.count(body[40]) < 200


def test_a_900kb_budget_value_is_not_echoed(tmp_path: Path) -> None:
    (tmp_path / "budget.toml").write_text(
        f'max_params = "{"9" * 100_000}x"\n[specs.{"n" * 1000}]\nspec = "resnet50"\n'
    )
    run = run_cli("check", "--budget", "budget.toml", cwd=tmp_path)
    assert run.code == 2 and "Traceback" not in run.err
    assert all(len(ln) < 300 for ln in run.err.splitlines()) and run.err.count("9") < 200


def test_a_long_config_path_is_not_echoed(tmp_path: Path) -> None:
    line, _ = refused("summary", "d/" * 1500 + "net.toml", cwd=tmp_path)
    assert "no such config file" in line or "cannot be a path" in line


# ----------------------------------------------------------------------------------------------
# Group 5: control characters and markup are shown, never interpreted


def test_an_escape_sequence_in_a_config_name_prints_no_escape(tmp_path: Path) -> None:
    (tmp_path / "net.toml").write_text('base = "resnet50"\nname = "\\u001b[2J\\u001b]0;pwned\\u0007"\n')
    run = run_cli("summary", "net.toml", cwd=tmp_path)
    assert run.code == 0, run.err
    assert "\x1b" not in run.out and "\x07" not in run.out and "\x1b" not in run.err


def test_an_escape_sequence_in_a_refused_value_is_not_echoed(tmp_path: Path) -> None:
    (tmp_path / "net.yaml").write_text('base: resnet50\nstem: "\\e[2J\\e[31mred"\n')
    line, _ = refused("summary", "net.yaml", cwd=tmp_path)
    assert "\x1b" not in line and "stem=" in line


@pytest.mark.parametrize("name", ["[/]", "[bold]x[/bold]", "[red]"])
def test_markup_in_a_spec_name_is_shown_literally(name: str, tmp_path: Path) -> None:
    run = run_cli("summary", f"resnet50:name={name}", cwd=tmp_path)
    assert run.code == 0, run.err
    assert run.out.splitlines()[0].startswith(f"{name}: ")


def test_markup_in_a_config_name_is_shown_literally(tmp_path: Path) -> None:
    (tmp_path / "net.yaml").write_text('base: resnet50\nname: "[bold]x[/] [link=http://e.x]y[/link]"\n')
    run = run_cli("summary", "net.yaml", cwd=tmp_path)
    assert run.code == 0, run.err
    assert run.out.splitlines()[0].startswith("[bold]x[/] [link=http://e.x]y[/link]: ")


def test_the_pure_python_yaml_parser_is_bounded_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without libyaml, PyYAML's own parser feeds the same counting composer."""
    import yaml

    monkeypatch.setattr(yaml, "__with_libyaml__", False)
    path = tmp_path / "bomb.yaml"
    path.write_text(bomb(12))
    start = time.perf_counter()
    with pytest.raises(SpecError, match="values"):
        load_config(path)
    assert time.perf_counter() - start < 1.0
    path.write_text("base: resnet34\nshortcut: A\nwidths: &w [64, 128, 256, 512]\n")
    assert load_config(path).widths == (64, 128, 256, 512)


@pytest.mark.parametrize("raw", [b"\x01", b"\x1b[2J", b"\x7f"])
def test_a_raw_control_character_in_yaml_is_one_located_line(raw: bytes, tmp_path: Path) -> None:
    (tmp_path / "net.yaml").write_bytes(b"base: resnet50\nname: a" + raw + b"b\n")
    line, _ = refused("summary", "net.yaml", cwd=tmp_path)
    assert line.startswith("error: net.yaml:2: invalid YAML: unacceptable character") and "\x1b" not in line
