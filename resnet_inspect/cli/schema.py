"""``resnet-inspect schema``: the JSON Schema of a command's ``--format json`` output (``resnet_inspect.schemas``)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .common import Format, OutputOpt, deliver, emit, guard_outputs


def _complete_name(incomplete: str) -> list[tuple[str, str]]:
    """Shell completion of NAME: the schema names, with what each describes."""
    from ..schemas import NAMES, summary_line

    return [(name, summary_line(name)) for name in NAMES if name.startswith(incomplete)]


def schema(
    name: Annotated[Optional[str], typer.Argument(
        metavar="[NAME]", show_default=False, autocompletion=_complete_name,
        help="The output whose schema to print: summary, presets, shortcuts, memory, roofline, counting, spec, compare, "
             "check, verify, inspect or bench (the command of that name with --format json). Leave out to list them.")] = None,
    list_names: Annotated[bool, typer.Option("--list", "-l", help="List the schema names with what each describes.")] = False,
    output: OutputOpt = None,
) -> None:
    """Print the JSON Schema (draft 2020-12) of a command's --format json output, to validate it in CI.

    Every schema is closed (no keys beyond those listed) and carries the schema_version its documents carry: validate against the schema of the version you run (docs/schemas.md says what may change). 'spec' describes the config file that spec --format json prints; 'verify' and 'inspect' cover both kinds of report of their command.

    Examples:

      resnet-inspect schema summary > summary.schema.json

      resnet-inspect schema check -o check.schema.json

      resnet-inspect schema --list

      check-jsonschema --schemafile summary.schema.json r50.json
    """
    guard_outputs([], output=output)
    from ..errors import UsageError
    from ..schemas import NAMES, check_name, summary_line, text

    if name is not None and list_names:
        raise UsageError("--list lists every schema; give NAME or --list, not both")
    if name is None:
        from ..report.schemas import docs

        emit(Format.table, output, data=lambda: {n: summary_line(n) for n in NAMES}, docs=docs)
        return
    deliver(text(check_name(name.strip())), output)


def register(app: typer.Typer) -> None:
    app.command("schema")(schema)
