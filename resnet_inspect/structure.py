"""A traced forward pass -> a ``Plan``: residual units found by what the ops do, never by names.

1. **Data flow.** Views are looked through (a ``view`` makes no new data); tensors made from nothing
   the input decides (``torch.zeros``, ``x * 0``) are constants. Every other op is a node, and each
   node's immediate dominator (the last node every path from the input to it passes through) is
   found in one pass in execution order.
2. **Units.** Every addition of two different data tensors of its own output shape is a residual
   unit. Its *fork* is the addition's dominator: the two branches from the fork to the addition
   are the main path (the one with more convs, then more ops) and the shortcut. An addition inside
   another unit's branches is that unit's inner residual, not a unit of its own.
3. **Extent.** A unit is the module call that holds its branches and no other unit (a ``BasicBlock``),
   from its first op to its last, so a v1 unit keeps the ReLU after its addition and a v2 unit its
   leading BN-ReLU. Without such a call (a flat ``forward``), it is its branches, the addition and
   the activations right after it. Ops between two units belong to the next unit; what comes
   before the first unit is the stem, what comes after the last the head.
4. **Shortcut kind**, from the shortcut's ops: none -> ``identity``; slicing, zero-padding or
   concatenation with zeros -> ``zero_pad``; a conv with or without a norm -> ``projection`` (any
   kernel); an average pool then that -> ``avgpool_projection``; anything else -> ``other``.
5. **Extras** on the main path are named: a product gated by a pooled, squashed branch
   (squeeze-excitation) or another gate; dropout and stochastic-depth modules (silent in eval mode,
   seen as module calls); inner residuals; ops between units.
6. **Stages** group consecutive units with the same output resolution.

Pure: works on ``tracedata.Trace``; ``nn.trace`` makes one from a live module.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from .errors import SpecError
from .plan import Block, Extra, Layer, Plan, Shape, ShortcutKind, common_path
from .tracedata import ModuleCall, OpRecord, TensorShape, Trace

ROOT: Final = -1
#: Ops that pass data through unchanged (looked through) and ops that make constants.
_PASS: Final = frozenset({"view"})
_CONST: Final = frozenset({"const"})
_WEIGHTED: Final = frozenset({"conv", "linear"})
_POOLS: Final = frozenset({"adaptive_avg_pool2d", "mean", "avg_pool", "max_pool"})
_GATE_SQUASH: Final = frozenset({"sigmoid", "hardsigmoid", "hard_sigmoid", "softmax"})
_DROP_TYPES: Final = (("droppath", "stochastic depth"), ("stochasticdepth", "stochastic depth"),
                      ("dropblock", "dropout"), ("dropout", "dropout"))


class NotResidual(SpecError):
    """The traced network has no residual additions: it is not a ResNet."""


@dataclass(frozen=True)
class _Unit:
    add: int
    fork: int
    main: frozenset[int]
    shortcut: frozenset[int]
    #: The operand index (0 or 1) of the addition that carries the shortcut.
    shortcut_operand: int


# ---------------------------------------------------------------------------------------- graph


class _Graph:
    """Nodes (non-view, non-constant ops), their data predecessors and immediate dominators."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self.ops = trace.ops
        self.producer: dict[int, int] = {}
        self.alias: dict[int, int] = {}
        self.const: set[int] = set()
        self.nodes: list[int] = []
        self.preds: dict[int, tuple[int, ...]] = {}
        self.idom: dict[int, int] = {}
        self.depth: dict[int, int] = {ROOT: 0}
        self._build()

    def canon(self, value: int) -> int:
        while value in self.alias:
            value = self.alias[value]
        return value

    def data_inputs(self, op: OpRecord) -> list[int]:
        """The op's inputs that carry data (not constants), looked through views."""
        out = []
        for v in op.inputs:
            c = self.canon(v)
            if c not in self.const:
                out.append(c)
        return out

    def _build(self) -> None:
        for i, op in enumerate(self.ops):
            data = [] if op.op in _CONST else self.data_inputs(op)
            if not data:  # made from constants and parameters only: nothing the input decides
                self.const.update(op.outputs)
                continue
            if op.op in _PASS and len(data) == 1:
                for v in op.outputs:
                    self.alias[v] = data[0]
                continue
            preds = tuple(dict.fromkeys(self.producer.get(v, ROOT) for v in data))
            self.nodes.append(i)
            self.preds[i] = preds
            dom = preds[0]
            for p in preds[1:]:
                dom = self._lca(dom, p)
            self.idom[i] = dom
            self.depth[i] = self.depth[dom] + 1
            for v in op.outputs:
                self.producer[v] = i

    def _lca(self, a: int, b: int) -> int:
        while a != b:
            if self.depth[a] >= self.depth[b]:
                a = self.idom.get(a, ROOT)
            else:
                b = self.idom.get(b, ROOT)
        return a

    def branch(self, value: int, fork: int) -> set[int]:
        """Every node on the way from ``fork`` (excluded) to the node that made ``value``."""
        seen: set[int] = set()
        stack = [self.producer.get(self.canon(value), ROOT)]
        while stack:
            n = stack.pop()
            if n in (fork, ROOT) or n in seen:
                continue
            seen.add(n)
            stack.extend(self.preds[n])
        return seen


# ---------------------------------------------------------------------------------------- units


def _is_residual_add(g: _Graph, i: int) -> bool:
    op = g.ops[i]
    if op.op != "add" or not op.out_shapes:
        return False
    data = g.data_inputs(op)
    if len(data) != 2 or data[0] == data[1]:
        return False
    return all(s == op.out_shapes[0] for s in op.in_shapes[:2])


def _weight(g: _Graph, nodes: Iterable[int]) -> tuple[int, int, int]:
    """How much a branch computes, to tell the main path from the shortcut: its convs and linear
    layers, then their multiply-adds (a single-conv unit's 3x3 conv outweighs an avg-pool + 1x1
    projection that has more ops), then its ops."""
    nodes = list(nodes)
    weighted = [g.ops[n] for n in nodes if g.ops[n].op in _WEIGHTED]
    return (len(weighted), sum(_work(op) for op in weighted), len(nodes))


def _work(op: OpRecord) -> int:
    """Multiply-adds of a conv or linear op, from its data input's and output's shapes."""
    if not op.in_shapes or not op.out_shapes:
        return 0
    out, x = math.prod(op.out_shapes[0]), op.in_shapes[0]
    if op.op == "conv" and len(x) > 1:
        kh, kw = op.attrs.get("kernel", (1, 1))
        groups = max(1, int(op.attrs.get("groups", 1)))
        return out * (x[1] // groups) * int(kh) * int(kw)
    return out * (x[-1] if x else 1)


def _find_units(g: _Graph) -> tuple[list[_Unit], dict[int, list[int]]]:
    """Residual units, outermost only, and for each the additions nested inside it."""
    candidates: list[_Unit] = []
    for i in g.nodes:
        if not _is_residual_add(g, i):
            continue
        fork = g.idom[i]
        first, second = g.data_inputs(g.ops[i])
        b0, b1 = g.branch(first, fork), g.branch(second, fork)
        if not b0 and not b1:
            continue
        short = 1 if _weight(g, b0) >= _weight(g, b1) else 0
        main, sc = (b0, b1) if short == 1 else (b1, b0)
        candidates.append(_Unit(i, fork, frozenset(main - sc), frozenset(sc), short))
    inner: dict[int, list[int]] = {}
    units = []
    for u in candidates:
        outer = next((o for o in candidates if o is not u and (u.add in o.main or u.add in o.shortcut)), None)
        if outer is None:
            units.append(u)
        else:
            inner.setdefault(outer.add, []).append(u.add)
    return units, inner


# ---------------------------------------------------------------------------------------- extents


def _call_chain(calls: Sequence[ModuleCall], c: int) -> list[int]:
    chain = []
    while c >= 0:
        chain.append(c)
        c = calls[c].parent
    return chain


def _unit_call(g: _Graph, core: Iterable[int], adds: set[int], own: int) -> int | None:
    """The innermost module call holding every op of ``core`` and no other unit's addition."""
    calls = g.trace.calls
    common: list[int] | None = None
    for n in core:
        chain = _call_chain(calls, g.ops[n].call)
        common = chain if common is None else [c for c in common if c in set(chain)]
    if not common:
        return None
    c = common[0]
    call = calls[c]
    if call.parent < 0:  # the whole model: a flat forward, not a unit of its own
        return None
    if any(call.first_op <= a < call.end_op for a in adds if a != own):
        return None
    return c


def _tail(g: _Graph, add: int, limit: int) -> int:
    """The last op of a flat unit: the activations applied right after its addition."""
    last = add
    value = g.canon(g.ops[add].outputs[0]) if g.ops[add].outputs else -1
    for i in range(add + 1, limit):
        op = g.ops[i]
        if op.op in _PASS or op.op in _CONST:
            continue
        if op.op in ("relu", "activation") and g.data_inputs(op) == [value]:
            last, value = i, g.canon(op.outputs[0])
            continue
        break
    return last


def _extents(g: _Graph, units: list[_Unit]) -> list[tuple[int, int, int]]:
    """``(first, last, call)`` per unit, in execution order: its op range and the module call that
    is the unit (-1 for a unit written inline in a flat ``forward``)."""
    adds = {u.add for u in units}
    out: list[tuple[int, int, int]] = []
    for k, u in enumerate(units):
        core = {*u.main, *u.shortcut, u.add}
        c = _unit_call(g, core, adds, u.add)
        if c is not None:
            call = g.trace.calls[c]
            out.append((call.first_op, call.end_op - 1, c))
            continue
        limit = len(g.ops)
        if k + 1 < len(units):
            nxt = units[k + 1]
            limit = min([nxt.add, *nxt.main, *nxt.shortcut])
        out.append((min(core), _tail(g, u.add, limit), -1))
    return out


# ---------------------------------------------------------------------------------------- layers


def chw(shape: TensorShape) -> Shape:
    """A tensor shape without its batch dimension as ``(C, H, W)``: ``(N, F)`` is ``(F, 1, 1)``."""
    rest = list(shape[1:]) if len(shape) > 1 else list(shape)
    while len(rest) < 3:
        rest.append(1)
    if len(rest) > 3:
        rest = [rest[0], rest[1], math.prod(rest[2:])]
    return (int(rest[0]), int(rest[1]), int(rest[2]))


class _Namer:
    """Layer names from module paths, unique within one part of the plan (``relu``, ``relu#2``).

    An op that is the only one of a leaf module (an ``nn.Conv2d``) takes the module's path; an op
    written in a ``forward`` (``out += x``, ``F.relu``) takes the path of that module plus its name.
    """

    def __init__(self, g: _Graph, leaves: dict[int, int]) -> None:
        self.g = g
        self.leaves = leaves  # leaf call -> its data ops
        self.used: dict[str, int] = {}

    def name(self, i: int) -> str:
        op = self.g.ops[i]
        path = self.g.trace.calls[op.call].path if op.call >= 0 else ""
        if self.leaves.get(op.call, 0) == 1 and path:
            base = path
        else:
            base = f"{path}.{op.op if op.op != 'other' else op.aten.rsplit('.', 1)[-1]}".lstrip(".")
        n = self.used.get(base, 0) + 1
        self.used[base] = n
        return base if n == 1 else f"{base}#{n}"


class _LayerMaker:
    """Ops -> ``Layer``s, counting each parameter once however many ops read it."""

    def __init__(self, g: _Graph) -> None:
        self.g = g
        self.seen_params: set[str] = set()
        parents = {c.parent for c in g.trace.calls}
        leaves: dict[int, int] = {}
        for n in g.nodes:
            c = g.ops[n].call
            if c not in parents:
                leaves[c] = leaves.get(c, 0) + 1
        self.leaves = leaves

    def namer(self) -> _Namer:
        return _Namer(self.g, self.leaves)

    def layer(self, i: int, name: str) -> Layer:
        op = self.g.ops[i]
        shared = bool(op.params) and all(p in self.seen_params for p in op.params)
        self.seen_params.update(op.params)
        data = [s for v, s in zip(op.inputs, op.in_shapes) if self.g.canon(v) not in self.g.const]
        in_shape = chw(data[0] if data else op.in_shapes[0] if op.in_shapes else op.out_shapes[0])
        out_shape = chw(op.out_shapes[0]) if op.out_shapes else in_shape
        a = op.attrs
        if op.op == "conv":
            kh, kw = a["kernel"]
            return Layer(name, "conv", in_shape, out_shape, kh, a["stride"][0], a["groups"], a["padding"][0],
                         bias=a["bias"], shared=shared, kernel_w=kw if kw != kh else 0)
        if op.op in ("batch_norm", "norm"):
            return Layer(name, "batch_norm" if op.op == "batch_norm" else "norm", in_shape, out_shape,
                         affine=a["affine"], shared=shared, detail=a.get("kind", "") if op.op == "norm" else "")
        if op.op == "linear":
            return Layer(name, "linear", in_shape, out_shape, bias=a["bias"], shared=shared)
        if op.op in ("max_pool", "avg_pool"):
            kh, kw = a["kernel"]
            return Layer(name, "max_pool" if op.op == "max_pool" else "avg_pool", in_shape, out_shape, kh,
                         a["stride"][0], padding=a["padding"][0], kernel_w=kw if kw != kh else 0)
        known = ("relu", "activation", "adaptive_avg_pool2d", "mean", "add", "mul")
        kind = op.op if op.op in known else "other"
        detail = a.get("kind", "") if kind == "activation" else (op.aten if kind == "other" else "")
        extra = 0 if shared else op.param_numel
        return Layer(name, kind, in_shape, out_shape, detail=detail, other_params=extra)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------- shortcuts


def _is_zero_pad(g: _Graph, ops: Sequence[int]) -> bool:
    kinds = {g.ops[i].op for i in ops}
    if not kinds or not kinds <= {"slice", "pad", "cat"}:
        return False
    for i in ops:
        op = g.ops[i]
        if op.op == "slice" and op.attrs.get("dim") not in (2, 3):
            return False
        if op.op == "pad" and (op.attrs.get("value", 0) != 0):
            return False
        if op.op == "cat" and (op.attrs.get("dim") not in (1, -3) or len(g.data_inputs(op)) != 1):
            return False
    return True


def _shortcut_layers(g: _Graph, maker: _LayerMaker, namer: _Namer, unit: _Unit, ops: list[int],
                     in_shape: Shape, out_shape: Shape) -> tuple[tuple[Layer, ...], ShortcutKind]:
    if not ops:
        return (), "identity"
    if _is_zero_pad(g, ops):
        stride = max(1, round(in_shape[1] / out_shape[1])) if out_shape[1] else 1
        name = namer.name(ops[0])
        return (Layer(name, "zero_pad", in_shape, out_shape, 1, stride),), "zero_pad"
    layers = tuple(maker.layer(i, namer.name(i)) for i in ops)
    seq = [ly.op for ly in layers]
    norms = ("batch_norm", "norm")
    if seq[:1] == ["conv"] and (len(seq) == 1 or (len(seq) == 2 and seq[1] in norms)):
        return layers, "projection"
    if seq[:2] == ["avg_pool", "conv"] and (len(seq) == 2 or (len(seq) == 3 and seq[2] in norms)):
        return layers, "avgpool_projection"
    return layers, "other"


# ---------------------------------------------------------------------------------------- extras


def _gates(g: _Graph, main: Sequence[int]) -> list[tuple[str, list[int]]]:
    """Products of two data tensors on the main path, each with the ops of its gating branch."""
    inside = set(main)
    found = []
    for i in main:
        op = g.ops[i]
        data = g.data_inputs(op)
        if op.op != "mul" or len(data) != 2 or data[0] == data[1]:
            continue
        fork = g.idom[i]
        branches = [g.branch(v, fork) & inside for v in data]
        # The gate is the branch that squashes (a sigmoid), else the smaller one that does anything.
        squashing = [b for b in branches if any(g.ops[n].attrs.get("kind") in _GATE_SQUASH for n in b)]
        candidates: list[set[int]] = squashing or [b for b in branches if b] or branches
        smallest = candidates[0]
        for b in candidates[1:]:
            smallest = b if len(b) < len(smallest) else smallest
        ops = sorted(smallest)
        pooled = any(g.ops[n].op in _POOLS for n in ops)
        found.append(("squeeze-excitation" if pooled and squashing else "gate", [*ops, i]))
    return found


def _silent_modules(g: _Graph, first: int, last: int) -> list[tuple[str, str]]:
    """Dropout and stochastic-depth modules called inside ``[first, last]`` (no ops in eval mode)."""
    out = []
    for call in g.trace.calls:
        if not first <= call.first_op <= last + 1 or call.first_op != call.end_op:
            continue
        lowered = call.type_name.lower()
        kind = next((k for key, k in _DROP_TYPES if key in lowered), None)
        if kind is not None and call.first_op <= last:
            out.append((call.path or call.type_name, kind))
    return out


# ---------------------------------------------------------------------------------------- blocks


@dataclass(frozen=True)
class _Part:
    """One unit laid out: its layers, shortcut and extras, before stages and names are final."""

    name: str
    main: tuple[Layer, ...]
    shortcut: tuple[Layer, ...]
    kind: ShortcutKind
    source: int
    extras: tuple[Extra, ...]
    in_shape: Shape
    out_shape: Shape


def _kind_of(main: Sequence[Layer], extras: Sequence[Extra]) -> str:
    """``basic`` / ``bottleneck`` / ``single`` from the main path's convs, else their kernels."""
    skip = {n for e in extras if e.off_path for n in e.layers}
    kernels = [ly.kernel_text for ly in main if ly.op == "conv" and ly.name not in skip]
    if kernels == ["3x3"]:
        return "single"
    if kernels == ["3x3", "3x3"]:
        return "basic"
    if kernels == ["1x1", "3x3", "1x1"]:
        return "bottleneck"
    return f"convs {'-'.join(kernels)}" if kernels else "no convs"


def _layout_unit(g: _Graph, maker: _LayerMaker, unit: _Unit, ops: list[int], name: str,
                 extra_ops: list[int], inner: list[int]) -> _Part:
    """One unit's layers: main path in execution order, the shortcut apart, extras named."""
    namer = maker.namer()
    sc_ops = [i for i in ops if i in unit.shortcut]
    main_ops = [i for i in ops if i not in unit.shortcut]
    names = {i: namer.name(i) for i in main_ops}
    main = tuple(maker.layer(i, names[i]) for i in main_ops)
    in_shape, out_shape = main[0].in_shape, main[-1].out_shape
    fork_shape = _fork_shape(g, unit, in_shape)
    shortcut, kind = _shortcut_layers(g, maker, namer, unit, sc_ops, fork_shape, chw(g.ops[unit.add].out_shapes[0]))
    source = main_ops.index(unit.fork) if unit.fork in main_ops else -1
    extras: list[Extra] = []
    for what, members in _gates(g, main_ops):
        paths = [g.trace.calls[g.ops[n].call].path for n in members if g.ops[n].call >= 0]
        extras.append(Extra(common_path(paths) or names[members[-1]], what, tuple(names[n] for n in members)))
    extras += [Extra(label, what) for label, what in _silent_modules(g, ops[0], ops[-1])]
    extras += [Extra(names[a], "inner residual") for a in inner if a in names]
    if extra_ops:
        extras.append(Extra("between units", "between units", tuple(names[i] for i in extra_ops if i in names)))
    return _Part(name, main, shortcut, kind, source, tuple(extras), in_shape, out_shape)


def _fork_shape(g: _Graph, unit: _Unit, default: Shape) -> Shape:
    if unit.fork == ROOT:
        return chw((1, *g.trace.input_shape))
    op = g.ops[unit.fork]
    return chw(op.out_shapes[0]) if op.out_shapes else default


def _stages(parts: Sequence[_Part]) -> list[tuple[int, int]]:
    """``(stage, index)`` per unit: a new stage wherever the output resolution changes."""
    out: list[tuple[int, int]] = []
    stage, index, res = 0, 0, None
    for p in parts:
        here = p.out_shape[1:]
        if here != res:
            stage, index, res = stage + 1, 0, here
        else:
            index += 1
        out.append((stage, index))
    return out


def _relative(layers: tuple[Layer, ...], prefix: str) -> tuple[Layer, ...]:
    return tuple(
        Layer(ly.name[len(prefix):], ly.op, ly.in_shape, ly.out_shape, ly.kernel, ly.stride, ly.groups, ly.padding,
              ly.bias, ly.affine, ly.shared, ly.kernel_w, ly.detail, ly.other_params)
        for ly in layers
    )


def _block(part: _Part, stage: int, index: int, interned: dict[tuple[Layer, ...], tuple[Layer, ...]]) -> Block:
    prefix = part.name + "."
    relative = all(ly.name.startswith(prefix) for ly in (*part.main, *part.shortcut))
    main = _relative(part.main, prefix) if relative else part.main
    short = _relative(part.shortcut, prefix) if relative else part.shortcut
    extras = part.extras
    if relative:
        extras = tuple(Extra(e.label, e.kind, tuple(n[len(prefix):] for n in e.layers)) for e in extras)
    main = interned.setdefault(main, main)
    short = interned.setdefault(short, short)
    preact = main[0].op in ("batch_norm", "norm") and main[-1].op == "add"
    stride = max(1, round(part.in_shape[1] / part.out_shape[1])) if part.out_shape[1] else 1
    return Block(part.name, stage, index, _kind_of(main, extras), preact, part.in_shape, part.out_shape, stride,
                 part.kind, main, short, part.source, extras, relative)


# ---------------------------------------------------------------------------------------- plan


def _what_it_is(g: _Graph) -> str:
    convs = sum(1 for n in g.nodes if g.ops[n].op == "conv")
    linears = sum(1 for n in g.nodes if g.ops[n].op == "linear")
    adds = sum(1 for n in g.nodes if g.ops[n].op == "add")
    found = f"{convs} conv, {linears} linear layers"
    if adds:
        found += f", {adds} additions but none of two branches of the same input"
    return found


def _unique(name: str, parts: Sequence[_Part]) -> str:
    """``name``, or ``name#2``... when a module called more than once already named a unit: block
    names key reports and diagram nodes, so two units never share one."""
    taken = {p.name for p in parts}
    n = 1
    unique = name
    while unique in taken:
        n += 1
        unique = f"{name}#{n}"
    return unique


def plan_from_trace(trace: Trace) -> Plan:
    """The plan of a traced network; ``NotResidual`` when it has no residual addition."""
    g = _Graph(trace)
    units, inner = _find_units(g)
    if not units:
        raise NotResidual(f"{trace.name}: not a residual network: no residual additions ({_what_it_is(g)})")
    extents = _extents(g, units)
    maker = _LayerMaker(g)
    node_set = set(g.nodes)
    stem_ops = [i for i in g.nodes if i < extents[0][0]]
    namer = maker.namer()
    stem = tuple(maker.layer(i, namer.name(i)) for i in stem_ops)
    parts: list[_Part] = []
    previous_end = extents[0][0] - 1
    for k, (u, (first, last, call)) in enumerate(zip(units, extents)):
        gap = [i for i in g.nodes if previous_end < i < first]
        ops = gap + [i for i in range(first, last + 1) if i in node_set]
        name = _unique((trace.calls[call].path if call >= 0 else "") or f"unit{k + 1}", parts)
        parts.append(_layout_unit(g, maker, u, ops, name, gap if call >= 0 else [], inner.get(u.add, [])))
        previous_end = last
    namer = maker.namer()
    head = tuple(maker.layer(i, namer.name(i)) for i in g.nodes if i > previous_end)
    interned: dict[tuple[Layer, ...], tuple[Layer, ...]] = {}
    blocks = tuple(_block(p, stage, index, interned) for p, (stage, index) in zip(parts, _stages(parts)))
    notes = list(trace.notes)
    if trace.unused_params:
        total = sum(n for _, n in trace.unused_params)
        names = ", ".join(name for name, _ in trace.unused_params[:3])
        more = f" and {len(trace.unused_params) - 3} more" if len(trace.unused_params) > 3 else ""
        notes.append(f"{total:,} parameters are never used in the forward pass and are not counted ({names}{more}).")
    return Plan(trace.name, trace.input_shape, stem, blocks, head, spec=None, source="module", notes=tuple(notes))
