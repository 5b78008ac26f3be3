"""Checkpoints -> ``{name: shape}``, safely; the input of ``recover``. (A live model is traced
instead: ``sources`` and ``nn.usercode``.)

A file's format is read from its **content**, never its name (``resnet20-12fca82f.th``,
``checkpoint.pth.tar``, ``model_best.tar`` and files with no extension are all common):

* a zip archive holding ``data.pkl`` (``torch.save``'s format), a pickle (legacy ``torch.save``)
  or a tar archive (torch's oldest format): ``torch.load(path, weights_only=True,
  map_location="cpu")`` and nothing else (``nn.checkpoint``, imported only for such a file: the one
  place here that needs torch). ``weights_only`` runs PyTorch's restricted unpickler, which refuses
  any pickle that would import or call code (a whole pickled ``nn.Module``, a ``__reduce__`` that
  calls ``os.system``); such a file is refused with one line, never loaded another way. Zip
  archives are memory-mapped so only the shapes are touched.
* safetensors (an 8-byte header length, then a JSON object): only the header is read, in pure
  Python, and checked against the file's size: its length, its JSON, each entry's fields, and
  byte ranges that tile the data section exactly, so that the header covers the whole file
  (``read_safetensors_shapes`` lists every check). The ``safetensors`` library checks much the
  same; unlike it, the byte count of a dtype not in ``_DTYPE_BYTES`` goes unchecked, and a key
  listed twice is refused. No tensor data is read and no torch import is needed.

Wrappers are unwrapped (``{"state_dict": ...}``, ``{"model": ...}``, ``{"model_state_dict": ...}``
and similar); DataParallel's ``module.`` prefix is left to ``recover``, which reports it.

Every problem (missing file, folder, empty file, truncated or corrupt archive, not a checkpoint,
unsafe pickle) becomes one ``CheckpointError`` line; the CLI exits 2. Names from the file are
passed through ``naming.printable`` before they reach a message.
"""

from __future__ import annotations

import json
import math
import re
import struct
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
#: A safetensors header above this is corrupt (real ones are a few hundred KB at most); the
#: ``safetensors`` library's own limit (``MAX_HEADER_SIZE``).
MAX_HEADER_BYTES: Final = 100_000_000
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
    """Shapes from a checkpoint file, whatever it is named: the content picks the reader. A file
    the system will not open or read (no permission, a name too long, an I/O error) is one line."""
    try:
        return _load_file(path)
    except OSError as exc:
        from .report.output import os_reason

        raise _fitted(path, f"{printable(path)} cannot be read: {os_reason(exc)}") from None
    except CheckpointError as exc:
        raise _fitted(path, str(exc)) from None


#: Longest checkpoint error (the CLI adds ``error: ``), so it stays one short line.
MAX_MESSAGE: Final = 290


def _fitted(path: Path, message: str) -> CheckpointError:
    """``message`` (which starts with the file's name) within ``MAX_MESSAGE`` characters: a long
    path gives up its middle to the reason, since the reason is what the user needs to act on."""
    shown = printable(path)
    if len(message) <= MAX_MESSAGE or not message.startswith(shown):
        return CheckpointError(message)
    rest = message[len(shown):]
    return CheckpointError(printable(path, max(MAX_MESSAGE - len(rest), 32)) + rest)


def _load_file(path: Path) -> Loaded:
    shown = printable(path)
    if not path.exists():
        raise CheckpointError(f"{shown} does not exist; give a checkpoint file (.pt .pth .th .tar .safetensors ...) "
                              "or your model as FILE.py:CALLABLE")
    if path.is_dir():
        inside = sorted(printable(p.name) for p in path.iterdir() if _looks_like_checkpoint(p.name))[:3]
        hint = f" (it holds {', '.join(inside)})" if inside else ""
        raise CheckpointError(f"{shown} is a directory{hint}; give the checkpoint file inside it")
    if not path.is_file():  # a FIFO would block the read; a device has no end
        raise CheckpointError(f"{shown} is not a regular file (a device, FIFO or socket); give the checkpoint file")
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
    """Tensor shapes from a safetensors header, checked against the file: a header length of at
    most ``MAX_HEADER_BYTES`` that fits in the file; the header a UTF-8 JSON object; at most
    ``MAX_TENSORS`` entries and at least one besides ``__metadata__``; each entry a ``dtype``
    string, a ``shape`` of non-negative ints and ``data_offsets`` of two ints, ``0 <= start <=
    end``; the entries' byte ranges, sorted, tiling the data section exactly (no overlap, no gap,
    none past its end, no bytes after the last one: the header covers the whole file); and, for a
    dtype in ``_DTYPE_BYTES``, each entry's byte count equal to its elements times the dtype's width.

    Mostly what the ``safetensors`` library checks (``SafeTensors::read_metadata`` and
    ``Metadata::validate``), with two differences. Looser: a dtype not in ``_DTYPE_BYTES`` (``C64``,
    ``F8_E8M0``, the sub-byte ``F4``/``F6`` types, or a string that is no dtype at all) is accepted
    with its byte count unchecked, where the library refuses an unknown dtype or a wrong count.
    Stricter: a key listed twice anywhere in the header is refused (the library lets the last
    tensor of a name win silently, so which shape is meant is unknown). No tensor data is read."""
    shown = printable(path)
    header, data_len = _safetensors_header(path, shown)
    if len(header) > MAX_TENSORS + 1:
        raise CheckpointError(f"{shown} lists {len(header):,} tensors, above the limit of {MAX_TENSORS:,}")
    entries = {str(name): _tensor_info(path, name, info) for name, info in header.items() if name != "__metadata__"}
    if not entries:
        raise CheckpointError(f"{shown} holds no tensors")
    _check_layout(shown, entries, data_len)
    return {name: info[0] for name, info in entries.items()}


class _Duplicate(ValueError):
    """A JSON object that names one key twice."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads``'s ``object_pairs_hook``: the object, or ``_Duplicate`` for a repeated key."""
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Duplicate(key)
            seen.add(key)
    return out


def _safetensors_header(path: Path, shown: str) -> tuple[dict[str, Any], int]:
    """The parsed header of a safetensors file and the length of its data section."""
    size = path.stat().st_size
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
    bad = f"{shown} is not a valid safetensors file"
    try:
        text = raw.decode("utf-8")
        header = json.loads(text, object_pairs_hook=_unique_keys) if text.startswith("{") else None
    except _Duplicate as exc:
        raise CheckpointError(f"{bad}: its header lists {printable(exc.key, 60)!r} twice") from None
    except RecursionError:  # `{"a": [[[[...` nested past the parser's stack: no header is that deep
        raise CheckpointError(f"{bad}: its header nests deeper than any tensor list") from None
    except (UnicodeDecodeError, ValueError):  # ValueError: JSON errors, a 5,000-digit number
        raise CheckpointError(f"{bad} (its header is not JSON)") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{bad} (its header is not a JSON object)")
    return header, size - 8 - n


def _check_layout(shown: str, entries: Mapping[str, tuple[Shape, int, int, str]], data_len: int) -> None:
    """The byte ranges tile the data section exactly, each the size its dtype and shape need."""
    expected = 0
    previous = ""
    for name, (shape, start, end, dtype) in sorted(entries.items(), key=lambda kv: (kv[1][1], kv[1][2])):
        tensor = f"tensor {printable(name, 60)!r}"
        width = _DTYPE_BYTES.get(dtype)
        if width is not None and end - start != math.prod(shape) * width:
            raise CheckpointError(f"{shown} is corrupt: {tensor} has {end - start:,} bytes for shape {_dims(shape)} "
                                  f"{printable(dtype, 12)}")
        if start < expected:
            raise CheckpointError(f"{shown} is corrupt: the bytes of {tensor} overlap those of "
                                  f"{printable(previous, 60)!r} (data_offsets)")
        if start > expected:
            raise CheckpointError(f"{shown} is corrupt: bytes {expected:,}-{start:,} of its data belong to no tensor "
                                  "(data_offsets leave a gap)")
        if end > data_len:
            raise CheckpointError(f"{shown} is truncated: {tensor} ends at byte {end:,} of the data, which has {data_len:,}")
        expected, previous = end, name
    if expected != data_len:
        raise CheckpointError(f"{shown} is not a valid safetensors file: its last {data_len - expected:,} bytes belong "
                              "to no tensor (the header must cover the whole file)")


def _dims(shape: Shape) -> str:
    """A shape for a message, at most 8 dimensions of it."""
    return "[" + ", ".join(map(str, shape[:8])) + (", ...]" if len(shape) > 8 else "]")


def _tensor_info(path: Path, name: str, info: Any) -> tuple[Shape, int, int, str]:
    shown = printable(path)
    bad = CheckpointError(f"{shown} is not a valid safetensors file (entry {printable(name, 60)!r} lacks "
                          "dtype/shape/data_offsets)")
    if not isinstance(info, dict):
        raise bad
    shape, offsets, dtype = info.get("shape"), info.get("data_offsets"), info.get("dtype")
    if not (isinstance(shape, list) and all(type(d) is int and d >= 0 for d in shape)):
        raise bad
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)):
        raise bad
    if not isinstance(dtype, str) or offsets[0] < 0 or offsets[1] < offsets[0]:
        raise bad
    return tuple(shape), offsets[0], offsets[1], dtype


def _load_torch(path: Path, kind: str, notes: tuple[str, ...] = ()) -> Loaded:
    """A ``torch.save`` file through ``nn.checkpoint`` (torch is imported only here): every failure
    of ``torch.load`` one ``CheckpointError`` line, an unsafe pickle named as such."""
    import pickle

    shown = printable(path)
    if kind == "zip":
        _check_torch_zip(path)
    try:
        from .nn.checkpoint import load_weights_only
    except ModuleNotFoundError:
        from .errors import MissingDependency

        raise MissingDependency(f"reading {FORMATS[kind]} checkpoints needs torch; install it, or convert to .safetensors") from None
    # torch.load picks its safetensors reader by the name alone: a torch file named .safetensors
    # goes in as an open file instead (no mmap then), so the content decides here too.
    by_name = path.name.lower().endswith(SAFETENSORS_SUFFIX)
    try:
        obj = load_weights_only(path, open_first=by_name, mmap=kind == "zip" and not by_name)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if "weights only load failed" in text.lower():
            imports = _pickle_imports(path, kind)
            if imports is None:
                raise CheckpointError(f"{shown} is truncated or corrupt (its pickle does not parse)") from None
            raise CheckpointError(
                f"{shown}: refused: {_unsafe_detail(imports, text)}; inspect reads plain tensors only "
                "(torch.load weights_only=True), never a file's code; if you trust it, save its state_dict()"
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


def _unsafe_detail(imports: list[str], text: str) -> str:
    """Why torch refused: the code the pickle would import and call (``_pickle_imports``)."""
    names = [n for n in imports if not n.startswith(_SAFE_PREFIXES)]
    if names:
        unique = list(dict.fromkeys(names))
        shown = ", ".join(printable(n, 40) for n in unique[:2]) + (", ..." if len(unique) > 2 else "")
        return f"its pickle would import and call code ({shown})"
    m = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
    if m:
        return f"its pickle would import and call code ({printable(m.group(1), 60)})"
    return "its pickle holds more than plain tensors (a pickled object or module)"


def _pickle_imports(path: Path, kind: str) -> list[str] | None:
    """Dotted names that the pickle (or the zip archive's ``data.pkl``) imports, best effort, found
    by reading its opcodes (``pickletools.genops`` only parses, it executes nothing); None when it
    is no pickle at all (noise that does not parse), which is damage rather than danger."""
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
        return found or None
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
