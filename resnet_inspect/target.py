"""SPECs that name the user's own network: ``path/to/file.py:CALLABLE`` and ``package.module:CALLABLE``.

``CALLABLE`` is a dotted attribute path (``ResNet18``, ``models.resnet20``), optionally called with
literal arguments: ``models/resnet.py:ResNet(depth=20, num_classes=10)``. The arguments are parsed
with ``ast`` and ``ast.literal_eval`` (numbers, strings, booleans, None, tuples, lists, dicts),
never evaluated as code, so a SPEC cannot run anything by itself; importing the named file or
module does run the user's code, as importing it would.

A ``CALLABLE`` never contains ``=`` outside its parentheses, which is what tells
``mypkg.models:resnet20`` from the overrides of ``resnet50:stride_in=1x1``; a name before the colon
that is a preset is always a preset.

Pure: no torch. ``resnet_inspect.nn.usercode`` imports and calls the target.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any, Final

from .errors import SpecError

#: Longest SPEC text accepted for a module target (a path and a call with literal arguments).
MAX_TARGET_CHARS: Final = 4096
_ATTR: Final = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$")
_MODULE: Final = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$")


@dataclass(frozen=True)
class ModuleTarget:
    """What to import and call. ``location`` is a file path (``kind == "file"``) or a dotted module
    name (``kind == "module"``); ``attr`` the dotted attribute to call."""

    text: str
    kind: str
    location: str
    attr: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def call_text(self) -> str:
        """``ResNet(depth=20)`` or ``resnet18()``: what will be called, for notes and errors."""
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return _short(f"{self.attr}({', '.join(parts)})", 160)


def looks_like_target(text: str, is_preset: bool) -> bool:
    """Whether ``text`` names a module target rather than a preset, overrides or a config file."""
    # Split as ``parse_target`` does (after the last ".py:"), so ``C:/models/net.py:ResNet`` is a file.
    head, sep, rest = _split(text)
    if not sep or is_preset:
        return False
    if head.endswith(".py"):
        return True
    callable_part = _callable_part(rest)
    return bool(_MODULE.match(head)) and bool(_ATTR.match(callable_part))


def rebased(text: str, folder: str) -> str:
    """``text`` with a relative ``FILE.py`` made relative to ``folder`` (a budget file's folder), so
    a SPEC written in a file means the same wherever the command runs."""
    head, sep, rest = _split(text.strip())
    if not head.endswith(".py") or head.startswith(("/", "~")):
        return text
    import os.path

    return f"{os.path.join(folder, head)}{sep}{rest}"


def _callable_part(rest: str) -> str:
    """``ResNet(depth=20)`` -> ``ResNet``; an ``=`` before any ``(`` makes it overrides."""
    name = rest.split("(", 1)[0].strip()
    return "" if "=" in name else name


def parse_target(text: str) -> ModuleTarget:
    """``FILE.py:CALLABLE[(ARGS)]`` or ``MODULE:CALLABLE[(ARGS)]`` as a ``ModuleTarget``.

    Raises ``SpecError`` naming what is wrong and the form to use.
    """
    text = text.strip()
    if len(text) > MAX_TARGET_CHARS:
        raise SpecError(f"the SPEC is {len(text):,} characters long; a module SPEC has at most {MAX_TARGET_CHARS:,}")
    head, _, rest = _split(text)
    kind = "file" if head.endswith(".py") else "module"
    if kind == "module" and not _MODULE.match(head):
        raise SpecError(f"{_short(head)!r} is neither a .py file nor a dotted module name; write FILE.py:CALLABLE or package.module:CALLABLE")
    try:
        name, args, kwargs = _parse_call(rest, text)
    except (RecursionError, MemoryError):
        # ``ast`` recurses once per nesting level: ``R(x=----...1)`` or ``a.a.a...`` within the
        # length limit still exhausts the stack. A SPEC error, not a traceback.
        raise SpecError(f"{_short(rest)!r} is nested too deeply to read; write e.g. ResNet(depth=20, num_classes=10)") from None
    return ModuleTarget(text, kind, head, name, args, kwargs)


def _split(text: str) -> tuple[str, str, str]:
    # A file path may itself hold a colon on some systems; the callable follows the last ".py:".
    index = text.rfind(".py:")
    if index >= 0:
        return text[: index + 3].strip(), ":", text[index + 4:].strip()
    head, sep, rest = text.partition(":")
    return head.strip(), sep, rest.strip()


def _parse_call(rest: str, text: str) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    if not rest:
        raise SpecError(f"nothing after ':' in {_short(text)!r}; name the function or class that builds the model, e.g. models.py:resnet18")
    if "(" not in rest:
        if not _ATTR.match(rest):
            raise SpecError(f"{_short(rest)!r} is not a Python name; write e.g. models.py:resnet18 or models.py:ResNet(depth=20)")
        return rest, (), {}
    try:
        tree = ast.parse(rest, mode="eval")
    except SyntaxError:
        raise SpecError(f"cannot read {_short(rest)!r} as a call with literal arguments; write e.g. ResNet(depth=20, num_classes=10)") from None
    call = tree.body
    if not isinstance(call, ast.Call):
        raise SpecError(f"{_short(rest)!r} is not a call; write e.g. ResNet(depth=20, num_classes=10)")
    name = _dotted(call.func)
    if name is None:
        raise SpecError(f"{_short(rest)!r}: call a name such as ResNet or models.resnet20, not an expression")
    args = tuple(_literal(a, name) for a in call.args)
    kwargs: dict[str, Any] = {}
    for kw in call.keywords:
        if kw.arg is None:
            raise SpecError(f"{name}(**...): give each keyword argument by name, e.g. {name}(depth=20)")
        kwargs[kw.arg] = _literal(kw.value, name)
    return name, args, kwargs


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _literal(node: ast.expr, name: str) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        snippet = _short(ast.unparse(node))
        raise SpecError(
            f"{name}(...): argument {snippet!r} is not a literal; only numbers, strings, True/False/None, "
            "tuples, lists and dicts are accepted (nothing is evaluated)"
        ) from None


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
