"""Spec -> a real ``torch.nn.Module``: the second, independent derivation that ``verify`` checks the
analytic engine against.

Written from the spec following torchvision's ``models/resnet.py`` (``BasicBlock``, ``Bottleneck``,
``_make_layer`` deciding the ``downsample`` Sequential), not by walking ``plan.py``: if both were
derived from the plan, agreeing would prove nothing.

Module names (and so ``state_dict`` keys):

* torchvision-style networks use torchvision's names exactly (``conv1``, ``bn1``, ``relu``,
  ``maxpool``, ``layerN.M.conv1`` / ``bn1`` … ``conv3`` / ``bn3``, ``layerN.M.downsample.0`` /
  ``.1``, ``avgpool``, ``fc``), so torchvision weights load with ``strict=True``;
* the deep stem and ResNet-D shortcuts follow timm's ``resnet.py`` (``conv1.0/.1/.3/.4/.6``;
  ``downsample.0`` pool or ``Identity``, ``downsample.1`` conv, ``downsample.2`` BN);
* pre-activation units keep ``layerN.M`` with ``bn1, conv1, bn2, conv2(, bn3, conv3)``, a bare
  ``downsample.0`` conv (``downsample.1`` after a ResNet-D pool) and the head's ``bn_final``;
* option A's zero-padding shortcut is a parameter-free ``downsample`` (``ZeroPadShortcut``).

torch is imported at the top of this module, as everywhere in ``resnet_inspect.nn``; only the torch
side imports it (``resnet_inspect.build``, ``nn.verify``, ``nn.bench``, ``nn.memory`` and the ``build``
command), lazily, so ``summary`` never loads torch.
"""

from __future__ import annotations

from typing import Final

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..spec import ResNetSpec

#: Output channels of a block relative to its planes, per block kind (torchvision's ``expansion``).
_EXPANSION: Final = {"basic": 1, "bottleneck": 4, "single": 1}


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding 1, no bias (a BN follows or precedes it)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, groups=groups, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class ZeroPadShortcut(nn.Module):
    """He et al. (2015) option A: identity on a strided subsample, extra channels filled with zeros.

    No parameters. With stride 1 (a widening first block, e.g. a bottleneck's ``layer1.0``) it only
    pads. The input's channels come first and the zeros after them, so channel ``i`` of the input
    is added to channel ``i`` of the main path; ``verify`` checks this placement on the trace
    (``shortcut.offset``), since padding in front would cost exactly the same.
    """

    def __init__(self, stride: int, extra_channels: int) -> None:
        super().__init__()
        self.stride = stride
        self.extra_channels = extra_channels

    def forward(self, x: Tensor) -> Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.extra_channels:
            x = F.pad(x, (0, 0, 0, 0, 0, self.extra_channels))
        return x

    def extra_repr(self) -> str:
        return f"stride={self.stride}, extra_channels={self.extra_channels}"


# --- post-activation (v1) units, torchvision's structure ------------------------------------------


class BasicBlock(nn.Module):
    """Two 3x3 convs (torchvision's ``BasicBlock``); ``residual=False`` makes it a plain block."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 residual: bool = True) -> None:
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.residual = residual

    def forward(self, x: Tensor) -> Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.residual:
            if self.downsample is not None:
                identity = self.downsample(x)
            out += identity
        result: Tensor = self.relu(out)
        return result


class Bottleneck(nn.Module):
    """1x1 - 3x3 (grouped) - 1x1 (torchvision's ``Bottleneck``); ``stride_in`` picks which of the first
    two convs carries the stride (``"1x1"``: the paper, ``"3x3"``: torchvision, "ResNet v1.5")."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 groups: int = 1, base_width: int = 64, stride_in: str = "3x3", residual: bool = True) -> None:
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        s1, s3 = (stride, 1) if stride_in == "1x1" else (1, stride)
        self.conv1 = conv1x1(inplanes, width, s1)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, s3, groups)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.residual = residual

    def forward(self, x: Tensor) -> Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.residual:
            if self.downsample is not None:
                identity = self.downsample(x)
            out += identity
        result: Tensor = self.relu(out)
        return result


class SingleBlock(nn.Module):
    """One 3x3 conv + BN per unit (the ``single`` block kind)."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 residual: bool = True) -> None:
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.residual = residual

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn1(self.conv1(x))
        if self.residual:
            out += x if self.downsample is None else self.downsample(x)
        result: Tensor = self.relu(out)
        return result


# --- pre-activation (v2) units, He et al. (2016) / timm's resnetv2 ---------------------------------


class _PreActUnit(nn.Module):
    """Shared forward of the v2 units: BN-ReLU before every conv, the addition last, no ReLU after.

    A projection (``project_preact``) sees the pre-activated input, as in He et al. (2016) and
    timm's ``PreActBasic``/``PreActBottleneck``; identity and zero-padding take the raw input.
    """

    bn1: nn.BatchNorm2d
    relu: nn.ReLU
    downsample: nn.Module | None
    residual: bool
    project_preact: bool

    def _main(self, pre: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        pre = self.relu(self.bn1(x))
        out = self._main(pre)
        if not self.residual:
            return out
        if self.downsample is None:
            return out + x
        result: Tensor = out + self.downsample(pre if self.project_preact else x)
        return result


class PreActBasicBlock(_PreActUnit):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 residual: bool = True, project_preact: bool = True) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes)
        self.downsample = downsample
        self.residual = residual
        self.project_preact = project_preact

    def _main(self, pre: Tensor) -> Tensor:
        out = self.conv1(pre)
        result: Tensor = self.conv2(self.relu(self.bn2(out)))
        return result


class PreActBottleneck(_PreActUnit):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 groups: int = 1, base_width: int = 64, stride_in: str = "3x3", residual: bool = True,
                 project_preact: bool = True) -> None:
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        s1, s3 = (stride, 1) if stride_in == "1x1" else (1, stride)
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.conv1 = conv1x1(inplanes, width, s1)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, s3, groups)
        self.bn3 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.downsample = downsample
        self.residual = residual
        self.project_preact = project_preact

    def _main(self, pre: Tensor) -> Tensor:
        out = self.conv1(pre)
        out = self.conv2(self.relu(self.bn2(out)))
        result: Tensor = self.conv3(self.relu(self.bn3(out)))
        return result


class PreActSingleBlock(_PreActUnit):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 residual: bool = True, project_preact: bool = True) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.downsample = downsample
        self.residual = residual
        self.project_preact = project_preact

    def _main(self, pre: Tensor) -> Tensor:
        result: Tensor = self.conv1(pre)
        return result


# --- the network ----------------------------------------------------------------------------------


class ResNet(nn.Module):
    """Stem, ``layer1`` … ``layerN`` (``nn.Sequential`` of units), head; torchvision's layout.

    The attributes present depend on the spec: ``bn1``/``relu`` after the stem conv(s) for v1
    networks, ``maxpool`` for the ImageNet and deep stems, ``bn_final`` + ``relu`` before the
    pooling for v2 networks.
    """

    def __init__(self, spec: ResNetSpec) -> None:
        super().__init__()
        self.spec = spec
        self.preact = spec.preact
        w = spec.stem_width
        stem_conv: nn.Module
        if spec.stem == "cifar":
            stem_conv = conv3x3(spec.in_channels, w)
        elif spec.stem == "deep":
            half = w // 2
            stem_conv = nn.Sequential(
                conv3x3(spec.in_channels, half, stride=2), nn.BatchNorm2d(half), nn.ReLU(inplace=True),
                conv3x3(half, half), nn.BatchNorm2d(half), nn.ReLU(inplace=True),
                conv3x3(half, w),
            )
        else:
            stem_conv = nn.Conv2d(spec.in_channels, w, kernel_size=7, stride=2, padding=3, bias=False)
        self.conv1 = stem_conv
        if not spec.preact:
            self.bn1 = nn.BatchNorm2d(w)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool: nn.Module | None = None
        if spec.stem != "cifar":
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

        self.inplanes = w
        self.num_stages = len(spec.layers)
        for i, (planes, blocks) in enumerate(zip(spec.widths, spec.layers)):
            self.add_module(f"layer{i + 1}", self._make_layer(planes, blocks, stride=1 if i == 0 else 2))

        if spec.preact:
            self.bn_final = nn.BatchNorm2d(self.inplanes)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(self.inplanes, spec.num_classes)

    def _shortcut(self, planes_out: int, stride: int) -> tuple[nn.Module | None, bool]:
        """The ``downsample`` module of a unit and whether the unit adds a shortcut at all.

        torchvision's rule: a shortcut module where the stride or the channel count changes
        (option C: everywhere); what the module is depends on the option.
        """
        option = self.spec.shortcut
        if option == "none":
            return None, False
        changes = stride != 1 or self.inplanes != planes_out
        if not changes and option != "C":
            return None, True
        if option == "A":
            return ZeroPadShortcut(stride, planes_out - self.inplanes), True
        with_bn = not self.spec.preact  # v2 projections are a bare conv (the next unit normalises)
        if option == "D":
            pool: nn.Module = (
                nn.AvgPool2d(2, stride, ceil_mode=True, count_include_pad=False) if stride != 1 else nn.Identity()
            )
            parts = [pool, conv1x1(self.inplanes, planes_out)]
        else:
            parts = [conv1x1(self.inplanes, planes_out, stride)]
        if with_bn:
            parts.append(nn.BatchNorm2d(planes_out))
        return nn.Sequential(*parts), True

    def _unit(self, planes: int, stride: int, downsample: nn.Module | None, residual: bool) -> nn.Module:
        s = self.spec
        project_preact = not isinstance(downsample, ZeroPadShortcut)
        if s.block == "bottleneck":
            if s.preact:
                return PreActBottleneck(self.inplanes, planes, stride, downsample, s.groups, s.width_per_group,
                                        s.stride_in, residual, project_preact)
            return Bottleneck(self.inplanes, planes, stride, downsample, s.groups, s.width_per_group, s.stride_in, residual)
        if s.block == "basic":
            if s.preact:
                return PreActBasicBlock(self.inplanes, planes, stride, downsample, residual, project_preact)
            return BasicBlock(self.inplanes, planes, stride, downsample, residual)
        if s.preact:
            return PreActSingleBlock(self.inplanes, planes, stride, downsample, residual, project_preact)
        return SingleBlock(self.inplanes, planes, stride, downsample, residual)

    def _make_layer(self, planes: int, blocks: int, stride: int) -> nn.Sequential:
        planes_out = planes * _EXPANSION[self.spec.block]
        units: list[nn.Module] = []
        for i in range(blocks):
            s = stride if i == 0 else 1
            downsample, residual = self._shortcut(planes_out, s)
            units.append(self._unit(planes, s, downsample, residual))
            self.inplanes = planes_out
        return nn.Sequential(*units)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(x)
        if not self.preact:
            x = self.relu(self.bn1(x))
        if self.maxpool is not None:
            x = self.maxpool(x)
        for i in range(self.num_stages):
            x = getattr(self, f"layer{i + 1}")(x)
        if self.preact:
            x = self.relu(self.bn_final(x))
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        result: Tensor = self.fc(x)
        return result


def init_weights(model: nn.Module) -> None:
    """torchvision's initialisation: Kaiming normal (fan_out, ReLU) for convs, BN weight 1 and bias 0,
    ``nn.Linear``'s own default."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)


def build_model(spec: ResNetSpec, seed: int | None = None) -> ResNet:
    """The module for ``spec`` with torchvision's initialisation.

    ``seed`` makes the weights reproducible without touching the caller's global RNG state.
    """
    if seed is None:
        model = ResNet(spec)
        init_weights(model)
        return model
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ResNet(spec)
        init_weights(model)
    return model


def build_for_counting(spec: ResNetSpec) -> ResNet:
    """The same module as ``build_model`` (same classes, names, shapes), made only to be counted.

    Counting needs shapes, not values, so the random initialisation and the memory are skipped:
    the module is created on the meta device, then every parameter and floating-point buffer
    becomes a view of one shared zero (or, for BN running variances, one) buffer as large as the
    largest tensor. ``verify`` of a 152-layer network then spends its time in fvcore, not in
    drawing 60 million random numbers. Never save or train such a module: its tensors alias.
    """
    with torch.device("meta"):
        model = ResNet(spec)
    largest = max((t.numel() for t in (*model.parameters(), *model.buffers())), default=1)
    zeros = torch.zeros(largest)
    ones = torch.ones(largest)
    for module in model.modules():
        for name, p in list(module._parameters.items()):
            if p is not None:
                module._parameters[name] = nn.Parameter(zeros[: p.numel()].view(p.shape), requires_grad=False)
        for name, b in list(module._buffers.items()):
            if b is None:
                continue
            if b.is_floating_point():
                source = ones if name == "running_var" else zeros
                module._buffers[name] = source[: b.numel()].view(b.shape)
            else:
                module._buffers[name] = torch.zeros(b.shape, dtype=b.dtype)
    return model
