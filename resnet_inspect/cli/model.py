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
    from ..nn.verify import VerifyReport


class KeyLayout(str, enum.Enum):
    torchvision = "torchvision"
    timm = "timm"


#: Weight file formats by extension: a torch.save state_dict (it loads with weights_only=True), or safetensors.
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
    from ..report.output import write_atomic

    resolved = load_spec(spec, shortcut, stride_in, input_size, num_classes, command="build")
    kind = _weights_kind(output)
    _require_build_memory(resolved, max_memory, kind)

    with progress(f"build {resolved.name}") as shown:
        shown.load("torch")
        shown.update(f"building {resolved.name} ({resolved.num_blocks} blocks)…")
        from ..nn.builder import build_model

        model = build_model(resolved, seed=seed)
        state = _named(model.state_dict(), resolved, names)
        shown.update(f"serialising {len(state)} tensors ({kind})…")
        data = _serialise(state, kind)
        shown.update(f"writing {output}…")
        write_atomic(output, data)
    params = sum(p.numel() for p in model.parameters())
    sys.stderr.write(f"wrote {output} ({params:,} parameters, {len(state)} tensors, {kind})\n")


def _weights_kind(output: Path) -> str:
    """The weights format ``-o`` names by its extension (``WEIGHT_SUFFIXES``), once the file can be
    written there: not a folder, in a folder that exists."""
    from ..errors import UsageError

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
    return kind


def _named(state: dict[str, Any], resolved: Any, names: KeyLayout) -> dict[str, Any]:
    """The state_dict under ``--names``: timm's resnetv2 keys for a pre-activation net, else as built."""
    if names is not KeyLayout.timm or not resolved.preact:
        return state
    from ..naming import to_timm_resnetv2

    state = {to_timm_resnetv2(k, deep_stem=resolved.stem == "deep", avg_down=resolved.shortcut == "D"): v
             for k, v in state.items()}
    # timm's resnetv2 head is a 1x1 conv (ClassifierHead(use_conv=True)): same numbers, 4-D
    state["head.fc.weight"] = state["head.fc.weight"][:, :, None, None]
    return state


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
    from ..report.verify import verify_tables
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
    from ..report.verify import conformance_table
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


def register(app: typer.Typer) -> None:
    app.command("build")(build)
    app.command("verify")(verify)
