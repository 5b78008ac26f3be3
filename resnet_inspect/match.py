"""Which spec, if any, a traced or recovered plan *is*: "= resnet18:stem=cifar,num_classes=10".

The plan's structure proposes a spec (block kind, units per stage, widths, stem, stride placement,
shortcut option, groups, input, classes); the proposal is laid out with ``plan.make_plan`` and the
two plans are compared layer by layer: every conv, norm and linear layer with its shapes, kernel,
stride, groups and bias, every ReLU and addition, each shortcut's kind and where it reads from.
Only what no report can tell apart is allowed to differ: a global average pool written as
``AdaptiveAvgPool2d``, ``F.avg_pool2d(x, 4)`` on a 4x4 map or ``x.mean((2, 3))``, and the names.
So a match is never a guess, and a mismatch names its first difference.

The match is named as the preset it is closest to plus overrides (``preset:key=value,...``), a
SPEC string that ``specio.parse_spec`` reads back to the same spec.

Pure: no torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from .errors import SpecError
from .plan import Block, Layer, Plan, make_plan
from .presets import PRESETS
from .spec import EXPANSION, FIELD_NAMES, ResNetSpec, width_per_group_for


@dataclass(frozen=True)
class Match:
    """The spec a plan equals (``spec`` None when none does) and, if none, the first reason."""

    spec: ResNetSpec | None
    reason: str


def _signature(layer: Layer) -> tuple[Any, ...]:
    op = layer.op
    whole_map = layer.kernel == layer.in_shape[1] and (layer.kernel_w or layer.kernel) == layer.in_shape[2]
    if op in ("adaptive_avg_pool2d", "mean") or (op == "avg_pool" and whole_map and layer.out_shape[1:] == (1, 1)):
        return ("global_pool", layer.in_shape[0])
    if op == "conv":
        return (op, layer.in_shape, layer.out_shape, layer.kernel_text, layer.stride, layer.groups, layer.bias)
    if op in ("batch_norm", "norm"):
        return (op, layer.detail if op == "norm" else "", layer.in_shape, layer.affine)
    if op == "linear":
        return (op, layer.in_shape[0], layer.out_shape[0], layer.bias)
    if op in ("max_pool", "avg_pool"):
        return (op, layer.in_shape, layer.out_shape, layer.kernel_text, layer.stride)
    return (op, layer.detail, layer.in_shape, layer.out_shape)


def _layers_differ(a: Sequence[Layer], b: Sequence[Layer]) -> str:
    sa, sb = [_signature(ly) for ly in a], [_signature(ly) for ly in b]
    if sa == sb:
        return ""
    for la, lb, x, y in zip(a, b, sa, sb):
        if x != y:
            return f"{la.name} is {_describe(la)}, the spec's {lb.name} is {_describe(lb)}"
    longer, which = (a, "it") if len(a) > len(b) else (b, "the spec")
    extra = longer[min(len(a), len(b))]
    return f"{which} also has {_describe(extra)} ({extra.name})"


def _describe(layer: Layer) -> str:
    if layer.op == "conv":
        return f"a {layer.kernel_text}/{layer.stride} conv {layer.in_shape[0]}→{layer.out_shape[0]}"
    if layer.op == "linear":
        return f"a linear layer {layer.in_shape[0]}→{layer.out_shape[0]}"
    return f"a {layer.detail or layer.op.replace('_', ' ')}"


def _block_differs(t: Block, s: Block) -> str:
    if (t.in_shape, t.out_shape, t.stride) != (s.in_shape, s.out_shape, s.stride):
        return f"{t.name} maps {t.in_shape}→{t.out_shape} at stride {t.stride}, the spec's {s.name} {s.in_shape}→{s.out_shape} at stride {s.stride}"
    if t.shortcut != s.shortcut:
        return f"{t.name}'s shortcut is {t.shortcut}, the spec's is {s.shortcut}"
    if t.extras:
        return f"{t.name} holds {', '.join(e.kind for e in t.extras)}, which no spec field describes"
    if t.shortcut_source != s.shortcut_source:
        return f"{t.name}'s shortcut reads {'after the first BN-ReLU' if t.shortcut_source >= 0 else 'the raw input'}, the spec's does not"
    why = _layers_differ(t.main, s.main) or _layers_differ(t.shortcut_layers, s.shortcut_layers)
    return f"{t.name}: {why}" if why else ""


def plans_differ(traced: Plan, spec_plan: Plan) -> str:
    """The first difference between two plans, in words; "" when they are the same network."""
    if traced.input_shape != spec_plan.input_shape:
        return f"input {traced.input_shape} against {spec_plan.input_shape}"
    if traced.layout != spec_plan.layout:
        return f"units per stage {'-'.join(map(str, traced.layout))} against {'-'.join(map(str, spec_plan.layout))}"
    why = _layers_differ(traced.stem, spec_plan.stem)
    if why:
        return f"stem: {why}"
    for t, s in zip(traced.blocks, spec_plan.blocks):
        why = _block_differs(t, s)
        if why:
            return why
    why = _layers_differ(traced.head, spec_plan.head)
    return f"head: {why}" if why else ""


# ---------------------------------------------------------------------------------------- proposal


def _stem_fields(plan: Plan) -> dict[str, Any] | str:
    convs = [ly for ly in plan.stem if ly.op == "conv"]
    pooled = any(ly.op == "max_pool" for ly in plan.stem)
    shape = [(c.kernel_text, c.stride) for c in convs]
    if shape == [("7x7", 2)] and pooled:
        stem = "imagenet"
    elif shape == [("3x3", 1)] and not pooled:
        stem = "cifar"
    elif shape == [("3x3", 2), ("3x3", 1), ("3x3", 1)] and pooled:
        stem = "deep"
    else:
        return f"its stem ({', '.join(f'{k}/{s} conv' for k, s in shape) or 'no conv'}{' + max-pool' if pooled else ''}) is none of the spec's stems"
    return {"stem": stem, "stem_width": convs[-1].out_shape[0]}


def _shortcut_option(plan: Plan) -> str:
    kinds = {b.shortcut for b in plan.blocks}
    if "zero_pad" in kinds:
        return "A"
    if "avgpool_projection" in kinds:
        return "D"
    if any(b.shortcut == "projection" and b.in_shape == b.out_shape for b in plan.blocks):
        return "C"
    return "B"


def _bottleneck_fields(plan: Plan, widths: list[int]) -> dict[str, Any] | str:
    firsts = [next(b for b in plan.blocks if b.stage == s) for s in range(1, plan.num_stages + 1)]
    convs = [[ly for ly in b.main_template if ly.op == "conv"] for b in firsts]
    groups = convs[0][1].groups
    inner = [c[1].out_shape[0] for c in convs]
    wpg = width_per_group_for(widths, [i // groups for i in inner])
    if wpg is None:
        return "its bottlenecks' 3x3 widths fit no single width_per_group"
    strided = next((c for b, c in zip(firsts, convs) if b.stride > 1), None)
    stride_in = "1x1" if strided is not None and strided[0].stride > 1 else "3x3"
    return {"groups": groups, "width_per_group": wpg, "stride_in": stride_in}


def propose(plan: Plan) -> ResNetSpec | str:
    """The spec the plan's structure suggests, or why no spec field can describe it."""
    kinds = {b.kind for b in plan.blocks}
    if len(kinds) != 1 or next(iter(kinds)) not in EXPANSION:
        return f"its units are {', '.join(sorted(kinds))}, not one of basic, bottleneck or single"
    block = next(iter(kinds))
    if any(b.shortcut == "other" for b in plan.blocks):
        first = next(b for b in plan.blocks if b.shortcut == "other")
        return f"{first.name}'s shortcut is neither identity, zero-padding nor a projection"
    c, h, w = plan.input_shape
    if h != w:
        return f"its input is {h}x{w}, and a spec's is square"
    stem = _stem_fields(plan)
    if isinstance(stem, str):
        return stem
    widths = [next(b for b in plan.blocks if b.stage == s).out_shape[0] // EXPANSION[block]
              for s in range(1, plan.num_stages + 1)]
    values: dict[str, Any] = {
        "block": block, "layers": plan.layout, "widths": tuple(widths), **stem,
        "shortcut": _shortcut_option(plan), "preact": plan.blocks[0].preact,
        "input_size": h, "in_channels": c, "num_classes": plan.num_classes,
    }
    if block == "bottleneck":
        extra = _bottleneck_fields(plan, widths)
        if isinstance(extra, str):
            return extra
        values.update(extra)
    try:
        return ResNetSpec(**values)
    except SpecError as exc:
        return f"the closest spec is not valid: {exc.problems[0]}"


def spec_text(spec: ResNetSpec) -> str:
    """The preset needing the fewest overrides to give ``spec``, with those overrides."""
    best: tuple[int, str, list[str]] | None = None
    for name, preset in PRESETS.items():
        diffs = [f"{f}={_value_text(getattr(spec, f))}" for f in FIELD_NAMES
                 if f != "name" and getattr(spec, f) != getattr(preset.spec, f)]
        if best is None or len(diffs) < best[0]:
            best = (len(diffs), name, diffs)
    assert best is not None
    _, name, diffs = best
    return f"{name}:{','.join(diffs)}" if diffs else name


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "-".join(map(str, value))
    return str(value)


def find_match(plan: Plan) -> Match:
    """The spec ``plan`` equals, named by ``spec_text``, or the first reason none does."""
    proposal = propose(plan)
    if isinstance(proposal, str):
        return Match(None, proposal)
    why = plans_differ(plan, make_plan(proposal))
    if why:
        return Match(None, why)
    return Match(replace(proposal, name=spec_text(proposal)), "")


def with_match(plan: Plan) -> Plan:
    """``plan`` with ``spec`` set to the spec it equals, or a note saying why none does."""
    if plan.spec is not None:
        return plan
    m = find_match(plan)
    if m.spec is not None:
        return replace(plan, spec=m.spec)
    return replace(plan, notes=(*plan.notes, f"no spec describes it exactly: {m.reason}."))


__all__ = ["Match", "find_match", "plans_differ", "propose", "spec_text", "with_match"]
