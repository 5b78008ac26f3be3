"""The command group: commands built only when invoked, and the CLI's one error boundary.

**Lazy commands.** A command's module is imported, and its options built, only when that command
runs (or when ``--help`` lists them all). Building every command's options up front cost newer
typer releases most of the start-up (typer 0.29 makes a pydantic adapter per option), so
``summary`` would start slower with the typer a fresh ``pip install`` gets than with the pinned
one. ``COMMANDS`` names each command's module, in ``--help`` order; a test keeps it equal to what
the modules register.

**One error boundary.** ``main`` catches everything a command or the parser can raise, for every
command at once: usage errors (a bad option value, an unknown option or command, a missing
argument) and domain errors become one ``error: …`` line on stderr and exit 2 (1 for a failed
check), a broken pipe exits quietly, Ctrl-C exits 130. A command needs no decorator for this.
"""

from __future__ import annotations

import difflib
import importlib
import sys
from collections.abc import Sequence
from typing import Any, Final

import typer
from typer.core import TyperGroup

#: click's exceptions, found through typer's public names (newer typer carries its own copy of click).
UsageError: Any = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")
ClickExit: Any = typer.Exit
ClickAbort: Any = typer.Abort
_NO_ARGS: Any = getattr(sys.modules[UsageError.__module__], "NoArgsIsHelpError", ())

#: command -> its module under resnet_inspect.cli, in --help order.
COMMANDS: Final[dict[str, str]] = {
    "summary": "summary", "presets": "summary", "shortcuts": "shortcuts", "memory": "memory", "roofline": "roofline",
    "counting": "counting", "spec": "compare", "compare": "compare", "check": "compare", "diagram": "diagram",
    "build": "model", "verify": "model", "inspect": "inspect_cmd", "bench": "bench",
}


def build_commands(module: str) -> dict[str, Any]:
    """The click commands a module under ``resnet_inspect.cli`` registers, built now."""
    mod = importlib.import_module(f"resnet_inspect.cli.{module}")
    sub = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode="rich",
                      context_settings={"help_option_names": ["-h", "--help"]})
    mod.register(sub)
    built: Any = typer.main.get_command(sub)
    from .coerce import lighten

    if hasattr(built, "list_commands"):  # a group: the module registers several commands
        ctx = typer.Context(built)
        return {name: lighten(built.get_command(ctx, name)) for name in built.list_commands(ctx)}
    return {built.name or "": lighten(built)}


class ResnetInspectGroup(TyperGroup):
    """The ``resnet-inspect`` group: lazy commands, one error boundary (see the module docstring)."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        return build_commands(COMMANDS[cmd_name]).get(cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and not name.startswith("-") and name not in COMMANDS:
            close = difflib.get_close_matches(name, list(COMMANDS), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]}? " if close else ""
            raise UsageError(f"no command {_shown(name)!r}: {hint}the commands are {', '.join(COMMANDS)}")
        return super().resolve_command(ctx, args)

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, windows_expand_args: bool = True, **extra: Any) -> Any:
        if not windows_expand_args:
            extra["windows_expand_args"] = False
        from .coerce import lighten

        lighten(self)  # the group's own options (--version)
        code = run_bounded(lambda: super(ResnetInspectGroup, self).main(
            args, prog_name, complete_var, standalone_mode=False, **extra))
        if standalone_mode:
            sys.exit(code)
        return code


def _shown(text: str, limit: int = 120) -> str:
    from ..naming import printable

    return printable(text, limit)


def _line(message: str) -> str:
    return "error: " + _shown(" ".join(message.split()), 400) + "\n"


def run_bounded(call: Any) -> int:
    """Run ``call`` (click's main, not standalone) and turn whatever it raises into an exit code,
    with one ``error:`` line on stderr (several for a config with several problems)."""
    from ..errors import ResnetInspectError, SpecError

    try:
        result = call()
        return result if isinstance(result, int) else 0
    except _NO_ARGS as exc:  # `resnet-inspect` alone: its help, as click would show it
        if exc.ctx is not None:
            _print_help(exc.ctx)
        return 2
    except UsageError as exc:
        sys.stderr.write(_line(_usage_message(exc)))
        return 2
    except ClickExit as exc:
        return int(exc.exit_code or 0)
    except SpecError as exc:
        sys.stderr.write("".join(_line(p) for p in exc.problems) if exc.problems else _line(str(exc)))
        return exc.exit_code
    except ResnetInspectError as exc:
        sys.stderr.write(_line(str(exc)))
        return exc.exit_code
    except (KeyboardInterrupt, ClickAbort):
        sys.stderr.write("error: interrupted\n")
        return 130
    except BrokenPipeError:
        return 0


def _print_help(ctx: Any) -> None:
    """The help of ``ctx``'s command on stdout (typer's rich help prints itself)."""
    text = ctx.command.get_help(ctx)
    if text:
        sys.stdout.write(text + "\n")


def _usage_message(exc: Any) -> str:
    """click's message, with the command it concerns and a pointer to its help."""
    ctx = exc.ctx
    where = f"{ctx.command_path}: " if ctx is not None and ctx.command_path else ""
    hint = f" (see {ctx.command_path} --help)" if ctx is not None and ctx.command_path else ""
    return f"{where}{exc.format_message()}{hint}"
