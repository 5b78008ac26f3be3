"""The Typer app. Thin: parse, call the engine, print; errors meet one boundary (``group``).

Each command lives in its own module under ``resnet_inspect.cli`` and exposes ``register(app)``.
``group.COMMANDS`` lists them in ``--help`` order, and only the module of the command being run is
imported and built (``group.ResnetInspectGroup``). Heavy libraries (torch, fvcore, graphviz) are
imported inside the commands that need them.
"""

from __future__ import annotations

from .common import app


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
