"""What a training-mode forward really saves for backward, measured: the check behind ``memory
--measure`` and the tests of ``resnet_inspect.memory``'s prediction.

One forward pass of the real module in train mode runs under
``torch.autograd.graph.saved_tensors_hooks``: every tensor an op keeps for its backward passes
through the pack hook. Parameters are left out (they are weights, not activations); everything else
(inputs, outputs, batch-norm statistics and running buffers, max-pool indices) is counted once per
storage, however many ops save it or views of it, and charged to the unit that was running when
the storage was first saved: the same rule the prediction follows.

Units are found by forward pre- and post-hooks on modules named in ``units`` (module path -> unit
name). Saves outside every unit go to the stem before the first unit runs and to the head after
the last; between two units, to the unit that ran before them.

With ``device="cuda"`` the peak of ``torch.cuda.max_memory_allocated`` over the forward and
backward step is reported too (weights included). Memory is bounded before anything is allocated:
a measurement whose predicted activations exceed three quarters of the memory available is refused
in one line.

What is saved is what this device's kernels save: CPU dropout keeps an fp32 mask where CUDA's keeps a
bool one, for instance. ``measure_spec`` builds the module for a spec (``nn.builder.build_model``);
``measure_module`` builds the user's module that a ``FILE.py:CALLABLE`` SPEC names, with its traced
units.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import torch
from torch import nn

from ..counts import Analysis
from ..errors import UsageError
from ..resources import available_memory
from ..spec import ResNetSpec

DTYPES: Final[Mapping[str, torch.dtype]] = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
#: Share of the available memory a measurement may plan to fill with activations.
MEMORY_SHARE: Final = 0.75
STEM: Final = "stem"
HEAD: Final = "head"
_STAGE: Final = re.compile(r"layer\d+")


@dataclass(frozen=True)
class MeasuredMemory:
    """Bytes saved for backward by one training-mode forward, measured on the real module.

    ``saved_bytes`` is the total; ``blocks`` maps each unit that ran (in execution order) to the
    bytes of the storages it saved first; ``stem`` and ``head`` are the rest. ``peak_cuda_bytes``
    is the peak of allocated CUDA memory over the forward and backward step (``device="cuda"``
    only).
    """

    batch: int
    dtype: str
    device: str
    saved_bytes: int
    stem: int
    head: int
    blocks: dict[str, int] = field(default_factory=dict)
    #: Bytes of every save, storage shared or not: what counting without dedup would give.
    raw_saved_bytes: int = 0
    peak_cuda_bytes: int | None = None


def default_units(model: nn.Module) -> dict[str, str]:
    """``layerN.M`` -> ``layerN.M`` for each child of a top-level ``layerN`` ``nn.Sequential``:
    torchvision's layout, and the builder's."""
    units: dict[str, str] = {}
    for name, child in model.named_children():
        if _STAGE.fullmatch(name) and isinstance(child, nn.Sequential):
            for sub, _ in child.named_children():
                units[f"{name}.{sub}"] = f"{name}.{sub}"
    return units


def available_bytes(device: str = "cpu") -> int:
    """Memory this measurement may use on ``device``: free CUDA memory, or what the machine has
    available now (``resources.available_memory``, shared with every command's memory bound)."""
    if device.startswith("cuda"):
        free, _ = torch.cuda.mem_get_info(torch.device(device))
        return int(free)
    return available_memory()


def check_fits(needed_bytes: int, device: str = "cpu") -> None:
    """Refuse, in one line, a measurement that would need more than three quarters of the memory
    available on ``device``."""
    limit = int(available_bytes(device) * MEMORY_SHARE)
    if needed_bytes > limit:
        raise UsageError(
            f"measuring needs about {needed_bytes / 2**30:.2f} GiB on {device} (the predicted activations and "
            f"the weights), above the limit of {limit / 2**30:.2f} GiB (3/4 of the memory available now); "
            "measure a smaller --batch, or drop --measure for the prediction alone"
        )


def _check_batch(batch: int) -> None:
    if batch < 1:
        raise UsageError(f"--batch {batch} is out of range; measuring needs at least one sample")


def _dtype(name: str) -> torch.dtype:
    if name not in DTYPES:
        raise UsageError(f"unknown dtype {name!r}; use one of {', '.join(DTYPES)}")
    return DTYPES[name]


def _device(name: str) -> torch.device:
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("--measure on cuda needs a CUDA GPU and a CUDA build of torch; none is available here")
    if device.type not in ("cpu", "cuda"):
        raise UsageError(f"measuring on {name!r} is not supported; use cpu or cuda")
    return device


class _Tracker:
    """The unit running now (innermost hooked module), and the order units ran in."""

    def __init__(self) -> None:
        self.stack: list[str] = []
        self.ran: list[str] = []
        self._seen: set[str] = {STEM, HEAD}

    def enter(self, unit: str) -> None:
        self.stack.append(unit)
        if unit not in self._seen:
            self._seen.add(unit)
            self.ran.append(unit)

    def leave(self) -> None:
        if self.stack:
            self.stack.pop()

    def current(self) -> str:
        """The unit a save belongs to now; outside every unit, a marker resolved after the pass."""
        if self.stack:
            return self.stack[-1]
        return f"\0after:{self.ran[-1]}" if self.ran else STEM


@contextmanager
def _unit_hooks(model: nn.Module, units: Mapping[str, str], tracker: _Tracker) -> Iterator[None]:
    modules = dict(model.named_modules())
    missing = [path for path in units if path not in modules]
    if missing:
        raise UsageError(f"the model has no module {missing[0]!r} to measure as a unit")
    handles = []
    try:
        for path, unit in units.items():
            module = modules[path]

            def pre(_m: nn.Module, _args: Any, unit: str = unit) -> None:
                tracker.enter(unit)

            def post(_m: nn.Module, _args: Any, _out: Any) -> None:
                tracker.leave()

            handles.append(module.register_forward_pre_hook(pre))
            handles.append(module.register_forward_hook(post))
        yield
    finally:
        for h in handles:
            h.remove()


def _resolve(charged: Mapping[str, int], ran: list[str]) -> tuple[int, int, dict[str, int]]:
    """Per-unit bytes as stem, head and blocks: a save after the last unit is the head's, one
    between two units the earlier unit's."""
    stem, head = charged.get(STEM, 0), charged.get(HEAD, 0)
    blocks = {name: charged.get(name, 0) for name in ran}
    for key, nbytes in charged.items():
        if key.startswith("\0after:"):
            unit = key.removeprefix("\0after:")
            if unit == ran[-1]:
                head += nbytes
            else:
                blocks[unit] += nbytes
    return stem, head, blocks


def measure_saved(
    model: nn.Module,
    input_shape: tuple[int, int, int],
    batch: int,
    dtype: str = "fp32",
    units: Mapping[str, str] | None = None,
    device: str = "cpu",
    predicted_bytes: int | None = None,
) -> MeasuredMemory:
    """Run one training-mode forward of ``model`` on a random ``(batch, *input_shape)`` input cast
    to ``dtype`` and count what autograd saves for backward, once per storage, per unit.

    ``units`` maps module paths to unit names (default: ``default_units``; the names ``stem`` and
    ``head`` count toward those). ``predicted_bytes``, when given, is checked against the memory
    available before anything is allocated. The model is left in train mode, cast and moved.
    """
    _check_batch(batch)
    torch_dtype, dev = _dtype(dtype), _device(device)
    if predicted_bytes is not None:
        check_fits(predicted_bytes, str(dev))
    units = default_units(model) if units is None else dict(units)
    model.train()
    model.to(device=dev, dtype=torch_dtype)
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    x = torch.randn(batch, *input_shape, device=dev, dtype=torch_dtype)

    tracker = _Tracker()
    saver = _Saver(params, tracker)
    cuda = dev.type == "cuda"
    if cuda:
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
    with _explained(dtype, dev, batch):
        with ExitStack() as stack:
            stack.enter_context(_unit_hooks(model, units, tracker))
            stack.enter_context(torch.autograd.graph.saved_tensors_hooks(saver.pack, saver.unpack))
            out = model(x)
        if cuda:
            _backward(out)
            torch.cuda.synchronize(dev)
    peak = int(torch.cuda.max_memory_allocated(dev)) if cuda else None
    del out
    stem, head, blocks = _resolve(saver.charged, tracker.ran)
    for name in (STEM, HEAD):
        blocks.pop(name, None)
    total = sum(saver.charged.values())
    return MeasuredMemory(batch, dtype, str(dev), total, stem, head, blocks, saver.raw, peak)


class _Saver:
    """autograd's pack hook: each saved non-parameter storage counted once, charged to the unit
    that was running when it was first saved; ``raw`` counts every save, shared or not."""

    def __init__(self, params: set[int], tracker: _Tracker) -> None:
        self.params, self.tracker = params, tracker
        self.charged: dict[str, int] = {}
        self.seen: set[int] = set()
        self.raw = 0

    def pack(self, t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        key = storage.data_ptr()
        if key in self.params:
            return t
        self.raw += storage.nbytes()
        if key not in self.seen:
            self.seen.add(key)
            unit = self.tracker.current()
            self.charged[unit] = self.charged.get(unit, 0) + storage.nbytes()
        return t

    @staticmethod
    def unpack(t: torch.Tensor) -> torch.Tensor:
        return t


@contextmanager
def _explained(dtype: str, dev: torch.device, batch: int) -> Iterator[None]:
    """torch's errors for what a measurement cannot do here, as one line saying what to change."""
    try:
        yield
    except RuntimeError as exc:
        if dtype == "fp16" and dev.type == "cpu" and ("Half" in str(exc) or "not implemented" in str(exc)):
            raise UsageError(
                "fp16 needs a GPU here: this torch has no CPU kernel for an op of the model in half precision "
                f"({_first_line(exc)}); measure with --dtype bf16, or with --device cuda"
            ) from None
        raise
    except ValueError as exc:
        if "more than 1 value per channel" in str(exc):  # train-mode batch norm over a single value
            raise UsageError(
                f"at batch {batch} a batch norm of the model sees one value per channel ({_first_line(exc)}), "
                "which training mode cannot normalise; measure with --batch 2 or more, or a larger --input-size"
            ) from None
        raise


def _first_line(exc: BaseException) -> str:
    text = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
    return text if len(text) <= 160 else text[:159] + "…"


def _backward(out: Any) -> None:
    """Backward from the sum of every output that has a graph (a stand-in for a loss)."""
    tensors = [t for t in _flat(out) if isinstance(t, torch.Tensor) and t.requires_grad]
    if tensors:
        torch.autograd.backward([t.float().sum() for t in tensors])


def _flat(value: Any) -> Iterator[Any]:
    if isinstance(value, (list, tuple)):
        for v in value:
            yield from _flat(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _flat(v)
    else:
        yield value


def _check_prediction(a: Analysis, batch: int, dtype: str, device: str, optimizer: str) -> None:
    """Refuse before building anything when the predicted activations and the weights (built in
    fp32 first) would not fit."""
    from ..memory import training_memory

    predicted = training_memory(a, batch, dtype, optimizer)
    check_fits(predicted.activations_bytes + 4 * predicted.params, device)


def measure_spec(spec: ResNetSpec, batch: int, dtype: str = "fp32", device: str = "cpu",
                 optimizer: str = "momentum") -> MeasuredMemory:
    """``measure_saved`` of the module ``nn.builder.build_model`` makes for ``spec``, after checking
    that the predicted activations (``memory.training_memory``) and the weights fit."""
    from ..counts import analyze
    from .builder import build_model

    _check_batch(batch)
    _dtype(dtype)
    _check_prediction(analyze(spec), batch, dtype, str(_device(device)), optimizer)
    model = build_model(spec, seed=0)
    return measure_saved(model, (spec.in_channels, spec.input_size, spec.input_size), batch, dtype, device=device)


def measure_module(text: str, a: Analysis, batch: int, dtype: str = "fp32", device: str = "cpu",
                   optimizer: str = "momentum") -> MeasuredMemory:
    """``measure_saved`` of the user's module that ``text`` (``FILE.py:CALLABLE``) names, built with
    real weights, at the input ``a`` was traced at. Its units are the trace's (``a.plan.blocks``)
    that are modules of the model; a unit that is not one module is measured with the unit before."""
    from ..target import parse_target
    from .usercode import build_real

    _check_batch(batch)
    _dtype(dtype)
    _check_prediction(a, batch, dtype, str(_device(device)), optimizer)
    model = build_real(parse_target(text), a.total.params)
    modules = dict(model.named_modules())
    units = {b.name: b.name for b in a.plan.blocks if b.name in modules}
    c, h, w = a.plan.input_shape
    return measure_saved(model, (c, h, w), batch, dtype, units, device)


__all__ = ["DTYPES", "MeasuredMemory", "available_bytes", "check_fits", "default_units", "measure_module", "measure_saved", "measure_spec"]
