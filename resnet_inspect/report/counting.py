"""The ``counting`` report: the number each peer tool prints for this network, its breakdown, how
it differs from ours, and the paper's stride placement. Formatting only; the numbers come from
``resnet_inspect.conventions`` (and ``counts`` for the paper's variant).

JSON (docs/counting.md, ``schema_version`` 1): ``conventions`` maps each tool's key to the integer
it prints (../shared/design.md); ``breakdown`` and ``differs`` are additions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from ..conventions import CATEGORIES, DIFFERS, TOOL_TEXT, ConventionCounts
from ..counts import Analysis
from ..units import human, percent
from .summary import source_json, spec_json
from .tables import Column, Row, TableDoc, cell, diff_cell, exact_cell, num_cell

SCHEMA_VERSION: Final = 1


@dataclass(frozen=True)
class PaperPlacement:
    """A bottleneck network's MACs with the stride on the first 1x1 conv (He et al. 2015, "v1") and
    on the 3x3 conv (torchvision, "v1.5")."""

    given: str
    v1_macs: int
    v1_5_macs: int


@dataclass(frozen=True)
class CountingReport:
    analysis: Analysis
    counts: tuple[ConventionCounts, ...]
    paper: PaperPlacement | None = None


def to_json(r: CountingReport) -> dict[str, Any]:
    a = r.analysis
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION, "spec": spec_json(a), "source": source_json(a),
        "ours": {"macs": a.total.macs, "flops": a.total.flops},
        "conventions": {c.name: c.total for c in r.counts},
        "breakdown": {c.name: dict(c.by_category) for c in r.counts},
        "differs": {c.name: DIFFERS[c.name] for c in r.counts},
    }
    if r.paper is not None:
        p = r.paper
        doc["paper"] = {"stride_in": p.given, "v1_macs": p.v1_macs, "v1_5_macs": p.v1_5_macs,
                        "difference": p.v1_5_macs - p.v1_macs}
    return doc


def table(r: CountingReport) -> TableDoc:
    """One row per tool: its total, how far from ours, its breakdown, and the reason in words.
    Categories no tool counts here are left out; on a narrow terminal the breakdown gives way
    (bias, the exact totals, then pooling, relu and add); the rounded totals stay."""
    ours = r.analysis.total.macs
    used = {k for c in r.counts for k, v in c.by_category.items() if v}
    rank = {"bias": 1, "pooling": 3, "relu": 3, "add": 3, "linear": 4, "batch_norm": 4, "conv": 5}
    cols = [Column("tool", "convention"), Column("prints", "total", "right"), Column("exact", "exact", "right", drop=2),
            Column("Δ vs ours", "vs_ours", "right"),
            *(Column(k.replace("_", " "), k, "right", drop=rank[k]) for k in CATEGORIES if k in used)]
    rows = []
    for c in r.counts:
        rows.append(Row((cell(c.name, c.name), num_cell(c.total), exact_cell(c.total), diff_cell(c.total - ours),
                         *(num_cell(c.by_category.get(k, 0)) for k in CATEGORIES if k in used)),
                        kind="convention"))
    notes = [f"ours: {ours:,} MACs ({human(ours)}: conv and FC multiply-adds, batch 1), as torchvision publishes them; "
             "every tool's number is reproduced exactly from the shapes, without torch."]
    unused = [k.replace("_", " ") for k in CATEGORIES if k not in used]
    if unused:
        notes.append(f"no tool counts {', '.join(unused)} here (0 in every breakdown; in the JSON).")
    if r.paper is not None:
        notes.append(_paper_note(r.paper))
    details = tuple(f"{c.name} ({TOOL_TEXT[c.name]}): {DIFFERS[c.name]}" for c in r.counts)
    return TableDoc(f"{r.analysis.name}: what each counter prints", tuple(cols), tuple(rows), tuple(notes),
                    (*details, "See docs/counting.md."))


def _paper_note(p: PaperPlacement) -> str:
    diff = p.v1_5_macs - p.v1_macs
    return (f"the paper (He et al. 2015) puts a bottleneck's stride on the first 1x1 conv (v1): {human(p.v1_macs)} MACs; "
            f"torchvision's 3x3 placement (v1.5) costs {human(p.v1_5_macs)}, {'+' if diff >= 0 else ''}{human(diff)} "
            f"({percent(diff, p.v1_macs)}); this spec uses {p.given}.")
