"""What a terminal of 80, 120 or 200 columns shows, and what a pipe gets.

The golden renders (tests/golden/terminal/*.txt) pin the layout byte for byte, the way rich's own
tests pin theirs: run with ``UPDATE_GOLDEN=1`` to rewrite them after a deliberate change, and read
the diff. The other tests check what must hold at any width, with names and numbers derived
independently of the renderer (the presets' layouts, the option letters of He et al. 2015).
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

import resnet_inspect.cli.common as common
from resnet_inspect.cli import app
from resnet_inspect.presets import PRESETS

GOLDEN = Path(__file__).parent / "golden" / "terminal"
runner = CliRunner()

#: The views the issue names, by golden file stem.
VIEWS: dict[str, tuple[str, ...]] = {
    "summary_resnet50": ("summary", "resnet50"),
    "summary_resnet152": ("summary", "resnet152"),
    "shortcuts_resnet34_network": ("shortcuts", "resnet34", "--view", "network"),
    "shortcuts_resnet50": ("shortcuts", "resnet50"),
    "compare_resnet50_C": ("compare", "resnet50", "resnet50:shortcut=C"),
    "presets": ("presets",),
}


def on_terminal(monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], width: int, height: int = 50) -> str:
    """What the command prints on a terminal ``width`` x ``height`` (no colour)."""
    buf = io.StringIO()

    def fake() -> Console:
        return Console(file=buf, width=width, height=height, force_terminal=True, color_system=None,
                       legacy_windows=False, highlight=False, emoji=False, _environ={})

    monkeypatch.setattr(common, "console", fake)
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return buf.getvalue()


def piped(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("name", list(VIEWS))
def test_golden_render(monkeypatch: pytest.MonkeyPatch, name: str, width: int) -> None:
    out = on_terminal(monkeypatch, VIEWS[name], width)
    path = GOLDEN / f"{name}_{width}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(out, encoding="utf-8")
    assert out == path.read_text(encoding="utf-8"), f"{path.name} differs: UPDATE_GOLDEN=1 after a deliberate change"


def _widths(text: str) -> list[int]:
    from rich.cells import cell_len

    return [cell_len(line.rstrip()) for line in text.splitlines()]


@pytest.mark.parametrize("width", [80, 120, 200])
@pytest.mark.parametrize("args", [
    *VIEWS.values(),
    ("summary", "resnet18"), ("summary", "resnext101_32x8d"), ("summary", "wide_resnet101_2", "--depth", "stage"),
    ("summary", "cifar_resnet110"), ("summary", "preact_resnet50"),
    ("shortcuts", "resnet50", "--stride-in", "1x1"), ("shortcuts", "cifar_resnet20"), ("shortcuts", "resnet152", "--view", "blocks"),
    ("compare", "resnet34:shortcut=A", "resnet34:shortcut=C"), ("compare", "resnet50", "resnext50_32x4d"),
    ("check", "resnet50", "--max-params", "30M"),
], ids=lambda a: " ".join(a) if isinstance(a, tuple) else str(a))
def test_no_line_is_wider_than_the_terminal(monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], width: int) -> None:
    out = on_terminal(monkeypatch, args, width)
    assert out.strip()
    assert max(_widths(out)) <= width
    assert "…" not in out  # nothing truncated with an ellipsis


def _tokens(text: str) -> set[str]:
    return set(re.split(r"\s{2,}|\n|^\s+", text))


def _layout(preset: str) -> list[int]:
    return list(PRESETS[preset].spec.layers)


@pytest.mark.parametrize("preset", ["resnet18", "resnet34", "resnet50", "resnet101", "resnext50_32x4d", "cifar_resnet20"])
@pytest.mark.parametrize("command", ["summary", "shortcuts"])
def test_every_block_name_whole_at_80(monkeypatch: pytest.MonkeyPatch, preset: str, command: str) -> None:
    # Tall enough for every block to get its own row: each name stands whole in its cell.
    args = (command, preset, "--all-blocks") + (("--view", "blocks") if command == "shortcuts" else ())
    out = on_terminal(monkeypatch, args, 80, height=200)
    lines = out.splitlines()
    for stage, n in enumerate(_layout(preset), start=1):
        for i in range(n):
            name = f"layer{stage}.{i}"
            assert any(line.startswith(name + " ") for line in lines), name


def test_collapsed_run_labels_whole_at_80(monkeypatch: pytest.MonkeyPatch) -> None:
    # ResNet-152 (3-8-36-3): each stage is its first (downsampling) block, then a run of the rest.
    out = on_terminal(monkeypatch, ("summary", "resnet152"), 80, height=40)
    for stage, n in enumerate(_layout("resnet152"), start=1):
        assert re.search(rf"^layer{stage}\.0 ", out, re.M)
        assert re.search(rf"^layer{stage}\.1–{n - 1} ×{n - 1} ", out, re.M), (stage, n)
    assert "--all-blocks shows every block" in " ".join(out.split())


def test_collapse_follows_the_terminal_height(monkeypatch: pytest.MonkeyPatch) -> None:
    # ResNet-50's 16 blocks, 4 stage totals and the rest fit 50 lines, not 24.
    tall = on_terminal(monkeypatch, ("summary", "resnet50"), 120, height=50)
    short = on_terminal(monkeypatch, ("summary", "resnet50"), 120, height=24)
    assert re.search(r"^layer3\.4 ", tall, re.M) and "×" not in tall
    assert "layer3.1–5 ×5" in short and not re.search(r"^layer3\.4 ", short, re.M)
    full = on_terminal(monkeypatch, ("summary", "resnet50", "--all-blocks"), 120, height=24)
    assert re.search(r"^layer3\.4 ", full, re.M)


@pytest.mark.parametrize("preset", ["resnet34", "resnet50", "cifar_resnet20"])
def test_option_labels_whole_at_80(monkeypatch: pytest.MonkeyPatch, preset: str) -> None:
    out = on_terminal(monkeypatch, ("shortcuts", preset, "--view", "network"), 80)
    starts = [line.split("  ")[0] for line in out.splitlines()]
    for option in ("none", "A", "B", "C", "D"):
        assert option in starts or f"{option} (given)" in starts, option


def test_preset_names_whole_at_80(monkeypatch: pytest.MonkeyPatch) -> None:
    out = on_terminal(monkeypatch, ("presets",), 80)
    starts = {line.split(" ")[0] for line in out.splitlines()}
    missing = [name for name in PRESETS if name not in starts]
    assert not missing


def _note_words(markdown: str) -> list[list[str]]:
    notes = [line[1:-1].replace("\\|", "|") for line in markdown.splitlines() if line.startswith("_") and line.endswith("_")]
    return [note.split() for note in notes]


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("args", [
    ("summary", "resnet50"), ("summary", "resnet152", "--explain"), ("shortcuts", "resnet34", "--explain"),
    ("shortcuts", "resnet50"), ("compare", "resnet50", "resnet50:shortcut=C", "--explain"),
    ("summary", "tests/usernets/se_bottleneck.py:se_resnet_small", "--input-size", "64"),
], ids=" ".join)
def test_wrapped_notes_keep_every_word(monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], width: int) -> None:
    """Every note, word for word, as in the Markdown output: no character lost where lines wrap."""
    markdown = piped(*args, "--format", "markdown")
    shown = " ".join(on_terminal(monkeypatch, args, width).split())
    notes = _note_words(markdown)
    assert len(notes) >= 1
    for words in notes:
        assert " ".join(words) in shown, " ".join(words)[:80]


def test_note_words_mutation(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above fails when a wrapped line loses its last character (as rich captions did)."""
    markdown = piped("shortcuts", "resnet34", "--explain", "--format", "markdown")
    out = on_terminal(monkeypatch, ("shortcuts", "resnet34", "--explain"), 80)
    cut = "\n".join(line[:-1] if len(line.rstrip()) > 70 else line for line in out.splitlines())
    shown = " ".join(cut.split())
    assert not all(" ".join(words) in shown for words in _note_words(markdown))


@pytest.mark.parametrize("args", [*VIEWS.values(), ("summary", "resnet18"), ("shortcuts", "resnet34", "--explain"),
                                  ("check", "resnet50", "--max-params", "30M")], ids=" ".join)
def test_piped_output_has_no_trailing_whitespace(args: tuple[str, ...]) -> None:
    out = piped(*args)
    assert out.endswith("\n") and not out.endswith("\n\n")
    bad = [i for i, line in enumerate(out.splitlines()) if line != line.rstrip()]
    assert not bad, f"trailing spaces on lines {bad[:5]}"


def test_piped_output_keeps_every_column() -> None:
    """Off a terminal the table has its natural width: every column, full shapes, nothing dropped."""
    out = piped("summary", "resnet50")
    header = next(line for line in out.splitlines() if line.startswith("block"))
    for name in ("kind", "in → out", "stride", "shortcut", "main params", "shortcut params", "total MACs",
                 "shortcut MACs", "% of all MACs"):
        assert name in header, name
    assert "3x224x224 → 64x56x56" in out and "1024x14x14 → 2048x7x7" in out
    # As wide as its widest row, not padded to a console width.
    widths = _widths(out)
    assert max(widths) == max(w for w, line in zip(widths, out.splitlines()) if line.startswith(("block", "layer", "total")))


def test_summary_shows_shortcut_macs() -> None:
    """ResNet-50's four projections: 51.38 M MACs in layer1.0 (64->256 at 56x56) and 102.76 M in
    each later stage (stride 2: C_in x C_out x H_out x W_out), 359.66 M in all."""
    out = piped("summary", "resnet50")
    assert 64 * 256 * 56 * 56 == 51_380_224 and 256 * 512 * 28 * 28 == 102_760_448
    assert 51_380_224 + 3 * 102_760_448 == 359_661_568
    total = next(line for line in out.splitlines() if line.startswith("total"))
    assert total.split()[-3:-1] == ["359.66", "M"]
    row = next(line for line in out.splitlines() if line.startswith("layer1.0 "))
    assert "51.38 M" in row


def test_width_check_mutation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without fitting (every column kept), ResNet-50's summary overflows 80 columns: the width
    test above has something to catch."""
    import resnet_inspect.report.layout as layout

    monkeypatch.setattr(layout, "fit", lambda doc, width: doc)
    out = on_terminal(monkeypatch, ("summary", "resnet50"), 80)
    assert max(_widths(out)) > 80


def test_fit_gives_way_in_ranked_order() -> None:
    from resnet_inspect.report.layout import fit, table_width
    from resnet_inspect.report.tables import Cell, Column, Row, TableDoc

    cols = (Column("name", "name"), Column("shape", "shape", compact=2), Column("bar", "bar", drop=1),
            Column("ratio", "ratio", "right", drop=3))
    row = Row((Cell("layer1.0"), Cell("64x56x56 → 256x56x56", short="256x56x56"), Cell("█" * 16), Cell("94.1%")))
    doc = TableDoc("t", cols, (row,))
    assert table_width(doc) == 8 + 20 + 16 + 5 + 3 * 2
    assert [c.key for c in fit(doc, 55).columns] == ["name", "shape", "bar", "ratio"]
    assert [c.key for c in fit(doc, 54).columns] == ["name", "shape", "ratio"]  # the bar first
    compacted = fit(doc, 30)  # then the shape compacts: 8 + 9 + 5 + 4 = 26
    assert [c.key for c in compacted.columns] == ["name", "shape", "ratio"]
    assert compacted.rows[0].cells[1].text == "256x56x56"
    assert [c.key for c in fit(doc, 20).columns] == ["name", "shape"]  # then the ratio; the label stays
    assert [c.key for c in fit(doc, 1).columns] == ["name", "shape"]  # nothing more may go
