"""The ``schema`` listing: each schema's name and what it describes, as a table that fits the
terminal (the descriptions wrap; names never do)."""

from __future__ import annotations

from ..schemas import NAMES, summary_line
from .tables import Column, Row, TableDoc, cell


def docs() -> list[TableDoc]:
    columns = (Column("schema", "name"), Column("describes", "describes", wrap=True, min_width=30))
    rows = tuple(Row((cell(name), cell(summary_line(name)))) for name in NAMES)
    return [TableDoc("JSON Schemas of --format json (resnet-inspect schema NAME prints one)", columns, rows)]
