"""The ``memory`` report: training memory in totals and per unit, the largest batch for a budget,
and a measurement beside the prediction. Formatting only; the numbers come from
``resnet_inspect.memory`` (and ``resnet_inspect.nn.memory`` for ``--measure``).

JSON keys (docs/memory.md, ``schema_version`` 1): ``activations_bytes``, ``params_bytes``,
``grads_bytes``, ``optimizer_bytes``, ``total_bytes`` and ``blocks[].activations_bytes``, all
integers, as ../shared/design.md fixes them; the rest are additions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from ..counts import Analysis
from ..memory import OPTIMIZER_STATES, Memory, UnitSaved
from ..units import human, human_bytes, ratio_percent
from .layout import Screen
from .style import SHORTCUT_LABELS, shortcut_markup
from .summary import run_label, should_collapse, source_json, spec_json
from .tables import Cell, Column, Row, TableDoc, bytes_cell, cell, exact_cell, share_cell

SCHEMA_VERSION: Final = 1
OPTIMIZER_TEXT: Final = {"sgd": "SGD (no state)", "momentum": "SGD with momentum (1 buffer per parameter)",
                         "adam": "Adam (2 moments per parameter)", "adamw": "AdamW (2 moments per parameter)"}


@dataclass(frozen=True)
class Measured:
    """What ``--measure`` found: saved bytes (per unit too), and the CUDA peak where there is one."""

    saved_bytes: int
    blocks: dict[str, int]
    stem: int
    head: int
    device: str
    peak_cuda_bytes: int | None = None


@dataclass(frozen=True)
class MemoryReport:
    analysis: Analysis
    memory: Memory
    fit_budget: int | None = None
    fit_batch: int | None = None
    measured: Measured | None = None


def _unit_json(u: UnitSaved, a: Analysis, batch: int) -> dict[str, Any]:
    blk = a.block(u.name).block
    return {"name": u.name, "stage": blk.stage, "index": blk.index, "shortcut": blk.shortcut,
            "activations_bytes": u.saved.at(batch), "shortcut_activations_bytes": u.shortcut.at(batch)}


def to_json(r: MemoryReport) -> dict[str, Any]:
    m, a = r.memory, r.analysis
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION, "spec": spec_json(a), "source": source_json(a),
        "batch": m.batch, "dtype": m.dtype, "optimizer": m.optimizer,
        "activations_bytes": m.activations_bytes, "params_bytes": m.params_bytes, "grads_bytes": m.grads_bytes,
        "optimizer_bytes": m.optimizer_bytes, "total_bytes": m.total_bytes,
        "activations_per_sample_bytes": m.saved.total.per_sample,
        "stem": {"activations_bytes": m.saved.stem.at(m.batch)},
        "blocks": [_unit_json(u, a, m.batch) for u in m.saved.blocks],
        "head": {"activations_bytes": m.saved.head.at(m.batch)},
    }
    if r.fit_budget is not None:
        doc["fit"] = {"budget_bytes": r.fit_budget, "batch": r.fit_batch}
    if r.measured is not None:
        ms = r.measured
        doc["measured"] = {"device": ms.device, "activations_bytes": ms.saved_bytes,
                           "error": round((m.activations_bytes - ms.saved_bytes) / ms.saved_bytes, 6) if ms.saved_bytes else None,
                           "blocks": dict(ms.blocks), "stem": ms.stem, "head": ms.head, "peak_cuda_bytes": ms.peak_cuda_bytes}
    return doc


def totals_table(r: MemoryReport) -> TableDoc:
    m = r.memory
    total = m.total_bytes
    states = OPTIMIZER_STATES[m.optimizer]
    parts = (
        ("saved activations", m.activations_bytes, f"what autograd keeps for backward, batch {m.batch}"),
        ("weights", m.params_bytes, f"{human(m.params)} params x {m.params_bytes // max(m.params, 1)} bytes"),
        ("gradients", m.grads_bytes, "one per parameter"),
        ("optimizer state", m.optimizer_bytes, f"{states} buffer{'s' if states > 1 else ''} per parameter" if states else "none (plain SGD)"),
    )
    rows = [Row((cell(what), bytes_cell(n), exact_cell(n), share_cell(n, total),
                 cell(why)), kind="term") for what, n, why in parts]
    rows.append(Row((cell("total"), bytes_cell(total), exact_cell(total), cell("100.0%", 1.0), cell("")),
                    style="bold", rule_before=True, kind="total"))
    cols = (Column("", "what"), Column("size", "size", "right"), Column("bytes", "bytes", "right", drop=2),
            Column("share", "share", "right", drop=1), Column("what it is", "detail", wrap=True))
    notes = [f"{m.dtype}, {OPTIMIZER_TEXT[m.optimizer]}; activations grow with the batch "
             f"({human_bytes(m.saved.total.per_sample)} per sample), the rest does not."]
    if r.fit_budget is not None:
        notes.append(_fit_note(r))
    title = f"{r.analysis.name}: training memory at batch {m.batch}, {m.dtype}, {m.optimizer}"
    details = (
        "Saved activations: conv and linear inputs, batch-norm inputs and 4 per-channel statistics, ReLU outputs "
        "(in place), max-pool inputs and int64 indices; each storage once (a unit's output saved by its ReLU and "
        "the next conv counts once). Not counted: the allocator's caching and fragmentation, workspace of conv "
        "algorithms, the gradients of activations during backward, and mixed-precision master weights.",
        "See docs/memory.md.",
    )
    return TableDoc(title, cols, tuple(rows), tuple(notes), details)


def _fit_note(r: MemoryReport) -> str:
    budget, batch = r.fit_budget or 0, r.fit_batch or 0
    if batch == 0:
        return f"--fit {human_bytes(budget)}: not even batch 1 fits ({human_bytes(r.memory.total_bytes)} at batch {r.memory.batch})."
    return f"--fit {human_bytes(budget)}: the largest batch that fits is {batch:,}."


def blocks_table(r: MemoryReport, collapse: bool | None = None, screen: Screen | None = None) -> TableDoc:
    """Saved activations per unit (runs of identical units collapse as in ``summary``)."""
    m, a = r.memory, r.analysis
    batch = m.batch
    whole = m.activations_bytes
    by_name = {u.name: u for u in m.saved.blocks}
    if collapse is None:
        collapse = should_collapse(a, screen)
    rows = [_mem_row("stem", m.saved.stem.at(batch), None, whole, "stem")]
    for run in a.runs() if collapse else [None]:
        units = [by_name[b.block.name] for b in run.blocks] if run is not None else list(m.saved.blocks)
        if run is not None and len(units) > 1:
            first, last = run.first.block, run.last.block
            saved = sum(u.saved.at(batch) for u in units)
            sc = sum(u.shortcut.at(batch) for u in units)
            rows.append(_mem_row(run_label(first, last, len(units)), saved, sc, whole, "run", first.shortcut,
                                 rule=first.stage != _stage_of(rows, a)))
            continue
        for u in units:
            blk = a.block(u.name).block
            rows.append(_mem_row(u.name, u.saved.at(batch), u.shortcut.at(batch), whole, "block", blk.shortcut,
                                 rule=blk.stage != _stage_of(rows, a)))
    rows.append(_mem_row("head", m.saved.head.at(batch), None, whole, "head", rule=True))
    rows.append(Row((cell("total"), cell(""), bytes_cell(whole), bytes_cell(sum(u.shortcut.at(batch) for u in m.saved.blocks)),
                     cell("100.0%", 1.0)), style="bold", rule_before=True, kind="total"))
    cols = (Column("block", "name"), Column("shortcut", "shortcut"), Column("saved activations", "activations_bytes", "right"),
            Column("by the shortcut", "shortcut_activations_bytes", "right"), Column("% of saved", "share", "right", drop=1))
    notes = ["×N rows: runs of N identical blocks (run totals); --all-blocks shows every block."] if collapse else []
    notes.append("by the shortcut: what a projection's conv and BN save beyond the main path (an identity saves nothing).")
    return TableDoc(f"{a.name}: saved activations per block, batch {batch}, {m.dtype}", cols, tuple(rows), tuple(notes))


def _stage_of(rows: list[Row], a: Analysis) -> int:
    """The stage of the last unit row so far (0 before any), to rule between stages."""
    for row in reversed(rows):
        if row.kind in ("block", "run"):
            name = str(row.cells[0].text).split("–")[0]
            return a.block(name).block.stage
    return 0


def _mem_row(label: str, saved: int, shortcut: int | None, whole: int, kind: str, sc_kind: str | None = None,
             rule: bool = False) -> Row:
    sc_cell = Cell(SHORTCUT_LABELS[sc_kind], sc_kind, shortcut_markup(sc_kind)) if sc_kind else cell("")
    return Row((cell(label), sc_cell, bytes_cell(saved), bytes_cell(shortcut) if shortcut is not None else cell(""),
                share_cell(saved, whole)), rule_before=rule, kind=kind)


def measured_table(r: MemoryReport) -> TableDoc | None:
    ms = r.measured
    if ms is None:
        return None
    m = r.memory
    err = (m.activations_bytes - ms.saved_bytes) / ms.saved_bytes if ms.saved_bytes else 0.0
    rows = [Row((cell("saved activations"), bytes_cell(m.activations_bytes), bytes_cell(ms.saved_bytes),
                 cell(ratio_percent(err, 3, signed=True), round(err, 6)), cell(f"{m.activations_bytes:,}"), cell(f"{ms.saved_bytes:,}")),
                kind="measured")]
    if ms.peak_cuda_bytes is not None:
        perr = (m.total_bytes - ms.peak_cuda_bytes) / ms.peak_cuda_bytes if ms.peak_cuda_bytes else 0.0
        rows.append(Row((cell("CUDA peak (one step)"), bytes_cell(m.total_bytes), bytes_cell(ms.peak_cuda_bytes),
                         cell(ratio_percent(perr, 3, signed=True), round(perr, 6)), cell(f"{m.total_bytes:,}"),
                         cell(f"{ms.peak_cuda_bytes:,}")), kind="measured"))
    cols = (Column("", "what"), Column("predicted", "predicted", "right"), Column("measured", "measured", "right"),
            Column("error", "error", "right"), Column("predicted bytes", "predicted_bytes", "right", drop=1),
            Column("measured bytes", "measured_bytes", "right", drop=1))
    notes = (f"measured on {ms.device}: one training-mode forward of the built module at batch {m.batch}, {m.dtype}; "
             "every saved tensor that is not a parameter, once per storage (torch.autograd.graph.saved_tensors_hooks).",)
    return TableDoc(f"{r.analysis.name}: predicted vs measured", cols, tuple(rows), notes)


def docs(r: MemoryReport, collapse: bool | None = None, screen: Screen | None = None) -> list[TableDoc]:
    out = [totals_table(r), blocks_table(r, collapse, screen)]
    measured = measured_table(r)
    if measured is not None:
        out.append(measured)
    return out
