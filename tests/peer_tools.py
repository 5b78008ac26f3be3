"""Run the real counting tools on a built module: the measured side of ``tests/test_conventions.py``.

One function per key of ``resnet_inspect.conventions.CONVENTIONS``, each calling the tool the way
its README shows (default options, batch 1, the module in eval mode) and returning the integer it
prints. ``torchvision`` has no counter of its own: its weights metadata is conv + linear MACs, read
here from fvcore's per-operator counts, so it is derived independently of ``conventions.py``.

Importing this module imports torch; the tools themselves are imported inside the functions, so a
missing one fails only the tests that need it (``missing`` says which are absent).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
from collections.abc import Callable, Iterator

import torch
from torch import nn

#: The package each convention needs, besides torch.
PACKAGES = {
    "torchvision": "fvcore",
    "fvcore": "fvcore",
    "ptflops_pytorch": "ptflops",
    "ptflops_aten": "ptflops",
    "thop": "thop",
    "torchinfo": "torchinfo",
    "flop_counter_mode": "torch",
}


def missing(convention: str) -> str | None:
    """The package ``convention`` needs when it is not installed, else None."""
    package = PACKAGES[convention]
    return package if importlib.util.find_spec(package) is None else None


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The tools print banners and warnings (thop's distutils import, ptflops' zero-op notes, fvcore's
    unsupported-op log): none of it is the number, and pytest -q should stay readable."""
    fv = logging.getLogger("fvcore")
    level = fv.level
    fv.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        fv.setLevel(level)


def _input(size: tuple[int, int, int]) -> torch.Tensor:
    return torch.zeros(1, *size)


def fvcore_by_operator(model: nn.Module, size: tuple[int, int, int]) -> dict[str, int]:
    """``FlopCountAnalysis(model, x).by_operator()`` with the default op handles."""
    from fvcore.nn import FlopCountAnalysis

    with _quiet():
        fv = FlopCountAnalysis(model, _input(size))
        fv.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        return {op: int(n) for op, n in fv.by_operator().items()}


def run_fvcore(model: nn.Module, size: tuple[int, int, int]) -> int:
    """``FlopCountAnalysis(model, x).total()``, default op handles."""
    from fvcore.nn import FlopCountAnalysis

    with _quiet():
        fv = FlopCountAnalysis(model, _input(size))
        fv.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        return int(fv.total())


def run_torchvision(model: nn.Module, size: tuple[int, int, int]) -> int:
    """torchvision's weights metadata (``GFLOPS``) is conv + linear multiply-adds, without biases:
    fvcore's ``conv`` and ``linear`` operators, as tests/test_verify.py checks against 4.09."""
    by_op = fvcore_by_operator(model, size)
    return by_op.get("conv", 0) + by_op.get("linear", 0)


def _ptflops(model: nn.Module, size: tuple[int, int, int], backend: str) -> int:
    from ptflops import get_model_complexity_info

    with _quiet():
        macs, _params = get_model_complexity_info(
            model, size, print_per_layer_stat=False, as_strings=False, verbose=False, backend=backend
        )
    if macs is None:  # ptflops catches the forward's exception and returns (None, None)
        raise RuntimeError(f"ptflops ({backend}) failed on {type(model).__name__}")
    return int(macs)


def run_ptflops_pytorch(model: nn.Module, size: tuple[int, int, int]) -> int:
    """``get_model_complexity_info(model, (3, H, W), as_strings=False, print_per_layer_stat=False)``:
    the default backend, ``pytorch`` (module hooks plus patched ``torch.nn.functional``)."""
    return _ptflops(model, size, "pytorch")


def run_ptflops_aten(model: nn.Module, size: tuple[int, int, int]) -> int:
    """The same call with ``backend='aten'`` (a ``TorchDispatchMode`` over aten ops). ptflops 0.7.5
    leaves its module pre/post hooks on ``model``'s children, so run it last on a shared module."""
    return _ptflops(model, size, "aten")


def run_thop(model: nn.Module, size: tuple[int, int, int]) -> int:
    """``thop.profile(model, inputs=(x,), verbose=False)[0]``: a float64 total, integral here."""
    from thop import profile

    with _quiet():
        macs, _params = profile(model, inputs=(_input(size),), verbose=False)
    value = float(macs)
    if value != int(value):
        raise AssertionError(f"thop returned a fractional count {value}")
    return int(value)


def run_torchinfo(model: nn.Module, size: tuple[int, int, int]) -> int:
    """``summary(model, input_size=(1, 3, H, W), verbose=0).total_mult_adds``."""
    from torchinfo import summary

    with _quiet():
        stats = summary(model, input_size=(1, *size), verbose=0, device="cpu")
    return int(stats.total_mult_adds)


def run_flop_counter_mode(model: nn.Module, size: tuple[int, int, int]) -> int:
    """``torch.utils.flop_counter.FlopCounterMode(display=False)`` around one forward pass."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(_input(size))
    return int(counter.get_total_flops())


#: Each convention's runner, in an order that is safe on one shared module: fvcore traces first,
#: the ptflops aten backend (which leaves hooks behind) runs last.
RUNNERS: dict[str, Callable[[nn.Module, tuple[int, int, int]], int]] = {
    "torchvision": run_torchvision,
    "fvcore": run_fvcore,
    "torchinfo": run_torchinfo,
    "thop": run_thop,
    "flop_counter_mode": run_flop_counter_mode,
    "ptflops_pytorch": run_ptflops_pytorch,
    "ptflops_aten": run_ptflops_aten,
}
