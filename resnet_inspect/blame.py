"""Which line of a config file put a network over its budget.

A CI annotation helps most on the line a pull request changed: GitHub shows it in the diff, beside
``layers = [3, 4, 23, 3]``, not at the top of a log. A count has no single line, so the line is
found by asking, for each key the file sets, how much the over-budget quantity falls when that key
alone goes back to a *reference*:

* the file's ``base`` preset, for a file that starts from one (``base = "resnet50"``);
* otherwise (a complete file, as ``resnet-inspect spec`` writes) the preset that shares the most
  structural fields with it.

The key whose return lowers the quantity most is blamed. When no single key lowers it (the base
itself is too big, or keys only make sense together), a file with ``base`` blames that line, and
otherwise nothing: the caller then annotates the budget file's limit instead.

Torch-free: each candidate is counted by shape arithmetic, a few milliseconds a key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .budget import CheckResult, Origin, Target
from .config import read_document
from .counts import Analysis
from .errors import SpecError
from .presets import PRESETS
from .spec import FIELD_NAMES, ResNetSpec

#: Fields that say what the network is (name and input do not pick a preset).
_STRUCTURE = ("block", "layers", "widths", "stem", "stem_width", "stride_in", "shortcut", "groups",
              "width_per_group", "preact")


@dataclass(frozen=True)
class Blame:
    """The line blamed for an over-budget quantity.

    ``key`` is None when the ``base`` line is blamed; ``drop`` is how much the quantity falls when
    ``key`` goes back to ``reference``'s value (0 for the base line)."""

    path: str
    line: int | None
    key: str | None
    drop: int
    reference: str
    value: Any = None
    reference_value: Any = None
    metric: str = ""

    def text(self) -> str:
        """Why this line: one sentence for the annotation."""
        if self.key is None:
            return f"it starts from base = {_value(self.reference)}, and no single key of this file brings it back within the limit"
        return (f"{self.key} = {_value(self.value)} here, where {self.reference} has {_value(self.reference_value)}: "
                f"going back saves {self.drop:,} {self.metric}").rstrip()


def _value(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return repr(value) if isinstance(value, str) else str(value)


def nearest_preset(spec: ResNetSpec) -> tuple[str, ResNetSpec]:
    """The preset sharing the most structural fields with ``spec``; among those, the one closest
    in number of blocks (ResNet-101 for 3-4-30-3, not ResNet-50), then the first in preset order."""
    def likeness(item: tuple[str, Any]) -> tuple[int, int]:
        other = item[1].spec
        shared = sum(getattr(other, f) == getattr(spec, f) for f in _STRUCTURE)
        return shared, -abs(sum(other.layers) - sum(spec.layers))

    name, preset = max(PRESETS.items(), key=likeness)
    return name, preset.spec


def blame_config(path: str | Path, spec: ResNetSpec, measure: Callable[[ResNetSpec], Mapping[str, int]],
                 metrics: Sequence[str], fixed: Mapping[str, Any] | None = None) -> dict[str, Blame]:
    """For each of ``metrics``, the line of config file ``path`` (which resolved to ``spec``) most
    to blame for it; a metric with nothing to blame is left out.

    ``measure`` gives every quantity of a spec at once, so each key is counted once whatever the
    number of metrics over budget. ``fixed`` names fields set on the command line: the file's
    value of those is not in effect, so they are never blamed.
    """
    doc, lines = read_document(path)
    reference_name, reference = _reference(doc, spec)
    now = measure(spec)
    best: dict[str, Blame] = {}
    for key in doc:
        if key not in FIELD_NAMES or key == "name" or key in (fixed or {}):
            continue
        old = getattr(reference, key)
        if getattr(spec, key) == old:
            continue
        try:
            then = measure(replace(spec, **{key: old}))
        except (SpecError, ValueError):  # the key only makes sense with others (layers with widths)
            continue
        for metric in metrics:
            drop = now[metric] - then[metric]
            if drop > 0 and (metric not in best or drop > best[metric].drop):
                best[metric] = Blame(str(path), lines.get(key), key, drop, reference_name, getattr(spec, key), old, metric)
    if isinstance(doc.get("base"), str):
        for metric in metrics:
            best.setdefault(metric, Blame(str(path), lines.get("base"), None, 0, str(doc["base"]).strip(), metric=metric))
    return best


def locations(checked: Sequence[tuple[Target, Analysis, CheckResult]], fixed: Mapping[str, Any],
              convention: str | None) -> dict[tuple[int, str], Location]:
    """Where each exceeded limit of each checked network is annotated, keyed by (index, limit key):
    the config line blamed, else the limit's own line (``locate``). Counted in ``convention``'s
    numbers, as the check was."""
    from .budget import measure as measured
    from .conventions import recount
    from .counts import analyze

    def measure(spec: ResNetSpec) -> Mapping[str, int]:
        return measured(recount(analyze(spec), convention))

    where: dict[tuple[int, str], Location] = {}
    for i, (target, analysis, result) in enumerate(checked):
        blamed: dict[str, Blame] = {}
        if result.violations and target.config is not None and analysis.plan.spec is not None:
            blamed = blame_config(target.config, analysis.plan.spec, measure, [v.metric for v in result.violations], fixed)
        for v in result.violations:
            where[(i, v.key)] = locate(target.config, target.origins[v.key], blamed.get(v.metric))
    return where


def _reference(doc: Mapping[str, Any], spec: ResNetSpec) -> tuple[str, ResNetSpec]:
    base = doc.get("base")
    if isinstance(base, str):
        from .specio import parse_spec

        try:
            return base.strip(), parse_spec(base)
        except SpecError:
            pass
    return nearest_preset(spec)


@dataclass(frozen=True)
class Location:
    """Where a CI annotation of an exceeded limit goes, and why there."""

    path: str | None
    line: int | None
    why: str = ""
    #: ``budget.toml:3`` (or "the --max-params flag"): where the limit itself was set.
    limit_at: str = ""


def locate(config: str | None, origin: Origin, blamed: Blame | None) -> Location:
    """The config line blamed when there is one, else the budget file's line of the limit, else
    the config file alone (a limit from a flag on a config with nothing to blame)."""
    if origin.path is None:
        limit_at = f"the {origin.where} flag"
    else:
        limit_at = f"{relative(origin.path)}:{origin.line}" if origin.line else relative(origin.path)
        limit_at += f" ({origin.where})"
    if blamed is not None and blamed.line is not None:
        return Location(relative(blamed.path), blamed.line, blamed.text(), limit_at)
    if origin.path is not None:
        return Location(relative(origin.path), origin.line, "", limit_at)
    return Location(relative(config) if config else None, None, "", limit_at)


def relative(path: str) -> str:
    """``path`` relative to the working directory when it lies below it (annotations are matched
    to the repository's files by their paths from its root), else as given."""
    import os

    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive
        return path
    return path if rel.startswith("..") else rel
