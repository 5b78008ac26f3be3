"""Published figures, copied from ../shared/reference/published.md (sources named per table).

These are the independent truth the analytic engine is tested against; never paste the tool's
own output here.
"""

from __future__ import annotations

# torchvision weights metadata (num_params, GFLOPS); stride in the 3x3 conv, option B shortcuts.
TORCHVISION = {
    "resnet18": (11_689_512, 1.81),
    "resnet34": (21_797_672, 3.66),
    "resnet50": (25_557_032, 4.09),
    "resnet101": (44_549_160, 7.80),
    "resnet152": (60_192_808, 11.51),
    "resnext50_32x4d": (25_028_904, 4.23),
    "resnext101_32x8d": (88_791_336, 16.41),
    "resnext101_64x4d": (83_455_272, 15.46),
    "wide_resnet50_2": (68_883_240, 11.40),
    "wide_resnet101_2": (126_886_696, 22.75),
}

# He et al. 2015 Table 1: FLOPs in 1e9 multiply-adds, stride on the first 1x1 conv, option A for
# 18/34 (the paper's plain/A networks have no projection cost).
PAPER_TABLE1_GMACS = {
    "resnet18:shortcut=A": 1.8,
    "resnet34:shortcut=A": 3.6,
    "resnet50:stride_in=1x1": 3.8,
    "resnet101:stride_in=1x1": 7.6,
    "resnet152:stride_in=1x1": 11.3,
}

# He et al. 2015 Section 4.2 / Table 6: CIFAR-10 ResNets, parameters in millions.
CIFAR_PARAMS_M = {
    "cifar_resnet20": 0.27,
    "cifar_resnet32": 0.46,
    "cifar_resnet44": 0.66,
    "cifar_resnet56": 0.85,
    "cifar_resnet110": 1.7,
    "cifar_resnet1202": 19.4,
}
