"""One forward pass on the meta device, recorded op by op (``tracedata.Trace``).

Why a dispatch-level record on the meta device: the pass runs the user's own ``forward`` as Python
runs it, so control flow on shapes (``if x.size(1) != out.size(1)``), in-place ``+=``, lambdas,
``F.pad`` and slicing all work as they do for real; every op arrives as its aten op with shapes,
so ``x + y``, ``torch.add``, ``out += y`` and ``x.add_(y)`` all read the same; and meta tensors
hold no data, so memory does not grow with the input size and no weights are needed.

Module paths come from forward hooks on every submodule (a stack of calls). Parameters are known
by identity, so a weight is attributed to the op that reads it however the module is named.

Meta kernels written in Python (convolution, batch norm) cost far more than the rest of the pass;
their results depend only on shapes, so each distinct call is run once and later calls with the
same shapes get fresh empty tensors of the remembered shapes and strides.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from ..errors import ResnetInspectError
from ..tracedata import ModuleCall, OpRecord, Trace
from .shapes import SHAPES, pair, pool_window

_META: Final = torch.device("meta")
#: Most ops one pass may record: far above any real ResNet, a bound on memory for the rest.
MAX_OPS: Final = 2_000_000

_VIEWS: Final = frozenset({
    "view", "_unsafe_view", "reshape", "_reshape_alias", "t", "transpose", "permute", "expand", "squeeze",
    "unsqueeze", "alias", "detach", "clone", "contiguous", "_to_copy", "to", "as_strided", "lift_fresh",
    "lift_fresh_copy", "flatten", "unflatten", "view_as", "expand_as", "type_as", "_assert_tensor_metadata",
})
_FACTORIES: Final = frozenset({
    "empty", "zeros", "ones", "full", "zeros_like", "empty_like", "ones_like", "full_like", "new_zeros",
    "new_empty", "new_full", "new_ones", "arange", "scalar_tensor", "fill", "fill_", "zero_", "empty_strided",
    "rand", "randn", "rand_like", "randn_like", "randint", "linspace", "eye",
})
_ACTIVATIONS: Final = frozenset({
    "hardtanh", "sigmoid", "hardsigmoid", "silu", "gelu", "hardswish", "leaky_relu", "elu", "tanh", "softplus",
    "mish", "_prelu_kernel", "prelu", "clamp", "clamp_min", "_softmax", "softmax", "_log_softmax", "log_softmax",
    "selu", "celu", "relu6", "threshold", "rrelu_with_noise",
})
_BATCH_NORMS: Final = frozenset({
    "native_batch_norm", "_native_batch_norm_legit", "_native_batch_norm_legit_no_training",
    "_native_batch_norm_legit_functional", "batch_norm", "cudnn_batch_norm", "miopen_batch_norm",
})
_NORMS: Final = {"native_group_norm": ("group_norm", 1), "native_layer_norm": ("layer_norm", 2)}


#: Batch norms whose outputs this module makes itself: their meta kernels are Python decompositions
#: that cost milliseconds each and, on first use, import torch._dynamo (over a second).
_SHAPE_BATCH_NORMS: Final = frozenset({
    "native_batch_norm", "_native_batch_norm_legit_no_training", "_native_batch_norm_legit",
    "_native_batch_norm_legit_functional",
})


def _batch_norm_outputs(args: Sequence[Any], n: int) -> tuple[torch.Tensor, ...]:
    """A batch norm's outputs on the meta device: the input's shape, then per-channel statistics,
    after the shape checks the real kernel makes."""
    x = args[0]
    if x.dim() < 2:
        raise RuntimeError(f"batch_norm expects an input with a channel dimension, got shape {list(x.shape)}")
    c = int(x.shape[1])
    for t in args[1:5]:
        if isinstance(t, torch.Tensor) and t.numel() != c:
            raise RuntimeError(f"running_mean should contain {c} elements not {t.numel()}")
    out = torch.empty_strided(tuple(x.shape), x.stride(), dtype=x.dtype, device="meta")
    return (out, *(torch.empty(c, dtype=x.dtype, device="meta") for _ in range(n - 1)))


class TraceError(ResnetInspectError):
    """The forward pass could not run, or ran into something a trace cannot follow."""


def tensors_in(obj: Any) -> Iterator[torch.Tensor]:
    """Every tensor in ``obj``, through lists, tuples and dicts (op arguments, a model's output)."""
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            yield from tensors_in(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from tensors_in(item)


def _meta_args(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj if obj.device == _META else obj.to(_META)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_meta_args(v) for v in obj)
    return obj


def _key(obj: Any) -> Any:
    """A hashable key of an op's arguments that depends only on shapes, dtypes and values."""
    if isinstance(obj, torch.Tensor):
        return ("T", tuple(obj.shape), obj.dtype, obj.stride())
    if isinstance(obj, (list, tuple)):
        return tuple(_key(v) for v in obj)
    if isinstance(obj, dict):
        return tuple(sorted((k, _key(v)) for k, v in obj.items()))
    return obj


class _Recorder(TorchDispatchMode):  # type: ignore[no-untyped-call]
    """Records every aten op of the pass; runs each distinct shape-only meta kernel once."""

    def __init__(self, params: dict[int, str], numels: dict[str, int], buffers: set[int]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.params = params  # id(parameter) -> qualified name; views of a weight (``t(w)``) join it
        self.numels = numels
        self.buffers = buffers
        self.next_value = 0
        self.values: dict[int, int] = {}
        self.keep: list[torch.Tensor] = []  # values are known by id(): keep their tensors alive
        self.ops: list[OpRecord] = []
        self.calls: list[dict[str, Any]] = []
        self.stack: list[int] = []
        self.cache: dict[Any, tuple[bool, tuple[tuple[tuple[int, ...], tuple[int, ...], torch.dtype], ...]]] = {}

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # torch >= 2.6 wraps ``__torch_dispatch__`` in ``torch._dynamo.disable`` unless told not to;
        # the wrapper's first call imports torch._dynamo, 1.5 s of the trace. Nothing here is compiled.
        return False

    # values ------------------------------------------------------------------------------------

    def new_value(self, t: torch.Tensor) -> int:
        v = self.next_value
        self.next_value += 1
        self.values[id(t)] = v
        self.keep.append(t)
        return v

    def value_of(self, t: torch.Tensor) -> int:
        v = self.values.get(id(t))
        if v is None:  # a tensor made outside the pass (an attribute, not a buffer): a constant
            v = self.new_value(t)
            self.ops.append(OpRecord("const", "external", (), (v,), (), (tuple(t.shape),), self._call()))
        return v

    def _call(self) -> int:
        return self.stack[-1] if self.stack else -1

    # dispatch ----------------------------------------------------------------------------------

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        if "device" in kwargs and kwargs["device"] != _META:
            # ``torch.zeros(n, c, h, w)`` in a forward: made on the meta device like everything else
            # (cheaper than ``with torch.device("meta")``, whose first use imports torch._dynamo).
            kwargs = {**kwargs, "device": _META}
        if len(self.ops) >= MAX_OPS:
            raise TraceError(f"the forward pass runs more than {MAX_OPS:,} ops; resnet-inspect stops there")
        out = self._run(func, args, kwargs)
        self._record(func, args, kwargs, out)
        return out

    def _run(self, func: Any, args: Any, kwargs: Any) -> Any:
        schema = func._schema
        returns = schema.returns
        name = schema.name.split("::", 1)[-1]
        if name in _SHAPE_BATCH_NORMS:
            return _batch_norm_outputs(args, len(returns))
        shape_fn = SHAPES.get(name)
        if shape_fn is not None:
            try:
                return shape_fn(args)
            except NotImplementedError:  # a case the shape function leaves to torch
                pass
        if any(t.device != _META for t in tensors_in((args, tuple(kwargs.values())))):
            # A model traced with its real weights (the Python API's ``trace(model)``): torch's
            # kernel sees meta views of them, which cost no copy.
            args, kwargs = _meta_args(args), {k: _meta_args(v) for k, v in kwargs.items()}
        if not returns or any(r.alias_info is not None and not r.alias_info.is_write for r in returns):
            return func(*args, **kwargs)
        if not all(str(r.type) == "Tensor" for r in returns):
            return func(*args, **kwargs)
        try:
            key = (func, _key(args), _key(kwargs))
            hit = self.cache.get(key)
        except TypeError:  # an argument that cannot be a key: run it every time
            return func(*args, **kwargs)
        in_place = returns[0].alias_info is not None
        if hit is None:
            out = func(*args, **kwargs)
            outs = out if isinstance(out, (tuple, list)) else (out,)
            self.cache[key] = (isinstance(out, (tuple, list)),
                               tuple((tuple(o.shape), tuple(o.stride()), o.dtype) for o in outs))
            return out
        if in_place:
            return args[0]
        many, metas = hit
        made = tuple(torch.empty_strided(s, st, dtype=dt, device="meta") for s, st, dt in metas)
        return made if many else made[0]

    def _record(self, func: Any, args: Any, kwargs: Any, out: Any) -> None:
        name = func._schema.name.split("::", 1)[-1]
        params: list[str] = []
        inputs: list[int] = []
        in_shapes: list[tuple[int, ...]] = []
        for t in tensors_in((args, tuple(kwargs.values()))):
            pname = self.params.get(id(t))
            if pname is not None:
                if pname not in params:
                    params.append(pname)
            elif id(t) not in self.buffers:
                inputs.append(self.value_of(t))
                in_shapes.append(tuple(t.shape))
        outs = list(tensors_in(out))
        if name in _VIEWS and params and not inputs:  # ``t(weight)`` is still the weight
            for o in outs:
                self.params[id(o)] = params[0]
                self.keep.append(o)
            return
        op, attrs = _normalise(name, args, params)
        out_values = tuple(self.new_value(o) for o in outs)
        self.ops.append(OpRecord(op, f"aten.{name}", tuple(inputs), out_values, tuple(in_shapes),
                                 tuple(tuple(o.shape) for o in outs), self._call(), tuple(params),
                                 sum(self.numels[p] for p in params), attrs))

    # module calls ------------------------------------------------------------------------------

    def enter(self, path: str, type_name: str) -> None:
        self.calls.append({"path": path, "type": type_name, "parent": self._call(), "first": len(self.ops), "end": -1})
        self.stack.append(len(self.calls) - 1)

    def leave(self) -> None:
        if self.stack:
            self.calls[self.stack.pop()]["end"] = len(self.ops)


# ---------------------------------------------------------------------------------------- ops


def _normalise(name: str, args: Sequence[Any], params: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """The aten op ``name`` in the vocabulary of ``tracedata`` (its module docstring's table)."""
    base = name[:-1] if name.endswith("_") and not name.startswith("_") else name
    if base in _VIEWS:
        return "view", {}
    if base in _FACTORIES:
        return "const", {}
    if base == "convolution":
        return _conv(args)
    if base in ("addmm", "mm", "linear", "matmul") and params:
        bias = base == "addmm" or (base == "linear" and len(args) > 2 and args[2] is not None)
        return "linear", {"bias": bias}
    if base in _BATCH_NORMS:
        return "batch_norm", {"affine": len(args) > 1 and args[1] is not None, "kind": "batch_norm"}
    if base in _NORMS:
        kind, index = _NORMS[base]
        return "norm", {"affine": len(args) > index and args[index] is not None, "kind": kind}
    if base == "relu":
        return "relu", {}
    if base in _ACTIVATIONS:
        return "activation", {"kind": base.lstrip("_").removesuffix("_kernel")}
    return _simple(base, args)


def _simple(base: str, args: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    if base in ("max_pool2d_with_indices", "max_pool2d", "avg_pool2d"):
        kernel, stride, padding = pool_window(args)
        return ("avg_pool" if base == "avg_pool2d" else "max_pool"), {"kernel": kernel, "stride": stride, "padding": padding}
    if base in ("_adaptive_avg_pool2d", "adaptive_avg_pool2d"):
        return "adaptive_avg_pool2d", {}
    if base == "mean":
        # ``F.adaptive_avg_pool2d(x, 1)`` reaches aten as a mean; fvcore and the papers count it as
        # the pooling it is, so look at who asked for it.
        return ("adaptive_avg_pool2d" if _called_from("adaptive_avg_pool2d") else "mean"), {}
    if base == "add":
        return "add", {}
    if base == "mul":
        scalar = args[1] if len(args) > 1 and not isinstance(args[1], torch.Tensor) else None
        return ("const", {}) if scalar == 0 else ("mul", {"scalar": scalar})
    if base == "constant_pad_nd":
        pad = [int(p) for p in args[1]]
        return "pad", {"pad": pad, "value": args[2] if len(args) > 2 else 0}
    if base == "slice":
        padded = [*args[1:5], *([None] * 4)][:4]
        dim, start, end, step = padded
        return "slice", {"dim": int(dim or 0), "start": start, "end": end, "step": int(step or 1)}
    if base == "cat":
        return "cat", {"dim": int(args[1]) if len(args) > 1 else 0}
    return "other", {}


def _called_from(function: str, depth: int = 40) -> bool:
    """Whether a Python frame of ``function`` is among the callers of this op (a mean that an
    adaptive average pool decomposed to)."""
    import sys

    frame = sys._getframe(1)
    for _ in range(depth):
        if frame is None:
            return False
        if frame.f_code.co_name == function:
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


def _conv(args: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    weight = args[1]
    transposed = bool(args[6]) if len(args) > 6 else False
    if weight.dim() != 4 or transposed:
        return "other", {}
    return "conv", {
        "kernel": (int(weight.shape[2]), int(weight.shape[3])),
        "stride": pair(args[3]), "padding": pair(args[4], 0), "dilation": pair(args[5]),
        "groups": int(args[8]) if len(args) > 8 else 1, "bias": args[2] is not None,
    }


# ---------------------------------------------------------------------------------------- the pass


@contextmanager
def _hooks(model: nn.Module, rec: _Recorder) -> Iterator[None]:
    handles = []
    for path, module in model.named_modules():
        type_name = type(module).__name__
        handles.append(module.register_forward_pre_hook(lambda m, a, p=path, t=type_name: rec.enter(p, t)))
        handles.append(module.register_forward_hook(lambda m, a, o: rec.leave()))
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def record(model: nn.Module, input_shape: tuple[int, int, int], name: str) -> Trace:
    """Run ``model`` once on a meta input of ``input_shape`` (batch 1, eval mode, no grad) and
    record every op. Raises ``TraceError`` naming the module where the pass failed."""
    params: dict[int, str] = {}
    numels: dict[str, int] = {}
    for pname, p in model.named_parameters():
        params[id(p)] = pname
        numels[pname] = p.numel()
    buffers = {id(b) for b in model.buffers()}
    rec = _Recorder(params, numels, buffers)
    x = torch.empty(1, *input_shape, device="meta")
    rec.new_value(x)
    model.eval()
    try:
        with _hooks(model, rec), torch.no_grad(), rec:
            model(x)
    except TraceError:
        raise
    except Exception as exc:
        raise _failure(rec, input_shape, exc) from None
    used = {p for op in rec.ops for p in op.params}
    unused = tuple((n, numels[n]) for n in numels if n not in used)
    calls = tuple(ModuleCall(c["path"], c["type"], c["parent"], c["first"], c["end"] if c["end"] >= 0 else len(rec.ops))
                  for c in rec.calls)
    return Trace(name, input_shape, tuple(rec.ops), calls, unused)


def _failure(rec: _Recorder, input_shape: tuple[int, int, int], exc: BaseException) -> TraceError:
    where = "the model"
    if rec.stack:
        call = rec.calls[rec.stack[-1]]
        where = f"{call['path'] or 'the model'} ({call['type']})"
    detail = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
    if len(detail) > 200:
        detail = detail[:199] + "…"
    c, h, w = input_shape
    error = TraceError(f"the forward pass fails at input {c}x{h}x{w} in {where}: {type(exc).__name__}: {detail}")
    error.where = where  # type: ignore[attr-defined]
    return error


def first_working_size(build: Callable[[], nn.Module], input_shape: tuple[int, int, int],
                       sizes: Sequence[int] = (32, 64, 224)) -> int | None:
    """The first of ``sizes`` (other than the one tried) at which the pass runs, for the hint."""
    c, h, _ = input_shape
    for size in sizes:
        if size == h:
            continue
        try:
            record(build(), (c, size, size), "probe")
        except Exception:
            continue
        return size
    return None
