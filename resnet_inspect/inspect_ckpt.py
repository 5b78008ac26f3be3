"""Checkpoints -> ``{name: shape}``, safely; the input of ``recover``. (A live model is traced
instead: ``sources`` and ``nn.usercode``.)

A file's format is read from its **content**, never its name (``resnet20-12fca82f.th``,
``checkpoint.pth.tar``, ``model_best.tar`` and files with no extension are all common):

* a zip archive holding ``data.pkl`` (``torch.save``'s format), a pickle (legacy ``torch.save``)
  or a tar archive (torch's oldest format): ``torch.load(path, weights_only=True,
  map_location="cpu")`` and nothing else. ``weights_only`` runs PyTorch's restricted unpickler,
  which refuses any pickle that would import or call code (a whole pickled ``nn.Module``, a
  ``__reduce__`` that calls ``os.system``); such a file is refused with one line, never loaded
  another way. Zip archives are memory-mapped so only the shapes are touched.
* safetensors (an 8-byte header length, then a JSON object): only the header is read and checked
  against the file's size the way the ``safetensors`` package checks it. No tensor data is read
  and no torch import is needed.

Wrappers are unwrapped (``{"state_dict": ...}``, ``{"model": ...}``, ``{"model_state_dict": ...}``
and similar); DataParallel's ``module.`` prefix is left to ``recover``, which reports it.

Every problem (missing file, folder, empty file, truncated or corrupt archive, not a checkpoint,
unsafe pickle) becomes one ``CheckpointError`` line; the CLI exits 2. Names from the file are
passed through ``naming.printable`` before they reach a message.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import struct
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from .ckpt_structure import MAX_TENSORS
from .errors import UsageError
from .naming import printable

Shape = tuple[int, ...]

#: Names checkpoints are commonly saved under; used for labels and hints only, never to pick a reader.
TORCH_SUFFIXES: Final = (".pt", ".pth", ".bin", ".ckpt", ".th", ".tar", ".pth.tar", ".pt.tar")
SAFETENSORS_SUFFIX: Final = ".safetensors"
#: What each content kind is called in reports.
FORMATS: Final = {"zip": "torch.save zip archive", "pickle": "legacy torch.save pickle",
                  "tar": "legacy torch.save tar archive", "safetensors": "safetensors"}
#: Keys under which training scripts commonly nest the weights, tried in this order.
WRAPPER_KEYS: Final = ("state_dict", "model_state_dict", "model", "module", "net", "network", "weights",
                       "state_dict_ema", "model_ema")
#: A safetensors header above this is corrupt (real ones are a few hundred KB at most).
MAX_HEADER_BYTES: Final = 100 * 1024 * 1024
_DTYPE_BYTES: Final = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8,
}


class CheckpointError(UsageError):
    """The file cannot be read as model weights (one line, exit 2)."""


@dataclass(frozen=True)
class Loaded:
    """Names and shapes from one source, with how they were found."""

    source: str
    kind: str  # "torch", "safetensors"
    shapes: dict[str, Shape]
    notes: tuple[str, ...] = ()
    format: str = ""  # what the content was: a key of FORMATS

    @property
    def label(self) -> str:
        """A default spec name: the file's name without checkpoint suffixes (``resnet20-12fca82f``
        for ``resnet20-12fca82f.th``); only ``[A-Za-z0-9_.+-]``, since it is printed in titles."""
        name = Path(self.source).name
        for suffix in sorted((*TORCH_SUFFIXES, SAFETENSORS_SUFFIX), key=len, reverse=True):
            if name.lower().endswith(suffix) and len(name) > len(suffix):
                name = name[: -len(suffix)]
                break
        return re.sub(r"[^A-Za-z0-9_.+-]", "_", name).strip("._") or "recovered"


def load(source: str) -> Loaded:
    """Shapes from a checkpoint file (a live model is traced instead: ``sources``)."""
    return load_file(Path(source))


# --- files ------------------------------------------------------------------------------------------


def load_file(path: Path) -> Loaded:
    """Shapes from a checkpoint file, whatever it is named: the content picks the reader."""
    shown = printable(path)
    if not path.exists():
        raise CheckpointError(f"{shown} does not exist; give a checkpoint file (.pt .pth .th .tar .safetensors ...) "
                              "or your model as FILE.py:CALLABLE")
    if path.is_dir():
        inside = sorted(printable(p.name) for p in path.iterdir() if _looks_like_checkpoint(p.name))[:3]
        hint = f" (it holds {', '.join(inside)})" if inside else ""
        raise CheckpointError(f"{shown} is a directory{hint}; give the checkpoint file inside it")
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(f"{shown} is empty (0 bytes); the download or save did not finish")
    kind = sniff(path)
    if kind == "other" and path.suffix.lower() == SAFETENSORS_SUFFIX:
        kind = "safetensors"  # let the header check say what is wrong with it
    notes = _name_notes(path, kind)
    if kind == "safetensors":
        return Loaded(str(path), "safetensors", read_safetensors_shapes(path), notes, kind)
    if kind in ("zip", "pickle", "tar"):
        return _load_torch(path, kind, notes)
    if kind == "hdf5":
        raise CheckpointError(f"{shown} is an HDF5 file (Keras / TensorFlow weights), not a PyTorch checkpoint; "
                              "convert the model to PyTorch and save its state_dict")
    raise CheckpointError(
        f"{shown} is not a checkpoint: it is neither a torch.save zip archive or pickle nor safetensors "
        "(read by its content, whatever its name)"
    )


def _looks_like_checkpoint(name: str) -> bool:
    return name.lower().endswith((*TORCH_SUFFIXES, SAFETENSORS_SUFFIX))


def sniff(path: Path) -> str:
    """What a file holds, from its first bytes: ``zip`` (torch.save), ``pickle`` (legacy torch.save),
    ``tar`` (torch's oldest format), ``safetensors``, ``hdf5`` or ``other``."""
    with path.open("rb") as fh:
        head = fh.read(512)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:  # PROTO opcode, protocols 2-5
        return "pickle"
    if len(head) >= 9 and head[8:9] == b"{":
        (n,) = struct.unpack("<Q", head[:8])
        if 2 <= n <= MAX_HEADER_BYTES:
            return "safetensors"
    if head[257:262] == b"ustar":
        return "tar"
    if head.startswith(b"\x89HDF\r\n"):
        return "hdf5"
    return "other"


def _name_notes(path: Path, kind: str) -> tuple[str, ...]:
    """A note where the name suggests another format than the content has."""
    name = path.name.lower()
    says_st = name.endswith(SAFETENSORS_SUFFIX)
    if kind in FORMATS and (says_st != (kind == "safetensors")) and _looks_like_checkpoint(name):
        return (f"read as a {FORMATS[kind]} by its content (its name suggests otherwise)",)
    return ()


def read_safetensors_shapes(path: Path) -> dict[str, Shape]:
    """Tensor shapes from a safetensors header, validated against the file like the format requires:
    a sane header length, JSON of ``{name: {dtype, shape, data_offsets}}``, byte ranges that fit the
    data section and match dtype x elements."""
    size = path.stat().st_size
    shown = printable(path)
    with path.open("rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise CheckpointError(f"{shown} is truncated: {size} bytes, shorter than a safetensors header")
        (n,) = struct.unpack("<Q", head)
        if n > MAX_HEADER_BYTES:
            raise CheckpointError(f"{shown} is not a valid safetensors file (header length {n:,} bytes is implausible)")
        if 8 + n > size:
            raise CheckpointError(f"{shown} is truncated: its header needs {8 + n:,} bytes, the file has {size:,}")
        raw = fh.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError(f"{shown} is not a valid safetensors file (its header is not JSON)") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{shown} is not a valid safetensors file (its header is not a JSON object)")
    if len(header) > MAX_TENSORS + 1:
        raise CheckpointError(f"{printable(path)} lists {len(header):,} tensors, above the limit of {MAX_TENSORS:,}")
    data_len = size - 8 - n
    shapes: dict[str, Shape] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        shape, start, end, dtype = _tensor_info(path, name, info)
        width = _DTYPE_BYTES.get(dtype)
        if width is not None and end - start != math.prod(shape) * width:
            raise CheckpointError(f"{shown} is corrupt: tensor {printable(name)!r} has {end - start} bytes for shape {list(shape)} {dtype}")
        if end > data_len:
            raise CheckpointError(
                f"{shown} is truncated: tensor {printable(name)!r} ends at byte {end:,} of the data, which has {data_len:,}"
            )
        shapes[str(name)] = shape
    if not shapes:
        raise CheckpointError(f"{shown} holds no tensors")
    return shapes


def _tensor_info(path: Path, name: str, info: Any) -> tuple[Shape, int, int, str]:
    shown = printable(path)
    bad = CheckpointError(f"{shown} is not a valid safetensors file (entry {printable(name)!r} lacks dtype/shape/data_offsets)")
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


def _load_torch(path: Path, kind: str, notes: tuple[str, ...] = ()) -> Loaded:
    import pickle

    shown = printable(path)
    if kind == "zip":
        _check_torch_zip(path)
    try:
        import torch
    except ModuleNotFoundError:
        from .errors import MissingDependency

        raise MissingDependency(f"reading {FORMATS[kind]} checkpoints needs torch; install it, or convert to .safetensors") from None
    # torch.load picks its safetensors reader by the name alone: a torch file named .safetensors
    # goes in as an open file instead (no mmap then), so the content decides here too.
    by_name = path.name.lower().endswith(SAFETENSORS_SUFFIX)
    try:
        with warnings.catch_warnings(), contextlib.ExitStack() as stack:
            warnings.simplefilter("ignore")  # torch warns about pickle protocols; the outcome is what matters
            source: Any = stack.enter_context(path.open("rb")) if by_name else path
            obj = torch.load(source, weights_only=True, map_location="cpu", mmap=kind == "zip" and not by_name)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if "weights only load failed" in text.lower():
            raise CheckpointError(
                f"{shown}: refused: {_unsafe_detail(path, kind, text)}; inspect loads only plain tensors "
                "(torch.load weights_only=True) and never runs a checkpoint's code; if you trust the file, "
                "load it yourself and save model.state_dict() with torch.save or as .safetensors"
            ) from None
        raise CheckpointError(f"{shown} is truncated or corrupt ({_first_line(text)})") from None
    except (RuntimeError, EOFError, ValueError, OSError, KeyError, IndexError, struct.error) as exc:
        raise CheckpointError(f"{shown} is truncated or corrupt ({type(exc).__name__}: {_first_line(str(exc))})") from None
    except Exception as exc:
        raise CheckpointError(f"{shown} could not be read ({type(exc).__name__}: {_first_line(str(exc))})") from None
    state, more = find_state_dict(obj, shown)
    if len(state) > MAX_TENSORS:
        raise CheckpointError(f"{shown} holds {len(state):,} tensors, above the limit of {MAX_TENSORS:,}")
    shapes = {k: tuple(int(d) for d in v.shape) for k, v in state.items()}
    return Loaded(str(path), "torch", shapes, (*notes, *more), kind)


def _check_torch_zip(path: Path) -> None:
    """A zip archive is a torch checkpoint only if it holds a ``data.pkl`` (an ``.npz`` or a
    Keras ``.keras`` file is a zip too)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CheckpointError(f"{printable(path)} is truncated or corrupt (a damaged zip archive: {_first_line(str(exc))})") from None
    if not any(n.endswith("data.pkl") for n in names):
        shown = ", ".join(printable(n, 40) for n in names[:3]) or "nothing"
        raise CheckpointError(f"{printable(path)} is a zip archive but not a torch.save checkpoint (no data.pkl; "
                              f"it holds {shown})")


def _first_line(text: str) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "no detail")
    line = line.split(". ", 1)[0].rstrip(".")
    return printable(line, 160)


_SAFE_PREFIXES: Final = ("torch.", "collections.OrderedDict", "_codecs.encode", "builtins.set", "numpy.")


def _unsafe_detail(path: Path, kind: str, text: str) -> str:
    """Why torch refused: the code the pickle would import and call, found by reading its opcodes
    (``pickletools.genops`` only parses, it executes nothing)."""
    names = [n for n in _pickle_imports(path, kind) if not n.startswith(_SAFE_PREFIXES)]
    if names:
        shown = ", ".join(printable(n, 60) for n in list(dict.fromkeys(names))[:5])
        return f"its pickle would import and call code ({shown})"
    m = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
    if m:
        return f"its pickle would import and call code ({printable(m.group(1), 60)})"
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
                shown = ", ".join(printable(d, 40) for d in dropped[:3])
                notes.append(f"ignored {len(dropped)} non-tensor entries ({shown})")
            return tensors, notes
        inner = next((k for k in WRAPPER_KEYS if isinstance(current.get(k), Mapping) and current.get(k)), None)
        if inner is None:
            break
        notes.append(f"weights found under the {printable(inner)!r} key")
        current = current[inner]
    if _is_tensor(obj):
        raise CheckpointError(f"{source} holds a single tensor, not a state_dict of named weights")
    top = ", ".join(printable(k, 40) for k in list(obj)[:5]) if isinstance(obj, Mapping) else type(obj).__name__
    raise CheckpointError(
        f"{source} holds no state_dict of tensors (found: {top}); save model.state_dict(), or nest it under "
        "'state_dict' or 'model'"
    )
