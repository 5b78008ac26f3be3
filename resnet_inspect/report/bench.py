"""The ``bench`` report: measured milliseconds beside analytic MACs and a roofline estimate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..benchdata import BenchReport, BlockTiming, Timing
from ..plan import is_projection
from ..traffic import Agreement, Estimate, agreement, estimate, network_traffic
from ..units import human, percent
from .style import SHORTCUT_LABELS, shortcut_markup
from .summary import spec_json
from .tables import Cell, Column, Row, TableDoc, cell


def _ms(t: Timing | None) -> Cell:
    if t is None:
        return cell("")
    return cell(f"{t.median_ms:.3f} ± {t.iqr_ms / 2:.3f}", round(t.median_ms, 6))


#: The dtype the bench builds and times its models in, and so of its estimates.
BENCH_DTYPE = "fp32"


@dataclass(frozen=True)
class Estimates:
    """Roofline estimates of the network, each timed block and its shortcut, at the bench's batch
    and the report's peak, and how the measured block times agree with them."""

    network: Estimate
    blocks: dict[str, tuple[Estimate, Estimate]]
    agreement: Agreement | None


def estimates(r: BenchReport) -> Estimates | None:
    """The roofline beside the timings (None without a peak: a report made before it existed)."""
    if r.peak is None:
        return None
    dev = r.peak.device
    net = network_traffic(r.analysis, BENCH_DTYPE, r.batch)
    whole = estimate(net.layers(), dev)
    by_name = {b.name: b for b in net.blocks}
    blocks: dict[str, tuple[Estimate, Estimate]] = {}
    for b in r.blocks:
        bt = by_name.get(b.name)
        if bt is not None:
            blocks[b.name] = (estimate(bt.layers, dev), estimate(bt.shortcut_layers, dev))
    timed = [b for b in r.blocks if b.name in blocks]
    agree = agreement([b.block.median_ms for b in timed], [blocks[b.name][0].ms for b in timed])
    return Estimates(whole, blocks, agree)


def _ratio(measured_ms: float, e: Estimate | None) -> float | None:
    return measured_ms / e.ms if e is not None and e.seconds > 0 else None


def _estimate_json(b: BlockTiming, est: Estimates | None) -> dict[str, Any] | None:
    if est is None or b.name not in est.blocks:
        return None
    e, se = est.blocks[b.name]
    return {"ms": float(f"{e.ms:.6g}"), "bound": e.bound, "shortcut_ms": float(f"{se.ms:.6g}"), "shortcut_bound": se.bound}


def _agreement_json(est: Estimates | None) -> dict[str, Any] | None:
    if est is None or est.agreement is None:
        return None
    g = est.agreement
    return {"blocks": g.n, "geomean_ratio": round(g.geomean_ratio, 4), "min_ratio": round(g.min_ratio, 4),
            "max_ratio": round(g.max_ratio, 4), "spearman": round(g.spearman, 4) if g.spearman is not None else None}


def to_json(r: BenchReport) -> dict[str, Any]:
    base = next((o for o in r.options if o.option == "A"), None)
    est = estimates(r)
    network_ratio = _ratio(r.network.median_ms, est.network) if est is not None else None
    return {
        "schema_version": 1,
        "spec": spec_json(r.analysis),
        "environment": {"device": r.device, "device_name": r.device_name, "torch": r.torch_version,
                        "threads": r.threads, "batch": r.batch},
        "peak": r.peak.to_json() if r.peak is not None else None,
        "network": {"forward": r.network.to_json(), "macs": r.analysis.total.macs, "params": r.analysis.total.params,
                    "estimate_ms": float(f"{est.network.ms:.6g}") if est is not None else None,
                    "measured_vs_estimate": round(network_ratio, 4) if network_ratio is not None else None},
        "options": [
            {"shortcut": o.option, "params": o.params, "macs": o.macs, "forward": o.forward.to_json(),
             "forward_backward": o.backward.to_json() if o.backward else None,
             "forward_vs_A": (o.forward.median_ms / base.forward.median_ms) if base else None}
            for o in r.options
        ],
        "blocks": [
            {"name": b.name, "shortcut": b.shortcut, "macs": {"main": b.macs_main, "shortcut": b.macs_shortcut},
             "block": b.block.to_json(), "shortcut_module": b.shortcut_module.to_json() if b.shortcut_module else None,
             "shortcut_time_share": b.shortcut_share, "estimate": _estimate_json(b, est),
             "measured_vs_estimate": _block_ratio(b, est)}
            for b in r.blocks
        ],
        "agreement": _agreement_json(est),
    }


def _block_ratio(b: BlockTiming, est: Estimates | None) -> float | None:
    ratio = _ratio(b.block.median_ms, est.blocks[b.name][0]) if est is not None and b.name in est.blocks else None
    return round(ratio, 4) if ratio is not None else None


def tables(r: BenchReport) -> list[TableDoc]:
    env = (f"{r.device} ({r.device_name}), torch {r.torch_version}, {r.threads} threads, batch {r.batch}; "
           "median ± half the interquartile range over repeated timed runs after warm-up (torch.utils.benchmark).")
    docs: list[TableDoc] = []
    if r.options:
        base = next((o for o in r.options if o.option == "A"), r.options[0])
        cols = [Column("shortcut", "shortcut"), Column("params", "params", "right"), Column("MACs", "macs", "right"),
                Column("forward ms", "forward_ms", "right"), Column(f"vs {base.option}", "forward_vs_base", "right")]
        if r.backward:
            cols.append(Column("fwd+bwd ms", "forward_backward_ms", "right"))
        rows = []
        for o in r.options:
            cells = [cell(o.option), cell(human(o.params), o.params), cell(human(o.macs), o.macs), _ms(o.forward),
                     cell(f"{o.forward.median_ms / base.forward.median_ms:.2f}x", round(o.forward.median_ms / base.forward.median_ms, 4))]
            if r.backward:
                cells.append(_ms(o.backward))
            rows.append(Row(tuple(cells), kind="option"))
        docs.append(TableDoc(f"{r.analysis.name}: whole network per shortcut option" if r.spec is not None or r.analysis.plan.source == "spec"
                             else f"{r.analysis.name}: whole network", tuple(cols), tuple(rows), (env,)))
    if r.blocks:
        est = estimates(r)
        total_ms = sum(b.block.median_ms for b in r.blocks)
        # On a narrow terminal the shares give way (MACs share first), then the estimate's ratio and the
        # shortcut's share; times and MACs stay.
        block_cols = (Column("block", "name"), Column("shortcut", "shortcut"), Column("MACs", "macs", "right"),
                Column("MACs share", "macs_share", "right", drop=1), Column("block ms", "block_ms", "right"),
                Column("time share", "time_share", "right", drop=2), Column("est. ms", "estimate_ms", "right", drop=5),
                Column("× est.", "measured_vs_estimate", "right", drop=4), Column("shortcut ms", "shortcut_ms", "right"),
                Column("shortcut / block", "shortcut_time_share", "right", drop=3))
        macs_total = sum(b.macs_main + b.macs_shortcut for b in r.blocks)
        block_rows: list[Row] = []
        for b in r.blocks:
            macs = b.macs_main + b.macs_shortcut
            share = b.shortcut_share
            e = est.blocks.get(b.name) if est is not None else None
            ratio = _block_ratio(b, est)
            block_rows.append(Row((
                cell(b.name), Cell(SHORTCUT_LABELS[b.shortcut], b.shortcut, shortcut_markup(b.shortcut)),
                cell(human(macs), macs), cell(percent(macs, macs_total), round(macs / macs_total, 6) if macs_total else 0),
                _ms(b.block), cell(percent(b.block.median_ms, total_ms), round(b.block.median_ms / total_ms, 6) if total_ms else 0),
                cell(f"{e[0].ms:.3f}", float(f"{e[0].ms:.6g}")) if e is not None else cell(""),
                cell(f"{ratio:.1f}x", ratio) if ratio is not None else cell(""),
                _ms(b.shortcut_module), cell(f"{100 * share:.0f}%" if share is not None else "", share),
            ), kind="block"))
        proj = [b for b in r.blocks if b.shortcut_module is not None and is_projection(b.shortcut)]
        notes = [f"network forward {r.network.median_ms:.3f} ms; blocks timed one by one on inputs of their own shape."]
        notes += estimate_notes(r, est)
        if proj:
            spent = sum(b.shortcut_module.median_ms for b in proj if b.shortcut_module)
            macs = sum(b.macs_shortcut for b in proj)
            notes.append(
                f"{len(proj)} projection shortcuts: {spent:.3f} ms of {total_ms:.3f} ms block time "
                f"({percent(spent, total_ms)}) for {percent(macs, macs_total)} of the block MACs."
            )
        docs.append(TableDoc(f"{r.analysis.name}: per block", block_cols, tuple(block_rows), tuple(notes)))
    return docs


def estimate_notes(r: BenchReport, est: Estimates | None) -> list[str]:
    """Where the peak comes from, and how measured times agree with the roofline estimates."""
    if r.peak is None or est is None:
        return []
    p = r.peak
    notes = [f"est. ms: roofline estimate, each layer a kernel of its own (docs/roofline.md), {BENCH_DTYPE}, "
             f"peak {human(p.flops)}FLOP/s, bandwidth {human(p.bandwidth)}B/s, ridge {p.flops / p.bandwidth:.1f} FLOP/B; {p.detail}."]
    g = est.agreement
    ratio = _ratio(r.network.median_ms, est.network)
    network = (f" Network forward: {r.network.median_ms:.3f} ms measured, {est.network.ms:.3f} ms estimated"
               f" ({ratio:.1f}x)." if ratio is not None else "")
    if g is not None:
        rho = f", rank correlation {g.spearman:.2f}" if g.spearman is not None else ""
        notes.append(f"× est.: measured / estimate; over {g.n} blocks geometric mean {g.geomean_ratio:.2f}x "
                     f"({g.min_ratio:.2f}x to {g.max_ratio:.2f}x){rho}.{network}")
    elif network:
        notes.append(network.strip())
    return notes
