"""The ``presets`` report: the named networks with their parameters and MACs.

Formatting only, so that ``cli.summary`` parses, counts and prints: the presets come from
``resnet_inspect.presets`` and each one's counts from ``counts.analyze``.

JSON (docs/schemas.md, ``schema_version`` 1): ``{"schema_version": 1, "presets": [...]}``, one
entry per preset with its name, family, description, exact counts, input size and full spec.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .tables import Column, Row, TableDoc, cell, num_cell

if TYPE_CHECKING:
    from ..counts import Analysis
    from ..presets import Preset


def to_json(results: Sequence[tuple[Preset, Analysis]]) -> dict[str, Any]:
    """The presets document: each preset (with its full spec) and its exact counts."""
    return {"schema_version": 1, "presets": [
        {"name": p.name, "family": p.family, "description": p.description, "params": a.total.params,
         "macs": a.total.macs, "input_size": p.spec.input_size, "spec": p.spec.to_dict()}
        for p, a in results
    ]}


def docs(results: Sequence[tuple[Preset, Analysis]]) -> list[TableDoc]:
    """One table, a row per preset: its counts in human units, its input size and description."""
    cols = (Column("preset", "name"), Column("family", "family", drop=1), Column("params", "params", "right"),
            Column("MACs", "macs", "right"), Column("input", "input_size", "right"),
            Column("description", "description", wrap=True, min_width=30))
    rows = tuple(Row((cell(p.name), cell(p.family), num_cell(a.total.params), num_cell(a.total.macs),
                      cell(f"{p.spec.input_size}²", p.spec.input_size), cell(p.description)), kind="preset")
                 for p, a in results)
    return [TableDoc("presets", cols, rows, ("MACs: multiply-adds of conv and FC layers at the preset's input size.",))]
