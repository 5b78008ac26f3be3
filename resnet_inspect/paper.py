"""ImageNet errors that He et al. (2015) measured, attached only to the configurations they measured.

The errors are data, with their source. ``paper_result(spec)`` matches on the architecture fields,
never on the preset's name: ``resnet34:shortcut=C`` finds ResNet-34 C, a ``my_net.toml`` with the
same fields finds it too, and ``resnet34:num_classes=10`` finds nothing. There is no interpolation
and no guess: a network the paper did not train has no errors here.

What counts as "the paper's network" (He et al. 2015, Table 1 and Section 3.4):

- ImageNet stem (7x7/2 conv with 64 filters, 3x3/2 max-pool), 3-channel 224x224 input, 1000
  classes, widths 64-128-256-512, post-activation units (v1), no grouped convs;
- basic blocks 2-2-2-2 (18 layers) or 3-4-6-3 (34 layers); where a basic block downsamples does not
  depend on ``stride_in`` (that field only moves a bottleneck's stride), so it is not checked;
- bottleneck blocks 3-4-6-3 / 3-4-23-3 / 3-8-36-3 with the stride on the first 1x1 conv
  (``stride_in=1x1``) and option B. torchvision's presets put the stride on the 3x3 conv ("v1.5"):
  a different network with 0.23 GMACs more, whose errors the paper did not report, so ``resnet50``
  as torchvision builds it gets no paper errors; ``resnet50:stride_in=1x1`` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .spec import ResNetSpec

SOURCE: Final = "He et al. 2015, Deep Residual Learning for Image Recognition"


@dataclass(frozen=True)
class PaperResult:
    """One measured network: ImageNet validation error (%, 10-crop testing)."""

    label: str  # the paper's name for the network, e.g. "ResNet-34 B"
    block: str
    layers: tuple[int, ...]
    shortcut: str  # A | B | C | none
    top1: float
    top5: float | None  # Table 2 reports top-1 only
    table: str  # "Table 3" or "Table 2"

    @property
    def source(self) -> str:
        return f"{SOURCE}, {self.table} (ImageNet val, 10-crop)"

    def to_dict(self) -> dict[str, object]:
        return {"label": self.label, "top1": self.top1, "top5": self.top5, "source": self.source}


_34: Final = (3, 4, 6, 3)
_18: Final = (2, 2, 2, 2)

#: Table 3 first (top-1 and top-5); Table 2 adds the 18-layer networks (top-1 only). ResNet-18 in
#: Table 2 uses option A ("identity mapping for all shortcuts and zero-padding", Section 4.1), as
#: does ResNet-34 there (25.03, the same network as Table 3's ResNet-34 A).
RESULTS: Final[tuple[PaperResult, ...]] = (
    PaperResult("plain-34", "basic", _34, "none", 28.54, 10.02, "Table 3"),
    PaperResult("ResNet-34 A", "basic", _34, "A", 25.03, 7.76, "Table 3"),
    PaperResult("ResNet-34 B", "basic", _34, "B", 24.52, 7.46, "Table 3"),
    PaperResult("ResNet-34 C", "basic", _34, "C", 24.19, 7.40, "Table 3"),
    PaperResult("ResNet-50", "bottleneck", (3, 4, 6, 3), "B", 22.85, 6.71, "Table 3"),
    PaperResult("ResNet-101", "bottleneck", (3, 4, 23, 3), "B", 21.75, 6.05, "Table 3"),
    PaperResult("ResNet-152", "bottleneck", (3, 8, 36, 3), "B", 21.43, 5.71, "Table 3"),
    PaperResult("plain-18", "basic", _18, "none", 27.94, None, "Table 2"),
    PaperResult("ResNet-18 A", "basic", _18, "A", 27.88, None, "Table 2"),
)


def _is_paper_imagenet_net(spec: ResNetSpec) -> bool:
    """The fields every network of the paper's ImageNet tables shares."""
    return (
        spec.stem == "imagenet"
        and spec.stem_width == 64
        and spec.widths == (64, 128, 256, 512)
        and spec.groups == 1
        and spec.width_per_group == 64
        and not spec.preact
        and spec.input_size == 224
        and spec.in_channels == 3
        and spec.num_classes == 1000
    )


def paper_result(spec: ResNetSpec) -> PaperResult | None:
    """The paper's measurement of exactly this network, or None if the paper did not measure it."""
    if not _is_paper_imagenet_net(spec):
        return None
    if spec.block == "bottleneck" and spec.stride_in != "1x1":
        return None
    for r in RESULTS:
        if r.block == spec.block and r.layers == spec.layers and r.shortcut == spec.shortcut:
            return r
    return None
