"""The ``shortcuts`` report: the options side by side, every block's alternatives, and the notes
(the bar chart is ``report.plot``). Formatting only; every number comes from ``resnet_inspect.shortcuts``.

The JSON keys are documented in docs/shortcuts.md (``schema_version`` 1).
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any, Final, Literal

from ..paper import SOURCE, PaperResult
from ..plan import Block, is_projection
from ..shortcuts import OPTIONS, BlockShortcuts, Cost, OptionCost, ShortcutStudy
from ..units import human, in_unit_of, percent, percent_value, ratio_percent, signed_human
from .layout import Screen
from .style import CONVENTION, SHORTCUT_COLORS, shortcut_markup
from .summary import run_label, shape_text, shortcut_label, should_collapse, source_json, spec_json
from .tables import Cell, Column, Row, TableDoc, bytes_cell, cell, diff_cell, num_cell, share_cell

SCHEMA_VERSION: Final = 1
View = Literal["network", "blocks", "all"]
Metric = Literal["params", "macs"]

#: What each option does, for the network table.
OPTION_LABELS: Final = {
    "none": "plain: no shortcuts",
    "A": "identity + zero-pad",
    "B": "identity + projection",
    "C": "projection everywhere",
    "D": "identity + avg-pool proj.",
}
#: The same, short enough for a terminal column.
OPTION_SHORT: Final = {
    "none": "no shortcut",
    "A": "zero-pad",
    "B": "proj. if needed",
    "C": "proj. always",
    "D": "pool+proj. if needed",
}
BAR_WIDTH: Final = 16
MAIN_COLOR: Final = "#8a96a3"


# ---------------------------------------------------------------- JSON

def _cost_json(c: Cost | None) -> dict[str, int] | None:
    return None if c is None else {"params": c.params, "weights": c.weights, "macs": c.macs}


def _option_json(s: ShortcutStudy, o: OptionCost) -> dict[str, Any]:
    base = s.option(s.baseline)
    doc: dict[str, Any] = {
        "option": o.option, "description": OPTION_LABELS[o.option], "available": o.available,
        "reason": o.reason, "given": o.option == given_option(s),
    }
    if not o.available:
        doc.update({k: None for k in ("params", "macs", "shortcut_params", "shortcut_macs", "projections",
                                       "shortcuts", "activations_bytes", "training_bytes", "delta")})
    else:
        dp, dm = s.delta(o.option, "params"), s.delta(o.option, "macs")
        doc.update({
            "params": o.params, "macs": o.macs,
            "shortcut_params": o.shortcut_params, "shortcut_macs": o.shortcut_macs,
            "projections": o.projections, "shortcuts": dict(o.kinds), "activations_bytes": o.activations_bytes,
            "training_bytes": o.training_bytes,
            "delta": {"params": dp, "params_pct": percent_value(dp, base.params), "macs": dm, "macs_pct": percent_value(dm, base.macs)},
        })
    doc["paper"] = o.paper.to_dict() if o.paper else None
    return doc


def _block_json(b: BlockShortcuts) -> dict[str, Any]:
    blk = b.block
    return {
        "name": blk.name, "stage": blk.stage, "index": blk.index, "kind": blk.kind, "preact": blk.preact,
        "in_shape": list(blk.in_shape), "out_shape": list(blk.out_shape), "stride": blk.stride,
        "shortcut": blk.shortcut,
        "main": _cost_json(b.main),
        "shortcut_cost": _cost_json(b.actual),
        "alternatives": {
            "identity": _cost_json(b.identity),
            "zero_pad": _cost_json(b.zero_pad),
            "projection": _cost_json(b.projection),
            "avgpool_projection": _cost_json(b.avgpool_projection),
        },
        "ratio": {m: round(b.ratio(m), 6) for m in ("params", "weights", "macs")},
    }


def given_option(s: ShortcutStudy) -> str | None:
    """The shortcut option the network has, when a spec describes it."""
    return s.spec.shortcut if s.spec is not None else None


def no_options_reason(s: ShortcutStudy) -> str:
    what = {"module": "this traced module", "checkpoint": "this checkpoint"}.get(s.analysis.plan.source, "it")
    return (f"the none/A/B/C/D comparison needs a network that a spec describes, and no spec matches {what}; "
            "the per-block view prices every shortcut on its own blocks")


def to_json(s: ShortcutStudy, view: View = "all") -> dict[str, Any]:
    """The ``shortcuts --format json`` document (keys in docs/shortcuts.md)."""
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "spec": spec_json(s.analysis),
        "source": source_json(s.analysis),
        "given": given_option(s),
        "baseline": s.baseline if s.has_options else None,
    }
    if view in ("network", "all"):
        doc["network"] = [_option_json(s, o) for o in s.options]
        doc["comparisons"] = comparisons(s)
        if not s.has_options:
            doc["network_unavailable"] = no_options_reason(s)
    if view in ("blocks", "all"):
        doc["blocks"] = [_block_json(b) for b in s.blocks]
        doc["verdict"] = verdict(s)
    doc["notes"] = notes(s)
    return doc


# ---------------------------------------------------------------- sentences

def comparisons(s: ShortcutStudy) -> list[dict[str, Any]]:
    """Cost against accuracy between consecutive options the paper measured on this network
    (none→A, A→B, B→C for ResNet-34): "C against B: +0.92 M params and +0.17 G MACs for 0.33 points
    of top-1"."""
    measured = [o for o in s.options if o.available and o.paper is not None]
    out: list[dict[str, Any]] = []
    for prev, cur in itertools.pairwise(measured):
        assert prev.paper is not None and cur.paper is not None
        dp, dm = cur.params - prev.params, cur.macs - prev.macs
        gain = round(prev.paper.top1 - cur.paper.top1, 2)
        cost = (
            "no extra params or MACs" if dp == 0 and dm == 0
            else f"{in_unit_of(dp, prev.params)} params and {in_unit_of(dm, prev.macs)} MACs"
        )
        effect = f"for {gain:.2f} points of top-1" if gain >= 0 else f"with top-1 {-gain:.2f} points worse"
        text = (f"{cur.option} against {prev.option}: {cost} {effect} "
                f"({prev.paper.label} {prev.paper.top1:.2f} → {cur.paper.label} {cur.paper.top1:.2f})")
        top5 = (round(prev.paper.top5 - cur.paper.top5, 2)
                if prev.paper.top5 is not None and cur.paper.top5 is not None else None)
        out.append({"from": prev.option, "to": cur.option, "params": dp, "macs": dm,
                    "top1_gain": gain, "top5_gain": top5, "text": text})
    return out


def _stage_list(blocks: list[BlockShortcuts]) -> str:
    stages = sorted({b.block.stage for b in blocks})
    return ", ".join(f"layer{st}" for st in stages)


def verdict(s: ShortcutStudy) -> str:
    """One line: where in this network the shortcut choice matters."""
    name = s.name
    blocks = list(s.blocks)
    ratios = [b.ratio("params") for b in blocks]
    lo, hi = min(ratios), max(ratios)
    top = blocks[ratios.index(hi)].block.name
    heavy = [b for b in blocks if b.ratio("params") >= 0.5]
    changing = [b.block.name for b in blocks if b.shapes_change]
    if s.has_options:
        c, base = s.option("C"), s.option("B")
        dp = c.params - base.params
        extra = c.projections - base.projections
        c_cost = f"C's {extra} extra projections would add {in_unit_of(dp, base.params)} params ({percent(dp, base.params, 2, signed=True)} over B)"
    else:
        total = s.analysis.total.params
        dp = sum(b.projection.params - b.actual.params for b in blocks if not is_projection(b.block.shortcut))
        c_cost = (f"1x1 projections on its {sum(1 for b in blocks if not is_projection(b.block.shortcut))} other "
                  f"blocks would add {in_unit_of(dp, total)} params ({percent(dp, total, 2, signed=True)})")
    if heavy:
        where = (f"{len(heavy)} of {len(blocks)} blocks ({_stage_list(heavy)}) would grow by half or more, "
                 "so identity shortcuts are what keeps them cheap")
    else:
        where = "no block would grow by half, so the choice costs little anywhere"
    if changing:
        shown = ", ".join(changing[:6]) + (f" and {len(changing) - 6} more" if len(changing) > 6 else "")
        shape = f"shapes change only in {shown}, the one place A, B and D differ"
    else:
        shape = "no block changes shape, so A, B and D are all identity here"
    span = percent(hi * 1e6, 1e6) if lo == hi else f"{percent(lo * 1e6, 1e6)}–{percent(hi * 1e6, 1e6)}"
    return (f"{name}: a projection would cost {span} of a block's "
            f"main path in params (most in {top}); {where}; {c_cost}; {shape}.")


def _example_projection(s: ShortcutStudy) -> BlockShortcuts:
    """The block whose projection the notes describe: the first where shapes change (B's first
    projection), else the first block."""
    return next((b for b in s.blocks if b.shapes_change), s.blocks[0])


def _path_text(blk: Block) -> str:
    convs = [layer for layer in blk.main if layer.op == "conv"]
    return "→".join([str(blk.in_shape[0]), *(str(layer.out_shape[0]) for layer in convs)])


def notes(s: ShortcutStudy) -> list[str]:
    """Answers to the recurring questions, each with this network's numbers."""
    return [_weights_note(s), *_own_kernel_note(s), *_zero_pad_note(s), _bottleneck_note(s), _paper_note(s)]


def _weights_note(s: ShortcutStudy) -> str:
    """Does a projection have weights, and what does one cost here?"""
    preact = any(b.block.preact for b in s.blocks)
    ex = _example_projection(s)
    blk = ex.block
    p = ex.projection
    bn = "" if preact else " + BN"
    bn_params = p.params - p.weights
    bn_text = f" + {bn_params:,} BN" if bn_params else ""
    b_extra = ""
    if s.has_options and s.baseline != "B":
        b_opt, base = s.option("B"), s.option(s.baseline)
        if b_opt.projections == 0:
            b_extra = " Under B this network needs no projection: no block changes shape."
        else:
            b_extra = (f" Under B this network has {b_opt.projections} projection(s): "
                       f"{in_unit_of(b_opt.params - base.params, base.params)} params and "
                       f"{in_unit_of(b_opt.macs - base.macs, base.macs)} MACs over {s.baseline}.")
    where = "" if ex.shapes_change else ", where only option C puts one,"
    return (
        f"Does a projection shortcut have weights? Yes: it is a 1x1 conv{bn}"
        f"{' (pre-activation units have no BN on the shortcut)' if preact else ''}, trained with the rest "
        f"of the network, and the block stays residual (it outputs F(x) + Wx). In {blk.name} "
        f"({blk.in_shape[0]}→{blk.out_shape[0]} channels, stride {blk.stride}){where} it has {p.weights:,} weights"
        f"{bn_text} = {p.params:,} params and {human(p.macs)} MACs: the block's extra cost.{b_extra}"
    )


def _own_kernel_note(s: ShortcutStudy) -> list[str]:
    """A network whose projections are not 1x1 (a tutorial's 3x3 downsample) pays a multiple."""
    for b in s.blocks:
        kernel = b.block.projection_kernel()
        if kernel not in (None, "1x1") and b.projection.weights:
            times = b.actual.weights / b.projection.weights
            return [f"{b.block.name} projects with a {kernel} conv: {b.actual.weights:,} weights, {times:.1f}x "
                    f"what a 1x1 projection needs there ({b.projection.weights:,}), and {human(b.actual.macs)} "
                    f"MACs against {human(b.projection.macs)}."]
    return []


def _zero_pad_note(s: ShortcutStudy) -> list[str]:
    """What option A costs and what it leaves without a residual."""
    pads = [b for b in s.blocks if b.shapes_change and b.block.out_shape[0] > b.block.in_shape[0]]
    if s.has_options:
        a = s.option("A")
        if not a.available:
            return [f"Option A is not possible here: {a.reason}."]
    elif not any(b.block.shortcut == "zero_pad" for b in pads):
        return []
    if not pads:
        return ["Option A equals the identity everywhere here: no block gains channels."]
    z = pads[0].block
    cin, cout = z.in_shape[0], z.out_shape[0]
    return [
        f"Option A is free (0 params, 0 MACs) but leaves the padded channels without a residual: in "
        f"{z.name} the shortcut carries the {cin} input channels{' subsampled at stride ' + str(z.stride) if z.stride > 1 else ''} "
        f"and zeros in the other {cout - cin} of {cout}, so those channels get no identity path in that block "
        f"({len(pads)} block(s) zero-pad under A)."
    ]


def _bottleneck_note(s: ShortcutStudy) -> str:
    """Why identity matters most in bottlenecks, with this network's largest projection ratio."""
    top = max(s.blocks, key=lambda b: b.ratio("weights"))
    tb = top.block
    ratio = percent(top.projection.weights, top.main.weights)
    if tb.kind == "bottleneck":
        return (
            f"Why identity shortcuts matter most in bottlenecks: in {tb.name} ({_path_text(tb)}) the main path "
            f"has {top.main.weights:,} conv weights and a projection would have {top.projection.weights:,} "
            f"({ratio}), because the shortcut joins the two high-dimensional ends; a projection there "
            f"{_grows(top.ratio('weights'))} (MACs {percent(top.projection.macs, top.main.macs)})."
        )
    n_convs = sum(1 for layer in tb.main if layer.op == "conv")
    convs = {1: "the 3x3 conv", 2: "two 3x3 convs"}.get(n_convs, f"{n_convs} convs")
    return (
        f"In {tb.kind} blocks a projection is small next to {convs}: "
        f"at most {ratio} of the main path here ({tb.name}: {top.projection.weights:,} against "
        f"{top.main.weights:,} weights). Bottlenecks are where it nearly doubles a block "
        "(65,536 against 69,632 weights in a 256-d bottleneck)."
    )


def _paper_note(s: ShortcutStudy) -> str:
    measured = [o for o in s.options if o.available and o.paper is not None]
    if measured:
        tables = sorted({o.paper.table for o in measured if o.paper is not None})
        return (
            f"Errors (top-1/top-5 %, ImageNet val, 10-crop) from {SOURCE}, {' and '.join(tables)}; shown only "
            "for the networks the paper trained, never estimated for others."
        )
    if _would_match_with_1x1(s):
        return (
            "No paper errors: He et al. (2015) put a bottleneck's stride in the first 1x1 conv, this spec in "
            "the 3x3 (torchvision); run with --stride-in 1x1 to see the paper's errors beside the costs."
        )
    return "No paper errors: He et al. (2015) did not train this network, and none are guessed."


def _grows(ratio: float) -> str:
    if ratio >= 1.0:
        return "more than doubles the block"
    if ratio >= 0.85:
        return "almost doubles the block"
    return f"adds {ratio_percent(ratio, 0)} to the block"


def _would_match_with_1x1(s: ShortcutStudy) -> bool:
    from dataclasses import replace

    from ..paper import paper_result

    if s.spec is None or s.spec.block != "bottleneck" or s.spec.stride_in == "1x1":
        return False
    return paper_result(replace(s.spec, stride_in="1x1", shortcut="B")) is not None


# ---------------------------------------------------------------- tables

def _bar(main: int, extra: int, scale: int, extra_color: str, solid: bool) -> str:
    """Rich markup: main path in grey, the shortcut (solid if the network has it, shaded if it would)."""
    if scale <= 0:
        return ""
    m = round(BAR_WIDTH * main / scale)
    if main > 0 and m == 0:
        m = 1
    e = round(BAR_WIDTH * (main + extra) / scale) - m
    if extra > 0 and e == 0:
        e = 1
    return f"[{MAIN_COLOR}]{'█' * m}[/][{extra_color}]{('█' if solid else '░') * e}[/]"


def _paper_cells(pr: PaperResult | None) -> tuple[Cell, Cell]:
    if pr is None:
        return cell("", None), cell("", None)
    top5 = cell(f"{pr.top5:.2f}", pr.top5) if pr.top5 is not None else cell("", None)
    return cell(f"{pr.top1:.2f}", pr.top1), top5


def network_table(s: ShortcutStudy, metric: Metric = "params", terminal: bool = False) -> TableDoc:
    """The options side by side. ``terminal`` merges each difference with its per cent and adds the
    bar column; Markdown and CSV keep one value per column. A narrow terminal drops the bar, then
    shows the differences as per cents only, then drops the projection count and top-5, the
    training memory and the option's description (``report.layout``); the option and the numbers stay."""
    cols = [
        Column("option", "option"), Column("shortcuts", "description", drop=6),
        Column("params", "params", "right"), Column("MACs", "macs", "right"),
        Column("shortcut params", "shortcut_params", "right"),
        Column("shortcut MACs", "shortcut_macs", "right"),
        Column("proj." if terminal else "projections", "projections", "right", drop=3),
        Column("memory (batch 1)", "training_bytes", "right", drop=5),
    ]
    if terminal:
        cols += [Column(f"Δ params vs {s.baseline}", "delta_params", "right", compact=2, short_header="Δ % params"),
                 Column(f"Δ MACs vs {s.baseline}", "delta_macs", "right", compact=2, short_header="Δ % MACs")]
    else:
        cols += [Column(f"Δ params vs {s.baseline}", "delta_params", "right"), Column("Δ params %", "delta_params_pct", "right"),
                 Column(f"Δ MACs vs {s.baseline}", "delta_macs", "right"), Column("Δ MACs %", "delta_macs_pct", "right")]
    cols += [Column("top-1 %", "paper_top1", "right"), Column("top-5 %", "paper_top5", "right", drop=3)]
    if terminal:
        cols.append(Column(f"{metric}: main+shortcut", "bar", drop=1, min_width=BAR_WIDTH))
    avail = [o for o in s.options if o.available]
    scale = max((getattr(o, metric) for o in avail), default=0)
    base = s.option(s.baseline)
    rows: list[Row] = []
    for o in s.options:
        given = o.option == given_option(s)
        label = cell(f"{o.option} (given)" if given else o.option, o.option)
        if not o.available:
            blank = [cell("n/a", None)] * (len(cols) - 2)
            rows.append(Row((label, cell((OPTION_SHORT if terminal else OPTION_LABELS)[o.option]), *blank), style="dim", kind="option"))
            continue
        dp, dm = s.delta(o.option, "params"), s.delta(o.option, "macs")
        top1, top5 = _paper_cells(o.paper)
        cells = [
            label, cell((OPTION_SHORT if terminal else OPTION_LABELS)[o.option]), num_cell(o.params), num_cell(o.macs),
            num_cell(o.shortcut_params), num_cell(o.shortcut_macs), cell(o.projections, o.projections),
            bytes_cell(o.training_bytes, 1),
        ]
        if terminal:
            pp, pm = percent(dp, base.params, 1, signed=True), percent(dm, base.macs, 1, signed=True)
            cells += [cell(f"{signed_human(dp)} ({pp})", dp, short=pp), cell(f"{signed_human(dm)} ({pm})", dm, short=pm)]
        else:
            cells += [diff_cell(dp), cell(percent(dp, base.params, 2, signed=True), percent_value(dp, base.params)),
                      diff_cell(dm), cell(percent(dm, base.macs, 2, signed=True), percent_value(dm, base.macs))]
        cells += [top1, top5]
        if terminal:
            sc = o.shortcut_params if metric == "params" else o.shortcut_macs
            total = getattr(o, metric)
            cells.append(Cell("", None, _bar(total - sc, sc, scale, SHORTCUT_COLORS["projection"], True)))
        rows.append(Row(tuple(cells), style="bold" if given else "", kind="option"))
    doc_notes = [f"{o.option} is not possible: {o.reason}." for o in s.options if not o.available]
    doc_notes.append(f"Δ: against option {s.baseline}"
                     + (" (free: no shortcut weights)." if s.baseline == "A" else " (A is not possible here).")
                     + " memory: a training step's at batch 1, fp32, SGD with momentum (memory SPEC for more).")
    details = tuple(c["text"] + "." for c in comparisons(s))
    return TableDoc(f"{s.name}: every shortcut option", tuple(cols), tuple(rows), tuple(doc_notes), details)


def _opt_text(c: Cost | None, metric: Metric) -> str:
    return "n/a" if c is None else human(c.get(metric))


def _opt_cell(c: Cost | None, metric: Metric) -> Cell:
    return cell("n/a", None) if c is None else num_cell(c.get(metric))


def _runs(s: ShortcutStudy) -> list[list[BlockShortcuts]]:
    """``s.blocks`` grouped as the engine groups the network's blocks (``Analysis.runs``)."""
    groups: list[list[BlockShortcuts]] = []
    i = 0
    for run in s.analysis.runs():
        groups.append(list(s.blocks[i:i + len(run.blocks)]))
        i += len(run.blocks)
    return groups


def blocks_table(s: ShortcutStudy, metric: Metric = "params", terminal: bool = False,
                 collapse: bool | None = None, screen: Screen | None = None) -> TableDoc:
    """Every block: main path, and what identity / zero-pad / projection would cost there.
    ``collapse`` shows a run of identical blocks as one row (per-block numbers, ``×N``); by default
    when the rows would not fit ``screen``, as in ``summary``. A narrow terminal drops the bar,
    compacts the shapes, then drops the identity / zero-pad column (0 or n/a), the stride, the
    ratio of the other metric and the shapes, in that order; the block, its shortcut and the
    projection's cost stay."""
    if collapse is None:
        collapse = should_collapse(s.analysis, screen)
    groups = _runs(s) if collapse else [[b] for b in s.blocks]
    scale = max((b.main.get(metric) + b.projection.get(metric) for b in s.blocks), default=0)
    rows: list[Row] = []
    prev_stage = 0
    for group in groups:
        rows.append(_block_row(group, metric, terminal, scale, prev_stage))
        prev_stage = group[0].block.stage
    doc_notes = [verdict(s)]
    if collapse:
        doc_notes.append("×N rows: runs of N identical blocks (numbers per block); --all-blocks shows every block.")
    given = f"given: option {s.spec.shortcut}" if s.spec is not None else "as traced"
    return TableDoc(f"{s.name}: what each block's shortcut costs ({given})",
                    _blocks_columns(metric, terminal), tuple(rows), tuple(doc_notes))


def _blocks_columns(metric: Metric, terminal: bool) -> tuple[Column, ...]:
    """The columns of ``blocks_table``: the terminal merges identity and zero-pad and adds a bar."""
    unit = {"params": "params", "macs": "MACs"}[metric]
    cols = [
        Column("block", "name"), Column("in → out", "shape", compact=2, drop=6, short_header="out"),
        Column("stride", "stride", "right", drop=4), Column("shortcut", "shortcut"),
        Column("main params", "main_params", "right"), Column("main MACs", "main_macs", "right"),
    ]
    if terminal:
        cols.append(Column(f"identity /\nzero-pad {unit}", f"identity_zero_pad_{metric}", "right", drop=3))
    else:
        cols += [Column(f"identity {unit}", f"identity_{metric}", "right"),
                 Column(f"zero-pad {unit}", f"zero_pad_{metric}", "right")]
    cols += [
        Column("proj params", "projection_params", "right"),
        Column("proj MACs", "projection_macs", "right"),
        # The ratio of the metric not asked for goes first.
        Column("proj/main params", "ratio_params", "right", drop=5 if metric == "macs" else 0),
        Column("proj/main MACs", "ratio_macs", "right", drop=5 if metric == "params" else 0),
    ]
    if terminal:
        cols.append(Column(f"{unit}: main+proj", "bar", drop=1, min_width=BAR_WIDTH))
    return tuple(cols)


def _block_row(group: list[BlockShortcuts], metric: Metric, terminal: bool, scale: int, prev_stage: int) -> Row:
    """One block, or a run of alike blocks (numbers per block), as a row of ``blocks_table``."""
    b = group[0]
    blk = b.block
    kind = blk.shortcut
    label = blk.name if len(group) == 1 else run_label(blk, group[-1].block, len(group))
    cells = [
        cell(label), cell(f"{shape_text(blk.in_shape)} → {shape_text(blk.out_shape)}", short=shape_text(blk.out_shape)),
        cell(blk.stride, blk.stride), Cell(shortcut_label(blk), kind, shortcut_markup(kind, shortcut_label(blk))),
        num_cell(b.main.params), num_cell(b.main.macs),
    ]
    if terminal:
        cells.append(cell(f"{_opt_text(b.identity, metric)} / {_opt_text(b.zero_pad, metric)}"))
    else:
        cells += [_opt_cell(b.identity, metric), _opt_cell(b.zero_pad, metric)]
    cells += [
        num_cell(b.projection.params), num_cell(b.projection.macs),
        share_cell(b.projection.params, b.main.params, zero=0.0),
        share_cell(b.projection.macs, b.main.macs, zero=0.0),
    ]
    if terminal:
        has = is_projection(kind)
        color = SHORTCUT_COLORS[kind] if has else SHORTCUT_COLORS["projection"]
        cells.append(Cell("", None, _bar(b.main.get(metric), b.projection.get(metric), scale, color, has)))
    return Row(tuple(cells), rule_before=blk.stage != prev_stage, kind="block" if len(group) == 1 else "run")


def docs(s: ShortcutStudy, view: View = "all", metric: Metric = "params", terminal: bool = False,
         collapse: bool | None = None, screen: Screen | None = None) -> list[TableDoc]:
    """The tables of ``view``. The notes under the last one are short: the verdict for this network
    and where the answers are; ``--explain`` (``TableDoc.details``) adds the answers themselves."""
    out: list[TableDoc] = []
    extra: list[str] = []
    if view in ("network", "all"):
        if s.has_options:
            out.append(network_table(s, metric, terminal))
        else:
            extra.append(no_options_reason(s)[0].upper() + no_options_reason(s)[1:] + ".")
    if view in ("blocks", "all") or not out:
        out.append(blocks_table(s, metric, terminal, collapse, screen))
    last = out[-1]
    extra.append(EXPLAIN_HINT)
    details = [*notes(s)]
    if terminal:
        details.append("Bars: grey = main path; coloured = shortcut (█: this spec has it; ░: a projection if one were added).")
    details.append(CONVENTION)
    out[-1] = replace(last, notes=(*last.notes, *extra), details=(*last.details, *details))
    return out


#: The one line under ``shortcuts`` that says where the longer answers are.
EXPLAIN_HINT: Final = ("--explain answers: does a projection have weights, what does option A leave out, "
                       "why identity matters most in bottlenecks, where the errors come from.")


__all__ = [
    "OPTIONS", "SCHEMA_VERSION", "blocks_table", "comparisons", "docs",
    "network_table", "notes", "to_json", "verdict",
]
