"""Budgets: limits on a network's parameters, MACs, activations and projection shortcuts.

Limits come from ``check`` flags (``--max-params 26M``) or from a budget file (TOML, YAML or JSON,
read like a config file)::

    # limits for the SPEC named on the command line (and defaults for the specs below)
    max_params = "26M"        # K/M/G/T suffixes (decimal) or plain integers
    max_macs = "4.2G"

    [specs.backbone]          # optional: named specs, each with its own limits
    spec = "configs/backbone.toml"   # a SPEC; file paths (configs, models/net.py:Net) are relative to this file
    max_params = "24M"

    [specs.small]
    spec = "resnet18:input_size=160"
    max_macs = "1G"

A named spec takes the top-level limits as defaults and overrides them key by key; flags given to
``check`` override both. ``projections`` counts blocks whose shortcut has parameters (a 1x1
projection, with or without ResNet-D's average pool).

Pure apart from reading the budget file: the CLI resolves the specs and prints.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Final

from .counts import Analysis
from .document import Problem, format_of, raise_problems, read_document, read_text, unknown_key
from .naming import printable
from .plan import count_projections
from .spec import shown
from .specio import is_config_path
from .target import rebased
from .units import human, parse_count

#: Limit key -> the measured quantity it bounds.
LIMITS: Final[dict[str, str]] = {
    "max_params": "params",
    "max_macs": "macs",
    "max_activations": "activations",
    "max_projections": "projections",
}
TOP_KEYS: Final = (*LIMITS, "specs", "convention")
ENTRY_KEYS: Final = ("spec", *LIMITS)
#: Largest limit accepted (10^18): far above any network's count, and small enough that every
#: report can divide by it in floating point (a 400-digit limit cannot be converted to a float).
MAX_LIMIT: Final = 10**18


@dataclass(frozen=True)
class Limits:
    """Upper bounds (inclusive); ``None`` means no limit on that quantity."""

    max_params: int | None = None
    max_macs: int | None = None
    max_activations: int | None = None
    max_projections: int | None = None

    def items(self) -> list[tuple[str, int]]:
        return [(f.name, v) for f in fields(self) if (v := getattr(self, f.name)) is not None]

    def __bool__(self) -> bool:
        return bool(self.items())

    def merged(self, over: Limits) -> Limits:
        """These limits with every limit set in ``over`` replacing ours."""
        return Limits(**{f.name: (getattr(over, f.name) if getattr(over, f.name) is not None else getattr(self, f.name))
                         for f in fields(self)})

    def to_dict(self) -> dict[str, int | None]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def parse_limit(key: str, raw: object) -> int:
    """A limit value: an integer, or a string such as ``"26M"``, ``"4.2G"``, ``"1_000"``.

    The rule: a limit bounds a count, so it is a whole number from 0 to ``MAX_LIMIT`` once its
    K/M/G/T suffix is applied. ``"4.2G"`` and ``4.2e9`` are limits; ``2.5``, ``"0.5"`` and
    ``"1.0000005M"`` are refused rather than rounded (``--max-projections 2.5`` is not a number of
    projections). Raises ``ValueError`` with a message naming the key and the accepted forms.
    """
    not_count = f"{key}={shown(raw)} is not a count; write an integer or e.g. \"26M\", \"4.2G\""
    if isinstance(raw, bool):
        raise ValueError(not_count)
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, float):
        if not math.isfinite(raw):
            raise ValueError(not_count)
        if not raw.is_integer():
            raise ValueError(f"{key}={shown(raw)} is not a whole number; a limit is a count, e.g. 26000000 or \"26M\"")
        value = int(raw)
    elif isinstance(raw, str):
        try:
            value = parse_count(raw)
        except ValueError as exc:
            raise ValueError(f"{key}: {exc}") from None
    else:
        raise ValueError(not_count)
    if value < 0:
        raise ValueError(f"{key}={shown(raw)} is negative; a limit must be 0 or more")
    if value > MAX_LIMIT:
        raise ValueError(f"{key}={shown(raw)} is above the largest limit, 10^18 (1,000,000T); leave the limit out to set none")
    return value


def measure(a: Analysis) -> dict[str, int]:
    """The quantities a budget can bound, keyed as in ``LIMITS``' values."""
    return {
        "params": a.total.params,
        "macs": a.total.macs,
        "activations": a.total.activations,
        "projections": count_projections(a.shortcut_kinds()),
    }


@dataclass(frozen=True)
class Violation:
    label: str
    key: str
    value: int
    limit: int

    @property
    def metric(self) -> str:
        return LIMITS[self.key]

    @property
    def excess(self) -> int:
        return self.value - self.limit

    def line(self) -> str:
        """One line for the CI log: the value, the limit and by how much it is exceeded."""
        rel = f", +{100.0 * self.excess / self.limit:.1f}%" if self.limit else ""
        return (
            f"{self.label}: {self.metric} {_exact(self.value)} exceeds {self.key} {_exact(self.limit)} "
            f"by {self.excess:,}{rel}"
        )


def _exact(value: int) -> str:
    text = f"{value:,}"
    return text if value < 1000 else f"{text} ({human(value)})"


@dataclass(frozen=True)
class CheckResult:
    label: str
    spec_text: str
    values: Mapping[str, int]
    limits: Limits
    violations: tuple[Violation, ...]

    @property
    def ok(self) -> bool:
        return not self.violations


def check(a: Analysis, limits: Limits, label: str, spec_text: str = "") -> CheckResult:
    """``a`` measured against ``limits``: a limit is met when the value is at most the limit."""
    values = measure(a)
    violations = tuple(
        Violation(label, key, values[LIMITS[key]], limit)
        for key, limit in limits.items()
        if values[LIMITS[key]] > limit
    )
    return CheckResult(label, spec_text or label, values, limits, violations)


@dataclass(frozen=True)
class BudgetEntry:
    name: str
    #: The SPEC, with a relative config path already joined to the budget file's folder.
    spec: str
    #: This entry's own limits (not yet merged with the budget's defaults).
    limits: Limits
    #: Line of each of this entry's keys (and of its table, under ""), where it could be found.
    lines: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Budget:
    source: str
    defaults: Limits
    entries: tuple[BudgetEntry, ...]
    #: The counting convention the limits are written in (``convention = "fvcore"``); None: ours.
    convention: str | None = None
    #: Line of each top-level key.
    lines: Mapping[str, int] = field(default_factory=dict)

    def limits_for(self, entry: BudgetEntry) -> Limits:
        return self.defaults.merged(entry.limits)

    def origin(self, key: str, entry: BudgetEntry | None) -> Origin:
        """Where limit ``key`` of ``entry`` (None: a SPEC from the command line) was written."""
        if entry is not None and getattr(entry.limits, key) is not None:
            return Origin(self.source, entry.lines.get(key, entry.lines.get("")), f"specs.{entry.name}.{key}")
        return Origin(self.source, self.lines.get(key), key)


@dataclass(frozen=True)
class Origin:
    """Where a limit was set: a budget file's line, or (``path`` None) a command-line flag."""

    path: str | None
    line: int | None
    where: str


@dataclass(frozen=True)
class Target:
    """One network to check: its label ("" for a SPEC given alone), SPEC, limits and their origins."""

    label: str
    spec: str
    limits: Limits
    origins: Mapping[str, Origin]
    #: The config file the SPEC names, if it is one (for annotations on its lines).
    config: str | None = None


def targets(specs: Sequence[str], budget: Budget | None, flags: Limits) -> list[Target]:
    """What ``check`` checks, with flags overriding the budget's limits.

    No SPEC: every named spec of the budget. A SPEC that is the budget file itself stands for all
    of them too (a pre-commit hook passes the budget file when it changes), and a SPEC that is one
    of its named config files is checked against that entry's limits; any other SPEC gets the
    budget's top-level limits.
    """
    if budget is None:
        return [_target("", s, None, None, flags) for s in specs]
    named = {_file_key(e.spec): e for e in budget.entries if is_config_path(e.spec)}
    chosen: list[Target] = []
    for text in specs or [budget.source]:
        key = _file_key(text) if is_config_path(text) else None
        if key is not None and key == _file_key(budget.source):
            chosen.extend(_target(e.name, e.spec, budget, e, flags) for e in budget.entries)
        elif key in named:
            chosen.append(_target(named[key].name, text, budget, named[key], flags))
        else:
            chosen.append(_target("", text, budget, None, flags))
    unique: dict[tuple[str, str], Target] = {}
    for t in chosen:  # a config staged beside the budget file that names it is checked once
        unique.setdefault((t.label, _file_key(t.spec) if t.config else t.spec), t)
    return list(unique.values())


def _target(label: str, spec: str, budget: Budget | None, entry: BudgetEntry | None, flags: Limits) -> Target:
    base = Limits() if budget is None else (budget.limits_for(entry) if entry is not None else budget.defaults)
    limits = base.merged(flags)
    origins = {key: Origin(None, None, f"--{key.replace('_', '-')}") if getattr(flags, key) is not None or budget is None
               else budget.origin(key, entry) for key, _ in limits.items()}
    return Target(label, spec, limits, origins, spec.strip() if is_config_path(spec) else None)


def _file_key(path: str) -> str:
    try:
        return str(Path(path.strip()).resolve())
    except (OSError, RuntimeError, ValueError):
        return path.strip()


def _limits_from(mapping: Mapping[Any, Any], where: str, allowed: tuple[str, ...], problems: list[Problem],
                 lines: Mapping[str, int] | None = None) -> Limits:
    values: dict[str, int] = {}
    for key, raw in mapping.items():
        line = (lines or {}).get(key) if isinstance(key, str) else None
        if key in LIMITS:
            try:
                values[key] = parse_limit(f"{where}{key}", raw)
            except ValueError as exc:
                problems.append(Problem(str(exc), line))
        elif key not in allowed:
            message = unknown_key(key, allowed)
            problems.append(Problem(f"{where}{message}" if where else message, line))
    return Limits(**values)


def load_budget(path: str | Path) -> Budget:
    """A budget file; one ``SpecError`` listing every problem (unknown keys with near-miss
    suggestions, bad counts, specs without a ``spec`` or without limits) otherwise."""
    source = str(path)
    doc, lines = read_document(path, what="budget file", example='write e.g. max_params = "26M" and max_macs = "4.2G"')
    problems: list[Problem] = []
    defaults = _limits_from(doc, "", TOP_KEYS, problems, lines)
    entries: list[BudgetEntry] = []
    specs = doc.get("specs", {})
    folder = Path(path).parent
    entry_lines = _entry_lines(path, specs) if isinstance(specs, Mapping) else {}
    if not isinstance(specs, Mapping):
        problems.append(Problem(
            "specs must be a table of named specs, e.g. [specs.backbone] with spec = \"net.toml\" and max_* limits",
            lines.get("specs"),
        ))
        specs = {}
    for key, body in specs.items():
        name = printable(key, 60)  # a crafted name is shown short and without control characters
        where = f"specs.{name}."
        if not isinstance(body, Mapping):
            problems.append(Problem(f"specs.{name} must be a table with spec = SPEC and max_* limits", lines.get("specs")))
            continue
        own = _limits_from(body, where, ENTRY_KEYS, problems)
        spec = body.get("spec")
        if not isinstance(spec, str) or not spec.strip():
            problems.append(Problem(
                f"specs.{name} needs spec = SPEC (a preset such as \"resnet50\" or a config file path), got {shown(spec)}",
                lines.get("specs"),
            ))
            continue
        spec = spec.strip()
        if is_config_path(spec) and not Path(spec).is_absolute():
            spec = str(folder / spec)
        elif spec.partition(":")[0].strip().endswith(".py"):
            spec = rebased(spec, str(folder))  # the user's module, found from the budget file's folder
        if not defaults.merged(own) and not any(k in LIMITS for k in (*doc, *body)):  # not a refused limit's echo
            problems.append(Problem(f"specs.{name} has no limits; give max_params, max_macs, max_activations or max_projections"))
        entries.append(BudgetEntry(name, spec, own, entry_lines.get(key, {}) if isinstance(key, str) else {}))
    convention = _convention(doc.get("convention"), problems, lines.get("convention"))
    if problems:
        raise_problems(source, problems)
    return Budget(source, defaults, tuple(entries), convention, lines)


def _entry_lines(path: str | Path, specs: Mapping[Any, Any]) -> dict[str, dict[str, int]]:
    """Best-effort line of each named spec's table (under "") and of its keys, found in the text
    (the TOML and JSON parsers keep no line marks): the first line that opens the entry, then each
    of its keys' first line until another table or entry opens. One pass over the lines, so a
    budget naming thousands of specs reads as fast as a small one."""
    lines = read_text(path, "budget file").splitlines()
    toml = format_of(path) == "toml"
    bodies = {n: b for n, b in specs.items() if isinstance(n, str) and isinstance(b, Mapping)}
    found: dict[str, dict[str, int]] = {}
    current: tuple[dict[str, int], Mapping[Any, Any]] | None = None
    for number, text in enumerate(lines, start=1):
        stripped = text.strip()
        if toml and stripped.startswith("["):
            name = _toml_entry(stripped)
            current = None
            if name in bodies and name not in found:
                found[name] = {"": number}
                current = (found[name], bodies[name])
            continue
        key = _line_key(stripped)
        if key is None:
            continue
        if not toml and key in bodies and key not in found:  # YAML/JSON: an entry opens as `name:`
            found[key] = {"": number}
            current = (found[key], bodies[key])
        elif current is not None and key in current[1] and key not in current[0]:
            current[0][key] = number
    return found


_TOML_ENTRY: Final = re.compile(r"""\[\s*specs\s*\.\s*(?:"([^"]*)"|'([^']*)'|([\w-]+))\s*\]""")
_LINE_KEY: Final = re.compile(r"""(?:"([^"]*)"|'([^']*)'|([\w-]+))\s*[:=]""")


def _toml_entry(stripped: str) -> str | None:
    m = _TOML_ENTRY.fullmatch(stripped)
    return next((g for g in m.groups() if g is not None), None) if m else None


def _line_key(stripped: str) -> str | None:
    m = _LINE_KEY.match(stripped)
    return next((g for g in m.groups() if g is not None), None) if m else None


def _convention(raw: object, problems: list[Problem], line: int | None) -> str | None:
    """The budget's ``convention`` key, checked against the known tools (``resnet_inspect.conventions``)."""
    if raw is None:
        return None
    from .conventions import CONVENTIONS
    from .errors import UsageError

    if not isinstance(raw, str):
        problems.append(Problem(f"convention must be one of {', '.join(CONVENTIONS)}, got {shown(raw, 40)}", line))
        return None
    if len(raw) > 64:  # no convention's name is this long; spare the did-you-mean a huge string
        problems.append(Problem(f"unknown counting convention {shown(raw, 40)}: valid: {', '.join(CONVENTIONS)}", line))
        return None
    from .conventions import check_convention

    try:
        return check_convention(raw.strip())
    except UsageError as exc:
        problems.append(Problem(str(exc), line))
        return None
