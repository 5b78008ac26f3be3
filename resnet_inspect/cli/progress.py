"""Progress on stderr for the commands that take more than a second (verify, build, bench, inspect).

``with progress("verify resnet18") as p: p.load("torch"); p.update("building …")`` shows a spinner
with the current phase and the time elapsed, from the first moment: nothing heavy is imported before
it is drawn, and ``p.load`` imports torch (2-5 s) under it. The line is erased when the block ends,
so the report and the ``wrote FILE`` notes that follow are printed as before.

Only when stderr is a terminal: piped or captured (CI logs, tests, ``2> log``), nothing is written
and rich is not even imported. Phase texts often hold names from outside (a SPEC, a file name, a
module path): they are shown as plain text, never read as rich markup, with every control character
(ANSI escapes, carriage returns) replaced by ``?``.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..naming import printable

#: Longest phase text shown (longer names are shortened in the middle).
MAX_TEXT = 160


class Silent:
    """The progress of a command whose stderr is not a terminal: every call does nothing."""

    shown = False

    def update(self, text: str, completed: int | None = None) -> None:
        """Show ``text`` as the current phase; ``completed`` steps done (with a ``total``)."""

    def load(self, *modules: str) -> None:
        """Import ``modules`` (torch, fvcore.nn) with a phase each; see ``Shown.load``."""


class Shown(Silent):
    """A live spinner line on a rich console."""

    shown = True

    def __init__(self, bar: Any, task: Any) -> None:
        self._bar, self._task = bar, task

    def update(self, text: str, completed: int | None = None) -> None:
        # Drawn now, not at the next tick: "loading torch…" must be on screen before the import starts.
        self._bar.update(self._task, description=clean(text), completed=completed, refresh=True)

    def load(self, *modules: str) -> None:
        """Import each of ``modules`` not yet imported, showing ``loading NAME…`` meanwhile. One that
        is missing or broken is left alone: the command imports it again and says so its own way."""
        for name in modules:
            if name in sys.modules:
                continue
            self.update(f"loading {name.split('.')[0]}…")
            try:
                importlib.import_module(name)
            except ImportError:
                return


def clean(text: object) -> str:
    """``text`` as shown: control characters replaced, long text shortened (no markup meaning:
    the text column renders it as plain ``Text``)."""
    return printable(text, MAX_TEXT)


def showing() -> bool:
    """Whether stderr is an interactive terminal (not a pipe, file or captured stream; not TERM=dumb)."""
    stream = sys.stderr
    try:
        return stream is not None and stream.isatty() and os.environ.get("TERM", "") != "dumb"
    except (AttributeError, ValueError, OSError):  # closed or unusual stream
        return False


def _console() -> Any:
    """The rich console to draw on, or None to draw nothing (tests replace this)."""
    if not showing():
        return None
    from rich.console import Console

    err = Console(stderr=True)
    return err if err.is_terminal and not err.is_dumb_terminal else None


@contextmanager
def progress(text: str, total: int | None = None) -> Iterator[Silent]:
    """A spinner on stderr showing ``text`` (then each ``update``) while the block runs, with a bar
    and ``done/total`` when ``total`` is given; erased at the end. A ``Silent`` one off a terminal."""
    console = _console()
    if console is None:
        yield Silent()
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns: list[Any] = [SpinnerColumn("dots"), TextColumn("{task.description}", markup=False)]
    if total:
        columns += [BarColumn(), MofNCompleteColumn()]
    columns.append(TimeElapsedColumn())
    # No redirection of sys.stdout/sys.stderr: stdout may be a pipe while stderr is the terminal,
    # and the report must never be routed onto this console.
    bar = Progress(*columns, console=console, transient=True, redirect_stdout=False, redirect_stderr=False)
    task = bar.add_task(clean(text), total=total or None)
    bar.start()  # draws the first frame now, before whatever the block imports
    try:
        yield Shown(bar, task)
    finally:
        bar.stop()
