"""The ``compare`` report: tables (terminal, Markdown for a pull-request comment, CSV) and JSON.

Formatting only: every number comes from ``resnet_inspect.compare.Comparison``. Differences are
B - A and relative changes are relative to A, as there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Final

from ..budget import LIMITS, CheckResult
from ..compare import BlockDiff, Comparison, Delta, Metrics
from ..units import percent, ratio_percent, signed_human
from .layout import Screen
from .style import CONVENTION, SHORTCUT_LABELS
from .summary import convention_notes, shape_text, source_json, spec_json
from .tables import Cell, Column, Row, TableDoc, cell, diff_cell, md_escape, num_cell, to_markdown

SCHEMA_VERSION: Final = 1


def relative_text(d: Delta) -> str:
    """``+5.1%``, ``-100.0%``, ``0.0%``; ``new`` when A is 0 and B is not."""
    rel = d.relative
    if rel is None:
        return "new"
    if rel == 0:
        return "0.0%"
    return ratio_percent(rel, signed=True)


def _delta_json(d: Delta) -> dict[str, Any]:
    return {"a": d.a, "b": d.b, "diff": d.diff, "relative": d.relative}


def _metrics_json(m: Metrics) -> dict[str, Any]:
    return {
        "params": _delta_json(m.params), "macs": _delta_json(m.macs), "activations": _delta_json(m.activations),
        "shortcut_params": _delta_json(m.shortcut_params), "shortcut_macs": _delta_json(m.shortcut_macs),
    }


def _shape_json(shape: tuple[int, int, int] | None) -> list[int] | None:
    return list(shape) if shape is not None else None


def to_json(c: Comparison, convention: str | None = None) -> dict[str, Any]:
    """The ``compare --format json`` document: every difference as ``{a, b, diff, relative}``
    (``relative`` is ``(b - a) / a``, ``null`` when a is 0 and b is not)."""
    t = c.totals
    blocks = None
    if c.blocks is not None:
        blocks = [
            {
                "name": b.name, "stage": b.stage, "index": b.index, "changed": b.changed(),
                "shortcut": {"a": b.shortcut_a, "b": b.shortcut_b},
                "out_shape": {"a": list(b.out_shape_a), "b": list(b.out_shape_b)},
                **_metrics_json(b.metrics),
            }
            for b in c.blocks
        ]
    return {
        "schema_version": SCHEMA_VERSION,
        "convention": convention or "ours",
        "a": {"label": c.label_a, "spec": spec_json(c.a), "source": source_json(c.a)},
        "b": {"label": c.label_b, "spec": spec_json(c.b), "source": source_json(c.b)},
        "totals": {
            **_metrics_json(t.metrics),
            "flops": _delta_json(Delta(c.a.total.flops, c.b.total.flops)),
            "blocks": _delta_json(t.blocks), "depth": _delta_json(t.depth),
            "projections": _delta_json(t.projections),
            "shortcuts": {k: _delta_json(d) for k, d in t.shortcuts},
        },
        "stages": [
            {
                "stage": s.stage, "in_a": s.in_a, "in_b": s.in_b, "blocks": _delta_json(s.blocks),
                **_metrics_json(s.metrics),
                "shortcuts": {k: _delta_json(d) for k, d in s.shortcuts},
                "out_shape": {"a": _shape_json(s.out_shape_a), "b": _shape_json(s.out_shape_b)},
            }
            for s in c.stages
        ],
        "blocks_aligned": c.aligned,
        "alignment": c.alignment,
        "blocks": blocks,
    }


def _rel(d: Delta) -> Cell:
    return cell(relative_text(d), d.relative)


def _change_markup(d: Delta) -> str | None:
    if d.diff == 0:
        return None
    colour = "red" if d.diff > 0 else "green"
    return f"[{colour}]{signed_human(d.diff)}[/]"


def _diff_coloured(d: Delta) -> Cell:
    return Cell(signed_human(d.diff), d.diff, _change_markup(d))


_TOTAL_COLUMNS: Final = (
    Column("", "metric"), Column("A", "a", "right"), Column("B", "b", "right"),
    Column("B - A", "diff", "right"), Column("change", "relative", "right"),
)


def totals_table(c: Comparison) -> TableDoc:
    t = c.totals
    m = t.metrics
    rows: list[Row] = []

    def add(label: str, d: Delta, exact: bool = False, rule: bool = False) -> None:
        a = cell(d.a, d.a) if exact else num_cell(d.a)
        b = cell(d.b, d.b) if exact else num_cell(d.b)
        diff = cell(f"{d.diff:+d}" if d.diff else "0", d.diff) if exact else _diff_coloured(d)
        rows.append(Row((cell(label), a, b, diff, _rel(d)), rule_before=rule, kind="metric"))

    add("params", m.params)
    add("MACs", m.macs)
    add("activations", m.activations)
    add("shortcut params", m.shortcut_params, rule=True)
    add("shortcut MACs", m.shortcut_macs)
    add("blocks", t.blocks, exact=True, rule=True)
    add("depth (weighted layers)", t.depth, exact=True)
    for kind, d in t.shortcuts:
        add(f"shortcuts: {SHORTCUT_LABELS[kind]}", d, exact=True)
    if any(kind == "avgpool_projection" for kind, _ in t.shortcuts):
        add("shortcuts: all projections", t.projections, exact=True)
    notes = (f"A = {c.label_a}; B = {c.label_b}. Differences are B - A; change is relative to A.",)
    return TableDoc(f"compare: {c.label_a} → {c.label_b}", _TOTAL_COLUMNS, tuple(rows), notes, (CONVENTION,))


#: On a narrow terminal the stage table drops Δ activations, then the MACs and the params of A and
#: B (the differences stay); the shortcut kinds wrap.
_STAGE_COLUMNS: Final = (
    Column("stage", "stage"), Column("blocks", "blocks"),
    Column("params A", "params_a", "right", drop=4), Column("params B", "params_b", "right", drop=4),
    Column("Δ params", "params_diff", "right"), Column("Δ params %", "params_relative", "right"),
    Column("MACs A", "macs_a", "right", drop=3), Column("MACs B", "macs_b", "right", drop=3),
    Column("Δ MACs", "macs_diff", "right"), Column("Δ MACs %", "macs_relative", "right"),
    Column("Δ activations", "activations_diff", "right", drop=2),
    Column("shortcuts A → B", "shortcuts", wrap=True),
)


def _kinds_text(pairs: tuple[tuple[str, Delta], ...], side: str) -> str:
    parts = [f"{getattr(d, side)} {SHORTCUT_LABELS[k]}" for k, d in pairs if getattr(d, side)]
    return ", ".join(parts) or "-"


def stages_table(c: Comparison) -> TableDoc:
    rows = []
    for s in c.stages:
        m = s.metrics
        if s.in_a and s.in_b:
            blocks = f"{s.blocks.a} → {s.blocks.b}" if s.blocks.diff else str(s.blocks.a)
        else:
            blocks = f"{s.blocks.a} (A only)" if s.in_a else f"{s.blocks.b} (B only)"
        kinds_a, kinds_b = _kinds_text(s.shortcuts, "a"), _kinds_text(s.shortcuts, "b")
        kinds = kinds_a if kinds_a == kinds_b else f"{kinds_a} → {kinds_b}"
        rows.append(Row((
            cell(f"layer{s.stage}", s.stage), cell(blocks),
            num_cell(m.params.a), num_cell(m.params.b), _diff_coloured(m.params), _rel(m.params),
            num_cell(m.macs.a), num_cell(m.macs.b), _diff_coloured(m.macs), _rel(m.macs),
            diff_cell(m.activations.diff), cell(kinds),
        ), kind="stage_diff"))
    return TableDoc("per stage", _STAGE_COLUMNS, tuple(rows), (c.alignment[:1].upper() + c.alignment[1:] + ".",))


#: On a narrow terminal the block table shows B's output shape only, then drops Δ activations,
#: Δ shortcut params and Δ MACs %; the block, its shortcuts and Δ params and MACs stay.
_BLOCK_COLUMNS: Final = (
    Column("block", "name"), Column("shortcut A → B", "shortcut"),
    Column("out shape A → B", "out_shape", compact=1, short_header="out shape B"),
    Column("Δ params", "params_diff", "right"), Column("Δ shortcut params", "shortcut_params_diff", "right", drop=3),
    Column("Δ MACs", "macs_diff", "right"), Column("Δ MACs %", "macs_relative", "right", drop=4),
    Column("Δ activations", "activations_diff", "right", drop=2),
)


def _arrow(a: str, b: str) -> str:
    return a if a == b else f"{a} → {b}"


def _block_row(run: list[BlockDiff]) -> Row:
    b = run[0]
    m = b.metrics
    label = b.name if len(run) == 1 else f"{b.name}–{run[-1].index} ×{len(run)}"
    return Row((
        cell(label),
        cell(_arrow(SHORTCUT_LABELS[b.shortcut_a], SHORTCUT_LABELS[b.shortcut_b])),
        cell(_arrow(shape_text(b.out_shape_a), shape_text(b.out_shape_b)), short=shape_text(b.out_shape_b)),
        _diff_coloured(m.params), diff_cell(m.shortcut_params.diff), _diff_coloured(m.macs), _rel(m.macs), diff_cell(m.activations.diff),
    ), kind="block_diff" if len(run) == 1 else "run_diff")


def _alike(x: BlockDiff, y: BlockDiff) -> bool:
    return (x.stage == y.stage and y.index == x.index + 1 and x.shortcut_a == y.shortcut_a and x.shortcut_b == y.shortcut_b
            and x.out_shape_a == y.out_shape_a and x.out_shape_b == y.out_shape_b and x.metrics == y.metrics)


def diff_runs(blocks: Sequence[BlockDiff]) -> list[list[BlockDiff]]:
    """Consecutive blocks of a stage whose differences are the same, grouped."""
    runs: list[list[BlockDiff]] = []
    for b in blocks:
        if runs and _alike(runs[-1][-1], b):
            runs[-1].append(b)
        else:
            runs.append([b])
    return runs


#: Lines of the block table besides its rows (title, header, rule, notes).
_BLOCK_TABLE_LINES: Final = 6


def blocks_table(c: Comparison, all_blocks: bool = False, screen: Screen | None = None) -> TableDoc | None:
    """Per-block differences (only the blocks that changed unless ``all_blocks``); ``None`` when
    the layouts do not align. Runs of blocks that changed alike are one row (``×N``, numbers per
    block) when the rows would not fit ``screen``; ``all_blocks`` shows every block."""
    if c.blocks is None:
        return None
    changed = [b for b in c.blocks if b.changed()]
    shown = list(c.blocks) if all_blocks else changed
    unchanged = len(c.blocks) - len(changed)
    runs = diff_runs(shown)
    collapse = not all_blocks and len(runs) < len(shown) and (screen or Screen()).collapse(len(shown), _BLOCK_TABLE_LINES)
    groups = runs if collapse else [[b] for b in shown]
    if all_blocks:
        note = f"{len(changed)} of {len(c.blocks)} blocks differ."
    elif not changed:
        note = f"All {len(c.blocks)} blocks are the same in A and B."
    else:
        note = f"{len(changed)} of {len(c.blocks)} blocks differ; the {unchanged} unchanged ones are left out (--all-blocks lists them)."
        if unchanged == 0:
            note = f"All {len(c.blocks)} blocks differ."
    notes = (note, "×N rows: runs of N blocks that changed alike (numbers per block); --all-blocks shows every block.") if collapse else (note,)
    return TableDoc("per block", _BLOCK_COLUMNS, tuple(_block_row(g) for g in groups), notes)


def compare_docs(c: Comparison, all_blocks: bool = False, screen: Screen | None = None,
                 convention: str | None = None) -> list[TableDoc]:
    totals = totals_table(c)
    docs = [replace(totals, notes=(*totals.notes, *convention_notes(convention))), stages_table(c)]
    blocks = blocks_table(c, all_blocks, screen)
    if blocks is not None:
        docs.append(blocks)
    return docs


# --------------------------------------------------------------------------------------------
# ``check``: budgets (kept here, beside ``compare``, as both are the CI-facing reports).


def budget_json(results: Sequence[CheckResult], convention: str | None = None) -> dict[str, Any]:
    """The ``check --format json`` document: ``ok`` overall, and per spec its values, limits and
    violations (``excess`` = value - limit)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "convention": convention or "ours",
        "ok": all(r.ok for r in results),
        "results": [
            {
                "name": r.label, "spec": r.spec_text, "ok": r.ok, "values": dict(r.values),
                "limits": r.limits.to_dict(),
                "violations": [
                    {"limit": v.key, "metric": v.metric, "value": v.value, "max": v.limit, "excess": v.excess}
                    for v in r.violations
                ],
            }
            for r in results
        ],
    }


_BUDGET_COLUMNS: Final = (
    Column("spec", "name"), Column("limit", "limit"), Column("value", "value", "right"),
    Column("max", "max", "right"), Column("headroom", "headroom", "right"), Column("used", "used", "right"),
    Column("status", "status"),
)


def budget_docs(results: Sequence[CheckResult], convention: str | None = None) -> list[TableDoc]:
    rows: list[Row] = []
    for i, r in enumerate(results):
        for j, (key, limit) in enumerate(r.limits.items()):
            value = r.values[LIMITS[key]]
            over = value > limit
            used = percent(value, limit) if limit else ("-" if value == 0 else "∞")
            status = Cell("OVER" if over else "ok", "over" if over else "ok", "[bold red]OVER[/]" if over else "[green]ok[/]")
            rows.append(Row((
                cell(r.label if j == 0 else "", r.label), cell(key), num_cell(value), num_cell(limit),
                diff_cell(limit - value), cell(used, round(value / limit, 6) if limit else None), status,
            ), rule_before=i > 0 and j == 0, kind="limit"))
    exceeded = sum(len(r.violations) for r in results)
    verdict = "within budget" if not exceeded else f"{exceeded} limit{'s' if exceeded != 1 else ''} exceeded"
    notes = (f"{verdict}. headroom = max - value (negative: over budget).", *convention_notes(convention))
    return [TableDoc("budget", _BUDGET_COLUMNS, tuple(rows), notes, (CONVENTION,))]


# --------------------------------------------------------------------------------------------
# ``compare --format markdown``: a pull-request comment.


def _headline(c: Comparison) -> str:
    """The one line a reviewer reads: params, MACs and activations, B - A."""
    m = c.totals.metrics
    parts = []
    for label, d in (("params", m.params), ("MACs", m.macs), ("activations", m.activations)):
        parts.append(f"{label} {signed_human(d.diff)} ({relative_text(d)})" if d.diff else f"{label} unchanged")
    p = c.totals.projections
    parts.append(f"projections {p.a} → {p.b}" if p.diff else f"projections {p.a}")
    return " · ".join(parts)


def _details(summary: str, doc: TableDoc, explain: bool) -> list[str]:
    body = to_markdown(replace(doc, title=""), explain).rstrip("\n")
    return ['<details markdown="1">', f"<summary>{md_escape(summary)}</summary>", "", body, "", "</details>", ""]


def compare_markdown(c: Comparison, all_blocks: bool = False, convention: str | None = None, explain: bool = False) -> str:
    """A pull-request comment: a title, one headline, the totals table, and the per-stage and
    per-block tables folded in ``<details>`` so a long network does not flood the thread.

    Labels come from file names and config values, so they are escaped: a name cannot open a
    tag, close the ``<details>`` or inject a link."""
    totals = totals_table(c)
    changed = any(s.metrics.changed() or s.blocks.diff for s in c.stages)
    lines = [f"### resnet-inspect compare: {md_escape(c.label_a)} → {md_escape(c.label_b)}", "",
             f"**{md_escape(_headline(c))}**" if changed else "**No difference in params, MACs or activations.**", ""]
    lines += [to_markdown(replace(totals, title="", notes=()), explain).rstrip("\n"), ""]
    staged = sum(1 for s in c.stages if s.metrics.changed() or s.blocks.diff)
    lines += _details(f"Per stage: {staged} of {len(c.stages)} stages differ", stages_table(c), explain)
    blocks = blocks_table(c, all_blocks)
    if blocks is not None:
        differ = sum(1 for b in c.blocks or () if b.changed())
        lines += _details(f"Per block: {differ} of {len(c.blocks or ())} blocks differ", blocks, explain)
    notes = [*totals.notes, *convention_notes(convention)]
    lines.append("<sub>" + md_escape(" ".join(notes)) + "</sub>")
    return "\n".join(lines) + "\n"
