"""The ResNet spec: plain frozen data that every other part of the tool reads.

A spec says *what* a network is (block kind, stages, widths, stem, stride placement, shortcut
option, input) and nothing about *how* to count or build it, so the analytic engine and the torch
builder can be written independently from it and checked against each other.

Field names are the SPEC keys users type (``resnet34:shortcut=A``) and the keys of config files,
so renaming one is a breaking change (see ../shared/design.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Final

from .errors import SpecError
from .naming import printable

BLOCK_KINDS: Final = ("basic", "bottleneck", "single")
STEMS: Final = ("imagenet", "cifar", "deep")
STRIDE_IN: Final = ("1x1", "3x3")
SHORTCUTS: Final = ("A", "B", "C", "D", "none")

#: Output channels of a block relative to its ``width`` (torchvision's ``expansion``).
EXPANSION: Final = {"basic": 1, "bottleneck": 4, "single": 1}

# Limits that stop absurd inputs before they eat memory or time; far above any real network.
MAX_STAGES: Final = 6
MAX_TOTAL_BLOCKS: Final = 100_000
MAX_CHANNELS: Final = 2**20
MAX_INPUT_SIZE: Final = 16_384
MAX_CLASSES: Final = 2**24
#: Most characters of a user's value that a message repeats: a 900 KB config value or a 400-digit
#: number is shown by its start and end, so every error stays one short line.
SHOWN_CHARS: Final = 60


def shown(value: object, limit: int = SHOWN_CHARS) -> str:
    """``repr(value)`` in at most ``limit`` characters, for error messages about user input.

    Built with ``reprlib`` so a huge or deeply nested value (a YAML alias bomb, ``[`` nested a
    thousand deep) is never fully repr'd, and passed through ``naming.printable`` so no control
    character reaches the terminal. Never raises: a value whose repr fails is shown by its type.
    """
    import reprlib

    r = reprlib.Repr()
    r.maxlevel = 3
    r.maxdict = r.maxlist = r.maxtuple = r.maxset = r.maxfrozenset = r.maxdeque = r.maxarray = 6
    r.maxstring = r.maxlong = r.maxother = max(limit, 8)
    try:
        text = r.repr(value)
    except Exception:  # e.g. an int past str()'s digit limit, or a __repr__ that raises
        text = f"<{type(value).__name__}>"
    return printable(text, limit)


@dataclass(frozen=True)
class ResNetSpec:
    """One residual (or plain) network, fully resolved.

    ``layers[i]`` blocks of kind ``block`` run in stage ``i + 1`` at ``widths[i]`` channels
    (bottlenecks output ``4 * widths[i]``). The first stage keeps the stem's resolution, every
    later one halves it in its first block, as in He et al. (2015) and torchvision.
    """

    block: str = "bottleneck"
    layers: tuple[int, ...] = (3, 4, 6, 3)
    widths: tuple[int, ...] = (64, 128, 256, 512)
    stem: str = "imagenet"
    stem_width: int = 64
    stride_in: str = "3x3"
    shortcut: str = "B"
    groups: int = 1
    width_per_group: int = 64
    preact: bool = False
    input_size: int = 224
    in_channels: int = 3
    num_classes: int = 1000
    name: str = "custom"

    def __post_init__(self) -> None:
        # Python callers write lists (``layers=[2, 2, 2, 2]``); keep the spec hashable and equal to
        # the one a SPEC string gives.
        for name in ("layers", "widths"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        problems = [p.message for p in validate(self)]
        if problems:
            raise SpecError("; ".join(problems), problems=problems)

    @property
    def expansion(self) -> int:
        return EXPANSION[self.block]

    @property
    def num_blocks(self) -> int:
        return sum(self.layers)

    @property
    def depth(self) -> int:
        """Weighted layers as papers count them (convs in stem and blocks, plus the FC layer)."""
        per_block = {"basic": 2, "bottleneck": 3, "single": 1}[self.block]
        stem_convs = 3 if self.stem == "deep" else 1
        return stem_convs + per_block * self.num_blocks + 1

    def stage_strides(self) -> tuple[int, ...]:
        return tuple(1 if i == 0 else 2 for i in range(len(self.layers)))

    def out_channels(self, stage: int) -> int:
        """Output channels of every block in ``stage`` (0-based)."""
        return self.widths[stage] * self.expansion

    def inner_width(self, stage: int) -> int:
        """Channels of a bottleneck's 3x3 conv: torchvision's ``int(planes * base / 64) * groups``."""
        if self.block != "bottleneck":
            return self.widths[stage]
        return int(self.widths[stage] * (self.width_per_group / 64.0)) * self.groups

    def to_dict(self) -> dict[str, Any]:
        """Every field, with tuples as lists: the ``spec`` object of the JSON report."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out


def width_per_group_for(widths: tuple[int, ...] | list[int], per_group: tuple[int, ...] | list[int]) -> int | None:
    """The inverse of ``ResNetSpec.inner_width``: the ``width_per_group`` for which
    ``int(w * wpg / 64)`` is each stage's channels per group, preferring 64 (plain bottlenecks),
    else the smallest such value; None when no single value fits every stage. Read by the tracer's
    spec matching and by checkpoint recovery."""
    lo, hi = 1, 1 << 30
    for w, pg in zip(widths, per_group):
        lo = max(lo, -(-pg * 64 // w))
        hi = min(hi, -(-(pg + 1) * 64 // w) - 1)
    if lo > hi:
        return None
    return 64 if lo <= 64 <= hi else lo


#: What each field means and accepts, for error messages, ``--help`` and docs.
FIELD_HELP: Final[dict[str, str]] = {
    "block": "block kind: basic | bottleneck | single",
    "layers": "blocks per stage, 1 to 6 stages, e.g. 3-4-6-3",
    "widths": "width per stage (bottleneck planes), e.g. 64-128-256-512",
    "stem": "stem: imagenet (7x7/2 conv + 3x3/2 max-pool) | cifar (3x3/1 conv) | deep (three 3x3 convs + max-pool)",
    "stem_width": "channels out of the stem, a positive integer",
    "stride_in": "where a bottleneck downsamples: 1x1 (paper) | 3x3 (torchvision)",
    "shortcut": "shortcut option: A | B | C | D | none",
    "groups": "groups of a bottleneck's 3x3 conv (ResNeXt cardinality), a positive integer",
    "width_per_group": "channels per group at width 64 (ResNeXt 'd'), a positive integer",
    "preact": "pre-activation (v2) units: true | false",
    "input_size": "input height and width in pixels, a positive integer",
    "in_channels": "input channels, a positive integer",
    "num_classes": "outputs of the final FC layer, a positive integer",
    "name": "a label for reports",
}

FIELD_NAMES: Final = tuple(f.name for f in fields(ResNetSpec))


@dataclass(frozen=True)
class FieldProblem:
    """One problem ``validate`` finds: a sentence naming the field, the value and what is allowed.

    ``field`` is the field it is reported on (a config file points at that field's line), the
    first named in ``message``; ``others`` are the other fields the message names, for a problem
    about several (``layers`` and ``widths`` of different lengths), so a caller that has already
    reported one of them can leave this one out.
    """

    field: str
    message: str
    others: tuple[str, ...] = ()

    @property
    def fields(self) -> tuple[str, ...]:
        """Every field the problem names, ``field`` first."""
        return (self.field, *self.others)

    def __str__(self) -> str:
        return self.message


_CHOICES: Final[dict[str, tuple[str, ...]]] = {"block": BLOCK_KINDS, "stem": STEMS, "stride_in": STRIDE_IN, "shortcut": SHORTCUTS}
_UPPER: Final[dict[str, int]] = {
    "stem_width": MAX_CHANNELS, "groups": MAX_CHANNELS, "width_per_group": MAX_CHANNELS,
    "input_size": MAX_INPUT_SIZE, "in_channels": MAX_CHANNELS, "num_classes": MAX_CLASSES,
}
_STAGE_UPPER: Final[dict[str, int]] = {"layers": MAX_TOTAL_BLOCKS, "widths": MAX_CHANNELS}


def validate(spec: ResNetSpec) -> list[FieldProblem]:
    """Every problem with ``spec`` (see ``validate_values``)."""
    return validate_values({f.name: getattr(spec, f.name) for f in fields(spec)})


def validate_values(values: Mapping[str, object]) -> list[FieldProblem]:
    """Every problem with a spec whose fields would hold ``values`` (a value for every field), each
    a sentence naming the field, the value and what is allowed, without building the spec.

    All problems are collected rather than the first raised, so a config file with three mistakes
    is fixed in one round trip. Each field is checked alone first; a check across fields runs only
    on fields that passed theirs, so one mistake is not reported twice.
    """
    p: list[FieldProblem] = []
    ok = _check_each(p, values)
    _check_stages(p, values, ok)
    _check_stem_and_groups(p, values, ok)
    if {"block", "widths", "layers", "stem_width"} <= ok:
        _check_channels(p, values, ok)
    return p


def _check_each(p: list[FieldProblem], v: Mapping[str, object]) -> set[str]:
    """Each field's own check; the fields that passed."""
    ok: set[str] = set()
    for name, allowed in _CHOICES.items():
        if _choice(p, name, v[name], allowed):
            ok.add(name)
    if not isinstance(v["preact"], bool):
        p.append(FieldProblem("preact", f"preact={shown(v['preact'])} is not allowed; use true or false"))
    if not isinstance(v["name"], str) or not v["name"]:
        p.append(FieldProblem("name", f"name={shown(v['name'])} must be a non-empty string"))
    for name, upper in _UPPER.items():
        if _positive(p, name, v[name], upper):
            ok.add(name)
    for name, upper in _STAGE_UPPER.items():
        if _int_tuple(p, name, v[name], upper):
            ok.add(name)
    return ok


def _check_stages(p: list[FieldProblem], v: Mapping[str, object], ok: set[str]) -> None:
    """One width per stage, and not too many blocks in all; a failure takes the field out of ``ok``."""
    layers, widths = _ints(v["layers"]), _ints(v["widths"])
    if {"layers", "widths"} <= ok and len(layers) != len(widths):
        p.append(FieldProblem(
            "layers", f"layers has {len(layers)} stages but widths has {len(widths)}; give one width per stage", ("widths",)
        ))
        ok.discard("widths")
    if "layers" in ok and sum(layers) > MAX_TOTAL_BLOCKS:
        p.append(FieldProblem("layers", f"layers has {sum(layers):,} blocks in all, above the limit of {MAX_TOTAL_BLOCKS:,}"))
        ok.discard("layers")


def _check_stem_and_groups(p: list[FieldProblem], v: Mapping[str, object], ok: set[str]) -> None:
    """The deep stem's width, and grouped convs only in bottlenecks."""
    stem_width, groups, per_group = v["stem_width"], v["groups"], v["width_per_group"]
    if {"stem", "stem_width"} <= ok and v["stem"] == "deep" and _int(stem_width) < 2:
        p.append(FieldProblem(
            "stem_width", f"stem_width={stem_width} is too small for the deep stem (its first convs use stem_width/2)", ("stem",)
        ))
    if {"block", "groups", "width_per_group"} <= ok and v["block"] != "bottleneck" and (groups != 1 or per_group != 64):
        p.append(FieldProblem(
            "groups",
            f"groups={groups}, width_per_group={per_group}: grouped convs "
            f"need block=bottleneck; {v['block']} blocks take groups=1, width_per_group=64",
            ("width_per_group", "block"),
        ))


def _check_channels(p: list[FieldProblem], v: Mapping[str, object], ok: set[str]) -> None:
    """Channel counts that only a whole network has: each stage's output and a bottleneck's
    inner width within the limits, and option A never narrowing (zero-padding cannot)."""
    widths, expansion = _ints(v["widths"]), EXPANSION[str(v["block"])]
    for i, w in enumerate(widths):
        if w * expansion > MAX_CHANNELS:
            p.append(FieldProblem("widths", f"widths[{i}]={w} gives {w * expansion:,} channels, above the limit of {MAX_CHANNELS:,}"))
    if v["block"] == "bottleneck" and {"groups", "width_per_group"} <= ok:
        groups, per_group = _int(v["groups"]), _int(v["width_per_group"])
        for i, w in enumerate(widths):
            inner = int(w * (per_group / 64.0))
            if inner < 1:
                p.append(FieldProblem("widths", (
                    f"widths[{i}]={w} with width_per_group={per_group} leaves "
                    "under one channel per group; raise width_per_group or the width"
                ), ("width_per_group",)))
            elif inner * groups > MAX_CHANNELS:
                p.append(FieldProblem("widths", f"widths[{i}]={w} gives a {inner * groups:,}-channel 3x3 conv, above the limit"))
    if "shortcut" in ok and v["shortcut"] == "A":
        in_c = _int(v["stem_width"])
        for i, w in enumerate(widths):
            out_c = w * expansion
            if out_c < in_c:
                p.append(FieldProblem("shortcut", (
                    f"shortcut=A zero-pads channels, but stage {i + 1} narrows {in_c}->{out_c}; "
                    "use shortcut=B or C, or widen the stage"
                )))
                break
            in_c = out_c


def _int(value: object) -> int:
    """A value its own check has passed as an integer."""
    return value if isinstance(value, int) else 0


def _ints(value: object) -> tuple[int, ...]:
    """A value its own check has passed as a tuple of integers (``()`` otherwise, never read)."""
    return value if isinstance(value, tuple) else ()


def _positive(p: list[FieldProblem], name: str, value: object, upper: int) -> bool:
    if isinstance(value, bool) or not isinstance(value, int):
        p.append(FieldProblem(name, f"{name}={shown(value)} is not an integer ({FIELD_HELP.get(name, name)})"))
        return False
    if value < 1:
        p.append(FieldProblem(name, f"{name}={shown(value)} must be at least 1"))
        return False
    if value > upper:
        p.append(FieldProblem(name, f"{name}={shown(value)} is above the limit of {upper:,}"))
        return False
    return True


def _choice(p: list[FieldProblem], name: str, value: object, allowed: tuple[str, ...]) -> bool:
    if value not in allowed:
        p.append(FieldProblem(name, f"{name}={shown(value)} is not allowed; use one of {', '.join(allowed)}"))
        return False
    return True


def _int_tuple(p: list[FieldProblem], name: str, value: object, upper: int) -> bool:
    if not isinstance(value, tuple) or not value:
        p.append(FieldProblem(name, f"{name}={shown(value)} must be a non-empty list of positive integers ({FIELD_HELP[name]})"))
        return False
    if len(value) > MAX_STAGES:
        p.append(FieldProblem(name, f"{name} has {len(value)} stages; at most {MAX_STAGES} are allowed"))
        return False
    good = True
    for i, v in enumerate(value):
        if isinstance(v, bool) or not isinstance(v, int):
            p.append(FieldProblem(name, f"{name}[{i}]={shown(v)} is not an integer ({FIELD_HELP[name]})"))
            good = False
        elif v < 1:
            p.append(FieldProblem(name, f"{name}[{i}]={shown(v)} must be at least 1"))
            good = False
        elif v > upper:
            p.append(FieldProblem(name, f"{name}[{i}]={shown(v)} is above the limit of {upper:,}"))
            good = False
    return good
