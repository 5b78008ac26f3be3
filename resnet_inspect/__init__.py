"""resnet-inspect: exact parameters, MACs and shortcut costs for any ResNet configuration.

The analytic API (``summarize`` of a spec, ``parse_spec``) is pure Python; ``build``, ``verify``,
``trace`` and ``summarize`` of your own module import torch (and fvcore) only when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .counts import Analysis
    from .spec import ResNetSpec


def _as_spec(spec: ResNetSpec | str) -> ResNetSpec:
    from .specio import parse_spec

    return parse_spec(spec) if isinstance(spec, str) else spec


def summarize(spec: ResNetSpec | str, input_size: int | None = None, in_channels: int | None = None) -> Analysis:
    """Counts for ``spec``: a ``ResNetSpec`` or any SPEC string, a preset (``"resnet34:shortcut=A"``),
    a config file, or your own model (``"models/resnet.py:ResNet18"``, traced: this runs your code).

    Returns an ``Analysis``: ``.total.params``, ``.total.macs``, ``.blocks[i].main`` /
    ``.shortcut`` tallies, ``.stages``, the layer ``plan`` and, for a module, ``.spec`` if one
    matches. ``input_size`` and ``in_channels`` override the spec's input (a module's traced input,
    224 and 3 by default). Imports torch only for a module.
    """
    from .counts import analyze
    from .sources import load_analysis

    if isinstance(spec, str):
        return load_analysis(spec, {"input_size": input_size, "in_channels": in_channels})
    from dataclasses import replace

    if input_size is not None:
        spec = replace(spec, input_size=input_size)
    if in_channels is not None:
        spec = replace(spec, in_channels=in_channels)
    return analyze(spec)


def trace(model: Any, input_size: int = 224, in_channels: int = 3, name: str = "model") -> Analysis:
    """Counts for a ``torch.nn.Module`` you hold: one forward pass on the meta device (eval mode,
    batch 1, no data; the model's weights are not copied), its residual units found by what the ops
    do, counted like any spec, and matched against the specs (``.spec``)."""
    from .counts import count_plan
    from .match import with_match
    from .nn.trace import record
    from .structure import plan_from_trace

    was_training = bool(getattr(model, "training", False))
    try:
        plan = plan_from_trace(record(model, (in_channels, input_size, input_size), name))
    finally:
        model.train(was_training)
    return count_plan(with_match(plan))


def summary_json(spec: ResNetSpec | str) -> dict[str, Any]:
    """The ``summary --format json`` document for ``spec``."""
    from .report.summary import to_json

    return to_json(summarize(spec))


def build(spec: ResNetSpec | str, seed: int | None = None) -> Any:
    """The ``torch.nn.Module`` for ``spec``, with torchvision's parameter names for standard
    configurations and torchvision's initialisation; ``seed`` makes the weights reproducible.

    Imports torch (only here). The module lives in ``resnet_inspect.builder`` so that this function
    is not shadowed by a submodule of the same name.
    """
    from .builder import build_model

    return build_model(_as_spec(spec), seed=seed)


def verify(spec: ResNetSpec | str) -> Any:
    """Build ``spec``, count the module (parameters, fvcore per op, per block) and compare with the
    analytic counts. Returns a report whose ``.ok`` is True when every number agrees."""
    from .verification import verify_spec

    return verify_spec(_as_spec(spec))


def parse_spec(text: str, overrides: dict[str, Any] | None = None) -> ResNetSpec:
    """A ``ResNetSpec`` from a SPEC string (``"resnet50:stride_in=1x1"``) or a config file path."""
    from .specio import parse_spec as _parse

    return _parse(text, overrides)


__all__ = ["__version__", "build", "parse_spec", "summarize", "summary_json", "trace", "verify"]
