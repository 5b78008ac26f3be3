"""``resnet-inspect roofline``: bytes moved, arithmetic intensity and a roofline estimate per block, without torch."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from .common import (
    MAX_BATCH,
    AllBlocksOpt,
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

#: The device when neither --device nor --device-peak is given.
DEFAULT_DEVICE = "a100"
#: Named devices, for --help (``traffic.DEVICES`` holds their numbers; kept in step by a test).
DEVICE_NAMES = "a100, a100-40gb, h100-sxm, h200, v100, rtx4090, l4, t4"



DevicePeakOpt = Annotated[
    Optional[str],
    typer.Option("--device-peak", metavar="FLOPS,BANDWIDTH",
                 help="A device of your own: peak FLOP/s (K, M, G, T, P) and memory bandwidth (GB/s or TB/s), e.g. 312T,2.0TB/s."),
]


def roofline(
    spec: SpecArg,
    device: Annotated[Optional[str], typer.Option("--device", "-d", metavar="NAME",
                                                  help=f"A named device ({DEVICE_NAMES}); its datasheet peak at --dtype "
                                                       f"and its bandwidth. Default: {DEFAULT_DEVICE}.")] = None,
    device_peak: DevicePeakOpt = None,
    dtype: Annotated[Dtype, typer.Option("--dtype", case_sensitive=False, help="Type of weights and activations (and the peak used).")] = Dtype.fp32,
    batch: Annotated[int, typer.Option("--batch", "-b", min=1, max=MAX_BATCH, help="Samples per forward: activations and FLOPs grow with it, weights are read once.")] = 1,
    layers: Annotated[bool, typer.Option("--layers", help="Also one row per layer, the layers of shortcut paths marked.")] = False,
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
    """Bytes moved and arithmetic intensity (FLOP per byte) per block, and a roofline estimate of its time on a
    device: which blocks, layers and shortcuts are memory-bound. Computed without torch (an inference forward,
    each layer a kernel of its own).

    Examples:

      resnet-inspect roofline resnet50 --device a100 --dtype bf16 --batch 256

      resnet-inspect roofline resnet50 --device-peak 312T,2.0TB/s --dtype bf16

      resnet-inspect roofline resnet18 --device t4 --dtype fp16 --layers

      resnet-inspect roofline cifar_resnet56:shortcut=B --device l4 --format json -o r56_roofline.json
    """
    guard_outputs(input_files(spec), output=output)
    from ..report import roofline as report
    from ..traffic import network_traffic

    dev, label, source = resolve_device(device, device_peak, dtype.value)
    analysis = load_analysis(spec, shortcut, stride_in, input_size, num_classes, in_channels)
    net = network_traffic(analysis, dtype.value, batch)
    result = report.RooflineReport(analysis, net, dev, label, source, layers)
    where = screen(fmt, output)
    collapse = None if all_blocks is None else not all_blocks
    emit(fmt, output, data=lambda: report.to_json(result), docs=lambda: report.docs(result, collapse, where), explain=explain)


def resolve_device(name: str | None, peak: str | None, dtype: str) -> tuple[Any, str, str]:
    """The device of --device or --device-peak (one of them), with its label and where its
    numbers come from; ``UsageError`` (one line) for anything else."""
    from ..errors import UsageError
    from ..traffic import DEVICES, named_device, parse_device_peak

    if name is not None and peak is not None:
        raise UsageError("give --device NAME or --device-peak FLOPS,BANDWIDTH, not both")
    if peak is not None:
        try:
            dev = parse_device_peak(peak)
        except ValueError as exc:
            raise UsageError(f"--device-peak: {exc}") from None
        return dev, "your device", f"--device-peak {peak.strip()}"
    chosen = DEFAULT_DEVICE if name is None else name
    try:
        dev = named_device(chosen, dtype)
    except ValueError as exc:
        raise UsageError(f"--device: {exc}") from None
    named = DEVICES[dev.name]
    return dev, named.label, named.source + (f"; {named.note}" if named.note else "")


def register(app: typer.Typer) -> None:
    app.command("roofline")(roofline)
