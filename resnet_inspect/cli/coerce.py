"""Option values converted without pydantic, whatever the typer version.

typer 0.29 converts every option's value through a pydantic ``TypeAdapter``, built when the
command line is parsed: importing pydantic and building the adapters doubled the start-up of
``summary`` against typer 0.28. Our options are all of a few plain kinds (text, integers with an
optional range, floats, flags, choices from an enum, paths), so ``lighten`` gives each such
parameter a converter of its own, written here, and leaves any other to typer. With a typer that
has no adapters (0.28 and older) the parameters have nothing to replace and stay as they are.
"""

from __future__ import annotations

import enum
import types
import typing
from pathlib import Path
from typing import Any

import typer

_PLAIN = (str, int, float, bool, Path)


def _base(annotation: Any) -> Any:
    """``X`` for ``X`` or ``Optional[X]``; None for anything else (lists, unions of several types)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else None
    return annotation if origin is None else None


def _simple(annotation: Any) -> bool:
    base = _base(annotation)
    return isinstance(base, type) and (base in _PLAIN or issubclass(base, enum.Enum))


class _Converter:
    """What typer's runtime parameter does (``coerce(value, param=, ctx=)``), for plain kinds."""

    def __init__(self, annotation: Any, info: Any) -> None:
        self.kind = _base(annotation)
        self.info = info

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        if value is None:
            return () if (param.multiple or param.nargs == -1) else None
        try:
            return self._convert(value)
        except (ValueError, TypeError) as exc:
            raise typer.BadParameter(str(exc), ctx=ctx, param=param) from None

    def _convert(self, value: Any) -> Any:
        kind, info = self.kind, self.info
        if isinstance(value, kind):
            converted = value
        elif issubclass(kind, enum.Enum):
            return self._choice(value)
        elif kind is bool:
            converted = str(value).strip().lower() in ("1", "true", "yes", "on", "y", "t")
        elif kind is Path:
            converted = Path(value)
        else:
            converted = _number(kind, value)
        if kind in (int, float):
            _in_range(converted, info)
        if kind is Path and getattr(info, "dir_okay", True) is False and converted.is_dir():
            raise ValueError(f"{str(value)[:120]!r} is a directory")
        return converted

    def _choice(self, value: Any) -> Any:
        text = str(value)
        members = list(self.kind)
        for m in members:
            if m.value == text or (not self.info.case_sensitive and str(m.value).lower() == text.lower()):
                return m
        allowed = ", ".join(repr(str(m.value)) for m in members)
        raise ValueError(f"{text[:60]!r} is not one of {allowed}.")


def _number(kind: type, value: Any) -> Any:
    try:
        return kind(str(value).strip())
    except ValueError:
        raise ValueError(f"{str(value)[:60]!r} is not a valid {kind.__name__}.") from None


def _in_range(number: Any, info: Any) -> None:
    low, high = getattr(info, "min", None), getattr(info, "max", None)
    if (low is not None and number < low) or (high is not None and number > high):
        span = f"{low}<=x<={high}" if low is not None and high is not None else (f"x>={low}" if low is not None else f"x<={high}")
        raise ValueError(f"{number} is not in the range {span}.")


def _lighten_param(param: Any) -> None:
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None or not hasattr(param, "_runtime_param") or not _simple(descriptor.annotation):
        return
    if getattr(descriptor, "file_annotation", None) is None:
        param._runtime_param = _Converter(descriptor.annotation, descriptor.parameter_info)


def lighten(command: Any) -> Any:
    """``command`` with its plain parameters converted here, not by pydantic (typer 0.29+): its
    own options and the ``--help`` option click makes for each context."""
    for param in getattr(command, "params", ()):
        _lighten_param(param)
    make_help = getattr(command, "get_help_option", None)
    if make_help is not None and not getattr(make_help, "_lightened", False):

        def get_help_option(ctx: Any) -> Any:
            option = make_help(ctx)
            if option is not None:
                _lighten_param(option)
            return option

        get_help_option._lightened = True  # type: ignore[attr-defined]
        command.get_help_option = get_help_option
    return command
