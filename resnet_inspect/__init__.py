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


#: Input a traced module may be given (as the CLI allows): height and width, and channels.
MAX_TRACE_SIZE = 16_384
MAX_TRACE_CHANNELS = 1 << 20


def _is_torch_module(obj: object) -> bool:
    """Whether ``obj`` is a ``torch.nn.Module`` instance, told without importing torch."""
    return any(c.__module__ == "torch.nn.modules.module" and c.__name__ == "Module" for c in type(obj).__mro__)


def _kind(obj: object) -> str:
    return "None" if obj is None else type(obj).__name__


def _spec_type_error(caller: str, spec: object) -> TypeError:
    """Why ``spec`` is not a spec, with what to pass instead (a dict, a module, a module class)."""
    hint = ""
    if isinstance(spec, dict):
        hint = "; for a dict of fields use ResNetSpec(**fields) or parse_spec('resnet50', overrides=fields)"
    elif _is_torch_module(spec):
        hint = "; for a torch.nn.Module you hold use resnet_inspect.trace(model)"
    elif isinstance(spec, type) and any(c.__module__ == "torch.nn.modules.module" for c in spec.__mro__):
        hint = "; this is a module class: call it to make the module, then resnet_inspect.trace(model)"
    return TypeError(
        f"{caller}() takes a ResNetSpec or a SPEC string such as 'resnet50', 'resnet34:shortcut=A' or 'net.toml', "
        f"not {_kind(spec)}{hint}"
    )


def _check_int(caller: str, name: str, value: object, optional: bool = True) -> None:
    """A ``TypeError`` for an argument that must be an int (``bool`` is not one here)."""
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{caller}() argument {name} must be an int{' or None' if optional else ''}, not {_kind(value)}")


def _as_spec(spec: object, caller: str) -> ResNetSpec:
    """``spec`` as a ``ResNetSpec``: one as is, a SPEC string parsed, anything else a ``TypeError``."""
    from .spec import ResNetSpec
    from .specio import parse_spec

    if isinstance(spec, ResNetSpec):
        return spec
    if isinstance(spec, str):
        return parse_spec(spec)
    raise _spec_type_error(caller, spec)


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
    from .spec import ResNetSpec

    _check_int("summarize", "input_size", input_size)
    _check_int("summarize", "in_channels", in_channels)
    if isinstance(spec, str):
        return load_analysis(spec, {"input_size": input_size, "in_channels": in_channels})
    if not isinstance(spec, ResNetSpec):
        raise _spec_type_error("summarize", spec)
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
    _check_trace_args(model, input_size, in_channels, name)
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


def _check_trace_args(model: object, input_size: object, in_channels: object, name: object) -> None:
    """``TypeError`` for what ``trace`` cannot take, before torch is imported or the model touched:
    a SPEC string or spec (``summarize`` takes those), a module class, anything but a module."""
    from .errors import UsageError

    if not _is_torch_module(model):
        if isinstance(model, str) or type(model).__name__ == "ResNetSpec":
            hint = "; for a SPEC or a ResNetSpec use resnet_inspect.summarize"
        elif isinstance(model, type):
            hint = "; this is a class: call it to make the module, e.g. trace(ResNet18())"
        else:
            hint = ""
        raise TypeError(f"trace() takes a torch.nn.Module instance, not {_kind(model)}{hint}")
    _check_int("trace", "input_size", input_size, optional=False)
    _check_int("trace", "in_channels", in_channels, optional=False)
    if not isinstance(name, str):
        raise TypeError(f"trace() argument name must be a str, not {_kind(name)}")
    for arg, value, limit in (("input_size", input_size, MAX_TRACE_SIZE), ("in_channels", in_channels, MAX_TRACE_CHANNELS)):
        if not 1 <= value <= limit:  # type: ignore[operator]
            raise UsageError(f"trace(): {arg}={value} is out of range; give 1 to {limit:,}")


def summary_json(spec: ResNetSpec | str) -> dict[str, Any]:
    """The ``summary --format json`` document for ``spec``."""
    from .report.summary import to_json
    from .spec import ResNetSpec

    if not isinstance(spec, (str, ResNetSpec)):
        raise _spec_type_error("summary_json", spec)
    return to_json(summarize(spec))


def build(spec: ResNetSpec | str, seed: int | None = None) -> Any:
    """The ``torch.nn.Module`` for ``spec``, with torchvision's parameter names for standard
    configurations and torchvision's initialisation; ``seed`` makes the weights reproducible.

    Imports torch (only here). The module lives in ``resnet_inspect.nn.builder`` so that this function
    is not shadowed by a submodule of the same name.
    """
    from .errors import UsageError

    _check_int("build", "seed", seed)
    if seed is not None and not 0 <= seed < 2**64:
        raise UsageError(f"build(): seed={seed if abs(seed) < 10**20 else 'a huge int'} is out of range; give 0 to 2**64 - 1")
    resolved = _as_spec(spec, "build")  # before importing torch, so a wrong argument is told at once
    from .nn.builder import build_model

    return build_model(resolved, seed=seed)


def verify(spec: ResNetSpec | str) -> Any:
    """Build ``spec``, count the module (parameters, fvcore per op, per block) and compare with the
    analytic counts. Returns a report whose ``.ok`` is True when every number agrees."""
    resolved = _as_spec(spec, "verify")
    from .nn.verify import verify_spec

    return verify_spec(resolved)


def parse_spec(text: str, overrides: dict[str, Any] | None = None) -> ResNetSpec:
    """A ``ResNetSpec`` from a SPEC string (``"resnet50:stride_in=1x1"``) or a config file path."""
    from .specio import parse_spec as _parse

    return _parse(text, overrides)


__all__ = ["__version__", "build", "parse_spec", "summarize", "summary_json", "trace", "verify"]
