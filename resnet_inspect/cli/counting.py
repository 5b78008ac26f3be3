"""``resnet-inspect counting``: why every counter gives this network a different number."""

from __future__ import annotations

from typing import Any

import typer

from .common import (
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
)


def counting(
    spec: SpecArg,
    explain: ExplainOpt = False,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    shortcut: ShortcutOpt = None,
    stride_in: StrideInOpt = None,
    input_size: InputSizeOpt = None,
    num_classes: NumClassesOpt = None,
    in_channels: InChannelsOpt = None,
) -> None:
    """The number each counter prints for this network's module (torchvision's metadata, fvcore,
    ptflops with either backend, thop, torchinfo, torch's FlopCounterMode), each reproduced from the
    shapes without torch, with its breakdown by op and how it differs from ours; and what the
    paper's stride placement changes.

    Examples:

      resnet-inspect counting resnet50

      resnet-inspect counting resnet50 --explain

      resnet-inspect counting resnet152 --format json

      resnet-inspect counting models/resnet.py:ResNet18 --input-size 32
    """
    guard_outputs(input_files(spec), output=output)
    from ..conventions import all_conventions
    from ..report import counting as report

    analysis = load_analysis(spec, shortcut, stride_in, input_size, num_classes, in_channels)
    result = report.CountingReport(analysis, all_conventions(analysis), _paper(analysis))
    emit(fmt, output, data=lambda: report.to_json(result), docs=lambda: [report.table(result)], explain=explain)


def _paper(analysis: Any) -> Any:
    """The paper's stride placement against torchvision's, for a bottleneck spec."""
    from dataclasses import replace

    from ..counts import analyze
    from ..report.counting import PaperPlacement

    spec = analysis.plan.spec
    if spec is None or spec.block != "bottleneck":
        return None
    other = analyze(replace(spec, stride_in="3x3" if spec.stride_in == "1x1" else "1x1")).total.macs
    given = analysis.total.macs
    v1, v15 = (given, other) if spec.stride_in == "1x1" else (other, given)
    return PaperPlacement(spec.stride_in, v1, v15)


def register(app: typer.Typer) -> None:
    app.command("counting")(counting)
