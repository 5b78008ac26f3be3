"""The ``verify`` report: the analytic counts beside the built module's and fvcore's, for the whole
network and block by block, and the table of ``verify SPEC --module`` (the module's units against
the spec's blocks).

Formatting only, so that ``cli.model`` parses, runs and prints: the checks come from
``resnet_inspect.nn.verify`` (torch, fvcore) and the block comparison from ``conformance``. The
JSON documents are those results' own (``VerifyReport.to_json``, ``conformance.conformance_json``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .tables import Column, Row, TableDoc, cell

if TYPE_CHECKING:
    from ..conformance import Conformance
    from ..nn.verify import Check, VerifyReport


def conformance_table(result: Conformance) -> TableDoc:
    """``verify SPEC --module``: one row per block of the spec, with the module's block beside it."""
    rows = []
    for b in result.blocks:
        mark, markup = _mark(b.ok)
        rows.append(Row((cell(b.name), cell(b.module_block or "—"), cell(mark, b.ok, markup),
                         cell("; ".join(b.differences) or "same")), kind="block"))
    notes = [*result.network]
    notes.append(f"{result.module_name} is {result.spec_name}, block for block." if result.ok
                 else f"{sum(1 for b in result.blocks if not b.ok)} block(s) differ (listed on stderr).")
    return TableDoc(f"verify {result.module_name} against {result.spec_name}",
                    (Column("block", "name"), Column("module block", "module_block"), Column("ok", "ok", "center"),
                     Column("differences", "differences", wrap=True)), tuple(rows), tuple(notes))


def _mark(ok: bool) -> tuple[str, str]:
    return ("✓", "[green]✓[/]") if ok else ("✗", "[bold red]✗[/]")


def _value(c: Check | None) -> tuple[str, object, str | None]:
    """A cell's text, raw value and markup: the number when both sides agree, else both."""
    if c is None:
        return "", None, None
    if c.ok:
        return f"{c.analytic:,}", c.analytic, None
    text = f"{c.analytic:,} ≠ {c.measured:,}"
    return text, text, f"[bold red]{text}[/]"


def verify_tables(report: VerifyReport) -> list[TableDoc]:
    """Two tables: every quantity of the whole network, and one row per block."""
    return [_totals_table(report), _blocks_table(report)]


def _totals_table(report: VerifyReport) -> TableDoc:
    """The network's quantities (total, stem, head) and its output shape, with how many checks agree."""
    total_rows: list[Row] = []
    for c in report.checks:
        if c.scope not in ("total", "stem", "head"):
            continue
        text, markup = _mark(c.ok)
        total_rows.append(Row(
            (cell(c.scope), cell(c.quantity), cell(f"{c.analytic:,}", c.analytic),
             cell(f"{c.measured:,}", c.measured), cell(c.source), cell(text, c.ok, markup)),
            rule_before=bool(total_rows) and total_rows[-1].cells[0].text != c.scope, kind=c.scope,
        ))
    shape_text, shape_markup = _mark(report.output_ok)
    total_rows.append(Row(
        (cell("total"), cell("output shape"), cell(str(list(report.expected_output_shape))),
         cell(str(list(report.output_shape))), cell("forward"), cell(shape_text, report.output_ok, shape_markup)),
        rule_before=True, kind="total",
    ))
    failures = len(report.failures) + (0 if report.output_ok else 1)
    checked = len(report.checks) + 1
    summary = (f"all {checked:,} checks agree" if report.ok
               else f"{failures:,} of {checked:,} checks differ (listed on stderr)")
    if report.problems:  # nothing was counted: say why instead
        summary = f"nothing could be counted: {report.problems[0]}"
    return TableDoc(
        f"verify {report.name}: analytic vs module vs fvcore", (
            Column("scope", "scope"), Column("quantity", "quantity"), Column("analytic", "analytic", "right"),
            Column("measured", "measured", "right"), Column("source", "source"), Column("ok", "ok", "center"),
        ), tuple(total_rows), (summary,
                               "params: sum(p.numel()) of the module; conv, linear, batch_norm, adaptive_avg_pool2d: "
                               "fvcore FlopCountAnalysis (eval); relu, max_pool, avg_pool: forward hooks; add and shortcut.offset "
                               "(where the block's input channels land in an identity or zero-pad shortcut): the trace."),
    )


#: The per-block table's columns, in order (quantity, header); quantities not listed follow, sorted.
_BLOCK_COLUMNS: tuple[tuple[str, str], ...] = (
    ("params", "params"), ("params.shortcut", "shortcut params"), ("conv", "conv MACs"),
    ("batch_norm", "batch_norm"), ("relu", "relu"), ("add", "add"), ("avg_pool", "avg_pool"),
    ("shortcut.offset", "shortcut offset"))


def _blocks_table(report: VerifyReport) -> TableDoc:
    """One row per block, one column per quantity any block checked: 'a ≠ m' where they differ."""
    by_block: dict[str, dict[str, Check]] = {}
    for c in report.checks:
        if c.scope.startswith("layer"):
            by_block.setdefault(c.scope, {})[c.quantity] = c
    present = {q for checks in by_block.values() for q in checks}
    columns = _BLOCK_COLUMNS + tuple((q, q) for q in sorted(present - {q for q, _ in _BLOCK_COLUMNS}))
    quantities = tuple(q for q, _ in columns if q in present)
    headers = tuple(h for q, h in columns if q in present)
    block_rows: list[Row] = []
    previous_stage = ""
    for name, checks in by_block.items():
        cells = [cell(name)]
        for q in quantities:
            v_text, v_raw, v_markup = _value(checks.get(q))
            cells.append(cell(v_text, v_raw, v_markup))
        ok = all(c.ok for c in checks.values())
        mark, mark_markup = _mark(ok)
        cells.append(cell(mark, ok, mark_markup))
        stage = name.split(".")[0]
        block_rows.append(Row(tuple(cells), rule_before=stage != previous_stage, kind="block"))
        previous_stage = stage
    return TableDoc(
        "per block (analytic; 'a ≠ m' where the module or fvcore differs)",
        (Column("block", "block"), *(Column(h, q, "right") for h, q in zip(headers, quantities)),
         Column("ok", "ok", "center")),
        tuple(block_rows),
    )
