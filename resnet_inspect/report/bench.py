"""The ``bench`` report: measured milliseconds beside analytic MACs."""

from __future__ import annotations

from typing import Any

from ..bench import BenchReport, Timing
from ..units import human, percent
from .style import SHORTCUT_LABELS, shortcut_markup
from .summary import spec_json
from .tables import Cell, Column, Row, TableDoc, cell


def _ms(t: Timing | None) -> Cell:
    if t is None:
        return cell("")
    return cell(f"{t.median_ms:.3f} ± {t.iqr_ms / 2:.3f}", round(t.median_ms, 6))


def to_json(r: BenchReport) -> dict[str, Any]:
    base = next((o for o in r.options if o.option == "A"), None)
    return {
        "schema_version": 1,
        "spec": spec_json(r.analysis),
        "environment": {"device": r.device, "device_name": r.device_name, "torch": r.torch_version,
                        "threads": r.threads, "batch": r.batch},
        "network": {"forward": r.network.to_json(), "macs": r.analysis.total.macs, "params": r.analysis.total.params},
        "options": [
            {"shortcut": o.option, "params": o.params, "macs": o.macs, "forward": o.forward.to_json(),
             "forward_backward": o.backward.to_json() if o.backward else None,
             "forward_vs_A": (o.forward.median_ms / base.forward.median_ms) if base else None}
            for o in r.options
        ],
        "blocks": [
            {"name": b.name, "shortcut": b.shortcut, "macs": {"main": b.macs_main, "shortcut": b.macs_shortcut},
             "block": b.block.to_json(), "shortcut_module": b.shortcut_module.to_json() if b.shortcut_module else None,
             "shortcut_time_share": b.shortcut_share}
            for b in r.blocks
        ],
    }


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
        total_ms = sum(b.block.median_ms for b in r.blocks)
        # On a narrow terminal the shares give way (MACs share first); times and MACs stay.
        block_cols = (Column("block", "name"), Column("shortcut", "shortcut"), Column("MACs", "macs", "right"),
                Column("MACs share", "macs_share", "right", drop=1), Column("block ms", "block_ms", "right"),
                Column("time share", "time_share", "right", drop=2), Column("shortcut ms", "shortcut_ms", "right"),
                Column("shortcut / block", "shortcut_time_share", "right", drop=3))
        macs_total = sum(b.macs_main + b.macs_shortcut for b in r.blocks)
        block_rows: list[Row] = []
        for b in r.blocks:
            macs = b.macs_main + b.macs_shortcut
            share = b.shortcut_share
            block_rows.append(Row((
                cell(b.name), Cell(SHORTCUT_LABELS[b.shortcut], b.shortcut, shortcut_markup(b.shortcut)),
                cell(human(macs), macs), cell(percent(macs, macs_total), round(macs / macs_total, 6) if macs_total else 0),
                _ms(b.block), cell(percent(b.block.median_ms, total_ms), round(b.block.median_ms / total_ms, 6) if total_ms else 0),
                _ms(b.shortcut_module), cell(f"{100 * share:.0f}%" if share is not None else "", share),
            ), kind="block"))
        proj = [b for b in r.blocks if b.shortcut_module is not None and b.shortcut in ("projection", "avgpool_projection")]
        notes = [f"network forward {r.network.median_ms:.3f} ms; blocks timed one by one on inputs of their own shape."]
        if proj:
            spent = sum(b.shortcut_module.median_ms for b in proj if b.shortcut_module)
            macs = sum(b.macs_shortcut for b in proj)
            notes.append(
                f"{len(proj)} projection shortcuts: {spent:.3f} ms of {total_ms:.3f} ms block time "
                f"({percent(spent, total_ms)}) for {percent(macs, macs_total)} of the block MACs."
            )
        docs.append(TableDoc(f"{r.analysis.name}: per block", block_cols, tuple(block_rows), tuple(notes)))
    return docs
