"""Checkpoint tensor shapes -> the ``ResNetSpec`` that explains them, and what it does not (no torch).

``recover(shapes)`` takes a mapping ``key -> shape`` (a ``state_dict`` with the tensors replaced by
their shapes, in any order: the layers are put in a canonical order first, see
``ckpt_structure.canonical_order``) and works back to a spec **by structure, not names**:

1. **layers**: tensors are grouped into layers (the key without ``.weight``/``.bias``/BN
   statistics) and each layer is typed by its shapes: conv (4-D weight), linear (2-D), norm (1-D);
2. **units** (``ckpt_structure``): the convs are read as a stem plus residual units along their
   shape chain (each conv reads the channels the previous one wrote); a conv beside a unit from
   its input to its output channels is its projection, whatever it is called and wherever it was
   registered; norms are attached before (pre-activation) or after (post-activation) the convs,
   whichever leaves fewer over; the classifier is the last 2-D weight that reads the last unit's
   channels;
3. **spec**: block kind, units per stage, widths, groups, stem, shortcut option and classes follow
   from the units; what weights cannot show (stride placement, input size, zero-pad vs plain) comes
   from the caller or a stated default;
4. **check**: the spec's own parameters (``expected_shapes``) are compared with the checkpoint's,
   layer by layer through the roles found in step 2. Every tensor that the spec does not have, or
   has in another shape, is *unmapped*; every spec parameter the checkpoint lacks is *missing*;
   both are summed per block into the *difference*, so ``checkpoint_params`` (the file's true
   count) always equals the spec's count plus the difference, and nothing is dropped silently.

Names are read only as labels (the layout shown in the report), to put the layers in order (a
file's own order is not kept by safetensors, which sorts by name), and to break ties the shapes
leave open (which of two equally good readings, an average pool in front of a projection).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from .ckpt_structure import (
    BUFFER_FIELDS,
    MAX_TENSORS,
    Module,
    NotAResNet,
    Structure,
    Unit,
    canonical_order,
    found_text,
    group_modules,
    numel,
    parse_structure,
    split_key,
)
from .errors import SpecError
from .naming import printable
from .plan import is_projection, shortcut_kind
from .spec import ResNetSpec, width_per_group_for

Shape = tuple[int, ...]

#: What the weights never show; reported so that nobody mistakes a default for a finding.
UNSEEN: Final = ("stride_in", "input_size", "name")
MAX_RANK: Final = 8

#: Name styles ``recover`` recognises, as labels only: recovery never depends on them.
LAYOUTS: Final = {
    "torchvision": "torchvision / timm resnet* names (conv1, bn1, layerN.M.convK/bnK, downsample.0/.1, fc)",
    "timm-resnet-deep": "timm resnet*c/d names (deep stem conv1.0/.3/.6; avg-pool shortcut downsample.1/.2 in *d)",
    "timm-resnetv2": "timm resnetv2 names (stem.conv, stages.S.blocks.B.normK/convK, downsample.conv, norm, head.fc)",
    "resnet-inspect-preact": "resnet-inspect pre-activation names (layerN.M.bnK/convK, downsample.0, bn_final, fc)",
    "custom": "names of its own: read from shapes and the order of the names (numbers as numbers) alone",
}


@dataclass(frozen=True)
class Unmapped:
    """A checkpoint tensor that the recovered spec does not account for, and why."""

    key: str
    shape: Shape
    reason: str
    block: str = ""
    params: int = 0  # what it adds to the checkpoint's count beyond the spec's (may be negative)

    def to_dict(self) -> dict[str, object]:
        return {"key": self.key, "shape": list(self.shape), "reason": self.reason, "block": self.block,
                "params": self.params}


@dataclass(frozen=True)
class BlockShortcut:
    """What the weights say about one unit's shortcut (``seen``) and what the spec makes of it."""

    name: str
    seen: str  # "projection" | "avgpool_projection" | "no weights"
    shapes_change: bool
    kernel: str = ""  # the projection's kernel (``1x1``, ``3x3``) when it has one

    @property
    def label(self) -> str:
        if self.seen != "no weights":
            base = {"projection": "projection", "avgpool_projection": "avg-pool projection"}[self.seen]
            return f"{base} ({self.kernel})" if self.kernel and self.kernel != "1x1" else base
        return "identity or zero-pad" if self.shapes_change else "identity (or none)"


@dataclass(frozen=True)
class Difference:
    """Where, per block, the checkpoint and the recovered spec differ, and by how many parameters
    (checkpoint minus spec)."""

    block: str
    params: int
    tensors: tuple[str, ...]
    why: str

    def to_dict(self) -> dict[str, object]:
        return {"block": self.block, "params": self.params, "tensors": list(self.tensors), "why": self.why}


@dataclass(frozen=True)
class Recovery:
    """The recovered spec with everything needed to judge it."""

    spec: ResNetSpec
    layout: str
    notes: tuple[str, ...]
    unmapped: tuple[Unmapped, ...]
    missing: tuple[str, ...]
    shortcuts: tuple[BlockShortcut, ...]
    evidence: tuple[tuple[str, str], ...]  # (field, what in the weights showed it)
    checkpoint_params: int  # every tensor but BN statistics: the checkpoint's true parameter count
    mapped_params: int  # elements of the tensors that the spec accounts for
    tensors: int
    spec_params: int = 0  # the recovered spec's parameters (its analytic total)
    differences: tuple[Difference, ...] = ()
    sources: tuple[tuple[str, str], ...] = ()  # (block, the checkpoint's module path for it)

    @property
    def exact(self) -> bool:
        """The spec has exactly the checkpoint's parameters: nothing unmapped, nothing missing."""
        return not self.unmapped and not self.missing

    @property
    def difference(self) -> int:
        """Checkpoint parameters minus the spec's: what the spec does not express."""
        return self.checkpoint_params - self.spec_params

    def to_dict(self) -> dict[str, object]:
        return {
            "layout": self.layout,
            "exact": self.exact,
            "tensors": self.tensors,
            "checkpoint_params": self.checkpoint_params,
            "spec_params": self.spec_params,
            "mapped_params": self.mapped_params,
            "unseen": list(UNSEEN),
            "evidence": {k: v for k, v in self.evidence},
            "shortcuts": [{"block": b.name, "seen": b.seen, "label": b.label} for b in self.shortcuts],
            "missing": list(self.missing),
        }


# --- 1. keys ----------------------------------------------------------------------------------------

_V1_MODULE: Final = re.compile(r"^(?:conv1|conv1\.[0-6]|bn1|bn_final|fc|layer\d+\.\d+\.(?:conv[1-3]|bn[1-3]|downsample\.\d))$")


def _is_resnet_key(key: str) -> bool:
    return bool(_V1_MODULE.match(split_key(key)[0])) or key.startswith(("stages.", "stem.", "head.fc."))


def strip_prefixes(keys: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """``{stripped: original}`` after removing wrapper prefixes, and notes saying which. Labels
    only: recovery reads shapes, so a prefix left on changes nothing but the names shown."""
    notes: list[str] = []
    mapping = {k: k for k in keys}
    for _ in range(4):  # nested wrappers (module.model.) are unusual, but cheap to handle
        current = list(mapping)
        if current and all(k.startswith("module.") for k in current):
            mapping = {k[len("module."):]: v for k, v in mapping.items()}
            notes.append("removed the 'module.' prefix (DataParallel / DistributedDataParallel)")
            continue
        if any(_is_resnet_key(k) for k in current) or not current:
            break
        heads = {k.split(".", 1)[0] for k in current}
        if len(heads) == 1 and all(k.count(".") >= 2 for k in current):
            head = heads.pop()
            mapping = {k[len(head) + 1:]: v for k, v in mapping.items()}
            notes.append(f"removed the prefix '{printable(head)}.' shared by every key")
            continue
        break
    return mapping, notes


def naming_style(hints: Sequence[str]) -> str:
    """Which known naming the keys follow (a label for the report; recovery does not use it)."""
    if any(h.startswith(("stages.", "stem.")) for h in hints):
        return "timm-resnetv2"
    if "conv1.0.weight" in hints:
        return "timm-resnet-deep"
    if all(_is_resnet_key(h) for h in hints):
        return "resnet-inspect-preact" if "bn_final.weight" in hints else "torchvision"
    return "custom"


def _entries(shapes: Mapping[str, Sequence[int]]) -> list[tuple[str, Shape]]:
    """``(key, shape)`` pairs in the order the file stored them, bounded before any work is done."""
    if len(shapes) > MAX_TENSORS:
        raise SpecError(f"the checkpoint holds {len(shapes):,} tensors, above the limit of {MAX_TENSORS:,}; "
                        "no ResNet has that many")
    out = []
    for k, v in shapes.items():
        shape = tuple(int(d) for d in v)
        if len(shape) > MAX_RANK or any(d < 0 for d in shape):
            raise SpecError(f"tensor {printable(k)!r} has an impossible shape {list(shape)[:MAX_RANK + 1]}")
        out.append((str(k), shape))
    if not out:
        raise NotAResNet("not a ResNet: the checkpoint holds no tensors")
    return out


# --- 2./3. structure -> spec ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fields:
    """Spec fields found in the weights, with the evidence and notes behind them."""

    values: dict[str, object]
    evidence: list[tuple[str, str]]
    notes: list[str]


def _name(m: Module) -> str:
    return printable(m.path or "(top level)")


def _stem_fields(st: Structure, f: _Fields) -> None:
    mods = st.modules
    first, last = mods[st.stem[0]], mods[st.stem[-1]]
    kh, kw = first.kernel
    if len(st.stem) == 3:
        stem = "deep"
        f.evidence.append(("stem", f"three chained 3x3 convs before the first unit ({_name(first)} ...): the deep stem"))
    elif (kh, kw) == (3, 3):
        stem = "cifar"
        f.evidence.append(("stem", f"one 3x3 conv ({_name(first)}) before the first unit: the CIFAR stem (stride 1, no max-pool assumed)"))
    else:
        stem = "imagenet" if min(kh, kw) >= 5 else "cifar"
        f.evidence.append(("stem", f"one {kh}x{kw} conv ({_name(first)}) before the first unit: the {stem} stem"
                                   + (" (stride 2 + max-pool assumed)" if stem == "imagenet" else "")))
        if (kh, kw) != (7, 7):
            f.notes.append(f"the stem conv is {kh}x{kw}: no spec has that; the closest ({stem}) is used and "
                           "the difference is listed")
    f.values.update(stem=stem, stem_width=last.out, in_channels=first.inp)
    f.evidence.append(("in_channels", f"input channels of the first conv ({first.inp})"))
    f.evidence.append(("stem_width", f"output channels of the last stem conv ({last.out})"))


def _unit_fields(st: Structure, f: _Fields) -> None:
    mods = st.modules
    firsts = _stage_firsts(st)
    expansion = 4 if st.kind == "bottleneck" else 1
    widths = []
    for s, u in enumerate(firsts, start=1):
        if u.c_out % expansion:
            f.notes.append(f"stage {s} outputs {u.c_out} channels, not a multiple of 4: bottlenecks here expand by 4")
        widths.append(max(u.c_out // expansion, 1))
    convs = {"bottleneck": "1x1-kxk-1x1 conv triples (the kxk keeps its channels)",
             "basic": "pairs of kxk convs (the second keeps the first's channels)",
             "single": "one kxk conv per unit, named as units"}[st.kind]
    f.values.update(block=st.kind, layers=st.stages, widths=tuple(widths), groups=1, width_per_group=64)
    f.evidence.append(("block", f"the convs chain as {convs}"))
    f.evidence.append(("layers", "units per stage (a stage: a run of units with one output width): "
                                 + "-".join(map(str, st.stages))))
    f.evidence.append(("widths", "output channels of each stage's units" + (" / 4" if expansion == 4 else "")))
    if st.kind == "bottleneck":
        per_group = [mods[u.convs[1]].out // u.groups for u in firsts]
        groups = firsts[0].groups
        wpg = width_per_group_for(widths, per_group)
        if wpg is None:
            f.notes.append("the kxk convs' widths fit no single width_per_group; the closest spec is used")
            wpg = max(per_group[0] * 64 // widths[0], 1)
        f.values.update(groups=groups, width_per_group=wpg)
        f.evidence.append(("groups", f"the first kxk conv: {per_group[0] * groups} channels in {groups} group(s) "
                                     f"of {per_group[0]}"))
        f.evidence.append(("width_per_group", "channels per group of the kxk convs against the stage widths"))


def _stage_firsts(st: Structure) -> list[Unit]:
    out, k = [], 0
    for n in st.stages:
        out.append(st.units[k])
        k += n
    return out


def unit_names(st: Structure) -> list[str]:
    """``layer1.0``, ``layer1.1``, ``layer2.0``...: torchvision's names for the units, in order."""
    return [f"layer{s}.{b}" for s, n in enumerate(st.stages, start=1) for b in range(n)]


def _pool_before(m: Module, paths: set[str]) -> bool | None:
    """Whether a projection conv sits behind a weightless layer of its own Sequential (timm's
    ResNet-D ``downsample.0`` average pool before ``downsample.1``): True/False from an integer
    index in its name, None where the name does not say."""
    parent, _, last = m.hint.rpartition(".")
    if not last.isdigit():
        return None
    k = int(last)
    return k > 0 and not any(f"{parent}.{j}" in paths for j in range(k))


def _shortcut_fields(st: Structure, f: _Fields, given: str | None) -> list[BlockShortcut]:
    mods = st.modules
    paths = {m.hint for m in mods}
    seen_units, unknown_pool = [], False
    names = unit_names(st)
    starts = {sum(st.stages[:s]) for s in range(len(st.stages))}
    for k, u in enumerate(st.units):
        kernel, seen = "", "no weights"
        if u.projection is not None:
            p = mods[u.projection]
            pool = _pool_before(p, paths)
            unknown_pool |= pool is None
            seen, kernel = ("avgpool_projection" if pool else "projection"), f"{p.kernel[0]}x{p.kernel[1]}"
        change = k in starts and (k > 0 or u.c_in != u.c_out)
        seen_units.append(BlockShortcut(names[k], seen, change, kernel))
    option, why = _shortcut_option(seen_units)
    if given is not None:
        f.notes.append(f"shortcut={given} given by the caller" + (
            ", as the weights suggest" if given == option else f" (the weights suggest {option}: {why})"))
        option, why = given, "given by the caller (--shortcut)"
    elif option == "A":
        f.notes.append("no shortcut weights where shapes change: zero-padding shortcuts (option A) or no shortcuts at "
                       "all (a plain network) look the same in weights; assumed A, pass --shortcut none for a plain net")
    elif not any(u.seen != "no weights" for u in seen_units):
        f.notes.append("no shortcut weights and no shape changes: identity shortcuts assumed; a plain network "
                       "(--shortcut none) has the same weights")
    elif option == "B" and unknown_pool:
        f.notes.append("an average pool in front of a projection has no weights and these names do not show one: "
                       "B assumed; pass --shortcut D for ResNet-D models (timm resnet*d, resnetv2_*d)")
    f.values["shortcut"] = option
    f.evidence.append(("shortcut", why))
    return seen_units


def _shortcut_option(units: Sequence[BlockShortcut]) -> tuple[str, str]:
    """The one shortcut option that explains where projections are, and why."""
    proj = [u for u in units if u.seen != "no weights"]
    changes = [u for u in units if u.shapes_change]
    avg = any(u.seen == "avgpool_projection" for u in proj)
    if not proj:
        if changes:
            return "A", "no shortcut weights, shapes change at " + _names(changes) + ": zero-pad or none"
        return "B", "no shortcut weights and no shape changes: identity"
    if {u.name for u in proj} == {u.name for u in changes}:  # checked first: with every unit
        if avg:  # changing shape, B/D explain the weights as well as C, with less
            return "D", "projections behind a weightless layer (an average pool) exactly where shapes change"
        return "B", "projections (a conv beside the unit, input to output channels) exactly where shapes change"
    if len(proj) == len(units):
        return "C", "a projection on every unit"
    return ("D" if avg else "B"), (
        "projections at " + _names(proj) + " do not match one option (shapes change at "
        + _names(changes) + "); the closest is used"
    )


def _names(units: Sequence[BlockShortcut]) -> str:
    names = [u.name for u in units]
    return ", ".join(names) if len(names) <= 4 else ", ".join(names[:4]) + f" and {len(names) - 4} more"


def _head_fields(st: Structure, f: _Fields) -> None:
    f.values["preact"] = st.preact
    f.evidence.append(("preact", st.preact_why))
    if st.classifier is not None:
        c = st.modules[st.classifier]
        f.values["num_classes"] = c.out
        f.evidence.append(("num_classes", f"rows of the last 2-D weight, {_name(c)} ({c.out}x{c.inp})"))
        return
    f.values["num_classes"] = 1000
    f.notes.append("no classifier (a last 2-D weight reading the last unit's channels) found: a headless backbone; "
                   "the spec's counts include a 1000-class fc it does not have")
    f.evidence.append(("num_classes", "no classifier found: 1000 assumed"))


def _make_spec(values: dict[str, object], f: _Fields, given: str | None, labels: Mapping[str, str]) -> ResNetSpec:
    try:
        return ResNetSpec(**values)  # type: ignore[arg-type]
    except SpecError as exc:
        if values["shortcut"] == "A" and given is None:
            # A zero-pad shortcut cannot narrow channels: such a net has no shortcuts at all.
            f.notes.append("option A cannot narrow channels, so no shortcuts at all (plain network) assumed")
            try:
                return ResNetSpec(**{**values, "shortcut": "none"})  # type: ignore[arg-type]
            except SpecError:
                pass
        raise _blame(exc, labels) from None


def _blame(exc: SpecError, labels: Mapping[str, str]) -> SpecError:
    """The error for a spec that cannot be built: where a problem is about a value the caller gave
    (``labels``: field -> how the user spelled it, such as ``--stride-in 5x5``), it names that
    value first, since the fault is in the command line, not in the checkpoint."""
    for problem in exc.problems:
        field = next((k for k in labels if problem.startswith((f"{k}=", f"{k} "))), None)
        if field is not None:
            invalid = any(w in problem for w in (" is not allowed", " must be ", " is not an integer"))
            return SpecError(f"{labels[field]}{':' if invalid else ' does not fit this checkpoint:'} {problem}")
    return SpecError(f"the architecture in the checkpoint is not a valid spec: {exc}")


# --- 4. check ---------------------------------------------------------------------------------------


def _bn(out: dict[str, Shape], name: str, c: int) -> None:
    out[f"{name}.weight"] = (c,)
    out[f"{name}.bias"] = (c,)


def _stem_shapes(spec: ResNetSpec, out: dict[str, Shape]) -> None:
    w, cin = spec.stem_width, spec.in_channels
    if spec.stem == "deep":
        out["conv1.0.weight"] = (w // 2, cin, 3, 3)
        _bn(out, "conv1.1", w // 2)
        out["conv1.3.weight"] = (w // 2, w // 2, 3, 3)
        _bn(out, "conv1.4", w // 2)
        out["conv1.6.weight"] = (w, w // 2, 3, 3)
    else:
        k = 3 if spec.stem == "cifar" else 7
        out["conv1.weight"] = (w, cin, k, k)
    if not spec.preact:
        _bn(out, "bn1", w)


def _unit_shapes(spec: ResNetSpec, name: str, stage: int, c: int, stride: int, out: dict[str, Shape]) -> None:
    c_out, inner = spec.out_channels(stage), spec.inner_width(stage)
    convs: list[tuple[int, int, int, int]]  # out, in, groups, kernel
    if spec.block == "bottleneck":
        convs = [(inner, c, 1, 1), (inner, inner, spec.groups, 3), (c_out, inner, 1, 1)]
    elif spec.block == "basic":
        convs = [(c_out, c, 1, 3), (c_out, c_out, 1, 3)]
    else:
        convs = [(c_out, c, 1, 3)]
    for k, (o, i, g, ker) in enumerate(convs, start=1):
        if spec.preact:
            _bn(out, f"{name}.bn{k}", i)
        out[f"{name}.conv{k}.weight"] = (o, i // g, ker, ker)
        if not spec.preact:
            _bn(out, f"{name}.bn{k}", o)
    kind = shortcut_kind(spec.shortcut, (c, 1, 1), (c_out, 1, 1), stride)
    if is_projection(kind):
        base = 1 if spec.shortcut == "D" else 0
        out[f"{name}.downsample.{base}.weight"] = (c_out, c, 1, 1)
        if not spec.preact:
            _bn(out, f"{name}.downsample.{base + 1}", c_out)


def expected_shapes(spec: ResNetSpec) -> dict[str, Shape]:
    """Every parameter (weight/bias) the spec has, by torchvision-style name, with its shape.

    Written from the spec's fields with the plan's names and the plan's shortcut rule
    (``shortcut_kind``); the tests check that these sum to ``analyze(spec).total.params`` for any
    spec, and equal torchvision's own layout for its models.
    """
    out: dict[str, Shape] = {}
    _stem_shapes(spec, out)
    c = spec.stem_width
    for s, (n, stage_stride) in enumerate(zip(spec.layers, spec.stage_strides())):
        for b in range(n):
            _unit_shapes(spec, f"layer{s + 1}.{b}", s, c, stage_stride if b == 0 else 1, out)
            c = spec.out_channels(s)
    if spec.preact:
        _bn(out, "bn_final", c)
    out["fc.weight"] = (spec.num_classes, c)
    out["fc.bias"] = (spec.num_classes,)
    return out


def canonical_names(st: Structure, spec: ResNetSpec) -> dict[int, str]:
    """Module index -> the spec's name for the layer in that role (``layer2.0.downsample.0``)."""
    names: dict[int, str] = {}
    stem_convs = ("conv1.0", "conv1.3", "conv1.6") if len(st.stem) == 3 else ("conv1",)
    stem_norms = ("conv1.1", "conv1.4", "bn1") if len(st.stem) == 3 else ("bn1",)
    for i, conv_name, norm_name, n in zip(st.stem, stem_convs, stem_norms, st.stem_norms):
        names[i] = conv_name
        if n is not None:
            names[n] = norm_name
    base = 1 if spec.shortcut == "D" else 0
    for name, u in zip(unit_names(st), st.units):
        for k, (conv, norm) in enumerate(zip(u.convs, u.norms), start=1):
            names[conv] = f"{name}.conv{k}"
            if norm is not None:
                names[norm] = f"{name}.bn{k}"
        if u.projection is not None:
            names[u.projection] = f"{name}.downsample.{base}"
        if u.projection_norm is not None:
            names[u.projection_norm] = f"{name}.downsample.{base + 1}"
    if st.final_norm is not None:
        names[st.final_norm] = "bn_final"
    if st.classifier is not None:
        names[st.classifier] = "fc"
    return names


_LEFTOVER_WHY: Final = {
    "conv": "a conv off the units' chain (squeeze-excitation, attention or an extra layer)",
    "linear": "a linear layer besides the classifier (squeeze-excitation or an extra head layer)",
    "norm": "a norm layer with no conv of its channels beside it",
    "other": "neither a conv, a norm nor a linear layer",
}
_NOT_MODELLED: Final = ": not a part of a ResNet that resnet-inspect models"


def block_of(name: str) -> str:
    """The block a spec-named tensor belongs to: ``layer2.0``, ``stem`` or ``head``."""
    m = re.match(r"^(layer\d+\.\d+)\.", name)
    if m:
        return m.group(1)
    return "head" if name.startswith(("bn_final", "fc")) else "stem"


def _leftover(st: Structure, m: Module, units: Sequence[str]) -> tuple[str, str]:
    """(block, reason) for a layer that no role explains."""
    k = st.owner(m.index)
    block = "head" if k is None else "stem" if k == -1 else units[k]
    if m.kind == "norm" and any(
            m.index == i + 1 and st.modules[i].kind == "conv" for i in st.skipped):
        return block, "the norm of a conv off the units' chain" + _NOT_MODELLED
    if m.kind == "linear" and st.classifier is None and m.index == max(
            (x.index for x in st.modules if x.kind == "linear"), default=-1):
        last = st.units[-1].c_out
        return block, f"a linear layer whose {m.inp} inputs do not match the last unit's {last} channels" + _NOT_MODELLED
    return block, _LEFTOVER_WHY[m.kind] + _NOT_MODELLED


def _tensor_check(name: str, field: str, shape: Shape, expected: Mapping[str, Shape]) -> str | None:
    """Why one tensor of a layer in a known role does not fit the spec (None: it fits)."""
    key = f"{name}.{field}"
    want = expected.get(key)
    if field in BUFFER_FIELDS:
        norm = expected.get(f"{name}.weight")
        ok = norm is not None and len(norm) == 1 and (field == "num_batches_tracked" or shape == norm)
        return None if ok else "a buffer the recovered spec has no BatchNorm for"
    if want is None:
        if field == "bias" and len(expected.get(f"{name}.weight", ())) == 4:
            return "conv bias: resnet-inspect's convs have none"
        if ".downsample." in key:
            return "a projection where the recovered spec has a shortcut without weights"
        return "not in the recovered spec"
    if want != shape:
        kernel = ""
        if len(want) == len(shape) == 4 and want[:2] == shape[:2]:
            kernel = f"a {shape[2]}x{shape[3]} kernel where the spec's is {want[2]}x{want[3]}; "
        return f"{kernel}the recovered spec expects shape {list(want)}"
    return None


def _compare(st: Structure, canon: Mapping[int, str], expected: Mapping[str, Shape]) -> tuple[list[Unmapped], list[str], int]:
    units = unit_names(st)
    unmapped: list[Unmapped] = []
    seen: set[str] = set()
    mapped = 0
    for m in st.modules:
        name = canon.get(m.index)
        if name is None:
            block, reason = _leftover(st, m, units)
            unmapped += [Unmapped(k, s, reason, block, 0 if f in BUFFER_FIELDS else numel(s))
                         for k, s, f in zip(m.keys, m.shapes, m.fields)]
            continue
        for key, shape, field in zip(m.keys, m.shapes, m.fields):
            if m.index == st.classifier and len(shape) == 4 and shape[2:] == (1, 1):
                shape = shape[:2]  # a 1x1 conv as classifier (timm's ClassifierHead) is an FC layer
            seen.add(f"{name}.{field}")
            why = _tensor_check(name, field, shape, expected)
            if why is None:
                mapped += 0 if field in BUFFER_FIELDS else numel(shape)
                continue
            want = expected.get(f"{name}.{field}")
            delta = 0 if field in BUFFER_FIELDS else numel(shape) - (numel(want) if want is not None else 0)
            unmapped.append(Unmapped(key, shape, why, block_of(name), delta))
    missing = [k for k in expected if k not in seen]
    return unmapped, missing, mapped


def _differences(st: Structure, unmapped: Sequence[Unmapped], missing: Sequence[str],
                 expected: Mapping[str, Shape]) -> tuple[Difference, ...]:
    """Unmapped and missing tensors summed per block, in network order."""
    order = {name: k for k, name in enumerate(["stem", *unit_names(st), "head"])}
    items: dict[str, list[tuple[str, int, str, str]]] = {}  # block -> (key, params, reason, key and shape)
    for u in unmapped:
        items.setdefault(u.block, []).append(
            (u.key, u.params, u.reason.replace(_NOT_MODELLED, ""), f"{printable(u.key)} {_shape_text(u.shape)}"))
    for k in missing:
        want = expected[k]
        items.setdefault(block_of(k), []).append((f"{k} (missing)", -numel(want), "missing", f"{k} {_shape_text(want)}"))
    out = []
    for block in sorted(items, key=lambda b: order.get(b, len(order))):
        rows = items[block]
        by_reason: dict[str, list[str]] = {}
        for _, _, reason, text in rows:
            by_reason.setdefault(reason, []).append(text)
        why = "; ".join(f"{reason}: {', '.join(texts[:3])}" + (f" and {len(texts) - 3} more" if len(texts) > 3 else "")
                        for reason, texts in by_reason.items())
        out.append(Difference(block, sum(r[1] for r in rows), tuple(r[0] for r in rows), why))
    return tuple(out)


def _shape_text(shape: Sequence[int]) -> str:
    return "x".join(map(str, shape)) or "scalar"


def _sources(st: Structure) -> tuple[tuple[str, str], ...]:
    """Each unit's own name in the checkpoint: the module holding its convs, or the first and last
    of them when they share none."""
    out = []
    for name, u in zip(unit_names(st), st.units):
        paths = [st.modules[i].path for i in u.convs]
        parents = {p.rpartition(".")[0] for p in paths}
        label = parents.pop() if len(parents) == 1 and "" not in parents else f"{paths[0]} ... {paths[-1]}"
        out.append((name, printable(label)))
    return tuple(out)


def _structure(stored: tuple[Module, ...], notes: list[str]) -> Structure:
    """The structure read in the canonical order (``canonical_order``), so that how the file
    ordered its tensors does not matter: safetensors sorts them by dtype and name, and nothing
    stops a tool from shuffling a state_dict. Only where the order the file stored them in explains
    strictly more layers is that order read instead (with a note): names that mislead, such as a
    main-path conv called ``downsample.0``, keep what registration order shows. A file whose
    canonical reading leaves nothing over is read once."""
    canonical = canonical_order(stored)
    orders = [canonical] + ([stored] if [m.path for m in canonical] != [m.path for m in stored] else [])
    errors: list[NotAResNet] = []
    found: list[tuple[int, Structure]] = []  # (0: the canonical order, 1: the stored one; its reading)
    for k, modules in enumerate(orders):
        try:
            found.append((k, parse_structure(modules)))
        except NotAResNet as exc:
            errors.append(exc)
        if found and not found[0][1].leftovers:
            break
    if not found:
        raise errors[0]
    k, best = min(found, key=lambda r: (len(r[1].leftovers), r[0]))
    if k:
        notes.append("read in the order the file stores its tensors: the order their names give explains fewer layers")
    return best


def recover(
    shapes: Mapping[str, Sequence[int]],
    *,
    stride_in: str = "3x3",
    input_size: int | None = None,
    shortcut: str | None = None,
    name: str = "recovered",
    labels: Mapping[str, str] | None = None,
) -> Recovery:
    """The spec whose parameters these shapes are, and every way they differ; see the module
    docstring. Raises ``NotAResNet`` when the shapes form no residual units, ``SpecError`` when
    the network found cannot be written as a spec. ``labels`` says how the caller's own values were
    spelled (``{"stride_in": "--stride-in 5x5"}``), so an error they cause names them, not the
    checkpoint; by default ``stride_in='5x5'`` and so on."""
    entries = _entries(shapes)
    stripped, notes = strip_prefixes([k for k, _ in entries])
    hint_of = {orig: short for short, orig in stripped.items()}
    hints = [hint_of[k] for k, _ in entries]
    st = _structure(group_modules(entries, hints), notes)
    modules = st.modules
    f = _Fields({}, [], notes)
    _stem_fields(st, f)
    _unit_fields(st, f)
    seen_units = _shortcut_fields(st, f, shortcut)
    _head_fields(st, f)
    size = input_size if input_size is not None else (32 if f.values["stem"] == "cifar" else 224)
    f.notes.append(
        f"not visible in weights: stride placement (stride_in={stride_in}"
        + (", used" if st.kind == "bottleneck" else ", irrelevant for " + st.kind + " units")
        + f"), input size ({size}{'' if input_size is not None else ', a default'}) and the name"
    )
    _other_fields_note(modules, f)
    given = {"stride_in": stride_in, "input_size": input_size, "shortcut": shortcut}
    spelled = {k: f"{k}={printable(repr(v), 40)}" for k, v in given.items() if v is not None}
    spec = _make_spec({**f.values, "stride_in": stride_in, "input_size": size, "name": name}, f, shortcut,
                      {**spelled, **(labels or {})})
    expected = expected_shapes(spec)
    unmapped, missing, mapped = _compare(st, canonical_names(st, spec), expected)
    return Recovery(
        spec=spec, layout=naming_style(hints), notes=tuple(f.notes), unmapped=tuple(unmapped),
        missing=tuple(missing), shortcuts=tuple(seen_units), evidence=tuple(f.evidence),
        checkpoint_params=sum(m.params for m in modules), mapped_params=mapped, tensors=len(entries),
        spec_params=sum(numel(s) for s in expected.values()),
        differences=_differences(st, unmapped, missing, expected), sources=_sources(st),
    )


def _other_fields_note(modules: Sequence[Module], f: _Fields) -> None:
    odd = [k for m in modules if m.kind == "other" for k in m.keys if not split_key(k)[1]]
    if odd:
        shown = ", ".join(printable(k, 40) for k in odd[:3])
        f.notes.append(f"{len(odd)} tensor(s) named neither weight, bias nor a BN statistic ({shown}) are counted as "
                       "parameters: a state_dict does not say which tensors are buffers")


__all__ = [
    "BlockShortcut", "Difference", "NotAResNet", "Recovery", "Unmapped", "block_of", "expected_shapes", "found_text",
    "recover",
]
