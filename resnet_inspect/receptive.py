"""Receptive fields of a plan, branch-aware: what input pixels each unit's output can see.

Sequential formulas (a layer of kernel ``k``, stride ``s``, padding ``p`` turns the input window
``[lo, hi]`` of output pixel 0 and the jump ``j`` into ``[lo - p j, hi + (k - 1 - p) j]`` and ``j s``)
assume one path. A residual unit has two into its addition, so the window of its output is the
union of the main path's and the shortcut path's windows, which have the same jump. Tracking the
window's two ends, not only its size, shows where the two paths are not centred alike (ResNet-D's
2x2 average pool shifts its shortcut by half a stride); tests check every number against the span
of the input gradient autograd computes on the built module.

Pure arithmetic on a ``Plan``: no torch. One dimension is tracked per axis (height with ``kernel``,
width with ``kernel_w``); the reported receptive field is the larger of the two. Global pooling
(the head, a squeeze-excitation branch) sees the whole map it pools. Dilation is not recorded in
plans, so a dilated conv counts as undilated.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .plan import Block, BlockKey, Layer, Plan

_GLOBAL = frozenset({"adaptive_avg_pool2d", "mean"})


@dataclass(frozen=True, slots=True)
class Window:
    """Input pixels seen by output pixel 0 along one axis (``lo``..``hi``, in input pixels, may be
    negative: padding), and the jump between neighbouring output pixels."""

    lo: int = 0
    hi: int = 0
    jump: int = 1

    @property
    def size(self) -> int:
        return self.hi - self.lo + 1

    def through(self, kernel: int, stride: int, padding: int) -> Window:
        j = self.jump
        return Window(self.lo - padding * j, self.hi + (kernel - 1 - padding) * j, j * stride)

    def union(self, other: Window) -> Window:
        return Window(min(self.lo, other.lo), max(self.hi, other.hi), self.jump)

    def centred_with(self, other: Window) -> bool:
        return self.lo + self.hi == other.lo + other.hi


@dataclass(frozen=True, slots=True)
class Field:
    """Both axes' windows of a point in the network."""

    h: Window = Window()
    w: Window = Window()

    @property
    def receptive_field(self) -> int:
        return max(self.h.size, self.w.size)

    @property
    def effective_stride(self) -> int:
        return max(self.h.jump, self.w.jump)

    def union(self, other: Field) -> Field:
        return Field(self.h.union(other.h), self.w.union(other.w))

    def centred_with(self, other: Field) -> bool:
        return self.h.centred_with(other.h) and self.w.centred_with(other.w)


@dataclass(frozen=True, slots=True)
class BlockField:
    """A unit's output field; ``centred`` is False where the main path's and the shortcut path's
    windows are not centred on the same input pixel (the offset is in input pixels)."""

    name: str
    receptive_field: int
    effective_stride: int
    main: int
    shortcut: int
    centred: bool
    offset: float


@dataclass(frozen=True, slots=True)
class ReceptiveFields:
    """Per unit, and for the last unit (``total``: what the head pools); ``covers`` names the
    first unit whose receptive field spans the whole input (None if none does)."""

    stem: int
    blocks: tuple[BlockField, ...]
    total: int
    total_stride: int
    covers: str | None


@dataclass(frozen=True, slots=True)
class Shift:
    """What a path does to a window along one axis: ``lo += jump * lo_add``, ``hi += jump * hi_add``,
    ``jump *= stride``. Depends only on the path's layers, so a unit's is worked out once however
    many identical units the network holds."""

    lo_add: int = 0
    hi_add: int = 0
    stride: int = 1

    def then(self, kernel: int, stride: int, padding: int) -> Shift:
        return Shift(self.lo_add - padding * self.stride, self.hi_add + (kernel - 1 - padding) * self.stride,
                     self.stride * stride)

    def apply(self, w: Window) -> Window:
        return Window(w.lo + w.jump * self.lo_add, w.hi + w.jump * self.hi_add, w.jump * self.stride)


def _geometry(layer: Layer) -> tuple[tuple[int, int, int], tuple[int, int, int]] | None:
    """(kernel, stride, padding) along height and width, or None for a layer that leaves the window alone."""
    if layer.op in ("conv", "max_pool", "avg_pool"):
        kw = layer.kernel_w or layer.kernel
        pw = layer.padding if kw == layer.kernel else (kw - 1) // 2
        return (layer.kernel, layer.stride, layer.padding), (kw, layer.stride, pw)
    if layer.op == "zero_pad":  # the option-A shortcut subsamples (x[:, :, ::s, ::s])
        return (1, layer.stride, 0), (1, layer.stride, 0)
    if layer.op in _GLOBAL:  # a global pool sees its whole input map
        _, h, w = layer.in_shape
        return (h, 1, 0), (w, 1, 0)
    return None


def path_shift(layers: Iterable[Layer]) -> tuple[Shift, Shift]:
    """The height and width ``Shift`` of ``layers`` in order."""
    h, w = Shift(), Shift()
    for layer in layers:
        g = _geometry(layer)
        if g is not None:
            h, w = h.then(*g[0]), w.then(*g[1])
    return h, w


def through(f: Field, layers: Iterable[Layer]) -> Field:
    h, w = path_shift(layers)
    return Field(h.apply(f.h), w.apply(f.w))


@dataclass(frozen=True, slots=True)
class _UnitShift:
    main: tuple[Shift, Shift]
    shortcut: tuple[Shift, Shift] | None  # None: no shortcut (a plain unit)


def _unit_shift(block: Block) -> _UnitShift:
    """Both paths' shifts, from the layer templates (names do not matter here)."""
    main = path_shift(block.main_template)
    if block.shortcut == "none":
        return _UnitShift(main, None)
    start = path_shift(block.main_template[: block.shortcut_source + 1]) if block.shortcut_source >= 0 else (Shift(), Shift())
    sc = path_shift(block.shortcut_template)
    joined = tuple(Shift(a.lo_add + a.stride * b.lo_add, a.hi_add + a.stride * b.hi_add, a.stride * b.stride)
                   for a, b in zip(start, sc))
    return _UnitShift(main, (joined[0], joined[1]))


def block_field(f: Field, block: Block, memo: dict[BlockKey, _UnitShift] | None = None) -> tuple[Field, BlockField]:
    """The unit's output field from its input field ``f``: the union of both paths' windows."""
    memo = {} if memo is None else memo
    shift = memo.get(block.key)
    if shift is None:
        shift = memo[block.key] = _unit_shift(block)
    main = Field(shift.main[0].apply(f.h), shift.main[1].apply(f.w))
    if shift.shortcut is None:
        out, sc, centred = main, main, True
    else:
        sc = Field(shift.shortcut[0].apply(f.h), shift.shortcut[1].apply(f.w))
        out = main.union(sc)
        centred = main.centred_with(sc)
    offset = ((sc.h.lo + sc.h.hi) - (main.h.lo + main.h.hi)) / 2
    return out, BlockField(block.name, out.receptive_field, out.effective_stride, main.receptive_field,
                           sc.receptive_field, centred, offset)


def receptive_fields(plan: Plan) -> ReceptiveFields:
    """Every unit's receptive field and effective stride, in input pixels."""
    f = through(Field(), plan.stem)
    stem = f.receptive_field
    fields: list[BlockField] = []
    _, h, w = plan.input_shape
    covers: str | None = None
    memo: dict[BlockKey, _UnitShift] = {}
    for block in plan.blocks:
        f, bf = block_field(f, block, memo)
        fields.append(bf)
        if covers is None and bf.receptive_field >= max(h, w):
            covers = block.name
    return ReceptiveFields(stem, tuple(fields), f.receptive_field, f.effective_stride, covers)
