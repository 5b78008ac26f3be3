"""Checkpoints and live models -> ``{name: shape}``, safely; the input of ``recover``.

Three sources:

* ``.pt`` / ``.pth`` / ``.bin`` / ``.ckpt``: ``torch.load(path, weights_only=True, map_location="cpu")``
  and nothing else. ``weights_only`` runs PyTorch's restricted unpickler, which refuses any pickle
  that would import or call code (a whole pickled ``nn.Module``, a ``__reduce__`` that calls
  ``os.system``); such a file is refused with one line, never loaded another way. Zip-format files
  are memory-mapped so only the shapes are touched.
* ``.safetensors``: only the JSON header is read (8-byte length, then JSON with every tensor's dtype,
  shape and byte range), and checked against the file's size the way the ``safetensors`` package
  checks it. No tensor data is read and no torch import is needed.
* ``module:callable``: imports the user's module and **runs their code** (the callable, with no
  arguments) to get an ``nn.Module`` (or a state_dict), then reads its ``state_dict`` shapes.

Wrappers are unwrapped (``{"state_dict": ...}``, ``{"model": ...}``, ``{"model_state_dict": ...}``
and similar); DataParallel's ``module.`` prefix is left to ``recover``, which reports it.

Every problem (missing file, folder, empty file, truncated or corrupt archive, not a checkpoint,
unsafe pickle) becomes one ``CheckpointError`` line; the CLI exits 2.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import re
import struct
import sys
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from .errors import UsageError

Shape = tuple[int, ...]

TORCH_SUFFIXES: Final = (".pt", ".pth", ".bin", ".ckpt")
SAFETENSORS_SUFFIX: Final = ".safetensors"
#: Keys under which training scripts commonly nest the weights, tried in this order.
WRAPPER_KEYS: Final = ("state_dict", "model_state_dict", "model", "module", "net", "network", "weights",
                       "state_dict_ema", "model_ema")
#: A safetensors header above this is corrupt (real ones are a few hundred KB at most).
MAX_HEADER_BYTES: Final = 100 * 1024 * 1024
_DTYPE_BYTES: Final = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8,
}
_TARGET: Final = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$")


class CheckpointError(UsageError):
    """The file or callable cannot be read as model weights (one line, exit 2)."""


@dataclass(frozen=True)
class Loaded:
    """Names and shapes from one source, with how they were found."""

    source: str
    kind: str  # "torch", "safetensors", "callable"
    shapes: dict[str, Shape]
    notes: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """A default spec name: the file's stem, or the callable."""
        return self.source if self.kind == "callable" else (Path(self.source).stem or "recovered")


def is_callable_target(text: str) -> bool:
    """``pkg.module:factory`` (and not an existing file whose name happens to contain a colon)."""
    return bool(_TARGET.match(text)) and not Path(text).exists()


def load(source: str) -> Loaded:
    """Shapes from a checkpoint file or a ``module:callable``."""
    if is_callable_target(source):
        return load_callable(source)
    return load_file(Path(source))


# --- files ------------------------------------------------------------------------------------------


def load_file(path: Path) -> Loaded:
    if not path.exists():
        raise CheckpointError(f"{path} does not exist; give a .pt/.pth/.bin/.safetensors file or module:callable")
    if path.is_dir():
        inside = sorted(p.name for p in path.iterdir() if p.suffix.lower() in (*TORCH_SUFFIXES, SAFETENSORS_SUFFIX))[:3]
        hint = f" (it holds {', '.join(inside)})" if inside else ""
        raise CheckpointError(f"{path} is a directory{hint}; give the checkpoint file inside it")
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(f"{path} is empty (0 bytes); the download or save did not finish")
    suffix = path.suffix.lower()
    if suffix == SAFETENSORS_SUFFIX:
        return Loaded(str(path), "safetensors", read_safetensors_shapes(path))
    if suffix in TORCH_SUFFIXES:
        return _load_torch(path)
    raise CheckpointError(
        f"{path}: unknown checkpoint type {suffix or '(no suffix)'!r}; use .pt, .pth, .bin, .ckpt or .safetensors"
    )


def read_safetensors_shapes(path: Path) -> dict[str, Shape]:
    """Tensor shapes from a safetensors header, validated against the file like the format requires:
    a sane header length, JSON of ``{name: {dtype, shape, data_offsets}}``, byte ranges that fit the
    data section and match dtype x elements."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise CheckpointError(f"{path} is truncated: {size} bytes, shorter than a safetensors header")
        (n,) = struct.unpack("<Q", head)
        if n > MAX_HEADER_BYTES:
            raise CheckpointError(f"{path} is not a valid safetensors file (header length {n:,} bytes is implausible)")
        if 8 + n > size:
            raise CheckpointError(f"{path} is truncated: its header needs {8 + n:,} bytes, the file has {size:,}")
        raw = fh.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError(f"{path} is not a valid safetensors file (its header is not JSON)") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path} is not a valid safetensors file (its header is not a JSON object)")
    data_len = size - 8 - n
    shapes: dict[str, Shape] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        shape, start, end, dtype = _tensor_info(path, name, info)
        width = _DTYPE_BYTES.get(dtype)
        if width is not None and end - start != math.prod(shape) * width:
            raise CheckpointError(f"{path} is corrupt: tensor {name!r} has {end - start} bytes for shape {list(shape)} {dtype}")
        if end > data_len:
            raise CheckpointError(
                f"{path} is truncated: tensor {name!r} ends at byte {end:,} of the data, which has {data_len:,}"
            )
        shapes[str(name)] = shape
    if not shapes:
        raise CheckpointError(f"{path} holds no tensors")
    return shapes


def _tensor_info(path: Path, name: str, info: Any) -> tuple[Shape, int, int, str]:
    bad = CheckpointError(f"{path} is not a valid safetensors file (entry {name!r} lacks dtype/shape/data_offsets)")
    if not isinstance(info, dict):
        raise bad
    shape, offsets, dtype = info.get("shape"), info.get("data_offsets"), info.get("dtype")
    if not (isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape)):
        raise bad
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
        raise bad
    if not isinstance(dtype, str) or offsets[0] < 0 or offsets[1] < offsets[0]:
        raise bad
    return tuple(shape), offsets[0], offsets[1], dtype


def _sniff(path: Path) -> str:
    """``zip`` (torch.save's format), ``pickle`` (legacy torch.save or a raw pickle) or ``other``."""
    with path.open("rb") as fh:
        start = fh.read(4)
    if start.startswith(b"PK\x03\x04") or start.startswith(b"PK\x05\x06"):
        return "zip"
    if start[:1] == b"\x80":  # PROTO opcode: protocol 2+ (torch.save's legacy format uses 2)
        return "pickle"
    return "other"


def _load_torch(path: Path) -> Loaded:
    import pickle

    kind = _sniff(path)
    if kind == "other":
        raise CheckpointError(
            f"{path} is not a PyTorch checkpoint (torch.save writes a zip archive or a pickle; this file "
            "starts with neither); if it is safetensors, rename it to .safetensors"
        )
    try:
        import torch
    except ModuleNotFoundError:
        from .errors import MissingDependency

        raise MissingDependency(f"reading {path.suffix} checkpoints needs torch; install it, or convert to .safetensors") from None
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols; the outcome is what matters
            warnings.simplefilter("ignore")
            if kind == "zip":
                obj = torch.load(path, weights_only=True, map_location="cpu", mmap=True)
            else:
                obj = torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if "weights only load failed" in text.lower():
            raise CheckpointError(
                f"{path}: refused: {_unsafe_detail(path, kind, text)}; inspect loads only plain tensors "
                "(torch.load weights_only=True) and never runs a checkpoint's code; if you trust the file, "
                "load it yourself and save model.state_dict() with torch.save or as .safetensors"
            ) from None
        raise CheckpointError(f"{path} is truncated or corrupt ({_first_line(text)})") from None
    except (RuntimeError, EOFError, ValueError, OSError, KeyError, IndexError, struct.error) as exc:
        raise CheckpointError(f"{path} is truncated or corrupt ({type(exc).__name__}: {_first_line(str(exc))})") from None
    except Exception as exc:
        raise CheckpointError(f"{path} could not be read ({type(exc).__name__}: {_first_line(str(exc))})") from None
    state, notes = find_state_dict(obj, str(path))
    return Loaded(str(path), "torch", {k: tuple(int(d) for d in v.shape) for k, v in state.items()}, tuple(notes))


def _first_line(text: str) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "no detail")
    line = line.split(". ", 1)[0].rstrip(".")
    return line if len(line) <= 160 else line[:157] + "..."


_SAFE_PREFIXES: Final = ("torch.", "collections.OrderedDict", "_codecs.encode", "builtins.set", "numpy.")


def _unsafe_detail(path: Path, kind: str, text: str) -> str:
    """Why torch refused: the code the pickle would import and call, found by reading its opcodes
    (``pickletools.genops`` only parses, it executes nothing)."""
    names = [n for n in _pickle_imports(path, kind) if not n.startswith(_SAFE_PREFIXES)]
    if names:
        return f"its pickle would import and call code ({', '.join(dict.fromkeys(names))})"
    m = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
    if m:
        return f"its pickle would import and call code ({m.group(1)})"
    return "its pickle holds more than plain tensors (a pickled object or module)"


def _pickle_imports(path: Path, kind: str) -> list[str]:
    """Dotted names that the pickle (or the zip archive's ``data.pkl``) imports, best effort."""
    import pickletools
    import zipfile

    try:
        if kind == "zip":
            with zipfile.ZipFile(path) as zf:
                member = next((n for n in zf.namelist() if n.endswith("data.pkl")), None)
                if member is None or zf.getinfo(member).file_size > 64 * 1024 * 1024:
                    return []
                data = zf.read(member)
        else:
            data = path.read_bytes()[: 64 * 1024 * 1024]
    except (OSError, zipfile.BadZipFile):
        return []
    found: list[str] = []
    strings: list[str] = []
    try:
        for op, arg, _ in pickletools.genops(data):
            if op.name in ("GLOBAL", "INST") and isinstance(arg, str):
                found.append(arg.replace(" ", "."))
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                found.append(f"{strings[-2]}.{strings[-1]}")
            if isinstance(arg, str) and "UNICODE" in op.name:
                strings.append(arg)
    except Exception:
        pass
    return found


def _is_tensor(value: Any) -> bool:
    return hasattr(value, "shape") and hasattr(value, "dtype") and not isinstance(value, (str, bytes))


def find_state_dict(obj: Any, source: str) -> tuple[dict[str, Any], list[str]]:
    """The ``{name: tensor}`` mapping inside a loaded object, unwrapping the usual containers."""
    notes: list[str] = []
    current = obj
    for _ in range(3):
        if not isinstance(current, Mapping):
            break
        tensors = {str(k): v for k, v in current.items() if _is_tensor(v)}
        if tensors and len(tensors) >= len(current) / 2:
            dropped = [str(k) for k in current if not _is_tensor(current[k])]
            if dropped:
                notes.append(f"ignored {len(dropped)} non-tensor entries ({', '.join(dropped[:3])})")
            return tensors, notes
        inner = next((k for k in WRAPPER_KEYS if isinstance(current.get(k), Mapping) and current.get(k)), None)
        if inner is None:
            break
        notes.append(f"weights found under the {inner!r} key")
        current = current[inner]
    if _is_tensor(obj):
        raise CheckpointError(f"{source} holds a single tensor, not a state_dict of named weights")
    top = ", ".join(map(str, list(obj)[:5])) if isinstance(obj, Mapping) else type(obj).__name__
    raise CheckpointError(
        f"{source} holds no state_dict of tensors (found: {top}); save model.state_dict(), or nest it under "
        "'state_dict' or 'model'"
    )


# --- live models ------------------------------------------------------------------------------------


def load_callable(target: str) -> Loaded:
    """Import ``module`` and call ``callable`` (the user's code runs here) for an ``nn.Module``.

    The current folder is put on ``sys.path`` first, as ``python -m`` does, so a file next to the
    user is importable by its name.
    """
    module_name, _, attr_path = target.partition(":")
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                raise CheckpointError(
                    f"cannot import {module_name!r} ({exc}); run from the folder that holds it or install it, "
                    "or give a checkpoint path"
                ) from None
            raise CheckpointError(f"importing {module_name!r} failed: {exc}") from None
        except Exception as exc:
            raise CheckpointError(f"importing {module_name!r} raised {type(exc).__name__}: {_first_line(str(exc))}") from None
        obj: Any = module
        for part in attr_path.split("."):
            if not hasattr(obj, part):
                raise CheckpointError(f"{module_name!r} has no attribute {attr_path!r}")
            obj = getattr(obj, part)
        if not hasattr(obj, "state_dict") and callable(obj):
            try:
                obj = obj()
            except Exception as exc:
                raise CheckpointError(f"calling {target}() raised {type(exc).__name__}: {_first_line(str(exc))}") from None
    finally:
        if added and cwd in sys.path:
            sys.path.remove(cwd)
    notes = [f"ran the user's code: {target}()"]
    if hasattr(obj, "state_dict") and callable(obj.state_dict):
        state = obj.state_dict()
    elif isinstance(obj, Mapping):
        state = obj
    else:
        raise CheckpointError(f"{target} gave a {type(obj).__name__}, not an nn.Module or a state_dict")
    tensors, more = find_state_dict(state, target)
    shapes = {k: tuple(int(d) for d in v.shape) for k, v in tensors.items()}
    return Loaded(target, "callable", shapes, tuple(notes + more))
