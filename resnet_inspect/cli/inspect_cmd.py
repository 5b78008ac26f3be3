"""``resnet-inspect inspect``: the architecture of a checkpoint (or a live model) recovered from its
parameter names and shapes, then summarised like any spec."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from .common import Format, FormatOpt, InputSizeOpt, OutputOpt, emit, handle_errors

if TYPE_CHECKING:
    from ..counts import Analysis
    from ..inspect_ckpt import Loaded
    from ..recover import Recovery
    from ..report.tables import TableDoc

TARGET_HELP = (
    "A checkpoint (.pt .pth .bin .ckpt, read with torch.load(weights_only=True); .safetensors, header "
    "only) or module:callable, which IMPORTS AND RUNS YOUR CODE to build the model."
)


@handle_errors
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

    Reads parameter names and shapes only (torchvision, timm resnet*/resnet*d/resnetv2_* and
    resnet-inspect names), prints the recovered spec with the evidence for each field, lists every
    tensor it could not map, then the same report as `summary`. Where bottlenecks stride, the input
    size and the name cannot be seen in weights (--stride-in, --input-size); neither can zero-pad vs
    no shortcut (--shortcut). Pickles that need code execution are refused.

    MODULE:CALLABLE imports MODULE and calls CALLABLE() with no arguments: this runs your code.

    Examples:

      resnet-inspect inspect resnet50-0676ba61.pth

      resnet-inspect inspect model.safetensors --stride-in 1x1 --emit-spec recovered.toml

      resnet-inspect inspect ckpt.pt --format json -o report.json

      resnet-inspect inspect mypkg.models:make_net --input-size 32
    """
    from ..counts import analyze
    from ..errors import CheckFailed, UsageError
    from ..inspect_ckpt import load
    from ..recover import recover
    from ..report import summary as report
    from ..specio import coerce_field

    if depth not in ("block", "stage"):
        raise UsageError(f"--depth {depth!r} is not allowed; use block or stage")
    option = coerce_field("shortcut", shortcut) if shortcut is not None else None
    loaded = load(target)
    rec = recover(loaded.shapes, stride_in=stride_in.strip(), input_size=input_size, shortcut=option,
                  name=loaded.label)
    analysis = analyze(rec.spec)
    if emit_spec is not None:
        _write_spec(rec, emit_spec)
    notes = [*loaded.notes, *rec.notes]

    def data() -> dict[str, Any]:
        return {
            "schema_version": 1,
            "source": loaded.source,
            "source_kind": loaded.kind,
            "recovered": rec.spec.to_dict(),
            "recovery": rec.to_dict(),
            "notes": notes,
            "unmapped": [u.to_dict() for u in rec.unmapped],
            "summary": report.to_json(analysis),
        }

    emit(fmt, output, data=data,
         docs=lambda: _docs(loaded, rec, notes, analysis, depth))
    if strict and not rec.exact:
        raise CheckFailed(
            f"{len(rec.unmapped)} tensor(s) unmapped and {len(rec.missing)} expected parameter(s) missing; "
            "the recovered spec does not account for the whole checkpoint"
        )


def _write_spec(rec: Recovery, path: Path) -> None:
    import sys

    from ..config import dump_spec, format_of
    from ..report.output import write_atomic

    suffix = path.suffix.lower()
    text = dump_spec(rec.spec, format_of(path))
    header = "".join(f"# {line}\n" for line in _spec_header(rec)) if suffix in (".toml", ".yaml", ".yml") else ""
    write_atomic(path, header + text)
    sys.stderr.write(f"wrote {path}\n")


def _spec_header(rec: Recovery) -> list[str]:
    return [
        f"Recovered by resnet-inspect inspect from {rec.spec.name} ({rec.layout} names).",
        "Not visible in weights, so set by the command line or defaults: stride_in, input_size, name"
        + ("" if rec.exact else "; the recovery was not exact (see the inspect report)") + ".",
    ]


def _docs(loaded: Loaded, rec: Recovery, notes: list[str], analysis: Analysis, depth: str) -> list[TableDoc]:
    from ..report import summary as report
    from ..report.tables import Column, Row, TableDoc, cell
    from ..units import human

    spec = rec.spec.to_dict()
    evidence = dict(rec.evidence)
    unseen = {"stride_in": "not visible in weights: --stride-in (default 3x3, torchvision)",
              "input_size": "not visible in weights: --input-size",
              "name": "not visible in weights: the file name"}
    rows = []
    for key, val in spec.items():
        shown = "-".join(map(str, val)) if isinstance(val, list) else str(val)
        why = unseen.get(key) or evidence.get(key, "default (no evidence either way)")
        rows.append(Row((cell(key), cell(shown, val), cell(why)), kind="field"))
    match = "exact: every tensor maps onto the spec" if rec.exact else (
        f"not exact: {len(rec.unmapped)} unmapped, {len(rec.missing)} missing"
    )
    counts = (
        f"{loaded.source}: {rec.tensors} tensors, {human(rec.checkpoint_params)} parameters "
        f"({rec.checkpoint_params:,}); the recovered spec has {human(analysis.total.params)} "
        f"({analysis.total.params:,}); {match}."
    )
    docs = [TableDoc(f"recovered architecture ({rec.layout} names)",
                     (Column("field", "field"), Column("value", "value"), Column("from", "evidence")),
                     tuple(rows), (counts, *notes))]

    sc_rows = tuple(
        Row((cell(b.name), cell(b.label, b.seen)), kind="shortcut")
        for b in rec.shortcuts if b.seen != "no weights" or b.shapes_change
    )
    if sc_rows:
        docs.append(TableDoc("shortcut weights",
                             (Column("block", "block"), Column("seen in weights", "seen")), sc_rows))
    if rec.unmapped or rec.missing:
        bad = [Row((cell(u.key), cell("x".join(map(str, u.shape)) or "scalar", list(u.shape)), cell(u.reason)),
                   kind="unmapped") for u in rec.unmapped]
        bad += [Row((cell(k), cell(""), cell("expected by the recovered spec, missing from the checkpoint")),
                    kind="missing") for k in rec.missing]
        docs.append(TableDoc("tensors not accounted for",
                             (Column("key", "key"), Column("shape", "shape"), Column("reason", "reason")),
                             tuple(bad)))
    docs.append(report.summary_table(analysis, "stage" if depth == "stage" else "block"))
    return docs


def register(app: typer.Typer) -> None:
    app.command("inspect")(inspect)
