"""Is the user's module the spec? Block by block, what differs and how (``verify SPEC --module``).

The spec's blocks are paired with the module's residual units. When both have the same units per
stage, pairing is one to one. When they do not, the pairing follows the main-path convolutions:
both networks run the same sequence of convs if the code is the spec with some additions missing,
so each spec block is paired with the module unit that holds its first conv, and spec blocks
whose convs land in a later block's unit are blocks whose addition is missing. When even the convs
differ in number, no pairing is honest and the report says so per stage.

Each pair is compared on what a reader of the paper cares about: the addition, the stride and
shapes, the shortcut kind (and a projection's kernel), the parameters and the MACs of main path and
shortcut. Pure: two analyses in, frozen data out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .counts import Analysis, BlockCount, count_layers
from .plan import PROJECTION_KINDS, Block
from .units import human


@dataclass(frozen=True)
class BlockConformance:
    """One spec block against the module unit paired with it (``module_block`` None: no unit)."""

    name: str
    module_block: str | None
    differences: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.differences


@dataclass(frozen=True)
class Conformance:
    spec_name: str
    module_name: str
    blocks: tuple[BlockConformance, ...]
    #: Differences that belong to no block (stem, head, totals, an unalignable layout).
    network: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.network and all(b.ok for b in self.blocks)

    def failure_lines(self) -> list[str]:
        lines = [f"mismatch: {d}" for d in self.network]
        for b in self.blocks:
            where = b.name if b.module_block in (None, b.name) else f"{b.name} (module {b.module_block})"
            lines += [f"mismatch: {where}: {d}" for d in b.differences]
        return lines


def _main_convs(b: Block) -> int:
    skip = {n for e in b.extras if e.off_path for n in e.layers}
    return sum(1 for ly in b.main_template if ly.op == "conv" and ly.name not in skip)


_STEM, _HEAD = -1, -2


def _conv_owners(a: Analysis) -> list[int]:
    """For each main-path conv of the network in order, the unit holding it (or stem, head)."""
    owners = [_STEM] * sum(1 for ly in a.plan.stem if ly.op == "conv")
    for i, b in enumerate(a.blocks):
        owners += [i] * _main_convs(b.block)
    return owners + [_HEAD] * sum(1 for ly in a.plan.head if ly.op == "conv")


def _pairing(spec: Analysis, module: Analysis) -> list[int | None] | None:
    """For each spec block, the index of the module unit paired with it (None: its convs run in
    the stem, the head or a later unit, so it has no addition of its own), or None when the
    networks cannot be paired."""
    if spec.plan.layout == module.plan.layout:
        return list(range(len(spec.blocks)))
    owners = _conv_owners(module)
    spec_stem = sum(1 for ly in spec.plan.stem if ly.op == "conv")
    spec_convs = [_main_convs(b.block) for b in spec.blocks]
    if spec_stem + sum(spec_convs) + sum(1 for ly in spec.plan.head if ly.op == "conv") != len(owners):
        return None
    pairing: list[int | None] = []
    start = spec_stem
    for n in spec_convs:
        owner = owners[start] if n else _HEAD
        pairing.append(owner if owner >= 0 else None)
        start += n
    # A unit whose convs several spec blocks claim is the last of them; the others lost their addition.
    for i in range(len(pairing) - 1):
        if pairing[i] is not None and pairing[i] == pairing[i + 1]:
            pairing[i] = None
    return pairing


def _kind(b: Block) -> str:
    """``identity``, ``zero-pad``, ``1x1 projection``, ``3x3 avg-pool projection``..."""
    kernel = b.projection_kernel()
    kind = b.shortcut.replace("_", " ").replace("avgpool", "avg-pool").replace("zero pad", "zero-pad")
    return f"{kernel} {kind}" if kernel is not None and b.shortcut in PROJECTION_KINDS else kind


def _own(m: BlockCount) -> BlockCount:
    """The unit without the ops that ran between it and the previous unit (a spec block that lost
    its addition lands there, and is reported on its own)."""
    between = {n for e in m.block.extras if e.kind == "between units" for n in e.layers}
    if not between:
        return m
    main = count_layers(ly for ly in m.block.main_template if ly.name not in between)
    return BlockCount(m.block, main, m.shortcut)


def _compare_pair(s: BlockCount, m: BlockCount) -> list[str]:
    m = _own(m)
    sb, mb = s.block, m.block
    out: list[str] = []
    if sb.shortcut != "none" and mb.shortcut == "none":
        out.append("no residual addition where the spec adds the shortcut")
    if (sb.in_shape, sb.out_shape) != (mb.in_shape, mb.out_shape):
        out.append(f"maps {_shape(mb.in_shape)} → {_shape(mb.out_shape)}, the spec {_shape(sb.in_shape)} → {_shape(sb.out_shape)}")
    if sb.stride != mb.stride:
        out.append(f"stride {mb.stride}, the spec's is {sb.stride}")
    if _kind(sb) != _kind(mb):
        out.append(f"{_article(_kind(mb))} shortcut where the spec has {_article(_kind(sb))}")
    for what, a, b in (("main-path params", s.main.params, m.main.params), ("shortcut params", s.shortcut.params, m.shortcut.params),
                       ("MACs", s.total.macs, m.total.macs)):
        if a != b:
            out.append(f"{what} {_exact(b)}, the spec's {_exact(a)}")
    return out


def _exact(n: int) -> str:
    return f"{n:,}" if abs(n) < 1000 else f"{n:,} ({human(n)})"


def _article(text: str) -> str:
    return ("an " if text[0] in "aeiou" else "a ") + text


def _shape(shape: tuple[int, int, int]) -> str:
    return "x".join(map(str, shape))


def _network(spec: Analysis, module: Analysis) -> list[str]:
    out = []
    if spec.plan.input_shape != module.plan.input_shape:
        out.append(f"input {_shape(module.plan.input_shape)}, the spec's {_shape(spec.plan.input_shape)}")
    for part, a, b in (("stem", spec.stem, module.stem), ("head", spec.head, module.head)):
        if (a.params, a.macs) != (b.params, b.macs):
            out.append(f"{part}: {b.params:,} params and {b.macs:,} MACs, the spec's {a.params:,} and {a.macs:,}")
    if spec.plan.num_classes != module.plan.num_classes:
        out.append(f"{module.plan.num_classes} outputs, the spec's {spec.plan.num_classes}")
    return out


def conform(spec: Analysis, module: Analysis) -> Conformance:
    """How the module differs from the spec, block by block and as a whole."""
    pairing = _pairing(spec, module)
    network = _network(spec, module)
    if pairing is None:
        network.append(
            f"the layouts cannot be paired: units per stage {'-'.join(map(str, module.plan.layout))} against the spec's "
            f"{'-'.join(map(str, spec.plan.layout))}, and {sum(_main_convs(b.block) for b in module.blocks)} main-path convs "
            f"against {sum(_main_convs(b.block) for b in spec.blocks)}"
        )
        return Conformance(spec.name, module.name, (), tuple(network))
    blocks = []
    for s, index in zip(spec.blocks, pairing):
        if index is None:
            blocks.append(BlockConformance(s.block.name, None, (
                "no residual addition: its convs run with the next unit's (or the stem's, the head's), so it is not a residual block",)))
            continue
        m = module.blocks[index]
        blocks.append(BlockConformance(s.block.name, m.block.name, tuple(_compare_pair(s, m))))
    if (spec.total.params, spec.total.macs) != (module.total.params, module.total.macs) and all(b.ok for b in blocks) and not network:
        network.append(f"totals differ: {module.total.params:,} params and {module.total.macs:,} MACs, the spec's "
                       f"{spec.total.params:,} and {spec.total.macs:,}")
    return Conformance(spec.name, module.name, tuple(blocks), tuple(network))


def conformance_json(c: Conformance) -> dict[str, object]:
    return {
        "schema_version": 1, "spec": c.spec_name, "module": c.module_name, "ok": c.ok,
        "network": list(c.network),
        "blocks": [{"name": b.name, "module_block": b.module_block, "ok": b.ok, "differences": list(b.differences)}
                   for b in c.blocks],
    }


__all__: Sequence[str] = ("BlockConformance", "Conformance", "conform", "conformance_json")
