"""Helpers for the tracer tests: trace a live module the way ``resnet_inspect.nn.usercode`` does, and
count the same module independently: ``sum(p.numel())`` and fvcore on a real CPU copy, forward hooks
for the shapes each module sees.

Imports torch and fvcore: only test modules that ``importorskip`` them import this one.
"""

from __future__ import annotations

import copy
import functools
import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from fvcore.nn import FlopCountAnalysis
from torch import nn

from resnet_inspect.counts import FVCORE_OPS, Analysis, Tally, count_plan
from resnet_inspect.nn.trace import record
from resnet_inspect.nn.usercode import resolve
from resnet_inspect.plan import Plan
from resnet_inspect.structure import plan_from_trace
from resnet_inspect.target import parse_target

#: fvcore's operator names (its handles' keys without ``aten::``) -> ours.
FVCORE_TO_OURS = {
    "conv": "conv", "linear": "linear", "addmm": "linear", "matmul": "linear", "mm": "linear",
    "batch_norm": "batch_norm", "adaptive_avg_pool2d": "adaptive_avg_pool2d",
    "group_norm": "norm", "layer_norm": "norm", "instance_norm": "norm",
}
Shape3 = tuple[int, int, int]


def trace_plan(model: nn.Module, input_shape: Shape3 = (3, 32, 32), name: str = "test") -> Plan:
    """The plan of ``model`` traced on the meta device (a meta copy: ``model`` stays usable)."""
    meta = copy.deepcopy(model).to("meta")
    return plan_from_trace(record(meta, input_shape, name))


def trace_analysis(model: nn.Module, input_shape: Shape3 = (3, 32, 32)) -> Analysis:
    return count_plan(trace_plan(model, input_shape))


def numel(module: nn.Module | None) -> int:
    """Trainable parameters of ``module`` (each tensor once, as ``parameters()`` yields them)."""
    return 0 if module is None else sum(p.numel() for p in module.parameters())


@functools.cache
def user_factory(target: str) -> Any:
    """The callable a ``file.py:CALLABLE`` SPEC names, imported as the tracer imports it."""
    return resolve(parse_target(target))


@functools.cache
def real_model(target: str) -> nn.Module:
    """A real CPU instance of the user's model, eval mode (shared: tests must not modify it)."""
    torch.manual_seed(0)
    return user_factory(target)().eval()


@contextmanager
def _quiet() -> Iterator[None]:
    logger = logging.getLogger("fvcore")
    old = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(old)


def fvcore_by_module(model: nn.Module, input_shape: Shape3) -> dict[str, Counter[str]]:
    """fvcore's counts per module path and op, in our op names (``""`` is the whole model)."""
    x = torch.zeros(1, *input_shape)
    with _quiet(), torch.no_grad():
        analysis = (FlopCountAnalysis(model.eval(), x).unsupported_ops_warnings(False)
                    .uncalled_modules_warnings(False).tracer_warnings("none"))
        raw = analysis.by_module_and_operator()
    out: dict[str, Counter[str]] = {}
    for path, ops in raw.items():
        counter: Counter[str] = Counter()
        for op, n in ops.items():
            counter[FVCORE_TO_OURS.get(op, op)] += int(n)
        out[path] = counter
    return out


def fvcore_sum(by_module: dict[str, Counter[str]], paths: Iterable[str]) -> Counter[str]:
    total: Counter[str] = Counter()
    for p in paths:
        total.update(by_module.get(p, Counter()))
    return total


def our_fvcore_ops(tally: Tally) -> dict[str, int]:
    """Our counts of the ops fvcore counts, nonzero only (fvcore's counters omit zeros)."""
    return {op: tally.op(op) for op in FVCORE_OPS if tally.op(op)}


def theirs(counter: Counter[str]) -> dict[str, int]:
    return {op: n for op, n in counter.items() if n}


def io_shapes(model: nn.Module, paths: Sequence[str], input_shape: Shape3) -> dict[str, tuple[Shape3, Shape3]]:
    """``(C, H, W)`` in and out of each module in ``paths`` in a real CPU forward pass."""
    seen: dict[str, tuple[Shape3, Shape3]] = {}
    handles = []

    def chw(t: torch.Tensor) -> Shape3:
        return (int(t.shape[1]), int(t.shape[2]), int(t.shape[3]))

    for p in paths:
        def hook(m: nn.Module, args: Any, out: Any, p: str = p) -> None:
            seen.setdefault(p, (chw(args[0]), chw(out)))
        handles.append(model.get_submodule(p).register_forward_hook(hook))
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, *input_shape))
    finally:
        for h in handles:
            h.remove()
    return seen


def count_mismatches(analysis: Analysis, model: nn.Module, input_shape: Shape3) -> list[str]:
    """Every unit whose parameters (``sum(numel)`` of its module) or fvcore-convention op counts
    (fvcore on the same real module, at the unit's module path) differ from ``analysis``: one line
    each. ``[]`` when all agree. Units must be named by their module paths."""
    fv = fvcore_by_module(model, input_shape)
    problems = []
    for b in analysis.blocks:
        name = b.block.name
        unit = model.get_submodule(name)
        if b.total.params != numel(unit):
            problems.append(f"{name} params: ours {b.total.params:,}, module {numel(unit):,}")
        ours, fvc = our_fvcore_ops(b.total), theirs(fv.get(name, Counter()))
        if ours != fvc:
            problems.append(f"{name} ops: ours {ours}, fvcore {fvc}")
        if b.total.macs != fvc.get("conv", 0) + fvc.get("linear", 0):
            problems.append(f"{name} macs: ours {b.total.macs:,}, fvcore conv+linear {fvc.get('conv', 0) + fvc.get('linear', 0):,}")
    if analysis.total.params != numel(model):
        problems.append(f"total params: ours {analysis.total.params:,}, module {numel(model):,}")
    if our_fvcore_ops(analysis.total) != theirs(fv[""]):
        problems.append(f"total ops: ours {our_fvcore_ops(analysis.total)}, fvcore {theirs(fv[''])}")
    return problems
