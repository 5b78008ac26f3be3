"""The Typer app. Thin: parse, call the engine, print, map domain errors to exit codes.

Each command lives in its own module under ``resnet_inspect.cli`` and exposes ``register(app)``;
modules are registered in ``_ORDER`` first (the order ``--help`` lists them), then any others found.
Heavy libraries (torch, fvcore, graphviz) are imported inside the commands that need them.
"""

from __future__ import annotations

import importlib
import pkgutil

from .common import app

_ORDER = ("summary", "shortcuts", "memory", "roofline", "counting", "compare", "diagram", "model", "inspect_cmd", "bench")
_HELPERS = frozenset({"common"})


def _register_all() -> None:
    found = {m.name for m in pkgutil.iter_modules(__path__) if m.name not in _HELPERS}
    for name in [*(n for n in _ORDER if n in found), *sorted(found - set(_ORDER))]:
        module = importlib.import_module(f"{__name__}.{name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_register_all()


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
