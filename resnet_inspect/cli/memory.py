"""``resnet-inspect memory``: the memory a training step needs, predicted without torch, measured on request."""

from __future__ import annotations

import enum
from typing import Annotated, Any, Optional

import typer

from .common import (
    MAX_BATCH,
    AllBlocksOpt,
    Device,
    Dtype,
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
    emit,
    guard_outputs,
    input_files,
    load_analysis,
    screen,
)


class Optim(str, enum.Enum):
    sgd = "sgd"
    momentum = "momentum"
    adam = "adam"
    adamw = "adamw"



def memory(
    spec: SpecArg,
    batch: Annotated[int, typer.Option("--batch", "-b", min=1, max=MAX_BATCH, help="Samples per training step.")] = 1,
    dtype: Annotated[Dtype, typer.Option("--dtype", case_sensitive=False, help="Type of weights, activations and state.")] = Dtype.fp32,
    optimizer: Annotated[Optim, typer.Option("--optimizer", case_sensitive=False, help="What state the optimizer keeps per parameter.")] = Optim.momentum,
    fit: Annotated[Optional[str], typer.Option("--fit", metavar="SIZE", help="Also give the largest batch whose training memory fits SIZE (24GiB, 80GB, 512MiB; a bare G is GiB).")] = None,
    measure: Annotated[bool, typer.Option("--measure", help="Build the module (needs torch; for your module, runs your code), run one training-mode forward and measure what autograd saves, beside the prediction.")] = False,
    device: Annotated[Device, typer.Option("--device", case_sensitive=False, help="Where --measure runs (cuda also reads the peak of a whole step).")] = Device.cpu,
    all_blocks: AllBlocksOpt = None,
    explain: ExplainOpt = False,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    shortcut: ShortcutOpt = None,
    stride_in: StrideInOpt = None,
    input_size: InputSizeOpt = None,
    num_classes: NumClassesOpt = None,
    in_channels: InChannelsOpt = None,
) -> None:
    """Training memory: the activations autograd saves for backward (per block), weights, gradients and
    optimizer state, computed without torch; --measure checks the activations against the built module.

    Examples:

      resnet-inspect memory resnet50 --batch 32

      resnet-inspect memory resnet50 --batch 256 --dtype bf16 --optimizer adamw

      resnet-inspect memory resnet152 --fit 24GiB --dtype bf16

      resnet-inspect memory cifar_resnet20 --batch 128 --measure

      resnet-inspect memory resnet50 --batch 64 --format json -o r50_memory.json
    """
    guard_outputs(input_files(spec), output=output)
    from ..memory import largest_batch, training_memory
    from ..report import memory as report

    budget = _budget(fit)
    if device is Device.cuda and not measure:
        from ..errors import UsageError

        raise UsageError("--device says where --measure runs; add --measure (the prediction needs no device)")
    analysis = load_analysis(spec, shortcut, stride_in, input_size, num_classes, in_channels)
    mem = training_memory(analysis, batch, dtype.value, optimizer.value)
    fitted = largest_batch(analysis, budget, dtype.value, optimizer.value) if budget is not None else None
    measured = _measure(spec, analysis, batch, dtype.value, device.value) if measure else None
    result = report.MemoryReport(analysis, mem, budget, fitted, measured)
    where = screen(fmt, output)
    collapse = None if all_blocks is None else not all_blocks
    emit(fmt, output, data=lambda: report.to_json(result), docs=lambda: report.docs(result, collapse, where), explain=explain)


def _budget(fit: str | None) -> int | None:
    if fit is None:
        return None
    from ..errors import UsageError
    from ..units import parse_bytes

    try:
        budget = parse_bytes(fit)
    except ValueError as exc:
        raise UsageError(f"--fit: {exc}") from None
    if budget <= 0:
        raise UsageError("--fit: give a size above zero (e.g. 24GiB)")
    return budget


def _measure(text: str, analysis: Any, batch: int, dtype: str, device: str) -> Any:
    """The measurement beside the prediction, from ``resnet_inspect.nn.memory`` (torch)."""
    from ..report.memory import Measured
    from .progress import progress

    with progress(f"memory {analysis.name}") as shown:
        shown.load("torch")
        try:
            from ..nn.memory import measure_module, measure_spec
        except ModuleNotFoundError as exc:
            from ..errors import MissingDependency

            raise MissingDependency(f"--measure needs torch ({exc.name} is missing); install resnet-inspect with its dependencies") from None
        shown.update(f"building {analysis.name} and running one training-mode forward at batch {batch}…")
        if analysis.plan.source == "module":
            found = measure_module(text, analysis, batch, dtype, device)
        else:
            found = measure_spec(analysis.spec, batch, dtype, device)
    return Measured(found.saved_bytes, dict(found.blocks), found.stem, found.head, found.device, found.peak_cuda_bytes)


def register(app: typer.Typer) -> None:
    app.command("memory")(memory)
