"""The ``inspect`` report: what a checkpoint holds against the spec recovered from it, and the
report of a live model traced instead.

Formatting only, so that ``cli.inspect_cmd`` parses, runs and prints: the checkpoint comes from
``inspect_ckpt``, the recovered spec, its evidence and the tensors it cannot place from
``recover``, the counts from ``counts``. The checkpoint's own parameter count is the headline and
the difference from the spec follows it, before the spec's summary (``report.summary``), so no
report shows the spec's total as if it were the checkpoint's.

JSON (docs/inspect.md, ``schema_version`` 1): ``to_json`` for a checkpoint, ``module_json`` for a
live model; both carry the spec's summary document under ``summary``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..naming import printable
from ..units import human, percent
from . import summary as report
from .tables import Cell, Column, Row, TableDoc, cell

if TYPE_CHECKING:
    from ..counts import Analysis
    from ..inspect_ckpt import Loaded
    from ..recover import Recovery
    from .layout import Screen


def to_json(loaded: Loaded, rec: Recovery, analysis: Analysis, notes: list[str]) -> dict[str, Any]:
    """The checkpoint's document: its count, the recovered spec, the difference and the summary."""
    return {
        "schema_version": 1,
        "source": loaded.source,
        "source_kind": loaded.kind,
        "format": loaded.format,
        "headline": headline(loaded, rec, analysis.total.params),
        "params": rec.checkpoint_params,
        "spec_params": analysis.total.params,
        "difference": {"params": rec.checkpoint_params - analysis.total.params, "exact": rec.exact,
                       "blocks": [d.to_dict() for d in rec.differences]},
        "recovered": rec.spec.to_dict(),
        "recovery": rec.to_dict(),
        "notes": notes,
        "unmapped": [u.to_dict() for u in rec.unmapped],
        "summary": report.to_json(analysis),
    }


def module_json(target: str, analysis: Analysis) -> dict[str, Any]:
    """A live model's document: the spec it equals (or null) and its traced summary."""
    matched = analysis.plan.spec
    return {"schema_version": 1, "source": target, "source_kind": "module",
            "recovered": matched.to_dict() if matched is not None else None,
            "notes": list(analysis.plan.notes), "summary": report.to_json(analysis)}


def module_docs(analysis: Analysis, depth: str, where: Screen | None = None) -> list[TableDoc]:
    """A live model's tables: its summary, as ``summary`` shows it."""
    return [report.summary_table(analysis, "stage" if depth == "stage" else "block", screen=where)]


def spec_header(rec: Recovery) -> list[str]:
    """The comment lines above a spec written by ``--emit-spec``: where it came from and how close it is."""
    counts = (f"The checkpoint has {rec.checkpoint_params:,} parameters, this spec {rec.spec_params:,}"
              + (" (exact)." if rec.exact else f" ({rec.difference:+,} not expressed; see the inspect report)."))
    return [
        f"Recovered by resnet-inspect inspect from {printable(rec.spec.name)} ({rec.layout} names).",
        counts,
        "Not visible in weights, so set by the command line or defaults: stride_in, input_size, name.",
    ]


def headline(loaded: Loaded, rec: Recovery, spec_params: int) -> str:
    """One sentence: the checkpoint's true parameter count, and how far the recovered spec is from it."""
    n = rec.checkpoint_params
    start = f"{printable(loaded.source)}: {n:,} parameters ({human(n)})"
    if rec.exact and n == spec_params:
        return f"{start}, exactly those of the recovered spec"
    diff = n - spec_params
    blocks = [d.block for d in rec.differences if d.params]
    where = f" in {len(blocks)} block(s): {', '.join(blocks[:4])}{' ...' if len(blocks) > 4 else ''}" if blocks else ""
    if diff == 0:
        return (f"{start}, as many as the recovered spec, but {len(rec.unmapped) + len(rec.missing)} tensor(s) "
                "differ (listed below)")
    fewer = "fewer" if diff > 0 else "more"
    return (f"{start}; the recovered spec has {spec_params:,}, {abs(diff):,} ({percent(abs(diff), n)}) {fewer}, "
            f"from what it cannot express{where}")


def _difference_doc(loaded: Loaded, rec: Recovery, analysis: Analysis) -> TableDoc:
    """The headline table: checkpoint count, spec count, and the difference block by block."""
    from ..inspect_ckpt import FORMATS

    spec_params = analysis.total.params
    diff = rec.checkpoint_params - spec_params

    def num(v: int, signed: bool = False) -> Cell:
        return cell(f"{v:+,}" if signed and v else f"{v:,}", v)

    rows = [
        Row((cell("checkpoint"), num(rec.checkpoint_params),
             cell(f"{rec.tensors} tensors in a {FORMATS.get(loaded.format, loaded.kind)}; every tensor but BatchNorm "
                  "statistics counted")),
            kind="checkpoint"),
        Row((cell("recovered spec"), num(spec_params), cell("the spec's analytic count (the summary below)")), kind="spec"),
        Row((cell("difference"), num(diff, True),
             cell("none: every tensor maps onto the spec" if rec.exact else
                  "what the spec does not express, by block:" if rec.differences else "")),
            kind="difference", style="bold" if diff else ""),
    ]
    rows += [Row((cell(f"  {d.block}", d.block), num(d.params, True), cell(printable(d.why, 400))), kind="difference_block")
             for d in rec.differences]
    return TableDoc(printable(headline(loaded, rec, spec_params), 400),
                    (Column("", "what"), Column("parameters", "params", "right"), Column("detail", "detail", wrap=True)),
                    tuple(rows))


def docs(loaded: Loaded, rec: Recovery, notes: list[str], analysis: Analysis, depth: str,
         where: Screen | None = None) -> list[TableDoc]:
    """The checkpoint's tables: the difference, the recovered fields with their evidence, the
    shortcut weights and unplaced tensors, then the spec's summary (titled as the spec's, not the checkpoint's)."""
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
    tables = [_difference_doc(loaded, rec, analysis),
              TableDoc(f"recovered architecture ({rec.layout} names)",
                       (Column("field", "field"), Column("value", "value"), Column("from", "evidence", wrap=True)),
                       tuple(rows), tuple(printable(n, 480) for n in (match + ".", *notes)))]
    tables += _tensor_docs(rec)
    summary = report.summary_table(analysis, "stage" if depth == "stage" else "block", screen=where)
    prefix = "summary of the recovered spec" + (
        "" if rec.exact else f" (not the checkpoint: {analysis.total.params - rec.checkpoint_params:+,} parameters)")
    tables.append(replace(summary, title=f"{prefix}: {summary.title}"))
    return tables


def _tensor_docs(rec: Recovery) -> list[TableDoc]:
    """The shortcut weights found where shapes change, and every tensor the spec does not account for."""
    from ..recover import block_of

    sources = dict(rec.sources)
    tables = []
    sc_rows = tuple(
        Row((cell(b.name), cell(b.label, b.seen), cell(sources.get(b.name, ""))), kind="shortcut")
        for b in rec.shortcuts if b.seen != "no weights" or b.shapes_change
    )
    if sc_rows:
        tables.append(TableDoc("shortcut weights",
                               (Column("block", "block"), Column("seen in weights", "seen"),
                                Column("in the checkpoint", "source", wrap=True)), sc_rows))
    if rec.unmapped or rec.missing:
        bad = [Row((cell(printable(u.key)), cell("x".join(map(str, u.shape)) or "scalar", list(u.shape)),
                    cell(u.block), cell(u.reason)), kind="unmapped") for u in rec.unmapped]
        bad += [Row((cell(k), cell(""), cell(block_of(k)),
                     cell("expected by the recovered spec, missing from the checkpoint")), kind="missing")
                for k in rec.missing]
        tables.append(TableDoc("tensors not accounted for",
                               (Column("key", "key"), Column("shape", "shape"), Column("block", "block"),
                                Column("reason", "reason", wrap=True)), tuple(bad)))
    return tables
