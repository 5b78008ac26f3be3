"""The ``roofline`` report: bytes moved, arithmetic intensity and a roofline estimate of time per
unit (and per layer), on a named device or one given by its peak and bandwidth. Formatting only;
the numbers come from ``resnet_inspect.traffic``.

JSON keys (docs/roofline.md, ``schema_version`` 1): integers for FLOPs, MACs and bytes, floats for
times (``*_ms``), intensities (FLOP per byte) and shares.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from ..counts import Analysis
from ..plan import BlockKey, Layer, is_projection
from ..traffic import (
    BlockTraffic,
    Device,
    Estimate,
    LayerTraffic,
    NetworkTraffic,
    Traffic,
    estimate,
    layer_rows,
    roofline,
    sum_traffic,
)
from ..units import human, human_bytes, percent
from .layout import Screen
from .style import SHORTCUT_LABELS, shortcut_markup
from .summary import run_label, should_collapse, source_json, spec_json
from .tables import Cell, Column, Row, TableDoc, bytes_cell, cell, num_cell, share_cell

SCHEMA_VERSION: Final = 1
#: Names listed in a note before the rest are only counted.
NAMES_SHOWN: Final = 8
OP_LABELS: Final = {"batch_norm": "batch norm", "relu": "ReLU", "add": "add", "max_pool": "max-pool", "avg_pool": "avg-pool",
                    "adaptive_avg_pool2d": "global pool", "linear": "linear", "zero_pad": "zero-pad", "mul": "product",
                    "norm": "norm", "mean": "mean", "activation": "activation", "other": "other"}


@dataclass(frozen=True)
class RooflineReport:
    analysis: Analysis
    traffic: NetworkTraffic
    device: Device
    device_label: str
    device_source: str
    layers: bool = False


def _ms(seconds: float) -> float:
    return float(f"{seconds * 1e3:.6g}")


def _estimates(r: RooflineReport) -> list[tuple[Estimate, Estimate]]:
    """Each unit's estimate and its shortcut's, in unit order, worked out once per distinct unit."""
    memo: dict[BlockKey, tuple[Estimate, Estimate]] = {}
    out: list[tuple[Estimate, Estimate]] = []
    for blk, b in zip(r.analysis.plan.blocks, r.traffic.blocks):
        key = blk.key
        if key not in memo:
            short = estimate(b.shortcut_layers, r.device)
            memo[key] = (estimate(b.main_layers, r.device) + short, short)
        out.append(memo[key])
    return out


def _part_json(t: Traffic, e: Estimate) -> dict[str, Any]:
    return {"flops": t.flops, "bytes": t.bytes, "arithmetic_intensity": t.arithmetic_intensity,
            "estimate_ms": _ms(e.seconds), "bound": e.bound}


def _block_json(b: BlockTraffic, e: Estimate, se: Estimate, macs: int, whole: float) -> dict[str, Any]:
    return {"name": b.name, "stage": b.stage, "index": b.index, "shortcut": b.shortcut_kind, "macs": macs,
            "flops": b.flops, "bytes": b.bytes, "weight_bytes": b.total.weights, "arithmetic_intensity": b.arithmetic_intensity,
            "estimate_ms": _ms(e.seconds), "bound": e.bound, "time_share": round(e.seconds / whole, 6) if whole else 0.0,
            "shortcut_flops": b.shortcut_flops, "shortcut_bytes": b.shortcut_bytes,
            "shortcut_arithmetic_intensity": b.shortcut_arithmetic_intensity, "shortcut_estimate_ms": _ms(se.seconds),
            "shortcut_bound": se.bound}


def _layer_json(row: LayerTraffic, device: Device) -> dict[str, Any]:
    ly, t = row.layer, row.traffic
    e = roofline(t, device)
    return {"name": ly.name, "block": row.block or None, "path": row.part, "op": ly.op, "kernel": _kernel(ly),
            "macs": t.flops // 2 if ly.op in ("conv", "linear") else 0, "flops": t.flops, "bytes": t.bytes,
            "read_bytes": t.reads, "weight_bytes": t.weights, "write_bytes": t.writes,
            "arithmetic_intensity": t.arithmetic_intensity, "estimate_ms": _ms(e.seconds), "bound": e.bound}


def _kernel(ly: Layer) -> str | None:
    return ly.kernel_text if ly.op in ("conv", "max_pool", "avg_pool") else None


def network_estimate(r: RooflineReport, est: list[tuple[Estimate, Estimate]] | None = None) -> tuple[Estimate, Estimate, Estimate]:
    """The stem's, the head's and the whole network's estimates."""
    stem = estimate(r.traffic.stem.layers, r.device)
    head = estimate(r.traffic.head.layers, r.device)
    return stem, head, _sum_est([stem, *(e for e, _ in (est if est is not None else _estimates(r))), head])


def to_json(r: RooflineReport) -> dict[str, Any]:
    a, net, dev = r.analysis, r.traffic, r.device
    est = _estimates(r)
    stem, head, whole = network_estimate(r, est)
    total = net.total
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION, "spec": spec_json(a), "source": source_json(a),
        "dtype": net.dtype, "batch": net.batch,
        "device": {"name": dev.name, "label": r.device_label, "peak_flops": dev.peak_flops, "bandwidth": dev.bandwidth,
                   "ridge": round(dev.ridge, 4), "source": r.device_source},
        "totals": {"macs": a.total.macs * net.batch, "flops": total.flops, "bytes": total.bytes, "weight_bytes": total.weights,
                   "activation_bytes": total.activation_bytes, "arithmetic_intensity": total.arithmetic_intensity,
                   "estimate_ms": _ms(whole.seconds), "compute_ms": _ms(whole.compute_seconds), "memory_ms": _ms(whole.memory_seconds),
                   "bound": whole.bound,
                   "memory_bound_share": round(whole.memory_bound_seconds / whole.seconds, 6) if whole.seconds else 0.0},
        "stem": _part_json(net.stem.traffic, stem),
        "blocks": [_block_json(b, e, se, bc.total.macs * net.batch, whole.seconds)
                   for b, (e, se), bc in zip(net.blocks, est, a.blocks)],
        "head": _part_json(net.head.traffic, head),
    }
    if r.layers:
        doc["layers"] = [_layer_json(row, dev) for row in layer_rows(a, net.dtype, net.batch)]
    return doc


# ------------------------------------------------------------------------------------ tables


def _unit(seconds: float) -> tuple[str, float]:
    """The time unit a table shows, chosen by its total: s, ms or µs."""
    if seconds >= 1:
        return "s", 1.0
    if seconds >= 1e-3:
        return "ms", 1e3
    return "µs", 1e6


def intensity_text(x: float) -> str:
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    if x >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def _time(seconds: float, scale: float) -> Cell:
    return cell(f"{seconds * scale:.2f}", _ms(seconds))


def _bound(e: Estimate) -> Cell:
    return cell(e.bound if e.bound != "none" else "-", e.bound)


def _row(label: str, sc_kind: str | None, macs: int, t: Traffic, e: Estimate, whole: float, scale: float, kind: str,
         rule: bool = False) -> Row:
    sc_cell = Cell(SHORTCUT_LABELS[sc_kind], sc_kind, shortcut_markup(sc_kind)) if sc_kind else cell("")
    return Row((cell(label), sc_cell, num_cell(macs), bytes_cell(t.bytes),
                cell(intensity_text(t.arithmetic_intensity), t.arithmetic_intensity), _time(e.seconds, scale), _bound(e),
                share_cell(e.seconds, whole, zero=0.0)), rule_before=rule, kind=kind)


def device_text(r: RooflineReport) -> str:
    dev = r.device
    return (f"{r.device_label}, {r.traffic.dtype}: peak {human(dev.peak_flops)}FLOP/s, bandwidth {human(dev.bandwidth)}B/s; "
            f"ridge point {intensity_text(dev.ridge)} FLOP/B (peak / bandwidth): a layer below it waits on memory.")


def blocks_table(r: RooflineReport, collapse: bool | None = None, screen: Screen | None = None) -> TableDoc:
    """Per unit: MACs, bytes moved, FLOP/B, estimated time, bound, share (runs collapse as in ``summary``)."""
    a, net = r.analysis, r.traffic
    batch = net.batch
    est = _estimates(r)
    stem, head, whole = network_estimate(r, est)
    scale_name, scale = _unit(whole.seconds)
    w = whole.seconds
    if collapse is None:
        collapse = should_collapse(a, screen)
    rows = [_row("stem", None, a.stem.macs * batch, net.stem.traffic, stem, w, scale, "stem")]
    stage = 0
    i = 0
    for run in a.runs() if collapse else [None]:
        n = len(run.blocks) if run is not None else len(net.blocks)
        members = range(i, i + n)
        i += n
        if run is not None and n > 1:
            first, last = run.first.block, run.last.block
            t = sum_traffic(net.blocks[j].total for j in members)
            e = _sum_est(est[j][0] for j in members)
            rows.append(_row(run_label(first, last, n), first.shortcut, run.total.macs * batch, t, e, w, scale, "run",
                             rule=first.stage != stage))
            stage = first.stage
            continue
        for j in members:
            b = net.blocks[j]
            rows.append(_row(b.name, b.shortcut_kind, a.blocks[j].total.macs * batch, b.total, est[j][0], w, scale, "block",
                             rule=b.stage != stage))
            stage = b.stage
    rows.append(_row("head", None, a.head.macs * batch, net.head.traffic, head, w, scale, "head", rule=True))
    total = net.total
    rows.append(Row((cell("total"), cell(""), num_cell(a.total.macs * batch),
                     bytes_cell(total.bytes),
                     cell(intensity_text(total.arithmetic_intensity), total.arithmetic_intensity),
                     _time(whole.seconds, scale), _bound(whole), cell("100.0%", 1.0)),
                    style="bold", rule_before=True, kind="total"))
    cols = (Column("block", "name"), Column("shortcut", "shortcut", drop=2), Column("MACs", "macs", "right", drop=3),
            Column("bytes", "bytes", "right"), Column("FLOP/B", "arithmetic_intensity", "right"),
            Column(f"est. {scale_name}", "estimate_ms", "right"), Column("bound", "bound"),
            Column("% time", "time_share", "right", drop=1))
    notes = [device_text(r)]
    if collapse:
        notes.append("×N rows: runs of N identical blocks (run totals); --all-blocks shows every block.")
    notes += bound_notes(r, est)
    notes.append(totals_note(r, whole))
    details = (
        "bytes: the activations each layer reads (an add both operands; a zero-pad the subsample it keeps), the weights it "
        "reads (a batch norm's weight, bias, running mean and variance) and the output it writes, at the dtype; weights "
        "once per forward, activations per sample. FLOP/B: FLOPs / bytes, where FLOPs = 2 x conv and linear MACs plus one "
        "per element for adds, ReLUs and pools, two for an eval-mode batch norm.",
        "est.: each layer a kernel of its own, nothing fused: the sum over layers of max(FLOPs / peak, bytes / bandwidth). "
        "A block is memory-bound when its memory-bound layers take over half its estimated time. Kernel launches, caches "
        "and library efficiency are not modelled: real times are longer. See docs/roofline.md.",
    )
    title = f"{a.name}: roofline on {r.device_label}, {net.dtype}, batch {batch}"
    return TableDoc(title, cols, tuple(rows), tuple(notes), details)


def _sum_est(parts: Iterable[Estimate]) -> Estimate:
    out = Estimate()
    for e in parts:
        out = out + e
    return out


def _names(names: list[str]) -> str:
    if len(names) <= NAMES_SHOWN:
        return ", ".join(names)
    return ", ".join(names[:NAMES_SHOWN]) + f" and {len(names) - NAMES_SHOWN} more"


def _op_key(ly: Layer) -> str:
    if ly.op == "conv":
        return f"{ly.kernel_text} conv"
    return OP_LABELS.get(ly.op, ly.op)


def _op_short(ly: Layer) -> str:
    """The op's name in a compacted column: ``1x1``, ``BN``."""
    if ly.op == "conv":
        return ly.kernel_text
    return {"batch_norm": "BN", "adaptive_avg_pool2d": "avgpool", "max_pool": "maxpool", "avg_pool": "avgpool"}.get(ly.op, _op_key(ly))


def bound_notes(r: RooflineReport, est: list[tuple[Estimate, Estimate]]) -> list[str]:
    """Which units, shortcuts and (by op) layers are memory-bound."""
    blocks = r.traffic.blocks
    mem_blocks = [b.name for b, (e, _) in zip(blocks, est) if e.bound == "memory"]
    notes = []
    if blocks:
        if len(mem_blocks) == len(blocks):
            notes.append(f"Memory-bound blocks: all {len(blocks)}.")
        elif not mem_blocks:
            notes.append(f"Memory-bound blocks: none of {len(blocks)}.")
        elif 2 * len(mem_blocks) > len(blocks):
            others = [b.name for b, (e, _) in zip(blocks, est) if e.bound != "memory"]
            notes.append(f"Memory-bound blocks: {len(mem_blocks)} of {len(blocks)}, all but {_names(others)}.")
        else:
            notes.append(f"Memory-bound blocks: {len(mem_blocks)} of {len(blocks)}: {_names(mem_blocks)}.")
    with_short = [(b, se) for b, (_, se) in zip(blocks, est) if b.shortcut_layers]
    if with_short:
        mem_short = [b.name for b, se in with_short if se.bound == "memory"]
        kinds = sorted({SHORTCUT_LABELS[b.shortcut_kind] for b, _ in with_short})
        what = f"{' and '.join(kinds)} shortcuts"
        share = sum(se.seconds for _, se in with_short)
        total = sum(e.seconds for e, _ in est)
        listed = _names(mem_short) if 0 < len(mem_short) < len(with_short) else ""
        count = "all" if len(mem_short) == len(with_short) else f"{len(mem_short) or 'none'} of"
        notes.append(f"Memory-bound {what}: {count} {len(with_short)}{': ' + listed if listed else ''}"
                     f" ({percent(share, total)} of the block time, "
                     f"{percent(sum(b.shortcut_flops for b, _ in with_short), sum(b.flops for b in blocks))} of the block FLOPs).")
    notes.append(_layer_note(r))
    return notes


def _layer_note(r: RooflineReport) -> str:
    """Memory-bound layers by op (``batch norm 53/53, 1x1 conv 20/36``), and their share of the time."""
    counts: Counter[str] = Counter()
    memory: Counter[str] = Counter()
    spent = whole = 0.0
    seen: dict[BlockKey, tuple[Counter[str], Counter[str], float, float]] = {}
    a = r.analysis
    parts = [(a.plan.stem, r.traffic.stem.layers), (a.plan.head, r.traffic.head.layers)]
    for ly_list, ts in parts:
        c, m, s, w = _tally_layers(ly_list, ts, r.device)
        counts += c
        memory += m
        spent += s
        whole += w
    for blk, bt in zip(a.plan.blocks, r.traffic.blocks):
        key = blk.key
        if key not in seen:
            seen[key] = _tally_layers((*blk.main_template, *blk.shortcut_template), bt.layers, r.device)
        c, m, s, w = seen[key]
        counts.update(c)
        memory.update(m)
        spent += s
        whole += w
    ordered = sorted(counts, key=lambda k: (-memory[k] / counts[k], -counts[k], k))
    by_op = ", ".join(f"{k} {memory[k]}/{counts[k]}" for k in ordered)
    n_mem, n = sum(memory.values()), sum(counts.values())
    return (f"Memory-bound layers: {n_mem} of {n}, {percent(spent, whole)} of the estimated time; by op: {by_op}.")


def _tally_layers(layers: Any, traffic: Any, device: Device) -> tuple[Counter[str], Counter[str], float, float]:
    counts: Counter[str] = Counter()
    memory: Counter[str] = Counter()
    spent = whole = 0.0
    for ly, t in zip(layers, traffic):
        e = roofline(t, device)
        key = _op_key(ly)
        counts[key] += 1
        whole += e.seconds
        if e.bound == "memory":
            memory[key] += 1
            spent += e.seconds
    return counts, memory, spent, whole


def totals_note(r: RooflineReport, whole: Estimate) -> str:
    total = r.traffic.total
    return (f"Total: {human(total.flops)}FLOP, {human_bytes(total.bytes)} moved ({human_bytes(total.weights)} of weights, "
            f"read once per batch); estimated {whole.seconds * 1e3:.4g} ms, against {whole.compute_seconds * 1e3:.4g} ms "
            f"at peak FLOP/s alone and {whole.memory_seconds * 1e3:.4g} ms at full bandwidth alone.")


def layers_table(r: RooflineReport) -> TableDoc:
    """Every layer: where it is (a shortcut's layers marked), op, MACs, bytes, FLOP/B, estimate, bound, share."""
    rows: list[Row] = []
    _, _, whole = network_estimate(r)
    found = [(row, roofline(row.traffic, r.device)) for row in layer_rows(r.analysis, r.traffic.dtype, r.traffic.batch)]
    scale_name, scale = _unit(max((e.seconds for _, e in found), default=0.0))  # by the longest layer
    w = whole.seconds
    last = None
    for row, e in found:
        ly, t = row.layer, row.traffic
        group = row.block or row.part
        macs = t.flops // 2 if ly.op in ("conv", "linear") else 0
        path = "shortcut" if row.part == "shortcut" else ""
        rows.append(Row((
            cell(ly.name), Cell(path, row.part, shortcut_markup("projection", path) if path else None, "sc" if path else ""),
            cell(_op_key(ly), ly.op, short=_op_short(ly)),
            num_cell(macs), bytes_cell(t.bytes),
            cell(intensity_text(t.arithmetic_intensity), t.arithmetic_intensity), _time(e.seconds, scale), _bound(e),
            share_cell(e.seconds, w, zero=0.0),
        ), rule_before=last is not None and group != last, kind=row.part))
        last = group
    cols = (Column("layer", "name"), Column("path", "path", compact=4), Column("op", "op", compact=3),
            Column("MACs", "macs", "right", drop=2),
            Column("bytes", "bytes", "right"), Column("FLOP/B", "arithmetic_intensity", "right"),
            Column(f"est. {scale_name}", "estimate_ms", "right"), Column("bound", "bound"),
            Column("% time", "time_share", "right", drop=1))
    notes = (device_text(r), "path: shortcut (sc on a narrow terminal) marks the layers of a shortcut path (a projection's conv and BN, a "
             "zero-pad); the addition that joins the paths is on the main path.")
    return TableDoc(f"{r.analysis.name}: roofline per layer on {r.device_label}, {r.traffic.dtype}, batch {r.traffic.batch}",
                    cols, tuple(rows), notes)


def docs(r: RooflineReport, collapse: bool | None = None, screen: Screen | None = None) -> list[TableDoc]:
    out = [blocks_table(r, collapse, screen)]
    if r.layers:
        out.append(layers_table(r))
    return out


def memory_bound_projections(r: RooflineReport) -> list[str]:
    """Names of the units whose projection shortcut is memory-bound on the report's device."""
    return [b.name for b, (_, se) in zip(r.traffic.blocks, _estimates(r))
            if is_projection(b.shortcut_kind) and se.bound == "memory"]
