"""The ``summary`` report: per-block table rows and the stable JSON document (design.md)."""

from __future__ import annotations

from typing import Any, Literal

from ..counts import Analysis, BlockCount, BlockRun, Tally
from ..plan import Shape
from ..units import human, percent
from .style import CONVENTION, SHORTCUT_LABELS, shortcut_markup
from .tables import Cell, Column, Row, TableDoc, cell

SCHEMA_VERSION = 1
Depth = Literal["block", "stage"]


def shape_text(shape: Shape) -> str:
    return "x".join(str(v) for v in shape)


def _tally_json(t: Tally) -> dict[str, int]:
    return {"params": t.params, "macs": t.macs}


def to_json(a: Analysis) -> dict[str, Any]:
    """The ``summary --format json`` document. Keys fixed by ../shared/design.md; ``stages`` and the
    per-block ``activations`` are additions."""
    stem_out = a.plan.stem[-1].out_shape if a.plan.stem else a.plan.input_shape
    blocks = []
    for b in a.blocks:
        blk = b.block
        t = b.total
        blocks.append({
            "name": blk.name, "stage": blk.stage, "index": blk.index, "kind": blk.kind,
            "preact": blk.preact,
            "in_shape": list(blk.in_shape), "out_shape": list(blk.out_shape), "stride": blk.stride,
            "shortcut": blk.shortcut,
            "params": {"main": b.main.params, "shortcut": b.shortcut.params, "total": t.params},
            "macs": {"main": b.main.macs, "shortcut": b.shortcut.macs, "total": t.macs},
            "activations": t.activations,
        })
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
        "spec": a.spec.to_dict(),
        "totals": {
            "params": a.total.params, "macs": a.total.macs, "flops": a.total.flops,
            "activations": a.total.activations, "macs_by_op": a.total.macs_by_op(),
            "batch_norm_params": a.batch_norm_params,
            "blocks": len(a.blocks), "depth": a.spec.depth, "shortcuts": a.shortcut_kinds(),
        },
        "stem": {**_tally_json(a.stem), "out_shape": list(stem_out)},
        "blocks": blocks,
        "stages": stages,
        "head": _tally_json(a.head),
    }


_COLUMNS = (
    Column("block", "name"),
    Column("kind", "kind"),
    Column("in → out", "shape"),
    Column("stride", "stride", "right"),
    Column("shortcut", "shortcut"),
    Column("params (main)", "params_main", "right"),
    Column("params (shortcut)", "params_shortcut", "right"),
    Column("MACs", "macs", "right"),
    Column("share", "macs_share", "right"),
)


def _num(value: int) -> Cell:
    return cell(human(value), value)


def _shortcut_cell(kind: str) -> Cell:
    return Cell(SHORTCUT_LABELS[kind], kind, shortcut_markup(kind))


def _share(part: int, whole: int) -> Cell:
    return cell(percent(part, whole), round(part / whole, 6) if whole else 0)


def _block_row(b: BlockCount, grand: int) -> Row:
    blk = b.block
    shape = f"{shape_text(blk.in_shape)} → {shape_text(blk.out_shape)}"
    kind = ("preact " if blk.preact else "") + blk.kind
    return Row((
        cell(blk.name), cell(kind), cell(shape), cell(blk.stride, blk.stride), _shortcut_cell(blk.shortcut),
        _num(b.main.params), _num(b.shortcut.params), _num(b.total.macs), _share(b.total.macs, grand),
    ), kind="block")


def _plain_row(label: str, kind: str, t: Tally, grand: int, row_kind: str, shape: str = "",
               style: str = "", shortcuts: str = "", shortcut_params: int | None = None,
               main_params: int | None = None) -> Row:
    sp = _num(shortcut_params) if shortcut_params is not None else cell("")
    mp = main_params if main_params is not None else t.params
    return Row((
        cell(label), cell(kind), cell(shape), cell(""), Cell(shortcuts, shortcuts or None, None),
        _num(mp), sp, _num(t.macs), _share(t.macs, grand),
    ), style=style, kind=row_kind)


#: Above this many blocks the table collapses runs of identical blocks unless asked not to.
COLLAPSE_ABOVE = 64


def _run_row(run: BlockRun, grand: int) -> Row:
    first, last = run.first.block, run.last.block
    n = len(run.blocks)
    label = f"{first.name}–{last.name.rsplit('.', 1)[1]} (×{n})"
    shape = f"{shape_text(first.in_shape)} → {shape_text(first.out_shape)}"
    kind = ("preact " if first.preact else "") + first.kind
    return Row((
        cell(label), cell(kind), cell(shape), cell(first.stride, first.stride), _shortcut_cell(first.shortcut),
        _num(run.main.params), _num(run.shortcut.params), _num(run.total.macs), _share(run.total.macs, grand),
    ), kind="run")


def summary_table(a: Analysis, depth: Depth = "block", collapse: bool | None = None) -> TableDoc:
    """The summary as a table. ``collapse`` merges runs of identical blocks into one row (``×N``,
    with the run's totals); by default only for networks of more than ``COLLAPSE_ABOVE`` blocks."""
    grand = a.total.macs
    spec = a.spec
    if collapse is None:
        collapse = len(a.blocks) > COLLAPSE_ABOVE
    runs_by_stage: dict[int, list[BlockRun]] = {}
    if depth == "block" and collapse:
        for run in a.runs():
            runs_by_stage.setdefault(run.first.block.stage, []).append(run)
    rows: list[Row] = []
    stem_out = a.plan.stem[-1].out_shape if a.plan.stem else a.plan.input_shape
    rows.append(_plain_row("stem", spec.stem, a.stem, grand, "stem",
                           f"{shape_text(a.plan.input_shape)} → {shape_text(stem_out)}"))
    for s in a.stages:
        first, last = s.blocks[0].block, s.blocks[-1].block
        kinds = ", ".join(f"{n}x {SHORTCUT_LABELS[k]}" for k, n in s.shortcut_kinds.items())
        label = f"layer{s.stage}" if depth == "block" else f"layer{s.stage} ({len(s.blocks)} blocks)"
        shape = f"{shape_text(first.in_shape)} → {shape_text(last.out_shape)}"
        if depth == "block":
            stage_rows = (
                [_run_row(r, grand) if len(r.blocks) > 1 else _block_row(r.first, grand) for r in runs_by_stage[s.stage]]
                if collapse else [_block_row(b, grand) for b in s.blocks]
            )
            for i, row in enumerate(stage_rows):
                rows.append(Row(row.cells, row.style, rule_before=i == 0, kind=row.kind))
        rows.append(_plain_row(
            f"{label} total" if depth == "block" else label, f"{len(s.blocks)} blocks", s.total, grand,
            "stage", shape if depth == "stage" else "", style="bold" if depth == "block" else "",
            shortcuts=kinds, shortcut_params=s.shortcut.params, main_params=s.main.params,
        ))
    head_shape = f"{shape_text(a.plan.head[0].in_shape)} → {a.spec.num_classes}"
    head = _plain_row("head", "pool + fc", a.head, grand, "head", head_shape)
    rows.append(Row(head.cells, head.style, rule_before=True, kind="head"))
    total_row = _plain_row(
        "total", f"{a.spec.depth} layers", a.total, grand, "total", style="bold",
        shortcut_params=a.shortcut_total.params, main_params=a.total.params - a.shortcut_total.params,
    )
    rows.append(Row(total_row.cells, total_row.style, rule_before=True, kind="total"))
    counts = a.shortcut_kinds()
    notes = (
        f"{human(a.total.params)} params ({human(a.batch_norm_params)} of them in BatchNorm), {human(a.total.macs)} MACs ({human(a.total.flops)} FLOPs), "
        f"{human(a.total.activations)} activations at {a.spec.input_size}x{a.spec.input_size}.",
        f"shortcuts: {', '.join(f'{n} {SHORTCUT_LABELS[k]}' for k, n in counts.items())}.",
        *(("runs of identical blocks are collapsed into one row (×N, run totals); --all-blocks shows every block.",)
          if collapse and depth == "block" else ()),
        CONVENTION,
    )
    return TableDoc(f"{a.spec.name}: {_describe(a)}", _COLUMNS, tuple(rows), notes)


def _describe(a: Analysis) -> str:
    s = a.spec
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
