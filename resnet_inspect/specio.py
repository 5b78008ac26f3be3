"""From what a user types to a spec: SPEC strings, inline overrides, flags (and config files).

``SPEC := PRESET[:KEY=VALUE[,KEY=VALUE...]] | PATH.toml | PATH.yaml | PATH.yml | PATH.json``; the
module forms (``FILE.py:CALLABLE``) are traced instead (``sources``), and refused here by name.
List values may use ``-`` or ``,`` between items (``layers=3-4-6-3`` or ``layers=3,4,6,3``): a
comma-separated piece without ``=`` continues the previous value.

Every value, whether it comes from a string or from a parsed config document, passes through
``fields.coerce_field`` so the two routes accept and reject exactly the same things. ``parse_spec``
is the one place that chooses between a preset, a config file (``config``) and a module (refused
here; ``sources`` traces it); the pieces it is built from live in ``fields`` and are named here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from .document import CONFIG_SUFFIXES, is_config_path
from .fields import (
    MAX_INT_DIGITS,
    MAX_SPEC_CHARS,
    apply_overrides,
    checked_text,
    coerce_field,
    preset_with_inline,
    refuse_module,
    split_overrides,
    unknown_key_message,
)
from .spec import ResNetSpec


def parse_spec(text: str, overrides: Mapping[str, Any] | None = None) -> ResNetSpec:
    """Resolve a SPEC string (a preset with inline overrides, or a config file path).

    ``overrides`` (from flags such as ``--shortcut``) apply last, to whatever the SPEC names.
    """
    text = checked_text(text)
    if overrides is not None and not isinstance(overrides, Mapping):
        raise TypeError(f"overrides must be a dict of spec fields such as {{'shortcut': 'A'}}, not {type(overrides).__name__}")
    refuse_module(text)
    if is_config_path(text):
        from .config import load_config  # config files are an optional route; keep it lazy

        spec: ResNetSpec = load_config(text)
    else:
        spec = preset_with_inline(text)
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    if given:
        before = spec
        spec = apply_overrides(spec, given, where="the overrides")
        # Name only what the flags changed: `resnet18:input_size=32 --input-size 32` stays as typed.
        changed = {k: v for k, v in given.items() if k == "name" or getattr(before, k) != getattr(spec, k)}
        if "name" not in given and changed:
            extra = ",".join(f"{k}={v}" for k, v in changed.items())
            spec = replace(spec, name=f"{spec.name}{',' if ':' in spec.name else ':'}{extra}")
    return spec


__all__ = [
    "CONFIG_SUFFIXES", "MAX_INT_DIGITS", "MAX_SPEC_CHARS", "apply_overrides", "coerce_field", "is_config_path", "parse_spec",
    "split_overrides", "unknown_key_message",
]
