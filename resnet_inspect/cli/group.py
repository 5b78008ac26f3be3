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

**Shell completion.** typer's ``--install-completion`` and ``--show-completion`` (``add_completion``
in ``cli.common``), each taking an optional shell name (``--show-completion zsh``; without one the
shell is detected, as typer does). Completing a command name lists ``COMMANDS`` without importing a
command's module (click would build every command to read its short help); completing an option or
its value imports only that command's module, as running it would.
"""

from __future__ import annotations

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
    "build": "model", "verify": "model", "inspect": "inspect_cmd", "bench": "bench", "schema": "schema",
}

#: The shells typer writes completion scripts for.
SHELLS: Final = ("bash", "zsh", "fish", "powershell", "pwsh")
#: The group's completion options (typer's), with help that says a shell may be named.
_COMPLETION_HELP: Final[dict[str, str]] = {
    "install_completion": "Install completion for your shell, or for the one named after it: bash, zsh, fish, powershell, pwsh.",
    "show_completion": "Print the completion script for your shell, or for the one named after it (bash, zsh, fish, powershell, "
                       "pwsh), to copy it or customize the installation.",
}
#: Longest description a completion carries: typer renders it through rich, which wraps at 80
#: columns, and fish reads each wrapped line as one more completion.
COMPLETION_HELP_CHARS: Final = 72


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
        return {name: _short_completions(lighten(built.get_command(ctx, name))) for name in built.list_commands(ctx)}
    return {built.name or "": _short_completions(lighten(built))}


class ResnetInspectGroup(TyperGroup):
    """The ``resnet-inspect`` group: lazy commands, one error boundary (see the module docstring)."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_params(self, ctx: Any) -> list[Any]:
        params: list[Any] = super().get_params(ctx)
        for param in params:
            param.help = _COMPLETION_HELP.get(param.name or "", param.help)
        return params

    def shell_complete(self, ctx: Any, incomplete: str) -> list[Any]:
        """The command names starting with ``incomplete``, none of them built, and the group's options."""
        item = _completion_item()
        names = [item(name) for name in COMMANDS if name.startswith(incomplete)]
        command: Any = next(c for c in type(self).__mro__ if c.__name__ == "Command")  # click's: options only, no commands
        return names + [_one_line(item) for item in command.shell_complete(self, ctx, incomplete)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        return build_commands(COMMANDS[cmd_name]).get(cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and not name.startswith("-") and name not in COMMANDS:
            if ctx.resilient_parsing:  # completing after an unknown word: nothing to complete, no error line
                return None, None, args[1:]
            from ..suggest import did_you_mean

            raise UsageError(f"no command {_shown(name)!r}: {did_you_mean(name, COMMANDS)}the commands are {', '.join(COMMANDS)}")
        return super().resolve_command(ctx, args)

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, windows_expand_args: bool = True, **extra: Any) -> Any:
        if not windows_expand_args:
            extra["windows_expand_args"] = False
        from .coerce import lighten

        lighten(self)  # the group's own options (--version)
        asked = _completion_request(self, list(sys.argv[1:] if args is None else args))
        if asked is not None:
            code = run_bounded(lambda: _install_or_show(self, *asked, prog_name))
        else:
            code = run_bounded(lambda: super(ResnetInspectGroup, self).main(
                args, prog_name, complete_var, standalone_mode=False, **extra))
        if standalone_mode:
            sys.exit(code)
        return code


def _completion_item() -> Any:
    """click's ``CompletionItem``, from the click typer uses (its own copy in newer typer)."""
    return importlib.import_module(UsageError.__module__.rsplit(".", 1)[0] + ".shell_completion").CompletionItem


def _one_line(item: Any) -> Any:
    """``item`` (a ``CompletionItem``) with its help made one short line: the first sentence, cut to fit."""
    text = " ".join(str(item.help or "").split())
    if text:
        first = text.split(". ", 1)[0].rstrip(".")
        cut = first[:COMPLETION_HELP_CHARS].rsplit(" ", 1)[0].rstrip(" ,;:(")
        item.help = first if len(first) <= COMPLETION_HELP_CHARS else cut + "…"
    return item


def _short_completions(command: Any) -> Any:
    """``command`` with the descriptions of its option completions made one short line each (``_one_line``)."""
    complete = command.shell_complete

    def shell_complete(ctx: Any, incomplete: str) -> list[Any]:
        return [_one_line(item) for item in complete(ctx, incomplete)]

    command.shell_complete = shell_complete
    return command


def _completion_request(group: Any, argv: list[str]) -> tuple[str, str | None] | None:
    """``(option, shell or None)`` when the command line is ``--install-completion [SHELL]`` or
    ``--show-completion [SHELL]`` (or ``OPTION=SHELL``); None for anything else, which click parses.
    typer's options are flags for the detected shell: a shell named after one is read here."""
    if not argv or len(argv) > 2:
        return None
    option, _, shell = argv[0].partition("=")
    if option.lstrip("-").replace("-", "_") not in _COMPLETION_HELP or option not in {o for p in group.params for o in p.opts}:
        return None
    if len(argv) == 2:
        if shell or argv[1].startswith("-"):
            return None
        shell = argv[1]
    return option, shell or None


def _install_or_show(group: Any, option: str, shell: str | None, prog_name: str | None) -> int:
    """Run typer's callback of ``option`` for ``shell`` (detected when None), for the ``resnet-inspect`` command."""
    ctx = typer.Context(group, info_name=prog_name or group.name or "resnet-inspect")
    shell = shell.lower() if shell else _detected_shell()
    if shell is None:
        raise UsageError(f"{option}: could not tell which shell this is; name it, as in {option} bash "
                         f"(or {', '.join(SHELLS[1:])})", ctx=ctx)
    if shell not in SHELLS:
        raise UsageError(f"{option}: no completion for the shell {_shown(shell)!r}; give one of {', '.join(SHELLS)}", ctx=ctx)
    param = next(p for p in group.params if option in p.opts)
    try:
        with ctx:  # typer's install reads the program name from the current context
            param.callback(ctx, param, shell)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def _detected_shell() -> str | None:
    """The shell this runs under, as typer detects it (shellingham), or None."""
    try:
        import shellingham

        return str(shellingham.detect_shell()[0]).lower()
    except (ImportError, OSError):  # shellingham's ShellDetectionFailure is an OSError
        return None


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
