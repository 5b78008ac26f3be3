"""``resnet-inspect diagram``: Graphviz diagrams of a network, one block, or one block's shortcuts."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import (
    InChannelsOpt,
    InputSizeOpt,
    NumClassesOpt,
    ShortcutOpt,
    SpecArg,
    StrideInOpt,
    guard_outputs,
    input_files,
    load_analysis,
)


class Level(str, enum.Enum):
    network = "network"
    block = "block"
    compare = "compare"


class DiagramFormat(str, enum.Enum):
    dot = "dot"
    svg = "svg"
    png = "png"
    pdf = "pdf"


DiagramOutputOpt = Annotated[
    Optional[Path],
    typer.Option("--output", "-o", dir_okay=False,
                 help="Write the diagram to FILE; its ending (.dot .gv .svg .png .pdf) picks the format. "
                      "Without it, DOT text goes to stdout."),
]
LevelOpt = Annotated[
    Level,
    typer.Option("--level", case_sensitive=False,
                 help="network: stem, stages, head (identical blocks collapsed); block: every layer of --block; "
                      "compare: --block with a parameter-free and a projection shortcut side by side."),
]
BlockOpt = Annotated[
    Optional[str],
    typer.Option("--block", "-b", help="The block for --level block/compare, by its torchvision name (layer3.0)."),
]
DiagramFormatOpt = Annotated[
    Optional[DiagramFormat],
    typer.Option("--format", "-f", case_sensitive=False,
                 help="Output format, when the file ending does not say (svg, png and pdf need Graphviz's dot)."),
]
ExpandOpt = Annotated[
    bool,
    typer.Option("--expand",
                 help="--level network: draw every block with its own shortcut instead of one node per run of "
                      "identical blocks (\"×N\"); ResNet-152 then has 50 block nodes and is far taller."),
]
DpiOpt = Annotated[
    Optional[int],
    typer.Option("--dpi", metavar="N",
                 help="Pixels per inch of a .png, 36 to 600 (default 96); svg and pdf are vector and take none."),
]


def diagram(
    spec: SpecArg,
    output: DiagramOutputOpt = None,
    level: LevelOpt = Level.network,
    block: BlockOpt = None,
    fmt: DiagramFormatOpt = None,
    expand: ExpandOpt = False,
    dpi: DpiOpt = None,
    shortcut: ShortcutOpt = None,
    stride_in: StrideInOpt = None,
    input_size: InputSizeOpt = None,
    num_classes: NumClassesOpt = None,
    in_channels: InChannelsOpt = None,
) -> None:
    """Draw a network, one block, or one block's shortcut options as a Graphviz diagram.

    Shapes, params and MACs on every node; shortcuts drawn as their own edges, coloured as in the
    summary table. A run of identical blocks is one node marked ×N whose shortcut is a loop labelled
    "×N ... one per block" (N shortcuts, each around one block); --expand draws every block. .dot
    needs nothing else; .svg/.png/.pdf need Graphviz's dot program. A module SPEC (FILE.py:CALLABLE)
    imports and runs your code to trace it.

    Examples:

      resnet-inspect diagram resnet152 -o resnet152.svg

      resnet-inspect diagram resnet152 -o resnet152.png --dpi 150

      resnet-inspect diagram resnet34 --expand -o resnet34_every_block.svg

      resnet-inspect diagram resnet50 --level block --block layer2.0 -o layer2.0.png

      resnet-inspect diagram resnet50 --level compare --block layer1.1 -o compare.pdf

      resnet-inspect diagram cifar_resnet20 --level block -b layer2.0 | dot -Tsvg > zero_pad.svg

      resnet-inspect diagram models/resnet.py:ResNet18 --input-size 32 -o mine.svg
    """
    guard_outputs(input_files(spec), output=output)
    from ..render import check_dpi, diagram_text, format_for, render_file

    chosen = format_for(output, fmt.value if fmt is not None else None)
    pixels = check_dpi(dpi, chosen)
    analysis = load_analysis(spec, shortcut, stride_in, input_size, num_classes, in_channels)
    text = diagram_text(analysis, level.value, block, expand=expand)
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    render_file(text, output, chosen, pixels)
    sys.stderr.write(f"wrote {output}\n")


def register(app: typer.Typer) -> None:
    app.command("diagram")(diagram)
