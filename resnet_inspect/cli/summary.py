"""``resnet-inspect summary`` and ``resnet-inspect presets``."""

from __future__ import annotations

import enum
from typing import Annotated, Any

import typer

from .common import (
    AllBlocksOpt,
    ConventionOpt,
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
    recount,
    screen,
)


class Depth(str, enum.Enum):
    block = "block"
    stage = "stage"


def summary(
    spec: SpecArg,
    depth: Annotated[Depth, typer.Option("--depth", case_sensitive=False, help="Rows per block, or one row per stage.")] = Depth.block,
    all_blocks: AllBlocksOpt = None,
    explain: ExplainOpt = False,
    convention: ConventionOpt = None,
    verify: Annotated[bool, typer.Option("--verify", help="Build the torch module and check every count against it and fvcore first (needs torch).")] = False,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    shortcut: ShortcutOpt = None,
    stride_in: StrideInOpt = None,
    input_size: InputSizeOpt = None,
    num_classes: NumClassesOpt = None,
    in_channels: InChannelsOpt = None,
) -> None:
    """Per-block parameters, MACs and shortcut types of a network: a preset or config (computed without
    torch), or your own module (traced once on the meta device; this imports and runs your code).

    Examples:

      resnet-inspect summary resnet50

      resnet-inspect summary resnet34:shortcut=A --depth stage

      resnet-inspect summary resnet152 --all-blocks --explain

      resnet-inspect summary resnet50 --convention fvcore

      resnet-inspect summary resnet50 --stride-in 1x1 --format json -o r50.json

      resnet-inspect summary models/resnet.py:ResNet18 --input-size 32

      resnet-inspect summary "models/resnet.py:ResNet(depth=20, num_classes=10)" --input-size 32
    """
    guard_outputs(input_files(spec), output=output)
    from ..report import summary as report

    analysis = recount(load_analysis(spec, shortcut, stride_in, input_size, num_classes, in_channels), convention)
    if verify:
        _verify_first(spec, analysis, input_size, in_channels)
    where = screen(fmt, output)
    emit(
        fmt, output,
        data=lambda: report.to_json(analysis, convention=convention),
        docs=lambda: [report.summary_table(analysis, depth.value, None if all_blocks is None else not all_blocks, where,
                                           convention=convention)],
        explain=explain,
    )


def _verify_first(text: str, analysis: Any, input_size: int | None, in_channels: int | None) -> None:
    """``summary --verify``: the same check as ``verify``, run before the summary is printed."""
    import importlib

    from .progress import progress

    with progress(f"verify {analysis.name}") as shown:
        shown.load("torch", "fvcore.nn")
        try:
            verify_mod = importlib.import_module("resnet_inspect.nn.verify")
        except ModuleNotFoundError as exc:
            from ..errors import MissingDependency

            raise MissingDependency(
                f"--verify needs torch and fvcore ({exc.name} is missing); install resnet-inspect with its dependencies"
            ) from None
        shown.update(f"building {analysis.name} and checking its {len(analysis.blocks)} blocks against fvcore…")
        if analysis.plan.source == "module":
            verify_mod.verify_module_or_raise(text, analysis)
        else:
            verify_mod.verify_or_raise(analysis.spec)


def presets(
    family: Annotated[str | None, typer.Option("--family", help="Only this family (torchvision, paper, cifar, preact, wide, timm).")] = None,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
) -> None:
    """List the named networks with their parameters and MACs.

    Examples:

      resnet-inspect presets

      resnet-inspect presets --family cifar --format markdown
    """
    guard_outputs([], output=output)
    from ..counts import analyze
    from ..errors import UsageError
    from ..presets import PRESETS
    from ..report import presets as report

    chosen = [p for p in PRESETS.values() if family is None or p.family == family]
    if not chosen:
        families = sorted({p.family for p in PRESETS.values()})
        raise UsageError(f"no preset family {family!r}; use one of {', '.join(families)}")
    results = [(p, analyze(p.spec)) for p in chosen]
    emit(fmt, output, data=lambda: report.to_json(results), docs=lambda: report.docs(results))


def register(app: typer.Typer) -> None:
    app.command("summary")(summary)
    app.command("presets")(presets)
