"""The ``shortcuts --plot`` picture: per block, the main path beside the shortcut the network has
and the projection it could have, in MACs and in params (two panels over one block axis).
Formatting only; every number comes from ``resnet_inspect.shortcuts``. SVG output is
deterministic (fixed ``svg.hashsalt``, no date), so the docs' copy can be checked against a fresh one."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from ..plan import is_projection
from ..shortcuts import BlockShortcuts, ShortcutStudy
from ..units import human
from .shortcuts import MAIN_COLOR, Metric
from .style import SHORTCUT_COLORS, SHORTCUT_LABELS

PLOT_SUFFIXES: Final = (".svg", ".png")


def check_plot_path(path: Path) -> None:
    from ..errors import UsageError

    if Path(path).suffix.lower() not in PLOT_SUFFIXES:
        raise UsageError(f"--plot {path}: use a .svg or .png file name")


#: The panels, top to bottom, for each ``metric``: the chosen one first. MACs lead by default
#: because per block they stay level across stages (so a projection's near-doubling of a bottleneck
#: shows in every stage), while params grow fourfold per stage and flatten layer1 and layer2.
PANEL_ORDER: Final[dict[str, tuple[Metric, Metric]]] = {"macs": ("macs", "params"), "params": ("params", "macs")}
#: What each panel's y axis says (tests look for these labels in the SVG).
AXIS_LABELS: Final[dict[str, str]] = {"macs": "MACs per block", "params": "params per block"}
#: Size of one block's bar, and the limits of the figure, in inches; 150 dpi for PNG.
_BAR_IN, _MIN_W, _MAX_W, _PANEL_H = 0.3, 9.0, 40.0, 2.9
PNG_DPI: Final = 150
#: Fixed salt for the ids matplotlib writes into SVG (clip paths, hatches): the same study gives the
#: same bytes on every run, so docs/img can be regenerated without a diff.
SVG_HASHSALT: Final = "resnet-inspect"


def render_plot(s: ShortcutStudy, metric: Metric = "macs", fmt: str = "svg") -> bytes:
    """Per-block stacked bars (main path, the shortcut the spec has, and the projection it could
    have, hatched) in two panels sharing the block axis, MACs and params, ``metric`` on top; as SVG
    or PNG bytes. Needs matplotlib (the ``plot`` extra)."""
    from ..errors import MissingDependency

    try:
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingDependency(
            "--plot needs matplotlib; install it with: pip install 'resnet-inspect[plot]'"
        ) from None

    blocks = s.blocks
    n = len(blocks)
    has = [is_projection(b.block.shortcut) for b in blocks]

    with matplotlib.rc_context({"svg.hashsalt": SVG_HASHSALT, "svg.fonttype": "path", "font.size": 9}):
        width_in = min(max(_MIN_W, _BAR_IN * n + 2.5), _MAX_W)
        fig = Figure(figsize=(width_in, 2 * _PANEL_H + 1.8), dpi=PNG_DPI, layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(2, 1, sharex=True)
        for ax, m in zip(axes, PANEL_ORDER[metric]):
            _panel(ax, blocks, m, has)
        _block_axis(axes[-1], blocks)
        given = f", shortcut {s.spec.shortcut}" if s.spec is not None else ""
        fig.suptitle(f"{s.name}{given}: each block's main path and shortcut, in MACs and in params",
                     fontsize=11, x=0.01, ha="left")
        handles = _legend_handles(blocks, has)
        fig.legend(handles=handles, loc="outside lower center", fontsize=8.5, ncols=len(handles), frameon=False)
        buf = io.BytesIO()
        if fmt == "svg":
            fig.savefig(buf, format="svg", metadata={"Date": None})
        else:
            fig.savefig(buf, format=fmt, dpi=PNG_DPI)
    return buf.getvalue()


def _panel(ax: Any, blocks: Sequence[BlockShortcuts], m: Metric, has: Sequence[bool]) -> None:
    """One panel: per block, the main path, the shortcut it has on top (marked P when it is a
    projection), and the projection it could have, hatched."""
    from matplotlib.ticker import FuncFormatter

    x = list(range(len(blocks)))
    colors = [SHORTCUT_COLORS[b.block.shortcut] for b in blocks]
    main = [b.main.get(m) for b in blocks]
    actual = [b.actual.get(m) for b in blocks]
    hypo = [0 if h else b.projection.get(m) for b, h in zip(blocks, has)]
    tops = [a + c for a, c in zip(main, actual)]
    ax.bar(x, main, width=0.8, color=MAIN_COLOR)
    ax.bar(x, actual, width=0.8, bottom=main, color=colors)
    ax.bar(x, hypo, width=0.8, bottom=tops, facecolor="none", edgecolor=SHORTCUT_COLORS["projection"],
           hatch="///", linewidth=0.6)
    for i in x:
        if has[i]:
            ax.annotate("P", (i, tops[i]), xytext=(0, 2), textcoords="offset points", ha="center",
                        fontsize=8, fontweight="bold", color=colors[i])
    peak = max((t + h for t, h in zip(tops, hypo)), default=0)
    ax.set_ylim(0, peak * 1.12 if peak else 1)  # room for the P marks
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: human(v, 1)))
    ax.set_ylabel(AXIS_LABELS[m], fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)


def _block_axis(low: Any, blocks: Sequence[BlockShortcuts]) -> None:
    """The shared block axis under the lower panel: at most about 80 names, those with a shortcut
    other than identity (or none) in its colour."""
    n = len(blocks)
    x = list(range(n))
    names = [b.block.name for b in blocks]
    low.set_xlim(-0.6, n - 0.4)
    step = max(1, n // 80)
    low.set_xticks(x[::step])
    low.set_xticklabels(names[::step], rotation=90, fontsize=8)
    for tick, i in zip(low.get_xticklabels(), x[::step]):
        if blocks[i].block.shortcut not in ("identity", "none"):
            tick.set_color(SHORTCUT_COLORS[blocks[i].block.shortcut])
            tick.set_fontweight("bold")


def _legend_handles(blocks: Sequence[BlockShortcuts], has: Sequence[bool]) -> list[Any]:
    """What the colours mean: the main path, each projection kind present, zero-padding, and the
    hatched projection where some block has none."""
    from matplotlib.patches import Patch

    kinds_present = sorted({b.block.shortcut for b in blocks if is_projection(b.block.shortcut)})
    handles = [Patch(facecolor=MAIN_COLOR, label="main path")]
    handles += [Patch(facecolor=SHORTCUT_COLORS[k], label=f"{SHORTCUT_LABELS[k]} (P: this spec has it)") for k in kinds_present]
    if any(b.block.shortcut == "zero_pad" for b in blocks):
        handles.append(Patch(facecolor=SHORTCUT_COLORS["zero_pad"], label="zero-pad shortcut: no weights (name in blue)"))
    if not all(has):
        handles.append(Patch(facecolor="none", edgecolor=SHORTCUT_COLORS["projection"], hatch="///",
                             label="a projection, if one were used here (option C)"))
    return handles
