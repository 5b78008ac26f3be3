"""The JSON Schemas (draft 2020-12) of every ``--format json`` output, shipped as package data.

One file per output, ``<name>.json`` beside this module; ``resnet-inspect schema NAME`` prints one.
Each schema carries the ``schema_version`` of the documents it describes (a top-level annotation
keyword, and ``"schema_version": {"const": N}`` in the properties of every output that has the
key; ``spec`` is a config file and has none). The files are closed (``additionalProperties:
false``) so they describe exactly this release's output; docs/schemas.md gives the versioning
policy. Importing this module imports nothing heavy (no torch, no jsonschema).
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any, Final

from ..errors import UsageError

#: Every schema, in the order of the commands that write the documents (``resnet-inspect --help``).
NAMES: Final[tuple[str, ...]] = (
    "summary", "presets", "shortcuts", "memory", "roofline", "counting", "spec", "compare", "check", "verify", "inspect", "bench",
)


def check_name(name: str) -> str:
    """``name`` if a schema has it; otherwise a ``UsageError`` (one line, exit 2) naming the closest
    name and every valid one."""
    if name in NAMES:
        return name
    from ..naming import printable
    from ..suggest import did_you_mean

    raise UsageError(f"no schema {printable(name, 60)!r}: {did_you_mean(name, NAMES)}the schemas are {', '.join(NAMES)}")


def text(name: str) -> str:
    """The schema file of ``name`` as shipped (pretty-printed JSON, ending in a newline)."""
    return files(__name__).joinpath(f"{check_name(name)}.json").read_text(encoding="utf-8")


def load(name: str) -> dict[str, Any]:
    """The schema of ``name`` as a dict (``UsageError`` for an unknown name)."""
    doc: dict[str, Any] = json.loads(text(name))
    return doc


def summary_line(name: str) -> str:
    """The first sentence of the schema's description: one line for ``resnet-inspect schema --list``."""
    description = str(load(name).get("description", ""))
    return description.split(". ", 1)[0].rstrip(".")


__all__ = ("NAMES", "check_name", "load", "summary_line", "text")
