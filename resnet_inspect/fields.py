"""One spec field's value from what a user wrote, and a preset with overrides: the pieces a SPEC
string and a config file share.

``coerce_field`` turns a raw value (a string from a SPEC or a flag, or a parsed config value) into
the field's type, so both routes accept and reject exactly the same things; range checks stay in
``spec.validate``. ``split_overrides`` and ``apply_overrides`` read ``KEY=VALUE,...``;
``preset_spec`` resolves ``PRESET[:KEY=VALUE,...]``, the form a config file's ``base`` takes.
Choosing between a preset, a config file and a module is ``specio.parse_spec``'s job, so nothing
here reads a file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, Final

from .errors import SpecError
from .naming import printable
from .presets import PRESETS, get_preset
from .spec import FIELD_HELP, FIELD_NAMES, SHORTCUTS, ResNetSpec, shown
from .suggest import did_you_mean
from .target import looks_like_target

_INT_FIELDS: Final = frozenset(
    f.name for f in fields(ResNetSpec) if f.type in ("int", int)
)
_TUPLE_FIELDS: Final = frozenset({"layers", "widths"})
_BOOL_FIELDS: Final = frozenset({"preact"})
_TRUE: Final = frozenset({"true", "yes", "1", "on"})
_FALSE: Final = frozenset({"false", "no", "0", "off"})
#: Longest SPEC string read: a preset with every override, or a file path (PATH_MAX is 4,096).
MAX_SPEC_CHARS: Final = 4096
#: Digits an integer field may have as text; every field's limit (``spec.validate``) has at most 8.
MAX_INT_DIGITS: Final = 12
_INT_TEXT: Final = re.compile(r"[+-]?[0-9]+")


def unknown_key_message(key: object, where: str = "") -> str:
    """``unknown key 'shortcutt' in ...: did you mean shortcut? valid keys are ...``; the key and
    ``where`` are shortened, so a 100 KB SPEC is not repeated back."""
    place = f" in {printable(where, 80)}" if where else ""
    return f"unknown key {shown(key, 40)}{place}: {did_you_mean(key, FIELD_NAMES)}valid keys are {', '.join(FIELD_NAMES)}"


def coerce_field(key: str, raw: Any) -> Any:
    """Turn ``raw`` (a string from a SPEC or flag, or a parsed config value) into the field's type.

    Raises ``SpecError`` naming the key, the value and what is allowed. Range checks stay in
    ``spec.validate`` so they are written once.
    """
    if not isinstance(key, str) or key not in FIELD_NAMES:
        raise SpecError(unknown_key_message(key))
    if key in _TUPLE_FIELDS:
        return _coerce_int_list(key, raw)
    if key in _BOOL_FIELDS:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
            return raw.strip().lower() in _TRUE
        raise SpecError(f"{key}={shown(raw)} is not allowed; use true or false")
    if key in _INT_FIELDS:
        return _coerce_int(key, raw)
    if not isinstance(raw, str):
        raise SpecError(f"{key}={shown(raw)} must be a string ({FIELD_HELP[key]})")
    value = raw.strip()
    if key == "shortcut":
        upper = value.upper()
        if upper in SHORTCUTS:
            return upper
        if value.lower() == "none":
            return "none"
    return value


def _coerce_int(key: str, raw: Any) -> int:
    """An int from an int, an integral float or ASCII digits (``1_000``, ``-1``: the sign is kept so
    ``validate`` reports a negative value as negative). Text of more than ``MAX_INT_DIGITS`` digits is
    refused here, before ``int()`` (which has its own digit limit) and before any arithmetic."""
    if isinstance(raw, bool):
        raise SpecError(f"{key}={shown(raw)} is not an integer ({FIELD_HELP[key]})")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str):
        text = raw.strip().replace("_", "")
        if _INT_TEXT.fullmatch(text):
            digits = len(text.lstrip("+-").lstrip("0"))
            if digits > MAX_INT_DIGITS:
                raise SpecError(f"{key}={shown(raw)} has {digits:,} digits: not an integer any limit allows ({FIELD_HELP[key]})")
            return int(text)
    raise SpecError(f"{key}={shown(raw)} is not an integer ({FIELD_HELP[key]})")


def _list_items(text: str) -> list[str]:
    """``"64-128"``, ``"64,128"``, ``"64 128"`` -> ``["64", "128"]``. A ``-`` with no number before
    it is a minus sign, not a separator: ``"-64-128"`` -> ``["-64", "128"]``, ``"3,-4"`` and
    ``"3--4"`` -> ``["3", "-4"]``, so a negative width is reported as negative, never read as
    positive."""
    items: list[str] = []
    for piece in re.split(r"[,\s]+", text):
        parts = piece.split("-")
        negative = False
        for i, part in enumerate(parts):
            if part:
                items.append("-" + part if negative else part)
                negative = False
            elif i < len(parts) - 1:
                negative = True
    return items


def _coerce_int_list(key: str, raw: Any) -> tuple[int, ...]:
    items: list[Any]
    if isinstance(raw, (list, tuple)):
        items = list(raw)
    elif isinstance(raw, str):
        items = _list_items(raw.strip().strip("[]()"))
    elif isinstance(raw, int) and not isinstance(raw, bool):
        items = [raw]
    else:
        raise SpecError(f"{key}={shown(raw)} must be a list of integers ({FIELD_HELP[key]})")
    if not items:
        raise SpecError(f"{key} is empty ({FIELD_HELP[key]})")
    out = []
    for i, item in enumerate(items):
        try:
            out.append(_coerce_int(key, item))
        except SpecError as exc:  # the same sentence, naming the item: "widths[2]=... is not ..."
            raise SpecError(f"{key}[{i}]{str(exc)[len(key):]}") from None
    return tuple(out)


def split_overrides(text: str, where: str = "") -> dict[str, str]:
    """``"shortcut=A,layers=3,4,6,3"`` -> ``{"shortcut": "A", "layers": "3,4,6,3"}``."""
    where = where or shown(text, 80)
    result: dict[str, str] = {}
    last: str | None = None
    for piece in text.split(","):
        if "=" in piece:
            key, _, value = piece.partition("=")
            key = key.strip()
            if not key:
                raise SpecError(f"empty key before '=' in {where}; write KEY=VALUE")
            if key in result:
                raise SpecError(f"key {shown(key, 40)} is given twice in {where}")
            result[key] = value.strip()
            last = key
        elif last is not None and piece.strip():
            result[last] += "," + piece.strip()
        elif piece.strip():
            raise SpecError(f"{shown(piece.strip(), 40)} in {where} is not KEY=VALUE; write e.g. shortcut=A")
    return result


def checked_text(text: object) -> str:
    """``text`` stripped, or why it cannot be a SPEC: not a string, empty, or longer than any SPEC
    (``MAX_SPEC_CHARS``), refused before any path lookup or message repeats it."""
    if not isinstance(text, str):
        raise TypeError(
            f"a SPEC must be a string such as 'resnet50' or 'net.toml' (or a ResNetSpec where one is accepted), "
            f"not {'None' if text is None else type(text).__name__}"
        )
    if len(text) > MAX_SPEC_CHARS:
        raise SpecError(
            f"the SPEC is {len(text):,} characters long; a SPEC (a preset with overrides, or a file path) "
            f"has at most {MAX_SPEC_CHARS:,}"
        )
    text = text.strip()
    if not text:
        raise SpecError("empty SPEC: give a preset name such as resnet50, or a config file path")
    return text


def _is_file(name: str) -> bool:
    """``Path(name).is_file()``, False where the name cannot be a path at all (too long, bad bytes)."""
    try:
        return Path(name).is_file()
    except (OSError, ValueError):
        return False


def preset_with_inline(text: str) -> ResNetSpec:
    """``PRESET[:KEY=VALUE,...]``: the preset with its inline overrides, named by the SPEC text."""
    name, sep, rest = text.partition(":")
    name = name.strip()
    if name not in PRESETS and ("/" in name or os.sep in name or _is_file(name)):
        raise SpecError(
            f"{shown(name, 120)} is a path, but not a config file (.toml .yaml .yml .json) or a Python file "
            "(FILE.py:CALLABLE): name one of those, or a preset"
        )
    if name not in PRESETS and len(name) > 64:
        raise SpecError(f"unknown preset {shown(name)}: run 'resnet-inspect presets' to list them")
    spec = get_preset(name)
    if sep:
        where = shown(text, 80)
        if not rest.strip():
            raise SpecError(f"nothing after ':' in {where}; write e.g. {name}:shortcut=A")
        inline = split_overrides(rest, where=where)
        spec = apply_overrides(spec, inline, where=where)
        if "name" not in inline:
            spec = replace(spec, name=text)
    return spec


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


def refuse_module(text: str) -> None:
    """A ``SpecError`` if ``text`` (stripped) names a Python module, which is traced, not read as
    a spec (``sources.load_plan`` takes it)."""
    head = text.partition(":")[0].strip()
    if looks_like_target(text, head in PRESETS):
        raise SpecError(
            f"{shown(text, 120)} names a Python module, which is traced, not read as a spec; "
            "use it where a command takes any SPEC (summary, compare...), or resnet_inspect.sources.load_plan"
        )


def preset_spec(text: str) -> ResNetSpec:
    """The spec of ``PRESET[:KEY=VALUE,...]``, refused as ``parse_spec`` refuses it when it is too
    long, empty or names a module; the caller has already set config file paths aside."""
    text = checked_text(text)
    refuse_module(text)
    return preset_with_inline(text)
