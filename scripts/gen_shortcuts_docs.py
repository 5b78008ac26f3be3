"""Regenerate the tables in docs/shortcuts.md from the tool itself, so the guide cannot drift.

Each generated section sits between two markers; the first names the command line that produces it:

    <!-- BEGIN generated: shortcuts resnet34 --view network -->
    ... the Markdown output of `resnet-inspect shortcuts resnet34 --view network --format markdown` ...
    <!-- END generated -->

Run `python scripts/gen_shortcuts_docs.py` after changing the report; `--check` exits 1 when the file
is stale (tests/test_shortcuts_cli.py runs the same check).
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "shortcuts.md"

SECTION = re.compile(
    r"(?P<begin><!-- BEGIN generated: (?P<args>[^>]*?) -->\n)(?P<body>.*?)(?P<end><!-- END generated -->)",
    re.DOTALL,
)


def run_tool(args: list[str]) -> str:
    """The Markdown the CLI prints for ``args`` (``--format markdown`` added)."""
    from typer.testing import CliRunner

    from resnet_inspect.cli import app

    if not args or args[0] != "shortcuts":
        raise ValueError(f"generated sections must run 'shortcuts ...', not {' '.join(args)!r}")
    result = CliRunner().invoke(app, [*args, "--format", "markdown"])
    if result.exit_code != 0:
        raise RuntimeError(f"resnet-inspect {' '.join(args)} failed: {result.stderr or result.stdout}")
    return result.stdout


def render(text: str) -> str:
    """``text`` with every generated section replaced by the tool's current output."""

    def fill(m: re.Match[str]) -> str:
        body = run_tool(shlex.split(m.group("args")))
        return m.group("begin") + body.rstrip("\n") + "\n" + m.group("end")

    return SECTION.sub(fill, text)


def sections(text: str) -> list[str]:
    """The command lines of the generated sections, in order."""
    return [m.group("args") for m in SECTION.finditer(text)]


def main() -> int:
    current = TARGET.read_text(encoding="utf-8")
    fresh = render(current)
    if "--check" in sys.argv:
        if fresh != current:
            print("docs/shortcuts.md is stale: run python scripts/gen_shortcuts_docs.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(fresh, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)} ({len(sections(fresh))} generated sections)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
