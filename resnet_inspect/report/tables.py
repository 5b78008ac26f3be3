"""A small table model that every command fills and that renders as a rich table, Markdown or CSV.

Commands build a ``TableDoc`` from engine results; the renderers only lay it out. Cells carry the
exact value (``raw``) beside the human text, so CSV gets ``25557032`` where the terminal shows
``25.56 M``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from rich.console import Console

Justify = Literal["left", "right", "center"]


@dataclass(frozen=True)
class Column:
    header: str
    key: str
    justify: Justify = "left"


@dataclass(frozen=True)
class Cell:
    text: str
    raw: object = None
    markup: str | None = None  # rich markup for the terminal; ``text`` elsewhere

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


def cell(text: object, raw: object = None, markup: str | None = None) -> Cell:
    return Cell(str(text), raw, markup)


def to_rich(doc: TableDoc) -> object:
    """The rich renderable (a Table, with the notes as its caption)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    # Titles and notes carry names from outside (a SPEC, a file, a module path): as ``Text`` they are
    # never read as markup, and rich strips control codes from them.
    table = Table(
        title=Text(doc.title), box=box.SIMPLE_HEAD, title_justify="left", title_style="bold",
        caption=Text("\n".join(doc.notes)) if doc.notes else None, caption_justify="left",
        caption_style="dim", pad_edge=False,
    )
    for col in doc.columns:
        table.add_column(col.header, justify=col.justify, no_wrap=col.justify == "right")
    for row in doc.rows:
        if row.rule_before and table.row_count:
            table.add_section()
        table.add_row(*(c.markup if c.markup is not None else _escape(c.text) for c in row.cells), style=row.style or None)
    return table


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def print_rich(doc: TableDoc, console: Console) -> None:
    console.print(to_rich(doc))


def to_markdown(doc: TableDoc) -> str:
    def esc(text: str) -> str:
        return text.replace("|", "\\|")

    lines = [f"### {esc(doc.title)}", ""] if doc.title else []
    lines.append("| " + " | ".join(esc(c.header) for c in doc.columns) + " |")
    align = {"left": ":---", "right": "---:", "center": ":---:"}
    lines.append("|" + "|".join(align[c.justify] for c in doc.columns) + "|")
    for row in doc.rows:
        texts = [esc(c.text) for c in row.cells]
        if row.kind in ("stage", "total"):
            texts = [f"**{t}**" if t else t for t in texts]
        lines.append("| " + " | ".join(texts) + " |")
    for note in doc.notes:  # one paragraph per note
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
