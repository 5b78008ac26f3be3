"""One home for each vocabulary: the shortcut kinds (``plan``), a block's identity (``Block.key``,
``Block.signature``) and number formatting (``units``, ``report.tables``)."""

from __future__ import annotations

import typing

import pytest

from resnet_inspect.plan import (
    FREE_KINDS,
    PROJECTION_KINDS,
    SHORTCUT_KINDS,
    ShortcutKind,
    count_projections,
    is_projection,
    make_plan,
)
from resnet_inspect.presets import get_preset
from resnet_inspect.render.dot import EDGE_STYLE, LEGEND_SAMPLE, LEGEND_TEXT
from resnet_inspect.report.style import SHORTCUT_COLORS, SHORTCUT_LABELS

# ---------------------------------------------------------------- shortcut kinds


def test_shortcut_kinds_are_the_literal() -> None:
    assert typing.get_args(ShortcutKind) == SHORTCUT_KINDS
    assert set(SHORTCUT_KINDS) > PROJECTION_KINDS | FREE_KINDS
    assert not PROJECTION_KINDS & FREE_KINDS


@pytest.mark.parametrize(
    "table", [SHORTCUT_LABELS, SHORTCUT_COLORS, EDGE_STYLE, LEGEND_SAMPLE, LEGEND_TEXT],
    ids=["labels", "colors", "edge_style", "legend_sample", "legend_text"],
)
def test_every_shortcut_kind_is_shown(table: dict[str, str]) -> None:
    """Display tables are keyed by plan's kinds: every kind, and nothing else."""
    assert set(table) == set(SHORTCUT_KINDS)


def test_labels_are_distinct() -> None:
    assert len(set(SHORTCUT_LABELS.values())) == len(SHORTCUT_KINDS)


def test_is_projection() -> None:
    assert [k for k in SHORTCUT_KINDS if is_projection(k)] == ["projection", "avgpool_projection"]


def test_count_projections() -> None:
    assert count_projections({"identity": 13, "projection": 3}) == 3
    assert count_projections({"projection": 1, "avgpool_projection": 2, "zero_pad": 4, "other": 5}) == 3
    assert count_projections({}) == 0


# ---------------------------------------------------------------- a block's identity


def test_block_key_is_shared_by_alike_blocks() -> None:
    plan = make_plan(get_preset("resnet50"))
    blocks = {b.name: b for b in plan.blocks}
    assert blocks["layer3.1"].key == blocks["layer3.5"].key  # alike but for their names
    assert blocks["layer3.0"].key != blocks["layer3.1"].key  # the first one downsamples
    assert blocks["layer2.1"].key != blocks["layer3.1"].key  # other widths
    assert len({b.key for b in plan.blocks}) == 8  # two per stage


def test_block_signature() -> None:
    plan = make_plan(get_preset("resnet50"))
    blocks = {b.name: b for b in plan.blocks}
    first, second, later = blocks["layer3.0"], blocks["layer3.1"], blocks["layer3.5"]
    assert second.signature == later.signature
    assert first.signature != second.signature
    assert second.signature == (3, "bottleneck", (1024, 14, 14), (1024, 14, 14), 1, "identity", ())
