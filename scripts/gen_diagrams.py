"""Regenerate the pictures of the docs (docs/img/*.svg): the diagrams drawn by `resnet-inspect
diagram` and the bar charts drawn by `resnet-inspect shortcuts --plot`.

Run `python scripts/gen_diagrams.py` after changing the diagrams or the plot (the diagrams need
Graphviz's `dot`, the plots matplotlib; `--plots` redraws the plots alone); each line below is the
command a reader can run to get the same picture. The DOT text is deterministic; the diagram SVG
also depends on the Graphviz version and fonts of the machine, so those files are not checked byte
for byte in tests (tests/test_diagram.py pins the DOT text with golden files instead). The plot SVG
is deterministic for a given matplotlib version (fixed svg.hashsalt, no date), and
tests/test_docs_site.py redraws it and compares. Every `img/...` a docs page shows must come from
an entry here (tests/test_docs_site.py checks that too).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMG = ROOT / "docs" / "img"

#: (file under docs/img, the `resnet-inspect diagram` arguments that draw it)
EXAMPLES: tuple[tuple[str, str], ...] = (
    ("resnet18_network.svg", "resnet18"),
    ("resnet152_network.svg", "resnet152"),
    ("resnet50_layer2.0_block.svg", "resnet50 --level block --block layer2.0"),
    ("cifar_resnet20_layer2.0_block.svg", "cifar_resnet20 --level block --block layer2.0"),
    ("preact_resnet50_layer2.0_block.svg", "preact_resnet50 --level block --block layer2.0"),
    ("resnet50d_layer2.0_block.svg", "resnet50d --level block --block layer2.0"),
    ("resnet50_layer1.1_compare.svg", "resnet50 --level compare --block layer1.1"),
    ("preact_resnet18_layer2.0_block.svg", "preact_resnet18 --level block --block layer2.0"),
    ("resnext50_32x4d_layer2.0_block.svg", "resnext50_32x4d --level block --block layer2.0"),
    ("single_layer1.1_block.svg", "cifar_resnet20:block=single,layers=6-6-6 --level block --block layer1.1"),
    ("wrn28_10_network.svg", "wrn28_10"),
    ("tutorial_resnet_layer2.0_block.svg", "docs/examples/tutorial_resnet.py:ResNet --input-size 32 --level block --block layer2.0"),
    ("se_resnet_layer2.0_block.svg", "tests/usernets/se_bottleneck.py:se_resnet_small --input-size 64 --level block --block layer2.0"),
)

#: (file under docs/img, the `resnet-inspect shortcuts` arguments that plot it); the metric is given
#: explicitly so the picture does not change with the command's default.
PLOTS: tuple[tuple[str, str], ...] = (
    ("resnet50_shortcuts_macs.svg", "resnet50 --view blocks --metric macs"),
)


def draw_plot(args: str, target: Path) -> int:
    """`resnet-inspect shortcuts ARGS --plot TARGET`, its report sent to a scratch file."""
    import tempfile

    from resnet_inspect.cli import app

    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.json"
        code = app(["shortcuts", *shlex.split(args), "--plot", str(target), "--format", "json", "-o", str(report)],
                   standalone_mode=False)
    return int(code or 0)


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    from resnet_inspect.cli import app

    IMG.mkdir(parents=True, exist_ok=True)
    for filename, args in PLOTS:
        target = IMG / filename
        code = draw_plot(args, target)
        if code:
            return code
        print(f"{target.relative_to(ROOT)}  ({target.stat().st_size // 1024} KB)  <- resnet-inspect shortcuts {args} --plot FILE")
    if "--plots" in argv:
        return 0
    for filename, args in EXAMPLES:
        target = IMG / filename
        # Not standalone: click returns the exit code instead of leaving the interpreter.
        code = app(["diagram", *shlex.split(args), "-o", str(target)], standalone_mode=False)
        if code:
            return int(code)
        print(f"{target.relative_to(ROOT)}  ({target.stat().st_size // 1024} KB)  <- resnet-inspect diagram {args}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
