"""The user's network: import their file or module, call what builds the model, trace it.

This runs the user's code, exactly as ``import`` and a call would: the CLI's help and the docs say
so. The model is built under ``torch.device("meta")`` so its weights take no memory and no time to
initialise; a constructor that cannot run there (one that loads weights, say) is built on the CPU
and then moved to the meta device, with a note.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import ResnetInspectError
from ..naming import printable
from ..plan import Plan
from ..structure import plan_from_trace
from ..target import ModuleTarget
from .trace import TraceError, first_working_size, record


class UserCodeError(ResnetInspectError):
    """The user's file or module cannot be imported, or its callable does not give a model."""


def _first_line(exc: BaseException) -> str:
    text = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), "")
    text = text if len(text) <= 200 else text[:199] + "…"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@contextlib.contextmanager
def _on_path(*folders: str) -> Iterator[None]:
    """``folders`` first on ``sys.path`` for the import, as ``python file.py`` would have them."""
    added = [f for f in folders if f not in sys.path]
    sys.path[:0] = added
    try:
        yield
    finally:
        for f in added:
            with contextlib.suppress(ValueError):
                sys.path.remove(f)


def _import_file(location: str) -> Any:
    path = Path(location).expanduser()
    if not path.is_file():
        hint = "it is a folder" if path.is_dir() else "no such file"
        raise UserCodeError(f"cannot import {location!r}: {hint}; give the .py file that defines the model")
    resolved = path.resolve()
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:10]
    name = f"_resnet_inspect_user_{resolved.stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise UserCodeError(f"cannot import {location!r} as Python; give a .py file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickle look their module up by name
    try:
        with _on_path(str(resolved.parent), os.getcwd()):
            spec.loader.exec_module(module)
    except BaseException as exc:
        sys.modules.pop(name, None)
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise UserCodeError(f"importing {location} raised {_first_line(exc)}") from None
    return module


def _import_module(location: str) -> Any:
    try:
        with _on_path(os.getcwd()):
            return importlib.import_module(location)
    except ModuleNotFoundError as exc:
        if exc.name and location.startswith(exc.name):
            raise UserCodeError(
                f"cannot import {location!r} ({_first_line(exc)}); run from the folder that holds it, install it, "
                "or give its file: path/to/file.py:CALLABLE"
            ) from None
        raise UserCodeError(f"importing {location} raised {_first_line(exc)}") from None
    except Exception as exc:
        raise UserCodeError(f"importing {location} raised {_first_line(exc)}") from None


def resolve(target: ModuleTarget) -> Any:
    """The object ``target.attr`` names in the imported file or module."""
    module = _import_file(target.location) if target.kind == "file" else _import_module(target.location)
    obj: Any = module
    for part in target.attr.split("."):
        if not hasattr(obj, part):
            found = sorted(n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n, None)))[:8]
            hint = f"; it defines {', '.join(found)}" if found else ""
            raise UserCodeError(f"{target.location} has no {target.attr!r}{hint}")
        obj = getattr(obj, part)
    return obj


def _factory(target: ModuleTarget) -> Any:
    """What ``target`` names: a model, or a function or class that builds one."""
    obj = resolve(target)
    if isinstance(obj, nn.Module):
        if target.args or target.kwargs:
            raise UserCodeError(f"{target.attr} is a model, not something to call; drop the arguments")
    elif not callable(obj):
        raise UserCodeError(f"{target.attr} in {target.location} is a {type(obj).__name__}, not a function or class that builds a model")
    return obj


def _construct(obj: Any, target: ModuleTarget, meta: bool) -> nn.Module:
    """The model, on the meta device (``meta``: no memory, no init time) or with real weights. A
    constructor that cannot run on the meta device (one that loads weights) is built for real and
    then moved there."""
    if isinstance(obj, nn.Module):
        return obj.to("meta") if meta else obj
    try:
        with torch.device("meta") if meta else contextlib.nullcontext():
            model = obj(*target.args, **target.kwargs)
    except TypeError as exc:
        raise UserCodeError(
            f"calling {target.call_text} raised {_first_line(exc)}; pass its arguments as literals, "
            f"e.g. {target.location}:{target.attr}(num_classes=10)"
        ) from None
    except Exception as exc:
        if meta:
            return _construct(obj, target, meta=False).to("meta")
        raise UserCodeError(f"calling {target.call_text} raised {_first_line(exc)}") from None
    if not isinstance(model, nn.Module):
        raise UserCodeError(f"{target.call_text} returned a {type(model).__name__}, not a torch.nn.Module")
    return model


def builder(target: ModuleTarget) -> Callable[[], nn.Module]:
    """A function that builds the user's model afresh on the meta device (for the trace, and again
    for the input sizes tried when it fails)."""
    obj = _factory(target)
    return lambda: _construct(obj, target, meta=True)


def _memory_bytes() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 16 << 30


def build_real(target: ModuleTarget, params: int | None = None) -> nn.Module:
    """The user's model with real (CPU) weights, for the checks that run it: fvcore, timing.

    ``params`` (the traced count) bounds memory before anything is allocated: weights that would
    take more than half of this machine's memory are refused in one line.
    """
    if params is not None:
        need, limit = 4 * params, _memory_bytes() // 2
        if need > limit:
            raise UserCodeError(
                f"building {target.call_text} with real weights needs {need / 2**30:.1f} GiB for its {params:,} "
                f"parameters, above the limit of {limit / 2**30:.1f} GiB (half this machine's memory); "
                "summary, shortcuts, compare and verify --module need no weights"
            )
    return _construct(_factory(target), target, meta=False)


def trace_target(target: ModuleTarget, input_shape: tuple[int, int, int]) -> Plan:
    """The plan of the user's model at ``input_shape`` (C, H, W), traced on the meta device."""
    build = builder(target)
    model = build()
    name = printable(target.text, limit=200)  # a SPEC from outside: no control characters in titles
    try:
        trace = record(model, input_shape, name)
    except TraceError as exc:
        if "fails at input" in str(exc):
            size = first_working_size(build, input_shape)
            if size is not None:
                raise TraceError(f"{exc}; it runs at --input-size {size}") from None
        raise
    notes = [f"traced by running the user's code: {printable(target.call_text)} from {printable(target.location)}, "
             f"on the meta device in eval mode at input {'x'.join(map(str, input_shape))}."]
    return plan_from_trace(dataclasses.replace(trace, notes=tuple(notes)))
