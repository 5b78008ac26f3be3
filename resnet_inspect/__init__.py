"""resnet-inspect: exact parameters, MACs and shortcut costs for any ResNet configuration.

The analytic API (``summarize``, ``parse_spec``, ``analyze``) is pure Python; ``build`` and
``verify`` import torch and fvcore only when called.
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


def summarize(spec: ResNetSpec | str) -> Analysis:
    """Analytic counts for ``spec`` (a ``ResNetSpec`` or a SPEC string such as ``"resnet34:shortcut=A"``).

    Returns an ``Analysis``: ``.total.params``, ``.total.macs``, ``.blocks[i].main`` /
    ``.shortcut`` tallies, ``.stages`` and the layer ``plan``. Never imports torch.
    """
    from .counts import analyze

    return analyze(_as_spec(spec))


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


__all__ = ["__version__", "build", "parse_spec", "summarize", "summary_json", "verify"]
