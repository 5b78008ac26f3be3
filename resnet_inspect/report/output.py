"""Where a report goes: stdout, or a file written whole or not at all."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from ..errors import UsageError


def writable(path: Path, inputs: Iterable[Path] = (), option: str = "--output") -> Path:
    """The file to write for ``path``, or ``UsageError`` (one line) when writing it would destroy
    something: a directory, a device or FIFO (never replaced by a regular file), or a file this
    command reads (its config, budget, checkpoint or model code). A symbolic link is written
    through, so the link stays and its target gets the report. Called before any work is done."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{option} {path} is a directory; give a file name")
    target = path.resolve() if path.is_symlink() else path
    if target.exists() and not target.is_file():
        raise UsageError(f"{option} {path} is not a regular file (a device, FIFO or socket); give a file name")
    resolved = target.resolve()
    for source in inputs:
        if Path(source).exists() and Path(source).resolve() == resolved:
            raise UsageError(f"{option} {path} is an input of this command; refusing to overwrite it: give another file name")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"{option} {path}: folder {parent} does not exist; create it first")
    return target


def write_atomic(path: Path, data: str | bytes, inputs: Iterable[Path] = ()) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename, so an interrupted or
    failed run never leaves a half-written report behind. An existing file keeps its permission
    bits; see ``writable`` for what is refused."""
    target = writable(path, inputs)
    mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else 0o644
    parent = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent)
    try:
        os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def json_text(doc: object) -> str:
    """``json.dumps(doc, indent=2) + "\\n"``, built one element of each long top-level list at a
    time: the same text, at a fraction of the peak memory for 10,000-block networks (the encoder
    with ``indent`` keeps every fragment of the whole document alive until it joins them)."""
    import json

    if not isinstance(doc, dict) or not doc:
        return json.dumps(doc, indent=2) + "\n"
    parts = ["{\n"]
    last = len(doc) - 1
    for i, (key, value) in enumerate(doc.items()):
        comma = "," if i < last else ""
        name = json.dumps(key)
        if isinstance(value, list) and len(value) > 16:
            parts.append(f"  {name}: [\n")
            end = len(value) - 1
            for j, item in enumerate(value):
                text = json.dumps(item, indent=2).replace("\n", "\n    ")
                parts.append(f"    {text}{',' if j < end else ''}\n")
            parts.append(f"  ]{comma}\n")
        else:
            text = json.dumps(value, indent=2).replace("\n", "\n  ")
            parts.append(f"  {name}: {text}{comma}\n")
    parts.append("}\n")
    return "".join(parts)
