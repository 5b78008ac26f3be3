"""``resnet-inspect inspect``: the architecture of a checkpoint (or a live model) recovered from the
structure of its weights, then summarised like any spec.

The checkpoint's own parameter count is the headline; where the recovered spec has another count,
the difference (per block, with the tensors behind it) comes right after it, before the spec's
summary, so no report ever shows the spec's total as if it were the checkpoint's."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from .common import Format, FormatOpt, InputSizeOpt, OutputOpt, emit, guard_outputs, input_files, screen
from .progress import progress

if TYPE_CHECKING:
    from ..counts import Analysis
    from ..recover import Recovery

TARGET_HELP = (
    "A checkpoint, its format read from its content whatever its name (.pt .pth .th .tar .bin .ckpt: "
    "torch.load(weights_only=True); safetensors: header only), or module:callable, which IMPORTS AND "
    "RUNS YOUR CODE to build the model."
)


def inspect(
    target: Annotated[str, typer.Argument(metavar="PATH|MODULE:CALLABLE", help=TARGET_HELP, show_default=False)],
    stride_in: Annotated[
        str, typer.Option("--stride-in", help="Where bottlenecks downsample (not visible in weights): 3x3 (torchvision) or 1x1 (paper).")
    ] = "3x3",
    shortcut: Annotated[
        Optional[str],
        typer.Option("--shortcut", help="Settle what weights cannot show: A (zero-pad), none (plain net), D (timm resnetv2_*d), B, C."),
    ] = None,
    input_size: InputSizeOpt = None,
    emit_spec: Annotated[
        Optional[Path],
        typer.Option("--emit-spec", help="Also write the recovered spec as a config file (.toml, .yaml or .json).", dir_okay=False),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 unless every tensor maps onto the recovered spec and none is missing.")
    ] = False,
    depth: Annotated[str, typer.Option("--depth", help="Summary rows per block or per stage: block | stage.")] = "block",
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
) -> None:
    """Recover the architecture of a checkpoint or a live model from its weights, then summarise it.

    Reads tensor shapes only, whatever the tensors are named: units are found by the shape chain of
    their convs, projections beside them, the classifier as the last 2-D weight. Prints the
    checkpoint's true parameter count and, where the recovered spec differs from it, the difference
    per block; then the spec with the evidence for each field, every tensor it could not map, and the
    same report as `summary`. Where bottlenecks stride, the input size and the name cannot be seen in
    weights (--stride-in, --input-size); neither can zero-pad vs no shortcut (--shortcut). Pickles
    that need code execution are refused.

    FILE.py:CALLABLE or MODULE:CALLABLE (a live model) is traced instead, as summary traces it: this
    imports and runs your code, then runs one forward pass on the meta device (--input-size). Its
    report says which spec it equals, if any; --emit-spec writes that spec, --strict exits 1 without one.

    Examples:

      resnet-inspect inspect resnet50-0676ba61.pth

      resnet-inspect inspect resnet20-12fca82f.th --shortcut A

      resnet-inspect inspect model.safetensors --stride-in 1x1 --emit-spec recovered.toml

      resnet-inspect inspect ckpt.pt --format json -o report.json

      resnet-inspect inspect mypkg.models:make_net --input-size 32
    """
    guard_outputs(input_files(target, files=(Path(target),)), output=output, emit_spec=emit_spec)
    from ..sources import is_module_spec

    if is_module_spec(target) and not os.path.exists(target):  # os.path: False, not OSError, for a 300-char name
        _inspect_module(target, input_size, shortcut, emit_spec, strict, depth, fmt, output)
        return
    _inspect_checkpoint(target, stride_in, shortcut, input_size, emit_spec, strict, depth, fmt, output)


def _inspect_checkpoint(target: str, stride_in: str, shortcut: str | None, input_size: int | None,
                        emit_spec: Path | None, strict: bool, depth: str, fmt: Format, output: Path | None) -> None:
    """A checkpoint: the spec recovered from the shapes of its weights, reported beside its own count."""
    from ..counts import analyze
    from ..errors import CheckFailed
    from ..inspect_ckpt import load
    from ..recover import recover
    from ..report import inspect as report

    option = _check_flags(stride_in, shortcut, input_size, depth)
    with progress(f"reading {target}…"):  # torch.load of a large checkpoint: torch's import, then the file
        loaded = load(target)
    rec = recover(loaded.shapes, stride_in=stride_in.strip(), input_size=input_size, shortcut=option,
                  name=loaded.label, labels=_flag_labels(stride_in, shortcut, input_size))
    analysis = analyze(rec.spec)
    if emit_spec is not None:
        _write_spec(rec, emit_spec)
    notes = [*loaded.notes, *rec.notes]
    emit(fmt, output, data=lambda: report.to_json(loaded, rec, analysis, notes),
         docs=lambda: report.docs(loaded, rec, notes, analysis, depth, screen(fmt, output)))
    if strict and not rec.exact:
        raise CheckFailed(
            f"{len(rec.unmapped)} tensor(s) unmapped and {len(rec.missing)} expected parameter(s) missing; "
            "the recovered spec does not account for the whole checkpoint"
        )


def _check_flags(stride_in: str, shortcut: str | None, input_size: int | None, depth: str) -> str | None:
    """The ``--shortcut`` option as the spec spells it, after every flag is checked: a bad value is
    the user's to fix, so it is named as typed, before the checkpoint is even read."""
    from ..errors import UsageError
    from ..naming import printable
    from ..spec import MAX_INPUT_SIZE, SHORTCUTS, STRIDE_IN
    from ..specio import coerce_field

    if stride_in.strip() not in STRIDE_IN:
        raise UsageError(f"--stride-in {printable(stride_in, 40)} is not allowed; use 3x3 (torchvision: the 3x3 conv "
                         "strides) or 1x1 (the paper: the first 1x1 conv strides)")
    option = coerce_field("shortcut", shortcut) if shortcut is not None else None
    if option is not None and option not in SHORTCUTS:
        raise UsageError(f"--shortcut {printable(shortcut, 40)} is not allowed; use A (zero-pad), B, C, D or none")
    if input_size is not None and not 1 <= input_size <= MAX_INPUT_SIZE:
        raise UsageError(f"--input-size {input_size} is not allowed; give the input's height and width in pixels, "
                         f"1 to {MAX_INPUT_SIZE:,}")
    if depth not in ("block", "stage"):
        raise UsageError(f"--depth {printable(depth, 40)} is not allowed; use block or stage")
    return str(option) if option is not None else None


def _flag_labels(stride_in: str, shortcut: str | None, input_size: int | None) -> dict[str, str]:
    """How the user spelled each value ``recover`` takes from the command line, for its errors."""
    from ..naming import printable

    given = {"stride_in": ("--stride-in", stride_in), "shortcut": ("--shortcut", shortcut),
             "input_size": ("--input-size", input_size)}
    return {k: f"{flag} {printable(v, 40)}" for k, (flag, v) in given.items() if v is not None}


def _inspect_module(target: str, input_size: int | None, shortcut: str | None, emit_spec: Path | None, strict: bool,
                    depth: str, fmt: Format, output: Path | None) -> None:
    """A live model: traced (its structure is what its ops do), reported like ``summary``."""
    import sys

    from ..config import dump_spec, format_of
    from ..errors import CheckFailed, UsageError
    from ..naming import printable
    from ..report import inspect as report
    from ..report.output import write_atomic, wrote
    from .common import load_analysis

    if shortcut is not None:
        raise UsageError("--shortcut settles what a checkpoint's weights cannot show; a live module is traced, so drop it")
    if depth not in ("block", "stage"):
        raise UsageError(f"--depth {printable(depth, 40)} is not allowed; use block or stage")
    analysis = load_analysis(target, input_size=input_size)
    matched = analysis.plan.spec
    if emit_spec is not None:
        if matched is None:
            raise UsageError(f"--emit-spec: no spec describes {printable(target)} exactly ({_why(analysis)}); nothing written")
        write_atomic(emit_spec, dump_spec(matched, format_of(emit_spec)), option="--emit-spec")
        sys.stderr.write(wrote(emit_spec))
    emit(fmt, output, data=lambda: report.module_json(target, analysis),
         docs=lambda: report.module_docs(analysis, depth, screen(fmt, output)))
    if strict and matched is None:
        raise CheckFailed(f"no spec describes {printable(target)} exactly: {_why(analysis)}")


def _why(analysis: Analysis) -> str:
    note = next((n for n in analysis.plan.notes if n.startswith("no spec describes it exactly")), "")
    return note.removeprefix("no spec describes it exactly: ").rstrip(".") or "no spec matches"


def _write_spec(rec: Recovery, path: Path) -> None:
    import sys

    from ..config import dump_spec, format_of
    from ..report.inspect import spec_header
    from ..report.output import write_atomic, wrote

    suffix = path.suffix.lower()
    text = dump_spec(rec.spec, format_of(path))
    header = "".join(f"# {line}\n" for line in spec_header(rec)) if suffix in (".toml", ".yaml", ".yml") else ""
    write_atomic(path, header + text, option="--emit-spec")
    sys.stderr.write(wrote(path))


def register(app: typer.Typer) -> None:
    app.command("inspect")(inspect)
