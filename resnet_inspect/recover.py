"""Parameter names and shapes -> the ``ResNetSpec`` that produced them (no torch).

``recover(shapes)`` takes a mapping ``name -> shape`` (a ``state_dict`` with the tensors replaced by
their shapes) and works back to a spec:

1. **normalise** the names: drop DataParallel's ``module.`` prefix (and any other prefix shared by
   every key, such as Lightning's ``model.``), then translate timm's ``resnetv2`` names
   (``stem.conv``, ``stages.S.blocks.B.norm1``, ``head.fc``) to the torchvision names this tool uses
   (``conv1``, ``layer{S+1}.B.bn1``, ``fc``); torchvision's and timm's ``resnet*`` / ``resnet*d``
   names already are ours;
2. **infer** every field the weights show: stem (7x7 -> imagenet, 3x3 -> cifar, ``conv1.0/3/6`` ->
   deep), input channels, pre-activation (a final ``bn_final`` / ``norm``, no stem BN), block kind
   (which of ``conv1..3`` a unit has), blocks per stage, widths, groups and width per group (from
   the grouped 3x3 conv), projections per block, classes;
3. **check** the answer: the spec's own plan gives the name and shape of every parameter it has;
   every checkpoint key that is not among them (or has another shape) is listed as *unmapped*,
   every expected key that the checkpoint lacks as *missing*. Nothing is dropped silently, and an
   exact recovery means the recovered spec has exactly the checkpoint's parameters.

What weights cannot show, and how it is settled: where a bottleneck strides (``stride_in``, from
the caller), the input size (from the caller), the name, and some shortcut questions: a shortcut
without weights is identity or zero-padding (option A) where shapes change, and a plain network
without shortcuts looks exactly like one with parameter-free shortcuts. The caller may pass
``shortcut`` to settle those; every guess is written into ``notes``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from .errors import SpecError
from .naming import from_timm_resnetv2
from .plan import make_plan
from .spec import ResNetSpec

Shape = tuple[int, ...]

PARAM_SUFFIXES: Final = ("weight", "bias")
BUFFER_SUFFIXES: Final = ("running_mean", "running_var", "num_batches_tracked")
_BN_FIELDS: Final = PARAM_SUFFIXES + BUFFER_SUFFIXES

#: What the weights never show; reported so that nobody mistakes a default for a finding.
UNSEEN: Final = ("stride_in", "input_size", "name")

#: Layouts ``recover`` understands, by the names their keys use.
LAYOUTS: Final = {
    "torchvision": "torchvision / timm resnet* names (conv1, bn1, layerN.M.convK/bnK, downsample.0/.1, fc)",
    "timm-resnet-deep": "timm resnet*c/d names (deep stem conv1.0/.3/.6; avg-pool shortcut downsample.1/.2 in *d)",
    "timm-resnetv2": "timm resnetv2 names (stem.conv, stages.S.blocks.B.normK/convK, downsample.conv, norm, head.fc)",
    "resnet-inspect-preact": "resnet-inspect pre-activation names (layerN.M.bnK/convK, downsample.0, bn_final, fc)",
}


class NotAResNet(SpecError):
    """The tensors do not form a ResNet this tool can describe (an MLP, a ViT, a bare backbone...)."""


@dataclass(frozen=True)
class Unmapped:
    """A checkpoint tensor that the recovered spec does not account for, and why."""

    key: str
    shape: Shape
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {"key": self.key, "shape": list(self.shape), "reason": self.reason}


@dataclass(frozen=True)
class BlockShortcut:
    """What the weights say about one unit's shortcut (``seen``) and what the spec makes of it."""

    name: str
    seen: str  # "projection" | "avgpool_projection" | "no weights"
    shapes_change: bool

    @property
    def label(self) -> str:
        if self.seen != "no weights":
            return {"projection": "projection", "avgpool_projection": "avg-pool projection"}[self.seen]
        return "identity or zero-pad" if self.shapes_change else "identity (or none)"


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
    checkpoint_params: int  # every weight/bias element in the checkpoint, mapped or not
    mapped_params: int  # elements of the tensors that the spec accounts for
    tensors: int

    @property
    def exact(self) -> bool:
        """The spec has exactly the checkpoint's parameters: nothing unmapped, nothing missing."""
        return not self.unmapped and not self.missing

    def to_dict(self) -> dict[str, object]:
        return {
            "layout": self.layout,
            "exact": self.exact,
            "tensors": self.tensors,
            "checkpoint_params": self.checkpoint_params,
            "mapped_params": self.mapped_params,
            "unseen": list(UNSEEN),
            "evidence": {k: v for k, v in self.evidence},
            "shortcuts": [{"block": b.name, "seen": b.seen, "label": b.label} for b in self.shortcuts],
            "missing": list(self.missing),
        }


# --- 1. names ---------------------------------------------------------------------------------------

_V1_KEY: Final = re.compile(
    r"^(?:conv1|conv1\.[0-6]|bn1|bn_final|fc|layer\d+\.\d+\.(?:conv[1-3]|bn[1-3]|downsample\.\d))\.[A-Za-z_]+$"
)
def _is_resnet_key(key: str) -> bool:
    return bool(_V1_KEY.match(key)) or key.startswith(("stages.", "stem.", "head.fc."))


def strip_prefixes(keys: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """``{stripped: original}`` after removing wrapper prefixes, and notes saying which."""
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
        if len(heads) == 1 and all("." in k for k in current):
            head = heads.pop()
            mapping = {k[len(head) + 1:]: v for k, v in mapping.items()}
            notes.append(f"removed the prefix '{head}.' shared by every key")
            continue
        break
    return mapping, notes


def _param_kind(key: str) -> str:
    field = key.rsplit(".", 1)[-1]
    if field in PARAM_SUFFIXES:
        return "param"
    if field in BUFFER_SUFFIXES:
        return "buffer"
    return "other"


def _numel(shape: Shape) -> int:
    return math.prod(shape) if shape else 1


# --- 2. inference -----------------------------------------------------------------------------------


@dataclass
class _Seen:
    """Canonical name -> shape, with the original names kept for reporting."""

    shapes: dict[str, Shape]
    original: dict[str, str]

    def get(self, key: str) -> Shape | None:
        return self.shapes.get(key)

    def has(self, key: str) -> bool:
        return key in self.shapes


def _stages(seen: _Seen) -> dict[int, list[int]]:
    found: dict[int, set[int]] = {}
    for key in seen.shapes:
        m = re.match(r"^layer(\d+)\.(\d+)\.", key)
        if m:
            found.setdefault(int(m.group(1)), set()).add(int(m.group(2)))
    return {s: sorted(b) for s, b in sorted(found.items())}


def _width_per_group(widths: Sequence[int], per_group: Sequence[int]) -> int | None:
    """The ``width_per_group`` for which ``int(w * wpg / 64) == per_group`` in every stage
    (torchvision's formula), preferring 64 (plain bottlenecks), else the smallest such value."""
    lo, hi = 1, 1 << 30
    for w, pg in zip(widths, per_group):
        lo = max(lo, -(-pg * 64 // w))
        hi = min(hi, -(-(pg + 1) * 64 // w) - 1)
    if lo > hi:
        return None
    return 64 if lo <= 64 <= hi else lo


def recover(
    shapes: Mapping[str, Sequence[int]],
    *,
    stride_in: str = "3x3",
    input_size: int | None = None,
    shortcut: str | None = None,
    name: str = "recovered",
) -> Recovery:
    """The spec whose parameters have these names and shapes; see the module docstring.

    Raises ``NotAResNet`` when the names are not a ResNet's, ``SpecError`` when the architecture
    found cannot be written as a spec.
    """
    all_shapes = {str(k): tuple(int(d) for d in v) for k, v in shapes.items()}
    if not all_shapes:
        raise NotAResNet("the checkpoint holds no tensors, so it is not a ResNet")
    stripped, notes = strip_prefixes(list(all_shapes))
    layout, seen, unmapped = _canonicalise(stripped, all_shapes)
    if not any(k.startswith(("conv1.", "layer")) for k in seen.shapes):
        sample = ", ".join(list(all_shapes)[:4])
        raise NotAResNet(
            f"not a ResNet: none of its {len(all_shapes)} tensors has a ResNet name "
            f"(conv1 / stem.conv, layer1.0.conv1 / stages.0.blocks.0.conv1, fc); first keys: {sample}"
        )

    evidence: list[tuple[str, str]] = []
    # stem
    if seen.has("conv1.6.weight") and seen.has("conv1.0.weight"):
        stem = "deep"
        first, last = seen.shapes["conv1.0.weight"], seen.shapes["conv1.6.weight"]
        stem_width, in_channels = last[0], first[1]
        evidence.append(("stem", "three 3x3 stem convs conv1.0/.3/.6 (ResNet-C deep stem)"))
        if layout == "torchvision":
            layout = "timm-resnet-deep"
    elif seen.has("conv1.weight") and len(seen.shapes["conv1.weight"]) == 4:
        w = seen.shapes["conv1.weight"]
        stem_width, in_channels = w[0], w[1]
        k = w[2]
        if k == 3:
            stem = "cifar"
            evidence.append(("stem", "one 3x3 stem conv: the CIFAR stem (stride 1, no max-pool assumed)"))
        else:
            stem = "imagenet"
            evidence.append(("stem", f"one {k}x{w[3]} stem conv: the ImageNet stem (stride 2 + max-pool assumed)"))
    else:
        raise NotAResNet(
            "not a ResNet resnet-inspect can read: no stem convolution (conv1.weight, conv1.0/.3/.6, "
            "stem.conv or stem.conv1/2/3) among its tensors"
        )
    evidence.append(("in_channels", f"stem conv input channels ({in_channels})"))
    evidence.append(("stem_width", f"stem output channels ({stem_width})"))

    stages = _stages(seen)
    if not stages:
        raise NotAResNet("not a ResNet: it has a stem conv but no residual stages (layer1.0... / stages.0.blocks.0...)")
    stage_ids = list(stages)
    if stage_ids != list(range(1, len(stage_ids) + 1)):
        notes.append(f"stages found: {', '.join(f'layer{s}' for s in stage_ids)}; numbered as layer1.. in the spec")
    layers: list[int] = []
    for s, blocks in stages.items():
        if blocks != list(range(len(blocks))):
            notes.append(f"layer{s} has units {blocks}, not 0..{len(blocks) - 1}; counted as {len(blocks)} units")
        layers.append(len(blocks))

    preact = seen.has("bn_final.weight") or not seen.has("bn1.weight")
    if seen.has("bn_final.weight"):
        evidence.append(("preact", "a final norm before the head (bn_final / norm) and no BN after the stem"))
        if layout == "torchvision":
            layout = "resnet-inspect-preact"
    elif preact:
        evidence.append(("preact", "no BN after the stem: pre-activation units normalise first"))
        notes.append("no final norm (bn_final / norm) found although the stem has no BN; assumed pre-activation")
    else:
        evidence.append(("preact", "a BN after the stem conv (bn1): post-activation units"))

    # block kind, from the units' convs
    def unit_keys(s: int, b: int) -> str:
        return f"layer{s}.{b}."

    first_unit = unit_keys(stage_ids[0], stages[stage_ids[0]][0])
    if seen.has(first_unit + "conv3.weight"):
        block = "bottleneck"
    elif seen.has(first_unit + "conv2.weight"):
        block = "basic"
    elif seen.has(first_unit + "conv1.weight"):
        block = "single"
    else:
        raise NotAResNet(f"not a ResNet resnet-inspect can read: unit {first_unit[:-1]} has no conv1/conv2/conv3 weights")
    evidence.append(("block", {"bottleneck": "conv1/conv2/conv3 per unit (1x1-3x3-1x1)",
                               "basic": "conv1/conv2 per unit (3x3-3x3)", "single": "one conv per unit"}[block]))
    evidence.append(("layers", "units per stage: " + "-".join(map(str, layers))))

    widths: list[int] = []
    per_group: list[int] = []
    groups = 1
    for i, s in enumerate(stage_ids):
        u = unit_keys(s, stages[s][0])
        if block == "bottleneck":
            c3, c1, c2 = seen.get(u + "conv3.weight"), seen.get(u + "conv1.weight"), seen.get(u + "conv2.weight")
            if not (c3 and c1 and c2) or len(c2) != 4 or len(c3) != 4:
                raise NotAResNet(f"not a ResNet resnet-inspect can read: layer{s}'s first unit lacks 4-D conv1/conv2/conv3 weights")
            out = c3[0]
            if out % 4:
                notes.append(f"layer{s} outputs {out} channels, not a multiple of 4: bottlenecks here expand by 4")
            widths.append(max(out // 4, 1))
            inner = c2[0]
            g = max(inner // max(c2[1], 1), 1)
            if i == 0:
                groups = g
            per_group.append(max(inner // g, 1))
        else:
            conv = seen.get(u + ("conv2.weight" if block == "basic" else "conv1.weight"))
            if not conv:
                raise NotAResNet(f"not a ResNet resnet-inspect can read: layer{s}'s first unit lacks its conv weights")
            widths.append(conv[0])
    evidence.append(("widths", "output channels of each stage's units" + (" / 4" if block == "bottleneck" else "")))
    wpg = 64
    if block == "bottleneck":
        found = _width_per_group(widths, per_group)
        if found is None:
            notes.append("the 3x3 convs' widths fit no single width_per_group; the closest spec is reported")
            found = max(per_group[0] * 64 // widths[0], 1)
        wpg = found
        evidence.append(("groups", f"3x3 conv of layer{stage_ids[0]}.0: {per_group[0] * groups} channels in "
                                   f"{groups} group(s) of {per_group[0]}"))
        evidence.append(("width_per_group", "channels per group of the 3x3 convs against the stage widths"))

    # shortcuts per unit
    expansion = 4 if block == "bottleneck" else 1
    in_c = stem_width
    seen_units: list[BlockShortcut] = []
    for i, s in enumerate(stage_ids):
        out_c = widths[i] * expansion
        for j, b in enumerate(stages[s]):
            u = unit_keys(s, b)
            d0, d1 = seen.get(u + "downsample.0.weight"), seen.get(u + "downsample.1.weight")
            if d0 is not None and len(d0) == 4:
                kind = "projection"
            elif d1 is not None and len(d1) == 4:
                kind = "avgpool_projection"
            else:
                kind = "no weights"
            change = j == 0 and (i > 0 or in_c != out_c)
            seen_units.append(BlockShortcut(f"layer{i + 1}.{j}", kind, change))
            in_c = out_c
    option, why = _shortcut_option(seen_units, layout)
    if shortcut is not None:
        if shortcut != option:
            notes.append(f"shortcut={shortcut} given by the caller (the weights suggest {option}: {why})")
        else:
            notes.append(f"shortcut={shortcut} given by the caller, as the weights suggest")
        option = shortcut
        evidence.append(("shortcut", "given by the caller (--shortcut)"))
    else:
        evidence.append(("shortcut", why))
        if option == "A":
            notes.append(
                "no shortcut weights where shapes change: zero-padding shortcuts (option A) or no shortcuts at "
                "all (a plain network) look the same in weights; assumed A, pass --shortcut none for a plain net"
            )
        elif not any(u.seen != "no weights" for u in seen_units):
            notes.append("no shortcut weights and no shape changes: identity shortcuts assumed; a plain network "
                         "(--shortcut none) has the same weights")
        if layout == "timm-resnetv2" and option == "B":
            notes.append("timm resnetv2 names a plain and an avg-pool projection alike (downsample.conv): "
                         "B assumed; pass --shortcut D for resnetv2_*d models")

    fc = seen.get("fc.weight")
    num_classes = 1000
    if fc is not None and len(fc) == 2:
        num_classes = fc[0]
        evidence.append(("num_classes", f"fc weight rows ({num_classes})"))
    else:
        notes.append("no classifier (fc / head.fc) found: a headless backbone; the counts include a 1000-class fc "
                     "it does not have")
        evidence.append(("num_classes", "no classifier found: 1000 assumed"))

    size = input_size if input_size is not None else (32 if stem == "cifar" else 224)
    notes.append(
        f"not visible in weights: stride placement (stride_in={stride_in}"
        + (", used" if block == "bottleneck" else ", irrelevant for " + block + " units")
        + f"), input size ({size}{'' if input_size is not None else ', a default'}) and the name"
    )
    try:
        spec = ResNetSpec(
            block=block, layers=tuple(layers), widths=tuple(widths), stem=stem, stem_width=stem_width,
            stride_in=stride_in, shortcut=option, groups=groups if block == "bottleneck" else 1,
            width_per_group=wpg, preact=preact, input_size=size, in_channels=in_channels,
            num_classes=num_classes, name=name,
        )
    except SpecError as exc:
        if option == "A" and shortcut is None:
            # A zero-pad shortcut cannot narrow channels: such a net has no shortcuts at all.
            notes.append("option A cannot narrow channels, so no shortcuts at all (plain network) assumed")
            spec = ResNetSpec(
                block=block, layers=tuple(layers), widths=tuple(widths), stem=stem, stem_width=stem_width,
                stride_in=stride_in, shortcut="none", groups=groups if block == "bottleneck" else 1,
                width_per_group=wpg, preact=preact, input_size=size, in_channels=in_channels,
                num_classes=num_classes, name=name,
            )
        else:
            raise SpecError(f"the architecture in the checkpoint is not a valid spec: {exc}") from None

    if layout == "timm-resnetv2" and spec.shortcut == "D":
        seen = _shift_downsample(seen)  # timm's DownsampleAvg: pool, conv, norm -> our indices 0, 1, 2
    extra, missing, mapped_params = _compare(spec, seen)
    unmapped.extend(extra)
    checkpoint_params = sum(_numel(s) for k, s in all_shapes.items() if _param_kind(k) == "param")
    return Recovery(
        spec=spec, layout=layout, notes=tuple(notes), unmapped=tuple(unmapped), missing=tuple(missing),
        shortcuts=tuple(seen_units), evidence=tuple(evidence), checkpoint_params=checkpoint_params,
        mapped_params=mapped_params, tensors=len(all_shapes),
    )


def _canonicalise(stripped: Mapping[str, str], shapes: Mapping[str, Shape]) -> tuple[str, _Seen, list[Unmapped]]:
    """Translate to our names; keys with no ResNet meaning go straight to ``unmapped``."""
    v2 = any(k.startswith(("stages.", "stem.")) for k in stripped)
    layout = "timm-resnetv2" if v2 else "torchvision"
    canon: dict[str, Shape] = {}
    original: dict[str, str] = {}
    unmapped: list[Unmapped] = []
    for key, orig in stripped.items():
        shape = shapes[orig]
        new: str | None
        if v2:
            new = from_timm_resnetv2(key)
            if new == "fc.weight" and len(shape) == 4 and shape[2:] == (1, 1):
                shape = shape[:2]  # timm's ClassifierHead(use_conv=True): a 1x1 conv is an FC layer
        else:
            new = key if _V1_KEY.match(key) else None
        if new is None:
            unmapped.append(Unmapped(orig, shape, "not a part of a ResNet that resnet-inspect models"))
            continue
        canon[new] = shape
        original[new] = orig
    return layout, _Seen(canon, original), unmapped


def _shift_downsample(seen: _Seen) -> _Seen:
    def shift(key: str) -> str:
        m = re.match(r"^(layer\d+\.\d+\.downsample\.)(\d)(\..+)$", key)
        return f"{m.group(1)}{int(m.group(2)) + 1}{m.group(3)}" if m else key

    return _Seen({shift(k): v for k, v in seen.shapes.items()}, {shift(k): o for k, o in seen.original.items()})


def _shortcut_option(units: Sequence[BlockShortcut], layout: str) -> tuple[str, str]:
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
            return "D", "projections after an average pool (downsample.1/.2) where shapes change"
        return "B", "projections (downsample.0) exactly where shapes change"
    if len(proj) == len(units):
        return "C", "a projection on every unit"
    return ("D" if avg else "B"), (
        "projections at " + _names(proj) + " do not match one option (shapes change at "
        + _names(changes) + "); the closest is used"
    )


def _names(units: Sequence[BlockShortcut]) -> str:
    names = [u.name for u in units]
    return ", ".join(names) if len(names) <= 4 else ", ".join(names[:4]) + f" and {len(names) - 4} more"


# --- 3. check ---------------------------------------------------------------------------------------


def expected_shapes(spec: ResNetSpec) -> dict[str, Shape]:
    """Every parameter (weight/bias) the spec has, by torchvision-style name, with its shape.

    Read off the plan's layers, so it names exactly what ``counts`` counts.
    """
    plan = make_plan(spec)
    out: dict[str, Shape] = {}
    layers = [*plan.stem, *(lay for b in plan.blocks for lay in (*b.main, *b.shortcut_layers)), *plan.head]
    for lay in layers:
        if lay.op == "conv":
            out[f"{lay.name}.weight"] = (lay.out_shape[0], lay.in_shape[0] // lay.groups, lay.kernel, lay.kernel)
        elif lay.op == "batch_norm":
            out[f"{lay.name}.weight"] = (lay.out_shape[0],)
            out[f"{lay.name}.bias"] = (lay.out_shape[0],)
        elif lay.op == "linear":
            out[f"{lay.name}.weight"] = (lay.out_shape[0], lay.in_shape[0])
            out[f"{lay.name}.bias"] = (lay.out_shape[0],)
    return out


def _compare(spec: ResNetSpec, seen: _Seen) -> tuple[list[Unmapped], list[str], int]:
    expected = expected_shapes(spec)
    bn_modules = {k.rsplit(".", 1)[0] for k in expected if k.endswith(".bias") and len(expected[k]) == 1}
    unmapped: list[Unmapped] = []
    mapped = 0
    for key, shape in seen.shapes.items():
        orig = seen.original[key]
        kind = _param_kind(key)
        if kind == "buffer":
            module, _, field = key.rpartition(".")
            want = () if field == "num_batches_tracked" else expected.get(module + ".weight")
            if module in bn_modules and want is not None and shape == want:
                continue
            unmapped.append(Unmapped(orig, shape, "a buffer the recovered spec has no BatchNorm for"))
            continue
        if kind != "param":
            unmapped.append(Unmapped(orig, shape, "not a weight, bias or BatchNorm statistic"))
            continue
        want = expected.get(key)
        if want is None:
            is_conv_bias = key.endswith(".bias") and len(expected.get(key[: -len("bias")] + "weight", ())) == 4
            why = "conv bias: resnet-inspect's convs have none" if is_conv_bias else "not in the recovered spec"
            unmapped.append(Unmapped(orig, shape, why))
        elif want != shape:
            unmapped.append(Unmapped(orig, shape, f"the recovered spec expects shape {list(want)}"))
        else:
            mapped += _numel(shape)
    missing = [k for k in expected if k not in seen.shapes]
    return unmapped, missing, mapped


__all__ = ["BlockShortcut", "NotAResNet", "Recovery", "Unmapped", "expected_shapes", "recover"]
