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
from resnet_inspect.report.tables import bytes_cell, diff_cell, exact_cell, num_cell, share_cell
from resnet_inspect.units import human, in_unit_of, percent, percent_value, ratio_percent, si_scale, signed_human

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


# ---------------------------------------------------------------- numbers
# Expected strings are written out by hand (25,557,032 / 10**6 = 25.557032, to 2 decimals 25.56).


@pytest.mark.parametrize(("value", "digits", "text"), [
    (25_557_032, 2, "25.56 M"), (4_089_184_256, 2, "4.09 G"), (650, 2, "650"), (999, 2, "999"),
    (1_000, 2, "1.00 K"), (-2_752, 2, "-2.75 K"), (3 * 10**12, 1, "3.0 T"), (2 * 10**15, 2, "2000.00 T"),
    (0.5, 2, "0.50"), (12.0, 2, "12"), (0, 2, "0"),
])
def test_human(value: float, digits: int, text: str) -> None:
    assert human(value, digits) == text


def test_signed_human() -> None:
    assert [signed_human(v) for v in (919_168, -4_100, 0, 7)] == ["+919.17 K", "-4.10 K", "0", "+7"]


def test_si_scale() -> None:
    assert si_scale(21_800_000) == (10**6, "M")
    assert si_scale(999) == (1, "")
    assert si_scale(-5 * 10**9) == (10**9, "G")
    assert si_scale(5 * 10**15) == (10**12, "T")
    assert si_scale(5 * 10**15, largest="P") == (10**15, "P")
    assert si_scale(5 * 10**12, largest="G") == (10**9, "G")


def test_in_unit_of_takes_the_total_s_unit() -> None:
    assert in_unit_of(919_168, 21_797_672) == "+0.92 M"  # 0.919168 M
    assert in_unit_of(919_168, 21_797_672, signed=False) == "0.92 M"
    assert in_unit_of(-2_000_000_000_000, 5 * 10**12) == "-2000.00 G"  # G at most
    assert in_unit_of(-12, 500) == "-12"
    assert in_unit_of(0, 500) == "0"


def test_percent() -> None:
    assert percent(1, 8) == "12.5%"
    assert percent(1, 3, 2) == "33.33%"
    assert percent(-1, 40, 2, signed=True) == "-2.50%"
    assert percent(1, 40, signed=True) == "+2.5%"
    assert percent(5, 0) == "-"
    assert ratio_percent(0.125) == "12.5%"
    assert ratio_percent(0.051, signed=True) == "+5.1%"
    assert ratio_percent(-0.00125, 3, signed=True) == "-0.125%"
    assert ratio_percent(0.85, 0) == "85%"
    assert percent_value(1, 3) == 33.3333
    assert percent_value(1, 0) is None


def test_number_cells() -> None:
    assert (num_cell(25_557_032).text, num_cell(25_557_032).raw) == ("25.56 M", 25_557_032)
    assert (exact_cell(25_557_032).text, exact_cell(25_557_032).raw) == ("25,557,032", 25_557_032)
    assert (diff_cell(-4_100).text, diff_cell(-4_100).raw) == ("-4.10 K", -4_100)
    assert (bytes_cell(86_334_464).text, bytes_cell(86_334_464, 1).text) == ("82.33 MiB", "82.3 MiB")  # / 2**20
    assert (share_cell(1, 8).text, share_cell(1, 8).raw) == ("12.5%", 0.125)
    assert (share_cell(1, 0).text, share_cell(1, 0).raw, share_cell(1, 0, zero=0.0).raw) == ("-", 0, 0.0)
