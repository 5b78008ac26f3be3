"""The ``shortcuts --plot`` picture: per block, the main path beside the shortcut the network has
and the projection it could have. Formatting only; every number comes from ``resnet_inspect.shortcuts``."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Final

from ..plan import PROJECTION_KINDS
from ..shortcuts import ShortcutStudy
from ..units import human
from .shortcuts import MAIN_COLOR, Metric
from .style import SHORTCUT_COLORS, SHORTCUT_LABELS

PLOT_SUFFIXES: Final = (".svg", ".png")


def check_plot_path(path: Path) -> None:
    from ..errors import UsageError

    if Path(path).suffix.lower() not in PLOT_SUFFIXES:
        raise UsageError(f"--plot {path}: use a .svg or .png file name")


def render_plot(s: ShortcutStudy, metric: Metric, fmt: str) -> bytes:
    """A per-block stacked bar chart (main path, the shortcut the spec has, and the projection it
    could have, hatched) as SVG or PNG bytes. Needs matplotlib (the ``plot`` extra)."""
    from ..errors import MissingDependency

    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.patches import Patch
        from matplotlib.ticker import FuncFormatter
    except ImportError:
        raise MissingDependency(
            "--plot needs matplotlib; install it with: pip install 'resnet-inspect[plot]'"
        ) from None

    blocks = s.blocks
    n = len(blocks)
    x = list(range(n))
    main = [b.main.get(metric) for b in blocks]
    actual = [b.actual.get(metric) for b in blocks]
    has = [b.block.shortcut in PROJECTION_KINDS for b in blocks]
    hypo = [0 if h else b.projection.get(metric) for b, h in zip(blocks, has)]
    colors = [SHORTCUT_COLORS[b.block.shortcut] for b in blocks]

    width_in = min(max(8.0, 0.32 * n + 2.5), 40.0)
    fig = Figure(figsize=(width_in, 5.2), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.bar(x, main, width=0.8, color=MAIN_COLOR, label="main path")
    ax.bar(x, actual, width=0.8, bottom=main, color=colors)
    tops = [m + a for m, a in zip(main, actual)]
    ax.bar(x, hypo, width=0.8, bottom=tops, facecolor="none", edgecolor=SHORTCUT_COLORS["projection"],
           hatch="///", linewidth=0.6)
    unit = {"params": "parameters", "macs": "multiply-adds (MACs)"}[metric]
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: human(v, 1)))
    ax.set_ylabel(f"{unit} per block")
    step = max(1, n // 60)
    ax.set_xticks(x[::step])
    ax.set_xticklabels([b.block.name for b in blocks][::step], rotation=90, fontsize=8)
    for tick, i in zip(ax.get_xticklabels(), x[::step]):
        if blocks[i].block.shortcut not in ("identity", "none"):
            tick.set_color(SHORTCUT_COLORS[blocks[i].block.shortcut])
            tick.set_fontweight("bold")
    peak = max((m + a + h for m, a, h in zip(main, actual, hypo)), default=0)
    for i in x:
        if has[i]:
            ax.annotate("P", (i, tops[i]), xytext=(0, 2), textcoords="offset points", ha="center",
                        fontsize=8, fontweight="bold", color=colors[i])
    ax.set_ylim(0, peak * 1.3 if peak else 1)  # headroom for the legend
    ax.set_xlim(-0.6, n - 0.4)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    given = f", shortcut {s.spec.shortcut}" if s.spec is not None else ""
    ax.set_title(f"{s.name}{given}: main path vs shortcut, {unit} per block",
                 fontsize=11, loc="left")
    kinds_present = sorted({b.block.shortcut for b in blocks if b.block.shortcut in PROJECTION_KINDS})
    handles = [Patch(facecolor=MAIN_COLOR, label="main path")]
    handles += [Patch(facecolor=SHORTCUT_COLORS[k], label=f"{SHORTCUT_LABELS[k]} (P: this spec has it)") for k in kinds_present]
    if any(b.block.shortcut == "zero_pad" for b in blocks):
        handles.append(Patch(facecolor=SHORTCUT_COLORS["zero_pad"], label="zero-pad shortcut: no weights (name in blue)"))
    if any(hypo):
        handles.append(Patch(facecolor="none", edgecolor=SHORTCUT_COLORS["projection"], hatch="///",
                             label="a projection, if one were used here (option C)"))
    ax.legend(handles=handles, loc="upper left", fontsize=8, ncols=2, framealpha=0.9, edgecolor="none")
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    return buf.getvalue()
