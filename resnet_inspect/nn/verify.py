"""Analytic counts vs the built module vs fvcore: the check behind ``resnet-inspect verify``.

Four derivations of the same numbers meet here:

* the analytic engine (``counts.analyze``: spec -> plan -> counts, pure Python);
* the torch module (``nn.builder``, written from the spec after torchvision; built for counting with
  ``build_for_counting``), whose parameters are counted with ``sum(p.numel())`` per block and in total;
* fvcore's ``FlopCountAnalysis`` of that module in eval mode, per operator and per block, for the
  ops whose conventions we share with fvcore (``counts.FVCORE_OPS``);
* the tracer (``nn.trace``), run on the built module on the meta device: it finds the residual
  additions by what the ops do, so a unit whose ``forward`` lost its ``out += identity`` has no
  addition to count (whatever its ``residual`` flag says), and the ``add`` check fails.

The other ops fvcore skips (``relu``, ``max_pool``, ``avg_pool``) are checked with forward hooks
recorded during fvcore's own trace, from the modules that really run and the shapes they produce.
The output shape must be ``[1, num_classes]``.

No count can tell where option A's zero channels go: padding them in front of the input's costs
what padding them after does. ``shortcut_offsets`` follows each identity or zero-pad shortcut on
the trace, back through the ops that only move data, to the unit's input, and the
``shortcut.offset`` check wants the input's channel 0 at the shortcut's channel 0.

Memory: the trace needs no data; fvcore's forward runs on real zeros, so its memory is estimated
from the plan first (``resources``) and a spec that would not fit is refused before anything is
allocated. ``verify_spec(spec, model=...)`` checks a given module instead of building one: the
seam the mutation tests use.

``verify_traced`` checks a traced user module the same way: its per-unit and total parameters
against ``sum(p.numel())`` of the real module's submodules, and fvcore's counts per module path.

torch and fvcore are imported inside the functions, never at module import.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from ..counts import FVCORE_OPS, Analysis, Tally, analyze
from ..errors import CheckFailed
from ..plan import FREE_KINDS
from ..spec import ResNetSpec

if TYPE_CHECKING:
    from torch import nn

    from ..tracedata import OpRecord, Trace

SCHEMA_VERSION: Final = 1

#: fvcore's operator names -> ours. ``addmm`` is what older tracers emit for ``nn.Linear``.
FVCORE_NAMES: Final[Mapping[str, str]] = {
    "conv": "conv",
    "linear": "linear",
    "addmm": "linear",
    "batch_norm": "batch_norm",
    "adaptive_avg_pool2d": "adaptive_avg_pool2d",
}
#: The ops fvcore does not count, measured with forward hooks instead.
HOOK_OPS: Final = ("max_pool", "avg_pool", "relu")
#: Measured from the trace of the built module (what its ops do, not what its modules are called).
TRACE_OPS: Final = ("add",)
#: Top-level modules that belong to the stem and to the head (the rest are ``layerN`` stages).
STEM_MODULES: Final = ("conv1", "bn1", "maxpool")
HEAD_MODULES: Final = ("bn_final", "avgpool", "fc")


@dataclass(frozen=True)
class Check:
    """One number counted two ways.

    ``scope`` is ``total``, ``stem``, ``head`` or a block's module path (``layer2.0``);
    ``quantity`` is ``params``, ``params.shortcut`` or an op name; ``source`` says where
    ``measured`` comes from: ``module`` (``sum(p.numel())``), ``fvcore`` or ``hooks``.
    """

    scope: str
    quantity: str
    source: str
    analytic: int
    measured: int

    @property
    def ok(self) -> bool:
        return self.analytic == self.measured

    def describe(self) -> str:
        """One line naming the scope, the quantity and both values, for error output."""
        sign = "==" if self.ok else "!="
        return f"{self.scope} {self.quantity}: analytic {self.analytic:,} {sign} {self.source} {self.measured:,}"

    def to_json(self) -> dict[str, Any]:
        return {"scope": self.scope, "quantity": self.quantity, "source": self.source,
                "analytic": self.analytic, "measured": self.measured, "ok": self.ok}


@dataclass(frozen=True)
class VerifyReport:
    """Every check of one spec (or traced module); ``ok`` when all agree and the output has the
    expected shape."""

    spec: ResNetSpec | None
    checks: tuple[Check, ...]
    output_shape: tuple[int, ...]
    expected_output_shape: tuple[int, ...]
    name: str = ""
    #: Failures that are no count: the module's forward pass raised (one line naming where).
    problems: tuple[str, ...] = ()

    @property
    def output_ok(self) -> bool:
        return self.output_shape == self.expected_output_shape

    @property
    def ok(self) -> bool:
        return self.output_ok and not self.problems and all(c.ok for c in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.ok)

    def failure_lines(self) -> list[str]:
        """One line per disagreement (what ``verify`` prints on stderr before exiting 1)."""
        lines = [f"mismatch: {p}" for p in self.problems]
        lines += [f"mismatch: {c.describe()}" for c in self.failures]
        if not self.output_ok and not self.problems:
            lines.append(
                f"mismatch: output shape {list(self.output_shape)}, expected {list(self.expected_output_shape)}"
            )
        return lines

    def check(self, scope: str, quantity: str) -> Check:
        for c in self.checks:
            if c.scope == scope and c.quantity == quantity:
                return c
        raise KeyError((scope, quantity))

    def to_json(self) -> dict[str, Any]:
        """The ``verify --format json`` document."""
        return {
            "schema_version": SCHEMA_VERSION,
            "spec": self.spec.to_dict() if self.spec is not None else {"name": self.name},
            "ok": self.ok,
            "output_shape": {"expected": list(self.expected_output_shape), "measured": list(self.output_shape),
                             "ok": self.output_ok},
            "checks": [c.to_json() for c in self.checks],
            "problems": list(self.problems),
        }


@contextmanager
def _quiet_fvcore() -> Iterator[None]:
    """fvcore logs a warning for every op it does not count (add, relu, max_pool2d, pad, slice) and
    for modules it sees no op in; those are ours to count, so silence them for this call only."""
    logger = logging.getLogger("fvcore")
    old = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(old)


class _HookCounter:
    """Counts ``relu``, ``max_pool`` and ``avg_pool`` from the modules that run and the shapes they produce.

    Scopes follow the order of execution: everything before the first unit is the stem, everything
    inside ``layerN.M`` is that unit, everything after the last unit is the head. This way the count
    does not depend on how the builder named or shared its activation modules.
    """

    def __init__(self) -> None:
        self.counts: dict[str, Counter[str]] = {}
        self.scope = "stem"
        self.output_shape: tuple[int, ...] = ()

    def _add(self, op: str, n: Any, scope: str | None = None) -> None:
        n = int(n)  # under fvcore's JIT trace ``numel()`` comes back as a 0-d tensor
        self.counts.setdefault(scope or self.scope, Counter())[op] += n
        self.counts.setdefault("total", Counter())[op] += n

    def _enter(self, name: str) -> None:
        self.scope = name

    def attach(self, model: nn.Module) -> list[Any]:
        from torch import nn

        handles: list[Any] = []

        def window(mod: Any) -> int:
            k = mod.kernel_size
            return k * k if isinstance(k, int) else int(k[0]) * int(k[1])

        for stage_name, stage in model.named_children():
            if not (stage_name.startswith("layer") and isinstance(stage, nn.Sequential)):
                continue
            for index, unit in stage.named_children():
                name = f"{stage_name}.{index}"
                handles.append(unit.register_forward_pre_hook(lambda m, i, n=name: self._enter(n)))
                handles.append(unit.register_forward_hook(lambda m, i, o: self._enter("head")))
        for mod in model.modules():
            if isinstance(mod, nn.ReLU):
                handles.append(mod.register_forward_hook(lambda m, i, o: self._add("relu", o.numel())))
            elif isinstance(mod, nn.MaxPool2d):
                handles.append(mod.register_forward_hook(lambda m, i, o: self._add("max_pool", o.numel() * window(m))))
            elif isinstance(mod, nn.AvgPool2d):
                handles.append(mod.register_forward_hook(lambda m, i, o: self._add("avg_pool", o.numel() * window(m))))

        def grab(m: nn.Module, i: Any, o: Any) -> None:
            self.output_shape = tuple(int(v) for v in o.shape)

        handles.append(model.register_forward_hook(grab))
        return handles


def _params(module: nn.Module | None) -> int:
    return 0 if module is None else sum(p.numel() for p in module.parameters())


def _fvcore_ops(counter: Mapping[str, Any]) -> Counter[str]:
    """fvcore's per-op counter in our op names; unknown ops keep fvcore's name (and then fail)."""
    out: Counter[str] = Counter()
    for op, value in counter.items():
        out[FVCORE_NAMES.get(op, op)] += int(value)
    return out


def _op_checks(scope: str, analytic: Tally, fv: Counter[str], hooks: Counter[str] | None, *, all_ops: bool,
               traced: Tally | None = None) -> list[Check]:
    checks: list[Check] = []
    for op in (*FVCORE_OPS, *sorted(set(fv) - set(FVCORE_OPS))):
        a = analytic.op(op) if op in FVCORE_OPS else 0
        m = fv.get(op, 0)
        if all_ops or a or m:
            checks.append(Check(scope, op, "fvcore", a, m))
    for op in HOOK_OPS if hooks is not None else ():
        a, m = analytic.op(op), hooks.get(op, 0)  # type: ignore[union-attr]
        if all_ops or a or m:
            checks.append(Check(scope, op, "hooks", a, m))
    for op in TRACE_OPS if traced is not None else ():
        a, m = analytic.op(op), traced.op(op)  # type: ignore[union-attr]
        if all_ops or a or m:
            checks.append(Check(scope, op, "trace", a, m))
    return checks


def _sum_counters(by_module: Mapping[str, Mapping[str, Any]], names: tuple[str, ...]) -> Counter[str]:
    out: Counter[str] = Counter()
    for name in names:
        out.update(_fvcore_ops(by_module.get(name, {})))
    return out


def verify_spec(spec: ResNetSpec, analysis: Analysis | None = None, *, model: nn.Module | None = None,
                max_memory: tuple[int, str] | None = None) -> VerifyReport:
    """Build ``spec``, count the module and run fvcore on it, and compare with the analytic counts.

    Returns the report rather than raising, so callers choose what a mismatch means (``verify``
    exits 1, tests assert, ``summary --verify`` raises ``CheckFailed``). ``model`` checks that
    module instead of building one (the seam the mutation tests use: a module with one fault must
    fail, naming its block). Before anything is allocated, the memory fvcore's real forward needs
    is held to ``max_memory`` (default: half the available memory), raising ``ResourceLimit``.
    """
    analysis = analysis or analyze(spec)
    require_verify_memory(analysis, max_memory)
    if model is None:
        from .builder import build_for_counting

        # Counting needs shapes, not values: the same module without random init or memory per tensor.
        model = build_for_counting(spec)
    model.eval()
    shape = (spec.in_channels, spec.input_size, spec.input_size)
    try:
        measured = _measure(model, shape, spec.name, [b.block.name for b in analysis.blocks])
    except _ForwardFailed as exc:  # a module that cannot run its own forward fails, naming where
        return VerifyReport(spec, (), (), (1, spec.num_classes), spec.name, (str(exc),))
    checks = _spec_checks(analysis, model, measured)
    return VerifyReport(spec, tuple(checks), measured.output_shape, (1, spec.num_classes), spec.name)


def require_verify_memory(network: ResNetSpec | Analysis, max_memory: tuple[int, str] | None = None) -> None:
    """Refuse (``ResourceLimit``, one line with the estimate and the limit) a spec whose fvcore
    forward would not fit ``max_memory`` (default: half the available memory); pure arithmetic, so
    the CLI calls it before importing torch. The hint names an input size that fits."""
    from ..resources import fitting_input_size, memory_limit, require, short_name, verify_estimate

    analysis = analyze(network) if isinstance(network, ResNetSpec) else network
    limit = max_memory or memory_limit(None)
    size = fitting_input_size(analysis, limit[0] - verify_estimate(analysis, "").parts[0][1])
    what = f"verify {short_name(analysis.name)} at input {analysis.plan.input_shape[1]}"
    require(verify_estimate(analysis, what), limit, f"try --input-size {size} (same structure) or raise --max-memory")


@dataclass(frozen=True)
class _Measured:
    """What running the module gave: fvcore per module and op, the hooks' counts, the trace's units
    and where each zero-pad or identity shortcut puts the unit's input channels."""

    by_module: Mapping[str, Mapping[str, Any]]
    hooks: dict[str, Counter[str]]
    traced: dict[str, Tally]
    offsets: dict[str, int]
    output_shape: tuple[int, ...]


class _ForwardFailed(Exception):
    """The module's own forward pass raised: a verification failure, not a crash."""


def _measure(model: nn.Module, shape: tuple[int, int, int], name: str, blocks: Sequence[str]) -> _Measured:
    """The trace first (meta device: no data, so its memory does not grow with the input), then
    fvcore's real forward with the hooks attached. A forward that fails raises ``_ForwardFailed``
    in one line naming the module where it failed."""
    import torch

    from .trace import TraceError, record

    try:
        trace = record(model, shape, name)  # real weights are read as meta views; the module is unchanged
    except TraceError as exc:
        raise _ForwardFailed(_one_line(str(exc))) from None
    hooks = _HookCounter()
    handles = hooks.attach(model)
    try:
        by_module = _fvcore_by_module(model, torch.zeros(1, *shape))
    except RuntimeError as exc:
        raise _ForwardFailed(_one_line(f"fvcore's forward pass fails: {exc}")) from None
    finally:
        for h in handles:
            h.remove()
    return _Measured(by_module, hooks.counts, _traced_units(trace), shortcut_offsets(trace, blocks), hooks.output_shape)


def _one_line(text: str, limit: int = 300) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _spec_checks(analysis: Analysis, model: nn.Module, m: _Measured) -> list[Check]:
    """Every check of a spec's module: totals, stem, each block (with its shortcut), head."""
    modules = dict(model.named_modules())
    empty: Counter[str] = Counter()
    checks: list[Check] = [Check("total", "params", "module", analysis.total.params, _params(model))]
    checks += _op_checks("total", analysis.total, _fvcore_ops(m.by_module.get("", {})), m.hooks.get("total", empty),
                         all_ops=True, traced=m.traced.get("total", Tally()))
    checks.append(Check("stem", "params", "module", analysis.stem.params,
                        sum(_params(modules.get(n)) for n in STEM_MODULES)))
    checks += _op_checks("stem", analysis.stem, _sum_counters(m.by_module, STEM_MODULES), m.hooks.get("stem", empty),
                         all_ops=False)
    for b in analysis.blocks:
        name = b.block.name
        unit = modules.get(name)
        checks.append(Check(name, "params", "module", b.total.params, _params(unit)))
        shortcut = getattr(unit, "downsample", None) if unit is not None else None
        checks.append(Check(name, "params.shortcut", "module", b.shortcut.params, _params(shortcut)))
        checks += _op_checks(name, b.total, _fvcore_ops(m.by_module.get(name, {})), m.hooks.get(name, empty),
                             all_ops=False, traced=m.traced.get(name, Tally()))
        if b.block.shortcut in FREE_KINDS:
            checks.append(Check(name, "shortcut.offset", "trace", 0, m.offsets.get(name, -1)))
    checks.append(Check("head", "params", "module", analysis.head.params,
                        sum(_params(modules.get(n)) for n in HEAD_MODULES)))
    checks += _op_checks("head", analysis.head, _sum_counters(m.by_module, HEAD_MODULES), m.hooks.get("head", empty),
                         all_ops=False)
    return checks


def _traced_units(trace: Trace) -> dict[str, Tally]:
    """The built module's units as the tracer finds them (by their additions), counted: block
    name -> tally, and ``total``. A network without additions (a plain net) has none."""
    from ..counts import count_plan
    from ..structure import NotResidual, plan_from_trace

    try:
        traced = count_plan(plan_from_trace(trace))
    except NotResidual:
        return {"total": Tally()}
    out = {b.block.name: b.total for b in traced.blocks}
    out["total"] = traced.total
    return out


# ---------------------------------------------------------------------------------------- channel placement

#: Ops that move a tensor's data without computing on it, followed from a shortcut back to the unit's input.
_MOVES: Final = frozenset({"view", "slice", "pad", "cat", "const"})
#: ``const`` ops that make zeros (a ``torch.zeros`` concatenated as padding, ``x * 0``).
_ZEROS: Final = frozenset({"aten.zeros", "aten.new_zeros", "aten.zeros_like", "aten.mul", "aten.mul_", "aten.zero_"})
ChannelMap = list[int | None]


def shortcut_offsets(trace: Trace, blocks: Sequence[str]) -> dict[str, int]:
    """For each unit among ``blocks`` that the trace shows, the channel of its addition's shortcut
    operand where the unit input's channel 0 lands: 0 when the input's channels come first and
    any zero channels after them (an identity, option A as the spec and the paper's reference code
    pad), the number of zero channels put in front when they come first, -1 when the shortcut is
    not the input's channels in order (a projection, a dropped or reordered channel, no addition).

    The counts cannot see where the zeros go: padding at the front costs the same parameters,
    MACs and additions as padding at the back, yet it adds the input's channel 0 to the main
    path's channel 64. So the shortcut is followed back through the ops that only move data
    (slices, padding, concatenation with zeros, views) to the unit's input, on the meta trace.
    """
    wanted = set(blocks)
    producer = {v: i for i, op in enumerate(trace.ops) for v in op.outputs}
    out: dict[str, int] = {}
    for call in trace.calls:
        if call.path not in wanted or call.path in out:
            continue
        out[call.path] = _unit_offset(trace.ops, producer, call.first_op, call.end_op)
    return out


def _unit_offset(ops: Sequence[OpRecord], producer: Mapping[int, int], first: int, end: int) -> int:
    adds = [i for i in range(first, end) if ops[i].op == "add" and len(ops[i].inputs) == 2]
    source = next((v for i in range(first, end) for v in ops[i].inputs if producer.get(v, -1) < first), None)
    if not adds or source is None:
        return -1
    channels = next(s[1] for i in range(first, end) for v, s in zip(ops[i].inputs, ops[i].in_shapes)
                    if v == source and len(s) > 1)
    for operand in ops[adds[-1]].inputs:
        found = _channel_map(ops, producer, operand, source, channels, first)
        if found is not None:
            return _offset(found, channels)
    return -1


def _channel_map(ops: Sequence[OpRecord], producer: Mapping[int, int], value: int, source: int, channels: int,
                 first: int, depth: int = 0) -> ChannelMap | None:
    """Channel j of ``value`` as the channel of ``source`` it holds (None: a zero), through data
    moves made inside the unit; None when ``value`` is computed (a conv, a norm, a pool...)."""
    if value == source:
        return list(range(channels))
    i = producer.get(value, -1)
    if i < first or depth > 64 or ops[i].op not in _MOVES:
        return None
    op = ops[i]
    if op.op == "const":
        shape = op.out_shapes[0]
        return [None] * shape[1] if op.aten in _ZEROS and len(shape) > 1 else None
    maps = [_channel_map(ops, producer, v, source, channels, first, depth + 1) for v in op.inputs]
    if not maps or any(m is None for m in maps):
        return None
    return _moved(op, maps)  # type: ignore[arg-type]


def _moved(op: OpRecord, maps: list[ChannelMap]) -> ChannelMap | None:
    """The channel map after one data move, from its inputs' maps."""
    ndim = len(op.in_shapes[0]) if op.in_shapes else 0
    if ndim < 2:
        return None
    src, a = maps[0], op.attrs
    if op.op == "view":
        return src if len(op.out_shapes[0]) == ndim and op.out_shapes[0][1] == op.in_shapes[0][1] else None
    if op.op == "slice":
        return src[a["start"]:a["end"]:a["step"]] if a["dim"] % ndim == 1 else src
    if op.op == "cat":
        return [c for m in maps for c in m] if a["dim"] % ndim == 1 else None
    pad = list(a["pad"]) + [0] * (2 * ndim)
    front, back = pad[2 * (ndim - 2)], pad[2 * (ndim - 2) + 1]
    if a.get("value", 0) != 0:
        return None
    body = src[max(0, -front): len(src) - max(0, -back)]
    return [None] * max(0, front) + body + [None] * max(0, back)


def _offset(found: ChannelMap, channels: int) -> int:
    """Where channel 0 of the input lands, if all its channels are there in order; else -1."""
    placed = [(j, c) for j, c in enumerate(found) if c is not None]
    if len(placed) != channels or not placed:
        return -1
    start = placed[0][0]
    return start if all(j == start + k and c == k for k, (j, c) in enumerate(placed)) else -1


def verify_or_raise(spec: ResNetSpec) -> None:
    """``summary --verify``: return quietly when every count agrees, else raise ``CheckFailed``
    with one line naming each block and op that differs."""
    report = verify_spec(spec)
    if report.ok:
        return None
    raise CheckFailed(f"verification failed for {spec.name}: {_first_failures(report)} (run 'resnet-inspect verify' "
                      "for the full table)")


def _first_failures(report: VerifyReport, room: int = 240) -> str:
    """The failures that fit ``room`` characters, those naming a block first (they say where the
    fault is; the totals only that there is one), then how many more there are."""
    lines = [line.removeprefix("mismatch: ") for line in report.failure_lines()]
    lines.sort(key=lambda line: line.startswith(("total ", "stem ", "head ")))
    shown: list[str] = []
    for line in lines:
        if shown and sum(len(x) + 2 for x in shown) + len(line) > room:
            break
        shown.append(line)
    rest = len(lines) - len(shown)
    return "; ".join(shown) + (f"; and {rest} more" if rest else "")


# ---------------------------------------------------------------------------------------- traced modules


def _fvcore_by_module(model: nn.Module, x: Any) -> Mapping[str, Mapping[str, Any]]:
    """fvcore's counts per module path and operator, for ``model`` at input ``x`` (eval, no grad)."""
    import torch
    from fvcore.nn import FlopCountAnalysis

    with _quiet_fvcore(), torch.no_grad():
        flops = (FlopCountAnalysis(model, x).unsupported_ops_warnings(False)
                 .uncalled_modules_warnings(False).tracer_warnings("none"))
        result: Mapping[str, Mapping[str, Any]] = flops.by_module_and_operator()
        return result


def verify_traced(text: str, analysis: Analysis) -> VerifyReport:
    """The traced counts of the user's module against that module built for real: parameters with
    ``sum(p.numel())`` per unit, per shortcut module and in total; fvcore per module path.

    Units written inline in a flat ``forward`` have no module of their own to compare with and are
    checked through the totals only.
    """
    import torch

    from ..target import parse_target
    from .trace import tensors_in
    from .usercode import build_real

    model = build_real(parse_target(text), analysis.total.params).eval()
    modules = dict(model.named_modules())
    c, h, w = analysis.plan.input_shape
    shape: list[tuple[int, ...]] = []
    handle = model.register_forward_hook(
        lambda m, i, o: shape.append(tuple(int(d) for d in next(iter(tensors_in(o))).shape)) if not shape else None)
    try:
        by_module = _fvcore_by_module(model, torch.zeros(1, c, h, w))
    finally:
        handle.remove()
    checks = [Check("total", "params", "module", analysis.total.params, _params(model))]
    checks += _op_checks("total", analysis.total, _fvcore_ops(by_module.get("", {})), None, all_ops=True)
    for b in analysis.blocks:
        unit = modules.get(b.block.name)
        if unit is None:
            continue
        checks.append(Check(b.block.name, "params", "module", b.total.params, _params(unit)))
        path = b.block.shortcut_module(modules)
        if path is not None:
            checks.append(Check(b.block.name, "params.shortcut", "module", b.shortcut.params, _params(modules[path])))
        elif b.block.shortcut in FREE_KINDS:
            checks.append(Check(b.block.name, "params.shortcut", "module", b.shortcut.params, 0))
        checks += _op_checks(b.block.name, b.total, _fvcore_ops(by_module.get(b.block.name, {})), None, all_ops=False)
    expected = (1, analysis.plan.num_classes)
    return VerifyReport(analysis.spec, tuple(checks), shape[0] if shape else (), expected, analysis.name)


def verify_module_or_raise(text: str, analysis: Analysis) -> None:
    """``summary --verify`` for a traced module: quiet when every count agrees, else ``CheckFailed``."""
    report = verify_traced(text, analysis)
    if report.ok:
        return
    raise CheckFailed(f"verification failed for {analysis.name}: {_first_failures(report)} (run 'resnet-inspect verify' "
                      "for the full table)")
