"""Analytic counts vs the built module vs fvcore: the check behind ``resnet-inspect verify``.

Three derivations of the same numbers meet here:

* the analytic engine (``counts.analyze``: spec -> plan -> counts, pure Python);
* the torch module (``builder.build_model``, written from the spec after torchvision), whose
  parameters are counted with ``sum(p.numel())`` per block and in total;
* fvcore's ``FlopCountAnalysis`` of that module in eval mode, per operator and per block, for the
  ops whose conventions we share with fvcore (``counts.FVCORE_OPS``);
* the tracer (``nn.trace``), run on the built module: it finds the residual additions by what the
  ops do, so a unit whose ``forward`` lost its ``out += identity`` has no addition to count, and
  the ``add`` check fails.

The other ops fvcore skips (``relu``, ``max_pool``, ``avg_pool``) are checked with forward hooks
recorded during fvcore's own trace, from the shapes the real module produces. The output shape
must be ``[1, num_classes]``.

``verify_traced`` checks a traced user module the same way: its per-unit and total parameters
against ``sum(p.numel())`` of the real module's submodules, and fvcore's counts per module path.

torch and fvcore are imported inside the functions, never at module import.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from .counts import FVCORE_OPS, Analysis, Tally, analyze
from .errors import CheckFailed
from .spec import ResNetSpec

if TYPE_CHECKING:
    from torch import nn

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

    @property
    def rows(self) -> tuple[Check, ...]:
        return self.checks

    @property
    def output_ok(self) -> bool:
        return self.output_shape == self.expected_output_shape

    @property
    def ok(self) -> bool:
        return self.output_ok and all(c.ok for c in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.ok)

    def failure_lines(self) -> list[str]:
        """One line per disagreement (what ``verify`` prints on stderr before exiting 1)."""
        lines = [f"mismatch: {c.describe()}" for c in self.failures]
        if not self.output_ok:
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
    """Counts ``relu``, ``max_pool``, ``avg_pool`` and ``add`` from the shapes the real module produces.

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


def verify_spec(spec: ResNetSpec, analysis: Analysis | None = None) -> VerifyReport:
    """Build ``spec``, count the module and run fvcore on it, and compare with the analytic counts.

    Returns the report rather than raising, so callers choose what a mismatch means (``verify``
    exits 1, tests assert, ``summary --verify`` raises ``CheckFailed``).
    """
    import torch

    from .builder import build_for_counting

    analysis = analysis or analyze(spec)
    # Counting needs shapes, not values: the same module without random init or memory per tensor.
    model = build_for_counting(spec).eval()
    modules = dict(model.named_modules())

    hooks = _HookCounter()
    handles = hooks.attach(model)
    x = torch.zeros(1, spec.in_channels, spec.input_size, spec.input_size)
    try:
        by_module = _fvcore_by_module(model, x)
    finally:
        for h in handles:
            h.remove()

    traced = _traced_units(model, spec)
    empty: Counter[str] = Counter()
    checks: list[Check] = [Check("total", "params", "module", analysis.total.params, _params(model))]
    checks += _op_checks("total", analysis.total, _fvcore_ops(by_module[""]), hooks.counts.get("total", empty), all_ops=True,
                         traced=traced.get("total", Tally()))

    checks.append(Check("stem", "params", "module", analysis.stem.params,
                        sum(_params(modules.get(n)) for n in STEM_MODULES)))
    checks += _op_checks("stem", analysis.stem, _sum_counters(by_module, STEM_MODULES), hooks.counts.get("stem", empty), all_ops=False)

    for b in analysis.blocks:
        name = b.block.name
        unit = modules.get(name)
        checks.append(Check(name, "params", "module", b.total.params, _params(unit)))
        shortcut = getattr(unit, "downsample", None) if unit is not None else None
        checks.append(Check(name, "params.shortcut", "module", b.shortcut.params, _params(shortcut)))
        checks += _op_checks(name, b.total, _fvcore_ops(by_module.get(name, {})), hooks.counts.get(name, empty), all_ops=False,
                             traced=traced.get(name, Tally()))

    checks.append(Check("head", "params", "module", analysis.head.params,
                        sum(_params(modules.get(n)) for n in HEAD_MODULES)))
    checks += _op_checks("head", analysis.head, _sum_counters(by_module, HEAD_MODULES), hooks.counts.get("head", empty), all_ops=False)

    return VerifyReport(spec, tuple(checks), hooks.output_shape, (1, spec.num_classes), spec.name)


def _traced_units(model: nn.Module, spec: ResNetSpec) -> dict[str, Tally]:
    """The built module's units as the tracer finds them (by their additions), counted: block
    name -> tally, and ``total``. A network without additions (a plain net) has none."""
    from .counts import count_plan
    from .nn.trace import record
    from .structure import NotResidual, plan_from_trace

    # Last use of the module (fvcore is done with it): moved to the meta device, as the tracer needs.
    trace = record(model.to("meta"), (spec.in_channels, spec.input_size, spec.input_size), spec.name)
    try:
        traced = count_plan(plan_from_trace(trace))
    except NotResidual:
        return {"total": Tally()}
    out = {b.block.name: b.total for b in traced.blocks}
    out["total"] = traced.total
    return out



def verify_or_raise(spec: ResNetSpec) -> None:
    """``summary --verify``: return quietly when every count agrees, else raise ``CheckFailed``
    with one line naming each block and op that differs."""
    report = verify_spec(spec)
    if report.ok:
        return None
    lines = [line.removeprefix("mismatch: ") for line in report.failure_lines()]
    shown = "; ".join(lines[:8]) + (f"; and {len(lines) - 8} more" if len(lines) > 8 else "")
    raise CheckFailed(
        f"verification failed for {spec.name}: {shown} (run 'resnet-inspect verify' for the full table)"
    )


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

    from .nn.trace import tensors_in
    from .nn.usercode import build_real
    from .target import parse_target

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
        elif b.block.shortcut in ("identity", "zero_pad"):
            checks.append(Check(b.block.name, "params.shortcut", "module", b.shortcut.params, 0))
        checks += _op_checks(b.block.name, b.total, _fvcore_ops(by_module.get(b.block.name, {})), None, all_ops=False)
    expected = (1, analysis.plan.num_classes)
    return VerifyReport(analysis.spec, tuple(checks), shape[0] if shape else (), expected, analysis.name)


def verify_module_or_raise(text: str, analysis: Analysis) -> None:
    """``summary --verify`` for a traced module: quiet when every count agrees, else ``CheckFailed``."""
    report = verify_traced(text, analysis)
    if report.ok:
        return
    lines = [line.removeprefix("mismatch: ") for line in report.failure_lines()]
    shown = "; ".join(lines[:8]) + (f"; and {len(lines) - 8} more" if len(lines) > 8 else "")
    raise CheckFailed(f"verification failed for {analysis.name}: {shown} (run 'resnet-inspect verify' for the full table)")
