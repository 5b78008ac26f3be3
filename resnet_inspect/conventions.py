"""What other counting tools print for a network, worked out from its plan, without torch.

Every tool that "counts FLOPs" counts something different. This module gives, for each of them,
the exact integer it prints for the module ``build_model`` makes from a spec (torchvision's
classes and idioms, batch 1, eval mode), so a user can tell why ptflops says 4.13 G where
torchvision says 4.09 G, and ``tests/test_conventions.py`` holds each number equal to the tool's
own output. The rules below were read from each tool's source (the versions in ``TOOL_TEXT``):

| op (per call)            | torchvision | fvcore   | ptflops pytorch | ptflops aten | thop          | torchinfo   | FlopCounterMode |
|--------------------------|-------------|----------|-----------------|--------------|---------------|-------------|-----------------|
| conv                     | MACs        | MACs     | MACs + bias     | MACs + bias  | MACs          | MACs + bias | 2 x MACs        |
| linear                   | MACs        | MACs     | MACs + bias     | MACs + bias  | MACs          | params      | 2 x MACs        |
| batch_norm (affine)      | 0           | 2 x n    | 2 x n           | 0            | 4 x n         | 2 x C       | 0               |
| batch_norm (no affine)   | 0           | n        | n               | 0            | 2 x n         | 0           | 0               |
| relu                     | 0           | 0        | 2 x n           | 0            | 0             | 0           | 0               |
| max_pool                 | 0           | 0        | 2 x input n     | 0            | 0             | 0           | 0               |
| avg_pool (ResNet-D)      | 0           | 0        | 2 x input n     | 0            | output n      | 0           | 0               |
| adaptive_avg_pool2d      | 0           | input n  | 2 x input n     | 0            | (k + 1) x out | 0           | 0               |
| add, zero_pad            | 0           | 0        | 0               | 0            | 0             | 0           | 0               |

``n`` is the layer's elements; "bias" one per output element, where the layer has a bias;
torchinfo's linear is its weight and bias count, whatever the positions. ptflops' pytorch backend
counts ReLU and the pools twice because its module hook and its patch of ``torch.nn.functional``
both see the same call (``nn.ReLU.forward`` calls ``F.relu``). Module hooks fire on every call,
so a ``relu`` module a block calls three times counts three times in every tool that counts it.

The rules hold for the ops a spec's plan contains, computed the way the builder computes them
(``nn.ReLU`` modules, additions written ``out += identity`` or ``out + x``, option A's shortcut as
slicing and ``F.pad``). Other ops (``norm``, ``activation``, ``mean``, ``mul``, ``other``) count
differently in each tool depending on whether they are modules or function calls, which a plan
does not record, so ``layer_counts`` refuses them rather than guess.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from .counts import Analysis
from .errors import UsageError
from .plan import Block, BlockKey, Layer, numel
from .suggest import did_you_mean

#: The tools, in report order; JSON ``conventions`` keys.
CONVENTIONS: Final = (
    "torchvision", "fvcore", "ptflops_pytorch", "ptflops_aten", "thop", "torchinfo", "flop_counter_mode",
)
#: What each tool's number is made of; every count falls in exactly one.
CATEGORIES: Final = ("conv", "linear", "batch_norm", "relu", "pooling", "add", "bias")
#: The ops whose count in every tool follows from the plan alone (a spec's plan has no others).
SUPPORTED_OPS: Final = frozenset(
    {"conv", "linear", "batch_norm", "relu", "max_pool", "avg_pool", "adaptive_avg_pool2d", "add", "zero_pad"}
)

#: What each tool is and the call whose number the convention reproduces.
TOOL_TEXT: Final[dict[str, str]] = {
    "torchvision": "torchvision's weights metadata (`GFLOPS`, 3 decimals), conv + linear multiply-adds",
    "fvcore": "fvcore 0.1.5 `FlopCountAnalysis(model, x).total()`, default op handles, eval mode",
    "ptflops_pytorch": "ptflops 0.7.5 `get_model_complexity_info(model, (3, H, W), as_strings=False)`, "
                       "default `pytorch` backend (module hooks + patched torch.nn.functional)",
    "ptflops_aten": "ptflops 0.7.5 `get_model_complexity_info(..., backend='aten')` (aten ops via "
                    "TorchDispatchMode)",
    "thop": "thop 0.1.1 `profile(model, inputs=(x,))[0]` (module forward hooks)",
    "torchinfo": "torchinfo 1.8 `summary(model, input_size=(1, 3, H, W)).total_mult_adds`",
    "flop_counter_mode": "torch `torch.utils.flop_counter.FlopCounterMode().get_total_flops()` (FLOPs, "
                         "2 per multiply-add)",
}

#: One sentence each: how the tool's number differs from ours (``macs``: conv + linear multiply-adds).
DIFFERS: Final[dict[str, str]] = {
    "torchvision": "The same count as ours, conv and linear multiply-adds without biases, published "
                   "rounded to three decimals (ResNet-50: 4.089).",
    "fvcore": "Adds eval-mode BatchNorm at 2 per element (1 without affine) and the global average pool "
              "at 1 per input element; ReLU, max and average pooling, additions and biases count nothing.",
    "ptflops_pytorch": "Adds BatchNorm at 2 per element, the linear bias, and ReLU, max-pool and average "
                       "pools at 2 per input element on every call (its module hook and its patched "
                       "torch.nn.functional both count the one call), but not the residual additions.",
    "ptflops_aten": "Adds only the biases, one per output element of a conv or linear layer that has one "
                    "(ResNet-50's classifier: 1,000 above ours).",
    "thop": "Adds BatchNorm at 4 per element (2 per element, doubled again for affine), the global "
            "average pool at H x W + 1 per output element and the ResNet-D average pool at 1 per output "
            "element; no biases, ReLU, max-pool or additions.",
    "torchinfo": "Adds biases (one per output element) and each BatchNorm's 2 x channels parameters "
                 "once per call, not per element, and nothing for parameter-free layers.",
    "flop_counter_mode": "Counts FLOPs, 2 per conv and linear multiply-add, so exactly twice ours; "
                         "no biases, BatchNorm, pooling or activations.",
}

_INDEX: Final = {c: i for i, c in enumerate(CATEGORIES)}
_Vector = tuple[int, ...]



def _conv_macs(ly: Layer) -> int:
    return numel(ly.out_shape) * (ly.in_shape[0] // ly.groups) * ly.kernel_area


def _linear_macs(ly: Layer) -> int:
    return ly.in_shape[0] * numel(ly.out_shape)


def _bias(ly: Layer) -> int:
    """One addition per output element where the conv or linear layer has a bias."""
    return numel(ly.out_shape) if ly.bias else 0


def _vec(**counts: int) -> _Vector:
    v = [0] * len(CATEGORIES)
    for name, n in counts.items():
        v[_INDEX[name]] = n
    return tuple(v)


_ZERO: Final = _vec()


def _torchvision(ly: Layer) -> _Vector:
    """Conv and linear multiply-adds only: what torchvision publishes, and our own ``macs``."""
    if ly.op == "conv":
        return _vec(conv=_conv_macs(ly))
    if ly.op == "linear":
        return _vec(linear=_linear_macs(ly))
    return _ZERO


def _flop_counter_mode(ly: Layer) -> _Vector:
    """torch's formulas for aten convolution / addmm / mm: 2 per multiply-add, biases ignored."""
    return tuple(2 * n for n in _torchvision(ly))


def _fvcore(ly: Layer) -> _Vector:
    """fvcore's default handles: conv, linear (no bias), eval-mode batch_norm (``batchnorm_flop_jit``:
    2 per input element with affine, 1 without), adaptive_avg_pool2d (1 per input element).
    ``relu_``, ``max_pool2d``, ``avg_pool2d``, ``add_``/``add`` have no handle and count 0."""
    if ly.op == "batch_norm":
        return _vec(batch_norm=(2 if ly.affine else 1) * numel(ly.in_shape))
    if ly.op == "adaptive_avg_pool2d":
        return _vec(pooling=numel(ly.in_shape))
    return _torchvision(ly)


def _ptflops_aten(ly: Layer) -> _Vector:
    """ptflops' aten mapping: ``convolution`` and ``addmm`` with their bias (batch x output
    elements); nothing else a ResNet runs is in ``ATEN_OPS_MAPPING``."""
    if ly.op in ("conv", "linear"):
        return tuple(a + b for a, b in zip(_torchvision(ly), _vec(bias=_bias(ly))))
    return _ZERO


def _ptflops_pytorch(ly: Layer) -> _Vector:
    """ptflops' module hooks (``pytorch_ops.MODULES_MAPPING``), each run on every call, plus its
    patched ``F.relu`` / ``F.max_pool2d`` / ``F.avg_pool2d`` / ``F.adaptive_avg_pool2d``, which the
    modules' own ``forward`` calls: 1 per input element again. ``+=`` and ``+`` are not patched."""
    op, n_in = ly.op, numel(ly.in_shape)
    if op == "batch_norm":  # bn_flops_counter_hook: input elements, x2 with affine
        return _vec(batch_norm=(2 if ly.affine else 1) * n_in)
    if op == "relu":  # relu_flops_counter_hook (output elements) + F.relu (input elements)
        return _vec(relu=numel(ly.out_shape) + n_in)
    if op in ("max_pool", "avg_pool", "adaptive_avg_pool2d"):  # pool_flops_counter_hook + F.*pool*
        return _vec(pooling=2 * n_in)
    return _ptflops_aten(ly)  # conv and linear hooks: multiply-adds + bias per output element


def _thop(ly: Layer) -> _Vector:
    """thop's ``register_hooks``: ``count_convNd`` and ``count_linear`` (no bias), ``count_normalization``
    (``calculate_norm``'s 2 per input element, doubled for affine), ``count_avgpool`` (1 per output
    element), ``count_adap_avgpool`` ((kernel + 1) per output element, in float64 then ``int``);
    ReLU and max-pool are ``zero_ops``."""
    op = ly.op
    if op == "batch_norm":
        return _vec(batch_norm=(4 if ly.affine else 2) * numel(ly.in_shape))
    if op == "avg_pool":
        return _vec(pooling=numel(ly.out_shape))
    if op == "adaptive_avg_pool2d":
        (_, ih, iw), (_, oh, ow) = ly.in_shape, ly.out_shape
        return _vec(pooling=int(((ih / oh) * (iw / ow) + 1) * numel(ly.out_shape)))
    return _torchvision(ly)


def _torchinfo(ly: Layer) -> _Vector:
    """torchinfo's ``LayerInfo.calculate_macs``: for a module with ``weight``/``bias``, a conv's
    parameters times its output positions, any other module's parameters times the batch; modules
    without parameters (ReLU, pools) count 0."""
    op = ly.op
    if op == "conv":
        return _vec(conv=_conv_macs(ly), bias=_bias(ly))
    if op == "linear":
        c_in, c_out = ly.in_shape[0], ly.out_shape[0]
        return _vec(linear=c_in * c_out, bias=c_out if ly.bias else 0)
    if op == "batch_norm":
        return _vec(batch_norm=2 * ly.in_shape[0] if ly.affine else 0)
    return _ZERO


_RULES: Final[dict[str, Callable[[Layer], _Vector]]] = {
    "torchvision": _torchvision,
    "fvcore": _fvcore,
    "ptflops_pytorch": _ptflops_pytorch,
    "ptflops_aten": _ptflops_aten,
    "thop": _thop,
    "torchinfo": _torchinfo,
    "flop_counter_mode": _flop_counter_mode,
}


def check_convention(name: str) -> str:
    """``name`` if it is a convention; otherwise a ``UsageError`` naming the closest and the valid ones."""
    if name in _RULES:
        return name
    raise UsageError(f"unknown counting convention {name!r}: {did_you_mean(name, CONVENTIONS)}valid: {', '.join(CONVENTIONS)}")


def _layer_vector(ly: Layer, rule: Callable[[Layer], _Vector], prefix: str = "") -> _Vector:
    if ly.op not in SUPPORTED_OPS:
        what = f"{ly.op} ({ly.detail})" if ly.detail else ly.op
        raise UsageError(
            f"{prefix}{ly.name}: how each tool counts this {what} depends on whether it is written as a module or a "
            "function, which a trace does not record; the conventions cover conv, linear, BN, ReLU, pooling and add"
        )
    return rule(ly)


def layer_counts(layer: Layer, convention: str) -> dict[str, int]:
    """What ``convention``'s tool counts for one call of ``layer``, by category (every category
    present, most of them 0)."""
    return dict(zip(CATEGORIES, _layer_vector(layer, _RULES[check_convention(convention)])))


def _sum(layers: Iterable[Layer], rule: Callable[[Layer], _Vector], prefix: str = "") -> _Vector:
    acc = [0] * len(CATEGORIES)
    for ly in layers:
        for i, n in enumerate(_layer_vector(ly, rule, prefix)):
            acc[i] += n
    return tuple(acc)


@dataclass(frozen=True)
class ConventionCounts:
    """One tool's number for a network: stem, each unit (main path + shortcut), head, and the whole
    by category. ``total`` is what the tool prints."""

    name: str
    stem: int
    blocks: tuple[int, ...]
    head: int
    by_category: dict[str, int]

    @property
    def total(self) -> int:
        return self.stem + sum(self.blocks) + self.head


def convention_counts(a: Analysis, convention: str) -> ConventionCounts:
    """``convention``'s count of the analysed network. Units alike but for their names share their
    layer templates (``Block.key``) and are counted once, so 10,000-unit networks stay fast."""
    rule = _RULES[check_convention(convention)]
    plan = a.plan
    memo: dict[BlockKey, _Vector] = {}
    uses: Counter[BlockKey] = Counter()
    blocks: list[int] = []
    for blk in plan.blocks:
        key = blk.key
        if key not in memo:
            memo[key] = _block_vector(blk, rule)
        uses[key] += 1
        blocks.append(sum(memo[key]))
    stem, head = _sum(plan.stem, rule), _sum(plan.head, rule)
    totals = [s + h for s, h in zip(stem, head)]
    for key, n in uses.items():
        for i, v in enumerate(memo[key]):
            totals[i] += n * v
    return ConventionCounts(convention, sum(stem), tuple(blocks), sum(head), dict(zip(CATEGORIES, totals)))


def _block_vector(blk: Block, rule: Callable[[Layer], _Vector]) -> _Vector:
    """A unit's count, main path and shortcut together, from its templates (names do not matter)."""
    prefix = blk.name + "." if blk.relative_names else ""
    return _sum((*blk.main_template, *blk.shortcut_template), rule, prefix)


def all_conventions(a: Analysis) -> tuple[ConventionCounts, ...]:
    """Every tool's count, in ``CONVENTIONS`` order."""
    return tuple(convention_counts(a, c) for c in CONVENTIONS)


def macs_counter(convention: str) -> Callable[[Sequence[Layer]], int]:
    """What ``counts.count_plan(plan, macs=...)`` needs to count a plan's MACs as ``convention``'s
    tool does (``--convention`` on summary, compare and check)."""
    rule = _RULES[check_convention(convention)]

    def count(layers: Sequence[Layer]) -> int:
        return sum(_sum(layers, rule))

    return count


def recount(analysis: Analysis, convention: str | None) -> Analysis:
    """``analysis`` with its MACs counted as ``convention``'s tool counts them (params unchanged);
    itself for ``None`` (ours). A budget written in fvcore's numbers is checked in fvcore's."""
    if convention is None:
        return analysis
    from .counts import count_plan

    return count_plan(analysis.plan, macs_counter(convention))
