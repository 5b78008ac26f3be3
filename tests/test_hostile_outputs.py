"""Where a report goes, when the destination is hostile or broken, and what a hostile name can do
to the bytes that reach a terminal.

Every case runs the real CLI in a subprocess (``python -m resnet_inspect``), as a user's shell
would, and asserts: the exit code; exactly one line on stderr, under 300 characters, with no
traceback; no file created or changed. The in-process cases (a full disk, a stream that fails)
call ``report.output`` directly, since no test can fill a disk on demand.
"""

from __future__ import annotations

import errno
import io
import json
import os
import stat
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from resnet_inspect.errors import UsageError
from resnet_inspect.report import output
from resnet_inspect.report.output import BrokenStdout, inert, write_atomic, write_report, write_stdout

#: Seconds any one of these commands may take (start-up included): none of them computes much.
LIMIT = 60
#: What a crafted name holds: an OSC window title with BEL, clear screen, and rich markup.
EVIL = "\x1b]0;pwned\x07\x1b[2J[bold red]x[/]"
#: The same as a file name (no slash allowed in one).
EVIL_FILE = "\x1b]0;pwned\x07\x1b[2J[bold]x"
ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
HAS_PROC = Path("/proc/self/status").exists()


def cli(*args: str, cwd: Path | None = None, stdout: Any = subprocess.PIPE) -> tuple[int, bytes, bytes]:
    """The CLI in a subprocess; its exit code, stdout and stderr as bytes (nothing decoded, so a
    stray ESC cannot hide)."""
    done = subprocess.run([sys.executable, "-m", "resnet_inspect", *args], cwd=cwd, stdout=stdout,
                          stderr=subprocess.PIPE, timeout=LIMIT, env={**os.environ, "COLUMNS": "100"})
    return done.returncode, done.stdout or b"", done.stderr


def one_line(err: bytes) -> str:
    """stderr as its one line: a single newline at the end, under 300 characters, no traceback,
    no terminal control byte."""
    assert err.endswith(b"\n") and err.count(b"\n") == 1, err[-2000:]
    assert len(err) < 300, err
    assert b"Traceback" not in err and b"\x1b" not in err and b"\x07" not in err, err
    return err.decode()


def snapshot(folder: Path) -> dict[str, tuple[int, int, int]]:
    """Every file under ``folder`` with its size, modification time and mode."""
    out = {}
    for p in sorted(folder.rglob("*")):
        st = p.lstat()
        out[str(p.relative_to(folder))] = (st.st_size, st.st_mtime_ns, st.st_mode)
    return out


# --- -o: refused before any work, one line, exit 2 ----------------------------------------------------


@pytest.mark.parametrize("form", ["-o", "--output", "--output=", "-o+"])
def test_trailing_slash_for_a_folder_that_does_not_exist(form: str, tmp_path: Path) -> None:
    """``-o out/``: Path() drops the slash, which would write a file named ``out``; refused."""
    args = {"-o": ["-o", "out/"], "--output": ["--output", "out/"], "--output=": ["--output=out/"],
            "-o+": ["-oout/"]}[form]
    code, out, err = cli("summary", "resnet18", *args, cwd=tmp_path)
    line = one_line(err)
    assert code == 2 and out == b"" and "out/" in line and "folder" in line and "file name" in line
    assert list(tmp_path.iterdir()) == []


def test_trailing_slash_for_a_folder_that_exists(tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    before = snapshot(tmp_path)
    code, out, err = cli("summary", "resnet18", "-o", "reports/", cwd=tmp_path)
    line = one_line(err)
    assert code == 2 and out == b"" and "reports" in line and "directory" in line
    assert snapshot(tmp_path) == before


def test_a_folder_that_is_missing(tmp_path: Path) -> None:
    code, _, err = cli("summary", "resnet18", "-o", "missing/report.json", cwd=tmp_path)
    assert code == 2 and "folder missing does not exist" in one_line(err)
    assert list(tmp_path.iterdir()) == []


def test_a_read_only_folder(tmp_path: Path) -> None:
    if ROOT:
        pytest.skip("running as root, which may write in a read-only folder; /proc is tested instead")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        code, _, err = cli("summary", "resnet18", "-o", str(folder / "r.txt"))
        assert code == 2 and "Permission denied (EACCES)" in one_line(err)
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


def test_permission_denied_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same refusal whoever runs the tests (root ignores permission bits): the folder's answer
    is simulated, and the message names the option, the path and the reason."""
    def denied(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(output.tempfile, "mkstemp", denied)
    with pytest.raises(UsageError) as info:
        write_atomic(tmp_path / "r.txt", "report")
    assert str(info.value).startswith("--output ") and "Permission denied (EACCES)" in str(info.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not HAS_PROC, reason="no /proc on this system")
@pytest.mark.parametrize("target", ["/proc/version", "/proc/self/report.json", "/proc/self/fd/report.json"])
def test_proc(target: str, tmp_path: Path) -> None:
    code, out, err = cli("summary", "resnet18", "-o", target, cwd=tmp_path)
    line = one_line(err)
    assert code == 2 and out == b"" and line.startswith("error: --output /proc/")


@pytest.mark.parametrize("device", ["/dev/full", "/dev/null"])
def test_devices_are_refused(device: str, tmp_path: Path) -> None:
    if not Path(device).exists():
        pytest.skip(f"no {device}")
    code, _, err = cli("summary", "resnet18", "-o", device, cwd=tmp_path)
    assert code == 2 and "not a regular file" in one_line(err)


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    code, _, err = cli("summary", "resnet18", "-o", str(fifo))
    assert code == 2 and "not a regular file" in one_line(err) and stat.S_ISFIFO(fifo.stat().st_mode)


def test_a_name_too_long(tmp_path: Path) -> None:
    name = "a" * 300 + ".json"
    code, _, err = cli("summary", "resnet18", "-f", "json", "-o", name, cwd=tmp_path)
    assert code == 2 and "File name too long (ENAMETOOLONG)" in one_line(err)
    assert list(tmp_path.iterdir()) == []


def test_a_name_near_the_limit_is_written(tmp_path: Path) -> None:
    """255 bytes is a legal name; the temporary file beside it must not push it over."""
    name = "b" * 250 + ".json"
    code, _, err = cli("summary", "resnet18", "-f", "json", "-o", name, cwd=tmp_path)
    assert code == 0 and err.startswith(b"wrote ")
    assert [p.name for p in tmp_path.iterdir()] == [name]
    assert json.loads((tmp_path / name).read_text())["spec"]["name"] == "resnet18"


def test_no_space_left_on_device(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk mid-write: one line naming the option, the file and ENOSPC; the old report is
    untouched and no temporary file is left behind."""
    target = tmp_path / "report.txt"
    target.write_text("the old report\n")
    target.chmod(0o640)
    before = snapshot(tmp_path)

    class Full(io.BytesIO):
        def write(self, data: Any) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    real = os.fdopen

    def fdopen(fd: int, *args: Any, **kwargs: Any) -> Any:
        os.close(fd)
        return Full()

    monkeypatch.setattr(os, "fdopen", fdopen)
    for call in (lambda: write_atomic(target, "new"), lambda: write_report("new", target)):
        with pytest.raises(UsageError) as info:
            call()
        message = str(info.value)
        assert message.startswith("--output ") and "report.txt: nothing written: " in message
        assert message.endswith("No space left on device (ENOSPC)") and "\n" not in message
        assert snapshot(tmp_path) == before
    monkeypatch.setattr(os, "fdopen", real)


# --- -o: what is kept -----------------------------------------------------------------------------------


def test_a_symlink_is_written_through(tmp_path: Path) -> None:
    real = tmp_path / "real.txt"
    real.write_text("old\n")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    code, _, err = cli("summary", "resnet18", "-o", str(link))
    assert code == 0 and err.startswith(b"wrote ")
    assert link.is_symlink() and "resnet18" in real.read_text()


def test_permission_bits_are_kept(tmp_path: Path) -> None:
    target = tmp_path / "report.md"
    target.write_text("old\n")
    target.chmod(0o600)
    code, _, _ = cli("summary", "resnet18", "-f", "markdown", "-o", str(target))
    assert code == 0 and stat.S_IMODE(target.stat().st_mode) == 0o600 and "resnet18" in target.read_text()


def test_an_input_is_never_overwritten(tmp_path: Path) -> None:
    config = tmp_path / "net.toml"
    config.write_text('base = "resnet18"\n')
    before = snapshot(tmp_path)
    code, _, err = cli("summary", str(config), "-o", str(config))
    assert code == 2 and "input of this command" in one_line(err)
    assert snapshot(tmp_path) == before


# --- stdout ---------------------------------------------------------------------------------------------


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_a_full_stdout(fmt: str) -> None:
    """``resnet-inspect summary resnet18 > /dev/full``: exit 1 (the command was right, its output
    could not go anywhere), one line."""
    with open("/dev/full", "wb") as full:
        code, _, err = cli("summary", "resnet18", "-f", fmt, stdout=full)
    assert code == 1 and "No space left on device (ENOSPC)" in one_line(err)


@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX shell closes stdout")
def test_a_closed_stdout() -> None:
    """``resnet-inspect summary resnet18 1>&-``: exit 1, one line."""
    done = subprocess.run(["sh", "-c", 'exec "$0" -m resnet_inspect summary resnet18 1>&-', sys.executable],
                          stderr=subprocess.PIPE, timeout=LIMIT)
    assert done.returncode == 1 and "stdout is closed" in one_line(done.stderr)


def test_a_broken_pipe_exits_0_quietly() -> None:
    """``| head -1``: the reader chose to stop; exit 0 and nothing on stderr. The report is far
    larger than a pipe's buffer, so the write meets the closed pipe whatever the timing."""
    proc = subprocess.Popen([sys.executable, "-m", "resnet_inspect", "summary", "resnet152", "--all-blocks",
                             "-f", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(1)
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=LIMIT) == 0 and err == b""


def test_write_stdout_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdout", None)
    with pytest.raises(BrokenStdout) as info:
        write_stdout("x")
    assert info.value.exit_code == 1 and "stdout is closed" in str(info.value)

    class Failing(io.StringIO):
        def __init__(self, exc: OSError) -> None:
            super().__init__()
            self.exc = exc

        def flush(self) -> None:
            raise self.exc

    monkeypatch.setattr(sys, "stdout", Failing(OSError(errno.EIO, os.strerror(errno.EIO))))
    with pytest.raises(BrokenStdout, match=r"Input/output error \(EIO\)"):
        write_stdout("x")
    monkeypatch.setattr(sys, "stdout", Failing(BrokenPipeError(errno.EPIPE, "broken pipe")))
    with pytest.raises(BrokenPipeError):
        write_stdout("x")


# --- untrusted text is never interpreted --------------------------------------------------------------


def _save_safetensors(path: Path, shapes: dict[str, tuple[int, ...]]) -> None:
    """A valid safetensors file (F16 data as a sparse hole)."""
    header: dict[str, Any] = {}
    offset = 0
    for key, shape in shapes.items():
        n = 2
        for d in shape:
            n *= d
        header[key] = {"dtype": "F16", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header).encode()
    with path.open("wb") as fh:
        fh.write(struct.pack("<Q", len(raw)) + raw)
        fh.truncate(8 + len(raw) + offset)


def _resnet18_shapes() -> dict[str, tuple[int, ...]]:
    from resnet_inspect.presets import get_preset
    from resnet_inspect.recover import expected_shapes

    return dict(expected_shapes(get_preset("resnet18")))


def _clean(*streams: bytes) -> None:
    for data in streams:
        assert b"\x1b" not in data and b"\x07" not in data, data[:500]


FORMATS = ["table", "json", "markdown", "csv"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_escape_in_a_safetensors_key(fmt: str, tmp_path: Path) -> None:
    path = tmp_path / "net.safetensors"
    _save_safetensors(path, {**_resnet18_shapes(), f"{EVIL}layer9.weight": (3,)})
    code, out, err = cli("inspect", str(path), "-f", fmt)
    assert code == 0 and b"pwned" in out
    _clean(out, err)


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_escape_in_a_torch_key(fmt: str, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    state = {k: torch.zeros((), dtype=torch.float16).expand(s) for k, s in _resnet18_shapes().items()}
    state[f"{EVIL}layer9.weight"] = torch.zeros(3)
    path = tmp_path / "net.pt"
    torch.save(state, path)
    code, out, err = cli("inspect", str(path), "-f", fmt)
    assert code == 0 and b"pwned" in out
    _clean(out, err)


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_escape_and_markup_in_a_file_name(fmt: str, tmp_path: Path) -> None:
    """The name is shown with ``?`` for each control character and its ``[bold]`` literally,
    never with a backslash that rich's escaping would leave in plain text."""
    path = tmp_path / f"{EVIL_FILE}.safetensors"
    _save_safetensors(path, _resnet18_shapes())
    code, out, err = cli("inspect", str(path), "-f", fmt)
    assert code == 0
    _clean(out, err)
    if fmt == "table":  # CSV has no title to name the file in
        assert b"[bold]x" in out and b"\\[bold]" not in out
    if fmt == "markdown":  # Markdown's own escapes, which render as [bold]x; not rich's "\[bold]x"
        assert b"\\[bold\\]x" in out and b"\\[bold]x" not in out


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_escape_in_a_config_name(fmt: str, tmp_path: Path) -> None:
    config = tmp_path / "net.toml"
    config.write_text('base = "resnet18"\nname = "\\u001b]0;pwned\\u0007\\u001b[2J[bold red]x"\n')
    code, out, err = cli("summary", str(config), "-f", fmt)
    assert code == 0 and (b"pwned" in out or fmt == "csv")  # CSV has no title to name the spec in
    _clean(out, err)


def test_an_escape_in_an_error_about_a_file(tmp_path: Path) -> None:
    code, out, err = cli("inspect", str(tmp_path / f"{EVIL_FILE}.pt"))
    assert code == 2 and out == b"" and "does not exist" in one_line(err)


def test_an_escape_in_an_output_name(tmp_path: Path) -> None:
    """The ``wrote FILE`` note and the files written: the name on stderr is made printable."""
    path = tmp_path / "net.safetensors"
    _save_safetensors(path, _resnet18_shapes())
    code, out, err = cli("inspect", str(path), "-f", "json", "-o", f"{EVIL_FILE}.json",
                         "--emit-spec", f"{EVIL_FILE}.toml", cwd=tmp_path)
    assert code == 0 and out == b"" and err.count(b"wrote ") == 2
    _clean(err)
    assert len(list(tmp_path.glob("*pwned*"))) == 2


def test_inert() -> None:
    assert inert("a\x1b]0;x\x07b\tc\r\n\x9bd→") == "a?]0;x?b\tc\r\n?d→"
    text = "plain\ttext\n" * 1000
    assert inert(text) is text
