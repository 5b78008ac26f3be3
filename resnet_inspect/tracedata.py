"""What one forward pass of a module did, op by op: the record ``nn.trace`` writes and ``structure``
reads. Pure data, no torch, so the structure finding can be tested and read without running a model.

Every tensor the pass reads or makes is a *value*, numbered in the order it appears; value 0 is the
network's input. An op reads values (``inputs``; parameters and buffers are listed by name, not as
values) and makes values (``outputs``); an in-place op makes a new value for the tensor it
overwrites, so the numbering is a data-flow graph even for ``out += residual``.

Op names are normalised from the aten op (``aten`` keeps the original):

| op | from |
|---|---|
| ``conv`` | convolution (attrs: kernel, stride, padding, dilation, groups, bias) |
| ``linear`` | addmm / mm / linear with a weight parameter (attrs: bias) |
| ``batch_norm`` | native_batch_norm and its variants (attrs: affine) |
| ``norm`` | group, layer and instance norm (attrs: affine) |
| ``relu`` / ``activation`` | relu; sigmoid, hardsigmoid, silu, gelu, hardtanh... |
| ``max_pool`` / ``avg_pool`` | max_pool2d(_with_indices), avg_pool2d (attrs: kernel, stride, padding) |
| ``adaptive_avg_pool2d`` / ``mean`` | adaptive average pooling; ``x.mean(dims)`` |
| ``add`` / ``mul`` | add, add_; mul, mul_ (attrs: scalar when the other operand is a number) |
| ``pad`` / ``slice`` / ``cat`` | constant_pad_nd (attrs: pad); slice (attrs: dim, step, start, end); cat (attrs: dim) |
| ``view`` | views and copies that move no data through any computation (view, t, flatten, clone...) |
| ``const`` | tensors made from nothing the input decides (zeros, empty, full, ``x * 0``) |
| ``other`` | anything else, named by ``aten`` |
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TensorShape = tuple[int, ...]


@dataclass(frozen=True, slots=True)
class OpRecord:
    op: str
    aten: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    in_shapes: tuple[TensorShape, ...]
    out_shapes: tuple[TensorShape, ...]
    #: The innermost module call the op ran in (an index into ``Trace.calls``).
    call: int
    #: Qualified names of the parameters the op read, and their element count.
    params: tuple[str, ...] = ()
    param_numel: int = 0
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ModuleCall:
    """One call of a module: ops ``first_op`` up to (not including) ``end_op`` ran inside it."""

    path: str
    type_name: str
    parent: int
    first_op: int
    end_op: int


@dataclass(frozen=True)
class Trace:
    name: str
    #: The input without its batch dimension: ``(C, H, W)``.
    input_shape: tuple[int, int, int]
    ops: tuple[OpRecord, ...]
    calls: tuple[ModuleCall, ...]
    #: Parameters no op read (modules never called): ``(name, numel)``.
    unused_params: tuple[tuple[str, int], ...] = ()
    notes: tuple[str, ...] = ()
