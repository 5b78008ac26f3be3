"""Progress on stderr (``resnet_inspect.cli.progress``): drawn from the first moment, before torch is
imported, only on a terminal, and never reading outside text as markup or control codes."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import threading
from typing import Any

import pytest
from typer.testing import CliRunner

from resnet_inspect.cli import app
from resnet_inspect.cli import progress as progress_mod
from resnet_inspect.cli.progress import Silent, progress

ENV = {**os.environ, "COLUMNS": "120", "LINES": "30", "TERM": "xterm-256color"}
ENV.pop("NO_COLOR", None)


def _fake_terminal(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """Make ``progress`` draw on a terminal console that writes into the returned buffer."""
    from rich.console import Console

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, force_interactive=True, color_system="truecolor", width=120)
    monkeypatch.setattr(progress_mod, "_console", lambda: console)
    return buf


def _under_pty(args: list[str]) -> tuple[int, str, str]:
    """Run ``args`` with stderr on a pseudo-terminal (stdout a pipe): exit code, what reached the
    terminal, stdout."""
    pty = pytest.importorskip("pty")
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL, env=ENV)
    os.close(slave)
    chunks: list[bytes] = []

    def drain() -> None:  # the terminal's buffer is small: read while the child writes
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO once the child has closed its end
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        out, _ = proc.communicate(timeout=180)
    finally:
        reader.join(timeout=10)
        os.close(master)
    return proc.returncode, b"".join(chunks).decode("utf-8", "replace"), out.decode()


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_verify_on_a_terminal_shows_progress_before_torch_is_imported() -> None:
    pytest.importorskip("torch")
    pytest.importorskip("fvcore")
    # -X importtime writes one line per finished import to the same terminal: the spinner's text
    # must come before the first line of any torch module.
    code, term, out = _under_pty([sys.executable, "-X", "importtime", "-m", "resnet_inspect", "verify", "cifar_resnet20"])
    assert code == 0, term[-2000:]
    assert "all" in out and "checks agree" in out  # the report itself, on stdout as ever
    first_torch = re.search(r"\|\s+torch(\.\S*)?\s*$", term, re.MULTILINE)
    assert first_torch is not None, "torch was imported (importtime lists it)"
    before = term[: first_torch.start()]
    assert "verify cifar_resnet20" in before
    assert "loading torch…" in before
    assert "checking its 9 blocks against fvcore" in term
    assert "\x1b[?25h" in term  # the cursor is given back at the end


def test_first_frame_is_drawn_before_torch_is_imported() -> None:
    """In a fresh interpreter: record, at every write of the spinner, whether torch is imported.
    The SPEC's name carries markup and an escape sequence, which must reach the screen as text."""
    pytest.importorskip("torch")
    pytest.importorskip("fvcore")
    code = r"""
import io, json, sys
from rich.console import Console
from resnet_inspect.cli import app
from resnet_inspect.cli import progress

frames = []
class Screen(io.StringIO):
    def write(self, text):
        frames.append(["torch" in sys.modules, text])
        return len(text)
console = Console(file=Screen(), force_terminal=True, force_interactive=True, width=120)
progress._console = lambda: console
try:
    app(["verify", "cifar_resnet20:name=[red]evil\x1b[2Jname", "-f", "json", "-o", sys.argv[1]])
except SystemExit as exc:
    assert not exc.code, exc.code
sys.stdout.write(json.dumps(frames))
"""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([sys.executable, "-c", code, os.path.join(tmp, "v.json")],
                              capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    frames: list[tuple[bool, str]] = json.loads(proc.stdout)
    assert frames, "nothing was drawn"
    first = next(i for i, (_, text) in enumerate(frames) if "verify [red]evil?[2Jname" in text)
    assert not any(loaded for loaded, _ in frames[: first + 1])  # drawn before torch was imported
    loading = [loaded for loaded, text in frames if "loading torch…" in text]
    assert loading and not loading[0]  # "loading torch…" is on screen before the import starts
    assert frames[-1][0]  # and torch was imported under it
    screen = "".join(text for _, text in frames)
    assert "\x1b[2J" not in screen and "[red]evil?[2Jname" in screen


def test_off_a_terminal_nothing_is_written() -> None:
    pytest.importorskip("torch")
    pytest.importorskip("fvcore")
    proc = subprocess.run([sys.executable, "-m", "resnet_inspect", "verify", "cifar_resnet20"],
                          capture_output=True, text=True, timeout=180, env=ENV)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert "checks agree" in proc.stdout


def test_silent_progress_imports_nothing() -> None:
    code = ("import sys\nfrom resnet_inspect.cli.progress import progress\n"
            "with progress('x', total=3) as p:\n    p.load('torch'); p.update('y', completed=1)\n"
            "print(p.shown, 'torch' in sys.modules, 'rich.progress' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "False", "False"]
    assert proc.stderr == ""


def test_captured_stderr_is_not_a_terminal() -> None:
    with progress("anything") as shown:
        assert isinstance(shown, Silent) and not shown.shown  # pytest captures stderr


def test_markup_and_escapes_are_shown_as_text(monkeypatch: pytest.MonkeyPatch) -> None:
    buf = _fake_terminal(monkeypatch)
    with progress("[red]x\x1b[2J") as shown:
        assert shown.shown
        shown.update("[bold]y\x07\x1b]0;title\x07")
        shown.update("z" * 500)
    screen = buf.getvalue()
    assert "[red]x?[2J" in screen and "[bold]y??]0;title?" in screen
    assert "\x1b[2J" not in screen and "\x07" not in screen and "\x1b]0;" not in screen
    assert "z" * 200 not in screen and "..." in screen  # long text shortened


def test_bench_shows_which_block_it_times(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    buf = _fake_terminal(monkeypatch)
    seen: list[tuple[str, Any]] = []
    update = progress_mod.Shown.update

    def record(self: Any, text: str, completed: int | None = None) -> None:
        seen.append((text, completed))
        update(self, text, completed)

    monkeypatch.setattr(progress_mod.Shown, "update", record)
    result = CliRunner().invoke(app, ["bench", "cifar_resnet20:layers=1-1-1", "--min-time", "0.01", "--threads", "1"])
    assert result.exit_code == 0, result.stderr
    texts = [t for t, _ in seen]
    blocks = [(t, c) for t, c in seen if t.startswith("timing block")]
    assert [t for t, _ in blocks] == ["timing block layer1.0…", "timing block layer2.0…", "timing block layer3.0…"]
    assert [c for _, c in blocks] == [1, 2, 3]  # phases done before each (the network first)
    assert texts.index("timing network, shortcut A…") < texts.index("timing block layer1.0…")
    screen = buf.getvalue()
    assert "bench cifar_resnet20" in screen and "3/4" in screen
    assert "per block" in result.stdout  # the report is not routed onto the progress console
