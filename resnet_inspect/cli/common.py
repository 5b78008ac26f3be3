"""What every command shares: the app, the SPEC argument and override flags, output formats and
delivery. Errors meet one boundary, the group's (``cli.group``), for every command."""

from __future__ import annotations

import enum
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .. import __version__
from ..errors import SpecError
from .group import ResnetInspectGroup

app = typer.Typer(
    cls=ResnetInspectGroup,
    name="resnet-inspect",
    help=(
        "Exact parameters, MACs and shortcut costs for any ResNet configuration.\n\n"
        "Examples:\n\n"
        "  resnet-inspect summary resnet50\n\n"
        "  resnet-inspect summary resnet34:shortcut=A --depth stage\n\n"
        "  resnet-inspect presets"
    ),
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"resnet-inspect {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        Optional[bool],
        typer.Option("--version", "-V", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = None,
) -> None:
    """Exact parameters, MACs and shortcut costs for any ResNet configuration."""


class Dtype(str, enum.Enum):
    """The number type of weights, activations and state (memory, roofline)."""

    fp32 = "fp32"
    fp16 = "fp16"
    bf16 = "bf16"


class Device(str, enum.Enum):
    """Where torch runs (bench, memory --measure)."""

    cpu = "cpu"
    cuda = "cuda"


#: The largest --batch of the analytic commands (memory, roofline): beyond it is a typo, not a
#: training run, refused before any arithmetic.
MAX_BATCH = 1 << 24


class Format(str, enum.Enum):
    table = "table"
    json = "json"
    markdown = "markdown"
    csv = "csv"


def _complete_preset(incomplete: str) -> list[tuple[str, str]]:
    """Shell completion of SPEC: the preset names, with their descriptions (a file name completes as a file)."""
    from ..presets import PRESETS

    return [(name, preset.description) for name, preset in PRESETS.items() if name.startswith(incomplete)]


def _complete_shortcut(incomplete: str) -> list[str]:
    from ..spec import SHORTCUTS

    return [s for s in SHORTCUTS if s.startswith(incomplete)]


def _complete_stride_in(incomplete: str) -> list[str]:
    from ..spec import STRIDE_IN

    return [s for s in STRIDE_IN if s.startswith(incomplete)]


def _complete_convention(incomplete: str) -> list[str]:
    from ..conventions import CONVENTIONS

    return [c for c in CONVENTIONS if c.startswith(incomplete)]


SPEC_HELP = (
    "A preset with optional KEY=VALUE overrides (resnet50, resnet34:shortcut=A, "
    "resnet50:stride_in=1x1,input_size=320), a config file (.toml .yaml .yml .json), or your own model: "
    "FILE.py:CALLABLE or package.module:CALLABLE, with literal arguments allowed "
    "(models.py:ResNet(depth=20, num_classes=10)). A module SPEC imports and runs your code, as "
    "importing it would, and traces one forward pass on the meta device."
)
SpecArg = Annotated[str, typer.Argument(metavar="SPEC", help=SPEC_HELP, show_default=False, autocompletion=_complete_preset)]
ShortcutOpt = Annotated[
    Optional[str],
    typer.Option("--shortcut", help="Override the shortcut option: A, B, C, D or none.", rich_help_panel="Spec overrides",
                 autocompletion=_complete_shortcut),
]
StrideInOpt = Annotated[
    Optional[str],
    typer.Option("--stride-in", help="Override where bottlenecks downsample: 1x1 (paper) or 3x3 (torchvision).", rich_help_panel="Spec overrides",
                 autocompletion=_complete_stride_in),
]
InputSizeOpt = Annotated[
    Optional[int],
    typer.Option("--input-size", help="Override the input height and width in pixels (for your module: the traced input, default 224).",
                 rich_help_panel="Spec overrides"),
]
InChannelsOpt = Annotated[
    Optional[int],
    typer.Option("--in-channels", help="Override the input channels (for your module: the traced input's channels, default 3).",
                 rich_help_panel="Spec overrides"),
]
NumClassesOpt = Annotated[
    Optional[int],
    typer.Option("--num-classes", help="Override the number of classes.", rich_help_panel="Spec overrides"),
]
FormatOpt = Annotated[
    Format, typer.Option("--format", "-f", case_sensitive=False, help="Output format.")
]
ConventionOpt = Annotated[
    Optional[str],
    typer.Option("--convention", metavar="TOOL",
                 help="Count MACs as this tool does (torchvision, fvcore, ptflops_pytorch, ptflops_aten, thop, torchinfo, "
                      "flop_counter_mode), so budgets kept in its numbers still hold; default: ours (= torchvision).",
                 rich_help_panel="Counting", autocompletion=_complete_convention),
]
ExplainOpt = Annotated[
    bool, typer.Option("--explain", help="Add the full explanations under the tables (what is counted, what each column means).")
]
AllBlocksOpt = Annotated[
    Optional[bool],
    typer.Option("--all-blocks/--collapse",
                 help="One row per block, or collapse runs of identical blocks into one row (×N). Default: collapse when "
                      "the rows would not fit the terminal's height (off a terminal: above 24 blocks).",
                 show_default=False),
]
OutputOpt = Annotated[
    Optional[Path],
    typer.Option("--output", "-o", help="Write the report to FILE (whole or not at all) instead of stdout.", dir_okay=False),
]


def overrides(shortcut: str | None, stride_in: str | None, input_size: int | None, num_classes: int | None,
              in_channels: int | None = None) -> dict[str, Any]:
    pairs = (("shortcut", shortcut), ("stride_in", stride_in), ("input_size", input_size),
             ("num_classes", num_classes), ("in_channels", in_channels))
    return {k: v for k, v in pairs if v is not None}


def load_spec(text: str, shortcut: str | None = None, stride_in: str | None = None,
              input_size: int | None = None, num_classes: int | None = None, in_channels: int | None = None,
              command: str = "this command") -> Any:
    """The ``ResNetSpec`` of a preset or config file, for commands that build from a spec."""
    from ..sources import require_spec_text
    from ..specio import parse_spec

    require_spec_text(text, command)
    return parse_spec(text, overrides(shortcut, stride_in, input_size, num_classes, in_channels))


def load_analysis(text: str, shortcut: str | None = None, stride_in: str | None = None,
                  input_size: int | None = None, num_classes: int | None = None, in_channels: int | None = None) -> Any:
    """Counts of any SPEC: a preset, a config file, or the user's module (traced)."""
    from ..sources import load_analysis as load

    with _progress_for(text):
        return load(text, overrides(shortcut, stride_in, input_size, num_classes, in_channels))


def recount(analysis: Any, convention: str | None) -> Any:
    """``conventions.recount``, imported when a command runs."""
    from ..conventions import recount as in_convention

    return in_convention(analysis, convention)


def _progress_for(text: str) -> Any:
    """A spinner on stderr (a terminal only) while a module is imported and traced."""
    from contextlib import nullcontext

    from ..sources import is_module_spec
    from .progress import progress

    return progress(f"tracing {text.strip()}…") if is_module_spec(text) else nullcontext()


def console() -> Any:
    """The rich console of stdout (its width and height decide how tables fit)."""
    from rich.console import Console

    return Console(highlight=False, emoji=False)


def screen(fmt: Format, output: Path | None) -> Any:
    """The terminal a table report will be shown on, or a ``Screen`` of no size for a pipe, a
    file, Markdown or CSV (where runs collapse by block count, not by height)."""
    from ..report.layout import Screen

    if fmt is Format.table and output is None:
        c = console()
        if c.is_terminal:
            return Screen(c.width, c.height)
    return Screen()


def emit(fmt: Format, output: Path | None, *, data: Callable[[], Any], docs: Callable[[], list[Any]],
         explain: bool = False, markdown: Callable[[], str] | None = None) -> None:
    """Write one report in ``fmt`` to stdout or ``output``.

    ``data`` gives the JSON document, ``docs`` the ``TableDoc``s for table/markdown/csv; both are
    called only for the format asked for. A table fits the terminal it is shown on; to a pipe or
    a file it is plain text at its natural width (``report.layout``). ``explain`` adds the
    longer notes (``TableDoc.details``) to the table and Markdown. ``markdown``, when given,
    writes the Markdown instead of the docs (``compare``'s pull-request comment).
    """
    from ..report.layout import plain_text, print_docs
    from ..report.output import json_text
    from ..report.tables import to_csv, to_markdown

    if fmt is Format.json:
        text = json_text(data())  # one write: json.dump's many small writes cost a 10,000-block net 0.6 s
    elif fmt is Format.markdown:
        text = markdown() if markdown is not None else "\n".join(to_markdown(d, explain) for d in docs())
    elif fmt is Format.csv:
        text = to_csv(docs())
    else:
        out = console() if output is None else None
        if out is not None and out.is_terminal:
            print_docs(out, docs(), explain)
            return
        text = plain_text(docs(), explain)
    deliver(text, output)


def input_files(*specs: str | None, files: tuple[Path | None, ...] = ()) -> list[Path]:
    """The files a command reads: config files and model code named by its SPECs, and ``files``
    (a budget file, a checkpoint). No output may replace one of them."""
    from ..sources import is_module_spec
    from ..specio import is_config_path
    from ..target import parse_target

    found = [f for f in files if f is not None]
    for text in specs:
        if not text:
            continue
        if is_config_path(text.strip()):
            found.append(Path(text.strip()))
        elif is_module_spec(text):
            try:
                target = parse_target(text)
            except SpecError:
                continue  # reported when the SPEC is loaded
            if target.kind == "file":
                found.append(Path(target.location))
    return found


def guard_outputs(inputs: list[Path], **outputs: Path | None) -> None:
    """Refuse, before any work, every output that would destroy a file (``report.output.writable``);
    ``outputs`` are keyed by option name (``output=...`` is ``--output``)."""
    from ..report.output import writable

    for name, path in outputs.items():
        if path is not None:
            writable(path, inputs, "--" + name.replace("_", "-"))


def deliver(text: str, output: Path | None) -> None:
    """``text`` to stdout, or to ``output`` whole (written atomically) with a note on stderr; a full
    or closed stdout is one line and exit 1 (``report.output.write_report``)."""
    from ..report.output import write_report

    write_report(text, output)
