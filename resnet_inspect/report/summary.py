"""The ``summary`` report: the table of stem, blocks (or runs of alike blocks, or stages) and head
with their counts, the notes under it, and the stable JSON document (../shared/design.md); and what
the other reports share with it (``shape_text``, ``spec_json``, ``source_json``, ``run_label``,
``should_collapse``, ``shortcut_label``, ``convention_notes``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

from ..counts import Analysis, BlockCount, BlockRun, StageCount, Tally, extra_tally
from ..plan import Block, BlockKey, Shape
from ..receptive import BlockField, ReceptiveFields
from ..traffic import BlockTraffic, NetworkTraffic, network_traffic
from ..units import human, percent
from .layout import Screen
from .style import CONVENTION, EXTRA_LABELS, SHORTCUT_LABELS, shortcut_markup
from .tables import Cell, Column, Row, TableDoc, cell, num_cell, share_cell

SCHEMA_VERSION = 1
Depth = Literal["block", "stage"]


def shape_text(shape: Shape) -> str:
    return "x".join(str(v) for v in shape)


def _tally_json(t: Tally) -> dict[str, int]:
    return {"params": t.params, "macs": t.macs}


def spec_json(a: Analysis) -> dict[str, Any]:
    """The ``spec`` object of a JSON report: every field of the spec the network equals (named as
    the user named the network), or, for a module or checkpoint no spec describes, what is known
    of its input and output."""
    plan = a.plan
    if plan.spec is not None:
        return {**plan.spec.to_dict(), "name": plan.name}
    c, h, w = plan.input_shape
    size: int | list[int] = h if h == w else [h, w]
    return {"name": plan.name, "input_size": size, "in_channels": c, "num_classes": plan.num_classes}


def source_json(a: Analysis) -> dict[str, Any]:
    """Where the plan came from, and the spec it matches when it is not a spec itself."""
    plan = a.plan
    doc: dict[str, Any] = {"kind": plan.source, "text": plan.name}
    if plan.source != "spec":
        doc["matches"] = plan.spec.name if plan.spec is not None else None
    if plan.notes:
        doc["notes"] = list(plan.notes)
    return doc


def _block_json(b: BlockCount, rf: BlockField, tr: BlockTraffic) -> dict[str, Any]:
    blk = b.block
    t = b.total
    doc: dict[str, Any] = {
        "name": blk.name, "stage": blk.stage, "index": blk.index, "kind": blk.kind,
        "preact": blk.preact,
        "in_shape": list(blk.in_shape), "out_shape": list(blk.out_shape), "stride": blk.stride,
        "shortcut": blk.shortcut,
        "params": {"main": b.main.params, "shortcut": b.shortcut.params, "total": t.params},
        "macs": {"main": b.main.macs, "shortcut": b.shortcut.macs, "total": t.macs},
        "activations": t.activations,
        "receptive_field": rf.receptive_field, "effective_stride": rf.effective_stride, "paths_centred": rf.centred,
        "bytes": tr.bytes, "arithmetic_intensity": tr.arithmetic_intensity,
    }
    kernel = blk.projection_kernel()
    if kernel is not None:
        doc["shortcut_kernel"] = kernel
    if blk.shortcut == "other":
        doc["shortcut_ops"] = shortcut_ops(blk)
    if blk.extras:
        doc["extras"] = [{"name": e.label, "kind": e.kind} for e in blk.extras]
    return doc


def shortcut_ops(blk: Block) -> list[str]:
    """What an ``other`` shortcut does, op by op (``3x3 conv``, ``batch_norm``, ``relu``)."""
    out = []
    for ly in blk.shortcut_template:
        if ly.op == "conv":
            out.append(f"{ly.kernel_text}{'/' + str(ly.stride) if ly.stride != 1 else ''} conv")
        else:
            out.append(ly.detail or ly.op)
    return out


def to_json(a: Analysis, traffic: NetworkTraffic | None = None, convention: str | None = None) -> dict[str, Any]:
    """The ``summary --format json`` document. Keys fixed by ../shared/design.md; ``stages``,
    ``source`` and the per-block ``activations`` are additions. ``bytes`` (moved at fp32, batch 1:
    inputs and weights read, outputs written) and ``arithmetic_intensity`` (FLOPs per byte) come
    from ``traffic`` (``resnet_inspect.traffic``)."""
    fields = a.receptive_fields()
    traffic = traffic or network_traffic(a)
    blocks = [_block_json(b, rf, tr) for b, rf, tr in zip(a.blocks, fields.blocks, traffic.blocks)]
    stages = []
    for s in a.stages:
        stages.append({
            "stage": s.stage, "blocks": len(s.blocks),
            "out_shape": list(s.blocks[-1].block.out_shape),
            "params": {"main": s.main.params, "shortcut": s.shortcut.params, "total": s.total.params},
            "macs": {"main": s.main.macs, "shortcut": s.shortcut.macs, "total": s.total.macs},
            "shortcuts": dict(s.shortcut_kinds),
        })
    return {
        "schema_version": SCHEMA_VERSION,
        "spec": spec_json(a),
        "source": source_json(a),
        "convention": convention or "ours",
        "totals": {
            "params": a.total.params, "macs": a.total.macs, "flops": a.total.flops,
            "activations": a.total.activations, "macs_by_op": a.total.macs_by_op(),
            "batch_norm_params": a.batch_norm_params,
            "blocks": len(a.blocks), "depth": a.plan.depth, "shortcuts": a.shortcut_kinds(),
            "receptive_field": fields.total, "effective_stride": fields.total_stride,
            "receptive_field_covers_input_at": fields.covers,
            "bytes": traffic.total.bytes, "arithmetic_intensity": traffic.total.arithmetic_intensity,
        },
        "stem": {**_tally_json(a.stem), "out_shape": list(a.plan.stem_out)},
        "blocks": blocks,
        "stages": stages,
        "head": _tally_json(a.head),
    }


def _columns(depth: Depth) -> tuple[Column, ...]:
    """The summary's columns; on a narrow terminal the shapes compact to the output shape first,
    then the share, receptive field, stride and kind columns go, and last the shapes
    (``report.layout``)."""
    return (
        Column("block" if depth == "block" else "stage", "name"),
        Column("kind", "kind", drop=6),
        Column("in → out", "shape", compact=2, drop=7, short_header="out"),
        Column("stride", "stride", "right", drop=5),
        Column("receptive field", "receptive_field", "right", drop=4),
        Column("shortcut", "shortcut", wrap=depth == "stage"),
        Column("main params", "params_main", "right"),
        Column("shortcut params", "params_shortcut", "right"),
        Column("total MACs", "macs", "right"),
        Column("shortcut MACs", "macs_shortcut", "right"),
        Column("% of all MACs", "macs_share", "right", drop=3),
    )


def shortcut_label(blk: Block) -> str:
    """The shortcut's label, with the kernel of a projection that is not 1x1 (``projection 3x3``)."""
    label = SHORTCUT_LABELS[blk.shortcut]
    kernel = blk.projection_kernel()
    return f"{label} {kernel}" if kernel not in (None, "1x1") else label


def _shortcut_cell(blk: Block) -> Cell:
    text = shortcut_label(blk)
    return Cell(text, blk.shortcut, shortcut_markup(blk.shortcut, text))


def block_kind_text(blk: Block) -> str:
    """``preact basic``, ``bottleneck + SE``: the block kind with its extras."""
    kind = ("preact " if blk.preact else "") + blk.kind
    extras = list(dict.fromkeys(EXTRA_LABELS.get(e.kind, e.kind) for e in blk.extras))
    return f"{kind} + {', '.join(extras)}" if extras else kind


def _shape_cell(in_shape: Shape, out: Shape | str) -> Cell:
    out_text = out if isinstance(out, str) else shape_text(out)
    return cell(f"{shape_text(in_shape)} → {out_text}", short=out_text)


def _counts_cells(main: Tally, shortcut: Tally | None, total: Tally, grand: int) -> tuple[Cell, ...]:
    """main params, shortcut params, total MACs, shortcut MACs, share: a shortcut of
    ``None`` (stem, head) leaves its cells empty."""
    sp = num_cell(shortcut.params) if shortcut is not None else cell("")
    sm = num_cell(shortcut.macs) if shortcut is not None else cell("")
    return num_cell(main.params), sp, num_cell(total.macs), sm, share_cell(total.macs, grand)


def _rf_cell(fields: Sequence[BlockField]) -> Cell:
    """A unit's receptive field in pixels; a run's from its first to its last unit."""
    first, last = fields[0].receptive_field, fields[-1].receptive_field
    return cell(str(last) if first == last else f"{first}–{last}", last)


def _block_row(b: BlockCount, grand: int, rf: BlockField) -> Row:
    blk = b.block
    return Row((
        cell(blk.name), cell(block_kind_text(blk)), _shape_cell(blk.in_shape, blk.out_shape), cell(blk.stride, blk.stride),
        _rf_cell([rf]), _shortcut_cell(blk), *_counts_cells(b.main, b.shortcut, b.total, grand),
    ), kind="block")


def _plain_row(label: str, kind: str, main: Tally, shortcut: Tally | None, total: Tally, grand: int, row_kind: str,
               shape: Cell | None = None, style: str = "", shortcuts: str = "", rf: Cell | None = None) -> Row:
    return Row((
        cell(label), cell(kind), shape or cell(""), cell(""), rf or cell(""), Cell(shortcuts, shortcuts or None, None),
        *_counts_cells(main, shortcut, total, grand),
    ), style=style, kind=row_kind)


#: Lines of a block-depth summary besides its block rows, per stage (a rule and a total) and in
#: all (title, header, stem, head, total, their rules, notes): what decides collapsing on a terminal.
LINES_PER_STAGE: Final = 2
LINES_AROUND: Final = 14


def run_label(first: Block, last: Block, n: int) -> str:
    """``layer3.1–35 ×35``: a run of identical blocks, short enough for an 80-column table."""
    return f"{first.name}–{last.name.rsplit('.', 1)[1]} ×{n}"


def _run_row(run: BlockRun, grand: int, rfs: Sequence[BlockField]) -> Row:
    first, last = run.first.block, run.last.block
    return Row((
        cell(run_label(first, last, len(run.blocks))), cell(block_kind_text(first)), _shape_cell(first.in_shape, first.out_shape),
        cell(first.stride, first.stride), _rf_cell(rfs), _shortcut_cell(first),
        *_counts_cells(run.main, run.shortcut, run.total, grand),
    ), kind="run")


def should_collapse(a: Analysis, screen: Screen | None) -> bool:
    """Collapse runs of identical blocks when the rows would not fit the terminal's height (off a
    terminal: above ``COLLAPSE_OFF_SCREEN`` blocks); only worth it when some run has two blocks."""
    if len(a.blocks) == len(a.runs()):
        return False
    return (screen or Screen()).collapse(len(a.blocks), LINES_PER_STAGE * len(a.stages) + LINES_AROUND)


def summary_table(a: Analysis, depth: Depth = "block", collapse: bool | None = None,
                  screen: Screen | None = None, convention: str | None = None) -> TableDoc:
    """The summary as a table. ``collapse`` merges runs of identical blocks into one row (``×N``,
    with the run's totals); by default when the rows would not fit ``screen`` (``should_collapse``)."""
    grand = a.total.macs
    plan = a.plan
    if collapse is None:
        collapse = should_collapse(a, screen)
    collapse = collapse and depth == "block"
    fields = a.receptive_fields()
    rf = {f.name: f for f in fields.blocks}
    rows: list[Row] = [_plain_row("stem", plan.stem_label, a.stem, None, a.stem, grand, "stem",
                                  _shape_cell(plan.input_shape, plan.stem_out), rf=cell(fields.stem, fields.stem))]
    for s in a.stages:
        rows += _stage_rows(a, s, depth, collapse, grand, rf)
    head_in = plan.head[0].in_shape if plan.head else plan.blocks[-1].out_shape
    head = _plain_row("head", _head_label(a), a.head, None, a.head, grand, "head", _shape_cell(head_in, str(plan.num_classes)))
    rows.append(Row(head.cells, head.style, rule_before=True, kind="head"))
    main_total = Tally(a.total.params - a.shortcut_total.params, a.total.macs - a.shortcut_total.macs)
    total_row = _plain_row("total", f"{plan.depth} layers", main_total, a.shortcut_total, a.total, grand, "total", style="bold",
                           rf=cell(fields.total, fields.total))
    rows.append(Row(total_row.cells, total_row.style, rule_before=True, kind="total"))
    notes = (*_summary_notes(a, collapse), *convention_notes(convention))
    return TableDoc(f"{a.name}: {describe(a)}", _columns(depth), tuple(rows), notes, _summary_details(a))


def convention_notes(convention: str | None) -> tuple[str, ...]:
    """The line that says MACs are another tool's (``--convention``)."""
    if convention is None:
        return ()
    from ..conventions import DIFFERS

    return (f"MACs as {convention} counts them (--convention): {DIFFERS[convention]}",)


def _stage_rows(a: Analysis, s: StageCount, depth: Depth, collapse: bool, grand: int, rf: Mapping[str, BlockField]) -> list[Row]:
    rows: list[Row] = []
    if depth == "block":
        if collapse:
            runs = [r for r in a.runs() if r.first.block.stage == s.stage]
            stage_rows = [_run_row(r, grand, [rf[b.block.name] for b in r.blocks]) if len(r.blocks) > 1
                          else _block_row(r.first, grand, rf[r.first.block.name]) for r in runs]
        else:
            stage_rows = [_block_row(b, grand, rf[b.block.name]) for b in s.blocks]
        rows += [Row(row.cells, row.style, rule_before=i == 0, kind=row.kind) for i, row in enumerate(stage_rows)]
    first, last = s.blocks[0].block, s.blocks[-1].block
    kinds = ", ".join(f"{n} {SHORTCUT_LABELS[k]}" for k, n in s.shortcut_kinds.items())
    rows.append(_plain_row(
        f"layer{s.stage} total" if depth == "block" else f"layer{s.stage} ({len(s.blocks)} blocks)",
        f"{len(s.blocks)} blocks" if depth == "block" else " / ".join(dict.fromkeys(block_kind_text(b.block) for b in s.blocks)),
        s.main, s.shortcut, s.total, grand, "stage",
        _shape_cell(first.in_shape, last.out_shape) if depth == "stage" else None,
        style="bold" if depth == "block" else "", shortcuts="" if depth == "block" else kinds,
        rf=cell(rf[last.name].receptive_field, rf[last.name].receptive_field) if depth == "stage" else None,
    ))
    return rows


def _summary_notes(a: Analysis, collapsed: bool) -> tuple[str, ...]:
    """One short line of totals, then only what this network needs said (its source, unusual
    blocks, collapsed runs)."""
    _, h, w = a.plan.input_shape
    kinds = ", ".join(f"{n} {SHORTCUT_LABELS[k]}" for k, n in a.shortcut_kinds().items())
    return (
        *source_notes(a),
        f"{human(a.total.params)} params, {human(a.total.macs)} MACs ({human(a.total.flops)} FLOPs) at {h}x{w}; "
        f"shortcuts: {kinds}.",
        *receptive_field_notes(a.receptive_fields(), h, w),
        *unusual_block_notes(a),
        *(("×N rows: runs of N identical blocks (run totals); --all-blocks shows every block.",) if collapsed else ()),
    )


def receptive_field_notes(f: ReceptiveFields, h: int, w: int) -> list[str]:
    """Where the receptive field covers the input, and the units whose two paths are not centred alike."""
    last = f.blocks[-1].name if f.blocks else "the stem"
    where = f"covers the {h}x{w} input from {f.covers} on" if f.covers else f"never covers the {h}x{w} input"
    lines = [f"receptive field: {f.total} px at {last} (effective stride {f.total_stride}); it {where}."]
    off = [b for b in f.blocks if not b.centred]
    if off:
        names = ", ".join(b.name for b in off[:4]) + (f" and {len(off) - 4} more" if len(off) > 4 else "")
        lines.append(f"{names}: the shortcut's window is not centred on the main path's (off by up to "
                     f"{max(abs(b.offset) for b in off):g} px); the unit sees their union.")
    return lines


def _summary_details(a: Analysis) -> tuple[str, ...]:
    """What ``--explain`` adds: the counting convention and what the columns mean."""
    sc = a.shortcut_total
    return (
        f"{human(a.batch_norm_params)} of the params are BatchNorm's; {human(a.total.activations)} activations "
        "(every layer's output values) at batch 1.",
        f"The shortcuts hold {human(sc.params)} params and {human(sc.macs)} MACs "
        f"({percent(sc.params, a.total.params)} and {percent(sc.macs, a.total.macs)} of the network): "
        "main params + shortcut params = the block's params; total MACs include the shortcut MACs.",
        "% of all MACs: the row's share of the whole network's MACs.",
        "receptive field: the input pixels one output pixel of the row can see (the union of both paths of a unit), "
        "a run's from its first to its last unit; see docs/counting.md.",
        CONVENTION,
    )


def _head_label(a: Analysis) -> str:
    if a.plan.source == "spec":
        return "pool + fc"
    names = {"adaptive_avg_pool2d": "pool", "avg_pool": "pool", "mean": "pool", "linear": "fc", "conv": "conv",
             "batch_norm": "BN", "relu": "ReLU"}
    return " + ".join(dict.fromkeys(names.get(ly.op, ly.detail or ly.op) for ly in a.plan.head)) or "none"


def source_notes(a: Analysis) -> list[str]:
    """For a traced module or a checkpoint: the spec it equals (or that none does), then what the
    source could not show."""
    plan = a.plan
    if plan.source == "spec":
        return []
    what = {"module": "traced module", "checkpoint": "checkpoint"}.get(plan.source, plan.source)
    if plan.spec is not None:
        first = f"{what}: = {plan.spec.name} (the same layers, shapes and shortcuts)."
    else:
        first = f"{what}: no preset or spec describes it exactly."
    return [first, *plan.notes]


def unusual_block_notes(a: Analysis) -> list[str]:
    """One line per block whose shortcut is ``other`` or whose unit holds extras, naming what they do."""
    lines: list[str] = []
    seen: set[BlockKey] = set()
    for bc in a.blocks:
        blk = bc.block
        if blk.key in seen:
            continue
        seen.add(blk.key)
        if blk.shortcut == "other":
            lines.append(f"{blk.name}: the shortcut is neither identity, zero-padding nor a conv projection: "
                         f"{', '.join(shortcut_ops(blk))}.")
        for e in blk.extras:
            t = extra_tally(blk, e)
            lines.append(f"{blk.name}: {e.kind} ({e.label}): {human(t.params)} params, {human(t.macs)} MACs, "
                         "counted in the main path.")
    return lines[:12]


def describe(a: Analysis) -> str:
    """The title's description: the spec's fields, or what a traced network is made of."""
    s = a.spec
    if a.plan.source != "spec":
        return _describe_traced(a)
    assert s is not None
    parts = [
        ("pre-activation " if s.preact else "") + f"{s.block} blocks {'-'.join(map(str, s.layers))}",
        f"widths {'-'.join(map(str, s.widths))}",
        f"stem {s.stem}",
        f"shortcut {s.shortcut}",
    ]
    if s.block == "bottleneck":
        parts.append(f"stride in {s.stride_in}")
        if s.groups != 1 or s.width_per_group != 64:
            parts.append(f"groups {s.groups}x{s.width_per_group}")
    return ", ".join(parts)


def _describe_traced(a: Analysis) -> str:
    plan = a.plan
    kinds = "/".join(dict.fromkeys(("preact " if b.preact else "") + b.kind for b in plan.blocks)) or "no"
    widths = "-".join(str(s.blocks[-1].block.out_shape[0]) for s in a.stages)
    what = {"module": "traced", "checkpoint": "from a checkpoint"}.get(plan.source, plan.source)
    parts = [f"{what}: {kinds} blocks {'-'.join(map(str, plan.layout))}", f"widths {widths}",
             f"stem {plan.stem_label}"]
    if plan.spec is not None:
        parts.append(f"= {plan.spec.name}")
    return ", ".join(parts)
