"""Where a report goes: stdout, or a file written whole or not at all.

Every way the destination can fail (a directory, a device, a missing or read-only folder, a name
too long, a full disk, ``/proc``, a closed or full stdout) becomes one line naming the option and
the path, never a traceback: ``UsageError`` (exit 2) for ``-o``, ``BrokenStdout`` (exit 1) for
stdout. Paths are passed through ``naming.printable`` before they reach a message.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from ..errors import ResnetInspectError, UsageError
from ..naming import printable

#: The temporary file's prefix keeps this much of the target's name, so a name near the file
#: system's limit (255 bytes) is not pushed over it by the ``.NAME.XXXXXXXX.tmp`` decoration.
_TMP_NAME: Final = 64


class BrokenStdout(ResnetInspectError):
    """stdout is closed or refuses the report (a full disk, an I/O error): one line, exit 1.

    Not exit 2: the command line was fine, the place it was told to print to was not. A broken
    pipe (``| head -1``) is not this: the reader chose to stop, so that exits 0 quietly."""

    exit_code = 1


def os_reason(exc: OSError) -> str:
    """``No space left on device (ENOSPC)``: the system's words and the errno's name, which is
    what a user searches for."""
    code = exc.errno
    name = errno.errorcode.get(code, "") if code is not None else ""
    words = os.strerror(code) if code is not None else (exc.strerror or type(exc).__name__)
    return f"{words} ({name})" if name else words


def _spelled_as_folder(path: Path, option: str) -> bool:
    """Whether the user wrote ``option``'s value with a trailing slash (``-o out/``).

    ``Path("out/")`` is ``Path("out")``: the slash, which says "a folder", is gone by the time the
    option's value arrives here, and writing a file named ``out`` would be a surprise. So the raw
    command line is read back for that option's value (``-o V``, ``-oV``, ``--output V``,
    ``--output=V``). Called from Python, ``sys.argv`` is some other program's, where a value
    equal to ``path`` with a slash added is all but impossible."""
    argv = sys.argv[1:]
    names = (option, "-o") if option == "--output" else (option,)
    values = []
    for i, arg in enumerate(argv):
        if arg in names and i + 1 < len(argv):
            values.append(argv[i + 1])
        elif arg.startswith(option + "="):
            values.append(arg[len(option) + 1:])
        elif option == "--output" and arg.startswith("-o") and not arg.startswith("--") and len(arg) > 2:
            values.append(arg[2:])
    return any(v.endswith(("/", os.sep)) and Path(v) == path for v in values)


def _name_max(folder: Path) -> int:
    """The longest file name (in bytes) ``folder``'s file system takes; 255 where it won't say."""
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError):
        return 255


def _probe(folder: Path, name: str) -> None:
    """Create and remove an empty file in ``folder``, and check ``name``'s length, so a folder no
    file can be written in (read-only, ``/proc``, ``/sys``, no permission) or a name too long is
    refused before any work is done, not after it."""
    if len(os.fsencode(name)) > _name_max(folder):
        raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG))
    fd, tmp = tempfile.mkstemp(prefix=f".{name[:_TMP_NAME]}.", suffix=".tmp", dir=folder)
    os.close(fd)
    os.unlink(tmp)


def writable(path: Path, inputs: Iterable[Path] = (), option: str = "--output") -> Path:
    """The file to write for ``path``, or ``UsageError`` (one line) when writing it would destroy
    something or cannot succeed: a directory (or a name written with a trailing slash), a device or
    FIFO (never replaced by a regular file), a file this command reads (its config, budget,
    checkpoint or model code), a missing folder, a folder no file can be created in, a name too
    long. A symbolic link is written through, so the link stays and its target gets the report.
    Called before any work is done."""
    path = Path(path)
    shown = f"{option} {printable(path)}"
    try:
        return _checked(path, inputs, option, shown)
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python < 3.13)
        why = os_reason(exc) if isinstance(exc, OSError) else "a symbolic link loop"
        raise UsageError(f"{shown}: cannot write a file there: {why}") from None


def _checked(path: Path, inputs: Iterable[Path], option: str, shown: str) -> Path:
    if path.is_dir():
        raise UsageError(f"{shown} is a directory; give a file name")
    if _spelled_as_folder(path, option):
        example = {"--emit-spec": "spec.toml", "--plot": "plot.svg"}.get(option, "report.txt")
        raise UsageError(f"{shown}/ ends in a slash, so it names a folder; give a file name (such as "
                         f"{printable(path, 60)}/{example})")
    target = path.resolve() if path.is_symlink() else path
    if target.exists() and not target.is_file():
        raise UsageError(f"{shown} is not a regular file (a device, FIFO or socket); give a file name")
    resolved = target.resolve()
    for source in inputs:
        if Path(source).exists() and Path(source).resolve() == resolved:
            raise UsageError(f"{shown} is an input of this command; refusing to overwrite it: give another file name")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"{shown}: folder {printable(parent)} does not exist; create it first")
    try:
        _probe(parent, target.name)
    except OSError as exc:
        # An existing folder that answers "no such file" to a new one is a virtual file system.
        why = "it takes no new files (/proc, /sys)" if exc.errno == errno.ENOENT else os_reason(exc)
        raise UsageError(f"{shown}: cannot create a file in folder {printable(parent, 80)}: {why}") from None
    return target


def write_atomic(path: Path, data: str | bytes, inputs: Iterable[Path] = (), option: str = "--output") -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename, so an interrupted or
    failed run never leaves a half-written report behind. An existing file keeps its permission
    bits; see ``writable`` for what is refused. A write that fails on the way (a full disk, an
    I/O error) removes the temporary file, leaves ``path`` as it was and raises ``UsageError``."""
    target = writable(path, inputs, option)
    try:
        _replace(target, data.encode("utf-8") if isinstance(data, str) else data)
    except OSError as exc:
        raise UsageError(f"{option} {printable(path)}: nothing written: {os_reason(exc)}") from None


def _replace(target: Path, data: bytes) -> None:
    """``target``'s content becomes ``data`` whole, or not at all (the temporary file is removed
    on any failure, Ctrl-C included)."""
    mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else 0o644
    parent = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name[:_TMP_NAME]}.", suffix=".tmp", dir=parent)
    owned = True  # until the file object takes the descriptor over (and closes it)
    try:
        os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as fh:
            owned = False
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        if owned:
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_stdout(text: str) -> None:
    """``text`` on stdout, flushed; a closed or failing stdout raises ``BrokenStdout`` (one line,
    exit 1) instead of a traceback. A broken pipe is re-raised as ``BrokenPipeError``, for the
    caller to exit 0 quietly. Either way stdout is pointed at ``/dev/null`` first, so the
    interpreter's last flush at exit finds nothing to complain about (it would print "Exception
    ignored ..." and exit 120)."""
    stream = sys.stdout
    if stream is None or getattr(stream, "closed", False):  # `1>&-`: Python starts with no stdout
        raise BrokenStdout("stdout is closed, so the report cannot be printed; give -o FILE or redirect stdout")
    try:
        stream.write(text)
        stream.flush()
    except BrokenPipeError:
        _silence_stdout()
        raise
    except (OSError, ValueError) as exc:  # ValueError: closed at the Python level
        _silence_stdout()
        why = os_reason(exc) if isinstance(exc, OSError) else "it is closed"
        raise BrokenStdout(f"cannot print the report to stdout: {why}; give -o FILE instead") from None


def _silence_stdout() -> None:
    """Point file descriptor 1 at ``/dev/null`` (best effort: a captured or replaced stdout has
    no descriptor and is left alone)."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        fileno = sys.stdout.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fileno)
        os.close(devnull)


def wrote(path: Path) -> str:
    """The note on stderr after a file is written: its name, printable and whole (up to 1,000
    characters), so a crafted file name cannot send escapes to the terminal."""
    return f"wrote {printable(path, 1000)}\n"


#: Control characters no report has any use for (all but tab, newline and carriage return): C0,
#: DEL and C1, the bytes that start terminal escape sequences and ring the bell.
_CONTROL: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_C0_BYTES: Final = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])


def inert(text: str) -> str:
    """``text`` with every control character but tab, newline and carriage return replaced by
    ``?``. The last line of defence for names from checkpoints, configs and file names: whatever
    path a name took into a report (a Markdown title, a CSV cell), ``cat report.md`` cannot clear
    the screen or retitle the terminal. Cheap when there is nothing to replace: ASCII text (JSON,
    which escapes them itself) is checked by ``bytes.translate`` (a 7 MB report: about 15 ms),
    anything else by one regex search."""
    if text.isascii():
        raw = text.encode("ascii")
        if len(raw.translate(None, _C0_BYTES)) == len(raw):
            return text
    return _CONTROL.sub("?", text) if _CONTROL.search(text) else text


def write_report(text: str, output: Path | None, option: str = "--output") -> None:
    """``text`` (made ``inert``) to stdout (``write_stdout``), or to ``output`` whole
    (``write_atomic``) with a ``wrote`` note on stderr: what a command's ``deliver`` does, every
    failure one line."""
    if output is None:
        write_stdout(inert(text))
        return
    write_atomic(output, inert(text), option=option)
    sys.stderr.write(wrote(output))


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
