"""How a ``TableDoc`` meets a screen: which columns a narrow terminal drops or compacts, when runs
of identical blocks collapse, and the plain text written to pipes and files.

The policy (docs/cli.md, "Width and piping"):

- In a terminal, a table that is wider than the console loses columns in the order its columns
  rank them (``Column.drop`` and ``Column.compact``: 1 goes first): the bar column, then the shapes
  compact to the output shape, then secondary ratios and columns the title already states. Row
  labels and numbers never wrap and are never cut; only free text (descriptions) wraps, by words.
- Notes are printed under the table as wrapped text, so no character is lost at line ends.
- Anywhere else (a pipe, a file), a table has its natural width: every column, nothing wrapped,
  no padding at line ends, and each note on one line.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final

from ..naming import printable as _printable
from .tables import Cell, Column, TableDoc

if TYPE_CHECKING:
    from rich.console import Console

#: Columns are separated by two spaces (rich: a one-space divider plus one of right padding).
GAP: Final = 2
#: A wrapping column (free text) keeps at least this many characters when the table is squeezed.
WRAP_MIN: Final = 16
#: Off a terminal (pipes, files, Markdown), runs of identical blocks collapse above this many blocks.
COLLAPSE_OFF_SCREEN: Final = 24


@dataclass(frozen=True)
class Screen:
    """Where a report is shown: a terminal's size, or ``None`` for a pipe or a file."""

    width: int | None = None
    height: int | None = None

    def collapse(self, blocks: int, other_lines: int) -> bool:
        """Whether to collapse runs of identical blocks: when ``blocks`` rows and ``other_lines``
        (titles, headers, totals, notes) would not fit the terminal's height; off a terminal,
        above ``COLLAPSE_OFF_SCREEN`` blocks."""
        if self.height is None:
            return blocks > COLLAPSE_OFF_SCREEN
        return blocks + other_lines > self.height


def _cell_len(text: str) -> int:
    from rich.cells import cell_len

    return max((cell_len(line) for line in text.split("\n")), default=0)


def _cell_width(c: Cell, compact: bool) -> int:
    if compact and c.short is not None:
        return _cell_len(c.short)
    if c.markup is not None:
        from rich.text import Text

        return Text.from_markup(c.markup).cell_len
    return _cell_len(c.text)


def split_header(header: str, width: int) -> str:
    """``header`` on two lines (split at the space that makes the wider line narrowest) when it is
    wider than its column's cells; one line otherwise."""
    if "\n" in header or _cell_len(header) <= width or " " not in header:
        return header
    words = header.split(" ")
    splits = [(" ".join(words[:i]), " ".join(words[i:])) for i in range(1, len(words))]
    top, bottom = min(splits, key=lambda s: (max(_cell_len(s[0]), _cell_len(s[1])), -_cell_len(s[0])))
    return f"{top}\n{bottom}"


def _column_width(col: Column, cells: Sequence[Cell], compact: bool, terminal: bool) -> int:
    body = max((_cell_width(c, compact) for c in cells), default=0)
    body = max(body, col.min_width)
    title = col.short_header if compact and col.short_header else col.header
    header = split_header(title, body) if terminal else title
    natural = max(body, _cell_len(header))
    if col.wrap and terminal:  # free text wraps by words: never narrower than its longest word
        longest = max((_cell_len(w) for c in cells for w in c.text.split()), default=0)
        return max(min(natural, max(WRAP_MIN, col.min_width)), longest)
    return natural


def _widths(doc: TableDoc, terminal: bool) -> list[tuple[int, int]]:
    """Each column's width in full and compacted."""
    out = []
    for i, col in enumerate(doc.columns):
        cells = [r.cells[i] for r in doc.rows]
        full = _column_width(col, cells, False, terminal)
        out.append((full, _column_width(col, cells, True, terminal) if col.compact else full))
    return out


def _total(widths: Sequence[int]) -> int:
    return sum(widths) + GAP * max(len(widths) - 1, 0)


def table_width(doc: TableDoc, terminal: bool = True) -> int:
    """The width ``doc`` needs: every column at its widest cell (wrapping columns at ``WRAP_MIN``
    in a terminal), two spaces between columns."""
    return _total([full for full, _ in _widths(doc, terminal)])


def fit(doc: TableDoc, width: int) -> TableDoc:
    """``doc`` with columns dropped and compacted, in their ranked order, until it fits ``width``
    (or nothing more may go). Compacted cells show their ``short`` text."""
    widths = _widths(doc, True)
    steps = sorted(
        [(col.drop, 1, i) for i, col in enumerate(doc.columns) if col.drop]
        + [(col.compact, 0, i) for i, col in enumerate(doc.columns) if col.compact]
    )
    dropped: set[int] = set()
    compact: set[int] = set()

    def need() -> int:
        return _total([widths[i][i in compact] for i in range(len(widths)) if i not in dropped])

    applied: list[tuple[int, int]] = []
    for rank in sorted({r for r, _, _ in steps}):  # columns of one rank give way together
        if need() <= width:
            break
        for _, is_drop, i in (st for st in steps if st[0] == rank):
            (dropped if is_drop else compact).add(i)
            applied.append((is_drop, i))
    # Give back what still fits, the last to go first (a later rank matters more).
    for is_drop, i in reversed(applied):
        chosen = dropped if is_drop else compact
        chosen.discard(i)
        if need() > width:
            chosen.add(i)
    return reduced(doc, dropped, compact)


def reduced(doc: TableDoc, dropped: set[int], compact: set[int]) -> TableDoc:
    """``doc`` without the ``dropped`` columns, with the ``compact`` ones showing short texts."""
    keep = [i for i in range(len(doc.columns)) if i not in dropped]

    def col(i: int) -> Column:
        c = doc.columns[i]
        return replace(c, header=c.short_header or c.header) if i in compact else c

    def one(c: Cell, i: int) -> Cell:
        return Cell(c.short, c.raw, None) if i in compact and c.short is not None else c

    rows = tuple(replace(r, cells=tuple(one(r.cells[i], i) for i in keep)) for r in doc.rows)
    return replace(doc, columns=tuple(col(i) for i in keep), rows=rows)


def rich_table(doc: TableDoc, terminal: bool = True) -> Any:
    """The table alone (title and notes are printed around it). Labels and numbers never wrap and
    keep their full width; free-text columns wrap by words and fold, never cut."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0))
    for i, col in enumerate(doc.columns):
        cells = [r.cells[i] for r in doc.rows]
        body = max(max((_cell_width(c, False) for c in cells), default=0), col.min_width)
        header = split_header(col.header, body) if terminal else col.header
        if col.wrap:
            table.add_column(header, justify=col.justify, overflow="fold", min_width=_column_width(col, cells, False, True))
        else:
            table.add_column(header, justify=col.justify, no_wrap=True, min_width=max(body, _cell_len(header)))
    for row in doc.rows:
        if row.rule_before and table.row_count:
            table.add_section()
        table.add_row(*(c.markup if c.markup is not None else escape(c.text) for c in row.cells), style=row.style or None)
    return table


def _notes(doc: TableDoc, explain: bool) -> tuple[str, ...]:
    return (*doc.notes, *doc.details) if explain else doc.notes


def print_docs(console: Console, docs: Sequence[TableDoc], explain: bool = False) -> None:
    """``docs`` on a terminal ``console``: each fitted to its width, the title above and the
    notes below as wrapped text (names from outside stay literal: ``Text``, never markup)."""
    from rich.text import Text

    for n, doc in enumerate(docs):
        if n:
            console.print()
        fitted = fit(doc, console.width)
        console.print(Text(printable(doc.title), style="bold", overflow="fold"))
        table = rich_table(fitted)
        need = table_width(fitted)
        # No truncation even when nothing more may go: the terminal wraps the over-long lines.
        console.print(table, width=max(need, console.width), crop=False)
        for note in _notes(doc, explain):
            console.print(Text(printable(note), style="dim", overflow="fold"))


def printable(text: str) -> str:
    """``text`` with control characters (terminal escapes among them) replaced by ``?``, whole."""
    return _printable(text, limit=len(text) + 8)


def plain_text(docs: Sequence[TableDoc], explain: bool = False) -> str:
    """``docs`` for a pipe or a file: tables at their natural width, no colour, each note on one
    line, no trailing spaces."""
    from rich.console import Console

    parts: list[str] = []
    for n, doc in enumerate(docs):
        width = table_width(doc, terminal=False)
        c = Console(width=max(width, 1), file=io.StringIO(), color_system=None, force_terminal=False,
                    legacy_windows=False, highlight=False, emoji=False)
        c.print(rich_table(doc, terminal=False), crop=False)
        body = str(c.file.getvalue())  # type: ignore[attr-defined]
        lines = ([""] if n else []) + [printable(doc.title)] + body.splitlines()
        lines += [printable(note) for note in _notes(doc, explain)]
        parts.extend(line.rstrip() for line in lines)
    return "\n".join(parts) + "\n"


def render_terminal(docs: Sequence[TableDoc], width: int, explain: bool = False, color: bool = False) -> str:
    """What a terminal ``width`` columns wide shows (the golden renders in tests)."""
    from rich.console import Console

    c = Console(width=width, file=io.StringIO(), force_terminal=True, color_system="truecolor" if color else None,
                legacy_windows=False, highlight=False, emoji=False, _environ={})
    print_docs(c, docs, explain)
    return str(c.file.getvalue())  # type: ignore[attr-defined]


__all__ = ["Screen", "fit", "plain_text", "print_docs", "render_terminal", "rich_table", "table_width"]
