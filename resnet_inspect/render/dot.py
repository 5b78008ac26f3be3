"""Analysis -> Graphviz DOT text: the network, one block, or one block with two shortcuts.

Pure formatting, like the rest of ``report``: every number shown comes from the analytic engine
(``counts.analyze`` and its plan, ``counts.count_layer`` per layer); nothing is counted here. The
text is deterministic to the byte (plan order, stable ids), so golden files pin it.

It is written by ``_Writer`` rather than the ``graphviz`` package's ``Digraph``, whose output would
be as deterministic (statements in call order, attributes sorted), because of how ``Digraph``
quotes: it reads any string shaped ``<...>`` as an HTML-like label, passes backslashes through as
DOT escapes and splits edge ends at ``:`` into node, port and compass point, while the names here
(module paths, checkpoint keys) come from users' files and must print as themselves. ``_Writer``
decides by type instead (an ``Html`` value is a label; every other string is quoted with its
backslashes, quotes and newlines escaped), and keeps edges apart to write them after every node,
outside the clusters (an edge written inside a cluster pulls both its ends into it). Nothing here
imports ``graphviz``: only Graphviz's ``dot`` program is needed, to render the text to an image
(``resnet_inspect.render.render_file`` runs it).

Three views:

* ``network_dot``: stem -> one cluster per stage -> head, in one column, each stage's name and
  cost in a text node left of its first block. Consecutive identical blocks (same kind, shapes,
  stride, shortcut and counts) collapse into one node marked "×N" (``expand`` draws every block).
  A single block gets its addition node with the shortcut drawn as its own edge from the block's
  input, coloured and styled by kind. A collapsed run is self-contained: its N shortcuts are one
  loop on the node labelled "×N identity, one per block", since an arc from before the run to
  after it would read as one shortcut skipping all N blocks. Plus a legend. Within a stage only
  the first block can differ from the rest (it alone changes stride or channels), so a stage
  draws at most two block nodes, two addition nodes (when the second is a single block) and its
  title: at most ``5 * 6 + 5 = 35`` nodes for the spec's maximum of six stages, below
  ``MAX_NETWORK_NODES``; ResNet-152 draws 21.
* ``block_dot``: every layer of one block with its output shape, params and MACs, in the order
  the variant runs them (post-activation: conv-BN-ReLU, add, ReLU; pre-activation: BN-ReLU-conv,
  add last), and the shortcut drawn explicitly.
* ``compare_dot``: the same block under two shortcut options, side by side, costs on both.

Colours and labels come from ``report.style`` so a projection shortcut looks the same here as in
the terminal table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from ..counts import Analysis, BlockCount, StageCount, Tally, count_layer
from ..plan import Block, Layer, is_projection
from ..report.style import SHORTCUT_COLORS, SHORTCUT_LABELS
from ..report.summary import shape_text
from ..units import human, percent

#: Upper bound on the nodes of any collapsed network diagram (the module docstring derives 35).
MAX_NETWORK_NODES: Final = 40

#: Space between rows of the network view, in inches: tighter than the block view's 0.32, one of
#: the things (with short labels and stage titles beside the first block) that keep ResNet-152's
#: PNG well under 1,600 px tall at 96 dpi (1,286 px with Graphviz 2.43; 1,382 px at 0.32).
NETWORK_RANKSEP: Final = 0.18

#: Weight and Graphviz ``group`` of the network view's main path: dot keeps its edges straight, so
#: the stages stack in one column instead of drifting sideways (shortcut arcs and the stage titles
#: pull them otherwise; either alone leaves a staircase in some diagrams).
MAIN_WEIGHT: Final = 100
MAIN_GROUP: Final = "main"

FONT: Final = "Helvetica,Arial,sans-serif"
MUTED: Final = "#555555"
INK: Final = "#222222"

#: How each shortcut kind's edge is drawn (with its colour from ``SHORTCUT_COLORS``), so the kinds
#: differ in more than colour: solid (identity), dashed (zero-pad), bold (both projections), bold
#: dashed (other). ``none`` draws no edge; its entry keeps the table keyed by every kind.
EDGE_STYLE: Final[dict[str, str]] = {
    "identity": 'style="solid", penwidth=2',
    "zero_pad": 'style="dashed", penwidth=2',
    "projection": 'style="bold", penwidth=3',
    "avgpool_projection": 'style="bold", penwidth=3',
    "none": 'style="dotted", penwidth=1',
    "other": 'style="bold,dashed", penwidth=2',
}

#: A sample of each edge style in the legend (box-drawing glyphs, present in the common fonts).
LEGEND_SAMPLE: Final[dict[str, str]] = {
    "identity": "────",
    "zero_pad": "╌╌╌╌",
    "projection": "━━━━",
    "avgpool_projection": "━━━━",
    "none": "",
    "other": "╍╍╍╍",
}

LEGEND_TEXT: Final[dict[str, str]] = {
    "identity": "x added unchanged (no parameters)",
    "zero_pad": "x subsampled, extra channels zero (no parameters)",
    "projection": "1x1 conv + BN on x (parameters, MACs)",
    "avgpool_projection": "2x2 avg-pool, then 1x1 conv + BN (ResNet-D)",
    "none": "no shortcut: plain network, no edge",
    "other": "ops that are neither identity, zero-padding nor a conv projection",
}

#: A line break that left-aligns the line before it (cluster labels).
_LEFT: Final = '<br align="left"/>'

#: The legend's row for a collapsed run's loop.
LOOP_SAMPLE: Final = "↻"
LOOP_TEXT: Final = "loop on a ×N node: N shortcuts, one around each block"

#: Fill colours per op in the block view: neutral tints that do not compete with the shortcuts.
_OP_FILL: Final[dict[str, str]] = {
    "conv": "#e8eef8",
    "batch_norm": "#fbf3df",
    "relu": "#f1f1f1",
    "max_pool": "#eaf4ec",
    "avg_pool": "#eaf4ec",
    "adaptive_avg_pool2d": "#eaf4ec",
    "linear": "#e8eef8",
    "add": "#ffffff",
    "zero_pad": "#ffffff",
    "mul": "#fdf6e3",
    "activation": "#f1f1f1",
    "mean": "#eaf4ec",
    "norm": "#fbf3df",
    "other": "#f7f0e0",
}

_OP_NAME: Final[dict[str, str]] = {
    "batch_norm": "BatchNorm",
    "relu": "ReLU",
    "add": "add (residual)",
    "adaptive_avg_pool2d": "global avg-pool",
    "linear": "fc",
    "zero_pad": "zero-pad",
    "mean": "global mean",
    "mul": "multiply",
}


# ---------------------------------------------------------------------------------------------
# Low-level DOT writing


class Html(str):
    """A label written as a Graphviz HTML-like label (``<...>``) instead of a quoted string."""


def quote(text: str) -> str:
    """A DOT double-quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def esc(text: str) -> str:
    """Text for inside an HTML-like label."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _value(value: str | int | float) -> str:
    if isinstance(value, Html):
        return f"<{value}>"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return quote(str(value))


def _attrs(attrs: dict[str, str | int | float], raw: str = "") -> str:
    parts = [f"{k}={_value(v)}" for k, v in attrs.items()]
    if raw:
        parts.append(raw)
    return f" [{', '.join(parts)}]" if parts else ""


class _Writer:
    """Accumulates DOT statements with indentation; the order of calls is the order of the text."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.edges: list[str] = []
        self.depth = 1
        self.nodes = 0
        #: Nodes with a self-loop (a collapsed run's shortcuts), in the order drawn.
        self.loops: list[str] = []

    def raw(self, text: str) -> None:
        self.lines.append("  " * self.depth + text)

    def node(self, node_id: str, raw: str = "", **attrs: str | int | float) -> None:
        self.nodes += 1
        self.raw(f"{quote(node_id)}{_attrs(attrs, raw)};")

    def edge(self, tail: str, head: str, raw: str = "", **attrs: str | int | float) -> None:
        # Kept apart and written at the top level after every node: an edge statement inside a
        # cluster would pull both its ends into that cluster.
        if tail == head:
            self.loops.append(tail)
        self.edges.append(f"  {quote(tail)} -> {quote(head)}{_attrs(attrs, raw)};")

    def same_rank(self, *node_ids: str) -> None:
        """Put nodes already written on one row (in the current cluster, if any)."""
        self.raw("{ rank=same; " + " ".join(f"{quote(n)};" for n in node_ids) + " }")

    def open(self, cluster_id: str, **attrs: str | int | float) -> None:
        self.raw(f"subgraph {quote(cluster_id)} {{")
        self.depth += 1
        for k, v in attrs.items():
            self.raw(f"{k}={_value(v)};")

    def close(self) -> None:
        self.depth -= 1
        self.raw("}")


def _document(name: str, title: Html, body: _Writer, ranksep: float = 0.32) -> str:
    head = [
        f"digraph {quote(name)} {{",
        f'  graph [rankdir=TB, fontname="{FONT}", fontsize=18, labelloc=t, labeljust=c, '
        f'nodesep=0.4, ranksep={ranksep}, pad=0.3, bgcolor="white"];',
        f'  node [fontname="{FONT}", fontsize=13, shape=box, style="rounded,filled", fillcolor="#ffffff", '
        f'color="{MUTED}", fontcolor="{INK}", penwidth=1.2, margin="0.18,0.07"];',
        f'  edge [fontname="{FONT}", fontsize=12, color="#444444", arrowsize=0.7, penwidth=1.4];',
        f"  label={_value(title)};",
    ]
    return "\n".join([*head, *body.lines, *body.edges, "}"]) + "\n"


def _small(text: str, color: str = MUTED, size: int = 11) -> str:
    return f'<font point-size="{size}" color="{color}">{esc(text)}</font>'


def _lines(*parts: str) -> Html:
    """Lines already escaped, joined by centred line breaks."""
    return Html("<br/>".join(p for p in parts if p))


def _cost(t: Tally) -> str:
    return f"{human(t.params)} params · {human(t.macs)} MACs"


# ---------------------------------------------------------------------------------------------
# Shared descriptions


def describe_layer(layer: Layer) -> str:
    """What a layer does, in the words the table and the papers use: ``3x3/2 conv 64→128``."""
    if layer.op == "conv":
        stride = f"/{layer.stride}" if layer.stride != 1 else ""
        groups = f", {layer.groups} groups" if layer.groups != 1 else ""
        return f"{layer.kernel_text}{stride} conv {layer.in_shape[0]}→{layer.out_shape[0]}{groups}"
    if layer.op in ("max_pool", "avg_pool"):
        kind = "max-pool" if layer.op == "max_pool" else "avg-pool"
        return f"{layer.kernel_text}/{layer.stride} {kind}"
    if layer.op == "linear":
        return f"fc {layer.in_shape[0]}→{layer.out_shape[0]}"
    if layer.detail:
        return layer.detail
    return _OP_NAME.get(layer.op, layer.op)


def _short_name(layer: Layer, block: Block | None) -> str:
    """``layer2.0.conv1`` -> ``conv1`` inside a block view, where the block name is the title."""
    if block is not None and layer.name.startswith(block.name + "."):
        return layer.name[len(block.name) + 1:]
    return layer.name


def _path_summary(layers: Sequence[Layer]) -> list[str]:
    """Stem or head ops as lines: each conv (or pool, fc) starts a line, BN and ReLU join it."""
    lines: list[str] = []
    for layer in layers:
        text = {"batch_norm": "BN", "relu": "ReLU"}.get(layer.op)
        if text is not None and lines:
            lines[-1] += f" · {text}"
        else:
            lines.append(text or describe_layer(layer))
    return lines


def _block_kind(block: Block) -> str:
    return ("pre-activation " if block.preact else "") + block.kind


def zero_pad_text(layer: Layer) -> str:
    """``subsample /2, +16 zero channels (16→32)`` for a zero-pad shortcut layer."""
    added = layer.out_shape[0] - layer.in_shape[0]
    sub = f"subsample /{layer.stride}" if layer.stride != 1 else "no subsampling"
    return f"{sub}, +{added} zero channels ({layer.in_shape[0]}→{layer.out_shape[0]})"


def shortcut_edge_label(bc: BlockCount) -> str:
    """The label of a shortcut edge in the network view: its kind and what it costs or does."""
    blk = bc.block
    label = SHORTCUT_LABELS[blk.shortcut]
    if blk.shortcut == "zero_pad" and blk.shortcut_layers:
        return f"{label}\n{zero_pad_text(blk.shortcut_layers[0])}"
    if is_projection(blk.shortcut):
        tap = "\n(reads x after BN-ReLU)" if blk.shortcut_source >= 0 else ""
        kernel = blk.projection_kernel()
        size = f" {kernel}" if kernel not in (None, "1x1") else ""
        return f"{label}{size}\n{human(bc.shortcut.params)} params\n{human(bc.shortcut.macs)} MACs{tap}"
    if blk.shortcut == "other":
        ops = " → ".join(describe_layer(ly) for ly in blk.shortcut_template)
        return f"{label}\n{ops}\n{human(bc.shortcut.params)} params"
    return label


def _legend(w: _Writer, kinds: Sequence[str], loops: bool = False) -> None:
    """The shortcut kinds drawn, each with its edge style; with ``loops``, what a loop means."""
    rows = []
    for kind in kinds:
        color = SHORTCUT_COLORS[kind]
        sample = LEGEND_SAMPLE[kind] or "(none)"
        rows.append(
            f'<tr><td align="left"><font color="{color}"><b>{esc(sample)}</b></font></td>'
            f'<td align="left"><font color="{color}"><b>{esc(SHORTCUT_LABELS[kind])}</b></font></td>'
            f'<td align="left">{_small(LEGEND_TEXT[kind], MUTED, 11)}</td></tr>'
        )
    if loops:
        rows.append(
            f'<tr><td align="left"><b>{esc(LOOP_SAMPLE)}</b></td><td align="left"><b>×N</b></td>'
            f'<td align="left">{_small(LOOP_TEXT, MUTED, 11)}</td></tr>'
        )
    # The heading as a cell left of the rows, not a row above them: the legend shares the stem's
    # row, and a lower legend keeps that row (and the diagram) lower.
    heading = f'<td rowspan="{len(rows)}" valign="top" align="left"><b>shortcuts</b></td>'
    if rows:
        rows[0] = rows[0].replace("<tr>", "<tr>" + heading, 1)
    table = '<table border="0" cellborder="0" cellspacing="2" cellpadding="2">' + "".join(rows) + "</table>"
    w.node("legend", label=Html(table), shape="box", style="rounded", color="#bbbbbb", fontsize=12)


# ---------------------------------------------------------------------------------------------
# Network view


@dataclass(frozen=True)
class Run:
    """Consecutive blocks of one stage that are identical but for their names."""

    blocks: tuple[BlockCount, ...]

    @property
    def first(self) -> BlockCount:
        return self.blocks[0]

    @property
    def count(self) -> int:
        return len(self.blocks)

    @property
    def name(self) -> str:
        if self.count == 1:
            return self.first.block.name
        return f"{self.first.block.name} … {self.blocks[-1].block.name}"


def runs(a: Analysis, expand: bool = False) -> list[Run]:
    """The blocks grouped into runs of identical consecutive blocks, in network order; with
    ``expand`` every block is a run of its own (``--expand`` draws every block)."""
    if expand:
        return [Run((bc,)) for bc in a.blocks]
    return [Run(r.blocks) for r in a.runs()]


def _run_label(run: Run) -> Html:
    """Name (with "×N" for a run), kind, shapes and cost on three or four lines: short nodes keep
    ResNet-152 one screen tall."""
    bc = run.first
    blk = bc.block
    times = f'  <font color="{MUTED}">×{run.count}</font>' if run.count > 1 else ""
    color = SHORTCUT_COLORS[blk.shortcut]
    kind = esc(SHORTCUT_LABELS[blk.shortcut]) + (" (each block)" if run.count > 1 and blk.shortcut != "none" else "")
    lines = [
        f'<b>{esc(run.name)}</b>{times}  <font point-size="11" color="{color}">shortcut: {kind}</font>',
        esc(f"{_block_kind(blk)} · stride {blk.stride} · {shape_text(blk.in_shape)} → {shape_text(blk.out_shape)}"),
        esc(_cost(bc.total) + (" each" if run.count > 1 else "")),
    ]
    if run.count > 1:
        lines.append(_small(f"×{run.count}: {human(bc.total.params * run.count)} params · "
                            f"{human(bc.total.macs * run.count)} MACs"))
    return _lines(*lines)


def run_shortcut_label(run: Run) -> str:
    """The label of a collapsed run's shortcut loop: ``×35 identity`` / ``one per block``, then
    what each one costs. It says "per block" because the loop stands for N short shortcuts, each
    around one block, not for one shortcut around all N."""
    first, *details = shortcut_edge_label(run.first).split("\n")
    each = [f"{line} each" if line.endswith(("params", "MACs")) else line for line in details]
    return "\n".join([f"×{run.count} {first}", "one per block", *each])


def _add_label(block: Block) -> str:
    return "+" if block.preact else "+ ReLU"


def _stage_title(w: _Writer, stage: StageCount) -> None:
    """The stage's name, block count, output shape and cost as a text node left of its first block,
    on that block's row: a cluster label would take a row of its own (four stages, four rows) and
    be crossed by the main path entering the cluster at its middle."""
    n = len(stage.blocks)
    node_id = f"layer{stage.stage}/title"
    lines = [f"out {shape_text(stage.blocks[-1].block.out_shape)}", f"{human(stage.total.params)} params",
             f"{human(stage.total.macs)} MACs"]
    label = f"<b>layer{stage.stage}</b> · {n} block{'s' if n != 1 else ''}{_LEFT}"
    w.node(node_id, label=Html(label + "".join(_small(t, INK, 11) + _LEFT for t in lines)), shape="plaintext",
           style="", margin="0.02,0.02")
    first = stage.blocks[0].block.name
    w.same_rank(node_id, first)
    w.edge(node_id, first, style="invis")  # keeps the title on the left


def _draw_run(w: _Writer, run: Run, prev: str) -> str:
    """One block, or a run collapsed into one node, after node ``prev``; returns the node that
    carries the output on.

    A single block gets its addition node and its shortcut as an edge from ``prev`` to it. A
    collapsed run is self-contained: its N shortcuts are drawn as one loop on the node labelled
    "×N ... one per block", because an edge from before the run to after it would read as one
    shortcut skipping all N blocks.
    """
    blk = run.first.block
    color = SHORTCUT_COLORS[blk.shortcut]
    w.node(blk.name, label=_run_label(run), color=color, penwidth=1.6, group=MAIN_GROUP)
    w.edge(prev, blk.name, weight=MAIN_WEIGHT)
    if blk.shortcut == "none":
        return blk.name
    if run.count > 1:
        w.edge(blk.name, blk.name, EDGE_STYLE[blk.shortcut], label=run_shortcut_label(run), color=color,
               fontcolor=color, fontsize=11)
        return blk.name
    add_id = f"{blk.name}/add"
    w.node(add_id, label=_add_label(blk), shape="ellipse", style="filled", fillcolor="#ffffff",
           fontsize=11, margin="0.04,0.02", height=0.3, group=MAIN_GROUP)
    w.edge(blk.name, add_id, weight=MAIN_WEIGHT)
    # From a collapsed run the arc leaves below its loop, which sits at the middle of the east side.
    tail = "se" if prev in w.loops else "e"
    w.edge(prev, add_id, EDGE_STYLE[blk.shortcut], label=shortcut_edge_label(run.first), color=color,
           fontcolor=color, tailport=tail, headport="e", fontsize=11)
    return add_id


def _joined(layers: Sequence[Layer], width: int = 48) -> list[str]:
    """``_path_summary`` on one line when it is short (the ImageNet stem, the usual head), so the
    stem and head nodes stay low; a deep stem keeps a line per conv."""
    lines = _path_summary(layers)
    one = " · ".join(lines)
    return [one] if len(one) <= width else lines


def _stem(w: _Writer, a: Analysis) -> None:
    """Input and stem side by side on the first row."""
    plan = a.plan
    w.node("input", label=f"input {shape_text(plan.input_shape)}", shape="plaintext", style="", fontsize=13)
    stem_lines = [f"<b>stem</b>  {_small(plan.stem_label, MUTED, 12)}", *(esc(t) for t in _joined(plan.stem)),
                  esc(f"out {shape_text(plan.stem_out)} · {_cost(a.stem)}")]
    w.node("stem", label=_lines(*stem_lines), fillcolor="#f4f4f4", group=MAIN_GROUP)
    w.same_rank("input", "stem")
    w.edge("input", "stem")


def _head(w: _Writer, a: Analysis, prev: str) -> None:
    """Head and output side by side on the last row."""
    plan = a.plan
    head_in = plan.head[0].in_shape if plan.head else plan.stem_out
    ops = [esc(t) for t in _joined(plan.head)]
    first = f"<b>head</b>  {ops.pop(0)}" if len(ops) == 1 else "<b>head</b>"
    head_lines = [first, *ops, esc(f"{shape_text(head_in)} → {plan.num_classes} classes · {_cost(a.head)}")]
    w.node("head", label=_lines(*head_lines), fillcolor="#f4f4f4", group=MAIN_GROUP)
    w.node("output", label=f"output {plan.num_classes}", shape="plaintext", style="", fontsize=13)
    w.same_rank("head", "output")
    w.edge(prev, "head", weight=MAIN_WEIGHT)
    w.edge("head", "output")


def network_dot(a: Analysis, expand: bool = False) -> str:
    """The whole network: stem, stages of blocks (runs collapsed unless ``expand``), head,
    shortcuts, legend."""
    plan = a.plan
    w = _Writer()
    _stem(w, a)
    prev = "stem"
    grouped = runs(a, expand)
    for stage in a.stages:
        w.open(f"cluster_layer{stage.stage}", label="", style="rounded", color="#aaaaaa", margin=4)
        for run in (r for r in grouped if r.first.block.stage == stage.stage):
            prev = _draw_run(w, run, prev)
        _stage_title(w, stage)
        w.close()
    _head(w, a, prev)
    kinds = [k for k in SHORTCUT_COLORS if k in a.shortcut_kinds()]
    _legend(w, kinds, loops=bool(w.loops))
    _, h, wd = plan.input_shape
    title = Html(
        f"<b>{esc(a.name)}</b>  {esc(_describe(a))}<br/>"
        + _small(f"{human(a.total.params)} params · {human(a.total.macs)} MACs at "
                 f"{h}x{wd} · {len(a.blocks)} blocks, {plan.depth} layers", MUTED, 13)
    )
    return _document(a.name, title, w, ranksep=NETWORK_RANKSEP)


def _describe(a: Analysis) -> str:
    s = a.spec
    layout = "-".join(map(str, a.plan.layout))
    if a.plan.source != "spec":
        kinds = "/".join(dict.fromkeys(_block_kind(b) for b in a.plan.blocks))
        parts = [f"traced: {kinds} blocks {layout}"]
        if s is not None:
            parts.append(f"= {s.name}")
        return " · ".join(parts)
    assert s is not None
    parts = [("pre-activation " if s.preact else "") + f"{s.block} blocks {layout}", f"shortcut {s.shortcut}"]
    if s.block == "bottleneck":
        parts.append(f"stride in {s.stride_in}")
    return " · ".join(parts)


# ---------------------------------------------------------------------------------------------
# Block view


def _layer_label(layer: Layer, block: Block | None, extra: Sequence[str] = ()) -> Html:
    t = count_layer(layer)
    return _lines(
        f"<b>{esc(_short_name(layer, block))}</b>  {esc(describe_layer(layer))}",
        _small(f"out {shape_text(layer.out_shape)} · {_cost(t)}", "#333333", 11),
        *extra,
    )


def _block_body(w: _Writer, bc: BlockCount, prefix: str) -> None:
    """Every layer of one block, with its shortcut, as nodes with ids under ``prefix``."""
    blk = bc.block
    in_id = f"{prefix}input"
    ids, add_id = _main_column(w, blk, prefix, in_id)
    _gate_edges(w, blk, ids, in_id)
    if not add_id:  # shortcut "none": nothing bypasses the block
        return
    # A pre-activation projection reads after the first BN-ReLU (He et al. 2016 share it between
    # both paths); every other shortcut reads the block's input.
    source = in_id if blk.shortcut_source < 0 else ids[blk.shortcut_source]
    color = SHORTCUT_COLORS[blk.shortcut]
    style = EDGE_STYLE[blk.shortcut]
    if blk.shortcut == "identity":
        w.edge(source, add_id, style, label="identity", color=color, fontcolor=color,
               tailport="e", headport="e")
        return
    if blk.shortcut == "zero_pad":
        layer = blk.shortcut_layers[0]
        w.edge(source, add_id, style, label=f"zero-pad\n{zero_pad_text(layer)}\nout {shape_text(layer.out_shape)}",
               color=color, fontcolor=color, tailport="e", headport="e")
        return
    _projection_nodes(w, bc, prefix, source, add_id)


def _main_column(w: _Writer, blk: Block, prefix: str, in_id: str) -> tuple[list[str], str]:
    """The block's input, main-path layers and output as one column of nodes; their ids (the
    layers') and the addition's (empty when the block has none)."""
    color = SHORTCUT_COLORS[blk.shortcut]
    group = f"{prefix}main"  # one group: Graphviz keeps the main path a straight column
    w.node(in_id, label=_lines(f"<b>input</b>  {esc(shape_text(blk.in_shape))}"), shape="box",
           style="rounded", color="#999999", group=group)
    ids = [f"{prefix}{_short_name(layer, blk)}" for layer in blk.main]
    prev = in_id
    add_id = ""
    for layer, node_id in zip(blk.main, ids):
        if layer.op == "add":
            add_id = node_id
            w.node(node_id, label=_layer_label(layer, blk), shape="box", style="rounded,filled,bold",
                   fillcolor=_OP_FILL["add"], color=color, penwidth=2, group=group)
        else:
            w.node(node_id, label=_layer_label(layer, blk), fillcolor=_OP_FILL.get(layer.op, "#ffffff"), group=group)
        w.edge(prev, node_id)
        prev = node_id
    out_id = f"{prefix}output"
    w.node(out_id, label=_lines(f"<b>output</b>  {esc(shape_text(blk.out_shape))}"), shape="box",
           style="rounded", color="#999999", group=group)
    w.edge(prev, out_id)
    return ids, add_id


def _projection_nodes(w: _Writer, bc: BlockCount, prefix: str, source: str, add_id: str) -> None:
    """A projection or avg-pool projection (or an ``other`` shortcut): its conv with the BN (if
    any) as one node, an average pool before it as a node of its own, from ``source`` to the
    addition."""
    blk = bc.block
    color = SHORTCUT_COLORS[blk.shortcut]
    style = EDGE_STYLE[blk.shortcut]
    layers = list(blk.shortcut_layers)
    prev_sc = source
    if layers and layers[0].op == "avg_pool":
        pool = layers.pop(0)
        pool_id = f"{prefix}{_short_name(pool, blk)}"
        w.node(pool_id, label=_layer_label(pool, blk), fillcolor=_OP_FILL["avg_pool"], color=color, penwidth=2)
        w.edge(prev_sc, pool_id, style, color=color)
        prev_sc = pool_id
    names = " + ".join(f"{_short_name(layer, blk)}" for layer in layers)
    ops = " + ".join("BN" if layer.op == "batch_norm" else describe_layer(layer) for layer in layers)
    out = layers[-1].out_shape
    part = sum((count_layer(layer) for layer in layers), Tally())
    main = bc.main
    proj_id = f"{prefix}shortcut"
    label = _lines(
        f'<font color="{color}"><b>{esc(SHORTCUT_LABELS[blk.shortcut])}</b></font>',
        f"<b>{esc(names)}</b>",
        esc(ops),
        _small(f"out {shape_text(out)} · {_cost(part)}", "#333333", 11),
        f'<font point-size="12" color="{color}"><b>shortcut = {esc(percent(bc.shortcut.params, main.params))} of main params, '
        f"{esc(percent(bc.shortcut.macs, main.macs))} of main MACs</b></font>",
    )
    w.node(proj_id, label=label, fillcolor="#fdf0eb" if blk.shortcut == "projection" else "#f5eefa",
           color=color, penwidth=2.5)
    w.edge(prev_sc, proj_id, style, color=color)
    w.edge(proj_id, add_id, style, color=color)


def _gate_edges(w: _Writer, blk: Block, ids: Sequence[str], in_id: str) -> None:
    """A gate (squeeze-excitation) multiplies the tensor its branch started from: draw that second
    input of the product, which the column of layers alone would hide."""
    index = {ly.name: i for i, ly in enumerate(blk.main_template)}
    for extra in blk.extras:
        members = [index[n] for n in extra.layers if n in index]
        if len(members) < 2 or blk.main_template[members[-1]].op != "mul":
            continue
        before = members[0] - 1
        tail = ids[before] if before >= 0 else in_id
        w.edge(tail, ids[members[-1]], 'style="dashed"', label=f"× {extra.kind}", color=MUTED, fontcolor=MUTED,
               tailport="w", headport="w", fontsize=11)


def _block_title(bc: BlockCount, spec_name: str, heading: str = "") -> Html:
    blk = bc.block
    color = SHORTCUT_COLORS[blk.shortcut]
    first = heading or f"<b>{esc(spec_name)} · {esc(blk.name)}</b>"
    return _lines(
        first,
        _small(f"{_block_kind(blk)} block · stride {blk.stride} · {shape_text(blk.in_shape)} → {shape_text(blk.out_shape)}",
               INK, 15),
        f'{_small(f"main path {_cost(bc.main)}", "#333333", 13)}',
        f'<font point-size="13" color="{color}">shortcut ({esc(SHORTCUT_LABELS[blk.shortcut])}) {esc(_cost(bc.shortcut))}</font>',
        _small(f"block total {_cost(bc.total)}", "#333333", 13),
    )


def block_dot(a: Analysis, name: str) -> str:
    """Every layer of block ``name`` (``KeyError`` if the network has no such block)."""
    bc = a.block(name)
    w = _Writer()
    _block_body(w, bc, "")
    return _document(f"{a.name} {name}", _block_title(bc, a.name), w)


def compare_dot(left: Analysis, right: Analysis, name: str) -> str:
    """Block ``name`` of two analyses of one network that differ in the shortcut option, side by
    side: typically parameter-free (identity or zero-pad) on the left, projection on the right."""
    pair = (left.block(name), right.block(name))
    w = _Writer()
    base = pair[0].total
    for side, (a, bc) in zip(("a", "b"), zip((left, right), pair)):
        blk = bc.block
        color = SHORTCUT_COLORS[blk.shortcut]
        heading = (f'<font color="{color}"><b>{esc(SHORTCUT_LABELS[blk.shortcut])} shortcut</b></font>'
                   f"  {_small(f'option {a.spec.shortcut}' if a.spec is not None else 'as traced', MUTED, 13)}")
        title = _block_title(bc, a.name, heading)
        if side == "b":
            left_kind = SHORTCUT_LABELS[pair[0].block.shortcut]
            change = (f"block total {_times(bc.total.params, base.params)} params, "
                      f"{_times(bc.total.macs, base.macs)} MACs of the {left_kind} version")
            title = Html(title + "<br/>" + f'<font point-size="13" color="{color}"><b>{esc(change)}</b></font>')
        w.open(f"cluster_{side}", label=title, style="rounded", color=color, penwidth=1.5, margin=14, fontsize=16)
        _block_body(w, bc, f"{side}/")
        w.close()
    blk = pair[0].block
    title = Html(
        f"<b>{esc(left.name)} · {esc(name)}</b>  {esc(_block_kind(blk))} block, "
        f"{esc(shape_text(blk.in_shape))} → {esc(shape_text(blk.out_shape))}<br/>"
        + _small("the same block with each shortcut: what a projection adds", MUTED, 13)
    )
    return _document(f"{left.name} {name} compare", title, w)


def _times(value: int, base: int) -> str:
    if base == 0:
        return "-"
    return f"×{value / base:.2f}"
