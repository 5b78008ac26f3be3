"""Every SPEC a user can type -> one ``Plan``: presets, overrides and config files through the spec,
the user's own module (``file.py:CALLABLE``, ``package.module:CALLABLE``) through a trace.

The trace imports torch, so it is imported here only when a SPEC names a module: ``summary
resnet50`` never loads torch. A traced plan is then matched against the specs (``match``), so it
is reported as "= resnet18:stem=cifar,num_classes=10" when it is exactly that network.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .counts import Analysis, count_plan
from .errors import MissingDependency, SpecError, UsageError
from .plan import Plan, make_plan
from .presets import PRESETS
from .target import looks_like_target, parse_target

#: Overrides that only a spec has; a traced module is what its code builds.
SPEC_ONLY: Final = ("shortcut", "stride_in", "num_classes")
DEFAULT_INPUT: Final = (3, 224)


def is_module_spec(text: str) -> bool:
    """Whether ``text`` names the user's module rather than a preset or a config file."""
    head = text.strip().partition(":")[0].strip()
    return looks_like_target(text.strip(), head in PRESETS)


def load_plan(text: str, overrides: Mapping[str, Any] | None = None) -> Plan:
    """The plan of any SPEC. ``overrides`` are the flags (``shortcut``, ``input_size``,
    ``in_channels``...); for a module only ``input_size`` and ``in_channels`` apply."""
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    if is_module_spec(text):
        return _traced(text, given)
    from .specio import parse_spec

    return make_plan(parse_spec(text, given))


def load_analysis(text: str, overrides: Mapping[str, Any] | None = None) -> Analysis:
    return count_plan(load_plan(text, overrides))


def _traced(text: str, given: Mapping[str, Any]) -> Plan:
    bad = [k for k in SPEC_ONLY if k in given]
    if bad:
        flags = ", ".join("--" + k.replace("_", "-") for k in bad)
        raise UsageError(
            f"{flags} changes a preset or config file; {text.strip()[:120]!r} is your own module, whose shortcuts, "
            "strides and classes are what its code builds: drop the flag (only --input-size and --in-channels apply)"
        )
    target = parse_target(text)
    size = int(given.get("input_size", DEFAULT_INPUT[1]))
    channels = int(given.get("in_channels", DEFAULT_INPUT[0]))
    for name, value, limit in (("--input-size", size, 16_384), ("--in-channels", channels, 1 << 20)):
        if not 1 <= value <= limit:
            raise UsageError(f"{name} {value} is out of range; give 1 to {limit:,}")
    try:
        from .nn.usercode import trace_target
    except ModuleNotFoundError as exc:
        raise MissingDependency(f"tracing a module needs torch ({exc.name} is missing); pip install torch") from None
    from .match import with_match

    return with_match(trace_target(target, (channels, size, size)))


def require_spec_text(text: str, command: str) -> None:
    """Refuse a module SPEC where ``command`` needs a spec (it builds its own module from one)."""
    if is_module_spec(text):
        raise SpecError(
            f"{command} takes a preset or a config file, not a module ({text.strip()[:120]!r}); "
            f"for your own module use summary, shortcuts, diagram, compare, check or verify --module"
        )


__all__ = ["is_module_spec", "load_analysis", "load_plan", "require_spec_text"]
