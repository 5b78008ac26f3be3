"""Checkpoint tensors -> layers -> the residual units their shapes form (pure: no torch).

A ``state_dict`` lists tensors module by module, in registration order, but a file need not keep
that order: safetensors stores its tensors sorted (by dtype, then name: ``bn1.bias`` before
``conv1.weight``, every ``num_batches_tracked`` first), and tools rewrite checkpoints in any
order. Neither the names nor the stored order can be trusted to mean much: authors call the stem
``conv`` or ``conv1``, the shortcut ``downsample``, ``shortcut``, ``skip`` or ``proj``, the
classifier ``fc``, ``linear`` or ``head``; torchvision registers a block's projection after
``conv2``/``bn2``, timm's resnetv2 before ``conv1``, an SE block puts its linear layers in
between. So the layers are first put in a **canonical order** built from their names alone
(``canonical_order``: numbers compared as numbers, a stem first and a head last, each norm beside
the conv named like it), and this module reads only

* which tensors form one layer (the key without its last field: ``weight``, ``bias``,
  ``running_mean``...), and what that layer is from its shapes: a conv (4-D weight), a linear
  layer (2-D weight), a norm (1-D weight/bias/statistics of one size) or something else;
* the **shape chain** of the convs: a residual unit is a run of convs whose input channels equal
  the previous conv's output channels (1x1-kxk-1x1 for a bottleneck, kxk-kxk for a basic block,
  one kxk conv for a single-conv unit), and its projection is a conv beside that run from the
  unit's input channels to its output channels, before or after it, whatever its kernel.

The parse is a shortest-path search over ``(next conv, current channels)``: every way of reading
the convs as stem + units is tried, and the reading that leaves fewest convs unexplained wins.
Names are used only to break ties between readings the shapes allow equally (a unit's convs share
a parent module; ``layer1.0`` and ``layer1.1`` are different units) and, elsewhere, as labels.
"""

from __future__ import annotations

import math
import re
from collections.abc import Container, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Final

from .errors import SpecError

PARAM_FIELDS: Final = ("weight", "bias")
BUFFER_FIELDS: Final = ("running_mean", "running_var", "num_batches_tracked")
KNOWN_FIELDS: Final = PARAM_FIELDS + BUFFER_FIELDS
#: More tensors than any ResNet has (resnet1202 has about 7,000): refused before any work.
MAX_TENSORS: Final = 250_000
#: Main-path convs per unit, by block kind.
UNIT_CONVS: Final = {"bottleneck": 3, "basic": 2, "single": 1}
#: Preference between readings the shapes allow equally (lower first).
_KIND_RANK: Final = {"bottleneck": 0, "basic": 1, "single": 2}

Shape = tuple[int, ...]
#: (unexplained convs, classifier mismatch, name-hint conflicts, irregular stem, unusual
#: projections): compared in this order, lower is better.
Cost = tuple[int, int, int, int, int]
_ZERO: Final[Cost] = (0, 0, 0, 0, 0)


def numel(shape: Shape) -> int:
    return math.prod(shape) if shape else 1


def split_key(key: str) -> tuple[str, str]:
    """``("layer1.0.conv1", "weight")``; a key whose last part is no known field is its own layer."""
    path, _, last = key.rpartition(".")
    return (path, last) if last in KNOWN_FIELDS else (key, "")


@dataclass(frozen=True)
class Module:
    """One layer of the checkpoint: its tensors and what their shapes say it is."""

    index: int
    path: str  # the checkpoint's own module path (untrusted: print with naming.printable)
    hint: str  # the same path without wrapper prefixes, for tie-breaking only
    kind: str  # "conv" | "norm" | "linear" | "other"
    keys: tuple[str, ...]
    shapes: tuple[Shape, ...]
    out: int = 0  # output channels (conv, linear) or channels (norm)
    inp: int = 0  # input channels per group (conv) or input features (linear)
    kernel: tuple[int, int] = (0, 0)
    fields: tuple[str, ...] = ()  # each key's last part (``weight``...), "" for an unknown one
    parent: str = ""  # ``hint`` without its last part: the module holding this one

    @property
    def bias(self) -> bool:
        return "bias" in self.fields

    @property
    def params(self) -> int:
        """Elements of every tensor that is not a BatchNorm statistic."""
        return sum(numel(s) for f, s in zip(self.fields, self.shapes) if f not in BUFFER_FIELDS)

    def describe(self) -> str:
        """``conv 3x3 16->32``, ``norm 64``, ``linear 64->10``: what the shapes say."""
        if self.kind == "conv":
            return f"conv {self.kernel[0]}x{self.kernel[1]} {self.inp}->{self.out}" + (" +bias" if self.bias else "")
        if self.kind == "norm":
            return f"norm {self.out}"
        if self.kind == "linear":
            return f"linear {self.inp}->{self.out}"
        return "other"


def group_modules(entries: Sequence[tuple[str, Shape]], hints: Sequence[str]) -> tuple[Module, ...]:
    """Tensors grouped into layers, in the order each layer first appears.

    ``hints[i]`` is ``entries[i]``'s key without wrapper prefixes (``module.``); it only labels.
    """
    groups: dict[str, list[int]] = {}
    for i, (key, _) in enumerate(entries):
        groups.setdefault(split_key(key)[0], []).append(i)
    modules = []
    for index, (path, members) in enumerate(groups.items()):
        keys = tuple(entries[i][0] for i in members)
        shapes = tuple(entries[i][1] for i in members)
        hint = split_key(hints[members[0]])[0]
        fields = tuple(split_key(k)[1] for k in keys)
        kind, out, inp, kernel = classify({f or k: s for f, k, s in zip(fields, keys, shapes)})
        modules.append(Module(index, path, hint, kind, keys, shapes, out, inp, kernel, fields, hint.rpartition(".")[0]))
    return tuple(modules)


def classify(fields: dict[str, Shape]) -> tuple[str, int, int, tuple[int, int]]:
    """(kind, out, in, kernel) of one layer from its tensors' shapes alone."""
    w = fields.get("weight")
    plain = w is not None and set(fields) <= {"weight", "bias"} and all(d > 0 for d in w)
    if w is not None and plain and fields.get("bias", (w[0],)) == (w[0],):
        if len(w) == 4:
            return "conv", w[0], w[1], (w[2], w[3])
        if len(w) == 2:
            return "linear", w[0], w[1], (0, 0)
    if fields and set(fields) <= set(KNOWN_FIELDS) and ("weight" in fields or "running_mean" in fields):
        sizes = {s for f, s in fields.items() if f != "num_batches_tracked"}
        if len(sizes) == 1 and fields.get("num_batches_tracked", ()) in ((), (1,)):
            (s,) = sizes
            if len(s) == 1 and s[0] > 0:
                return "norm", s[0], s[0], (0, 0)
    return "other", 0, 0, (0, 0)


# --- a canonical order -----------------------------------------------------------------------------

#: Names that start a network (ranked first among their siblings), end its body with a norm, or
#: head it (ranked last): the alphabet would put ``head`` before ``stages`` before ``stem``.
_FIRST_NAMES: Final = frozenset({"stem", "conv1", "conv", "conv_stem", "embedder", "prep"})
_FINAL_NORM_NAMES: Final = frozenset({"bn_final", "final_bn", "norm", "final_norm", "norm_final", "bn", "post_norm"})
_HEAD_NAMES: Final = frozenset({"fc", "head", "classifier", "linear", "logits", "last_linear"})
_RUNS: Final = re.compile(r"\d+|\D+")

NameKey = tuple[int, tuple[tuple[int, int, str], ...], str]


def name_key(name: str) -> NameKey:
    """Where one path component goes among its siblings: its rank (stem, body, final norm, head),
    then the name with digit runs compared as numbers (``layer2`` before ``layer10``, ``blocks.9``
    before ``blocks.10``), then the name itself so that no two names tie."""
    low = name.lower()
    base = low.rstrip("0123456789_")
    rank = 0 if low in _FIRST_NAMES else 3 if base in _HEAD_NAMES else 2 if low in _FINAL_NORM_NAMES else 1
    runs = tuple((0, int(r), "") if r.isdigit() else (1, 0, r) for r in _RUNS.findall(name))
    return rank, runs, name


def norm_partners(modules: Sequence[Module]) -> dict[int, int]:
    """norm index -> conv index for norms named like a conv beside them (``bn2``/``conv2``,
    ``norm1``/``conv1``, ``bn``/``conv``): the one conv and the one norm of a parent module whose
    names end in the same number, or both in none, the norm's channels being those the conv writes
    or a multiple of those it reads per group. Which side of the conv the norm sits on (post- or
    pre-activation) is what a file's order cannot be trusted to say, so the pairing is by name and
    the side is left to ``settle_norms``. Numbered siblings (``downsample.0``/``.1``, a
    Sequential) are not paired: their numbers already give their order."""
    slots: dict[tuple[str, str], dict[str, list[Module]]] = {}
    for m in modules:
        last = m.hint.rpartition(".")[2]
        if m.kind in ("conv", "norm") and last and not last.isdigit():
            digits = last[len(last.rstrip("0123456789")):]
            slots.setdefault((m.parent, digits), {"conv": [], "norm": []})[m.kind].append(m)
    found = {}
    for slot in slots.values():
        if len(slot["conv"]) == 1 and len(slot["norm"]) == 1:
            conv, norm = slot["conv"][0], slot["norm"][0]
            if norm.out == conv.out or norm.out % conv.inp == 0:
                found[norm.index] = conv.index
    return found


def place_norms(items: Sequence[Module], partners: Mapping[int, int], before: Container[int] = ()) -> list[Module]:
    """``items`` with each partnered norm moved right after its conv (post-activation's layout), or
    right before it for the convs in ``before`` (pre-activation's main path); a norm whose conv is
    not among ``items`` stays where it is."""
    present = {m.index for m in items}
    norm_of = {c: n for n, c in partners.items() if c in present}
    moved = set(norm_of.values())
    by_index = {m.index: m for m in items}
    out: list[Module] = []
    for m in items:
        if m.index in moved:
            continue
        norm = by_index.get(norm_of.get(m.index, -1))
        if norm is None:
            out.append(m)
        else:
            out.extend([norm, m] if m.index in before else [m, norm])
    return out


_FIELD_RANK: Final = {f: k for k, f in enumerate(KNOWN_FIELDS)}


def canonical_order(modules: Sequence[Module]) -> tuple[Module, ...]:
    """The modules in an order that depends on their names and shapes only, never on the order the
    file stored them in (``index`` renumbered): paths compared component by component with
    ``name_key``, then each norm named like a conv moved right after it (``norm_partners``), and
    each module's tensors as ``weight``, ``bias``, statistics. For the layouts ResNets are written
    in (torchvision, timm, ours, the CIFAR repositories, opaque ``m<i>``) this is their
    registration order up to which side of its conv a norm is on, which ``settle_norms`` tries
    both ways."""
    ordered = sorted(modules, key=lambda m: tuple(name_key(c) for c in m.hint.split(".")))
    ranked = [replace(m, index=k) for k, m in enumerate(ordered)]
    placed = place_norms(ranked, norm_partners(ranked))
    return tuple(replace(_sorted_fields(m), index=k) for k, m in enumerate(placed))


def _sorted_fields(m: Module) -> Module:
    """``m`` with its tensors in one order (``weight``, ``bias``, statistics, then others by name)."""
    order = sorted(range(len(m.keys)), key=lambda i: (_FIELD_RANK.get(m.fields[i], len(_FIELD_RANK)), m.keys[i]))
    return replace(m, keys=tuple(m.keys[i] for i in order), shapes=tuple(m.shapes[i] for i in order),
                   fields=tuple(m.fields[i] for i in order))


# --- the conv chain ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """One residual unit: main-path convs in chain order and the projection beside them (module
    indexes), with the norms attached once pre- or post-activation is settled."""

    convs: tuple[int, ...]
    projection: int | None
    c_in: int
    c_out: int
    groups: int
    norms: tuple[int | None, ...] = ()
    projection_norm: int | None = None

    @property
    def members(self) -> tuple[int, ...]:
        found = (*self.convs, self.projection, *self.norms, self.projection_norm)
        return tuple(sorted(i for i in found if i is not None))


@dataclass(frozen=True)
class Reading:
    """One way of reading the convs: stem, units, convs left unexplained, and what it costs."""

    kind: str
    stem: tuple[int, ...]
    units: tuple[Unit, ...]
    skipped: tuple[int, ...]
    cost: Cost
    final_channels: int

    @property
    def score(self) -> tuple[Cost, int]:
        return (self.cost, _KIND_RANK[self.kind])


def _add(a: Cost, b: Cost) -> Cost:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3], a[4] + b[4])


@dataclass
class _Chain:
    """Shortest-path search over the convs for one block kind."""

    convs: Sequence[Module]
    kind: str
    hierarchical: bool
    tail_in: frozenset[int] | None  # input features a classifier could have (None: no candidate)
    best: list[dict[int, tuple[Cost, tuple[int, int] | None, object]]] = field(default_factory=list)

    def reads(self, m: Module, c: int) -> bool:
        return m.inp == c

    def main(self, i: int, c: int) -> tuple[tuple[int, ...], int, int] | None:
        """Positions, output channels and groups of a main path starting at position ``i``."""
        n = UNIT_CONVS[self.kind]
        if i + n > len(self.convs):
            return None
        run = self.convs[i:i + n]
        a = run[0]
        if not self.reads(a, c):
            return None
        if self.kind == "bottleneck":
            b, d = run[1], run[2]
            if a.kernel != (1, 1) or d.kernel != (1, 1) or b.kernel == (1, 1):
                return None
            if b.out != a.out or a.out % b.inp or b.out % (a.out // b.inp) or d.inp != b.out:
                return None
            return (i, i + 1, i + 2), d.out, a.out // b.inp
        if a.kernel == (1, 1):
            return None
        if self.kind == "basic":
            b = run[1]
            if b.kernel == (1, 1) or b.inp != a.out or b.out != a.out:
                return None
            return (i, i + 1), b.out, 1
        return (i,), a.out, 1

    def projects(self, p: int, c_in: int, c_out: int) -> bool:
        return p < len(self.convs) and self.convs[p].inp == c_in and self.convs[p].out == c_out

    def odd(self, p: int, c_in: int, c_out: int) -> int:
        """How unusual a projection is: one on a unit that keeps its shape (option C) costs 1, a
        kernel larger than 1x1 (the tutorial's 3x3) costs 2, so that where shapes allow two
        readings, the one with plain 1x1 projections where shapes change wins."""
        return int(c_in == c_out) + 2 * int(self.convs[p].kernel != (1, 1))

    def hint_cost(self, positions: Sequence[int], proj: int | None, lo: int, hi: int) -> int:
        """Conflicts with the names: a unit's convs should share one parent module, the projection
        should live under it, and the convs just outside the unit should not."""
        if not self.hierarchical:
            return 0
        parents = {self.convs[p].parent for p in positions}
        cost = 0 if len(parents) == 1 else 1
        unit = parents.pop() if len(parents) == 1 else ""
        if not unit:
            return cost
        inside = (unit, unit + ".")
        if proj is not None and not self.convs[proj].hint.startswith(unit + "."):
            cost += 1
        for p in (lo - 1, hi):
            if 0 <= p < len(self.convs) and p != proj and p not in positions:
                q = self.convs[p].parent
                cost += q == unit or q.startswith(inside[1])
        return cost

    def steps(self, i: int, c: int) -> Iterator[tuple[int, int, Cost, object]]:
        """Every way to read on from position ``i`` with ``c`` channels: (next position, channels,
        cost, what was read)."""
        m = self.main(i, c)
        if m is not None:
            pos, c_out, g = m
            end = pos[-1] + 1
            yield end, c_out, (0, 0, self.hint_cost(pos, None, i, end), 0, 0), (pos, None, c, c_out, g)
            if self.projects(end, c, c_out):
                yield (end + 1, c_out, (0, 0, self.hint_cost(pos, end, i, end + 1), 0, self.odd(end, c, c_out)),
                       (pos, end, c, c_out, g))
        if i < len(self.convs) and self.convs[i].inp == c:
            m2 = self.main(i + 1, c)
            if m2 is not None and self.convs[i].out == m2[1]:
                pos, c_out, g = m2
                end = pos[-1] + 1
                yield (end, c_out, (0, 0, self.hint_cost(pos, i, i, end), 0, self.odd(i, c, c_out)),
                       (pos, i, c, c_out, g))
        if i < len(self.convs):
            yield i + 1, c, (1, 0, 0, 0, 0), ("skip", i)
            if self.convs[i].inp == c and self.convs[i].out != c:
                yield i + 1, self.convs[i].out, (1, 0, 0, 0, 0), ("skip", i)

    def run(self, stems: Sequence[tuple[tuple[int, ...], Cost]]) -> Reading | None:
        n = len(self.convs)
        self.best = [{} for _ in range(n + 1)]
        for stem, cost in stems:
            j, c = len(stem), self.convs[stem[-1]].out
            self._relax(j, c, cost, None, ("stem", stem))
        for i in range(n):
            for c, (cost, _, _) in list(self.best[i].items()):
                for j, c2, step, what in self.steps(i, c):
                    self._relax(j, c2, _add(cost, step), (i, c), what)
        ends = [(_add(cost, (0, int(self.tail_in is not None and c not in self.tail_in), 0, 0, 0)), c)
                for c, (cost, _, _) in self.best[n].items()]
        if not ends:
            return None
        cost, c = min(ends)
        return self._walk_back(n, c, cost)

    def _relax(self, j: int, c: int, cost: Cost, prev: tuple[int, int] | None, what: object) -> None:
        old = self.best[j].get(c)
        if old is None or cost < old[0]:
            self.best[j][c] = (cost, prev, what)

    def _walk_back(self, n: int, c: int, cost: Cost) -> Reading:
        units: list[Unit] = []
        skipped: list[int] = []
        stem: tuple[int, ...] = ()
        state: tuple[int, int] | None = (n, c)
        while state is not None:
            _, prev, what = self.best[state[0]][state[1]]
            if isinstance(what, tuple) and what[0] == "stem":
                stem = tuple(self.convs[p].index for p in what[1])
            elif isinstance(what, tuple) and what[0] == "skip":
                skipped.append(self.convs[what[1]].index)
            elif isinstance(what, tuple):
                pos, proj, c_in, c_out, g = what
                units.append(Unit(tuple(self.convs[p].index for p in pos),
                                  None if proj is None else self.convs[proj].index, c_in, c_out, g))
            state = prev
        return Reading(self.kind, stem, tuple(reversed(units)), tuple(sorted(skipped)), cost, c)


def stem_candidates(convs: Sequence[Module]) -> list[tuple[tuple[int, ...], Cost]]:
    """One conv, or three chained 3x3 convs (the deep stem of ResNet-C/D: w/2, w/2, w; other
    widths still read as a deep stem, at a cost, so that a tiered stem is reported, not lost)."""
    found: list[tuple[tuple[int, ...], Cost]] = [((0,), _ZERO)]
    if len(convs) >= 4:
        a, b, d = convs[0], convs[1], convs[2]
        if all(m.kernel == (3, 3) for m in (a, b, d)) and b.inp == a.out and d.inp == b.out:
            exact = a.out == b.out and d.out == 2 * b.out
            found.append(((0, 1, 2), (0, 0, 0, 0 if exact else 1, 0)))
    return found


def read_chain(convs: Sequence[Module], hierarchical: bool, tail_in: frozenset[int] | None) -> Reading | None:
    """The best reading of ``convs`` over every block kind (None when there are no convs)."""
    if not convs:
        return None
    stems = stem_candidates(convs)
    readings = [r for kind in UNIT_CONVS
                if (r := _Chain(convs, kind, hierarchical, tail_in).run(stems)) is not None]
    return min(readings, key=lambda r: r.score) if readings else None


# --- the whole network ------------------------------------------------------------------------------


class NotAResNet(SpecError):
    """The tensors do not form a ResNet this tool can describe (an MLP, a VGG, a ViT...)."""


@dataclass(frozen=True)
class Structure:
    """What the shapes say: stem, units (with stage sizes), norms, classifier, and the layers
    that no part of a ResNet explains. Indexes point into ``modules``."""

    modules: tuple[Module, ...]
    kind: str
    stem: tuple[int, ...]
    stem_norms: tuple[int | None, ...]
    units: tuple[Unit, ...]
    stages: tuple[int, ...]
    preact: bool
    preact_why: str
    final_norm: int | None
    classifier: int | None
    skipped: tuple[int, ...]
    leftovers: tuple[int, ...]
    hierarchical: bool

    def owner(self, index: int) -> int | None:
        """The unit a leftover layer belongs to, -1 for the stem, None for the head: the unit whose
        module holds it by name where names have a hierarchy, else by the modules' order."""
        if self.hierarchical:
            hint = self.modules[index].hint
            named = [k for k, u in enumerate(self.units)
                     if (p := _unit_parent(u, self.modules)) and hint.startswith(p + ".")]
            if len(named) == 1:
                return named[0]
        starts = [min(u.members) for u in self.units]
        inside = [k for k, s in enumerate(starts) if s < index]
        if not inside:
            return -1
        k = inside[-1]
        head = [i for i in (self.final_norm, self.classifier) if i is not None]
        if k == len(self.units) - 1 and head and index > min(head):
            return None
        return k


def parse_structure(modules: Sequence[Module]) -> Structure:
    """Stem, units, norms and classifier of ``modules``; ``NotAResNet`` when there are no units."""
    linears = [m for m in modules if m.kind == "linear"]
    head_conv = _conv_classifier(modules, linears)
    convs = [m for m in modules if m.kind == "conv" and m is not head_conv]
    hierarchical = len({m.parent for m in convs}) > 1
    heads = linears or ([head_conv] if head_conv is not None else [])
    reading = read_chain(convs, hierarchical, frozenset(m.inp for m in heads) if heads else None)
    _require_units(reading, modules, hierarchical)
    assert reading is not None
    reading = adopt_projections(reading, modules)
    classifier = pick_classifier(heads, reading.final_channels)
    norms = settle_norms(modules, reading, classifier, hierarchical)
    used = {*reading.stem, *(i for i in norms.stem_norms if i is not None), norms.final, classifier}
    used.update(i for u in norms.units for i in u.members)
    return Structure(
        modules=tuple(modules), kind=reading.kind, stem=reading.stem, stem_norms=norms.stem_norms,
        units=norms.units, stages=split_stages(norms.units, modules, hierarchical), preact=norms.pre,
        preact_why=norms.why, final_norm=norms.final, classifier=classifier, skipped=reading.skipped,
        leftovers=tuple(m.index for m in modules if m.index not in used), hierarchical=hierarchical,
    )


def adopt_projections(reading: Reading, modules: Sequence[Module]) -> Reading:
    """Convs registered away from their unit (after the classifier, say) that fit exactly one
    unit's missing projection (its input to its output channels) become that projection. Where
    several units fit, the one whose module holds the conv by name is taken, else none is."""
    units = list(reading.units)
    skipped = list(reading.skipped)
    for i in reading.skipped:
        m = modules[i]
        free = [k for k, u in enumerate(units) if u.projection is None and (u.c_in, u.c_out) == (m.inp, m.out)]
        named = [k for k in free if (p := _unit_parent(units[k], modules)) and m.hint.startswith(p + ".")]
        pick = named or free
        if len(pick) == 1:
            u = units[pick[0]]
            units[pick[0]] = Unit(u.convs, i, u.c_in, u.c_out, u.groups)
            skipped.remove(i)
    if len(skipped) == len(reading.skipped):
        return reading
    return Reading(reading.kind, reading.stem, tuple(units), tuple(skipped), reading.cost, reading.final_channels)


def pick_classifier(heads: Sequence[Module], channels: int) -> int | None:
    """The last 2-D weight that reads the last unit's ``channels`` and whose output no later layer
    reads (that rules out the first linear layer of a squeeze-excitation pair), wherever it was
    registered."""
    found = [m for m in heads if m.inp == channels
             and not any(o.index > m.index and o.inp == m.out for o in heads)]
    return found[-1].index if found else None


def _conv_classifier(modules: Sequence[Module], linears: Sequence[Module]) -> Module | None:
    """A biased 1x1 conv as the very last layer, with no linear layer anywhere: a classifier
    written as a conv (timm's ``ClassifierHead(use_conv=True)``)."""
    if linears:
        return None
    weighted = [m for m in modules if m.kind in ("conv", "norm")]
    last = weighted[-1] if weighted else None
    if last is not None and last.kind == "conv" and last.kernel == (1, 1) and last.bias:
        return last
    return None


def found_text(modules: Sequence[Module]) -> str:
    """``13 conv, 3 linear layers`` (and norms/others when present): what a checkpoint holds."""
    kinds = [m.kind for m in modules]
    parts = [f"{kinds.count('conv')} conv", f"{kinds.count('linear')} linear layers"]
    if kinds.count("norm"):
        parts.append(f"{kinds.count('norm')} norm layers")
    if kinds.count("other"):
        parts.append(f"{kinds.count('other')} other tensors")
    return ", ".join(parts)


def _require_units(reading: Reading | None, modules: Sequence[Module], hierarchical: bool) -> None:
    found = found_text(modules)
    if reading is None:
        raise NotAResNet(f"not a ResNet: no residual units: {found}; a ResNet has convolutions")
    if not reading.units:
        raise NotAResNet(f"not a ResNet: no residual units: {found}; nothing chains after the first (stem) conv")
    in_units = sum(len(u.convs) + (u.projection is not None) for u in reading.units)
    if len(reading.skipped) > in_units:
        raise NotAResNet(
            f"not a ResNet: no residual units: {found}; only {in_units} of the convs chain into units"
        )
    has_projection = any(u.projection is not None for u in reading.units)
    named_units = hierarchical and reading.cost[2] == 0
    if reading.kind == "single" and not has_projection and not named_units:
        raise NotAResNet(
            f"not a ResNet: no residual units: {found}; the convs form one plain chain with no projection "
            "beside it and no conv pairs or 1x1-3x3-1x1 bottlenecks (a VGG-style network)"
        )


# --- norms: pre- or post-activation -----------------------------------------------------------------


@dataclass(frozen=True)
class _Norms:
    pre: bool
    why: str
    stem_norms: tuple[int | None, ...]
    units: tuple[Unit, ...]
    final: int | None


@dataclass(frozen=True)
class _Attached:
    after: dict[int, int]  # conv -> the norm right after it
    before: dict[int, int]  # conv -> the norm right before it
    final: int | None
    stray: tuple[int, ...]
    cost: int


def _roles(modules: Sequence[Module], reading: Reading) -> dict[int, tuple[str, int]]:
    """conv index -> (role, channels it reads)."""
    roles: dict[int, tuple[str, int]] = {}
    for k, i in enumerate(reading.stem):
        roles[i] = ("stem_last" if k == len(reading.stem) - 1 else "stem", modules[i].inp)
    for u in reading.units:
        c = u.c_in
        for i in u.convs:
            roles[i] = ("main", c)
            c = modules[i].out
        if u.projection is not None:
            roles[u.projection] = ("proj", u.c_in)
    for i in reading.skipped:
        roles[i] = ("skip", modules[i].inp)
    return roles


def _attach(modules: Sequence[Module], reading: Reading, classifier: int | None, pre: bool) -> _Attached:
    """Norms attached under one hypothesis: post-activation (each conv, stem and projections
    included, is followed by a norm of its output channels) or pre-activation (each main-path
    conv is preceded by a norm of its input channels, projections have none, one norm ends the
    network). A norm named like a conv (``norm_partners``) is read beside that conv, after it or
    (a pre-activation main-path conv) before it, wherever the file stored it."""
    roles = _roles(modules, reading)
    main = {i for i, (r, _) in roles.items() if r == "main"} if pre else set()
    items = place_norms([m for m in modules if m.kind in ("conv", "norm") and m.index != classifier],
                        norm_partners(modules), main)
    last_conv = max((p for p, m in enumerate(items) if m.kind == "conv"), default=-1)
    after: dict[int, int] = {}
    before: dict[int, int] = {}
    final: int | None = None
    stray: list[int] = []
    for p, m in enumerate(items):
        if m.kind != "norm":
            continue
        left = items[p - 1] if p > 0 and items[p - 1].kind == "conv" else None
        right = items[p + 1] if p + 1 < len(items) and items[p + 1].kind == "conv" else None
        if left is not None and left.index not in after and left.out == m.out and (
                not pre or roles[left.index][0] in ("stem", "skip")):
            after[left.index] = m.index
        elif pre and right is not None and right.index not in before and roles[right.index] == ("main", m.out):
            before[right.index] = m.index
        elif pre and p > last_conv and final is None and m.out == reading.final_channels:
            final = m.index
        else:
            stray.append(m.index)
    if pre:
        lacking = sum(1 for i, (r, _) in roles.items() if (r == "stem" and i not in after) or (r == "main" and i not in before))
        cost = len(stray) + lacking + (final is None)
    else:
        lacking = sum(1 for i, (r, _) in roles.items() if r != "skip" and i not in after)
        cost = len(stray) + lacking
    return _Attached(after, before, final, tuple(stray), cost)


def settle_norms(modules: Sequence[Module], reading: Reading, classifier: int | None, hierarchical: bool) -> _Norms:
    """Pre- or post-activation, whichever attaches the norms with fewer left over; where both fit
    equally (no projections), the names decide (a last norm outside the last unit is a final norm),
    else post-activation."""
    post, pre = _attach(modules, reading, classifier, False), _attach(modules, reading, classifier, True)
    if pre.cost < post.cost:
        use_pre, why = True, "norms before the main-path convs, none on the projections, one after the last unit"
    elif post.cost < pre.cost or not any(m.kind == "norm" for m in modules):
        use_pre, why = False, "a norm after every conv, the stem's and the projections' included"
    else:
        use_pre = _final_norm_by_name(modules, reading, pre.final) if hierarchical else False
        why = "pre- and post-activation fit the shapes alike; " + (
            "post-activation assumed (no names to tell)" if not hierarchical else
            "the last norm sits outside the last unit by name, so pre-activation" if use_pre else
            "the last norm sits in the last unit by name, so post-activation")
    att = pre if use_pre else post
    units = tuple(
        Unit(u.convs, u.projection, u.c_in, u.c_out, u.groups,
             tuple((att.before if use_pre else att.after).get(i) for i in u.convs),
             None if u.projection is None else att.after.get(u.projection))
        for u in reading.units
    )
    stem_norms = tuple(None if use_pre and k == len(reading.stem) - 1 else att.after.get(i)
                       for k, i in enumerate(reading.stem))
    return _Norms(use_pre, why, stem_norms, units, att.final if use_pre else None)


def _final_norm_by_name(modules: Sequence[Module], reading: Reading, final: int | None) -> bool:
    if final is None or not reading.units:
        return False
    return modules[final].parent != modules[reading.units[-1].convs[-1]].parent


# --- stages -----------------------------------------------------------------------------------------


def _unit_parent(u: Unit, modules: Sequence[Module]) -> str:
    parents = {modules[i].parent for i in u.convs}
    return parents.pop() if len(parents) == 1 else ""


def split_stages(units: Sequence[Unit], modules: Sequence[Module], hierarchical: bool) -> tuple[int, ...]:
    """Units per stage. A stage is a run of units with one output width; a new container in the
    names (``layer2`` after ``layer1``) or, without names, a projection on a unit that keeps its
    width (where not every unit has one) also starts one: a stride-2 unit that keeps the width."""
    every = all(u.projection is not None for u in units)
    counts: list[int] = []
    prev: Unit | None = None
    prev_box = ""
    for u in units:
        box = _unit_parent(u, modules).rpartition(".")[0] if hierarchical else ""
        new = prev is None or u.c_out != prev.c_out
        if not new and box and prev_box and box != prev_box:
            new = True
        if not new and not hierarchical and u.projection is not None and u.c_in == u.c_out and not every:
            new = True
        if new:
            counts.append(0)
        counts[-1] += 1
        prev, prev_box = u, box
    return tuple(counts)
