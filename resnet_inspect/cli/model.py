"""``resnet-inspect build`` and ``resnet-inspect verify``: the commands that need torch.

torch, fvcore and safetensors are imported inside the command functions, so registering these
commands at startup costs nothing.
"""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from .common import (
    Format,
    FormatOpt,
    InChannelsOpt,
    InputSizeOpt,
    NumClassesOpt,
    OutputOpt,
    ShortcutOpt,
    SpecArg,
    StrideInOpt,
    emit,
    guard_outputs,
    input_files,
    load_analysis,
    load_spec,
)
from .progress import progress

if TYPE_CHECKING:
    from ..nn.verify import Check, VerifyReport
    from ..report.tables import TableDoc

#: Weight file formats by extension: torch's pickle-free-to-load state_dict, or safetensors.
class KeyLayout(str, enum.Enum):
    torchvision = "torchvision"
    timm = "timm"


WEIGHT_SUFFIXES = {".pt": "torch", ".pth": "torch", ".safetensors": "safetensors"}

MaxMemoryOpt = Annotated[Optional[str], typer.Option(
    "--max-memory", metavar="SIZE",
    help="Refuse, before allocating anything, work whose estimated memory is above SIZE: 8GiB, 500MiB, 16GB, or a share "
         "of the memory available now, 25%. Default: half the available memory.",
)]


def build(
    spec: SpecArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Weights file: .pt/.pth (torch state_dict) or .safetensors.", dir_okay=False, show_default=False)],
    seed: Annotated[Optional[int], typer.Option("--seed", help="Seed for the random initialisation (same seed, same weights).")] = None,
    names: Annotated[KeyLayout, typer.Option(
        "--names", case_sensitive=False,
        help="Key names: torchvision (ours), or timm (pre-activation nets get timm's resnetv2 names; others are already timm's).",
    )] = KeyLayout.torchvision,
    shortcut: ShortcutOpt = None,
    stride_in: StrideInOpt = None,
    input_size: InputSizeOpt = None,
    num_classes: NumClassesOpt = None,
    max_memory: MaxMemoryOpt = None,
) -> None:
    """Build the torch model of a network and write its freshly initialised weights.

    Parameter names are torchvision's for torchvision-style networks, so the file loads into torchvision's model with strict=True. Initialisation is torchvision's: Kaiming normal (fan_out) for convs, BN weight 1 and bias 0, PyTorch's default for the FC layer. The memory needed (the weights and their serialised copy, 4 bytes per parameter each) is estimated first: above --max-memory, build exits 2 before allocating anything.

    Examples:

      resnet-inspect build resnet50 -o resnet50.pt

      resnet-inspect build resnet34:shortcut=A -o r34a.safetensors --seed 0

      resnet-inspect build cifar_resnet56 --num-classes 100 -o r56.pt

      resnet-inspect build preact_resnet50 --names timm -o resnetv2_50.safetensors
    """
    guard_outputs(input_files(spec), output=output)
    from ..errors import UsageError
    from ..report.output import write_atomic

    resolved = load_spec(spec, shortcut, stride_in, input_size, num_classes, command="build")
    kind = WEIGHT_SUFFIXES.get(output.suffix.lower())
    if kind is None:
        raise UsageError(
            f"-o {output}: unknown weights format {output.suffix or '(no extension)'!r}; "
            "use a .pt, .pth or .safetensors file name"
        )
    if output.is_dir():
        raise UsageError(f"-o {output} is a directory; give a file name")
    parent = output.parent if str(output.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"-o {output}: folder {parent} does not exist; create it first")
    _require_build_memory(resolved, max_memory, kind)

    with progress(f"build {resolved.name}") as shown:
        shown.load("torch")
        shown.update(f"building {resolved.name} ({resolved.num_blocks} blocks)…")
        from ..nn.builder import build_model

        model = build_model(resolved, seed=seed)
        state = model.state_dict()
        if names is KeyLayout.timm and resolved.preact:
            from ..naming import to_timm_resnetv2

            state = {to_timm_resnetv2(k, deep_stem=resolved.stem == "deep", avg_down=resolved.shortcut == "D"): v
                     for k, v in state.items()}
            # timm's resnetv2 head is a 1x1 conv (ClassifierHead(use_conv=True)): same numbers, 4-D
            state["head.fc.weight"] = state["head.fc.weight"][:, :, None, None]
        shown.update(f"serialising {len(state)} tensors ({kind})…")
        data = _serialise(state, kind)
        shown.update(f"writing {output}…")
        write_atomic(output, data)
    params = sum(p.numel() for p in model.parameters())
    sys.stderr.write(f"wrote {output} ({params:,} parameters, {len(state)} tensors, {kind})\n")


def _require_build_memory(resolved: Any, max_memory: str | None, kind: str) -> None:
    """Refuse a build whose weights and file would not fit, before torch allocates them (a
    2-billion-parameter spec otherwise swaps for minutes and ends in a traceback)."""
    from ..counts import analyze
    from ..resources import build_estimate, memory_limit, require, short_name
    from ..units import human

    limit = memory_limit(max_memory)
    analysis = analyze(resolved)
    what = f"build {short_name(resolved.name)} ({human(analysis.total.params)} params)"
    require(build_estimate(analysis, what, kind), limit, "use smaller widths or fewer layers")


def _serialise(state: dict[str, Any], kind: str) -> bytes:
    """The state_dict as bytes, so the file is written whole through ``write_atomic``."""
    if kind == "safetensors":
        from safetensors.torch import save

        return bytes(save({k: v.contiguous() for k, v in state.items()}))
    import io

    import torch

    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def verify(
    spec: SpecArg,
    module: Annotated[Optional[str], typer.Option(
        "--module", "-m", metavar="FILE.py:CALLABLE",
        help="Check your module against SPEC block by block instead (this imports and runs your code): "
             "exits 1 naming each block that differs and how.")] = None,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    shortcut: ShortcutOpt = None,
    stride_in: StrideInOpt = None,
    input_size: InputSizeOpt = None,
    num_classes: NumClassesOpt = None,
    in_channels: InChannelsOpt = None,
    max_memory: MaxMemoryOpt = None,
) -> None:
    """Check the analytic counts against the built torch module and fvcore, op by op and block by block.

    Parameters are counted with sum(p.numel()) per block and in total; conv, linear, batch_norm and adaptive_avg_pool2d with fvcore's FlopCountAnalysis (eval mode); relu, max_pool and avg_pool with forward hooks on the modules that run; the residual additions, and where an identity or zero-pad shortcut puts the block's input channels (first, any zeros after them), with the tracer on the meta device, which finds them by what the ops do; the output must be [1, num_classes]. Exits 1 and names every block and op that differs (one line each on stderr). fvcore runs the module on real data: its memory is estimated first, and above --max-memory verify exits 2 before allocating anything.

    SPEC may be your own module (FILE.py:CALLABLE): its traced counts are checked against sum(p.numel()) and fvcore on the real module. With --module, your module is checked against the spec block by block: a missing addition, a different stride or shape, a projection where the spec has identity, different parameters or MACs. Either way this runs your code.

    Examples:

      resnet-inspect verify resnet50

      resnet-inspect verify resnet34:shortcut=A --input-size 97

      resnet-inspect verify resnet50d --format json -o verify.json

      resnet-inspect verify resnet18:stem=cifar,num_classes=10 --module models.py:ResNet18 --input-size 32

      resnet-inspect verify models.py:ResNet18 --input-size 32
    """
    guard_outputs(input_files(spec, module), output=output)
    flags = (shortcut, stride_in, input_size, num_classes, in_channels)
    if module is not None:
        _verify_against_spec(spec, module, fmt, output, flags)
        return
    from ..resources import memory_limit
    from ..sources import is_module_spec

    limit = memory_limit(max_memory)
    report = _verify_module(spec, flags, limit) if is_module_spec(spec) else _verify_spec(spec, flags, limit)
    emit(fmt, output, data=report.to_json, docs=lambda: verify_tables(report))
    if not report.ok:
        for line in report.failure_lines():
            sys.stderr.write(line + "\n")
        raise typer.Exit(1)


#: The spec overrides of ``verify``: --shortcut, --stride-in, --input-size, --num-classes, --in-channels.
Flags = tuple[Optional[str], Optional[str], Optional[int], Optional[int], Optional[int]]


def _verify_spec(spec: str, flags: Flags, limit: tuple[int, str]) -> VerifyReport:
    """``verify SPEC`` of a preset or config: the memory check before torch is even imported."""
    from ..nn.verify import require_verify_memory

    resolved = load_spec(spec, *flags, command="verify")
    require_verify_memory(resolved, limit)
    with progress(f"verify {resolved.name}") as shown:
        shown.load("torch", "fvcore.nn")
        from ..nn.verify import verify_spec

        shown.update(f"building {resolved.name} and checking its {resolved.num_blocks} blocks against fvcore…")
        return verify_spec(resolved, max_memory=limit)


def _verify_module(spec: str, flags: Flags, limit: tuple[int, str]) -> VerifyReport:
    """``verify FILE.py:CALLABLE``: traced on the meta device, then built for real under ``limit``."""
    from ..resources import require, short_name, verify_module_estimate

    analysis = load_analysis(spec, *flags)  # with its own spinner while the module is traced
    require(verify_module_estimate(analysis, f"verify {short_name(analysis.name)}"), limit,
            "try a smaller --input-size or raise --max-memory")
    with progress(f"verify {analysis.name}") as shown:
        shown.load("torch", "fvcore.nn")
        from ..nn.verify import verify_traced

        shown.update(f"building {analysis.name} and checking its {len(analysis.blocks)} units against fvcore…")
        return verify_traced(spec, analysis)


def _verify_against_spec(spec: str, module: str, fmt: Format, output: Path | None,
                         flags: tuple[Any, ...]) -> None:
    """``verify SPEC --module TARGET``: the module's units against the spec's blocks."""
    from ..conformance import conform, conformance_json
    from ..counts import analyze
    from ..errors import UsageError
    from ..sources import is_module_spec

    if not is_module_spec(module):
        raise UsageError(f"--module {module[:120]!r} is not FILE.py:CALLABLE or package.module:CALLABLE")
    shortcut, stride_in, input_size, num_classes, in_channels = flags
    resolved = load_spec(spec, shortcut, stride_in, input_size, num_classes, in_channels, command="verify --module")
    # The module is traced at the spec's input, so shapes and MACs compare like for like.
    traced = load_analysis(module, input_size=resolved.input_size, in_channels=resolved.in_channels)
    result = conform(analyze(resolved), traced)
    emit(fmt, output, data=lambda: conformance_json(result), docs=lambda: [conformance_table(result)])
    if not result.ok:
        for line in result.failure_lines():
            sys.stderr.write(line + "\n")
        raise typer.Exit(1)


def conformance_table(result: Any) -> TableDoc:
    from ..report.tables import Column, Row, TableDoc, cell

    rows = []
    for b in result.blocks:
        mark, markup = _mark(b.ok)
        rows.append(Row((cell(b.name), cell(b.module_block or "—"), cell(mark, b.ok, markup),
                         cell("; ".join(b.differences) or "same")), kind="block"))
    notes = [*result.network]
    notes.append(f"{result.module_name} is {result.spec_name}, block for block." if result.ok
                 else f"{sum(1 for b in result.blocks if not b.ok)} block(s) differ (listed on stderr).")
    return TableDoc(f"verify {result.module_name} against {result.spec_name}",
                    (Column("block", "name"), Column("module block", "module_block"), Column("ok", "ok", "center"),
                     Column("differences", "differences", wrap=True)), tuple(rows), tuple(notes))


def _mark(ok: bool) -> tuple[str, str]:
    return ("✓", "[green]✓[/]") if ok else ("✗", "[bold red]✗[/]")


def _value(c: Check | None) -> tuple[str, object, str | None]:
    """A cell's text, raw value and markup: the number when both sides agree, else both."""
    if c is None:
        return "", None, None
    if c.ok:
        return f"{c.analytic:,}", c.analytic, None
    text = f"{c.analytic:,} ≠ {c.measured:,}"
    return text, text, f"[bold red]{text}[/]"


def verify_tables(report: VerifyReport) -> list[TableDoc]:
    """Two tables: every quantity of the whole network, and one row per block."""
    from ..report.tables import Column, Row, TableDoc, cell

    total_rows: list[Row] = []
    for c in report.checks:
        if c.scope not in ("total", "stem", "head"):
            continue
        text, markup = _mark(c.ok)
        total_rows.append(Row(
            (cell(c.scope), cell(c.quantity), cell(f"{c.analytic:,}", c.analytic),
             cell(f"{c.measured:,}", c.measured), cell(c.source), cell(text, c.ok, markup)),
            rule_before=bool(total_rows) and total_rows[-1].cells[0].text != c.scope, kind=c.scope,
        ))
    shape_text, shape_markup = _mark(report.output_ok)
    total_rows.append(Row(
        (cell("total"), cell("output shape"), cell(str(list(report.expected_output_shape))),
         cell(str(list(report.output_shape))), cell("forward"), cell(shape_text, report.output_ok, shape_markup)),
        rule_before=True, kind="total",
    ))
    failures = len(report.failures) + (0 if report.output_ok else 1)
    checked = len(report.checks) + 1
    summary = (f"all {checked:,} checks agree" if report.ok
               else f"{failures:,} of {checked:,} checks differ (listed on stderr)")
    if report.problems:  # nothing was counted: say why instead
        summary = f"nothing could be counted: {report.problems[0]}"
    totals = TableDoc(
        f"verify {report.name}: analytic vs module vs fvcore", (
            Column("scope", "scope"), Column("quantity", "quantity"), Column("analytic", "analytic", "right"),
            Column("measured", "measured", "right"), Column("source", "source"), Column("ok", "ok", "center"),
        ), tuple(total_rows), (summary,
                               "params: sum(p.numel()) of the module; conv, linear, batch_norm, adaptive_avg_pool2d: "
                               "fvcore FlopCountAnalysis (eval); relu, max_pool, avg_pool: forward hooks; add and shortcut.offset "
                               "(where the block's input channels land in an identity or zero-pad shortcut): the trace."),
    )

    by_block: dict[str, dict[str, Check]] = {}
    for c in report.checks:
        if c.scope.startswith("layer"):
            by_block.setdefault(c.scope, {})[c.quantity] = c
    present = {q for checks in by_block.values() for q in checks}
    columns: tuple[tuple[str, str], ...] = (("params", "params"), ("params.shortcut", "shortcut params"), ("conv", "conv MACs"),
               ("batch_norm", "batch_norm"), ("relu", "relu"), ("add", "add"), ("avg_pool", "avg_pool"),
               ("shortcut.offset", "shortcut offset"))
    columns += tuple((q, q) for q in sorted(present - {q for q, _ in columns}))
    quantities = tuple(q for q, _ in columns if q in present)
    headers = tuple(h for q, h in columns if q in present)
    block_rows: list[Row] = []
    previous_stage = ""
    for name, checks in by_block.items():
        cells = [cell(name)]
        for q in quantities:
            v_text, v_raw, v_markup = _value(checks.get(q))
            cells.append(cell(v_text, v_raw, v_markup))
        ok = all(c.ok for c in checks.values())
        mark, mark_markup = _mark(ok)
        cells.append(cell(mark, ok, mark_markup))
        stage = name.split(".")[0]
        block_rows.append(Row(tuple(cells), rule_before=stage != previous_stage, kind="block"))
        previous_stage = stage
    blocks = TableDoc(
        "per block (analytic; 'a ≠ m' where the module or fvcore differs)",
        (Column("block", "block"), *(Column(h, q, "right") for h, q in zip(headers, quantities)),
         Column("ok", "ok", "center")),
        tuple(block_rows),
    )
    return [totals, blocks]


def register(app: typer.Typer) -> None:
    app.command("build")(build)
    app.command("verify")(verify)
