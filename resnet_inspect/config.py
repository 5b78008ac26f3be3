"""Config files (TOML, YAML, JSON) -> ``ResNetSpec``, and a spec back to any of the three formats.

A config file is a flat mapping of spec fields at the top level (no ``[spec]`` table), in one of
two shapes:

* **from a preset**: ``base = "resnet50"`` (a preset, optionally with inline overrides such as
  ``"resnet34:shortcut=A"``) plus the fields that differ;
* **complete**: every field of the spec (``name`` may be left out), which is what
  ``resnet-inspect spec SPEC --format toml`` writes.

``name`` defaults to the file's stem (``configs/net.toml`` -> ``net``).

Loading never stops at the first mistake: a file with three mistakes raises one ``SpecError`` whose
``problems`` lists all three, each as ``FILE[:LINE[:COL]]: message`` so a user (or an editor's
problem matcher) can jump to it. Values pass through ``fields.coerce_field`` and the result through
``spec.validate_values``, so a file accepts and rejects exactly what a SPEC string does. Reading the
file (size, encoding, syntax, limits, key lines) is ``document``'s; ``base`` is resolved by
``fields.preset_spec``, so this module never goes back through ``specio``, which calls it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

from .document import FORMATS, ConfigFormat, Problem, format_of, is_config_path, raise_problems, read_document, unknown_key
from .errors import SpecError
from .fields import coerce_field, preset_spec
from .spec import FIELD_NAMES, ResNetSpec, shown, validate_values

#: The keys a config file may hold: every spec field, plus ``base``.
CONFIG_KEYS: Final = ("base", *FIELD_NAMES)
#: Fields a complete file (one without ``base``) must give; ``name`` defaults to the file's stem.
REQUIRED_WITHOUT_BASE: Final = tuple(n for n in FIELD_NAMES if n != "name")


# --------------------------------------------------------------------------------------------
# Document -> spec


def spec_from_document(doc: Mapping[Any, Any], source: str, lines: Mapping[str, int] | None = None,
                       default_name: str = "custom") -> ResNetSpec:
    """Resolve a parsed document (see the module docstring for its two shapes) into a spec,
    raising one ``SpecError`` with every problem found."""
    lines = dict(lines or {})
    problems: list[Problem] = []
    values, base_spec = _read_keys(doc, lines, problems)

    bad_type = {k for k in doc if isinstance(k, str) and k in FIELD_NAMES and k not in values}
    missing = _missing_keys(doc, problems)
    values.setdefault("name", default_name)

    # Validate what we have, filling gaps from the base (or the defaults) and skipping problems
    # about fields that are missing or already reported, so one mistake is reported once.
    start = base_spec if base_spec is not None else ResNetSpec()
    skip = set(missing) | bad_type
    if "base" in doc and base_spec is None:
        skip |= set(FIELD_NAMES) - set(values)
    candidate = {name: values.get(name, getattr(start, name)) for name in FIELD_NAMES}
    problems.extend(Problem(p.message, lines.get(p.field)) for p in validate_values(candidate) if not skip.intersection(p.fields))

    if problems:
        problems.sort(key=lambda p: (p.line is None, p.line or 0))
        raise_problems(source, problems)
    return replace(start, **values)


def _read_keys(doc: Mapping[Any, Any], lines: Mapping[str, int], problems: list[Problem]) -> tuple[dict[str, Any], ResNetSpec | None]:
    """Each field's value, coerced, and the spec ``base`` names; a key that is not a field, a
    value of the wrong type and a bad base each add a problem on their line."""
    values: dict[str, Any] = {}
    base_spec: ResNetSpec | None = None
    for key, raw in doc.items():
        line = lines.get(key) if isinstance(key, str) else None
        if key == "base":
            base_spec = _resolve_base(raw, problems, line)
            continue
        if key not in FIELD_NAMES:
            if isinstance(raw, Mapping):
                problems.append(Problem(
                    f"{shown(key, 40)} is a table; write the spec fields at the top level of the file, not in a table "
                    f"(valid keys are {', '.join(CONFIG_KEYS)})",
                    line,
                ))
            else:
                problems.append(Problem(unknown_key(key, CONFIG_KEYS), line))
            continue
        try:
            values[key] = coerce_field(key, raw)
        except SpecError as exc:
            problems.extend(Problem(m, line) for m in exc.problems)
    return values, base_spec


def _missing_keys(doc: Mapping[Any, Any], problems: list[Problem]) -> list[str]:
    """The fields a complete file (one without ``base``) leaves out, reported unless the file has a
    misplaced table, the one thing to fix first."""
    if "base" in doc:
        return []
    missing = [k for k in REQUIRED_WITHOUT_BASE if k not in doc]
    tables = any(isinstance(v, Mapping) and k not in FIELD_NAMES for k, v in doc.items())
    if missing and not tables:
        problems.append(Problem(
            f"missing keys {', '.join(missing)}: a file without 'base' must give every field; "
            "add them, or start from a preset with base = \"resnet50\" (or another preset)"
        ))
    return missing


def _resolve_base(raw: object, problems: list[Problem], line: int | None) -> ResNetSpec | None:
    """The preset ``base`` names, with its inline overrides; None, with the problem added, for
    anything else (another config file included: a base that names a file is never read)."""
    if not isinstance(raw, str) or not raw.strip():
        problems.append(Problem(f"base={shown(raw)} must be a preset name such as \"resnet50\" (run 'resnet-inspect presets')", line))
        return None
    if is_config_path(raw.strip()):
        problems.append(Problem(
            f"base={shown(raw)} names a file; base must be a preset (optionally with overrides, e.g. \"resnet34:shortcut=A\"), "
            "not another config file",
            line,
        ))
        return None
    try:
        return preset_spec(raw)
    except SpecError as exc:
        problems.extend(Problem(f"base: {m}", line) for m in exc.problems)
        return None


def load_config(path: str | Path) -> ResNetSpec:
    """The spec a config file describes; ``SpecError`` listing every problem otherwise."""
    doc, lines = read_document(path)
    return spec_from_document(doc, str(path), lines, default_name=Path(path).stem or "custom")


# --------------------------------------------------------------------------------------------
# Spec -> text


_HEADER: Final = (
    "A complete resnet-inspect spec: every field is listed, so loading it needs no preset.",
    "Use it wherever a SPEC is accepted, e.g.: resnet-inspect summary net.toml",
)


def _toml_string(text: str) -> str:
    out = []
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {shown(value)} as TOML")


def dump_spec(spec: ResNetSpec, fmt: ConfigFormat) -> str:
    """Every field of ``spec`` in ``fmt``; ``load_config`` of the text gives ``spec`` back."""
    data = spec.to_dict()
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    header = "".join(f"# {line}\n" for line in _HEADER)
    if fmt == "toml":
        return header + "".join(f"{k} = {_toml_value(v)}\n" for k, v in data.items())
    if fmt == "yaml":
        import yaml

        body = yaml.safe_dump(data, sort_keys=False, default_flow_style=None, allow_unicode=True, width=1000)
        return header + body
    raise SpecError(f"unknown format {shown(fmt, 20)}; use one of {', '.join(FORMATS)}")


#: ``format_of`` and ``read_document`` live in ``document``; they are named here too for the
#: callers that read a config file through this module.
__all__ = [
    "CONFIG_KEYS", "FORMATS", "REQUIRED_WITHOUT_BASE", "ConfigFormat", "dump_spec", "format_of", "load_config",
    "read_document", "spec_from_document",
]
