"""Regenerate the tables in the docs from the tool itself, so the guides cannot drift.

Each generated section sits between two markers; the first names the command line that produces it:

    <!-- BEGIN generated: shortcuts resnet34 --view network -->
    ... the Markdown output of `resnet-inspect shortcuts resnet34 --view network --format markdown` ...
    <!-- END generated -->

Run `python scripts/gen_docs.py` after changing a report; `--check` exits 1 when a file is stale
(tests/test_docs.py runs the same check). Sections marked `BEGIN measured:` hold measurements
(`bench`): they are filled only with `--measure` and never checked, since timings vary.

`<!-- BEGIN generated: ci-walkthrough PART -->` shows a part of the pull request docs/ci.md walks
through, made in a scratch repository by scripts/ci_walkthrough.py (the Action's real output).

`<!-- BEGIN generated: file PATH -->` includes a file of the repository as a code block, so a guide
shows the very code its transcripts trace. A `verify` transcript may end in exit 1 (a mismatch is
what it shows); its stderr lines follow its table.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = (ROOT / "README.md",
           *(ROOT / "docs" / name for name in ("shortcuts.md", "variants.md", "index.md", "own-resnet.md", "memory.md", "counting.md", "roofline.md",
                                               "ci.md")))
#: Commands whose output is deterministic and may fill a generated section.
COMMANDS = frozenset({"shortcuts", "summary", "compare", "presets", "verify", "spec", "memory", "counting", "roofline"})
#: Exit codes a transcript may end with, per command (a verify that finds a difference exits 1).
EXIT_OK = {"verify": (0, 1)}

SECTION = re.compile(
    r"(?P<begin><!-- BEGIN generated: (?P<args>[^>]*?) -->\n)(?P<body>.*?)(?P<end><!-- END generated -->)",
    re.DOTALL,
)
MEASURED = re.compile(
    r"(?P<begin><!-- BEGIN measured: (?P<args>[^>]*?) -->\n)(?P<body>.*?)(?P<end><!-- END measured -->)",
    re.DOTALL,
)


def run_tool(args: list[str], allowed: frozenset[str] = COMMANDS) -> str:
    """The Markdown the CLI prints for ``args`` (``--format markdown`` added)."""
    from typer.testing import CliRunner

    from resnet_inspect.cli import app

    if args[:1] == ["ci-walkthrough"] and len(args) == 2:  # docs/ci.md's pull request, made for real
        return _walkthrough_part(args[1])
    if args[:1] == ["file"] and len(args) == 2:
        path = (ROOT / args[1]).resolve()
        if ROOT not in path.parents:
            raise ValueError(f"{args[1]} is outside the repository")
        return "```python\n" + path.read_text(encoding="utf-8").rstrip("\n") + "\n```\n"
    if not args or args[0] not in allowed:
        raise ValueError(f"a generated section must run one of {sorted(allowed)}, not {' '.join(args)!r}")
    console = "--format" in args and args[args.index("--format") + 1] == "table"
    if args[0] == "spec":
        console = True
        args = [a for a in args if a not in ("--format", "table")]
    result = CliRunner().invoke(app, args if console else [*args, "--format", "markdown"])
    if result.exit_code not in EXIT_OK.get(args[0], (0,)):
        raise RuntimeError(f"resnet-inspect {' '.join(args)} failed: {result.stderr or result.stdout}")
    if console:  # a terminal transcript, for pages that show what a user sees
        shown = " ".join(a for a in args[:-2] if a) if args[-2:] == ["--format", "table"] else " ".join(args)
        lines = [line.rstrip() for line in result.stdout.splitlines()]
        if result.exit_code:
            lines += [line.rstrip() for line in result.stderr.splitlines()] + ["$ echo $?", str(result.exit_code)]
        return "```console\n$ resnet-inspect " + shown + "\n" + "\n".join(lines).strip("\n") + "\n```\n"
    return result.stdout


def _walkthrough_part(name: str) -> str:
    import importlib.util

    spec = importlib.util.spec_from_file_location("ci_walkthrough", ROOT / "scripts" / "ci_walkthrough.py")
    assert spec is not None and spec.loader is not None
    module = sys.modules.get("ci_walkthrough")
    if module is None:
        module = importlib.util.module_from_spec(spec)
        sys.modules["ci_walkthrough"] = module
        spec.loader.exec_module(module)
    return str(module.part(name))


def render(text: str) -> str:
    """``text`` with every generated section replaced by the tool's current output."""

    def fill(m: re.Match[str]) -> str:
        body = run_tool(shlex.split(m.group("args")))
        return m.group("begin") + body.rstrip("\n") + "\n" + m.group("end")

    return SECTION.sub(fill, text)


def measure(text: str) -> str:
    """``text`` with every measured section re-run (slow; timings vary from run to run)."""

    def fill(m: re.Match[str]) -> str:
        body = run_tool(shlex.split(m.group("args")), frozenset({"bench"}))
        return m.group("begin") + body.rstrip("\n") + "\n" + m.group("end")

    return MEASURED.sub(fill, text)


def sections(text: str) -> list[str]:
    """The command lines of the generated sections, in order."""
    return [m.group("args") for m in SECTION.finditer(text)]


def main() -> int:
    stale = []
    for target in TARGETS:
        if not target.exists():
            continue
        current = target.read_text(encoding="utf-8")
        fresh = render(current)
        if "--measure" in sys.argv:
            fresh = measure(fresh)
        if "--check" in sys.argv:
            if fresh != current:
                stale.append(str(target.relative_to(ROOT)))
            continue
        target.write_text(fresh, encoding="utf-8")
        print(f"wrote {target.relative_to(ROOT)} ({len(sections(fresh))} generated sections)")
    if stale:
        print(f"{', '.join(stale)} stale: run python scripts/gen_docs.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
