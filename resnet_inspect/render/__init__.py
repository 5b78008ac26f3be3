"""Diagrams: DOT text from the analytic engine (``dot.py``, pure) and rendering it with Graphviz.

``diagram_text`` picks the analyses a view needs (the compare view needs the network under a
second shortcut option) and hands them to ``dot.py``; ``render_file`` writes the DOT text itself
or the image Graphviz's ``dot`` program makes of it, run as a subprocess with a timeout, so
writing ``.dot`` needs no ``dot``.
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Final, Literal

from ..counts import Analysis, analyze
from ..errors import MissingDependency, ResnetInspectError, SpecError, UsageError
from ..plan import FREE_KINDS, is_projection
from ..spec import ResNetSpec
from ..suggest import did_you_mean

Level = Literal["network", "block", "compare"]
LEVELS: Final[tuple[Level, ...]] = ("network", "block", "compare")
FORMATS: Final = ("dot", "svg", "png", "pdf")
#: File name endings that choose a format when ``--format`` is not given.
SUFFIX_FORMAT: Final = {".dot": "dot", ".gv": "dot", ".svg": "svg", ".png": "png", ".pdf": "pdf"}

#: Pixel density of PNG output when ``--dpi`` is not given: Graphviz's own default for bitmaps,
#: written into the graph explicitly so the size does not depend on the Graphviz build.
DEFAULT_DPI: Final = 96
#: Accepted ``--dpi`` values: below 36 the 11 pt labels are unreadable; at 600 ResNet-152 is already
#: about 8,000 px tall, and the bitmap Graphviz holds grows with the square of ``dpi``.
DPI_RANGE: Final = (36, 600)

#: Seconds Graphviz's ``dot`` may take to render before it is stopped (ResNet-1001 takes under
#: 10 s); ``RESNET_INSPECT_DOT_TIMEOUT`` overrides it.
DOT_TIMEOUT: Final = 60.0
DOT_TIMEOUT_ENV: Final = "RESNET_INSPECT_DOT_TIMEOUT"

INSTALL_HINT: Final = (
    "install Graphviz (apt-get install graphviz, or brew install graphviz on macOS), or write .dot instead"
)


def block_names_text(a: Analysis) -> str:
    """``layer1.0-layer1.2, layer2.0-layer2.3, ...``: every block name, compactly."""
    parts = []
    for stage in a.stages:
        first, last = stage.blocks[0].block.name, stage.blocks[-1].block.name
        parts.append(first if first == last else f"{first}-{last}")
    return ", ".join(parts)


def find_block(a: Analysis, name: str) -> str:
    """``name`` if the network has that block, else ``UsageError`` naming the closest and all."""
    names = [b.block.name for b in a.blocks]
    if name in names:
        return name
    hint = did_you_mean(name, names, n=2)
    raise UsageError(f"no block {name!r} in {a.name}: {hint}its blocks are {block_names_text(a)}")


def compare_specs(spec: ResNetSpec, name: str) -> tuple[ResNetSpec, ResNetSpec]:
    """The two networks the compare view draws block ``name`` of: one whose shortcut there is
    parameter-free (identity where shapes match, zero-pad where they change: option A) and one
    that projects (the spec itself if it already projects there, else option C).

    Only the shortcut option differs, so the main path of the block is the same on both sides.
    """
    own = analyze(spec).block(name).block.shortcut
    free = spec if own in FREE_KINDS else _with_shortcut(spec, "A")
    projecting = spec if is_projection(own) else _with_shortcut(spec, "C")
    return free, projecting


def _with_shortcut(spec: ResNetSpec, option: str) -> ResNetSpec:
    try:
        return replace(spec, shortcut=option)
    except SpecError as exc:
        raise UsageError(f"--level compare needs {spec.name} with shortcut={option}, which is not valid: {exc}") from None


def diagram_text(
    network: ResNetSpec | Analysis, level: Level = "network", block: str | None = None, expand: bool = False,
) -> str:
    """The DOT text of one diagram of a spec or of an analysed plan (a traced module); ``expand``
    draws every block of the network view instead of one node per run of identical blocks."""
    from . import dot

    if level not in LEVELS:
        raise UsageError(f"--level {level!r} is not known; use one of {', '.join(LEVELS)}")
    analysis = analyze(network) if isinstance(network, ResNetSpec) else network
    if level == "network":
        if block is not None:
            raise UsageError("--block applies to --level block or --level compare; drop it, or add --level block")
        return dot.network_dot(analysis, expand=expand)
    if expand:
        raise UsageError(f"--expand applies to --level network (--level {level} draws one block); drop it")
    if block is None:
        raise UsageError(f"--level {level} needs --block NAME; {analysis.name}'s blocks are {block_names_text(analysis)}")
    name = find_block(analysis, block)
    if level == "block":
        return dot.block_dot(analysis, name)
    if analysis.spec is None:
        raise UsageError(
            f"--level compare redraws {name} under other shortcut options, which needs a network a spec describes; "
            f"no spec matches {analysis.name}: use --level block"
        )
    if analysis.plan.source != "spec":  # a traced module that equals a spec: the spec's block in its place
        index = [bc.block.name for bc in analysis.blocks].index(name)
        name = analyze(analysis.spec).blocks[index].block.name
    free, projecting = compare_specs(analysis.spec, name)
    return dot.compare_dot(analyze(free), analyze(projecting), name)


def format_for(path: Path | None, fmt: str | None) -> str:
    """The output format: ``fmt`` if given (it must agree with a known file ending), else the
    file ending; stdout takes DOT text only."""
    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r} is not known; use one of {', '.join(FORMATS)}")
    if path is None:
        if fmt not in (None, "dot"):
            raise UsageError(f"--format {fmt} is binary or markup for a file; give -o FILE.{fmt}, or use --format dot for stdout")
        return "dot"
    suffix_fmt = SUFFIX_FORMAT.get(path.suffix.lower())
    if fmt is None:
        if suffix_fmt is None:
            endings = ", ".join(SUFFIX_FORMAT)
            raise UsageError(f"cannot tell the format of {path.name!r}: end it in one of {endings}, or give --format")
        return suffix_fmt
    if suffix_fmt is not None and suffix_fmt != fmt:
        raise UsageError(f"--format {fmt} does not match {path.name!r} ({suffix_fmt}); make them agree")
    return fmt


def check_dpi(dpi: int | None, fmt: str) -> int:
    """The pixel density to render ``fmt`` at: ``dpi`` if given, else ``DEFAULT_DPI``.

    Only PNG has pixels. Graphviz would also take ``dpi`` for SVG and PDF, but it scales their
    content without their viewBox (2.43 cuts the picture off), so ``--dpi`` with them, or with DOT
    text that may be rendered to them later, is refused rather than ignored.
    """
    if dpi is None:
        return DEFAULT_DPI
    low, high = DPI_RANGE
    if not low <= dpi <= high:
        raise UsageError(f"--dpi {dpi} is out of range: use {low} to {high} (default {DEFAULT_DPI})")
    if fmt != "png":
        hint = "dot -Tpng -Gdpi=N does it for DOT text" if fmt == "dot" else f".{fmt} is vector and scales freely"
        raise UsageError(f"--dpi sets the resolution of .png only ({hint}); drop --dpi or write .png")
    return dpi


def with_dpi(dot_text: str, dpi: int) -> str:
    """``dot_text`` with the graph attribute ``dpi`` set, as the statement after its first line
    (``digraph "..." {``), where it applies to the whole graph."""
    first, _, rest = dot_text.partition("\n")
    return f"{first}\n  graph [dpi={dpi}];\n{rest}"


def render_bytes(dot_text: str, fmt: str, dpi: int = DEFAULT_DPI) -> bytes:
    """``dot_text`` as ``fmt`` bytes: the text itself for ``dot``, else Graphviz's rendering (a PNG
    at ``dpi`` pixels per inch).

    Raises ``MissingDependency`` (one line with the install command) when ``dot`` is missing, and
    ``ResnetInspectError`` when it fails or runs past ``dot_timeout()`` seconds (a hung ``dot`` is
    stopped), before anything is written. ``dot`` is run directly rather than through the
    ``graphviz`` package, whose ``pipe`` cannot be given a timeout.
    """
    if fmt == "dot":
        return dot_text.encode("utf-8")
    if fmt not in FORMATS:
        raise UsageError(f"format {fmt!r} is not known; use one of {', '.join(FORMATS)}")
    if fmt == "png":
        dot_text = with_dpi(dot_text, dpi)
    program = shutil.which("dot")
    if program is None:
        raise MissingDependency(f"writing .{fmt} needs Graphviz's 'dot' program, which is not on PATH: {INSTALL_HINT}")
    return _run_dot(program, dot_text, fmt, dot_timeout())


def dot_timeout() -> float:
    """Seconds ``dot`` may take: ``RESNET_INSPECT_DOT_TIMEOUT`` if set, else ``DOT_TIMEOUT``."""
    text = os.environ.get(DOT_TIMEOUT_ENV, "").strip()
    if not text:
        return DOT_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not (math.isfinite(seconds) and seconds > 0):
        raise UsageError(f"{DOT_TIMEOUT_ENV}={text[:40]!r} is not a number of seconds above 0")
    return seconds


def _run_dot(program: str, dot_text: str, fmt: str, timeout: float) -> bytes:
    """Graphviz's output for ``dot_text``, or one-line errors: ``dot`` failed, or it ran past
    ``timeout`` and was stopped, with everything it started (its own session, killed whole)."""
    proc = subprocess.Popen([program, f"-T{fmt}"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        data, err = proc.communicate(dot_text.encode("utf-8"), timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_session(proc)
        raise ResnetInspectError(
            f"Graphviz 'dot' did not finish rendering .{fmt} within {timeout:g} s and was stopped; nothing written "
            f"(set {DOT_TIMEOUT_ENV}=SECONDS to wait longer, or write .dot)"
        ) from None
    except BaseException:
        _kill_session(proc)
        raise
    if proc.returncode != 0:
        stderr = err.decode("utf-8", "replace").strip()
        detail = stderr.splitlines()[-1] if stderr else f"exit status {proc.returncode}"
        raise ResnetInspectError(f"Graphviz 'dot' failed to render .{fmt}: {detail[:200]}")
    return data


def _kill_session(proc: subprocess.Popen[bytes]) -> None:
    """Stop ``dot`` and whatever it started (a wrapper script's children), then reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.communicate()


def render_file(dot_text: str, path: Path, fmt: str, dpi: int = DEFAULT_DPI) -> None:
    """Write ``dot_text`` (or its rendering, a PNG at ``dpi``) to ``path``, whole or not at all."""
    from ..report.output import write_atomic

    write_atomic(path, render_bytes(dot_text, fmt, dpi))


__all__ = [
    "DEFAULT_DPI", "DPI_RANGE", "FORMATS", "LEVELS", "check_dpi", "compare_specs", "diagram_text", "find_block",
    "format_for", "render_bytes", "render_file", "with_dpi",
]
