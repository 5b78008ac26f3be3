"""State-dict key layouts: ours (torchvision's names, timm's for the deep stem and ResNet-D) and
timm's ``resnetv2`` layout for pre-activation networks, mapped one to one in both directions.

Pure string functions (no torch), used by ``build --names timm`` to write weights timm's
``resnetv2_*`` models load, and by ``inspect`` to read them.
"""

from __future__ import annotations

import re
from typing import Final

#: timm resnetv2 module -> ours, outside the stages.
TIMM_V2_STEM: Final = {
    "stem.conv": "conv1", "stem.norm": "bn1",
    "stem.conv1": "conv1.0", "stem.norm1": "conv1.1", "stem.conv2": "conv1.3", "stem.norm2": "conv1.4",
    "stem.conv3": "conv1.6", "stem.norm3": "bn1",
    "norm": "bn_final", "head.fc": "fc",
}
#: timm resnetv2 module inside a block -> ours (plain projection; see ``from_timm_resnetv2``).
TIMM_V2_BLOCK: Final = {
    "conv1": "conv1", "conv2": "conv2", "conv3": "conv3", "norm1": "bn1", "norm2": "bn2", "norm3": "bn3",
    "downsample.conv": "downsample.0", "downsample.norm": "downsample.1",
}
_V2_STAGE: Final = re.compile(r"^stages\.(\d+)\.blocks\.(\d+)\.(.+)$")
_OURS_BLOCK: Final = re.compile(r"^layer(\d+)\.(\d+)\.(.+)$")


def from_timm_resnetv2(key: str) -> str | None:
    """Our key for a timm ``resnetv2`` key (``stages.0.blocks.0.norm1.weight`` ->
    ``layer1.0.bn1.weight``), or None when the key is not part of that layout."""
    module, _, field = key.rpartition(".")
    if module in TIMM_V2_STEM:
        return f"{TIMM_V2_STEM[module]}.{field}"
    m = _V2_STAGE.match(key)
    if m:
        stage, block, rest = int(m.group(1)), int(m.group(2)), m.group(3)
        sub, _, fld = rest.rpartition(".")
        if sub in TIMM_V2_BLOCK:
            return f"layer{stage + 1}.{block}.{TIMM_V2_BLOCK[sub]}.{fld}"
    return None


_TO_TIMM_STEM: Final = {"conv1": "stem.conv", "bn1": "stem.norm"}
_TO_TIMM_DEEP_STEM: Final = {
    "conv1.0": "stem.conv1", "conv1.1": "stem.norm1", "conv1.3": "stem.conv2", "conv1.4": "stem.norm2",
    "conv1.6": "stem.conv3", "bn1": "stem.norm3",
}
_TO_TIMM_HEAD: Final = {"bn_final": "norm", "fc": "head.fc"}
_TO_TIMM_BLOCK: Final = {ours: timm for timm, ours in TIMM_V2_BLOCK.items()}


def to_timm_resnetv2(key: str, deep_stem: bool = False, avg_down: bool = False) -> str:
    """timm's ``resnetv2`` key for one of ours (the inverse of ``from_timm_resnetv2``).

    ``deep_stem`` selects ``stem.conv1/2/3``; ``avg_down`` (our shortcut D, timm's ``DownsampleAvg``)
    maps our ``downsample.1`` conv (after the weightless pool at ``.0``) to ``downsample.conv``.
    """
    module, _, field = key.rpartition(".")
    outside = {**(_TO_TIMM_DEEP_STEM if deep_stem else _TO_TIMM_STEM), **_TO_TIMM_HEAD}
    if module in outside:
        return f"{outside[module]}.{field}"
    m = _OURS_BLOCK.match(module)
    if m:
        stage, block, sub = int(m.group(1)), int(m.group(2)), m.group(3)
        if avg_down and sub.startswith("downsample."):
            sub = f"downsample.{int(sub.split('.')[1]) - 1}"
        if sub in _TO_TIMM_BLOCK:
            return f"stages.{stage - 1}.blocks.{block}.{_TO_TIMM_BLOCK[sub]}.{field}"
    raise KeyError(f"{key!r} has no counterpart in timm's resnetv2 layout")


# --- untrusted names --------------------------------------------------------------------------------

#: Longest checkpoint-supplied name shown as is; longer ones keep their start and end.
MAX_SHOWN: Final = 120


def printable(text: object, limit: int = MAX_SHOWN) -> str:
    """``text`` safe to print: every control or format character (ANSI escapes, carriage returns,
    bidi overrides, zero-width marks) replaced by ``?`` and long names shortened.

    Tensor names and file names come from the checkpoint, so a crafted name must not move the
    cursor, recolour the terminal or reorder what the user reads. Rich markup is a separate matter:
    table cells are escaped by the renderer, and ``markup_safe`` escapes free text.
    """
    import unicodedata

    raw = str(text)
    clean = "".join("?" if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") else ch
                    for ch in raw[: 4 * limit + 8])
    if len(clean) > limit:
        keep = max(limit - 3, 2)
        clean = clean[: keep // 2] + "..." + clean[len(clean) - (keep - keep // 2):]
    return clean


def markup_safe(text: object, limit: int = MAX_SHOWN * 4) -> str:
    """``printable`` text with rich markup escaped, for captions and titles (which rich renders)."""
    from rich.markup import escape

    return escape(printable(text, limit))
