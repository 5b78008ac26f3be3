"""``resnet-inspect spec``, ``compare`` and ``check``: config files and budgets for CI.

Thin: resolve SPECs (presets or config files), call ``compare`` / ``budget``, print. A config file
with several mistakes is reported one problem per line (each ``error: FILE:LINE: ...``), so a CI
log shows everything to fix at once.
"""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..errors import SpecError
from .common import (
    ConventionOpt,
    ExplainOpt,
    Format,
    FormatOpt,
    InChannelsOpt,
    InputSizeOpt,
    NumClassesOpt,
    OutputOpt,
    ShortcutOpt,
    SpecArg,
    StrideInOpt,
    deliver,
    emit,
    guard_outputs,
    input_files,
    load_analysis,
    load_spec,
    overrides,
    recount,
    screen,
)


class SpecFormat(str, enum.Enum):
    toml = "toml"
    yaml = "yaml"
    json = "json"


def spec(
    spec: SpecArg,
    fmt: Annotated[SpecFormat, typer.Option("--format", "-f", case_sensitive=False, help="File format to print.")] = SpecFormat.toml,
    output: OutputOpt = None,
    shortcut: ShortcutOpt = None,
    stride_in: StrideInOpt = None,
    input_size: InputSizeOpt = None,
    num_classes: NumClassesOpt = None,
    in_channels: InChannelsOpt = None,
) -> None:
    """Print the fully resolved spec (every field) as a config file to start from or to check.

    The output loads back to the same spec, so it is a starting point for a config file kept in a repository. For your own module (traced: this runs your code) it writes the spec the module equals exactly, or exits 2 naming the first difference from the closest spec.

    Examples:

      resnet-inspect spec resnet50 --format toml > net.toml

      resnet-inspect spec resnet34:shortcut=A --format yaml -o net.yaml

      resnet-inspect spec net.toml --format json

      resnet-inspect spec models/resnet.py:ResNet18 --input-size 32 -o resnet18_cifar.toml
    """
    guard_outputs(input_files(spec), output=output)
    from ..config import dump_spec
    from ..sources import is_module_spec

    if not is_module_spec(spec):
        resolved = load_spec(spec, shortcut, stride_in, input_size, num_classes, in_channels)
        deliver(dump_spec(resolved, fmt.value), output)
        return
    analysis = load_analysis(spec, shortcut, stride_in, input_size, num_classes, in_channels)
    matched = analysis.plan.spec
    if matched is None:
        why = next((n for n in analysis.plan.notes if n.startswith("no spec describes")), "no spec describes it")
        raise SpecError(f"{spec.strip()[:120]}: {why.rstrip('.')}; nothing written")
    header = f"# {spec.strip()[:200]} traced: = {matched.name}\n" if fmt is not SpecFormat.json else ""
    deliver(header + dump_spec(matched, fmt.value), output)


def compare(
    spec_a: Annotated[str, typer.Argument(metavar="SPEC_A", help="The reference network (e.g. the base branch's config).", show_default=False)],
    spec_b: Annotated[str, typer.Argument(metavar="SPEC_B", help="The network compared with it (e.g. the pull request's config).", show_default=False)],
    convention: ConventionOpt = None,
    all_blocks: Annotated[bool, typer.Option("--all-blocks", help="List every block, one row each: also those that do not differ, and runs that changed alike (collapsed into ×N rows when they would not fit the terminal).")] = False,
    explain: ExplainOpt = False,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    shortcut: ShortcutOpt = None,
    stride_in: StrideInOpt = None,
    input_size: InputSizeOpt = None,
    num_classes: NumClassesOpt = None,
    in_channels: InChannelsOpt = None,
) -> None:
    """Differences between two networks (B - A): totals, per stage, and per block where the layouts align.

    Each SPEC is a preset with optional overrides, a config file, or your own module (FILE.py:CALLABLE: traced, which runs your code; at the other SPEC's input size unless --input-size is given); override flags apply to both. "Is my code resnet18?": compare resnet18 models.py:ResNet18. Exits 0 whatever the differences (use 'check' to fail on a budget, 'verify --module' to fail on any difference).

    Examples:

      resnet-inspect compare resnet34:shortcut=A resnet34:shortcut=C

      resnet-inspect compare base.toml pr.toml --format markdown -o comment.md

      resnet-inspect compare resnet50 resnext50_32x4d --format json

      resnet-inspect compare resnet18:stem=cifar,input_size=32,num_classes=10 models.py:ResNet18
    """
    guard_outputs(input_files(spec_a, spec_b), output=output)
    from ..compare import compare as diff
    from ..report import compare as report
    from ..sources import is_module_spec

    problems: list[str] = []
    resolved: dict[str, Any] = {}
    # Specs first: a module compared with a spec is traced at the spec's input unless --input-size says otherwise.
    for text in sorted((spec_a, spec_b), key=is_module_spec):
        size, channels = input_size, in_channels
        other = next((a for a in resolved.values() if a.plan.source == "spec"), None)
        if is_module_spec(text) and other is not None:
            size = size or other.plan.input_shape[1]
            channels = channels or other.plan.input_shape[0]
        side = "A" if text == spec_a else "B"
        try:
            resolved[text] = recount(load_analysis(text, shortcut, stride_in, size, num_classes, channels), convention)
        except SpecError as exc:  # say which side the problem is on
            problems.extend(f"SPEC_{side} ({_short(text)}): {p}" for p in exc.problems)
    if problems:
        raise SpecError("; ".join(problems), problems=problems)
    a, b = resolved[spec_a], resolved[spec_b]
    label_a, label_b = a.name, b.name
    if label_a == label_b and spec_a.strip() != spec_b.strip():
        label_a, label_b = spec_a.strip(), spec_b.strip()
    result = diff(a, b, label_a, label_b)
    where = screen(fmt, output)
    emit(fmt, output, data=lambda: report.to_json(result, convention),
         docs=lambda: report.compare_docs(result, all_blocks, where, convention),
         explain=explain, markdown=lambda: report.compare_markdown(result, all_blocks, convention, explain))


def _limit_option(name: str, what: str) -> Any:
    return typer.Option(name, help=f"Fail when {what} exceed N (26M, 4.2G, 1_000, 25557032).", metavar="N", rich_help_panel="Limits")


class CheckFormat(str, enum.Enum):
    table = "table"
    json = "json"
    markdown = "markdown"
    csv = "csv"
    github = "github"
    junit = "junit"


def check(
    specs: Annotated[Optional[list[str]], typer.Argument(metavar="[SPEC]...", help="The networks to check; leave out to check every spec named in --budget. A SPEC that is one of the budget's named config files gets that spec's limits; the budget file itself stands for all of them (as a pre-commit hook passes it).", show_default=False)] = None,
    max_params: Annotated[Optional[str], _limit_option("--max-params", "parameters")] = None,
    max_macs: Annotated[Optional[str], _limit_option("--max-macs", "multiply-adds")] = None,
    max_activations: Annotated[Optional[str], _limit_option("--max-activations", "activations (output elements of all layers)")] = None,
    max_projections: Annotated[Optional[str], _limit_option("--max-projections", "projection shortcuts (blocks with a 1x1 conv shortcut)")] = None,
    convention: ConventionOpt = None,
    budget: Annotated[Optional[Path], typer.Option("--budget", "-b", help="A budget file (.toml .yaml .json) with max_* limits, optional specs.NAME tables and an optional convention = TOOL (see docs/ci.md).", dir_okay=True)] = None,
    fmt: Annotated[CheckFormat, typer.Option("--format", "-f", case_sensitive=False, help="table, json, markdown, csv; github: workflow annotations on the config line that broke the budget (or the budget's line); junit: a JUnit XML report.")] = CheckFormat.table,
    output: OutputOpt = None,
    shortcut: ShortcutOpt = None,
    stride_in: StrideInOpt = None,
    input_size: InputSizeOpt = None,
    num_classes: NumClassesOpt = None,
    in_channels: InChannelsOpt = None,
) -> None:
    """Check networks against budgets: exit 0 within, 1 over (one line per exceeded limit on stderr), 2 bad input.

    The report (every limit, value and headroom) goes to stdout or --output; each exceeded limit is also one 'over budget:' line on stderr. Flags override the budget file's limits. With --format github each exceeded limit is an ::error annotation on the line of the config file that broke it (the key whose return to the base preset saves the most), else on the budget file's line of the limit.

    Examples:

      resnet-inspect check resnet50 --max-params 26M --max-macs 4.2G

      resnet-inspect check resnet50 --max-macs 4.12G --convention fvcore

      resnet-inspect check net.toml --budget budget.toml

      resnet-inspect check --budget budget.toml --format github

      resnet-inspect check a.toml b.toml -b budget.toml -f junit -o budget.xml

      resnet-inspect check models/resnet.py:ResNet18 --input-size 32 --max-params 12M
    """
    specs = list(specs or [])
    guard_outputs(input_files(*specs, files=(budget,)), output=output)
    from ..budget import load_budget, targets

    plan = load_budget(budget) if budget is not None else None
    if convention is None and plan is not None:  # limits written in a tool's numbers are checked in them
        convention = plan.convention
    chosen = targets(specs, plan, _flag_limits(max_params, max_macs, max_activations, max_projections))
    _require_limits(chosen, specs, budget)
    given = overrides(shortcut, stride_in, input_size, num_classes, in_channels)
    checked = _check_targets(chosen, (shortcut, stride_in, input_size, num_classes, in_channels), convention)
    results = [result for _, _, result in checked]
    _report(fmt, output, results, lambda: _locations(checked, given, convention), convention)
    violations = [v for r in results for v in r.violations]
    if violations:
        sys.stderr.write("".join(f"over budget: {v.line()}\n" for v in violations))
        raise typer.Exit(1)


def _check_targets(chosen: list[Any], flags: tuple[Any, ...], convention: str | None) -> list[tuple[Any, Any, Any]]:
    """Each target counted (in ``convention``'s numbers) and checked against its limits:
    ``(target, analysis, result)``; a SPEC that cannot be read is a problem named by its budget
    entry, all reported at once."""
    from ..budget import check as check_one

    problems: list[str] = []
    checked = []
    for t in chosen:
        try:
            analysis = recount(load_analysis(t.spec, *flags), convention)
        except SpecError as exc:
            problems.extend(f"specs.{t.label}: {p}" if t.label else p for p in exc.problems)
            continue
        checked.append((t, analysis, check_one(analysis, t.limits, t.label or analysis.name, t.spec)))
    if problems:
        raise SpecError("; ".join(problems), problems=problems)
    return checked


def _flag_limits(max_params: str | None, max_macs: str | None, max_activations: str | None, max_projections: str | None) -> Any:
    from ..budget import Limits, parse_limit
    from ..errors import UsageError

    flags: dict[str, int] = {}
    for key, raw in (("max_params", max_params), ("max_macs", max_macs),
                     ("max_activations", max_activations), ("max_projections", max_projections)):
        if raw is not None:
            try:
                flags[key] = parse_limit(f"--{key.replace('_', '-')}", raw)
            except ValueError as exc:
                raise UsageError(str(exc)) from None
    return Limits(**flags)


def _require_limits(chosen: list[Any], specs: list[str], budget: Path | None) -> None:
    from ..errors import UsageError

    if not chosen:
        if budget is not None:
            raise UsageError(
                f"{budget} names no specs: give a SPEC to check against its limits, or add [specs.NAME] tables with spec = SPEC"
            )
        raise UsageError("give a SPEC to check, or --budget FILE with [specs.NAME] tables; e.g. check resnet50 --max-params 26M")
    for t in chosen:
        if not t.limits:
            raise UsageError(
                f"no limits for {t.label or _short(t.spec)}: give --max-params, --max-macs, --max-activations or --max-projections, "
                "or max_* keys in a --budget file"
            )


def _report(fmt: CheckFormat, output: Path | None, results: list[Any], where: Any, convention: str | None) -> None:
    if fmt in (CheckFormat.github, CheckFormat.junit):  # the CI formats need no tables
        from ..report import ci

        deliver((ci.github if fmt is CheckFormat.github else ci.junit)(results, where()), output)
        return
    from ..report.compare import budget_docs, budget_json

    emit(Format(fmt.value), output, data=lambda: budget_json(results, convention), docs=lambda: budget_docs(results, convention))


def _locations(checked: list[Any], given: dict[str, Any], convention: str | None) -> Any:
    """``blame.locations``, imported only for the CI formats."""
    from ..blame import locations

    return locations(checked, given, convention)


def _short(text: str, limit: int = 60) -> str:
    from ..naming import printable

    return printable(text.strip(), limit)


def register(app: typer.Typer) -> None:
    app.command("spec")(spec)
    app.command("compare")(compare)
    app.command("check")(check)
