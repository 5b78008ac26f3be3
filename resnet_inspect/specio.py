"""From what a user types to a spec: SPEC strings, inline overrides, flags (and config files).

``SPEC := PRESET[:KEY=VALUE[,KEY=VALUE...]] | PATH.toml | PATH.yaml | PATH.yml | PATH.json``; the
module forms (``FILE.py:CALLABLE``) are traced instead (``sources``), and refused here by name.
List values may use ``-`` or ``,`` between items (``layers=3-4-6-3`` or ``layers=3,4,6,3``): a
comma-separated piece without ``=`` continues the previous value.

Every value, whether it comes from a string or from a parsed config document, passes through
``coerce_field`` so the two routes accept and reject exactly the same things.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, Final

from .errors import SpecError
from .presets import PRESETS, get_preset
from .spec import FIELD_HELP, FIELD_NAMES, SHORTCUTS, ResNetSpec
from .target import looks_like_target

CONFIG_SUFFIXES: Final = (".toml", ".yaml", ".yml", ".json")
_INT_FIELDS: Final = frozenset(
    f.name for f in fields(ResNetSpec) if f.type in ("int", int)
)
_TUPLE_FIELDS: Final = frozenset({"layers", "widths"})
_BOOL_FIELDS: Final = frozenset({"preact"})
_TRUE: Final = frozenset({"true", "yes", "1", "on"})
_FALSE: Final = frozenset({"false", "no", "0", "off"})


def is_config_path(text: str) -> bool:
    return text.lower().endswith(CONFIG_SUFFIXES)


def unknown_key_message(key: str, where: str = "") -> str:
    close = difflib.get_close_matches(key, FIELD_NAMES, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}? " if close else ""
    place = f" in {where}" if where else ""
    return f"unknown key {key!r}{place}: {hint}valid keys are {', '.join(FIELD_NAMES)}"


def coerce_field(key: str, raw: Any) -> Any:
    """Turn ``raw`` (a string from a SPEC or flag, or a parsed config value) into the field's type.

    Raises ``SpecError`` naming the key, the value and what is allowed. Range checks stay in
    ``spec.validate`` so they are written once.
    """
    if key not in FIELD_NAMES:
        raise SpecError(unknown_key_message(key))
    if key in _TUPLE_FIELDS:
        return _coerce_int_list(key, raw)
    if key in _BOOL_FIELDS:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
            return raw.strip().lower() in _TRUE
        raise SpecError(f"{key}={raw!r} is not allowed; use true or false")
    if key in _INT_FIELDS:
        return _coerce_int(key, raw)
    if not isinstance(raw, str):
        raise SpecError(f"{key}={raw!r} must be a string ({FIELD_HELP[key]})")
    value = raw.strip()
    if key == "shortcut":
        upper = value.upper()
        if upper in SHORTCUTS:
            return upper
        if value.lower() == "none":
            return "none"
    return value


def _coerce_int(key: str, raw: Any) -> int:
    if isinstance(raw, bool):
        raise SpecError(f"{key}={raw!r} is not an integer ({FIELD_HELP[key]})")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str):
        text = raw.strip().replace("_", "")
        if text.lstrip("-").isdigit() and len(text) <= 12:
            return int(text)
    raise SpecError(f"{key}={raw!r} is not an integer ({FIELD_HELP[key]})")


def _coerce_int_list(key: str, raw: Any) -> tuple[int, ...]:
    items: list[Any]
    if isinstance(raw, (list, tuple)):
        items = list(raw)
    elif isinstance(raw, str):
        text = raw.strip().strip("[]()")
        items = [t for t in text.replace(",", "-").replace(" ", "-").split("-") if t]
    elif isinstance(raw, int) and not isinstance(raw, bool):
        items = [raw]
    else:
        raise SpecError(f"{key}={raw!r} must be a list of integers ({FIELD_HELP[key]})")
    if not items:
        raise SpecError(f"{key} is empty ({FIELD_HELP[key]})")
    out = []
    for i, item in enumerate(items):
        try:
            out.append(_coerce_int(key, item))
        except SpecError:
            raise SpecError(f"{key}[{i}]={item!r} is not an integer ({FIELD_HELP[key]})") from None
    return tuple(out)


def split_overrides(text: str, where: str = "") -> dict[str, str]:
    """``"shortcut=A,layers=3,4,6,3"`` -> ``{"shortcut": "A", "layers": "3,4,6,3"}``."""
    result: dict[str, str] = {}
    last: str | None = None
    for piece in text.split(","):
        if "=" in piece:
            key, _, value = piece.partition("=")
            key = key.strip()
            if not key:
                raise SpecError(f"empty key before '=' in {where or text!r}; write KEY=VALUE")
            if key in result:
                raise SpecError(f"key {key!r} is given twice in {where or text!r}")
            result[key] = value.strip()
            last = key
        elif last is not None and piece.strip():
            result[last] += "," + piece.strip()
        elif piece.strip():
            raise SpecError(f"{piece.strip()!r} in {where or text!r} is not KEY=VALUE; write e.g. shortcut=A")
    return result


def apply_overrides(spec: ResNetSpec, overrides: Mapping[str, Any], where: str = "") -> ResNetSpec:
    """``spec`` with ``overrides`` (raw strings or typed values) applied and validated."""
    values: dict[str, Any] = {}
    for key, raw in overrides.items():
        if key not in FIELD_NAMES:
            raise SpecError(unknown_key_message(key, where))
        values[key] = coerce_field(key, raw)
    if not values:
        return spec
    return replace(spec, **values)


def parse_spec(text: str, overrides: Mapping[str, Any] | None = None) -> ResNetSpec:
    """Resolve a SPEC string (a preset with inline overrides, or a config file path).

    ``overrides`` (from flags such as ``--shortcut``) apply last, to whatever the SPEC names.
    """
    text = text.strip()
    if not text:
        raise SpecError("empty SPEC: give a preset name such as resnet50, or a config file path")
    head = text.partition(":")[0].strip()
    if looks_like_target(text, head in PRESETS):
        raise SpecError(
            f"{text[:120]!r} names a Python module, which is traced, not read as a spec; "
            "use it where a command takes any SPEC (summary, compare...), or resnet_inspect.sources.load_plan"
        )
    if is_config_path(text):
        from .config import load_config  # config files are an optional route; keep it lazy

        spec: ResNetSpec = load_config(text)
    else:
        name, sep, rest = text.partition(":")
        if name.strip() not in PRESETS and ("/" in name or os.sep in name or Path(name.strip()).is_file()):
            raise SpecError(
                f"{name.strip()[:120]!r} is a path, but not a config file (.toml .yaml .yml .json) or a Python file "
                "(FILE.py:CALLABLE): name one of those, or a preset"
            )
        spec = get_preset(name.strip())
        if sep:
            if not rest.strip():
                raise SpecError(f"nothing after ':' in {text!r}; write e.g. {name}:shortcut=A")
            inline = split_overrides(rest, where=repr(text))
            spec = apply_overrides(spec, inline, where=repr(text))
            if "name" not in inline:
                spec = replace(spec, name=text)
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    if given:
        before = spec
        spec = apply_overrides(spec, given, where="the command-line flags")
        # Name only what the flags changed: `resnet18:input_size=32 --input-size 32` stays as typed.
        changed = {k: v for k, v in given.items() if k == "name" or getattr(before, k) != getattr(spec, k)}
        if "name" not in given and changed:
            extra = ",".join(f"{k}={v}" for k, v in changed.items())
            spec = replace(spec, name=f"{spec.name}{',' if ':' in spec.name else ':'}{extra}")
    return spec
