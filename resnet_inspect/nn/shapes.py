"""Output shapes of the ops a ResNet runs, computed here instead of by torch's meta kernels.

Why: on the meta device several of these ops (convolution, batch norm, pooling, mean, elementwise
arithmetic) run Python decompositions whose first use imports ``torch._meta_registrations``,
sympy and ``torch._dynamo``: about two seconds before the first op, and milliseconds per op
after. The shapes themselves are a few lines of arithmetic, written after PyTorch's own shape
functions (``pooling_output_shape``, ``conv_output_size``). Each function checks what the real
kernel checks about shapes and raises the same kind of ``RuntimeError``, so a forward that fails
for real fails here with a message that names the mismatch. Ops not listed run torch's kernel.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

import torch

_META: Final = torch.device("meta")


def _empty(shape: Sequence[int], dtype: torch.dtype) -> torch.Tensor:
    return torch.empty(tuple(int(s) for s in shape), dtype=dtype, device=_META)


def pair(value: Any, default: int = 1) -> tuple[int, int]:
    """An aten int-or-pair argument (``3``, ``[3]``, ``[3, 5]``, ``[]``) as ``(h, w)``."""
    if isinstance(value, (list, tuple)):
        if not value:
            return (default, default)
        return (int(value[0]), int(value[-1]))
    return (int(value), int(value))


def pool_window(args: Sequence[Any]) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """Kernel, stride (the kernel when not given) and padding of a 2-D pooling op's arguments."""
    kernel = pair(args[1])
    stride = pair(args[2]) if len(args) > 2 and args[2] else kernel
    padding = pair(args[3], 0) if len(args) > 3 else (0, 0)
    return kernel, stride, padding


def _pool_out(size: int, kernel: int, pad: int, stride: int, dilation: int, ceil_mode: bool) -> int:
    """PyTorch's ``pooling_output_shape``: with ceil mode the last window must start inside the
    input or its left padding."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)
    out = span // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def convolution(args: Sequence[Any]) -> torch.Tensor:
    x, w = args[0], args[1]
    stride, padding, dilation = pair(args[3], 1), pair(args[4], 0), pair(args[5], 1)
    groups = int(args[8]) if len(args) > 8 else 1
    if x.dim() != 4 or w.dim() != 4:
        raise NotImplementedError  # 1-D and 3-D convs: torch's own kernel
    if bool(args[6]):
        raise NotImplementedError  # transposed
    if x.shape[1] != w.shape[1] * groups:
        raise RuntimeError(
            f"Given groups={groups}, weight of size {list(w.shape)}, expected input{list(x.shape)} to have "
            f"{w.shape[1] * groups} channels, but got {x.shape[1]} channels instead"
        )
    out = [x.shape[0], w.shape[0]]
    for i in (0, 1):
        size = (x.shape[2 + i] + 2 * padding[i] - dilation[i] * (w.shape[2 + i] - 1) - 1) // stride[i] + 1
        if size < 1:
            raise RuntimeError(
                f"Calculated output size: {size} is too small: input {list(x.shape)} for a "
                f"{w.shape[2]}x{w.shape[3]} kernel with padding {padding[i]}"
            )
        out.append(size)
    return _empty(out, x.dtype)


def max_pool(args: Sequence[Any]) -> tuple[torch.Tensor, torch.Tensor]:
    x = args[0]
    kernel, stride, padding = pool_window(args)
    dilation = pair(args[4]) if len(args) > 4 else (1, 1)
    ceil_mode = bool(args[5]) if len(args) > 5 else False
    shape = _pooled(x, kernel, stride, padding, dilation, ceil_mode)
    return _empty(shape, x.dtype), _empty(shape, torch.int64)


def avg_pool(args: Sequence[Any]) -> torch.Tensor:
    x = args[0]
    kernel, stride, padding = pool_window(args)
    ceil_mode = bool(args[4]) if len(args) > 4 else False
    return _empty(_pooled(x, kernel, stride, padding, (1, 1), ceil_mode), x.dtype)


def _pooled(x: torch.Tensor, kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int],
            dilation: tuple[int, int], ceil_mode: bool) -> list[int]:
    if x.dim() not in (3, 4):
        raise NotImplementedError
    lead = list(x.shape[:-2])
    out = []
    for i in (0, 1):
        if padding[i] > kernel[i] // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={padding[i]}, kernel_size={kernel[i]}")
        size = _pool_out(int(x.shape[-2 + i]), kernel[i], padding[i], stride[i], dilation[i], ceil_mode)
        if size < 1:
            raise RuntimeError(f"Given input size: {list(x.shape[-3:])}. Calculated output size is too small for a "
                               f"{kernel[0]}x{kernel[1]} pooling window")
        out.append(size)
    return [*lead, *out]


def adaptive_avg_pool(args: Sequence[Any]) -> torch.Tensor:
    x = args[0]
    size = pair(args[1], 1)
    return _empty([*x.shape[:-2], *size], x.dtype)


def mean(args: Sequence[Any]) -> torch.Tensor:
    x = args[0]
    dims = args[1] if len(args) > 1 and args[1] is not None else list(range(x.dim()))
    dims = [dims] if isinstance(dims, int) else list(dims)
    keep = bool(args[2]) if len(args) > 2 else False
    axes = {d % x.dim() for d in dims} if x.dim() else set()
    shape = [1 if i in axes else s for i, s in enumerate(x.shape)] if keep else [s for i, s in enumerate(x.shape) if i not in axes]
    return _empty(shape, x.dtype)


def broadcast(a: Sequence[int], b: Sequence[int]) -> tuple[int, ...]:
    """NumPy broadcasting of two shapes (``torch.broadcast_shapes`` imports sympy on first use)."""
    out: list[int] = []
    for i in range(1, max(len(a), len(b)) + 1):
        x = int(a[-i]) if i <= len(a) else 1
        y = int(b[-i]) if i <= len(b) else 1
        if x != y and 1 not in (x, y):
            raise RuntimeError(
                f"The size of tensor a ({x}) must match the size of tensor b ({y}) at non-singleton dimension {max(len(a), len(b)) - i}"
            )
        out.append(max(x, y) if 1 in (x, y) else x)
    return tuple(reversed(out))


def unary(args: Sequence[Any]) -> torch.Tensor:
    x = args[0]
    return _empty(x.shape, x.dtype)


def binary(args: Sequence[Any]) -> torch.Tensor:
    a, b = args[0], args[1]
    if not isinstance(b, torch.Tensor):
        return _empty(a.shape, a.dtype)
    if not isinstance(a, torch.Tensor):
        return _empty(b.shape, b.dtype)
    return _empty(broadcast(a.shape, b.shape), torch.promote_types(a.dtype, b.dtype))


def binary_(args: Sequence[Any]) -> torch.Tensor:
    """An in-place op writes into its first operand, which must already have the broadcast shape."""
    a, b = args[0], args[1]
    if isinstance(b, torch.Tensor) and broadcast(a.shape, b.shape) != tuple(a.shape):
        raise RuntimeError(
            f"output with shape {list(a.shape)} doesn't match the broadcast shape {list(broadcast(a.shape, b.shape))}"
        )
    result: torch.Tensor = a
    return result


def unary_(args: Sequence[Any]) -> torch.Tensor:
    result: torch.Tensor = args[0]
    return result


def matmul2d(args: Sequence[Any], first: int) -> torch.Tensor:
    a, b = args[first], args[first + 1]
    if a.dim() != 2 or b.dim() != 2:
        raise NotImplementedError
    if a.shape[1] != b.shape[0]:
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({a.shape[0]}x{a.shape[1]} and {b.shape[0]}x{b.shape[1]})"
        )
    return _empty([a.shape[0], b.shape[1]], a.dtype)


def constant_pad(args: Sequence[Any]) -> torch.Tensor:
    x, pad = args[0], [int(p) for p in args[1]]
    if len(pad) % 2 or len(pad) // 2 > x.dim():
        raise RuntimeError(f"Padding length must be divisible by 2 and at most twice the input dimensions, got {len(pad)}")
    shape = list(x.shape)
    for i in range(len(pad) // 2):
        dim = x.dim() - 1 - i
        shape[dim] += pad[2 * i] + pad[2 * i + 1]
        if shape[dim] < 0:
            raise RuntimeError(f"The input size {x.shape[dim]}, plus negative padding {pad[2 * i]} and {pad[2 * i + 1]} "
                               "resulted in a negative output size")
    return _empty(shape, x.dtype)


_UNARY: Final = (
    "relu", "sigmoid", "hardsigmoid", "silu", "gelu", "hardswish", "hardtanh", "leaky_relu", "elu", "tanh",
    "softplus", "mish", "clamp", "clamp_min", "threshold", "neg", "abs", "exp", "sqrt", "rsqrt",
)
_BINARY: Final = ("add", "mul", "sub", "div")

#: aten op name (without overload) -> a function of its positional arguments giving its outputs.
SHAPES: Final[dict[str, Callable[[Sequence[Any]], Any]]] = {
    "convolution": convolution,
    "max_pool2d_with_indices": max_pool,
    "avg_pool2d": avg_pool,
    "_adaptive_avg_pool2d": adaptive_avg_pool,
    "mean": mean,
    "addmm": lambda args: matmul2d(args, 1),
    "mm": lambda args: matmul2d(args, 0),
    "constant_pad_nd": constant_pad,
    **{name: unary for name in _UNARY},
    **{name + "_": unary_ for name in _UNARY},
    **{name: binary for name in _BINARY},
    **{name + "_": binary_ for name in _BINARY},
}
