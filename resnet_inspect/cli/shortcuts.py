"""``resnet-inspect shortcuts``: what identity, zero-padding and projection shortcuts cost."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import (
    AllBlocksOpt,
    ExplainOpt,
    Format,
    FormatOpt,
    InChannelsOpt,
    InputSizeOpt,
    NumClassesOpt,
    OutputOpt,
    ShortcutOpt,
    SpecArg,
    StrideInOpt,
    emit,
    guard_outputs,
    input_files,
    load_analysis,
    screen,
)


class View(str, enum.Enum):
    network = "network"
    blocks = "blocks"
    all = "all"


class Metric(str, enum.Enum):
    params = "params"
    macs = "macs"


def shortcuts(
    spec: SpecArg,
    view: Annotated[View, typer.Option("--view", case_sensitive=False, help="The options side by side (network), every block's alternatives (blocks), or both.")] = View.all,
    plot: Annotated[Optional[Path], typer.Option("--plot", help="Also draw a per-block stacked bar chart to FILE (.svg or .png; needs matplotlib: pip install 'resnet-inspect[plot]').", dir_okay=False)] = None,
    all_blocks: AllBlocksOpt = None,
    metric: Annotated[Metric, typer.Option("--metric", case_sensitive=False, help="What the terminal's bars measure (the plot shows both).")] = Metric.macs,
    explain: ExplainOpt = False,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    shortcut: ShortcutOpt = None,
    stride_in: StrideInOpt = None,
    input_size: InputSizeOpt = None,
    num_classes: NumClassesOpt = None,
    in_channels: InChannelsOpt = None,
) -> None:
    """What the shortcuts cost: the network under none/A/B/C/D side by side (with He et al. 2015's
    errors where the paper measured that network), and for every block the main path against an
    identity, a zero-pad and a projection shortcut. For your own module (traced; this runs your
    code) the per-block view prices its own blocks, and the options view appears when it equals a spec.

    Examples:

      resnet-inspect shortcuts resnet34

      resnet-inspect shortcuts resnet50 --explain

      resnet-inspect shortcuts resnet50 --stride-in 1x1 --view network

      resnet-inspect shortcuts resnet50 --view blocks --plot r50_shortcuts.svg --metric macs

      resnet-inspect shortcuts cifar_resnet20 --format json -o r20_shortcuts.json

      resnet-inspect shortcuts models/resnet.py:ResNet18 --input-size 32 --view blocks
    """
    guard_outputs(input_files(spec), output=output, plot=plot)
    from ..errors import UsageError
    from ..report import plot as plot_report
    from ..report import shortcuts as report
    from ..report.output import write_atomic
    from ..shortcuts import study

    if plot is not None:
        plot_report.check_plot_path(plot)
    result = study(load_analysis(spec, shortcut, stride_in, input_size, num_classes, in_channels))
    if view is View.network and not result.has_options:
        raise UsageError(report.no_options_reason(result) + ": use --view blocks")
    picture = plot_report.render_plot(result, metric.value, plot.suffix.lower().lstrip(".")) if plot is not None else None
    terminal = fmt is Format.table
    collapse = None if all_blocks is None else not all_blocks
    where = screen(fmt, output)
    emit(
        fmt, output,
        data=lambda: report.to_json(result, view.value),
        docs=lambda: report.docs(result, view.value, metric.value, terminal=terminal, collapse=collapse, screen=where),
        explain=explain,
    )
    if plot is not None and picture is not None:
        write_atomic(plot, picture)
        sys.stderr.write(f"wrote {plot}\n")


def register(app: typer.Typer) -> None:
    app.command("shortcuts")(shortcuts)
