"""A small table model that every command fills and that renders as a terminal table
(``report.layout``), Markdown or CSV.

Commands build a ``TableDoc`` from engine results; the renderers only lay it out. Cells carry the
exact value (``raw``) beside the human text, so CSV gets ``25557032`` where the terminal shows
``25.56 M``; ``num_cell``, ``exact_cell``, ``diff_cell``, ``bytes_cell`` and ``share_cell`` make the
cells of numbers for every report.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from ..units import human, human_bytes, percent, signed_human

Justify = Literal["left", "right", "center"]


@dataclass(frozen=True)
class Column:
    """A column, and how it gives way on a narrow terminal (``report.layout``): ``drop`` and
    ``compact`` rank when it goes or switches to its cells' short texts (1 first; 0 never); only a
    ``wrap`` column (free text) may wrap, at no less than ``min_width`` when it can; other columns
    keep ``min_width`` (a bar) whole."""

    header: str
    key: str
    justify: Justify = "left"
    drop: int = 0
    compact: int = 0
    wrap: bool = False
    min_width: int = 0
    short_header: str | None = None


@dataclass(frozen=True)
class Cell:
    text: str
    raw: object = None
    markup: str | None = None  # rich markup for the terminal; ``text`` elsewhere
    short: str | None = None  # the text of a compacted column (``64x56x56`` for ``3x224x224 → 64x56x56``)

    @property
    def value(self) -> object:
        return self.text if self.raw is None else self.raw


@dataclass(frozen=True)
class Row:
    cells: tuple[Cell, ...]
    style: str = ""
    rule_before: bool = False
    kind: str = "row"  # what the row is (stem, block, stage, head, total): a CSV column


@dataclass(frozen=True)
class TableDoc:
    title: str
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)
    details: tuple[str, ...] = field(default_factory=tuple)  # the longer explanations, with --explain


def cell(text: object, raw: object = None, markup: str | None = None, short: str | None = None) -> Cell:
    return Cell(str(text), raw, markup, short)


# The cells of numbers, for every report: the human text (``units``), the exact value for CSV.


def num_cell(value: int) -> Cell:
    """A count: ``25.56 M`` (``units.human``), raw 25557032."""
    return Cell(human(value), value)


def exact_cell(value: int) -> Cell:
    """A count written out whole: ``25,557,032``, raw 25557032."""
    return Cell(f"{value:,}", value)


def diff_cell(value: int) -> Cell:
    """A difference: ``+0.92 M``, ``-4.10 K``, ``0`` (``units.signed_human``)."""
    return Cell(signed_human(value), value)


def bytes_cell(value: int, digits: int = 2) -> Cell:
    """A size: ``82.33 MiB`` (``units.human_bytes``), raw in bytes."""
    return Cell(human_bytes(value, digits), value)


def share_cell(part: float, whole: float, zero: float = 0) -> Cell:
    """``part`` as a share of ``whole``: ``12.5%`` (``units.percent``), raw the fraction to 6
    decimals (``zero`` when ``whole`` is 0)."""
    return Cell(percent(part, whole), round(part / whole, 6) if whole else zero)


#: Characters that would make Markdown of a cell a tag, a link, code or a new column.
_MD_SPECIAL: Final = str.maketrans({c: "\\" + c for c in "\\|<>[]`*"})


def md_escape(text: str) -> str:
    """``text`` shown as itself in GitHub Markdown: names come from files and configs, and one
    such as ``</details>`` or ``[x](https://…)`` must not become a tag or a link in a comment."""
    return text.translate(_MD_SPECIAL)


def to_markdown(doc: TableDoc, explain: bool = False) -> str:
    esc = md_escape

    lines = [f"### {esc(doc.title)}", ""] if doc.title else []
    lines.append("| " + " | ".join(esc(c.header) for c in doc.columns) + " |")
    align = {"left": ":---", "right": "---:", "center": ":---:"}
    lines.append("|" + "|".join(align[c.justify] for c in doc.columns) + "|")
    for row in doc.rows:
        texts = [esc(c.text) for c in row.cells]
        if row.kind in ("stage", "total"):
            texts = [f"**{t}**" if t else t for t in texts]
        lines.append("| " + " | ".join(texts) + " |")
    for note in (*doc.notes, *doc.details) if explain else doc.notes:  # one paragraph per note
        lines += ["", f"_{esc(note)}_"]
    return "\n".join(lines) + "\n"


def to_csv(docs: Sequence[TableDoc] | TableDoc) -> str:
    """One CSV table (``row_kind`` first, then each column's key); several docs are concatenated
    with a blank line between, each with its own header."""
    if isinstance(docs, TableDoc):
        docs = [docs]
    buf = io.StringIO()
    for i, doc in enumerate(docs):
        if i:
            buf.write("\n")
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["row_kind", *(c.key for c in doc.columns)])
        for row in doc.rows:
            writer.writerow([row.kind, *(c.value for c in row.cells)])
    return buf.getvalue()
